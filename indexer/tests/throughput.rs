//! Ingest throughput smoke check (ignored by default; run with `--ignored --nocapture`).

use chrono::{TimeZone, Utc};
use indexer::{Catalog, CatalogOptions, SearchQuery};
use model::{ArchiveId, ArchiveRef, ClientId, PolicyId, RepositoryId, SeriesKey};
use std::io::Cursor;
use std::time::Instant;

fn listing(n: usize, gen: usize) -> Vec<u8> {
    let mut out = String::with_capacity(n * 260);
    for i in 0..n {
        // 1% of files change in every generation.
        let day = if i % 100 == gen % 100 { gen + 1 } else { 1 };
        out.push_str(&format!(
            r#"{{"type": "-", "mode": "-rw-r--r--", "user": "root", "group": "root", "uid": 0, "gid": 0, "path": "srv/data/d{}/sub{}/file-{i}.dat", "healthy": true, "source": "", "linktarget": "", "flags": 0, "mtime": "2026-01-{day:02}T10:00:00.000000", "size": {}}}"#,
            i % 97,
            i % 13,
            i * 7
        ));
        out.push('\n');
    }
    out.into_bytes()
}

#[test]
#[ignore]
fn ingest_throughput() {
    let n: usize = std::env::var("CATALOG_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let tmp = tempfile::tempdir().unwrap();
    let cat = Catalog::open_with(
        tmp.path(),
        CatalogOptions {
            writer_heap_bytes: 192 << 20,
            writer_threads: 0,
        },
    )
    .unwrap();
    let series = SeriesKey {
        repository: RepositoryId(1),
        policy: PolicyId(1),
        client: ClientId(1),
    };
    for gen in 0..3 {
        let data = listing(n, gen);
        let a = ArchiveRef {
            id: ArchiveId(gen as i64 + 1),
            name: format!("a{gen}"),
            series,
            time: Utc
                .with_ymd_and_hms(2026, 1, gen as u32 + 1, 0, 0, 0)
                .unwrap(),
        };
        let t = Instant::now();
        let r = cat.ingest_listing(&a, &mut Cursor::new(data)).unwrap();
        let el = t.elapsed();
        eprintln!(
            "archive {gen}: {} entries, {} new versions in {:?} ({:.0} entries/s), {:?}",
            r.summary.entries,
            r.summary.new_versions,
            el,
            r.summary.entries as f64 / el.as_secs_f64(),
            cat.stats().unwrap()
        );
    }
    for text in [
        "file-12345.dat",
        "le-1234",
        "*.dat",
        "/srv/data/d5/sub3/",
        "/srv/data/d26/sub8/file-12345.dat",
    ] {
        let t = Instant::now();
        let page = cat
            .search(&SearchQuery {
                text: text.into(),
                ..Default::default()
            })
            .unwrap();
        eprintln!("search {text:?}: {} hits in {:?}", page.total, t.elapsed());
    }
}
