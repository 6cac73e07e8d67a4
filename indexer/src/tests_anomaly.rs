//! Unit tests of anomaly flags: mass deletion and mass change against the series median.

use crate::tests::{archive, ingest, opts};
use crate::*;
use model::ArchiveId;

/// 200 files; `day` decides which of them changed (two a day) and `keep` how many exist.
fn files(day: u32, keep: usize, changed_all_from: Option<usize>) -> Vec<(String, u32)> {
    (0..keep)
        .map(|i| {
            let d = if changed_all_from.is_some_and(|from| i >= from) || i as u32 % 100 < day * 2 {
                day
            } else {
                1
            };
            (format!("srv/data/file-{i:03}.txt"), d)
        })
        .collect()
}

fn ingest_files(cat: &Catalog, id: i64, day: u32, files: &[(String, u32)]) -> IngestReport {
    let entries: Vec<(&str, &str, u64, u32)> = files
        .iter()
        .map(|(p, d)| (p.as_str(), "-", 100, *d))
        .collect();
    ingest(cat, &archive(id, 3, day), &entries)
}

#[test]
fn mass_deletion_and_mass_change_are_flagged() {
    let tmp = tempfile::tempdir().unwrap();
    let cat = Catalog::open_with(tmp.path(), opts()).unwrap();
    for day in 1..=5 {
        ingest_files(&cat, i64::from(day), day, &files(day, 200, None));
    }
    // Ordinary days: a few changes each, nothing flagged.
    assert!(cat.anomalies(None).is_empty(), "{:?}", cat.anomalies(None));
    for id in 1..=5 {
        assert_eq!(cat.archive_anomaly(ArchiveId(id)), None);
    }

    // Day 6: 60% of the files are gone (an rm -rf, or a broken exclude).
    ingest_files(&cat, 6, 6, &files(6, 80, None));
    let a = cat
        .archive_anomaly(ArchiveId(6))
        .expect("mass deletion flagged");
    assert_eq!(a.kind, AnomalyKind::MassDeletion);
    assert!(a.changes.removed >= 120, "{:?}", a.changes);
    assert!(a.reason.contains("removed"), "{}", a.reason);
    assert!(a.reason.contains("host3-2026-01-05"), "{}", a.reason);

    // Day 7: every file is back and rewritten (ransomware-like): a mass change.
    ingest_files(&cat, 7, 7, &files(7, 200, Some(0)));
    let b = cat
        .archive_anomaly(ArchiveId(7))
        .expect("mass change flagged");
    assert_eq!(b.kind, AnomalyKind::MassChange);
    assert!(b.reason.contains("median"), "{}", b.reason);

    let all = cat.anomalies(None);
    assert_eq!(
        all.iter().map(|a| a.archive).collect::<Vec<_>>(),
        [ArchiveId(7), ArchiveId(6)]
    );
    let since = cat.anomalies(Some(b.time));
    assert_eq!(since.len(), 1);

    // Pruning the flagged archive removes its flag; the next archive is compared afresh.
    cat.forget_archive(ArchiveId(6)).unwrap();
    assert!(cat.archive_anomaly(ArchiveId(6)).is_none());
    assert_eq!(
        cat.archive_changes(ArchiveId(7)).and_then(|c| c.previous),
        Some(ArchiveId(5))
    );
}
