//! Job output appended in batches: lines of several jobs in one transaction keep each job's
//! order and numbering, continuing after lines stored earlier; readers see a batch whole.

use chrono::Utc;
use model::{JobId, JobType};
use store::{NewJob, NewOutputLine, Store};

fn new_job(store: &Store, name: &str) -> JobId {
    store
        .create_job(&NewJob {
            name: name.into(),
            job_type: JobType::Job,
            policy: None,
            client: None,
            repository: None,
            archive_name: String::new(),
            depends_on: None,
            launch_type: "manual".into(),
            created_by: None,
            extra_vars: String::new(),
        })
        .expect("job")
        .id
}

fn line(job: JobId, text: String) -> NewOutputLine {
    NewOutputLine {
        job,
        stream: "stdout".into(),
        text,
        at: Utc::now(),
    }
}

#[test]
fn batches_of_several_jobs_keep_each_jobs_order_and_numbering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store::testing::open(dir.path());
    let (a, b) = (new_job(&store, "a"), new_job(&store, "b"));
    assert_eq!(
        store
            .append_job_output(a, "system", &["started".into()])
            .expect("append"),
        1
    );
    let mut batch = Vec::new();
    for i in 0..10_000 {
        batch.push(line(if i % 3 == 0 { b } else { a }, format!("line {i}")));
    }
    let seqs = store.append_job_outputs(&batch).expect("batch");
    assert_eq!(seqs.len(), batch.len());
    let (mut next_a, mut next_b) = (2, 1);
    for (l, seq) in batch.iter().zip(&seqs) {
        let next = if l.job == a { &mut next_a } else { &mut next_b };
        assert_eq!(*seq, *next, "{}", l.text);
        *next += 1;
    }
    assert_eq!(store.last_job_output_seq(a).expect("last"), next_a - 1);
    assert_eq!(store.last_job_output_seq(b).expect("last"), next_b - 1);

    let stored = store.job_output(a, 0, 100_000).expect("output");
    let expected: Vec<String> = std::iter::once("started".to_string())
        .chain(batch.iter().filter(|l| l.job == a).map(|l| l.text.clone()))
        .collect();
    let texts: Vec<String> = stored.iter().map(|l| l.text.clone()).collect();
    assert_eq!(texts, expected);
    assert!(stored.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    assert!(store.append_job_outputs(&[]).expect("empty").is_empty());
}

#[test]
fn readers_run_while_batches_are_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store::testing::open(dir.path());
    let job = new_job(&store, "chatty");
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for b in 0..20 {
                let batch: Vec<NewOutputLine> = (0..5_000)
                    .map(|i| line(job, format!("batch {b} line {i}")))
                    .collect();
                store.append_job_outputs(&batch).expect("batch");
            }
        })
    };
    // Every read sees whole batches only.
    let mut reads = 0;
    while !writer.is_finished() {
        let n = store.last_job_output_seq(job).expect("read");
        assert_eq!(n % 5_000, 0, "a reader saw part of a batch: {n}");
        reads += 1;
    }
    writer.join().expect("writer");
    assert!(reads > 0);
    assert_eq!(store.last_job_output_seq(job).expect("last"), 100_000);
}
