//! The catalog against real borg 1.2: three backups of a folder with changes in between,
//! listings piped from `borg list --json-lines`, diffs checked against `borg diff`.

use chrono::{DateTime, NaiveDateTime, Utc};
use indexer::{Catalog, CatalogOptions, DiffKind, SearchQuery, VersionFate};
use model::catalog::ListingSink;
use model::{ArchiveId, ArchiveRef, ClientId, PolicyId, RepositoryId, SeriesKey};
use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

const SERIES: SeriesKey = SeriesKey {
    repository: RepositoryId(1),
    policy: PolicyId(2),
    client: ClientId(3),
};

fn opts() -> CatalogOptions {
    CatalogOptions {
        writer_heap_bytes: 32 << 20,
        writer_threads: 1,
    }
}

struct Borg {
    tmp: tempfile::TempDir,
}

impl Borg {
    fn repo(&self) -> PathBuf {
        self.tmp.path().join("repo")
    }
    fn cmd(&self) -> Command {
        let mut c = Command::new("borg");
        c.current_dir(self.tmp.path())
            .env("BORG_BASE_DIR", self.tmp.path().join("base"))
            .env("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes")
            .env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes")
            .env("TZ", "UTC");
        c
    }
    fn run(&self, args: &[&str]) -> Vec<u8> {
        let out = self.cmd().args(args).output().expect("run borg");
        assert!(
            out.status.success(),
            "borg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
    fn loc(&self, archive: &str) -> String {
        format!("{}::{archive}", self.repo().display())
    }
    fn create(&self, archive: &str) {
        self.run(&["create", &self.loc(archive), "src"]);
    }
    fn archive_time(&self, archive: &str) -> DateTime<Utc> {
        let out = self.run(&["info", "--json", &self.loc(archive)]);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let s = v["archives"][0]["start"].as_str().unwrap().to_string();
        NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%.f")
            .unwrap()
            .and_utc()
    }
    /// Spawns `borg list --json-lines` and hands its stdout to `f`.
    fn with_listing<T>(&self, archive: &str, f: impl FnOnce(&mut dyn BufRead) -> T) -> T {
        let mut child = self
            .cmd()
            .args(["list", "--json-lines", &self.loc(archive)])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn borg list");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let res = f(&mut reader);
        drop(reader);
        let _ = child.wait();
        res
    }
    fn src(&self) -> PathBuf {
        self.tmp.path().join("src")
    }
}

fn write(path: &Path, content: &str, mtime_secs: u64) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
    set_mtime(path, mtime_secs);
}

fn set_mtime(path: &Path, secs: u64) {
    let f = fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap();
}

/// Builds the repository with three archives a1, a2, a3.
fn setup() -> Borg {
    let b = Borg {
        tmp: tempfile::tempdir().unwrap(),
    };
    b.run(&["init", "-e", "none", &b.repo().display().to_string()]);
    let s = b.src();
    write(
        &s.join("etc/nginx/nginx.conf"),
        "worker_processes 1;\n",
        1_700_000_000,
    );
    write(&s.join("etc/nginx/nginx.conf.bak"), "old\n", 1_700_000_000);
    write(&s.join("etc/hosts"), "127.0.0.1 localhost\n", 1_700_000_000);
    write(
        &s.join("data/dump-2024.sql.gz"),
        "gzipped?\n",
        1_700_000_000,
    );
    write(&s.join("notes/todo.txt"), "buy milk\n", 1_700_000_000);
    std::os::unix::fs::symlink("nginx.conf", s.join("etc/nginx/current")).unwrap();
    b.create("a1");
    write(
        &s.join("etc/nginx/nginx.conf"),
        "worker_processes 2;\n",
        1_700_100_000,
    );
    fs::remove_file(s.join("notes/todo.txt")).unwrap();
    write(&s.join("data/new.log"), "hello\n", 1_700_100_000);
    b.create("a2");
    write(
        &s.join("etc/nginx/nginx.conf"),
        "worker_processes 4;\nuser www;\n",
        1_700_200_000,
    );
    b.create("a3");
    b
}

fn aref(b: &Borg, id: i64, name: &str) -> ArchiveRef {
    ArchiveRef {
        id: ArchiveId(id),
        name: name.into(),
        series: SERIES,
        time: b.archive_time(name),
    }
}

fn ingest_all(b: &Borg, cat: &Catalog) -> Vec<ArchiveRef> {
    let refs: Vec<ArchiveRef> = [(1, "a1"), (2, "a2"), (3, "a3")]
        .iter()
        .map(|(id, n)| aref(b, *id, n))
        .collect();
    for r in &refs {
        let s = b
            .with_listing(&r.name, |l| cat.ingest(r, l))
            .expect("ingest");
        assert!(s.entries > 0);
    }
    refs
}

fn paths(cat: &Catalog, q: SearchQuery) -> Vec<String> {
    let mut p: Vec<String> = cat
        .search(&q)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.path)
        .collect();
    p.sort();
    p.dedup();
    p
}

fn q(text: &str) -> SearchQuery {
    SearchQuery {
        text: text.into(),
        ..Default::default()
    }
}

/// Paths `borg diff` reports, ignoring ctime-only changes (the listing has no ctime).
fn borg_diff(b: &Borg, a: &str, c: &str) -> BTreeSet<String> {
    let out = b.run(&["diff", "--json-lines", &b.loc(a), c]);
    let mut set = BTreeSet::new();
    for line in out.split(|x| *x == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        let changes = v["changes"].as_array().unwrap();
        if changes.iter().any(|ch| ch["type"] != "ctime") {
            set.insert(format!("/{}", v["path"].as_str().unwrap()));
        }
    }
    set
}

#[test]
fn real_borg_catalog() {
    let b = setup();
    let dir = tempfile::tempdir().unwrap();
    let cat = Catalog::open_with(dir.path(), opts()).unwrap();
    let refs = ingest_all(&b, &cat);

    // Search forms.
    assert_eq!(
        paths(&cat, q("nginx.conf")),
        ["/src/etc/nginx/nginx.conf", "/src/etc/nginx/nginx.conf.bak"]
    );
    assert_eq!(
        paths(&cat, q("ginx")),
        [
            "/src/etc/nginx",
            "/src/etc/nginx/nginx.conf",
            "/src/etc/nginx/nginx.conf.bak"
        ]
    );
    assert_eq!(
        paths(&cat, q("/src/etc/nginx/")),
        [
            "/src/etc/nginx/current",
            "/src/etc/nginx/nginx.conf",
            "/src/etc/nginx/nginx.conf.bak"
        ]
    );
    assert_eq!(paths(&cat, q("*.sql.gz")), ["/src/data/dump-2024.sql.gz"]);
    assert_eq!(paths(&cat, q("/src/etc/hosts")), ["/src/etc/hosts"]);
    let conf = cat.search(&q("/src/etc/nginx/nginx.conf")).unwrap();
    assert_eq!(conf.total, 3, "three versions of nginx.conf");
    let links = cat
        .search(&SearchQuery {
            file_type: Some("l".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(links.total, 1);
    assert_eq!(links.hits[0].linktarget, "nginx.conf");
    assert_eq!(links.hits[0].archive_count, 3);
    let latest = paths(
        &cat,
        SearchQuery {
            text: "/src/etc/nginx/nginx.conf".into(),
            latest_only: true,
            ..Default::default()
        },
    );
    assert_eq!(latest, ["/src/etc/nginx/nginx.conf"]);
    let in_a1 = paths(
        &cat,
        SearchQuery {
            text: "todo".into(),
            archive: Some(ArchiveId(1)),
            ..Default::default()
        },
    );
    assert_eq!(in_a1, ["/src/notes/todo.txt"]);

    // History: three versions of nginx.conf; todo.txt deleted before a2.
    let hist = cat
        .file_history(ClientId(3), "src/etc/nginx/nginx.conf")
        .unwrap();
    assert_eq!(hist.len(), 3);
    let sizes: Vec<u64> = hist.iter().map(|h| h.version.size).collect();
    assert_eq!(sizes, [20, 20, 30]);
    assert_eq!(hist[0].version.archives, [ArchiveId(1)]);
    assert!(
        matches!(&hist[0].fate, VersionFate::Changed { archive } if archive.id == ArchiveId(2))
    );
    assert_eq!(hist[2].fate, VersionFate::Current);
    let todo = cat
        .file_history(ClientId(3), "/src/notes/todo.txt")
        .unwrap();
    assert_eq!(todo.len(), 1);
    assert!(matches!(&todo[0].fate, VersionFate::Deleted { archive } if archive.name == "a2"));

    // archive_diff agrees with borg diff.
    for (x, y) in [(0usize, 1usize), (1, 2), (0, 2)] {
        let d = cat.archive_diff(refs[x].id, refs[y].id, 0, 0).unwrap();
        let ours: BTreeSet<String> = d.entries.iter().map(|e| e.path.clone()).collect();
        assert_eq!(
            ours,
            borg_diff(&b, &refs[x].name, &refs[y].name),
            "{x}->{y}"
        );
        assert_eq!(d.added + d.removed + d.changed, d.entries.len() as u64);
    }
    let d12 = cat.archive_diff(ArchiveId(1), ArchiveId(2), 0, 0).unwrap();
    let kind = |p: &str| d12.entries.iter().find(|e| e.path == p).map(|e| e.kind);
    assert_eq!(kind("/src/notes/todo.txt"), Some(DiffKind::Removed));
    assert_eq!(kind("/src/data/new.log"), Some(DiffKind::Added));
    assert_eq!(kind("/src/etc/nginx/nginx.conf"), Some(DiffKind::Changed));
    let c2 = cat.archive_changes(ArchiveId(2)).unwrap();
    assert_eq!((c2.added, c2.removed), (d12.added, d12.removed));

    // Browse from the root (parents synthesized) down.
    let root = cat.browse(ArchiveId(3), "/", 0, 0).unwrap();
    assert_eq!(root.entries[0].path, "/src");
    let etc = cat.browse(ArchiveId(3), "/src/etc", 0, 0).unwrap();
    let names: Vec<&str> = etc.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["hosts", "nginx"]);

    // Re-ingest is a no-op.
    let before = cat.stats().unwrap();
    let r2 = &refs[1];
    let s = b.with_listing("a2", |l| cat.ingest(r2, l)).unwrap();
    assert_eq!(Some(s), cat.archive_summary(ArchiveId(2)));
    assert_eq!(cat.stats().unwrap().docs, before.docs);

    // Forget a1: versions only it held vanish.
    cat.forget(ArchiveId(1)).unwrap();
    assert!(paths(&cat, q("todo")).is_empty());
    assert_eq!(
        cat.search(&q("/src/etc/nginx/nginx.conf")).unwrap().total,
        2
    );
    assert!(cat.stats().unwrap().docs < before.docs);
    // Reconcile with what borg still lists after deleting a2.
    b.run(&["delete", &b.loc("a2")]);
    let gone = cat.reconcile(SERIES, &[ArchiveId(3)]).unwrap();
    assert_eq!(gone, [ArchiveId(2)]);
    assert!(paths(&cat, q("new.log")).contains(&"/src/data/new.log".to_string()));
    assert_eq!(
        cat.search(&q("/src/etc/nginx/nginx.conf")).unwrap().total,
        1
    );
    assert_eq!(cat.archive_ids(), [ArchiveId(3)]);
}

/// Fails after `n` reads, like a borg process killed mid-listing.
struct Dies<R> {
    inner: R,
    left: usize,
}

impl<R: Read> Read for Dies<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other("connection lost"));
        }
        self.left -= 1;
        let n = buf.len().min(200);
        self.inner.read(&mut buf[..n])
    }
}

#[test]
fn interrupted_real_listing_then_complete() {
    let b = setup();
    let clean_dir = tempfile::tempdir().unwrap();
    let clean = Catalog::open_with(clean_dir.path(), opts()).unwrap();
    ingest_all(&b, &clean);

    let dir = tempfile::tempdir().unwrap();
    let cat = Catalog::open_with(dir.path(), opts()).unwrap();
    let a1 = aref(&b, 1, "a1");
    let err = b
        .with_listing("a1", |l| {
            let mut r = BufReader::new(Dies { inner: l, left: 3 });
            cat.ingest(&a1, &mut r)
        })
        .unwrap_err();
    assert!(err.contains("connection lost"), "{err}");
    assert!(cat.archive_ids().is_empty());
    assert_eq!(cat.search(&SearchQuery::default()).unwrap().total, 0);
    drop(cat);

    let cat = Catalog::open_with(dir.path(), opts()).unwrap();
    ingest_all(&b, &cat);
    let all = |c: &Catalog| {
        let mut v: Vec<(String, u64, Vec<ArchiveId>)> = c
            .search(&SearchQuery {
                limit: 1000,
                ..Default::default()
            })
            .unwrap()
            .hits
            .into_iter()
            .map(|h| (h.path, h.size, h.archives))
            .collect();
        v.sort();
        v
    };
    assert_eq!(all(&cat), all(&clean));
    assert_eq!(cat.stats().unwrap().docs, clean.stats().unwrap().docs);
}
