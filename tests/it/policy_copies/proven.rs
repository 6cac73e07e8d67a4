//! Proven copies, end to end over the loopback hosts: a policy with its primary on one
//! repository host and a copy on another (the copy set over REST with its own retention and the
//! policy's recovery-point objective); the copy is compared with its primary automatically once
//! both are catalogued (no difference); the series is recoverable with two good repositories;
//! a restore from the copy works while the primary's host is unreachable; after the copy's
//! segment is corrupted its check and drill fail while the primary's pass, the recoverability
//! drops to degraded and alerts once; an objective missed (stored times moved into the past)
//! alerts once more.

use crate::fixture::{restore, under};
use crate::restore_drills::helpers::{corrupt_largest_segment, finished, noise, set};
use crate::support::mime::subject;
use crate::support::sinks::{HttpSink, SmtpSink};
use crate::support::*;
use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(300);

async fn recoverability(s: &Server, token: &str, policy: i64) -> Result<Value> {
    let d = s
        .ok(
            token,
            "query($p: Int!) { recoverability(policy: $p) { ok degraded unmet series { state reasons
               rpoHours rpoMet copies good appendOnly otherHosts newestVerifiedAgeSeconds
               repositories { repositoryId role host appendOnly newestVerified lastComparison
                 lastCheckStatus lastDrillVerdict lastPassedDrill good problems } } } }",
            json!({"p": policy}),
        )
        .await?;
    Ok(d["recoverability"]["series"][0].clone())
}

async fn drill_in(s: &Server, token: &str, policy: i64, repo: i64) -> Result<Value> {
    let d = s
        .ok(
            token,
            "mutation($p: Int!, $r: Int!) { launchRestoreTest(policy: $p, repository: $r) { id repositoryId } }",
            json!({"p": policy, "r": repo}),
        )
        .await?;
    let job = &d["launchRestoreTest"][0];
    ensure!(job["repositoryId"] == repo, "{d}");
    finished(s, token, job["id"].as_i64().context("drill job")?).await?;
    let t = s
        .ok(
            token,
            "query($p: Int!) { restoreTests(policy: $p, first: 1) { nodes { verdict repositoryId summary } } }",
            json!({"p": policy}),
        )
        .await?;
    let t = t["restoreTests"]["nodes"][0].clone();
    ensure!(t["repositoryId"] == repo, "{t}");
    Ok(t)
}

async fn check(s: &Server, token: &str, repo: i64) -> Result<Value> {
    let d = s
        .ok(
            token,
            "mutation($id: Int!) { checkRepository(id: $id) { id } }",
            json!({"id": repo}),
        )
        .await?;
    let id = d["checkRepository"]["id"].as_i64().context("check job")?;
    Ok(finished(s, token, id).await?.0)
}

/// Waits for a mail whose subject contains `subject`; checks its text holds every `want`.
async fn mail(smtp: &SmtpSink, subject_part: &str, want: &[&str]) -> Result<()> {
    let start = Instant::now();
    loop {
        let found = smtp
            .all()
            .into_iter()
            .find(|m| subject(&m.data).contains(subject_part));
        if let Some(m) = found {
            let text = m.data.replace("=\r\n", "");
            for w in want {
                ensure!(
                    text.contains(w),
                    "mail {subject_part:?} lacks {w:?}:\n{text}"
                );
            }
            return Ok(());
        }
        ensure!(
            start.elapsed() < Duration::from_secs(90),
            "no mail {subject_part:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits until the webhook sink holds `n` events of `kind`, then returns how many it holds.
async fn events(hook: &HttpSink, kind: &str, n: usize) -> Result<usize> {
    let count = || {
        hook.all()
            .iter()
            .filter(|c| c.body.contains(&format!("\"event\":\"{kind}\"")))
            .count()
    };
    let start = Instant::now();
    while count() < n {
        ensure!(
            start.elapsed() < Duration::from_secs(90),
            "{} {kind} events, waited for {n}",
            count()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(count())
}

#[tokio::test(flavor = "multi_thread")]
async fn copies_are_verified_drilled_checked_and_their_recoverability_alerts() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let hook = HttpSink::start().await?;
    let smtp = SmtpSink::start(None).await?;
    for (k, v) in [
        ("mail.host", "127.0.0.1"),
        ("mail.port", &smtp.port.to_string()),
        ("mail.security", "none"),
        ("mail.from", "CyBorgBackup <cyborg@test.local>"),
        ("webhook.url", &hook.url),
    ] {
        set(&s, &token, k, v).await?;
    }
    s.ok(
        &token,
        "mutation { setNotificationPreferences(input: {daily: true, backupFailed: true}) { daily } }",
        json!({}),
    )
    .await?;
    let hosts = ssh_hosts(&s, &token).await?;
    let port = hosts.port;

    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("big.bin"), noise(3 << 20, 0x51ab_77c3))?;
    let notes = src.path().join("notes.txt");
    std::fs::write(&notes, "the copy restores\n")?;
    let (primary_dir, copy_dir) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let primary_path = format!(
        "ssh://root@repo:{port}{}/main",
        primary_dir.path().display()
    );
    let copy_path = format!("ssh://root@web2:{port}{}/copy", copy_dir.path().display());
    let client = ssh_client(&s, &token, "web1", port).await?;
    let primary = create_repository(&s, &token, "primary", &primary_path, "primary pass").await?;
    let copy = create_repository(&s, &token, "offsite", &copy_path, "copy pass").await?;
    let spec = PolicySpec {
        name: "ledger",
        policy_type: "folders",
        clients: vec![client],
        repository: primary,
        schedule: create_schedule(&s, &token, "n").await?,
        extra_vars: json!({"folders": [src.path()]}),
        ..Default::default()
    };
    let policy = create_policy(&s, &token, &spec).await?;

    // The copy with its own retention and offset, and the objective, over REST.
    let auth = format!("Token {token}");
    let (code, body) = s
        .rest(
            "PATCH",
            &format!("/api/v1/policies/{policy}/"),
            Some(&auth),
            Some(
                json!({"copies": [{"repository": copy, "keep_daily": 3, "offset_minutes": 5000}]}),
            ),
        )
        .await?;
    ensure!(
        code == 400 && body["copies"].to_string().contains("offset_minutes"),
        "{code} {body}"
    );
    let (code, body) = s
        .rest(
            "PATCH",
            &format!("/api/v1/policies/{policy}/"),
            Some(&auth),
            Some(json!({"copies": [{"repository": copy, "keep_daily": 3, "offset_minutes": 30}], "rpo_hours": 24})),
        )
        .await?;
    ensure!(
        code == 200
            && body["copies"] == json!([copy])
            && body["copy_settings"][0]["keep_daily"] == 3
            && body["copy_settings"][0]["offset_minutes"] == 30
            && body["rpo_hours"] == 24,
        "{code} {body}"
    );

    // One run (manual: the offset only delays scheduled runs): both repositories.
    launch(&s, &token, policy).await?;
    let jobs = s.wait_jobs(&token, WAIT).await?;
    if jobs.iter().any(|j| j["status"] != "successful") {
        let mut logs = String::new();
        for j in jobs.iter().filter(|j| j["status"] != "successful") {
            let id = j["id"].as_i64().unwrap_or(0);
            logs.push_str(&format!("job {j}:\n{}\n", s.job_log(&token, id).await?));
        }
        anyhow::bail!("the first run did not succeed:\n{logs}");
    }
    let copy_archive = s
        .ok(
            &token,
            "query($r: Int!) { archives(repository: $r) { nodes { id } } }",
            json!({"r": copy}),
        )
        .await?["archives"]["nodes"][0]["id"]
        .as_i64()
        .context("copy archive")?;
    // Compared by itself once both catalogs landed.
    let v = s
        .ok(
            &token,
            "query($a: Int!) { copyVerification(archive: $a) { verdict same missing changed } }",
            json!({"a": copy_archive}),
        )
        .await?["copyVerification"]
        .clone();
    ensure!(
        v["verdict"] == "identical" && v["same"].as_i64() >= Some(2),
        "{v}"
    );
    let r = recoverability(&s, &token, policy).await?;
    ensure!(
        r["state"] == "ok"
            && r["copies"] == 1
            && r["good"] == 2
            && r["appendOnly"] == 2
            && r["otherHosts"] == 2
            && r["rpoMet"] == true
            && r["repositories"][1]["lastComparison"] == "identical",
        "{r}"
    );

    // The primary's host is unreachable: the file restores from the copy.
    let patch_primary = |path: String| {
        let (s, auth) = (&s, auth.clone());
        async move {
            let (code, body) = s
                .rest(
                    "PATCH",
                    &format!("/api/v1/repositories/{primary}/"),
                    Some(&auth),
                    Some(json!({ "path": path })),
                )
                .await?;
            ensure!(code == 200, "{code} {body}");
            Ok(())
        }
    };
    patch_primary(format!(
        "ssh://root@127.0.0.1:1{}/main",
        primary_dir.path().display()
    ))
    .await?;
    let target = tempfile::tempdir()?;
    let (id, job) = restore(
        &s,
        &token,
        json!({"archive": copy_archive, "paths": [notes], "targetDirectory": target.path()}),
    )
    .await?;
    ensure!(
        job["status"] == "successful",
        "{job}\n{}",
        s.job_log(&token, id).await?
    );
    ensure!(std::fs::read_to_string(under(target.path(), &notes))? == "the copy restores\n");
    patch_primary(primary_path.clone()).await?;

    // The copy is damaged: its check and drill fail, the primary's pass.
    corrupt_largest_segment(&copy_dir.path().join("copy"))?;
    let c = check(&s, &token, copy).await?;
    ensure!(c["status"] == "failed", "copy check: {c}");
    let c = check(&s, &token, primary).await?;
    ensure!(c["status"] == "successful", "primary check: {c}");
    let t = drill_in(&s, &token, policy, copy).await?;
    ensure!(t["verdict"] == "failed", "copy drill: {t}");
    let t = drill_in(&s, &token, policy, primary).await?;
    ensure!(t["verdict"] == "passed", "primary drill: {t}");

    // The series drops to degraded, says why, and alerts once.
    events(&hook, "recoverability_degraded", 1).await?;
    let r = recoverability(&s, &token, policy).await?;
    let copy_repo = &r["repositories"][1];
    ensure!(
        r["state"] == "degraded"
            && r["good"] == 1
            && copy_repo["good"] == false
            && copy_repo["lastCheckStatus"] == "failed"
            && copy_repo["lastDrillVerdict"] == "failed"
            && copy_repo["lastPassedDrill"].is_null()
            && r["repositories"][0]["good"] == true
            && r["repositories"][0]["lastPassedDrill"].is_string(),
        "{r}"
    );
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", s.url))
        .bearer_auth(&token)
        .send()
        .await?
        .text()
        .await?;
    ensure!(
        metrics.contains(
            "cyborgbackup_series_recoverability{policy=\"ledger\",client=\"web1\",state=\"degraded\"} 1"
        ) && metrics.contains("cyborgbackup_series_good_copies{policy=\"ledger\",client=\"web1\"} 1"),
        "{metrics}"
    );
    let (code, body) = s
        .rest(
            "GET",
            "/api/v1/recoverability/?state=degraded",
            Some(&auth),
            None,
        )
        .await?;
    ensure!(
        code == 200 && body["degraded"] == 1 && body["results"][0]["policy_name"] == "ledger",
        "{code} {body}"
    );

    // By mail too, and in the daily report.
    mail(
        &smtp,
        "RECOVERABILITY DEGRADED: web1 ledger",
        &["offsite", "integrity check"],
    )
    .await?;
    s.ok(
        &token,
        r#"mutation { sendReport(period: "daily") }"#,
        json!({}),
    )
    .await?;
    mail(
        &smtp,
        "report",
        &["Recoverability", "1 degraded", "web1 / ledger: degraded"],
    )
    .await?;

    // Two days pass without a backup (the stored times move back): the objective is missed.
    let old = (chrono::Utc::now() - chrono::Duration::days(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let db = rusqlite::Connection::open(s.data_dir.path().join("cyborgbackup.db"))?;
    db.busy_timeout(Duration::from_secs(10))?;
    db.execute(
        "UPDATE archives SET time = ?1 WHERE policy_id = ?2",
        rusqlite::params![old, policy],
    )?;
    db.execute(
        "UPDATE policies SET created = ?1 WHERE id = ?2",
        rusqlite::params![old, policy],
    )?;
    drop(db);
    events(&hook, "recovery_objective_missed", 1).await?;
    let r = recoverability(&s, &token, policy).await?;
    ensure!(r["state"] == "unmet" && r["rpoMet"] == false, "{r}");
    ensure!(
        r["reasons"][0]
            .as_str()
            .unwrap_or_default()
            .contains("older than the objective of 24 h"),
        "{r}"
    );

    // Two report ticks later, each drop alerted exactly once.
    tokio::time::sleep(Duration::from_secs(45)).await;
    ensure!(events(&hook, "recoverability_degraded", 1).await? == 1);
    ensure!(events(&hook, "recovery_objective_missed", 1).await? == 1);
    Ok(())
}
