//! Live job events over the GraphQL websocket (graphql-transport-ws): a client receives a real
//! borg job's status transitions and its output lines while it runs.

use crate::support;

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::time::Duration;
use support::ws::{connect, next_json};
use support::*;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread")]
async fn status_and_output_arrive_live() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;

    // Without a valid token the connection is refused.
    let mut bad = connect(&s, json!({"authorization": "Bearer cbs_forged"})).await?;
    let refused = tokio::time::timeout(Duration::from_secs(10), bad.next()).await?;
    assert!(
        !matches!(refused, Some(Ok(Message::Text(ref t))) if t.contains("connection_ack")),
        "{refused:?}"
    );

    let cmd = "sleep 2; echo first-live-line >&2; echo payload; sleep 1; echo second-live-line >&2";
    let (policy, _) = local_typed_policy(
        &s,
        &token,
        "piped",
        &json!({"command": cmd}).to_string(),
        "live passphrase",
    )
    .await?;
    let mut status_ws = connect(&s, json!({"authorization": format!("Bearer {token}")})).await?;
    assert_eq!(next_json(&mut status_ws).await?["type"], "connection_ack");
    status_ws
        .send(Message::text(json!({"id": "s", "type": "subscribe", "payload": {"query": "subscription { jobStatus { jobId status } }"}}).to_string()))
        .await?;
    let launched = s
        .ok(
            &token,
            "mutation($id: Int!) { launchPolicy(id: $id) { id jobType } }",
            json!({"id": policy}),
        )
        .await?;
    let backup = launched["launchPolicy"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .find(|j| j["jobType"] == "job")
        .context("backup job")?;
    let id = backup["id"].as_i64().context("id")?;
    let mut out_ws = connect(&s, json!({"authorization": format!("Bearer {token}")})).await?;
    assert_eq!(next_json(&mut out_ws).await?["type"], "connection_ack");
    out_ws
        .send(Message::text(json!({"id": "o", "type": "subscribe", "payload": {"query": format!("subscription {{ jobOutput(job: {id}) {{ seq stream text }} }}")}}).to_string()))
        .await?;

    let mut statuses = Vec::new();
    while !statuses
        .iter()
        .any(|s: &String| s == "successful" || s == "failed")
    {
        let m = next_json(&mut status_ws).await?;
        if m["type"] == "next" && m["payload"]["data"]["jobStatus"]["jobId"] == id {
            statuses.push(
                m["payload"]["data"]["jobStatus"]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    assert!(statuses.contains(&"running".to_string()), "{statuses:?}");
    assert_eq!(
        statuses.last().map(String::as_str),
        Some("successful"),
        "{statuses:?}"
    );

    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l == "second-live-line") {
        let m = next_json(&mut out_ws).await?;
        if m["type"] == "next" {
            lines.push(
                m["payload"]["data"]["jobOutput"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    // Exact lines: the logged command line mentions both.
    let first = lines
        .iter()
        .position(|l| l == "first-live-line")
        .context("first line")?;
    let second = lines
        .iter()
        .position(|l| l == "second-live-line")
        .context("second line")?;
    assert!(first < second);
    assert!(!lines.iter().any(|l| l.contains("live passphrase")));
    Ok(())
}

/// Reads `next` messages of subscription `id` until `done` says stop; returns their data.
async fn collect(
    ws: &mut support::ws::Ws,
    id: &str,
    field: &str,
    mut done: impl FnMut(&[serde_json::Value]) -> bool,
) -> Result<Vec<serde_json::Value>> {
    let mut got = Vec::new();
    while !done(&got) {
        let m = next_json(ws).await?;
        if m["type"] == "error" {
            anyhow::bail!("subscription {id} refused: {m}");
        }
        if m["type"] == "next" && m["id"] == id {
            got.push(m["payload"]["data"][field].clone());
        }
    }
    Ok(got)
}

/// Nothing is lost by subscribing late: status changes after a cursor read before the launch
/// are replayed in order, a cursor from an earlier server run asks for a reload (`resync`),
/// and `jobOutput(after: 0)` of a finished job streams its whole log in `seq` order.
#[tokio::test(flavor = "multi_thread")]
async fn late_subscribers_replay_what_they_missed() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let cmd = "i=1; while [ $i -le 200 ]; do echo \"line $i\" >&2; i=$((i+1)); done; echo payload";
    let (policy, _) = local_typed_policy(
        &s,
        &token,
        "piped",
        &json!({"command": cmd}).to_string(),
        "replay passphrase",
    )
    .await?;
    let cursor = s.ok(&token, "{ liveCursor }", json!({})).await?["liveCursor"]
        .as_str()
        .context("cursor")?
        .to_string();
    let backup = launch_backup(&s, &token, policy).await?;
    s.wait_job_ok(&token, backup, Duration::from_secs(180))
        .await?;

    // Subscribed after the job ended: its whole life arrives, in order.
    let mut ws = connect(&s, json!({"authorization": format!("Bearer {token}")})).await?;
    assert_eq!(next_json(&mut ws).await?["type"], "connection_ack");
    let q = format!("subscription {{ jobStatus(job: {backup}, after: \"{cursor}\") {{ jobId status cursor resync }} }}");
    ws.send(Message::text(
        json!({"id": "s", "type": "subscribe", "payload": {"query": q}}).to_string(),
    ))
    .await?;
    let events = collect(&mut ws, "s", "jobStatus", |g| {
        g.last().is_some_and(|e| e["status"] == "successful")
    })
    .await?;
    let statuses: Vec<&str> = events.iter().filter_map(|e| e["status"].as_str()).collect();
    assert_eq!(statuses.first(), Some(&"pending"), "{statuses:?}");
    assert!(statuses.contains(&"running"), "{statuses:?}");
    let cursors: Vec<u64> = events
        .iter()
        .filter_map(|e| e["cursor"].as_str()?.parse().ok())
        .collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");
    assert!(cursors[0] > cursor.parse::<u64>()?);

    // A cursor older than this server run: told to reload, then live from now.
    let q = "subscription { jobStatus(after: \"1\") { jobId status cursor resync } }";
    ws.send(Message::text(
        json!({"id": "r", "type": "subscribe", "payload": {"query": q}}).to_string(),
    ))
    .await?;
    let resync = collect(&mut ws, "r", "jobStatus", |g| !g.is_empty()).await?;
    assert_eq!(resync[0]["resync"], true, "{resync:?}");

    // The whole log of the finished job, in order, none missing.
    let q = format!("subscription {{ jobOutput(job: {backup}, after: 0) {{ seq text }} }}");
    ws.send(Message::text(
        json!({"id": "o", "type": "subscribe", "payload": {"query": q}}).to_string(),
    ))
    .await?;
    let stored = s
        .ok(
            &token,
            "query($id: Int!) { job(id: $id) { output(after: 0, limit: 10000) { seq } } }",
            json!({"id": backup}),
        )
        .await?["job"]["output"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    assert!(stored > 200, "{stored} lines stored");
    let lines = collect(&mut ws, "o", "jobOutput", |g| g.len() >= stored).await?;
    let seqs: Vec<i64> = lines.iter().filter_map(|l| l["seq"].as_i64()).collect();
    assert_eq!(seqs, (1..=stored as i64).collect::<Vec<_>>());
    // An invalid cursor is refused naming the argument.
    let q = "subscription { jobStatus(after: \"soon\") { jobId } }";
    ws.send(Message::text(
        json!({"id": "x", "type": "subscribe", "payload": {"query": q}}).to_string(),
    ))
    .await?;
    loop {
        let m = next_json(&mut ws).await?;
        if m["id"] == "x" {
            assert!(m.to_string().contains("after"), "{m}");
            break;
        }
    }
    Ok(())
}
