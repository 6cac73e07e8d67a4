//! Claiming under the dispatch rules, leases and their expiry, on the database this run uses;
//! two nodes claiming at once on a real PostgreSQL.

use super::*;
use crate::{NewJob, Store, StoreOptions};
use model::*;

fn setup(s: &Store, repos: usize) -> (Vec<ClientId>, Vec<RepositoryId>) {
    let mut clients = Vec::new();
    let mut repositories = Vec::new();
    for i in 0..repos {
        clients.push(
            s.create_client(
                &ClientInput {
                    hostname: Some(format!("web{i}")),
                    ..Default::default()
                },
                None,
            )
            .expect("client")
            .id,
        );
        repositories.push(
            s.create_repository(
                &RepositoryInput {
                    name: Some(format!("r{i}")),
                    path: Some(format!("/srv/r{i}")),
                    ..Default::default()
                },
                None,
            )
            .expect("repository")
            .id,
        );
    }
    (clients, repositories)
}

fn job(s: &Store, client: ClientId, repo: RepositoryId, t: JobType, dep: Option<JobId>) -> JobId {
    s.create_job(&NewJob {
        name: "j".into(),
        job_type: t,
        policy: None,
        client: Some(client),
        repository: Some(repo),
        archive_name: String::new(),
        depends_on: dep,
        launch_type: "manual".into(),
        created_by: None,
        extra_vars: String::new(),
    })
    .expect("job")
    .id
}

fn opts(node: &str, max: usize) -> ClaimOptions<'_> {
    ClaimOptions {
        node,
        max_running: max,
        lease: chrono::Duration::seconds(30),
        now: Utc::now(),
        catalog_jobs: true,
    }
}

#[test]
fn claims_follow_the_repository_client_global_and_dependency_rules() {
    let d = tempfile::tempdir().expect("tempdir");
    let s = crate::testing::open(d.path());
    let (c, r) = setup(&s, 3);
    let a = job(&s, c[0], r[0], JobType::Job, None);
    let same_repo = job(&s, c[1], r[0], JobType::Job, None);
    let same_client = job(&s, c[0], r[1], JobType::Job, None);
    let dependant = job(&s, c[2], r[2], JobType::Catalog, Some(a));
    let claim = s.claim_jobs(&opts("n1", 4)).expect("claim");
    assert_eq!(claim.started.iter().map(|j| j.id).collect::<Vec<_>>(), [a]);
    assert_eq!(claim.waiting, [same_repo, same_client, dependant]);
    let started = &claim.started[0];
    assert_eq!(started.status, JobStatus::Running);
    assert!(started.started.is_some());
    // Another node finds nothing to run while `a` holds repository 0 and client 0.
    assert!(s
        .claim_jobs(&opts("n2", 4))
        .expect("claim")
        .started
        .is_empty());
    s.set_job_status(a, JobStatus::Failed, Some(2), "borg failed")
        .expect("finish");
    let claim = s.claim_jobs(&opts("n2", 1)).expect("claim");
    assert_eq!(claim.canceled, [dependant]);
    assert_eq!(claim.started.len(), 1, "the global limit of 1");
    assert_eq!(
        s.job(dependant).expect("job").job_explanation,
        format!("dependency job {a} ended failed")
    );
    let nodes = s.nodes().expect("nodes");
    assert!(nodes.is_empty(), "no heartbeat yet");
    s.heartbeat(&NodeBeat {
        name: "n2".into(),
        address: "http://127.0.0.2:8000".into(),
        catalog: false,
        version: "1".into(),
    })
    .expect("beat");
    let nodes = s.nodes().expect("nodes");
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].running_jobs, [claim.started[0].id]);
}

#[test]
fn an_expired_lease_fails_the_job_and_requeues_catalog_ingestion() {
    let d = tempfile::tempdir().expect("tempdir");
    let s = crate::testing::open(d.path());
    let (c, r) = setup(&s, 2);
    let backup = job(&s, c[0], r[0], JobType::Job, None);
    let catalog = job(&s, c[1], r[1], JobType::Catalog, None);
    let short = ClaimOptions {
        lease: chrono::Duration::seconds(5),
        ..opts("dead", 4)
    };
    assert_eq!(s.claim_jobs(&short).expect("claim").started.len(), 2);
    let later = Utc::now() + chrono::Duration::seconds(60);
    // The node's own jobs never expire under it, and nothing expired before the lease ends.
    assert!(s.expire_leases("dead", later).expect("own").is_empty());
    assert!(s
        .expire_leases("alive", Utc::now())
        .expect("early")
        .is_empty());
    let expired = s.expire_leases("alive", later).expect("expire");
    assert_eq!(expired.len(), 2);
    let b = s.job(backup).expect("job");
    assert_eq!(b.status, JobStatus::Failed);
    assert!(
        b.job_explanation.contains("node dead stopped renewing"),
        "{}",
        b.job_explanation
    );
    assert_eq!(s.job(catalog).expect("job").status, JobStatus::Pending);
    assert!(
        s.expire_leases("other", later).expect("again").is_empty(),
        "ended once"
    );
    // The dead node, back, is told to stop what was ended under it.
    assert_eq!(s.renew_leases("dead", later).expect("renew"), [backup]);
    s.release_lease(backup).expect("release");
    assert!(s.renew_leases("dead", later).expect("renew").is_empty());
    // A cancel asked anywhere reaches the running node.
    let claim = s.claim_jobs(&opts("n1", 4)).expect("claim");
    assert_eq!(claim.started[0].id, catalog);
    assert!(s.request_cancel(catalog).expect("cancel"));
    assert_eq!(s.renew_leases("n1", later).expect("renew"), [catalog]);
    assert!(!s.request_cancel(backup).expect("finished"));
}

#[test]
fn two_nodes_claiming_at_once_run_each_job_once_and_one_per_repository() {
    // A real cluster: two store handles (two nodes) on one PostgreSQL database.
    let d = tempfile::tempdir().expect("tempdir");
    let options = StoreOptions {
        data_dir: d.path().into(),
        postgres: Some(crate::PgConfig::parse(&crate::testing::new_test_database()).expect("url")),
    };
    let a = Store::open_with(&options).expect("node a");
    let b = Store::open_with(&options).expect("node b");
    let (c, r) = setup(&a, 4);
    let mut all = Vec::new();
    for i in 0..24 {
        all.push(job(&a, c[i % 4], r[(i / 4) % 4], JobType::Job, None));
    }
    let run = |s: Store, node: &'static str| {
        std::thread::spawn(move || {
            let mut mine = Vec::new();
            for _ in 0..400 {
                let claim = s.claim_jobs(&opts(node, 3)).expect("claim");
                // Never two running jobs on one repository or client, on any node.
                let running: Vec<Job> = s
                    .jobs(&crate::JobFilter {
                        status: Some(JobStatus::Running),
                        ..Default::default()
                    })
                    .expect("running");
                let repos: HashSet<_> = running.iter().map(|j| j.repository).collect();
                let clients: HashSet<_> = running.iter().map(|j| j.client).collect();
                assert_eq!(repos.len(), running.len(), "{running:?}");
                assert_eq!(clients.len(), running.len(), "{running:?}");
                assert!(running.len() <= 3);
                for j in claim.started {
                    s.set_job_status(j.id, JobStatus::Successful, Some(0), "")
                        .expect("finish");
                    mine.push(j.id);
                }
                if mine.len() >= 24 {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            mine
        })
    };
    let (ta, tb) = (run(a.clone(), "a"), run(b, "b"));
    let mut ran = ta.join().expect("a");
    let from_b = tb.join().expect("b");
    assert!(!ran.is_empty() && !from_b.is_empty(), "both nodes ran jobs");
    ran.extend(from_b);
    ran.sort_by_key(|j| j.0);
    assert_eq!(ran, all, "every job ran exactly once");
}
