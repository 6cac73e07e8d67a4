//! Job progress: borg's JSON progress becomes a job's `progress` (files, bytes, current path,
//! and a percentage once the series has a previous archive, or borg's own for a restore),
//! published live over the `jobProgress` subscription, and kept out of the job log.

use crate::support;

use anyhow::{Context, Result};
use futures_util::SinkExt;
use serde_json::{json, Value};
use std::time::Duration;
use support::ws::{connect, next_json};
use support::*;
use tokio_tungstenite::tungstenite::Message;

/// `n` files of `size` incompressible bytes (xorshift from `seed`), enough for borg to report progress.
fn make_tree(dir: &std::path::Path, n: usize, size: usize, seed: u64) -> Result<()> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ seed;
    for i in 0..n {
        let mut buf = Vec::with_capacity(size);
        while buf.len() < size {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.extend_from_slice(&x.to_le_bytes());
        }
        std::fs::write(dir.join(format!("blob-{i:04}.bin")), &buf)?;
    }
    Ok(())
}

/// Runs one backup while subscribed to `jobProgress`; returns the job and its progress events.
async fn backup_with_progress(s: &Server, token: &str, policy: i64) -> Result<(i64, Vec<Value>)> {
    progress_of(s, token, launch_backup(s, token, policy)).await
}

/// Starts a job with `start` while subscribed to `jobProgress`; waits for it to succeed and
/// returns it with its progress events.
async fn progress_of(
    s: &Server,
    token: &str,
    start: impl std::future::Future<Output = Result<i64>>,
) -> Result<(i64, Vec<Value>)> {
    let mut ws = connect(s, json!({"authorization": format!("Bearer {token}")})).await?;
    assert_eq!(next_json(&mut ws).await?["type"], "connection_ack");
    ws.send(Message::text(json!({"id": "p", "type": "subscribe", "payload": {"query": "subscription { jobProgress { jobId progress { files originalBytes deduplicatedBytes current percent } } }"}}).to_string()))
        .await?;
    let mut status = connect(s, json!({"authorization": format!("Bearer {token}")})).await?;
    assert_eq!(next_json(&mut status).await?["type"], "connection_ack");
    let job = start.await?;
    status
        .send(Message::text(json!({"id": "s", "type": "subscribe", "payload": {"query": format!("subscription {{ jobStatus(job: {job}) {{ status }} }}")}}).to_string()))
        .await?;
    let mut events = Vec::new();
    loop {
        tokio::select! {
            m = next_json(&mut ws) => {
                let m = m?;
                if m["payload"]["data"]["jobProgress"]["jobId"] == job {
                    events.push(m["payload"]["data"]["jobProgress"]["progress"].clone());
                }
            }
            m = next_json(&mut status) => {
                let st = m?["payload"]["data"]["jobStatus"]["status"].clone();
                if matches!(st.as_str(), Some("successful" | "failed" | "error" | "canceled")) {
                    assert_eq!(st, "successful", "{}", s.job_log(token, job).await?);
                    break;
                }
            }
        }
    }
    Ok((job, events))
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_is_published_live_and_estimated_from_the_previous_archive() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let src = tempfile::tempdir()?;
    make_tree(src.path(), 600, 128 * 1024, 1)?;
    let policy = local_policy(
        &s,
        &token,
        &[src.path().to_str().context("path")?],
        "progress",
    )
    .await?;

    let (job, events) = backup_with_progress(&s, &token, policy).await?;
    assert!(!events.is_empty(), "no progress event for job {job}");
    let last = events.last().context("event")?;
    assert!(last["files"].as_i64().unwrap_or(0) > 0, "{events:?}");
    assert!(
        last["originalBytes"].as_i64().unwrap_or(0) > 0,
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["current"].as_str().unwrap_or_default().contains("blob-")),
        "{events:?}"
    );
    // The first archive of a series has nothing to compare with.
    assert!(events.iter().all(|e| e["percent"].is_null()), "{events:?}");
    let log = s.job_log(&token, job).await?;
    assert!(
        !log.contains("archive_progress") && !log.contains("\"type\""),
        "borg's JSON progress leaked into the log:\n{log}"
    );
    // Finished jobs report no progress.
    let d = s
        .ok(
            &token,
            "query($id: Int!) { job(id: $id) { progress { files } } }",
            json!({"id": job}),
        )
        .await?;
    assert!(d["job"]["progress"].is_null(), "{d}");

    // The second backup of the series knows how much to expect (new content of the same
    // size, so borg reads and stores it all again).
    s.wait_jobs(&token, Duration::from_secs(120)).await?;
    make_tree(src.path(), 600, 128 * 1024, 2)?;
    let (_, events) = backup_with_progress(&s, &token, policy).await?;
    let pct: Vec<f64> = events
        .iter()
        .filter_map(|e| e["percent"].as_f64())
        .collect();
    assert!(!pct.is_empty(), "no percentage: {events:?}");
    assert!(pct.iter().all(|p| (0.0..=99.0).contains(p)), "{pct:?}");

    // A restore reports borg's own percentage of the bytes to extract.
    let a = s
        .ok(
            &token,
            "query($p: Int!) { archives(policy: $p, first: 1) { nodes { id } } }",
            json!({"p": policy}),
        )
        .await?;
    let archive = a["archives"]["nodes"][0]["id"]
        .as_i64()
        .context("archive")?;
    let target = tempfile::tempdir()?;
    let restore = async {
        let r = s
            .ok(
                &token,
                "mutation($a: Int!, $p: String!, $t: String!) { restore(input: {archive: $a, paths: [$p], targetDirectory: $t}) { id } }",
                json!({"a": archive, "p": src.path(), "t": target.path()}),
            )
            .await?;
        r["restore"]["id"].as_i64().context("restore job")
    };
    let (_, events) = progress_of(&s, &token, restore).await?;
    let pct: Vec<f64> = events
        .iter()
        .filter_map(|e| e["percent"].as_f64())
        .collect();
    assert!(
        pct.iter().any(|p| *p > 0.0 && *p <= 100.0),
        "no extract percentage: {events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["current"].as_str().unwrap_or_default().contains("blob-")),
        "{events:?}"
    );
    Ok(())
}
