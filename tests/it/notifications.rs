//! Statistics, charts, mail, reports, webhooks and metrics against the real binary, real borg
//! backups, a loopback SMTP server and a loopback HTTP webhook receiver.

use crate::support;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::time::Duration;
use support::mime::{mime_parts, subject};
use support::sinks::{HttpSink, SmtpSink};
use support::*;

const WAIT: Duration = Duration::from_secs(30);

async fn set(s: &Server, token: &str, key: &str, value: &str) -> Result<Value> {
    s.ok(
        token,
        "mutation($k: String!, $v: String!) { setNotificationSetting(key: $k, value: $v) { key value isSecret } }",
        json!({"k": key, "v": value}),
    )
    .await
}

async fn configure_mail(
    s: &Server,
    token: &str,
    port: u16,
    auth: Option<(&str, &str)>,
) -> Result<()> {
    set(s, token, "mail.host", "127.0.0.1").await?;
    set(s, token, "mail.port", &port.to_string()).await?;
    set(s, token, "mail.security", "none").await?;
    set(s, token, "mail.from", "CyBorgBackup <cyborg@test.local>").await?;
    set(s, token, "mail.retry_seconds", "1").await?;
    if let Some((u, p)) = auth {
        set(s, token, "mail.username", u).await?;
        set(s, token, "mail.password", p).await?;
    }
    Ok(())
}

async fn get(s: &Server, token: Option<&str>, path: &str) -> Result<reqwest::Response> {
    let mut r = reqwest::Client::new().get(format!("{}{path}", s.url));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    Ok(r.send().await?)
}

/// Parses Prometheus text format strictly enough: comments, `name{labels} value` samples.
fn parse_prometheus(text: &str) -> Result<Vec<(String, String, f64)>> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(c) = line.strip_prefix("# ") {
            let kind = c.split_whitespace().next().unwrap_or("");
            anyhow::ensure!(kind == "HELP" || kind == "TYPE", "bad comment {line:?}");
            continue;
        }
        let (name_labels, value) = line.rsplit_once(' ').context("no value")?;
        let (name, labels) = match name_labels.split_once('{') {
            Some((n, l)) => (
                n,
                l.strip_suffix('}').context("unclosed labels")?.to_string(),
            ),
            None => (name_labels, String::new()),
        };
        anyhow::ensure!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        if !labels.is_empty() {
            for pair in labels.split("\",").filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once("=\"").context("bad label")?;
                anyhow::ensure!(
                    k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "bad label name {k:?}"
                );
                let _ = v;
            }
        }
        out.push((
            name.to_string(),
            labels,
            value
                .parse::<f64>()
                .with_context(|| format!("value in {line:?}"))?,
        ));
    }
    Ok(out)
}

fn sample(m: &[(String, String, f64)], name: &str, label_part: &str) -> Option<f64> {
    m.iter()
        .find(|(n, l, _)| n == name && l.contains(label_part))
        .map(|x| x.2)
}

async fn launch_and_wait(s: &Server, token: &str, policy: i64) -> Result<Vec<Value>> {
    s.ok(
        token,
        "mutation($id: Int!) { launchPolicy(id: $id) { id } }",
        json!({"id": policy}),
    )
    .await?;
    s.wait_jobs(token, Duration::from_secs(180)).await
}

fn png_dims(bytes: &[u8]) -> Result<(u32, u32)> {
    let mut reader = png::Decoder::new(bytes).read_info()?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf)?;
    Ok((info.width, info.height))
}

#[tokio::test(flavor = "multi_thread")]
async fn job_mail_charts_reports_webhook_and_metrics_after_real_backups() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let smtp = SmtpSink::start(Some(("mailer", "s3cret pass"))).await?;
    let hook = HttpSink::start().await?;
    configure_mail(&s, &token, smtp.port, Some(("mailer", "s3cret pass"))).await?;
    set(&s, &token, "webhook.url", &hook.url).await?;
    set(&s, &token, "webhook.secret", "hook-secret").await?;
    // Secrets are sealed and masked.
    let st = s
        .ok(
            &token,
            "{ notificationSettings { key value isSecret } }",
            json!({}),
        )
        .await?;
    let pw = st["notificationSettings"]
        .as_array()
        .context("settings")?
        .iter()
        .find(|x| x["key"] == "mail.password")
        .context("mail.password")?
        .clone();
    assert_eq!(pw["value"], "$encrypted$");
    assert!(!st.to_string().contains("s3cret pass") && !st.to_string().contains("hook-secret"));

    // The admin wants failures (the default) and the daily report; ops wants successes only.
    s.ok(
        &token,
        r#"mutation { setNotificationPreferences(input: {daily: true}) { backupFailed daily } }"#,
        json!({}),
    )
    .await?;
    let ops = s.ok(&token, r#"mutation { createUser(input: {email: "ops@test.local", password: "ops-password-123"}) { id } }"#, json!({})).await?;
    s.ok(&token, "mutation($u: Int!) { setNotificationPreferences(userId: $u, input: {backupSuccess: true, backupFailed: false}) { backupSuccess } }",
        json!({"u": ops["createUser"]["id"]})).await?;
    // An outsider wants everything but is granted nothing: no mail may name a client to them.
    let outsider = s.ok(&token, r#"mutation { createUser(input: {email: "outsider@test.local", password: "outsider-password-1", role: VIEWER}) { id } }"#, json!({})).await?;
    s.ok(&token, "mutation($u: Int!) { setNotificationPreferences(userId: $u, input: {backupSuccess: true, backupFailed: true, launchSummary: true, daily: true}) { backupSuccess } }",
        json!({"u": outsider["createUser"]["id"]})).await?;

    // Metrics need a token and parse before any backup.
    assert_eq!(get(&s, None, "/metrics").await?.status(), 401);
    let before = parse_prometheus(&get(&s, Some(&token), "/metrics").await?.text().await?)?;
    assert_eq!(
        sample(
            &before,
            "cyborgbackup_jobs_total",
            "job_type=\"job\",status=\"successful\""
        ),
        None
    );

    // A successful real backup: ops gets the mail, through SMTP AUTH.
    let src = tempfile::tempdir()?;
    std::fs::write(
        src.path().join("data.txt"),
        "some data to back up\n".repeat(100),
    )?;
    let folder = src.path().display().to_string();
    let good = local_policy(&s, &token, &[&folder], "pass phrase one").await?;
    // Ops (a viewer) is granted this policy: mails about its jobs reach them.
    s.ok(
        &token,
        "mutation($u: Int!, $p: Int!) { updateUser(id: $u, input: {grants: [{policy: $p}]}) { id } }",
        json!({"u": ops["createUser"]["id"], "p": good}),
    )
    .await?;
    let jobs = launch_and_wait(&s, &token, good).await?;
    assert!(jobs.iter().all(|j| j["status"] == "successful"), "{jobs:?}");
    let mails = smtp.wait_for(1, WAIT).await?;
    let m = &mails[0];
    assert_eq!(m.to, vec!["ops@test.local".to_string()]);
    assert_eq!(
        subject(&m.data),
        "[CyBorgBackup] SUCCESSFUL: localhost files"
    );
    let auth = m.auth.clone().context("smtp auth used")?;
    assert_eq!(
        (auth.1.as_str(), auth.2.as_str()),
        ("mailer", "s3cret pass")
    );
    let (_, parts) = mime_parts(&m.data)?;
    let text = parts
        .iter()
        .find(|p| p.content_type == "text/plain")
        .context("text part")?
        .text();
    for want in ["Original size", "Deduplicated size", "Duration", "Last "] {
        assert!(text.contains(want), "{want} missing in {text}");
    }

    // A failed backup (missing source): the admin gets it, ops does not.
    let bad = local_policy(
        &s,
        &token,
        &["/nonexistent/cyborg-test-path"],
        "pass phrase two",
    )
    .await?;
    let jobs = launch_and_wait(&s, &token, bad).await?;
    assert!(
        jobs.iter()
            .any(|j| j["jobType"] == "job" && j["status"] != "successful"),
        "{jobs:?}"
    );
    let mails = smtp.wait_for(2, WAIT).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails_now = smtp.all();
    assert_eq!(
        mails_now.len(),
        2,
        "only two job mails: {:?}",
        mails_now
            .iter()
            .map(|m| subject(&m.data))
            .collect::<Vec<_>>()
    );
    let failed = &mails[1];
    assert_eq!(failed.to, vec![ADMIN_EMAIL.to_string()]);
    let subj = subject(&failed.data);
    assert!(
        subj == "[CyBorgBackup] FAILED: localhost files"
            || subj == "[CyBorgBackup] ERROR: localhost files",
        "{subj}"
    );

    // The webhook got every finished job, with the secret header.
    let hooks = hook.all();
    assert!(hooks.len() >= 2, "{hooks:?}");
    assert!(hooks.iter().all(|h| h
        .head
        .to_ascii_lowercase()
        .contains("x-cyborgbackup-secret: hook-secret")));
    let bodies: Vec<Value> = hooks
        .iter()
        .filter_map(|h| serde_json::from_str(&h.body).ok())
        .collect();
    assert!(bodies.iter().any(|b| b["job"]["type"] == "job"
        && b["job"]["status"] == "successful"
        && b["client"]["hostname"] == "localhost"));

    // Metrics changed after the backups.
    let after = parse_prometheus(&get(&s, Some(&token), "/metrics").await?.text().await?)?;
    assert_eq!(
        sample(
            &after,
            "cyborgbackup_jobs_total",
            "job_type=\"job\",status=\"successful\""
        ),
        Some(1.0)
    );
    assert!(
        sample(
            &after,
            "cyborgbackup_backup_last_success_timestamp_seconds",
            "client=\"localhost\""
        )
        .unwrap_or(0.0)
            > 1.6e9
    );
    assert!(after
        .iter()
        .any(|(n, l, v)| n == "cyborgbackup_repository_size_bytes"
            && l.contains("deduplicated")
            && *v > 0.0));

    // Statistics: REST v1 shape and GraphQL series.
    let v1: Value = get(&s, Some(&token), "/api/v1/stats/")
        .await?
        .json()
        .await?;
    let days = v1.as_array().context("stats array")?;
    assert_eq!(days.len(), 30);
    let today = days.last().context("today")?;
    assert_eq!(today["success"], 1);
    assert!(today["failed"].as_i64().unwrap_or(0) >= 1);
    assert!(today["size"].as_i64().unwrap_or(0) > 0 && today["dedup"].as_i64().unwrap_or(0) > 0);
    assert_eq!(get(&s, None, "/api/v1/stats/").await?.status(), 401);
    let series = s.ok(&token, "{ statsSeries(days: 7, groupBy: POLICY) { key label points { date success failed originalSize } } }", json!({})).await?;
    let series = series["statsSeries"].as_array().context("series")?;
    assert_eq!(series.len(), 2, "{series:?}");
    assert!(series
        .iter()
        .all(|x| x["points"].as_array().map(|p| p.len()) == Some(7)));

    // Charts of every kind, from the stored statistics of those backups.
    let repo = s
        .ok(
            &token,
            "query($id: Int!) { policy(id: $id) { repository { id } } }",
            json!({"id": good}),
        )
        .await?;
    let repo = repo["policy"]["repository"]["id"]
        .as_i64()
        .context("repo id")?;
    s.ok(
        &token,
        "mutation($r: Int!) { setRepositoryCapacity(repository: $r, capacity: 1000000000) }",
        json!({"r": repo}),
    )
    .await?;
    let legends = [
        ("size", "Deduplicated"),
        ("jobs", "Succeeded"),
        ("files", "Files"),
        ("forecast", "Capacity"),
    ];
    for (kind, legend) in legends {
        let svg = get(
            &s,
            Some(&token),
            &format!("/charts/{kind}.svg?repository={repo}&days=14"),
        )
        .await?;
        assert_eq!(svg.status(), 200, "{kind}");
        assert_eq!(svg.headers()["content-type"], "image/svg+xml");
        let svg = svg.text().await?;
        for want in [
            "Date",
            legend,
            if kind == "jobs" {
                "Jobs"
            } else if kind == "files" {
                "Files"
            } else {
                "Size ("
            },
        ] {
            assert!(svg.contains(want), "{kind}.svg lacks {want:?}");
        }
        // Every point and bar shows its value on hover; a forecast from minutes of history
        // says what it needs instead of a date.
        if kind != "forecast" {
            assert!(svg.contains("<title>"), "{kind}.svg has no hover values");
        } else {
            assert!(
                svg.contains("a forecast needs at least a week of history"),
                "forecast.svg forecasts from minutes of history"
            );
        }
        let png = get(
            &s,
            Some(&token),
            &format!("/charts/{kind}.png?repository={repo}&width=640&height=320"),
        )
        .await?;
        assert_eq!(png.status(), 200, "{kind}");
        assert_eq!(png_dims(&png.bytes().await?)?, (640, 320), "{kind}");
    }
    assert_eq!(get(&s, None, "/charts/size.svg").await?.status(), 401);
    assert_eq!(
        get(&s, Some(&token), "/charts/pie.svg").await?.status(),
        404
    );
    assert_eq!(
        get(&s, Some(&token), "/charts/size.png?width=5")
            .await?
            .status(),
        400
    );

    // The daily report: HTML with inline PNG charts, and a plain-text alternative.
    let ids = s
        .ok(
            &token,
            r#"mutation { sendReport(period: "daily") }"#,
            json!({}),
        )
        .await?;
    assert_eq!(ids["sendReport"].as_array().map(|a| a.len()), Some(1));
    let mails = smtp.wait_for(3, WAIT).await?;
    let report = mails
        .iter()
        .find(|m| subject(&m.data).contains("Daily report"))
        .context("report mail")?;
    assert_eq!(report.to, vec![ADMIN_EMAIL.to_string()]);
    let (top, parts) = mime_parts(&report.data)?;
    assert!(top.starts_with("multipart/alternative"), "{top}");
    let text = parts
        .iter()
        .find(|p| p.content_type == "text/plain")
        .context("plain text")?
        .text();
    assert!(
        text.contains("localhost") && text.contains("files"),
        "{text}"
    );
    let html = parts
        .iter()
        .find(|p| p.content_type == "text/html")
        .context("html")?
        .text();
    let cids: Vec<String> = html
        .split("src=\"cid:")
        .skip(1)
        .filter_map(|x| x.split('"').next().map(String::from))
        .collect();
    assert!(cids.len() >= 3, "jobs, size and forecast charts: {cids:?}");
    for cid in &cids {
        let img = parts
            .iter()
            .find(|p| p.content_id.as_deref() == Some(cid.as_str()))
            .with_context(|| format!("no part {cid}"))?;
        assert_eq!(img.content_type, "image/png");
        assert_eq!(png_dims(&img.body)?, (720, 300));
    }
    for want in ["localhost", "successful", "complete"] {
        assert!(html.contains(want), "report html lacks {want}");
    }
    let out = s
        .ok(
            &token,
            r#"{ outgoingMessages(channel: "mail") { state attempts subject } }"#,
            json!({}),
        )
        .await?;
    assert!(
        out["outgoingMessages"]
            .as_array()
            .context("outbox")?
            .iter()
            .all(|m| m["state"] == "sent"),
        "{out}"
    );
    // Job mails, anomalies, summaries and reports never went to the user without grants.
    let to_outsider: Vec<String> = smtp
        .all()
        .iter()
        .filter(|m| m.to.iter().any(|t| t.contains("outsider")))
        .map(|m| subject(&m.data))
        .collect();
    assert!(
        to_outsider.is_empty(),
        "mail to a user without grants: {to_outsider:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn closed_port_wrong_password_and_retries_are_reported() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    configure_mail(&s, &token, closed, None).await?;
    let r = s
        .ok(
            &token,
            "mutation { sendTestMail { sent error } }",
            json!({}),
        )
        .await?;
    assert_eq!(r["sendTestMail"]["sent"], false);
    let err = r["sendTestMail"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        err.contains(&format!("127.0.0.1:{closed}")) && err.to_lowercase().contains("refused"),
        "{err}"
    );

    // A queued report to a closed port is retried and its error is visible.
    s.ok(
        &token,
        r#"mutation { setNotificationPreferences(input: {weekly: true}) { weekly } }"#,
        json!({}),
    )
    .await?;
    let ids = s
        .ok(
            &token,
            r#"mutation { sendReport(period: "weekly") }"#,
            json!({}),
        )
        .await?;
    let id = ids["sendReport"][0].as_i64().context("outbox id")?;
    let start = std::time::Instant::now();
    let item = loop {
        let o = s
            .ok(
                &token,
                "{ outgoingMessages { id state attempts lastError } }",
                json!({}),
            )
            .await?;
        let item = o["outgoingMessages"]
            .as_array()
            .context("outbox")?
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
            .context("item")?;
        if item["attempts"].as_i64().unwrap_or(0) >= 2 {
            break item;
        }
        anyhow::ensure!(start.elapsed() < WAIT, "no retry: {item}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(
        item["lastError"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase()
            .contains("refused"),
        "{item}"
    );

    // The server requires AUTH with another password: the 535 reply comes back verbatim.
    let smtp = SmtpSink::start(Some(("mailer", "right"))).await?;
    configure_mail(&s, &token, smtp.port, Some(("mailer", "wrong"))).await?;
    let r = s
        .ok(
            &token,
            "mutation { sendTestMail(to: \"x@test.local\") { sent error } }",
            json!({}),
        )
        .await?;
    let err = r["sendTestMail"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        err.contains("535") && err.contains("Authentication credentials invalid"),
        "{err}"
    );

    // With the right password, the test mail and the retried report go through.
    set(&s, &token, "mail.password", "right").await?;
    let r = s
        .ok(
            &token,
            "mutation { sendTestMail(to: \"x@test.local\") { sent error } }",
            json!({}),
        )
        .await?;
    assert_eq!(r["sendTestMail"]["sent"], true, "{r}");
    s.ok(
        &token,
        "mutation($id: Int!) { retryOutgoingMessage(id: $id) { state } }",
        json!({"id": id}),
    )
    .await?;
    let mails = smtp.wait_for(2, WAIT).await?;
    assert!(mails
        .iter()
        .any(|m| subject(&m.data).contains("Weekly report")));
    assert!(mails.iter().all(|m| m.auth.is_some()));
    Ok(())
}
