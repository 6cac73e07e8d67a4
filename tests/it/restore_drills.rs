//! Restore drills against real borg over the loopback sshd hosts and a real PostgreSQL: a drill
//! of a healthy repository passes (a live file changed since the backup is noted, not failed);
//! after bytes of a segment are flipped, both `borg check` and the drill fail, alerts arrive by
//! mail and webhook, and the daily report shows the last restore test; a postgresql drill loads
//! the dump into a scratch database, finds the table, and drops the scratch database.

#[path = "restore_drills/helpers.rs"]
pub(crate) mod helpers;
use crate::support;

use anyhow::{bail, Context, Result};
use helpers::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::db::{databases, mysql, psql, unique};
use support::mime::{mime_parts, subject};
use support::sinks::{HttpSink, SmtpSink};
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn drills_pass_then_fail_after_corruption_with_alerts_and_report() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let smtp = SmtpSink::start(None).await?;
    let hook = HttpSink::start().await?;
    for (k, v) in [
        ("mail.host", "127.0.0.1"),
        ("mail.port", &smtp.port.to_string()),
        ("mail.security", "none"),
        ("mail.from", "CyBorgBackup <cyborg@test.local>"),
        ("mail.retry_seconds", "1"),
        ("webhook.url", &hook.url),
    ] {
        set(&s, &token, k, v).await?;
    }
    s.ok(
        &token,
        r#"mutation { setNotificationPreferences(input: {daily: true, backupFailed: true}) { daily } }"#,
        json!({}),
    )
    .await?;
    let hosts = ssh_hosts(&s, &token).await?;

    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("big.bin"), noise(3 << 20, 0x9e37_79b9))?;
    std::fs::write(src.path().join("notes.txt"), "drill me\n")?;
    std::fs::write(src.path().join("changing.txt"), "version one\n")?;
    std::fs::create_dir(src.path().join("sub"))?;
    std::fs::write(src.path().join("sub/report.csv"), "a,b\n1,2\n")?;
    let repo_dir = tempfile::tempdir()?;
    let repo_path = format!(
        "ssh://root@repo:{}{}/drill",
        hosts.port,
        repo_dir.path().display()
    );
    let client = ssh_client(&s, &token, "web1", hosts.port).await?;
    let repo_id =
        create_repository(&s, &token, "drillrepo", &repo_path, "drill passphrase").await?;
    let mut spec = PolicySpec {
        name: "docs",
        policy_type: "folders",
        clients: vec![client],
        repository: repo_id,
        schedule: create_schedule(&s, &token, "n").await?,
        extra_vars: json!({"folders": [src.path()], "restore_test_cron": "every sunday"}),
        ..Default::default()
    };
    // A bad per-policy drill schedule is a field error.
    let bad = try_create_policy(&s, &token, &spec).await?;
    assert_eq!(bad.error_code(), Some("VALIDATION"), "{}", bad.0);
    assert_eq!(bad.error_field(), Some("extra_vars.restore_test_cron"));
    spec.extra_vars = json!({"folders": [src.path()], "restore_test_cron": "0 4 * * 0"});
    let policy = create_policy(&s, &token, &spec).await?;

    // Two archives (the drill samples both), then a live file changes after the backup.
    backup(&s, &token, policy).await?;
    std::fs::write(src.path().join("notes.txt"), "drill me again\n")?;
    backup(&s, &token, policy).await?;
    std::fs::write(
        src.path().join("changing.txt"),
        "version two, longer than one\n",
    )?;

    let (job, log) = drill(&s, &token, policy).await?;
    assert_eq!(job["status"], "successful", "{job}\n{log}");
    let t = latest_drill(&s, &token, policy).await?;
    assert_eq!(t["verdict"], "passed", "{t}");
    assert_eq!(t["jobId"], job["id"]);
    assert!(t["filesChecked"].as_i64().unwrap_or(0) >= 4, "{t}");
    assert!(t["bytes"].as_i64().unwrap_or(0) >= 3 << 20, "{t}");
    assert_eq!(t["archives"].as_array().map(Vec::len), Some(2), "{t}");
    assert_eq!(t["mismatches"], json!([]), "{t}");
    let changed = t["notes"]
        .as_array()
        .context("notes")?
        .iter()
        .find(|n| {
            n["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/changing.txt"))
        })
        .cloned()
        .context("no note about the changed live file")?;
    let why = changed["reason"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("live file changed since the backup") && why.ends_with("checksum skipped"),
        "{changed}"
    );
    let summary = t["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("checksum(s) matched the live files on web1"),
        "{summary}"
    );
    // The extraction directories on the repository host are gone.
    assert_extraction_dirs_removed(&log);
    eprintln!("healthy drill: {t}");
    let v = s
        .ok(
            &token,
            "query($p: Int!, $c: Int!) { policy(id: $p) { lastVerifiedRestore { id verdict } } client(id: $c) { lastVerifiedRestore { id verdict } } }",
            json!({"p": policy, "c": client}),
        )
        .await?;
    assert_eq!(v["policy"]["lastVerifiedRestore"]["id"], t["id"], "{v}");
    assert_eq!(
        v["client"]["lastVerifiedRestore"]["verdict"], "passed",
        "{v}"
    );

    // Corruption: borg check and the drill both fail, and say so.
    let seg = corrupt_largest_segment(&repo_dir.path().join("drill"))?;
    let c = s
        .ok(
            &token,
            "mutation($r: Int!) { checkRepository(id: $r) { id } }",
            json!({"r": repo_id}),
        )
        .await?;
    let (check, check_log) = finished(
        &s,
        &token,
        c["checkRepository"]["id"].as_i64().context("id")?,
    )
    .await?;
    assert_eq!(
        check["status"],
        "failed",
        "{check} ({}):\n{check_log}",
        seg.display()
    );
    let (job, log) = drill(&s, &token, policy).await?;
    assert_eq!(job["status"], "failed", "{job}\n{log}");
    let t = latest_drill(&s, &token, policy).await?;
    assert_eq!(t["verdict"], "failed", "{t}");
    assert!(
        t["summary"]
            .as_str()
            .unwrap_or_default()
            .starts_with("restore test failed"),
        "{t}"
    );
    let reasons = t["mismatches"].to_string();
    assert!(reasons.contains("borg extract failed"), "{reasons}");
    assert_extraction_dirs_removed(&log);
    // The drills page one at a time, newest first, and filter by verdict.
    let q = "query($p: Int!, $a: String, $v: String) { restoreTests(policy: $p, first: 1, after: $a, verdict: $v) { totalCount pageInfo { hasNextPage endCursor } nodes { verdict } } }";
    let p1 = s.ok(&token, q, json!({"p": policy})).await?["restoreTests"].clone();
    assert_eq!(p1["totalCount"], 2, "{p1}");
    assert_eq!(p1["nodes"][0]["verdict"], "failed", "{p1}");
    assert_eq!(p1["pageInfo"]["hasNextPage"], true, "{p1}");
    let after = p1["pageInfo"]["endCursor"].clone();
    let p2 = s.ok(&token, q, json!({"p": policy, "a": after})).await?["restoreTests"].clone();
    assert_eq!(p2["nodes"][0]["verdict"], "passed", "{p2}");
    assert_eq!(p2["pageInfo"]["hasNextPage"], false, "{p2}");
    let passed =
        s.ok(&token, q, json!({"p": policy, "v": "passed"})).await?["restoreTests"].clone();
    assert_eq!(passed["totalCount"], 1, "{passed}");
    let bad = s
        .gql(Some(&token), q, json!({"p": policy, "v": "green"}))
        .await?;
    assert_eq!(bad.error_field(), Some("verdict"), "{}", bad.0);
    eprintln!("check after corruption: {}", check["jobExplanation"]);
    eprintln!("drill after corruption: {t}");
    // The last verified restore is still the passed one.
    let v = s
        .ok(
            &token,
            "query($p: Int!) { policy(id: $p) { lastVerifiedRestore { verdict } } }",
            json!({"p": policy}),
        )
        .await?;
    assert_eq!(v["policy"]["lastVerifiedRestore"]["verdict"], "passed");

    // Alerts by mail (the admin wants failures) and webhook.
    let want = [
        "[CyBorgBackup] INTEGRITY CHECK FAILED: drillrepo".to_string(),
        "[CyBorgBackup] RESTORE TEST FAILED: web1 docs".to_string(),
    ];
    let start = Instant::now();
    loop {
        let subjects: Vec<String> = smtp.all().iter().map(|m| subject(&m.data)).collect();
        if want.iter().all(|w| subjects.contains(w)) {
            break;
        }
        if start.elapsed() > Duration::from_secs(30) {
            bail!("alert mails missing: {subjects:?}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mail = smtp
        .all()
        .into_iter()
        .find(|m| subject(&m.data) == want[1])
        .context("drill mail")?;
    assert!(mail.data.contains("borg extract failed"), "{}", mail.data);
    let check_mail = smtp
        .all()
        .into_iter()
        .find(|m| subject(&m.data) == want[0])
        .context("check mail")?;
    eprintln!("integrity mail:\n{}", check_mail.data);
    assert!(
        check_mail.data.contains("What borg reported:")
            && check_mail.data.to_ascii_lowercase().contains("mismatch"),
        "{}",
        check_mail.data
    );
    let start = Instant::now();
    loop {
        let events: Vec<Value> = hook
            .all()
            .iter()
            .filter_map(|h| serde_json::from_str(&h.body).ok())
            .collect();
        let drill_event = events.iter().find(|e| e["event"] == "restore_test_failed");
        let check_event = events
            .iter()
            .find(|e| e["event"] == "integrity_check_failed");
        if let (Some(d), Some(c)) = (drill_event, check_event) {
            assert_eq!(d["restore_test"]["verdict"], "failed", "{d}");
            assert_eq!(d["client"]["hostname"], "web1");
            assert_eq!(c["repository"]["name"], "drillrepo");
            assert!(
                c["findings"].as_array().is_some_and(|f| !f.is_empty()),
                "{c}"
            );
            break;
        }
        if start.elapsed() > Duration::from_secs(30) {
            bail!("webhook events missing: {events:?}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // The daily report has the Last restore test column.
    s.ok(
        &token,
        r#"mutation { sendReport(period: "daily") }"#,
        json!({}),
    )
    .await?;
    let start = Instant::now();
    let report = loop {
        if let Some(m) = smtp
            .all()
            .into_iter()
            .find(|m| subject(&m.data).contains("Daily report"))
        {
            break m;
        }
        if start.elapsed() > Duration::from_secs(30) {
            bail!("no report mail");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let (_, parts) = mime_parts(&report.data)?;
    let text = parts
        .iter()
        .find(|p| p.content_type == "text/plain")
        .context("plain text")?
        .text();
    assert!(text.contains("Last restore test"), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("web1 | docs"))
        .context("no row for web1 docs")?;
    assert!(
        row.ends_with(" UTC failed") && row.contains(" | 20"),
        "{row}"
    );
    drop(hosts);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn postgresql_drill_loads_the_dump_into_a_scratch_database() -> Result<()> {
    databases()?;
    let db = unique("cyb_drill");
    psql("postgres", &format!("CREATE DATABASE {db}"))?;
    psql(
        &db,
        "CREATE TABLE drill_rows (id int primary key, note text); INSERT INTO drill_rows VALUES (1, 'restorable')",
    )?;
    let s = Server::start()?;
    let token = s.login().await?;
    let (policy, _repo) = local_typed_policy(
        &s,
        &token,
        "postgresql",
        &json!({"database": db}).to_string(),
        "pg drill passphrase",
    )
    .await?;
    backup(&s, &token, policy).await?;
    let (job, log) = drill(&s, &token, policy).await?;
    psql("postgres", &format!("DROP DATABASE {db}"))?;
    assert_eq!(job["status"], "successful", "{job}\n{log}");
    let t = latest_drill(&s, &token, policy).await?;
    assert_eq!(t["verdict"], "passed", "{t}");
    let summary = t["summary"].as_str().unwrap_or_default().to_string();
    assert!(
        summary.contains("public.drill_rows") && summary.contains("scratch database cyborg_drill_"),
        "{summary}"
    );
    assert!(summary.contains("dropped"), "{summary}");
    let scratch = summary
        .split_whitespace()
        .find(|w| w.starts_with("cyborg_drill_"))
        .context("scratch name")?
        .trim_end_matches([':', ';', ','])
        .to_string();
    let left = psql(
        "postgres",
        &format!("SELECT count(*) FROM pg_database WHERE datname = '{scratch}'"),
    )?;
    assert_eq!(left.trim(), "0", "scratch database {scratch} left behind");
    assert_eq!(t["filesChecked"], 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_restore_test_runs_drills_on_their_schedule() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let update =
        "mutation($k: String!, $v: String!) { updateSetting(key: $k, value: $v) { key value } }";
    let bad = s
        .gql(
            Some(&token),
            update,
            json!({"k": "auto_restore_test", "v": "maybe"}),
        )
        .await?;
    assert_eq!(bad.error_field(), Some("value"), "{}", bad.0);
    let bad = s
        .gql(
            Some(&token),
            update,
            json!({"k": "restore_test_cron", "v": "sometimes"}),
        )
        .await?;
    assert_eq!(bad.error_code(), Some("VALIDATION"), "{}", bad.0);
    s.ok(
        &token,
        update,
        json!({"k": "restore_test_cron", "v": "* * * * *"}),
    )
    .await?;
    s.ok(
        &token,
        update,
        json!({"k": "auto_restore_test", "v": "true"}),
    )
    .await?;
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("scheduled.txt"), "drilled on schedule\n")?;
    let policy = local_policy(
        &s,
        &token,
        &[&src.path().display().to_string()],
        "sched pass",
    )
    .await?;
    backup(&s, &token, policy).await?;
    // The schedule fires at the next minute once the archive is catalogued.
    let start = Instant::now();
    let t = loop {
        let t = latest_drill(&s, &token, policy).await?;
        if !t.is_null() {
            break t;
        }
        if start.elapsed() > Duration::from_secs(150) {
            bail!("no scheduled restore test after {:?}", start.elapsed());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let j = s
        .ok(
            &token,
            "query($id: Int!) { job(id: $id) { jobType launchType status } }",
            json!({"id": t["jobId"]}),
        )
        .await?;
    assert_eq!(j["job"]["launchType"], "scheduled", "{j}");
    assert_eq!(j["job"]["jobType"], "restore_test");
    assert_eq!(t["verdict"], "passed", "{t}");
    assert!(
        t["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("1 checksum(s) matched the live files on localhost"),
        "{t}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_drill_loads_selected_databases_into_a_scratch_database() -> Result<()> {
    databases()?;
    let db = unique("cyb_mdrill");
    mysql(&format!(
        "CREATE DATABASE `{db}`; CREATE TABLE `{db}`.drill_items (id INT PRIMARY KEY, note VARCHAR(50)); \
         INSERT INTO `{db}`.drill_items VALUES (1, 'restorable');"
    ))?;
    let s = Server::start()?;
    let token = s.login().await?;
    let (policy, _repo) = local_typed_policy(
        &s,
        &token,
        "mysql",
        &json!({"databases": [db]}).to_string(),
        "my drill passphrase",
    )
    .await?;
    backup(&s, &token, policy).await?;
    let (job, log) = drill(&s, &token, policy).await?;
    mysql(&format!("DROP DATABASE `{db}`"))?;
    assert_eq!(job["status"], "successful", "{job}\n{log}");
    let t = latest_drill(&s, &token, policy).await?;
    assert_eq!(t["verdict"], "passed", "{t}");
    let summary = t["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("1 table(s) (drill_items)") && summary.contains("dropped"),
        "{summary}"
    );
    let left = mysql("SHOW DATABASES LIKE 'cyborg\\_drill\\_%'")?;
    assert!(left.trim().is_empty(), "scratch databases left: {left}");
    Ok(())
}
