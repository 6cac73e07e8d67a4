//! Paged lists on a real SQLite file with a large job table: keyset pages see every row once
//! under filters, and a page stays fast deep into the table. Set `CYBORG_LIST_JOBS` to change
//! the table size (default 20000); timings are printed (`--nocapture`).

use model::*;
use std::time::Instant;
use store::{JobListOptions, JobOrder, NewJob, PageRequest};

fn job(i: usize) -> NewJob {
    NewJob {
        name: format!("job {i}"),
        job_type: if i.is_multiple_of(10) {
            JobType::Catalog
        } else {
            JobType::Job
        },
        policy: None,
        client: None,
        repository: None,
        archive_name: format!("archive-{i}"),
        depends_on: None,
        launch_type: "manual".into(),
        created_by: None,
        extra_vars: String::new(),
    }
}

#[test]
fn job_pages_cover_a_large_table_once_and_stay_fast() {
    let n: usize = std::env::var("CYBORG_LIST_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let d = tempfile::tempdir().unwrap();
    let s = store::testing::open(d.path());
    let t = Instant::now();
    for i in 0..n {
        let j = s.create_job(&job(i)).unwrap();
        if i % 3 == 0 {
            s.set_job_status(j.id, JobStatus::Failed, Some(2), "boom")
                .unwrap();
        }
    }
    println!("inserted {n} jobs in {:?}", t.elapsed());

    // Newest first, failed only, 500 a page: every failed job exactly once.
    let mut opts = JobListOptions {
        status: Some(JobStatus::Failed),
        page: PageRequest {
            first: 500,
            after: None,
        },
        ..Default::default()
    };
    let (mut seen, mut pages, mut slowest) = (Vec::new(), 0, std::time::Duration::ZERO);
    loop {
        let t = Instant::now();
        let p = s.list_jobs(&opts).unwrap();
        slowest = slowest.max(t.elapsed());
        pages += 1;
        assert_eq!(p.total_count as usize, n.div_ceil(3));
        seen.extend(p.items.iter().map(|j| j.id.0));
        if !p.has_next_page {
            break;
        }
        opts.page.after = p.end_cursor;
    }
    println!("{pages} pages of failed jobs, slowest {slowest:?}");
    assert_eq!(seen.len(), n.div_ceil(3));
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first");

    // The first page and the last page of the whole table, unfiltered.
    let mut all = JobListOptions::default();
    let t = Instant::now();
    let first = s.list_jobs(&all).unwrap();
    let first_took = t.elapsed();
    all.order = JobOrder::CreatedAsc;
    all.page.after = Some(store::Cursor {
        key: store::SortKey::Int(n as i64 - 10),
        id: n as i64 - 10,
    });
    let t = Instant::now();
    let last = s.list_jobs(&all).unwrap();
    let last_took = t.elapsed();
    println!(
        "first page of {n}: {first_took:?}; page after row {}: {last_took:?}",
        n - 10
    );
    assert_eq!(first.items.len(), 50);
    assert_eq!(first.total_count as usize, n);
    assert_eq!(last.items.len(), 10);
    assert!(!last.has_next_page);

    // Search and type filters.
    let p = s
        .list_jobs(&JobListOptions {
            search: Some("archive-1234".into()),
            ..Default::default()
        })
        .unwrap();
    let want = (0..n).filter(|i| format!("archive-{i}").contains("archive-1234"));
    assert_eq!(p.total_count as usize, want.count());
    let catalogs = s
        .list_jobs(&JobListOptions {
            job_type: Some(JobType::Catalog),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(catalogs.total_count as usize, n.div_ceil(10));
    assert!(first_took.as_millis() < 500 && last_took.as_millis() < 500);
}
