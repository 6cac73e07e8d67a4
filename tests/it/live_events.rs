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
