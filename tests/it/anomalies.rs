//! A mass deletion between two real borg backups is flagged by the catalog, stored with the
//! archive, sent to the webhook and mailed, and shown in the scheduled report.

use crate::support;

use anyhow::Result;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::mime::subject;
use support::sinks::{HttpSink, SmtpSink};
use support::*;

async fn set(s: &Server, token: &str, key: &str, value: &str) -> Result<Value> {
    s.ok(
        token,
        "mutation($k: String!, $v: String!) { setNotificationSetting(key: $k, value: $v) { key } }",
        json!({"k": key, "v": value}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn mass_deletion_is_flagged_notified_and_reported() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let smtp = SmtpSink::start(None).await?;
    let hook = HttpSink::start().await?;
    for (k, v) in [
        ("mail.host", "127.0.0.1".to_string()),
        ("mail.port", smtp.port.to_string()),
        ("mail.security", "none".into()),
        ("mail.from", "cyborg@test.local".into()),
        ("webhook.url", hook.url.clone()),
    ] {
        set(&s, &token, k, &v).await?;
    }
    let src = tempfile::tempdir()?;
    for i in 0..40 {
        std::fs::write(
            src.path().join(format!("document-{i}.txt")),
            format!("content {i}"),
        )?;
    }
    let policy = local_policy(
        &s,
        &token,
        &[&src.path().display().to_string()],
        "anomaly passphrase",
    )
    .await?;
    s.ok(
        &token,
        "mutation($id: Int!) { launchPolicy(id: $id) { id } }",
        json!({"id": policy}),
    )
    .await?;
    s.wait_jobs(&token, Duration::from_secs(120)).await?;
    for i in 0..30 {
        std::fs::remove_file(src.path().join(format!("document-{i}.txt")))?;
    }
    // Archive names have minute resolution: the second one gets a suffix.
    s.ok(
        &token,
        "mutation($id: Int!) { launchPolicy(id: $id) { id } }",
        json!({"id": policy}),
    )
    .await?;
    let jobs = s.wait_jobs(&token, Duration::from_secs(120)).await?;
    assert!(jobs.iter().all(|j| j["status"] == "successful"), "{jobs:?}");

    let archives = s
        .ok(&token, "{ archives { nodes { name anomaly } } }", json!({}))
        .await?;
    let list = archives["archives"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(list.len(), 2);
    assert!(
        list[0]["anomaly"]
            .as_str()
            .unwrap_or_default()
            .contains("removed"),
        "newest archive not flagged: {archives}"
    );
    assert_eq!(
        list[1]["anomaly"], "",
        "the first archive is not an anomaly"
    );

    // The webhook receives an anomaly event naming the archive and the reason.
    let deadline = Instant::now() + Duration::from_secs(60);
    let event = loop {
        let found = hook
            .all()
            .into_iter()
            .find(|c| c.body.contains("\"event\":\"anomaly\""));
        if let Some(c) = found {
            break serde_json::from_str::<Value>(&c.body)?;
        }
        assert!(Instant::now() < deadline, "no anomaly webhook");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(event["archive"]["name"], list[0]["name"]);
    assert!(event["reason"]
        .as_str()
        .unwrap_or_default()
        .contains("removed"));

    // The administrator (backup failures on by default) gets an ANOMALY mail.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if smtp
            .all()
            .iter()
            .any(|m| subject(&m.data).starts_with("[CyBorgBackup] ANOMALY: localhost"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no anomaly mail: {:?}",
            smtp.all()
                .iter()
                .map(|m| subject(&m.data))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // The daily report shows it in the client's row.
    s.ok(
        &token,
        "mutation { setNotificationPreferences(input: {daily: true}) { daily } }",
        json!({}),
    )
    .await?;
    s.ok(
        &token,
        r#"mutation { sendReport(period: "daily") }"#,
        json!({}),
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let report = smtp
            .all()
            .into_iter()
            .find(|m| subject(&m.data).contains("report"));
        if let Some(r) = report {
            let text = r.data.replace("=\r\n", "");
            assert!(text.contains("Anomaly"), "report has no anomaly column");
            assert!(text.contains("removed"), "report does not show the anomaly");
            break;
        }
        assert!(Instant::now() < deadline, "no report mail");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(())
}
