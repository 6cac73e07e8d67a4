//! Cluster benchmark, one run: jobs dispatched per second and GraphQL reads per second, for one
//! node and for three nodes sharing a real PostgreSQL database (one SQLite node as the
//! baseline for dispatch).
//!
//! `cargo bench --bench cluster_load -- [--jobs N] [--readers N] [--seconds N]` (defaults: 3,000
//! jobs, 48 readers, 10 s of reads per configuration). Needs the PostgreSQL server
//! `scripts/test-databases.sh start` runs. Loopback only.
//!
//! Dispatch is measured where the nodes meet: each node (a `Store` handle of its own, as a
//! server holds) claims queued jobs with `Store::claim_jobs` — the transaction that applies the
//! repository, client and global rules — and finishes each claimed job, until every job ran;
//! borg's own run time is left out, so the figure is the cluster's bookkeeping per job. Reads
//! go through real servers: readers spread over the nodes ask for a job page and a policy page.

#[path = "../tests/it/support/mod.rs"]
mod support;

use anyhow::{bail, Context, Result};
use chrono::Utc;
use model::*;
use serde_json::json;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::{ClaimOptions, NewJob, PgConfig, Store, StoreOptions};

struct Args {
    jobs: usize,
    readers: usize,
    seconds: u64,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        jobs: 3000,
        readers: 48,
        seconds: 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> Result<u64> {
            it.next()
                .and_then(|v| v.replace('_', "").parse().ok())
                .with_context(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--jobs" => a.jobs = num("--jobs")?.max(10) as usize,
            "--readers" => a.readers = num("--readers")?.max(1) as usize,
            "--seconds" => a.seconds = num("--seconds")?.max(1),
            "--bench" => {}
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(a)
}

/// A store with `pairs` clients and repositories and `jobs` queued jobs spread over them.
fn seed(options: &StoreOptions, jobs: usize) -> Result<Store> {
    let s = Store::open_with(options)?;
    let pairs = (jobs / 3).max(1);
    let mut ids = Vec::new();
    for i in 0..pairs {
        let c = s.create_client(
            &ClientInput {
                hostname: Some(format!("host{i}.example.com")),
                ..Default::default()
            },
            None,
        )?;
        let r = s.create_repository(
            &RepositoryInput {
                name: Some(format!("r{i}")),
                path: Some(format!("/srv/borg/r{i}")),
                ..Default::default()
            },
            None,
        )?;
        ids.push((c.id, r.id));
    }
    for i in 0..jobs {
        let (c, r) = ids[i % pairs];
        s.create_job(&NewJob {
            name: format!("job {i}"),
            job_type: JobType::Job,
            policy: None,
            client: Some(c),
            repository: Some(r),
            archive_name: String::new(),
            depends_on: None,
            launch_type: "scheduled".into(),
            created_by: None,
            extra_vars: String::new(),
        })?;
    }
    Ok(s)
}

/// Runs every queued job through `nodes` claiming nodes; jobs per second.
fn dispatch(options: &StoreOptions, nodes: usize, jobs: usize) -> Result<f64> {
    let seeded = seed(options, jobs)?;
    let ran = Arc::new(Mutex::new(Vec::new()));
    let last = Arc::new(Mutex::new(None::<Instant>));
    let start = Instant::now();
    let threads: Vec<_> = (0..nodes)
        .map(|n| {
            let store = if n == 0 {
                Ok(seeded.clone())
            } else {
                Store::open_with(options)
            };
            let (ran, last) = (ran.clone(), last.clone());
            std::thread::spawn(move || -> Result<()> {
                let store = store?;
                let node = format!("node{n}");
                let mut idle = 0;
                while idle < 50 {
                    let claim = store.claim_jobs(&ClaimOptions {
                        node: &node,
                        max_running: 64,
                        lease: chrono::Duration::seconds(30),
                        now: Utc::now(),
                        catalog_jobs: true,
                    })?;
                    if claim.started.is_empty() {
                        idle += 1;
                        std::thread::sleep(Duration::from_millis(2));
                        continue;
                    }
                    idle = 0;
                    for j in claim.started {
                        store.set_job_status(j.id, JobStatus::Successful, Some(0), "")?;
                        ran.lock()
                            .map_err(|_| anyhow::anyhow!("poisoned"))?
                            .push(j.id);
                    }
                    *last.lock().map_err(|_| anyhow::anyhow!("poisoned"))? = Some(Instant::now());
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| anyhow::anyhow!("a node panicked"))??;
    }
    // Until the last job finished (the idle polls after it are not dispatch time).
    let end = last
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .unwrap_or_else(Instant::now);
    let elapsed = (end - start).as_secs_f64();
    let ran = ran.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
    let unique: HashSet<_> = ran.iter().collect();
    if ran.len() != jobs || unique.len() != jobs {
        bail!(
            "{} jobs ran ({} distinct) of {jobs}",
            ran.len(),
            unique.len()
        );
    }
    Ok(jobs as f64 / elapsed.max(0.001))
}

fn pg_options() -> Result<StoreOptions> {
    let dir = tempfile::tempdir()?.keep();
    Ok(StoreOptions {
        data_dir: dir,
        postgres: Some(
            PgConfig::parse(&store::testing::new_test_database()).map_err(anyhow::Error::msg)?,
        ),
    })
}

/// What one read phase measured.
struct Reads {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

async fn reads(nodes: &[support::Server], token: &str, readers: usize, secs: u64) -> Result<Reads> {
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..readers {
        let url = format!("{}/graphql", nodes[i % nodes.len()].url);
        let (stop, errors, token) = (stop.clone(), errors.clone(), token.to_string());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let body = json!({"query": "{ jobs(first: 50) { totalCount nodes { id status node } } policies(first: 20) { nodes { id name } } }"});
            let mut took = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let ok = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                if ok {
                    took.push(t.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            took
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    all.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| {
        all.get(((all.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    Ok(Reads {
        per_second: all.len() as f64 / secs as f64,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        errors: errors.load(Ordering::Relaxed),
    })
}

async fn read_phase(n: usize, args: &Args) -> Result<Reads> {
    let names = ["a", "b", "c"];
    let nodes = support::cluster::start_cluster(&names[..n], &[("CYBORG_LOG", "error")])?;
    let token = nodes[0].login().await?;
    // Something to list: 20 policies and their prepare jobs.
    for i in 0..20 {
        let (p, _) = support::local_typed_policy(
            &nodes[0],
            &token,
            "piped",
            &json!({"command": format!("echo {i}")}).to_string(),
            "bench pass",
        )
        .await?;
        let _ = p;
    }
    reads(&nodes, &token, args.readers, args.seconds).await
}

fn main() -> Result<()> {
    let args = parse_args()?;
    println!(
        "dispatch: {} jobs claimed and finished (borg time left out)",
        args.jobs
    );
    let sqlite_dir = tempfile::tempdir()?;
    let sqlite = dispatch(
        &StoreOptions {
            data_dir: sqlite_dir.path().into(),
            postgres: None,
        },
        1,
        args.jobs,
    )?;
    let one = dispatch(&pg_options()?, 1, args.jobs)?;
    let three = dispatch(&pg_options()?, 3, args.jobs)?;
    println!("  SQLite, 1 node:      {sqlite:>8.1} jobs/s (baseline)");
    println!(
        "  PostgreSQL, 1 node:  {one:>8.1} jobs/s ({:.2}x SQLite)",
        one / sqlite
    );
    println!(
        "  PostgreSQL, 3 nodes: {three:>8.1} jobs/s ({:.2}x one PostgreSQL node)",
        three / one
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "graphql reads: {} readers for {} s, a job page and a policy page each",
        args.readers, args.seconds
    );
    let r1 = rt.block_on(read_phase(1, &args))?;
    let r3 = rt.block_on(read_phase(3, &args))?;
    for (label, r) in [("1 node ", &r1), ("3 nodes", &r3)] {
        println!(
            "  {label}: {:>8.1} reads/s, p50 {:.1} ms, p99 {:.1} ms, {} errors",
            r.per_second, r.p50_ms, r.p99_ms, r.errors
        );
    }
    println!(
        "  3 nodes / 1 node: {:.2}x reads/s",
        r3.per_second / r1.per_second.max(0.001)
    );
    Ok(())
}
