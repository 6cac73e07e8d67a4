//! Helpers of the restore drill tests: settings, backups and drills run to completion, the
//! latest drill's evidence, and a repository segment corrupted on purpose.

use crate::support::*;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub const WAIT: Duration = Duration::from_secs(180);

pub async fn set(s: &Server, token: &str, key: &str, value: &str) -> Result<()> {
    s.ok(
        token,
        "mutation($k: String!, $v: String!) { setNotificationSetting(key: $k, value: $v) { key } }",
        json!({"k": key, "v": value}),
    )
    .await?;
    Ok(())
}

/// Waits until a job is finished; returns it with its log.
pub async fn finished(s: &Server, token: &str, id: i64) -> Result<(Value, String)> {
    let start = Instant::now();
    loop {
        let d = s
            .ok(
                token,
                "query($id: Int!) { job(id: $id) { id jobType status jobExplanation } }",
                json!({"id": id}),
            )
            .await?;
        let j = d["job"].clone();
        if matches!(
            j["status"].as_str(),
            Some("successful" | "failed" | "error" | "canceled")
        ) {
            let log = s.job_log(token, id).await?;
            return Ok((j, log));
        }
        if start.elapsed() > WAIT {
            bail!("job {id} not finished: {j}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Launches the policy and waits for its backup job (and everything queued) to end well.
pub async fn backup(s: &Server, token: &str, policy: i64) -> Result<()> {
    let id = launch_backup(s, token, policy).await?;
    let (j, log) = finished(s, token, id).await?;
    anyhow::ensure!(j["status"] == "successful", "backup {j}:\n{log}");
    for j in s.wait_jobs(token, WAIT).await? {
        anyhow::ensure!(j["status"] == "successful", "job {j}");
    }
    Ok(())
}

/// Queues a drill of the policy and waits for its single job.
pub async fn drill(s: &Server, token: &str, policy: i64) -> Result<(Value, String)> {
    let d = s
        .ok(
            token,
            "mutation($p: Int!) { launchRestoreTest(policy: $p) { id jobType } }",
            json!({"p": policy}),
        )
        .await?;
    let jobs = d["launchRestoreTest"].as_array().context("jobs")?;
    anyhow::ensure!(
        jobs.len() == 1 && jobs[0]["jobType"] == "restore_test",
        "{d}"
    );
    finished(s, token, jobs[0]["id"].as_i64().context("job id")?).await
}

pub async fn latest_drill(s: &Server, token: &str, policy: i64) -> Result<Value> {
    let d = s
        .ok(
            token,
            "query($p: Int!) { restoreTests(policy: $p, first: 1) { nodes { id jobId verdict summary archives filesChecked bytes duration
               mismatches { path archive reason } notes { path archive reason } } } }",
            json!({"p": policy}),
        )
        .await?;
    Ok(d["restoreTests"]["nodes"][0].clone())
}

/// The temporary directories a drill extracted into (named in its log) no longer exist.
pub fn assert_extraction_dirs_removed(log: &str) {
    let dirs: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split("cyborgbackup: extracting into ").nth(1))
        .collect();
    assert!(
        !dirs.is_empty(),
        "no extraction directory in the log:\n{log}"
    );
    for d in dirs {
        assert!(!std::path::Path::new(d.trim()).exists(), "{d} left behind");
    }
}

/// Deterministic incompressible bytes.
pub fn noise(n: usize, mut x: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Flips 4 KiB in the middle of the largest segment of a borg repository.
pub fn corrupt_largest_segment(repo: &std::path::Path) -> Result<std::path::PathBuf> {
    let mut largest: Option<(u64, std::path::PathBuf)> = None;
    for e in std::fs::read_dir(repo.join("data/0"))? {
        let e = e?;
        let len = e.metadata()?.len();
        if largest.as_ref().is_none_or(|(l, _)| len > *l) {
            largest = Some((len, e.path()));
        }
    }
    let (len, path) = largest.context("no segment")?;
    anyhow::ensure!(len > 1 << 20, "largest segment only {len} bytes");
    let mut bytes = std::fs::read(&path)?;
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 4096] {
        *b ^= 0x5a;
    }
    std::fs::write(&path, bytes)?;
    Ok(path)
}
