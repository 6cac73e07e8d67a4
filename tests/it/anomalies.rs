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

/// Lets the policy's schedule fire once (every minute, then back to nightly) and waits for the
/// jobs of that scheduled launch; returns them.
async fn scheduled_launch(s: &Server, token: &str, policy: i64) -> Result<Vec<Value>> {
    let p = s
        .ok(
            token,
            "query($id: Int!) { policy(id: $id) { scheduleId } }",
            json!({"id": policy}),
        )
        .await?;
    let schedule = p["policy"]["scheduleId"].clone();
    let set = |cron: &'static str| {
        s.ok(
            token,
            "mutation($id: Int!, $c: String!) { updateSchedule(id: $id, input: {crontab: $c}) { id } }",
            json!({"id": schedule, "c": cron}),
        )
    };
    let before = s
        .wait_jobs(token, Duration::from_secs(60))
        .await?
        .iter()
        .filter_map(|j| j["id"].as_i64())
        .max()
        .unwrap_or(0);
    set("* * * * *").await?;
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        let d = s
            .ok(
                token,
                "{ jobs(first: 100) { nodes { id jobType launchType } } }",
                json!({}),
            )
            .await?;
        let fired = d["jobs"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|j| j["id"].as_i64().unwrap_or(0) > before && j["launchType"] == "scheduled");
        if fired {
            break;
        }
        assert!(Instant::now() < deadline, "the schedule did not fire");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    set("0 3 * * *").await?;
    let jobs = s.wait_jobs(token, Duration::from_secs(240)).await?;
    Ok(jobs
        .into_iter()
        .filter(|j| j["id"].as_i64().unwrap_or(0) > before)
        .collect())
}

fn prune_of(jobs: &[Value]) -> Value {
    jobs.iter()
        .find(|j| j["jobType"] == "prune")
        .cloned()
        .unwrap_or(Value::Null)
}

fn archive_count(pass: &str, repo: &str) -> usize {
    let out = borg(pass, &["list", "--short", repo]).expect("borg list");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[tokio::test(flavor = "multi_thread")]
async fn mass_deletion_pauses_prune_until_acknowledged() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let src = tempfile::tempdir()?;
    for i in 0..40 {
        std::fs::write(
            src.path().join(format!("doc-{i}.txt")),
            format!("content {i}"),
        )?;
    }
    let pass = "pause passphrase";
    let vars = json!({"folders": [src.path()]}).to_string();
    let (policy, repo) = local_typed_policy(&s, &token, "folders", &vars, pass).await?;
    // Keeping one archive an hour: every prune would age the previous archive out.
    s.ok(
        &token,
        "mutation($id: Int!) { updatePolicy(id: $id, input: {keepHourly: 1}) { id } }",
        json!({"id": policy}),
    )
    .await?;
    launch(&s, &token, policy).await?;
    let jobs = s.wait_jobs(&token, Duration::from_secs(180)).await?;
    assert!(jobs.iter().all(|j| j["status"] == "successful"), "{jobs:?}");

    // Ransomware-like run: most files gone. Its prune waits for its catalog, which flags it.
    for i in 0..30 {
        std::fs::remove_file(src.path().join(format!("doc-{i}.txt")))?;
    }
    let before = jobs
        .iter()
        .filter_map(|j| j["id"].as_i64())
        .max()
        .unwrap_or(0);
    launch(&s, &token, policy).await?;
    let jobs: Vec<Value> = s
        .wait_jobs(&token, Duration::from_secs(180))
        .await?
        .into_iter()
        .filter(|j| j["id"].as_i64().unwrap_or(0) > before)
        .collect();
    let flagged = jobs
        .iter()
        .find(|j| j["jobType"] == "job")
        .and_then(|j| j["archiveName"].as_str())
        .unwrap_or_default()
        .to_string();
    let p = prune_of(&jobs);
    assert_eq!(p["status"], "canceled", "{jobs:?}");
    let why = p["jobExplanation"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("prune and compact paused by an anomaly") && why.contains(&flagged),
        "{why}"
    );
    assert_eq!(archive_count(pass, &repo), 2, "the good archive was pruned");

    // The pause shows on the archive and on the series.
    let d = s
        .ok(
            &token,
            "{ archives { nodes { id name anomaly pruneBlockedBy { name } } } seriesStatus { pruneBlockedBy { name } } }",
            json!({}),
        )
        .await?;
    let node = d["archives"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["name"] == flagged.as_str())
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(node["pruneBlockedBy"][0]["name"], flagged.as_str(), "{d}");
    assert_eq!(
        d["seriesStatus"][0]["pruneBlockedBy"][0]["name"],
        flagged.as_str(),
        "{d}"
    );
    let archive_id = node["id"].as_i64().unwrap_or(0);

    // The next scheduled prune does not run either.
    let jobs = scheduled_launch(&s, &token, policy).await?;
    let p = prune_of(&jobs);
    assert_eq!(p["status"], "canceled", "{jobs:?}");
    assert!(
        p["jobExplanation"]
            .as_str()
            .unwrap_or_default()
            .contains(&flagged),
        "{p}"
    );
    assert_eq!(archive_count(pass, &repo), 3);

    // An administrator acknowledges it (GraphQL; REST answers the same), and pruning resumes.
    let ack = s
        .ok(
            &token,
            "mutation($a: Int!) { acknowledgeAnomaly(archive: $a) { anomalyAcknowledgedAt pruneBlockedBy { name } } }",
            json!({"a": archive_id}),
        )
        .await?;
    assert!(
        ack["acknowledgeAnomaly"]["anomalyAcknowledgedAt"].is_string(),
        "{ack}"
    );
    assert_eq!(ack["acknowledgeAnomaly"]["pruneBlockedBy"], json!([]));
    let rest = support::rest::Api::token(&s, &token)
        .expect(
            "POST",
            &format!("/api/v1/archives/{archive_id}/acknowledge_anomaly/"),
            None,
            200,
        )
        .await?;
    assert!(rest["anomaly_acknowledged_at"].is_string(), "{rest}");
    let jobs = scheduled_launch(&s, &token, policy).await?;
    let p = prune_of(&jobs);
    assert_eq!(p["status"], "successful", "{jobs:?}");
    let log = s.job_log(&token, p["id"].as_i64().unwrap_or(0)).await?;
    assert!(
        log.contains("Pruning archive") && log.contains("$ borg compact"),
        "{log}"
    );
    // One archive an hour is kept (two when the four archives straddle an hour).
    assert!(archive_count(pass, &repo) <= 2, "the prune did not run");
    Ok(())
}
