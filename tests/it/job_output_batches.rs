//! Job output is stored in batches without losing or reordering a line: a job printing 50,000
//! lines has exactly those lines stored, in order, by the time its status is final, and a live
//! subscriber receives every one of them, in order.

use crate::support;

use anyhow::{Context, Result};
use futures_util::SinkExt;
use serde_json::{json, Value};
use std::time::Duration;
use support::ws::{connect, next_json};
use support::*;
use tokio_tungstenite::tungstenite::Message;

const LINES: usize = 50_000;

/// Every stored output line of a job (`seq`, `stream`, `text`), read in pages.
async fn stored_output(s: &Server, token: &str, job: i64) -> Result<Vec<Value>> {
    let mut all: Vec<Value> = Vec::new();
    loop {
        let after = all.last().and_then(|l| l["seq"].as_i64()).unwrap_or(0);
        let d = s
            .ok(
                token,
                "query($id: Int!, $a: Int!) { job(id: $id) { output(after: $a, limit: 10000) { seq stream text } } }",
                json!({"id": job, "a": after}),
            )
            .await?;
        let page = d["job"]["output"].as_array().cloned().unwrap_or_default();
        if page.is_empty() {
            return Ok(all);
        }
        all.extend(page);
    }
}

/// The hook's lines among `lines` must be exactly 1..=LINES, in order.
fn assert_hook_lines(lines: &[(i64, String, String)], what: &str) {
    let printed: Vec<&str> = lines
        .iter()
        .filter(|(_, stream, _)| stream == "stdout")
        .map(|(_, _, t)| t.as_str())
        .collect();
    assert_eq!(printed.len(), LINES, "{what}: number of printed lines");
    for (i, t) in printed.iter().enumerate() {
        assert_eq!(*t, (i + 1).to_string(), "{what}: line {}", i + 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_thousand_lines_are_stored_and_streamed_in_order() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("f"), "x")?;
    let (policy, _) = local_typed_policy(
        &s,
        &token,
        "folders",
        &json!({ "folders": [src.path()] }).to_string(),
        "batch passphrase",
    )
    .await?;
    // The pause leaves time to subscribe before the first line.
    s.ok(
        &token,
        "mutation($id: Int!, $h: String!) { updatePolicy(id: $id, input: {prehook: $h}) { id } }",
        json!({"id": policy, "h": format!("sleep 3; seq 1 {LINES}")}),
    )
    .await?;
    let job = launch_backup(&s, &token, policy).await?;
    let mut ws = connect(&s, json!({"authorization": format!("Bearer {token}")})).await?;
    assert_eq!(next_json(&mut ws).await?["type"], "connection_ack");
    ws.send(Message::text(
        json!({"id": "o", "type": "subscribe", "payload": {"query": format!("subscription {{ jobOutput(job: {job}) {{ seq stream text }} }}")}})
            .to_string(),
    ))
    .await?;

    // Stored: complete as soon as the status is final.
    s.wait_job_status(&token, job, "successful", Duration::from_secs(600))
        .await?;
    let stored: Vec<(i64, String, String)> = stored_output(&s, &token, job)
        .await?
        .iter()
        .map(|l| {
            (
                l["seq"].as_i64().unwrap_or(-1),
                l["stream"].as_str().unwrap_or_default().to_string(),
                l["text"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_hook_lines(&stored, "stored");
    for (i, (seq, _, _)) in stored.iter().enumerate() {
        assert_eq!(*seq, i as i64 + 1, "stored line {i} has seq {seq}");
    }
    let last = stored.last().context("no output")?;
    assert!(
        last.2.contains("successful"),
        "the job's last line is its outcome: {last:?}"
    );

    // Live: every line, in order, up to the job's last one.
    let mut live: Vec<(i64, String, String)> = Vec::new();
    while live.last().map(|l| l.0) != Some(last.0) {
        let m = next_json(&mut ws).await?;
        if m["type"] != "next" {
            continue;
        }
        let l = &m["payload"]["data"]["jobOutput"];
        live.push((
            l["seq"].as_i64().unwrap_or(-1),
            l["stream"].as_str().unwrap_or_default().to_string(),
            l["text"].as_str().unwrap_or_default().to_string(),
        ));
    }
    assert_hook_lines(&live, "live");
    let first = live[0].0;
    for (i, (seq, _, _)) in live.iter().enumerate() {
        assert_eq!(*seq, first + i as i64, "live line {i} has seq {seq}");
    }
    assert_eq!(live[..], stored[(first - 1) as usize..]);
    Ok(())
}
