//! Inventory and launches through GraphQL for tests: clients, repositories, schedules and
//! policies (local or over SSH), and launching a policy.

use super::{Gql, Server};
use anyhow::{Context, Result};
use serde_json::{json, Value};

/// Creates a local client, a repository in the data dir, a schedule and a folders policy.
pub async fn local_policy(
    s: &Server,
    token: &str,
    folders: &[&str],
    passphrase: &str,
) -> Result<i64> {
    let vars = json!({ "folders": folders }).to_string();
    Ok(local_typed_policy(s, token, "folders", &vars, passphrase)
        .await?
        .0)
}

/// Like [`local_policy`] for any policy type; returns the policy id and the repository path.
pub async fn local_typed_policy(
    s: &Server,
    token: &str,
    policy_type: &str,
    extra_vars: &str,
    passphrase: &str,
) -> Result<(i64, String)> {
    let c = s
        .ok(
            token,
            r#"mutation { createClient(input: {hostname: "localhost"}) { id } }"#,
            json!({}),
        )
        .await;
    let client_id = match c {
        Ok(d) => d["createClient"]["id"].as_i64().context("client id")?,
        Err(_) => s
            .ok(
                token,
                r#"{ clients(search: "localhost", orderBy: CREATED_ASC) { nodes { id hostname } } }"#,
                json!({}),
            )
            .await?["clients"]["nodes"][0]["id"]
            .as_i64()
            .context("client")?,
    };
    let repo_path = s.data_dir.path().join(format!("repo-{}", rand_suffix()));
    let r = s
        .ok(
            token,
            "mutation($p: String!, $k: String!) { createRepository(input: {name: \"local\", path: $p, repositoryKey: $k}) { id } }",
            json!({"p": repo_path.display().to_string(), "k": passphrase}),
        )
        .await?;
    let sc = s
        .ok(
            token,
            r#"mutation { createSchedule(input: {name: "nightly", crontab: "0 3 * * *"}) { id } }"#,
            json!({}),
        )
        .await?;
    let p = s
        .ok(
            token,
            "mutation($c: Int!, $r: Int!, $s: Int!, $t: String!, $v: String!) { createPolicy(input: {name: \"files\", policyType: $t, extraVars: $v, clients: [$c], repository: $r, schedule: $s}) { id } }",
            json!({"c": client_id, "r": r["createRepository"]["id"], "s": sc["createSchedule"]["id"], "t": policy_type, "v": extra_vars}),
        )
        .await?;
    Ok((
        p["createPolicy"]["id"].as_i64().context("policy id")?,
        repo_path.display().to_string(),
    ))
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Creates a client reached over SSH on `port`; returns its id.
pub async fn ssh_client(s: &Server, token: &str, hostname: &str, port: u16) -> Result<i64> {
    let d = s
        .ok(token, "mutation($h: String!, $p: Int!) { createClient(input: {hostname: $h, port: $p}) { id } }", json!({"h": hostname, "p": port}))
        .await?;
    d["createClient"]["id"].as_i64().context("client id")
}

/// Launches a policy; returns the jobs it created (`id`, `jobType`).
pub async fn launch(s: &Server, token: &str, policy: i64) -> Result<Vec<Value>> {
    let d = s
        .ok(
            token,
            "mutation($id: Int!) { launchPolicy(id: $id) { id jobType } }",
            json!({"id": policy}),
        )
        .await?;
    Ok(d["launchPolicy"].as_array().cloned().unwrap_or_default())
}

/// Launches a policy and returns the id of its (first) backup job.
pub async fn launch_backup(s: &Server, token: &str, policy: i64) -> Result<i64> {
    let jobs = launch(s, token, policy).await?;
    jobs.iter()
        .find(|j| j["jobType"] == "job")
        .and_then(|j| j["id"].as_i64())
        .context("the launch made no backup job")
}

/// Creates a repository at `path` (local or `ssh://…`) with `passphrase`; returns its id.
pub async fn create_repository(
    s: &Server,
    token: &str,
    name: &str,
    path: &str,
    passphrase: &str,
) -> Result<i64> {
    let r = s
        .ok(token, "mutation($n: String!, $p: String!, $k: String!) { createRepository(input: {name: $n, path: $p, repositoryKey: $k}) { id } }", json!({"n": name, "p": path, "k": passphrase}))
        .await?;
    r["createRepository"]["id"]
        .as_i64()
        .context("repository id")
}

/// Creates a nightly schedule named `name`; returns its id.
pub async fn create_schedule(s: &Server, token: &str, name: &str) -> Result<i64> {
    let r = s
        .ok(
            token,
            r#"mutation($n: String!) { createSchedule(input: {name: $n, crontab: "0 3 * * *"}) { id } }"#,
            json!({"n": name}),
        )
        .await?;
    r["createSchedule"]["id"].as_i64().context("schedule id")
}

/// A policy to create through GraphQL; `..PolicySpec::default()` fills the rest.
#[derive(Default)]
pub struct PolicySpec<'a> {
    pub name: &'a str,
    pub policy_type: &'a str,
    pub clients: Vec<i64>,
    pub repository: i64,
    pub schedule: i64,
    pub extra_vars: Value,
    pub mode_pull: bool,
    pub prehook: &'a str,
    pub vmprovider: &'a str,
}

/// Creates the policy; returns its id, or the GraphQL error (for validation tests).
pub async fn try_create_policy(s: &Server, token: &str, p: &PolicySpec<'_>) -> Result<Gql> {
    let vars = if p.extra_vars.is_null() {
        "{}".to_string()
    } else {
        p.extra_vars.to_string()
    };
    s.gql(
        Some(token),
        "mutation($n: String!, $t: String!, $c: [Int!]!, $r: Int!, $s: Int!, $v: String!, $m: Boolean!, $h: String!, $vm: String!) { createPolicy(input: {name: $n, policyType: $t, extraVars: $v, clients: $c, repository: $r, schedule: $s, modePull: $m, prehook: $h, vmprovider: $vm}) { id } }",
        json!({"n": p.name, "t": p.policy_type, "c": p.clients, "r": p.repository, "s": p.schedule, "v": vars, "m": p.mode_pull, "h": p.prehook, "vm": p.vmprovider}),
    )
    .await
}

/// Creates the policy; returns its id.
pub async fn create_policy(s: &Server, token: &str, p: &PolicySpec<'_>) -> Result<i64> {
    let r = try_create_policy(s, token, p).await?;
    r.data()?["createPolicy"]["id"]
        .as_i64()
        .context("policy id")
}

/// Launches a policy, waits for every job, and returns its backup job (whatever its status).
pub async fn backup_job(s: &Server, token: &str, policy: i64) -> Result<Value> {
    launch(s, token, policy).await?;
    let jobs = s
        .wait_jobs(token, std::time::Duration::from_secs(300))
        .await?;
    jobs.into_iter()
        .find(|j| j["jobType"] == "job")
        .context("no backup job")
}
