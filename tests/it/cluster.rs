//! Three server nodes on one real PostgreSQL database, listening on three loopback addresses:
//! jobs claimed once across the cluster and never two on one repository or client, a minutely
//! schedule firing once per minute in total, a node killed mid-backup whose job another node
//! ends when its lease runs out, a subscription on one node streaming a job that runs on
//! another, and a download link of one node served by another.

use crate::support::Server;
use crate::support::{launch, launch_backup, local_typed_policy};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Seconds of a job lease in these tests (renewed every 2 s).
const LEASE: &str = "6";

/// Starts nodes `a`, `b`, `c` on 127.0.0.1-3 sharing a new PostgreSQL database and the master
/// key; `a` holds the catalog.
fn cluster() -> Result<Vec<Server>> {
    crate::support::cluster::start_cluster(
        &["a", "b", "c"],
        &[
            ("CYBORG_CATALOG_NODE", "a"),
            ("CYBORG_JOB_LEASE_SECONDS", LEASE),
            ("CYBORG_MAX_CONCURRENT_JOBS", "4"),
        ],
    )
}

const JOB_FIELDS: &str = "id jobType status repositoryId clientId started finished node launchType created jobExplanation archiveName";

async fn all_jobs(s: &Server, token: &str) -> Result<Vec<Value>> {
    let d = s
        .ok(
            token,
            &format!("{{ jobs(first: 500) {{ nodes {{ {JOB_FIELDS} }} }} }}"),
            json!({}),
        )
        .await?;
    Ok(d["jobs"]["nodes"].as_array().cloned().unwrap_or_default())
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// When a job ran: started, finished, id.
type Run = (DateTime<Utc>, DateTime<Utc>, i64);

/// Jobs sharing a key (repository or client) never ran at the same time.
fn assert_one_at_a_time(jobs: &[Value], key: &str) {
    let mut by: HashMap<i64, Vec<Run>> = HashMap::new();
    for j in jobs {
        if let (Some(k), Some(s), Some(f)) =
            (j[key].as_i64(), time(&j["started"]), time(&j["finished"]))
        {
            by.entry(k)
                .or_default()
                .push((s, f, j["id"].as_i64().unwrap_or(0)));
        }
    }
    for (k, mut runs) in by {
        runs.sort();
        for w in runs.windows(2) {
            assert!(
                w[0].1 <= w[1].0,
                "{key} {k}: jobs {} and {} ran at the same time: {:?}",
                w[0].2,
                w[1].2,
                w
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_policies_launched_at_once_run_each_job_once_and_one_per_repository() -> Result<()> {
    let nodes = cluster()?;
    let a = &nodes[0];
    let token = a.login().await?;
    // The three nodes report their heartbeats.
    let (st, c) = a
        .rest(
            "GET",
            "/api/v1/cluster/",
            Some(&format!("Token {token}")),
            None,
        )
        .await?;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["database"], "postgresql");
    let names: Vec<&str> = c["results"]
        .as_array()
        .context("nodes")?
        .iter()
        .filter_map(|n| n["name"].as_str())
        .collect();
    assert_eq!(names, ["a", "b", "c"], "{c}");
    assert!(
        c["results"]
            .as_array()
            .context("nodes")?
            .iter()
            .all(|n| n["alive"] == true),
        "{c}"
    );

    // 20 policies on 5 repositories and 2 local clients.
    let mut policies = Vec::new();
    let mut repos = Vec::new();
    for i in 0..5 {
        let (p, repo) = local_typed_policy(
            a,
            &token,
            "piped",
            &json!({"command": format!("echo policy {i}")}).to_string(),
            "cluster pass",
        )
        .await?;
        policies.push(p);
        repos.push(repo);
    }
    let d = a
        .ok(
            &token,
            "{ policies(first: 50) { nodes { id repositoryId scheduleId } } }",
            json!({}),
        )
        .await?;
    let first = d["policies"]["nodes"]
        .as_array()
        .context("policies")?
        .clone();
    let c2 = a
        .ok(
            &token,
            r#"mutation { createClient(input: {hostname: "127.0.0.1"}) { id } }"#,
            json!({}),
        )
        .await?["createClient"]["id"]
        .clone();
    let local = a
        .ok(
            &token,
            r#"{ clients(search: "localhost") { nodes { id } } }"#,
            json!({}),
        )
        .await?["clients"]["nodes"][0]["id"]
        .clone();
    let mk = "mutation($n: String!, $c: Int!, $r: Int!, $s: Int!, $v: String!) { createPolicy(input: {name: $n, policyType: \"piped\", extraVars: $v, clients: [$c], repository: $r, schedule: $s}) { id } }";
    for i in 5..20 {
        let base = &first[i % 5];
        let client = if i % 2 == 0 { &local } else { &c2 };
        let v = json!({"command": format!("echo policy {i}")}).to_string();
        let p = a.ok(&token, mk, json!({"n": format!("p{i}"), "c": client, "r": base["repositoryId"], "s": base["scheduleId"], "v": v})).await?["createPolicy"]["id"].as_i64().context("policy")?;
        policies.push(p);
    }
    // Launched at once, each through one of the three nodes.
    let launches = policies.iter().enumerate().map(|(i, p)| {
        let s = &nodes[i % 3];
        let token = token.clone();
        async move { launch(s, &token, *p).await }
    });
    for r in futures_util::future::join_all(launches).await {
        assert!(!r?.is_empty());
    }
    let b = &nodes[1];
    let started = Instant::now();
    let jobs = loop {
        let jobs = all_jobs(b, &token).await?;
        if jobs.iter().all(|j| {
            matches!(
                j["status"].as_str(),
                Some("successful" | "failed" | "error" | "canceled")
            )
        }) {
            break jobs;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(400),
            "jobs not finished: {jobs:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for j in &jobs {
        assert_eq!(j["status"], "successful", "{j}");
    }
    let backups: Vec<&Value> = jobs.iter().filter(|j| j["jobType"] == "job").collect();
    assert_eq!(backups.len(), 20);
    // Which node runs a job is a race for the claim (the node that finished the dependency
    // wakes first): every job ran on some node, and the distribution is printed.
    let mut per_node: HashMap<&str, usize> = HashMap::new();
    for j in &backups {
        *per_node
            .entry(j["node"].as_str().context("node")?)
            .or_default() += 1;
    }
    eprintln!("backups per node: {per_node:?}");
    for j in jobs.iter().filter(|j| j["jobType"] == "catalog") {
        assert_eq!(
            j["node"], "a",
            "catalog ingestion runs on the catalog node: {j}"
        );
    }
    assert_one_at_a_time(&jobs, "repositoryId");
    assert_one_at_a_time(&jobs, "clientId");
    // Exactly once: each repository holds one archive per backup job, no more.
    for (i, repo) in repos.iter().enumerate() {
        let rid = first[i]["repositoryId"].as_i64().context("repository")?;
        let expected: HashSet<String> = backups
            .iter()
            .filter(|j| j["repositoryId"].as_i64() == Some(rid))
            .filter_map(|j| j["archiveName"].as_str().map(str::to_string))
            .collect();
        assert_eq!(expected.len(), 4, "{rid}");
        let listed: HashSet<String> =
            crate::support::borg("cluster pass", &["list", "--short", repo])?
                .stdout
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect();
        assert_eq!(listed, expected, "repository {repo}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_minutely_schedule_fires_once_per_minute_across_three_nodes() -> Result<()> {
    let nodes = cluster()?;
    let a = &nodes[0];
    let token = a.login().await?;
    let (policy, _) = local_typed_policy(
        a,
        &token,
        "piped",
        &json!({"command": "echo tick"}).to_string(),
        "tick pass",
    )
    .await?;
    let every_minute = a.ok(&token, r#"mutation { createSchedule(input: {name: "minutely", crontab: "* * * * *"}) { id } }"#, json!({})).await?["createSchedule"]["id"].clone();
    a.ok(
        &token,
        "mutation($id: Int!, $s: Int!) { updatePolicy(id: $id, input: {schedule: $s}) { id } }",
        json!({"id": policy, "s": every_minute}),
    )
    .await?;
    let since = Utc::now();
    // Over two and a half minutes, two or three minute marks pass.
    tokio::time::sleep(Duration::from_secs(150)).await;
    let jobs = all_jobs(&nodes[2], &token).await?;
    let mut per_minute: HashMap<String, usize> = HashMap::new();
    for j in jobs
        .iter()
        .filter(|j| j["jobType"] == "job" && j["launchType"] == "scheduled")
    {
        let created = time(&j["created"]).context("created")?;
        assert!(created >= since);
        *per_minute
            .entry(created.format("%H:%M").to_string())
            .or_default() += 1;
    }
    assert!(per_minute.len() >= 2, "fired in {per_minute:?}");
    for (minute, n) in &per_minute {
        assert_eq!(
            *n, 1,
            "the schedule fired {n} times at {minute}: {per_minute:?}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_killed_mid_backup_loses_its_job_at_the_end_of_the_lease() -> Result<()> {
    let mut nodes = cluster()?;
    let token = nodes[0].login().await?;
    let (slow, slow_repo) = local_typed_policy(
        &nodes[0],
        &token,
        "piped",
        &json!({"command": "echo begin; sleep 8; echo end"}).to_string(),
        "slow pass",
    )
    .await?;
    let (quick, _) = local_typed_policy(
        &nodes[0],
        &token,
        "piped",
        &json!({"command": "echo quick"}).to_string(),
        "quick pass",
    )
    .await?;
    // Prepared first: the timed runs are backups only.
    for p in [slow, quick] {
        launch(&nodes[1], &token, p).await?;
    }
    nodes[1].wait_jobs(&token, Duration::from_secs(240)).await?;

    let id = launch_backup(&nodes[1], &token, slow).await?;
    let running = nodes[1]
        .wait_job_status(&token, id, "running", Duration::from_secs(60))
        .await?;
    let victim = running["node"].as_str().context("node")?.to_string();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let index = ["a", "b", "c"]
        .iter()
        .position(|n| *n == victim)
        .context("victim")?;
    let dead = nodes.remove(index);
    drop(dead.crash());
    let killed = Instant::now();
    let other = &nodes[0];
    let j = other
        .wait_job_status(&token, id, "failed", Duration::from_secs(30))
        .await?;
    let why = j["jobExplanation"].as_str().unwrap_or_default();
    assert!(
        why.contains(&format!("node {victim} stopped renewing")),
        "{why}"
    );
    eprintln!(
        "job {id} of node {victim} failed {:?} after the kill",
        killed.elapsed()
    );
    // The others carry on meanwhile: another backup runs and succeeds.
    let q = launch_backup(other, &token, quick).await?;
    other
        .wait_job_status(&token, q, "successful", Duration::from_secs(60))
        .await?;
    let (_, c) = other
        .rest(
            "GET",
            "/api/v1/cluster/",
            Some(&format!("Token {token}")),
            None,
        )
        .await?;
    let gone = c["results"]
        .as_array()
        .context("nodes")?
        .iter()
        .find(|n| n["name"] == victim.as_str())
        .context("victim listed")?
        .clone();
    assert_eq!(gone["alive"], false, "{c}");
    // The console of a surviving node shows the silent node among the three.
    let b = crate::support::browser::Browser::start().await?;
    b.login(
        &other.url,
        crate::support::ADMIN_EMAIL,
        crate::support::ADMIN_PASSWORD,
    )
    .await?;
    crate::ui_console::pages::shots(
        &b,
        &other.url,
        "#/cluster",
        "#cluster-dead",
        "cluster-three-nodes",
    )
    .await?;
    let rows = b
        .js(
            "return document.querySelectorAll('#cluster [data-heartbeat]').length",
            Value::Null,
        )
        .await?;
    assert_eq!(rows, 3);
    b.close().await?;
    // The killed node's borg ends on its own (its sleep); then the next run succeeds.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let next = launch_backup(other, &token, slow).await?;
    let j = other
        .wait_job_status(&token, next, "successful", Duration::from_secs(120))
        .await?;
    assert_ne!(j["node"].as_str(), Some(victim.as_str()));
    let list = crate::support::borg("slow pass", &["list", "--short", &slow_repo])?;
    assert!(
        String::from_utf8_lossy(&list.stdout).contains(j["archiveName"].as_str().unwrap_or("?"))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_on_one_node_streams_to_another_and_its_download_is_served_by_any() -> Result<()> {
    use crate::support::ws::{connect, next_json};
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let nodes = cluster()?;
    let token = nodes[0].login().await?;
    let cmd = "sleep 3; echo first-live-line >&2; echo payload; sleep 2; echo second-live-line >&2";
    let (policy, _) = local_typed_policy(
        &nodes[0],
        &token,
        "piped",
        &json!({"command": cmd}).to_string(),
        "live pass",
    )
    .await?;
    launch(&nodes[0], &token, policy).await?;
    nodes[0].wait_jobs(&token, Duration::from_secs(240)).await?;
    let id = launch_backup(&nodes[1], &token, policy).await?;
    let running = nodes[1]
        .wait_job_status(&token, id, "running", Duration::from_secs(60))
        .await?;
    let runner = running["node"].as_str().context("node")?.to_string();
    // Subscribed on a node that does not run the job.
    let watcher = nodes
        .iter()
        .zip(["a", "b", "c"])
        .find(|(_, n)| *n != runner)
        .map(|(s, _)| s)
        .context("watcher")?;
    let auth = json!({"authorization": format!("Bearer {token}")});
    let mut out = connect(watcher, auth.clone()).await?;
    assert_eq!(next_json(&mut out).await?["type"], "connection_ack");
    out.send(Message::text(json!({"id": "o", "type": "subscribe", "payload": {"query": format!("subscription {{ jobOutput(job: {id}, after: 0) {{ seq text }} }}")}}).to_string())).await?;
    let mut status = connect(watcher, auth).await?;
    assert_eq!(next_json(&mut status).await?["type"], "connection_ack");
    status.send(Message::text(json!({"id": "s", "type": "subscribe", "payload": {"query": "subscription { jobStatus { jobId status } }"}}).to_string())).await?;
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l == "second-live-line") {
        let m = tokio::time::timeout(Duration::from_secs(30), next_json(&mut out)).await??;
        if m["type"] == "next" {
            lines.push(
                m["payload"]["data"]["jobOutput"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    let seqs_in_order = lines.iter().position(|l| l == "first-live-line")
        < lines.iter().position(|l| l == "second-live-line");
    assert!(seqs_in_order, "{lines:?}");
    loop {
        let m = tokio::time::timeout(Duration::from_secs(30), next_json(&mut status)).await??;
        if m["type"] == "next"
            && m["payload"]["data"]["jobStatus"]["jobId"] == id
            && m["payload"]["data"]["jobStatus"]["status"] == "successful"
        {
            break;
        }
    }

    // A download link handed out by one node is served by another, once.
    let src = tempfile::tempdir()?;
    let file = src.path().join("report.txt");
    std::fs::write(&file, "quarterly numbers\n")?;
    let file = file.display().to_string();
    let folders =
        crate::support::local_policy(&nodes[0], &token, &[&file], "download pass").await?;
    let backup = launch_backup(&nodes[0], &token, folders).await?;
    let done = nodes[0]
        .wait_job_status(&token, backup, "successful", Duration::from_secs(180))
        .await?;
    let name = done["archiveName"].as_str().context("archive name")?;
    let archives = nodes[0]
        .ok(
            &token,
            "{ archives(first: 50) { nodes { id name } } }",
            json!({}),
        )
        .await?;
    let archive = archives["archives"]["nodes"]
        .as_array()
        .context("archives")?
        .iter()
        .find(|a| a["name"] == name)
        .and_then(|a| a["id"].as_i64())
        .context("the archive")?;
    let d = nodes[0]
        .ok(
            &token,
            crate::fixture::DOWNLOAD,
            json!({"a": archive, "p": [file]}),
        )
        .await?;
    let path = d["restoreDownload"]["url"].as_str().context("url")?;
    let (status, _, body) = crate::fixture::get(&format!("{}{path}", nodes[1].url)).await?;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(body, b"quarterly numbers\n");
    for n in &nodes {
        let (status, _, _) = crate::fixture::get(&format!("{}{path}", n.url)).await?;
        assert_eq!(status, 410, "used once, on every node");
    }
    Ok(())
}
