//! Unit tests of a copy archive compared with its primary: differences explained by a change
//! between the two runs (the file's or its directory's mtime after the earlier run) are told
//! apart from files missing or changed with no such change.

use crate::tests::{ingest, opts, E};
use crate::*;
use chrono::{TimeZone, Utc};
use model::{ArchiveId, ArchiveRef, ClientId, PolicyId, RepositoryId, SeriesKey};

fn archive(id: i64, repository: i64) -> ArchiveRef {
    ArchiveRef {
        id: ArchiveId(id),
        name: format!("web1-{id}"),
        series: SeriesKey {
            repository: RepositoryId(repository),
            policy: PolicyId(1),
            client: ClientId(1),
        },
        time: Utc.with_ymd_and_hms(2025, 12, 14, 3, 0, 0).unwrap(),
    }
}

#[test]
fn changes_between_runs_are_told_apart_from_missing_files() {
    let tmp = tempfile::tempdir().unwrap();
    let cat = Catalog::open_with(tmp.path(), opts()).unwrap();
    // The primary ran after the copy; mtimes on day 12 are after the copy's run (day 10).
    let primary: Vec<E<'_>> = vec![
        ("etc", "d", 0, 12),
        ("etc/hosts", "-", 200, 1),
        ("etc/nginx", "d", 0, 1),
        ("etc/nginx/nginx.conf", "-", 1300, 12),
        ("etc/nginx/default", "-", 301, 1),
        ("srv", "d", 0, 1),
        ("srv/db.sql.gz", "-", 50_000, 1),
        ("srv/new.txt", "-", 5, 12),
    ];
    let copy: Vec<E<'_>> = vec![
        ("etc", "d", 0, 1),
        ("etc/hosts", "-", 200, 1),
        ("etc/nginx", "d", 0, 1),
        ("etc/nginx/nginx.conf", "-", 1200, 1),
        ("etc/nginx/default", "-", 300, 1),
        ("etc/old.conf", "-", 10, 1),
        ("srv", "d", 0, 1),
    ];
    ingest(&cat, &archive(1, 1), &primary);
    ingest(&cat, &archive(2, 2), &copy);
    let since = Utc.with_ymd_and_hms(2025, 12, 10, 0, 0, 0).unwrap();
    let c = cat
        .compare_archives(ArchiveId(1), ArchiveId(2), Some(since))
        .unwrap();
    let kind = |p: &str| {
        c.differences
            .iter()
            .find(|d| d.path.ends_with(p))
            .map(|d| (d.kind, d.between_runs))
    };
    // Changed since the copy ran: the file, and the directory a file was removed from.
    assert_eq!(
        kind("etc/nginx/nginx.conf"),
        Some((CompareKind::Changed, true))
    );
    assert_eq!(kind("srv/new.txt"), Some((CompareKind::Missing, true)));
    assert_eq!(kind("etc/old.conf"), Some((CompareKind::Extra, true)));
    // Nothing explains these: the copy lacks a file, or holds another one, of the same age.
    assert_eq!(kind("srv/db.sql.gz"), Some((CompareKind::Missing, false)));
    assert_eq!(
        kind("etc/nginx/default"),
        Some((CompareKind::Changed, false))
    );
    assert_eq!(c.unexplained, 2, "{c:?}");
    assert_eq!(
        model::copies::comparison_verdict(c.missing + c.extra + c.changed, c.unexplained),
        "differs"
    );
    // Without a time, nothing is explained.
    let plain = cat
        .compare_archives(ArchiveId(1), ArchiveId(2), None)
        .unwrap();
    assert_eq!(plain.between_runs, 0);
    assert_eq!(plain.unexplained, plain.missing + plain.changed);
    // A copy identical to its primary.
    ingest(&cat, &archive(3, 2), &primary);
    let same = cat
        .compare_archives(ArchiveId(1), ArchiveId(3), Some(since))
        .unwrap();
    assert_eq!(same.missing + same.extra + same.changed, 0);
}
