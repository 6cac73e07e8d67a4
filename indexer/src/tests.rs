//! Unit tests of the catalog over synthetic listings.

use crate::ingest::CRASH_AFTER_INDEX_COMMIT;
use crate::*;
use chrono::{DateTime, TimeZone, Utc};
use model::{ArchiveId, ArchiveRef, ClientId, PolicyId, RepositoryId, SeriesKey};
use std::io::{BufRead, BufReader, Cursor, Read};

pub(crate) fn opts() -> CatalogOptions {
    CatalogOptions {
        writer_heap_bytes: 32 << 20,
        writer_threads: 1,
    }
}

pub(crate) fn series(client: i64) -> SeriesKey {
    SeriesKey {
        repository: RepositoryId(1),
        policy: PolicyId(1),
        client: ClientId(client),
    }
}

pub(crate) fn archive(id: i64, client: i64, day: u32) -> ArchiveRef {
    ArchiveRef {
        id: ArchiveId(id),
        name: format!("host{client}-2026-01-{day:02}"),
        series: series(client),
        time: Utc.with_ymd_and_hms(2026, 1, day, 3, 0, 0).unwrap(),
    }
}

/// (path without leading slash, type, size, mtime day)
pub(crate) type E<'a> = (&'a str, &'a str, u64, u32);

fn line((path, kind, size, day): E<'_>) -> String {
    let mode = if kind == "d" {
        "drwxr-xr-x"
    } else {
        "-rw-r--r--"
    };
    format!(
        r#"{{"type": "{kind}", "mode": "{mode}", "user": "root", "group": "root", "uid": 0, "gid": 0, "path": "{path}", "healthy": true, "source": "", "linktarget": "", "flags": 0, "mtime": "2025-12-{day:02}T10:00:00.000000", "size": {size}}}"#
    )
}

pub(crate) fn listing(entries: &[E<'_>]) -> String {
    entries.iter().map(|e| line(*e) + "\n").collect()
}

pub(crate) fn base() -> Vec<E<'static>> {
    vec![
        ("etc", "d", 0, 1),
        ("etc/nginx", "d", 0, 1),
        ("etc/nginx/nginx.conf", "-", 1200, 1),
        ("etc/nginx/nginx.conf.bak", "-", 1100, 1),
        ("etc/nginx/sites-enabled", "d", 0, 1),
        ("etc/nginx/sites-enabled/default", "-", 300, 1),
        ("etc/hosts", "-", 200, 1),
        ("var/backups/db.sql.gz", "-", 50_000, 1),
        ("home/u/Report-2024_final.PDF", "-", 9000, 1),
    ]
}

pub(crate) fn ingest(cat: &Catalog, a: &ArchiveRef, entries: &[E<'_>]) -> IngestReport {
    let text = listing(entries);
    cat.ingest_listing(a, &mut Cursor::new(text.into_bytes()))
        .expect("ingest")
}

fn paths(page: &SearchPage) -> Vec<String> {
    let mut p: Vec<String> = page.hits.iter().map(|h| h.path.clone()).collect();
    p.sort();
    p
}

pub(crate) fn text(t: &str) -> SearchQuery {
    SearchQuery {
        text: t.into(),
        ..Default::default()
    }
}

#[test]
fn search_forms_and_filters() {
    let tmp = tempfile::tempdir().unwrap();
    let cat = Catalog::open_with(tmp.path(), opts()).unwrap();
    let r = ingest(&cat, &archive(1, 7, 1), &base());
    assert_eq!(r.summary.entries, 9);
    assert_eq!(
        r.changes.added, 13,
        "9 entries + synthetic /var, /var/backups, /home, /home/u"
    );
    let s = |q: SearchQuery| cat.search(&q).unwrap();
    assert_eq!(
        paths(&s(text("nginx.conf"))),
        ["/etc/nginx/nginx.conf", "/etc/nginx/nginx.conf.bak"]
    );
    assert_eq!(
        paths(&s(text("ginx"))),
        [
            "/etc/nginx",
            "/etc/nginx/nginx.conf",
            "/etc/nginx/nginx.conf.bak"
        ]
    );
    assert_eq!(
        paths(&s(text("report 2024"))),
        ["/home/u/Report-2024_final.PDF"]
    );
    assert_eq!(
        paths(&s(text("FINAL.pdf"))),
        ["/home/u/Report-2024_final.PDF"]
    );
    assert_eq!(
        paths(&s(text("/etc/nginx/"))),
        [
            "/etc/nginx/nginx.conf",
            "/etc/nginx/nginx.conf.bak",
            "/etc/nginx/sites-enabled",
            "/etc/nginx/sites-enabled/default"
        ]
    );
    assert_eq!(paths(&s(text("*.sql.gz"))), ["/var/backups/db.sql.gz"]);
    assert_eq!(paths(&s(text("*.BAK"))), ["/etc/nginx/nginx.conf.bak"]);
    assert_eq!(
        paths(&s(text("/etc/*/default"))),
        ["/etc/nginx/sites-enabled/default"]
    );
    assert_eq!(paths(&s(text("nginx.co?f"))), ["/etc/nginx/nginx.conf"]);
    assert_eq!(paths(&s(text("/etc/hosts"))), ["/etc/hosts"]);
    assert_eq!(
        paths(&s(text("/etc/nginx/nginx.conf"))),
        ["/etc/nginx/nginx.conf"]
    );
    assert_eq!(
        paths(&s(text("/etc/nginx/nginx.c"))),
        ["/etc/nginx/nginx.conf", "/etc/nginx/nginx.conf.bak"]
    );
    assert_eq!(
        paths(&s(text("nginx/sites-enabled"))),
        [
            "/etc/nginx/sites-enabled",
            "/etc/nginx/sites-enabled/default"
        ]
    );
    // Filters.
    let dirs = s(SearchQuery {
        text: "/etc/".into(),
        file_type: Some("d".into()),
        ..Default::default()
    });
    assert_eq!(paths(&dirs), ["/etc/nginx", "/etc/nginx/sites-enabled"]);
    let big = s(SearchQuery {
        min_size: Some(1000),
        max_size: Some(10_000),
        ..Default::default()
    });
    assert_eq!(
        paths(&big),
        [
            "/etc/nginx/nginx.conf",
            "/etc/nginx/nginx.conf.bak",
            "/home/u/Report-2024_final.PDF"
        ]
    );
    let other_client = s(SearchQuery {
        text: "hosts".into(),
        client: Some(ClientId(8)),
        ..Default::default()
    });
    assert_eq!(other_client.total, 0);
    let mine = s(SearchQuery {
        text: "hosts".into(),
        client: Some(ClientId(7)),
        policy: Some(PolicyId(1)),
        repository: Some(RepositoryId(1)),
        archive: Some(ArchiveId(1)),
        latest_only: true,
        ..Default::default()
    });
    assert_eq!(mine.total, 1);
    let hit = &mine.hits[0];
    assert_eq!(hit.name, "hosts");
    assert_eq!(hit.size, 200);
    assert_eq!(hit.mode, "-rw-r--r--");
    assert_eq!(hit.user, "root");
    assert_eq!(hit.first_archive.id, ArchiveId(1));
    assert_eq!(hit.archives, [ArchiveId(1)]);
    let t = |d: u32| -> DateTime<Utc> { Utc.with_ymd_and_hms(2025, 12, d, 10, 0, 0).unwrap() };
    assert_eq!(hit.mtime, t(1));
    let dated = s(SearchQuery {
        mtime_from: Some(t(2)),
        ..Default::default()
    });
    assert_eq!(dated.total, 0);
}

#[test]
fn paging_with_cursor() {
    let tmp = tempfile::tempdir().unwrap();
    let cat = Catalog::open_with(tmp.path(), opts()).unwrap();
    let names: Vec<String> = (0..25).map(|i| format!("data/file{i:02}.log")).collect();
    let entries: Vec<E<'_>> = names.iter().map(|n| (n.as_str(), "-", 1, 1)).collect();
    ingest(&cat, &archive(1, 1, 1), &entries);
    let mut q = SearchQuery {
        text: "*.log".into(),
        limit: 10,
        ..Default::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = cat.search(&q).unwrap();
        assert_eq!(page.total, 25);
        seen.extend(page.hits.iter().map(|h| h.path.clone()));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 25);
    assert!(cat
        .search(&SearchQuery {
            cursor: Some("x".into()),
            ..Default::default()
        })
        .is_err());
}

#[test]
fn versions_are_deduplicated_and_changes_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let cat = Catalog::open_with(tmp.path(), opts()).unwrap();
    ingest(&cat, &archive(1, 7, 1), &base());
    let docs1 = cat.stats().unwrap().docs;
    let mut second = base();
    second[2] = ("etc/nginx/nginx.conf", "-", 1300, 2); // changed
    second.retain(|e| e.0 != "etc/hosts"); // removed
    second.push(("etc/new.txt", "-", 5, 2)); // added
    let r = ingest(&cat, &archive(2, 7, 2), &second);
    assert_eq!(r.summary.new_versions, 2);
    assert_eq!(r.summary.removed, 1);
    assert_eq!(r.changes.previous, Some(ArchiveId(1)));
    assert_eq!(
        (r.changes.added, r.changes.removed, r.changes.changed),
        (1, 1, 1)
    );
    assert_eq!(r.changes.added_bytes, 5);
    assert_eq!(r.changes.removed_bytes, 200);
    assert_eq!(
        (
            r.changes.changed_bytes_before,
            r.changes.changed_bytes_after
        ),
        (1200, 1300)
    );
    assert_eq!(cat.stats().unwrap().docs, docs1 + 2);
    assert_eq!(cat.archive_changes(ArchiveId(2)), Some(r.changes));
    // Re-ingest is a no-op returning the same summary.
    let again = ingest(&cat, &archive(2, 7, 2), &second);
    assert!(again.already_ingested);
    assert_eq!(again.summary, r.summary);
    assert_eq!(cat.stats().unwrap().docs, docs1 + 2);

    let hosts = cat.search(&text("/etc/hosts")).unwrap();
    assert_eq!(hosts.hits[0].archives, [ArchiveId(1)]);
    let latest = cat
        .search(&SearchQuery {
            text: "hosts".into(),
            latest_only: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(latest.total, 0);
    let conf = cat.search(&text("/etc/nginx/nginx.conf")).unwrap();
    assert_eq!(conf.total, 2);
    let hist = cat
        .file_history(ClientId(7), "etc/nginx/nginx.conf")
        .unwrap();
    assert_eq!(hist.len(), 2);
    assert_eq!(hist[0].version.size, 1200);
    assert!(
        matches!(hist[0].fate, VersionFate::Changed { ref archive } if archive.id == ArchiveId(2))
    );
    assert_eq!(hist[1].fate, VersionFate::Current);
    let hist = cat.file_history(ClientId(7), "/etc/hosts").unwrap();
    assert!(
        matches!(hist[0].fate, VersionFate::Deleted { ref archive } if archive.id == ArchiveId(2))
    );

    let diff = cat.archive_diff(ArchiveId(1), ArchiveId(2), 0, 0).unwrap();
    assert_eq!((diff.added, diff.removed, diff.changed), (1, 1, 1));
    let kinds: Vec<(String, DiffKind)> = diff
        .entries
        .iter()
        .map(|e| (e.path.clone(), e.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("/etc/hosts".to_string(), DiffKind::Removed),
            ("/etc/new.txt".to_string(), DiffKind::Added),
            ("/etc/nginx/nginx.conf".to_string(), DiffKind::Changed),
        ]
    );
    assert_eq!(diff.entries[2].old.as_ref().map(|v| v.size), Some(1200));
    assert_eq!(diff.entries[2].new.as_ref().map(|v| v.size), Some(1300));
    let page = cat.archive_diff(ArchiveId(1), ArchiveId(2), 1, 1).unwrap();
    assert_eq!(page.entries.len(), 1);
    assert_eq!(page.entries[0].path, "/etc/new.txt");

    let root = cat.browse(ArchiveId(2), "/", 0, 0).unwrap();
    let names: Vec<&str> = root.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(names, ["/etc", "/home", "/var"]);
    let etc = cat.browse(ArchiveId(2), "/etc/", 2, 1).unwrap();
    assert_eq!(etc.total, 2);
    assert_eq!(etc.entries[0].path, "/etc/nginx");
}

#[test]
fn out_of_order_ingest_and_forget() {
    let tmp = tempfile::tempdir().unwrap();
    let cat = Catalog::open_with(tmp.path(), opts()).unwrap();
    let a1 = base();
    let mut a2 = base();
    a2[6] = ("etc/hosts", "-", 210, 2);
    let mut a3 = a2.clone();
    a3[6] = ("etc/hosts", "-", 220, 3);
    ingest(&cat, &archive(1, 7, 1), &a1);
    ingest(&cat, &archive(3, 7, 3), &a3);
    assert_eq!(
        cat.archive_changes(ArchiveId(3)).unwrap().previous,
        Some(ArchiveId(1))
    );
    ingest(&cat, &archive(2, 7, 2), &a2);
    let c3 = cat.archive_changes(ArchiveId(3)).unwrap();
    assert_eq!((c3.previous, c3.changed), (Some(ArchiveId(2)), 1));
    let hist = cat.file_history(ClientId(7), "/etc/hosts").unwrap();
    let sizes: Vec<u64> = hist.iter().map(|h| h.version.size).collect();
    assert_eq!(sizes, [200, 210, 220]);
    let conf = cat.search(&text("/etc/nginx/nginx.conf")).unwrap();
    assert_eq!(
        conf.hits[0].archives,
        [ArchiveId(1), ArchiveId(2), ArchiveId(3)]
    );
    assert_eq!(conf.hits[0].last_archive.id, ArchiveId(3));

    // Forget the middle archive: its own version of /etc/hosts vanishes.
    assert!(cat.forget_archive(ArchiveId(2)).unwrap());
    assert!(!cat.forget_archive(ArchiveId(2)).unwrap());
    let hist = cat.file_history(ClientId(7), "/etc/hosts").unwrap();
    let sizes: Vec<u64> = hist.iter().map(|h| h.version.size).collect();
    assert_eq!(sizes, [200, 220]);
    assert_eq!(
        cat.archive_changes(ArchiveId(3)).unwrap().previous,
        Some(ArchiveId(1))
    );
    assert_eq!(cat.archive_ids(), [ArchiveId(1), ArchiveId(3)]);
    let docs = cat.stats().unwrap().docs;
    // Reconcile: only archive 3 remains in the repository.
    let gone = cat.reconcile(series(7), &[ArchiveId(3)]).unwrap();
    assert_eq!(gone, [ArchiveId(1)]);
    assert_eq!(cat.stats().unwrap().docs, docs - 1);
    assert_eq!(
        cat.search(&SearchQuery {
            text: "hosts".into(),
            ..Default::default()
        })
        .unwrap()
        .total,
        1
    );
    // State survives a reopen.
    drop(cat);
    let cat = Catalog::open_with(tmp.path(), opts()).unwrap();
    assert!(!cat.needs_rebuild());
    assert_eq!(cat.archive_ids(), [ArchiveId(3)]);
    assert_eq!(cat.search(&text("nginx.conf")).unwrap().total, 2);
    // The series table was compacted: re-ingesting archive 2 recreates its version.
    ingest(&cat, &archive(2, 7, 2), &a2);
    let hist = cat.file_history(ClientId(7), "/etc/hosts").unwrap();
    assert_eq!(hist.len(), 2);
}

/// A reader that fails after `n` lines, like a borg process dying mid-listing.
struct FailAfter<R> {
    inner: R,
    left: usize,
}

impl<R: BufRead> Read for FailAfter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other("borg died"));
        }
        let mut line = Vec::new();
        let n = self.inner.read_until(b'\n', &mut line)?;
        self.left -= 1;
        let n = n.min(buf.len());
        buf[..n].copy_from_slice(&line[..n]);
        Ok(n)
    }
}

#[test]
fn interrupted_ingest_is_invisible_and_resumable() {
    let tmp = tempfile::tempdir().unwrap();
    let cat = Catalog::open_with(tmp.path(), opts()).unwrap();
    let text_all = listing(&base());
    let mut r = BufReader::with_capacity(
        64 * 1024,
        FailAfter {
            inner: Cursor::new(text_all.clone().into_bytes()),
            left: 4,
        },
    );
    let err = cat.ingest_listing(&archive(1, 7, 1), &mut r).unwrap_err();
    assert!(err.to_string().contains("borg died"), "{err}");
    assert!(cat.archive_ids().is_empty());
    assert_eq!(cat.search(&SearchQuery::default()).unwrap().total, 0);
    drop(cat);

    // A malformed line is an error naming the line; nothing becomes visible.
    let cat = Catalog::open_with(tmp.path(), opts()).unwrap();
    let bad = format!("{}\n{}\nnot json\n", line(base()[0]), line(base()[1]));
    let err = cat
        .ingest_listing(&archive(1, 7, 1), &mut Cursor::new(bad.into_bytes()))
        .unwrap_err();
    assert!(err.to_string().starts_with("listing line 3"), "{err}");
    assert_eq!(cat.stats().unwrap().docs, 0);

    // A crash after the index commit but before the membership is written.
    CRASH_AFTER_INDEX_COMMIT.with(|c| c.set(true));
    let res = cat.ingest_listing(
        &archive(1, 7, 1),
        &mut Cursor::new(text_all.clone().into_bytes()),
    );
    CRASH_AFTER_INDEX_COMMIT.with(|c| c.set(false));
    assert!(res.is_err());
    drop(cat);
    let cat = Catalog::open_with(tmp.path(), opts()).unwrap();
    assert_eq!(
        cat.stats().unwrap().docs,
        0,
        "stray documents are purged at open"
    );
    let r = ingest(&cat, &archive(1, 7, 1), &base());
    assert_eq!(r.summary.entries, 9);
    assert_eq!(
        cat.search(&SearchQuery::default()).unwrap().total,
        r.changes.added
    );
    assert_eq!(cat.stats().unwrap().docs, r.changes.added);
}

#[test]
fn incompatible_or_corrupt_catalog_is_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let cat = Catalog::open_with(tmp.path(), opts()).unwrap();
    assert!(!cat.needs_rebuild());
    ingest(&cat, &archive(1, 7, 1), &base());
    drop(cat);
    std::fs::write(tmp.path().join("SCHEMA"), "0").unwrap();
    let cat = Catalog::open_with(tmp.path(), opts()).unwrap();
    assert!(cat.needs_rebuild());
    assert!(cat.archive_ids().is_empty());
    ingest(&cat, &archive(1, 7, 1), &base());
    drop(cat);
    std::fs::write(tmp.path().join("state.json"), "{garbage").unwrap();
    let cat = Catalog::open_with(tmp.path(), opts()).unwrap();
    assert!(cat.needs_rebuild());
    assert_eq!(cat.stats().unwrap().docs, 0);
    // A second writer on the same directory is refused, not wiped.
    let err = Catalog::open_with(tmp.path(), opts())
        .err()
        .expect("locked");
    assert!(matches!(err, CatalogError::Locked(_)), "{err}");
}
