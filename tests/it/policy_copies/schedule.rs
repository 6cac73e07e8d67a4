//! A copy's own schedule offset and retention, drills that alternate between the primary and
//! the copy, and a per-repository integrity check schedule, with local repositories: a scheduled
//! run queues the copy's backup to start its offset later (and it does not start before); a
//! copy pruned by its own retention keeps fewer archives than the primary; two drills without
//! a repository go to the primary, then the copy; a repository's `checkCron` queues scheduled
//! checks of it, and a malformed one is refused naming the field.

use crate::support::*;
use anyhow::{ensure, Context, Result};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const JOBS: &str = "{ jobs(first: 200) { nodes { id jobType status launchType repositoryId created started notBefore } } }";

async fn jobs(s: &Server, token: &str) -> Result<Vec<Value>> {
    Ok(s.ok(token, JOBS, json!({})).await?["jobs"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

fn time(v: &Value) -> Result<DateTime<Utc>> {
    Ok(v.as_str().context("time")?.parse()?)
}

async fn wait_until<F: Fn(&[Value]) -> bool>(
    s: &Server,
    token: &str,
    what: &str,
    f: F,
) -> Result<Vec<Value>> {
    let start = Instant::now();
    loop {
        let all = jobs(s, token).await?;
        if f(&all) {
            return Ok(all);
        }
        ensure!(
            start.elapsed() < Duration::from_secs(240),
            "{what}: {all:#?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn archive_count(s: &Server, token: &str, repo: i64) -> Result<usize> {
    Ok(s.ok(
        token,
        "query($r: Int!) { archives(repository: $r) { nodes { id } } }",
        json!({"r": repo}),
    )
    .await?["archives"]["nodes"]
        .as_array()
        .map_or(0, Vec::len))
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_offset_retention_drill_rotation_and_check_schedule() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("a.txt"), "alpha\n")?;
    let client = s
        .ok(
            &token,
            r#"mutation { createClient(input: {hostname: "localhost"}) { id } }"#,
            json!({}),
        )
        .await?["createClient"]["id"]
        .as_i64()
        .context("client")?;
    let dir = tempfile::tempdir()?;
    let main = dir.path().join("main").display().to_string();
    let copy_path = dir.path().join("copy").display().to_string();
    let primary = create_repository(&s, &token, "main", &main, "main pass").await?;
    let copy = create_repository(&s, &token, "copy", &copy_path, "copy pass").await?;

    // A malformed integrity check schedule is refused on its field; a good one is kept.
    let r = s
        .gql(
            Some(&token),
            "mutation($id: Int!) { updateRepository(id: $id, input: {checkCron: \"61 * * * *\"}) { id } }",
            json!({"id": copy}),
        )
        .await?;
    ensure!(
        matches!(r.error_field(), Some("check_cron" | "checkCron"))
            && r.error_message().contains("61"),
        "{}",
        r.0
    );
    let d = s
        .ok(
            &token,
            "mutation($id: Int!) { updateRepository(id: $id, input: {checkCron: \"* * * * *\"}) { checkCron } }",
            json!({"id": copy}),
        )
        .await?;
    ensure!(d["updateRepository"]["checkCron"] == "* * * * *", "{d}");

    let schedule = s
        .ok(&token, r#"mutation { createSchedule(input: {name: "minutely", crontab: "* * * * *"}) { id } }"#, json!({}))
        .await?["createSchedule"]["id"]
        .as_i64()
        .context("schedule")?;
    // The primary keeps everything; the copy keeps one archive a day, and starts a minute later.
    let d = s
        .ok(
            &token,
            "mutation($c: Int!, $r: Int!, $s: Int!, $k: Int!, $v: String!) { createPolicy(input: {name: \"offset\",
               policyType: \"folders\", extraVars: $v, clients: [$c], repository: $r, schedule: $s,
               copySettings: [{repositoryId: $k, keepDaily: 1, offsetMinutes: 1}]})
               { id copies { repositoryId keepDaily offsetMinutes } } }",
            json!({"c": client, "r": primary, "s": schedule, "k": copy,
                   "v": json!({"folders": [src.path()]}).to_string()}),
        )
        .await?;
    let policy = d["createPolicy"]["id"].as_i64().context("policy")?;
    ensure!(
        d["createPolicy"]["copies"]
            == json!([{"repositoryId": copy, "keepDaily": 1, "offsetMinutes": 1}]),
        "{d}"
    );

    // The schedule fires: the copy's backup waits for its offset.
    let all = wait_until(&s, &token, "no scheduled run", |all| {
        all.iter().any(|j| {
            j["jobType"] == "job" && j["launchType"] == "scheduled" && j["repositoryId"] == copy
        })
    })
    .await?;
    // One scheduled run is enough.
    s.ok(
        &token,
        "mutation($id: Int!) { updateSchedule(id: $id, input: {crontab: \"0 3 * * *\"}) { id } }",
        json!({"id": schedule}),
    )
    .await?;
    let copy_job = all
        .iter()
        .filter(|j| {
            j["jobType"] == "job" && j["launchType"] == "scheduled" && j["repositoryId"] == copy
        })
        .min_by_key(|j| j["id"].as_i64())
        .cloned()
        .context("copy job")?;
    let primary_job = all
        .iter()
        .filter(|j| {
            j["jobType"] == "job" && j["launchType"] == "scheduled" && j["repositoryId"] == primary
        })
        .min_by_key(|j| j["id"].as_i64())
        .cloned()
        .context("primary job")?;
    let not_before = time(&copy_job["notBefore"])?;
    let offset = (not_before - time(&copy_job["created"])?).num_seconds();
    ensure!((59..=61).contains(&offset), "offset {offset} s: {copy_job}");
    ensure!(primary_job["notBefore"].is_null(), "{primary_job}");
    let id = copy_job["id"].clone();
    let all = wait_until(&s, &token, "the copy's backup did not end", |all| {
        all.iter().any(|j| {
            j["id"] == id
                && matches!(
                    j["status"].as_str(),
                    Some("successful" | "failed" | "error")
                )
        })
    })
    .await?;
    let done = all.iter().find(|j| j["id"] == id).context("copy job")?;
    ensure!(done["status"] == "successful", "{done}");
    ensure!(
        time(&done["started"])? >= not_before,
        "started before its offset: {done}"
    );

    // The copy repository's own check schedule queued a check of it.
    wait_until(&s, &token, "no scheduled check of the copy", |all| {
        all.iter().any(|j| {
            j["jobType"] == "check" && j["launchType"] == "scheduled" && j["repositoryId"] == copy
        })
    })
    .await?;
    s.ok(
        &token,
        "mutation($id: Int!) { updateRepository(id: $id, input: {checkCron: \"\"}) { id } }",
        json!({"id": copy}),
    )
    .await?;

    // A second run (manual: no offset): the copy's retention keeps one archive, the primary two.
    launch(&s, &token, policy).await?;
    for j in s.wait_jobs(&token, Duration::from_secs(240)).await? {
        ensure!(
            j["status"] == "successful",
            "{j}\n{}",
            s.job_log(&token, j["id"].as_i64().unwrap_or(0)).await?
        );
    }
    ensure!(archive_count(&s, &token, primary).await? >= 2);
    ensure!(archive_count(&s, &token, copy).await? == 1);

    // Drills without a repository alternate: the primary first, then the copy.
    for expected in [primary, copy] {
        let d = s
            .ok(
                &token,
                "mutation($p: Int!) { launchRestoreTest(policy: $p) { id repositoryId } }",
                json!({"p": policy}),
            )
            .await?;
        let job = &d["launchRestoreTest"][0];
        ensure!(job["repositoryId"] == expected, "{d}");
        let id = job["id"].as_i64().context("drill")?;
        let j = s.wait_job_ok(&token, id, Duration::from_secs(120)).await;
        ensure!(j.is_ok(), "{j:?}\n{}", s.job_log(&token, id).await?);
    }
    Ok(())
}
