//! API load benchmark: 64 concurrent GraphQL readers (catalog searches and job lists) against
//! the real server, idle and then while one job's pre-hook prints 600,000 lines, in one run.
//!
//! `cargo bench --bench api_load -- [--readers N] [--idle-seconds N] [--lines N]
//! [--timeout-seconds N] [--files N]` (defaults: 64 readers, 10 s idle, 600,000 lines, 5 s
//! per-request timeout, 3,000 files in the catalog). Loopback only; the server runs on port 0
//! with a temporary data directory and a real borg repository. Exits 1 when the loaded figures
//! miss the target: during-output requests/s at least half of idle, p99 within 2x of idle, no
//! request timed out.

#[path = "../tests/it/support/mod.rs"]
mod support;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

struct Args {
    readers: usize,
    idle: Duration,
    lines: u64,
    timeout: Duration,
    files: usize,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        readers: 64,
        idle: Duration::from_secs(10),
        lines: 600_000,
        timeout: Duration::from_secs(5),
        files: 3_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> Result<u64> {
            it.next()
                .and_then(|v| v.replace('_', "").parse().ok())
                .with_context(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--readers" => a.readers = num("--readers")?.max(1) as usize,
            "--idle-seconds" => a.idle = Duration::from_secs(num("--idle-seconds")?.max(1)),
            "--lines" => a.lines = num("--lines")?.max(1),
            "--timeout-seconds" => {
                a.timeout = Duration::from_secs(num("--timeout-seconds")?.max(1))
            }
            "--files" => a.files = num("--files")?.max(10) as usize,
            "--bench" => {}
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(a)
}

/// What one phase measured.
#[derive(Default)]
struct Phase {
    latencies_ms: Vec<f64>,
    timeouts: usize,
    errors: usize,
    elapsed: Duration,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.latencies_ms.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn pct(&self, p: f64) -> f64 {
        let v = &self.latencies_ms;
        if v.is_empty() {
            return f64::NAN;
        }
        v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
    }

    fn row(&self, name: &str) {
        println!(
            "{name:<8} {:>9} {:>10.0} {:>8.1} {:>8.1} {:>8.1} {:>9} {:>7} {:>8.1}",
            self.latencies_ms.len(),
            self.rate(),
            self.pct(0.50),
            self.pct(0.99),
            self.latencies_ms.last().copied().unwrap_or(f64::NAN),
            self.timeouts,
            self.errors,
            self.elapsed.as_secs_f64(),
        );
    }
}

/// The reader's requests, in turn: catalog searches of every query form, and job lists.
fn requests(src: &str) -> Vec<(String, Value)> {
    let search = "query($q: String!) { catalogSearch(query: $q, first: 20) { total hits { path size mtime clientHostname lastArchive { name } archiveCount } nextCursor } }";
    let jobs = "query($s: String) { jobs(first: 50, status: $s) { totalCount nodes { id name jobType status launchType started finished elapsed archiveName } pageInfo { hasNextPage endCursor } } }";
    vec![
        (search.into(), json!({"q": "report"})),
        (jobs.into(), json!({})),
        (search.into(), json!({"q": "*.jpg"})),
        (jobs.into(), json!({"s": "successful"})),
        (search.into(), json!({"q": format!("{src}/dir7/")})),
        (jobs.into(), json!({})),
        (search.into(), json!({"q": "nvoic"})),
        (jobs.into(), json!({"s": "failed"})),
    ]
}

/// Runs `n` readers until `stop` is set; each request has `timeout`.
async fn readers(
    url: &str,
    token: &str,
    src: &str,
    n: usize,
    timeout: Duration,
    stop: Arc<AtomicBool>,
) -> Phase {
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .pool_max_idle_per_host(n)
        .build()
        .expect("http client");
    let reqs = Arc::new(requests(src));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..n {
        let (http, reqs, stop) = (http.clone(), reqs.clone(), stop.clone());
        let (url, token) = (format!("{url}/graphql"), token.to_string());
        tasks.push(tokio::spawn(async move {
            let mut p = Phase::default();
            let mut k = i;
            while !stop.load(Ordering::Relaxed) {
                let (q, v) = &reqs[k % reqs.len()];
                k += 1;
                let t = Instant::now();
                let r = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"query": q, "variables": v}))
                    .send()
                    .await;
                let body = match r {
                    Ok(r) => r.json::<Value>().await,
                    Err(e) => Err(e),
                };
                match body {
                    Ok(b) if b.get("errors").is_none() && b.get("data").is_some() => {
                        p.latencies_ms.push(t.elapsed().as_secs_f64() * 1000.0)
                    }
                    Ok(b) => {
                        if p.errors == 0 {
                            eprintln!("reader {i}: {b}");
                        }
                        p.errors += 1
                    }
                    Err(e) if e.is_timeout() => p.timeouts += 1,
                    Err(e) => {
                        if p.errors == 0 {
                            eprintln!("reader {i}: {e}");
                        }
                        p.errors += 1
                    }
                }
            }
            p
        }));
    }
    let mut all = Phase::default();
    for t in tasks {
        let p = t.await.expect("reader task");
        all.latencies_ms.extend(p.latencies_ms);
        all.timeouts += p.timeouts;
        all.errors += p.errors;
    }
    all.elapsed = start.elapsed();
    all.latencies_ms.sort_by(|a, b| a.total_cmp(b));
    all
}

/// Files with a few name families in 20 directories, so searches have hits of every form.
fn make_source(dir: &std::path::Path, files: usize) -> Result<()> {
    let kinds = [
        "report-{}.txt",
        "invoice-{}.pdf",
        "photo-{}.jpg",
        "notes{}.md",
    ];
    for i in 0..files {
        let d = dir.join(format!("dir{}", i % 20));
        std::fs::create_dir_all(&d)?;
        let name = kinds[i % kinds.len()].replace("{}", &i.to_string());
        std::fs::write(d.join(name), format!("file {i}\n"))?;
    }
    Ok(())
}

async fn job_status(s: &Server, token: &str, id: i64) -> Result<String> {
    let d = s
        .ok(
            token,
            "query($id: Int!) { job(id: $id) { status } }",
            json!({"id": id}),
        )
        .await?;
    Ok(d["job"]["status"].as_str().unwrap_or_default().to_string())
}

async fn run(a: Args) -> Result<bool> {
    let s = Server::start()?;
    let token = s.login().await?;
    let src = tempfile::tempdir()?;
    make_source(src.path(), a.files)?;
    let src_path = src.path().display().to_string();
    let (policy, _) = local_typed_policy(
        &s,
        &token,
        "folders",
        &json!({ "folders": [src_path] }).to_string(),
        "bench passphrase",
    )
    .await?;
    // Two backups (with their catalog and prune jobs): the catalog and the job list have content.
    for round in 0..2 {
        std::fs::write(src.path().join(format!("dir0/round-{round}.txt")), "x")?;
        launch(&s, &token, policy).await?;
        s.wait_jobs(&token, Duration::from_secs(600)).await?;
    }
    let total = s
        .ok(
            &token,
            "{ catalogSearch(query: \"report\") { total } }",
            json!({}),
        )
        .await?["catalogSearch"]["total"]
        .as_i64()
        .unwrap_or(0);
    anyhow::ensure!(total > 0, "the catalog has no content");
    println!(
        "setup: {} files backed up twice, {total} `report` versions in the catalog",
        a.files
    );

    let go = |stop: Arc<AtomicBool>| {
        let (url, token, src) = (s.url.clone(), token.clone(), src_path.clone());
        let (n, timeout) = (a.readers, a.timeout);
        tokio::spawn(async move { readers(&url, &token, &src, n, timeout, stop).await })
    };
    // Warm-up (not counted), then the idle phase.
    let stop = Arc::new(AtomicBool::new(false));
    let warm = go(stop.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    warm.await?;
    let stop = Arc::new(AtomicBool::new(false));
    let idle = go(stop.clone());
    tokio::time::sleep(a.idle).await;
    stop.store(true, Ordering::Relaxed);
    let idle = idle.await?;

    // The loaded phase: from launch until the job printing the lines has ended.
    let hook = format!("seq -f 'pre-hook output line %.0f' 1 {}; exit 3", a.lines);
    s.ok(
        &token,
        "mutation($id: Int!, $h: String!) { updatePolicy(id: $id, input: {prehook: $h}) { id } }",
        json!({"id": policy, "h": hook}),
    )
    .await?;
    let stop = Arc::new(AtomicBool::new(false));
    let during = go(stop.clone());
    let started = Instant::now();
    let job = launch_backup(&s, &token, policy).await?;
    let mut status = String::new();
    while started.elapsed() < Duration::from_secs(1800) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        status = job_status(&s, &token, job).await?;
        if matches!(
            status.as_str(),
            "successful" | "failed" | "error" | "canceled"
        ) {
            break;
        }
    }
    let job_time = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let during = during.await?;
    let last = format!("pre-hook output line {}", a.lines);
    let tail = s
        .ok(
            &token,
            "query($id: Int!, $a: Int!) { job(id: $id) { output(after: $a, limit: 100) { text } } }",
            json!({"id": job, "a": a.lines}),
        )
        .await?;
    let stored = tail["job"]["output"]
        .as_array()
        .is_some_and(|l| l.iter().any(|l| l["text"] == last.as_str()));

    println!(
        "\n{} readers, {} s idle, then a job whose pre-hook prints {} lines (per-request timeout {} s)",
        a.readers,
        a.idle.as_secs(),
        a.lines,
        a.timeout.as_secs()
    );
    println!(
        "{:<8} {:>9} {:>10} {:>8} {:>8} {:>8} {:>9} {:>7} {:>8}",
        "phase", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "timeouts", "errors", "secs"
    );
    idle.row("idle");
    during.row("during");
    let rate_ratio = during.rate() / idle.rate();
    let p99_ratio = during.pct(0.99) / idle.pct(0.99);
    println!(
        "during/idle: req/s {rate_ratio:.2}, p99 {p99_ratio:.2}; job {status} after {:.1} s, last line stored: {stored}",
        job_time.as_secs_f64()
    );
    let ok = rate_ratio >= 0.5
        && p99_ratio <= 2.0
        && during.timeouts == 0
        && idle.timeouts == 0
        && during.errors == 0
        && stored;
    println!(
        "target (req/s >= 0.5x idle, p99 <= 2x idle, no timeouts or errors, every line stored): {}",
        if ok { "met" } else { "MISSED" }
    );
    Ok(ok)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    match rt.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("benchmark failed: {e:#}");
            ExitCode::from(2)
        }
    }
}
