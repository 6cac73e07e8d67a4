//! The task manager with real borg: hooks, cancel, relaunch, per-repository exclusion and
//! concurrency across repositories, and a server crash in the middle of a job.

use crate::support;

use anyhow::Result;
use serde_json::{json, Value};
use std::time::Duration;
use support::*;

async fn set_hooks(s: &Server, token: &str, policy: i64, pre: &str, post: &str) -> Result<()> {
    s.ok(token, "mutation($id: Int!, $a: String!, $b: String!) { updatePolicy(id: $id, input: {prehook: $a, posthook: $b}) { id } }", json!({"id": policy, "a": pre, "b": post})).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn hooks_run_on_the_client_and_a_failing_prehook_stops_borg() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("f"), "x")?;
    let out = tempfile::tempdir()?;
    let status_file = out.path().join("status");
    let pass = "hook passphrase";
    let (policy, repo) = local_typed_policy(
        &s,
        &token,
        "folders",
        &json!({"folders": [src.path()]}).to_string(),
        pass,
    )
    .await?;
    let post = format!(
        "echo post-hook saw $CYBORG_JOB_STATUS; echo $CYBORG_JOB_STATUS > {}",
        status_file.display()
    );
    set_hooks(&s, &token, policy, "echo pre-hook running; exit 1", &post).await?;
    let id = launch_backup(&s, &token, policy).await?;
    let j = s
        .wait_job_status(&token, id, "failed", Duration::from_secs(120))
        .await?;
    assert!(
        j["jobExplanation"]
            .as_str()
            .unwrap_or_default()
            .contains("pre-hook exited with status 1"),
        "{j}"
    );
    let log = s.job_log(&token, id).await?;
    assert!(
        log.contains("pre-hook running") && log.contains("post-hook saw failed"),
        "{log}"
    );
    assert!(
        !log.contains("borg create"),
        "borg ran after a failing pre-hook:\n{log}"
    );
    assert_eq!(std::fs::read_to_string(&status_file)?.trim(), "failed");
    let list = borg(pass, &["list", "--short", &repo])?;
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "");

    set_hooks(&s, &token, policy, "echo pre ok", &post).await?;
    let id = launch_backup(&s, &token, policy).await?;
    s.wait_job_status(&token, id, "successful", Duration::from_secs(120))
        .await?;
    assert_eq!(std::fs::read_to_string(&status_file)?.trim(), "successful");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_stops_a_long_backup_and_relaunch_runs_it_again() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let pass = "cancel passphrase";
    let (policy, repo) = local_typed_policy(
        &s,
        &token,
        "piped",
        &json!({"command": "echo start; sleep 60; echo late"}).to_string(),
        pass,
    )
    .await?;
    let id = launch_backup(&s, &token, policy).await?;
    s.wait_job_status(&token, id, "running", Duration::from_secs(60))
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t0 = std::time::Instant::now();
    let c = s
        .ok(
            &token,
            "mutation($id: Int!) { cancelJob(id: $id) }",
            json!({"id": id}),
        )
        .await?;
    assert_eq!(c["cancelJob"], true);
    s.wait_job_status(&token, id, "canceled", Duration::from_secs(30))
        .await?;
    assert!(
        t0.elapsed() < Duration::from_secs(25),
        "cancel took {:?}",
        t0.elapsed()
    );
    let list = borg(pass, &["list", "--short", &repo])?;
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&list.stdout).trim(),
        "",
        "a canceled backup left an archive"
    );
    // Cancelling a finished job says so.
    let again = s
        .ok(
            &token,
            "mutation($id: Int!) { cancelJob(id: $id) }",
            json!({"id": id}),
        )
        .await?;
    assert_eq!(again["cancelJob"], false);

    s.ok(&token, "mutation($id: Int!) { updatePolicy(id: $id, input: {extraVars: \"{\\\"command\\\": \\\"echo quick\\\"}\"}) { id } }", json!({"id": policy})).await?;
    let r = s
        .ok(
            &token,
            "mutation($id: Int!) { relaunchJob(id: $id) { id launchType } }",
            json!({"id": id}),
        )
        .await?;
    assert_eq!(r["relaunchJob"]["launchType"], "relaunch");
    let new_id = r["relaunchJob"]["id"].as_i64().unwrap_or(0);
    s.wait_job_status(&token, new_id, "successful", Duration::from_secs(120))
        .await?;
    let list = borg(pass, &["list", "--short", &repo])?;
    assert_eq!(String::from_utf8_lossy(&list.stdout).lines().count(), 1);
    Ok(())
}

fn interval(j: &Value) -> (String, String) {
    (
        j["started"].as_str().unwrap_or_default().to_string(),
        j["finished"].as_str().unwrap_or_default().to_string(),
    )
}

fn overlaps(a: &(String, String), b: &(String, String)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

#[tokio::test(flavor = "multi_thread")]
async fn one_borg_per_repository_but_repositories_in_parallel() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let slow = json!({"command": "sleep 3; echo done"}).to_string();
    // Two policies on one repository (different clients: localhost and 127.0.0.1 are both local).
    let (p1, _) = local_typed_policy(&s, &token, "piped", &slow, "pass one").await?;
    let p1d = s
        .ok(
            &token,
            "query($id: Int!) { policy(id: $id) { repositoryId scheduleId } }",
            json!({"id": p1}),
        )
        .await?;
    let c2 = s
        .ok(
            &token,
            r#"mutation { createClient(input: {hostname: "127.0.0.1"}) { id } }"#,
            json!({}),
        )
        .await?["createClient"]["id"]
        .clone();
    let mk = "mutation($c: Int!, $r: Int!, $s: Int!, $v: String!) { createPolicy(input: {name: \"second\", policyType: \"piped\", extraVars: $v, clients: [$c], repository: $r, schedule: $s}) { id } }";
    let p2 = s.ok(&token, mk, json!({"c": c2, "r": p1d["policy"]["repositoryId"], "s": p1d["policy"]["scheduleId"], "v": slow})).await?["createPolicy"]["id"].as_i64().unwrap_or(0);
    // A third policy on another repository, for the second client.
    let other = s.data_dir.path().join("other-repo").display().to_string();
    let r3 = s.ok(&token, "mutation($p: String!) { createRepository(input: {name: \"other\", path: $p, repositoryKey: \"pass three\"}) { id } }", json!({"p": other})).await?["createRepository"]["id"].clone();
    let p3 = s
        .ok(
            &token,
            mk,
            json!({"c": c2, "r": r3, "s": p1d["policy"]["scheduleId"], "v": slow}),
        )
        .await?["createPolicy"]["id"]
        .as_i64()
        .unwrap_or(0);

    // Prepare everything first so that the timed runs are backups only.
    for p in [p1, p2, p3] {
        launch(&s, &token, p).await?;
        s.wait_jobs(&token, Duration::from_secs(180)).await?;
    }
    let a = launch_backup(&s, &token, p1).await?;
    let b = launch_backup(&s, &token, p2).await?;
    s.wait_jobs(&token, Duration::from_secs(180)).await?;
    let ja = s
        .wait_job_status(&token, a, "successful", Duration::from_secs(5))
        .await?;
    let jb = s
        .wait_job_status(&token, b, "successful", Duration::from_secs(5))
        .await?;
    assert!(
        !overlaps(&interval(&ja), &interval(&jb)),
        "two borg on one repository at once: {ja} {jb}"
    );

    let a = launch_backup(&s, &token, p1).await?;
    let c = launch_backup(&s, &token, p3).await?;
    s.wait_jobs(&token, Duration::from_secs(180)).await?;
    let ja = s
        .wait_job_status(&token, a, "successful", Duration::from_secs(5))
        .await?;
    let jc = s
        .wait_job_status(&token, c, "successful", Duration::from_secs(5))
        .await?;
    assert!(
        overlaps(&interval(&ja), &interval(&jc)),
        "different repositories did not run in parallel: {ja} {jc}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_mid_job_leaves_a_failed_job_and_no_stale_lock() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let pass = "crash passphrase";
    let (policy, repo) = local_typed_policy(
        &s,
        &token,
        "piped",
        &json!({"command": "echo begin; sleep 4; echo end"}).to_string(),
        pass,
    )
    .await?;
    let id = launch_backup(&s, &token, policy).await?;
    s.wait_job_status(&token, id, "running", Duration::from_secs(60))
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let dir = s.crash();

    let s = Server::start_with(dir, &[])?;
    let token = s.login().await?;
    let j = s
        .wait_job_status(&token, id, "failed", Duration::from_secs(10))
        .await?;
    assert!(
        j["jobExplanation"]
            .as_str()
            .unwrap_or_default()
            .contains("interrupted"),
        "{j}"
    );
    // The repository is usable again: the next backup succeeds.
    let next = launch_backup(&s, &token, policy).await?;
    let j = s
        .wait_job_status(&token, next, "successful", Duration::from_secs(180))
        .await?;
    let archive = j["archiveName"].as_str().unwrap_or_default();
    let out = borg(
        pass,
        &[
            "extract",
            "--stdout",
            &format!("{repo}::{archive}"),
            "piped",
        ],
    )?;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "begin\nend\n");

    // A graceful stop marks the running job failed too, and borg releases its lock at once.
    let id = launch_backup(&s, &token, policy).await?;
    s.wait_job_status(&token, id, "running", Duration::from_secs(60))
        .await?;
    let dir = s.terminate();
    let s = Server::start_with(dir, &[])?;
    let token = s.login().await?;
    let j = s
        .wait_job_status(&token, id, "failed", Duration::from_secs(10))
        .await?;
    assert!(
        j["jobExplanation"]
            .as_str()
            .unwrap_or_default()
            .contains("server shut down"),
        "{j}"
    );
    let list = borg(pass, &["list", "--short", "--lock-wait", "1", &repo])?;
    assert!(
        list.status.success(),
        "repository still locked: {}",
        String::from_utf8_lossy(&list.stderr)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn integrity_checks_run_on_demand_and_on_their_schedule() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("f"), "x")?;
    let policy = local_policy(
        &s,
        &token,
        &[&src.path().display().to_string()],
        "check passphrase",
    )
    .await?;
    launch(&s, &token, policy).await?;
    s.wait_jobs(&token, Duration::from_secs(120)).await?;
    let repo = s
        .ok(&token, "{ repositories { nodes { id } } }", json!({}))
        .await?["repositories"]["nodes"][0]["id"]
        .clone();
    let c = s
        .ok(
            &token,
            "mutation($id: Int!) { checkRepository(id: $id, verifyData: true) { id } }",
            json!({"id": repo}),
        )
        .await?;
    let j = s
        .wait_job_status(
            &token,
            c["checkRepository"]["id"].as_i64().unwrap_or(0),
            "successful",
            Duration::from_secs(120),
        )
        .await?;
    assert!(
        j["jobExplanation"]
            .as_str()
            .unwrap_or_default()
            .contains("verified"),
        "{j}"
    );

    let bad = s
        .gql(
            Some(&token),
            r#"mutation { updateSetting(key: "ic_cron", value: "61 * * * *") { key } }"#,
            json!({}),
        )
        .await?;
    assert_eq!(bad.error_field(), Some("value"));
    s.ok(
        &token,
        r#"mutation { updateSetting(key: "ic_cron", value: "* * * * *") { key } }"#,
        json!({}),
    )
    .await?;
    s.ok(
        &token,
        r#"mutation { updateSetting(key: "integrity_check", value: "true") { key } }"#,
        json!({}),
    )
    .await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(130);
    loop {
        let jobs = s
            .ok(
                &token,
                "{ jobs(jobType: \"check\") { nodes { id launchType status } } }",
                json!({}),
            )
            .await?;
        let scheduled = jobs["jobs"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .find(|j| j["launchType"] == "scheduled");
        if let Some(j) = scheduled {
            s.wait_job_status(
                &token,
                j["id"].as_i64().unwrap_or(0),
                "successful",
                Duration::from_secs(120),
            )
            .await?;
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no scheduled integrity check"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}
