//! A GraphQL client for a server running in a container (reached on its Docker network
//! address), and the scenario both deployments are checked with: a client host backed up over
//! SSH to a repository host, found in the catalog, restored.

use super::docker::Container;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub const ADMIN_PASSWORD: &str = "deployment-admin-password";
pub const PASSPHRASE: &str = "deployment repository passphrase";
pub const NEEDLE: &str = "needle-deploy.txt";
pub const NEEDLE_CONTENT: &str = "the file the catalog must find\n";

pub struct Remote {
    pub url: String,
    http: reqwest::Client,
    pub token: String,
}

impl Remote {
    /// Waits until `url/readyz` answers 200, then logs in as the first administrator.
    pub async fn connect(url: &str, timeout: Duration) -> Result<Remote> {
        // reqwest is built without a crypto provider (see report/).
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let start = Instant::now();
        loop {
            match http.get(format!("{url}/readyz")).send().await {
                Ok(r) if r.status() == 200 => break,
                Ok(r) if start.elapsed() > timeout => bail!("{url} not ready: {}", r.text().await?),
                Err(e) if start.elapsed() > timeout => bail!("{url} does not answer: {e}"),
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
        let mut r = Remote {
            url: url.to_string(),
            http,
            token: String::new(),
        };
        let d = r
            .ok("mutation($p: String!) { login(email: \"admin@cyborg.local\", password: $p) { token } }", json!({"p": ADMIN_PASSWORD}))
            .await?;
        r.token = d["login"]["token"]
            .as_str()
            .context("no token")?
            .to_string();
        Ok(r)
    }

    /// A query that must succeed; returns its data.
    pub async fn ok(&self, query: &str, variables: Value) -> Result<Value> {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.url))
            .json(&json!({"query": query, "variables": variables}));
        if !self.token.is_empty() {
            req = req.bearer_auth(&self.token);
        }
        let v: Value = req.send().await?.json().await?;
        if let Some(e) = v.get("errors") {
            bail!("graphql errors: {e}");
        }
        Ok(v["data"].clone())
    }

    pub async fn job(&self, id: i64) -> Result<Value> {
        let d = self
            .ok(
                "query($id: Int!) { job(id: $id) { id jobType status jobExplanation } }",
                json!({"id": id}),
            )
            .await?;
        Ok(d["job"].clone())
    }

    pub async fn job_log(&self, id: i64) -> Result<String> {
        let d = self
            .ok(
                "query($id: Int!) { job(id: $id) { output(limit: 10000) { text } } }",
                json!({"id": id}),
            )
            .await?;
        Ok(d["job"]["output"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|x| x["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default())
    }

    /// Waits until the job has finished; returns it.
    pub async fn finished(&self, id: i64, timeout: Duration) -> Result<Value> {
        let start = Instant::now();
        loop {
            let j = self.job(id).await?;
            if matches!(
                j["status"].as_str(),
                Some("successful" | "failed" | "error" | "canceled")
            ) {
                return Ok(j);
            }
            if start.elapsed() > timeout {
                bail!("job {id} not finished after {timeout:?}: {j}");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Launches a policy; returns the id of its backup job and of its first job.
    pub async fn launch(&self, policy: i64) -> Result<(i64, i64)> {
        let d = self
            .ok(
                "mutation($id: Int!) { launchPolicy(id: $id) { id jobType } }",
                json!({"id": policy}),
            )
            .await?;
        let jobs = d["launchPolicy"].as_array().cloned().unwrap_or_default();
        let first = jobs
            .iter()
            .filter_map(|j| j["id"].as_i64())
            .min()
            .context("no job")?;
        let backup = jobs
            .iter()
            .find(|j| j["jobType"] == "job")
            .and_then(|j| j["id"].as_i64())
            .context("the launch made no backup job")?;
        Ok((backup, first))
    }

    /// Launches a policy and waits until every job from its first on (preparation, backup,
    /// catalog, prune) has succeeded; returns the backup job.
    pub async fn launch_ok(&self, policy: i64) -> Result<Value> {
        let (backup, first) = self.launch(policy).await?;
        let start = Instant::now();
        loop {
            let d = self
                .ok(
                    "{ jobs(first: 500) { nodes { id jobType status } } }",
                    json!({}),
                )
                .await?;
            let jobs: Vec<Value> = d["jobs"]["nodes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|j| j["id"].as_i64().unwrap_or(0) >= first)
                .collect();
            let mut done = true;
            for j in &jobs {
                match j["status"].as_str() {
                    Some("successful") => {}
                    Some("failed" | "error" | "canceled") => {
                        let id = j["id"].as_i64().unwrap_or(0);
                        bail!("job {j}: {}", self.job_log(id).await?);
                    }
                    _ => done = false,
                }
            }
            if done {
                return self.job(backup).await;
            }
            if start.elapsed() > Duration::from_secs(600) {
                bail!("jobs not finished: {jobs:?}");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// The inventory of the scenario.
pub struct Scenario {
    pub client: i64,
    pub repository: i64,
    pub folders: i64,
}

/// Authorizes the server's SSH key on the hosts, then creates the client `web1`, a repository
/// on `repo` and a folders policy backing up /srv/data of web1.
pub async fn inventory(api: &Remote, hosts: &[&Container]) -> Result<Scenario> {
    let key = api.ok("mutation { generateSshKey }", json!({})).await?["generateSshKey"]
        .as_str()
        .context("no public key")?
        .to_string();
    for h in hosts {
        h.exec_stdin(
            &["sh", "-c", "cat >>/root/.ssh/authorized_keys"],
            &format!("{key}\n"),
        )?;
    }
    let client = api
        .ok(
            r#"mutation { createClient(input: {hostname: "web1", port: 22}) { id } }"#,
            json!({}),
        )
        .await?["createClient"]["id"]
        .as_i64()
        .context("client id")?;
    let repository = api
        .ok("mutation($k: String!) { createRepository(input: {name: \"vault\", path: \"ssh://root@repo:22/srv/borg/web1\", repositoryKey: $k}) { id } }", json!({"k": PASSPHRASE}))
        .await?["createRepository"]["id"]
        .as_i64()
        .context("repository id")?;
    let schedule = api
        .ok(
            r#"mutation { createSchedule(input: {name: "nightly", crontab: "0 3 * * *"}) { id } }"#,
            json!({}),
        )
        .await?["createSchedule"]["id"]
        .as_i64()
        .context("schedule id")?;
    let folders = api
        .ok("mutation($c: Int!, $r: Int!, $s: Int!) { createPolicy(input: {name: \"data\", policyType: \"folders\", extraVars: \"{\\\"folders\\\": [\\\"/srv/data\\\"]}\", clients: [$c], repository: $r, schedule: $s}) { id } }", json!({"c": client, "r": repository, "s": schedule}))
        .await?["createPolicy"]["id"]
        .as_i64()
        .context("policy id")?;
    Ok(Scenario {
        client,
        repository,
        folders,
    })
}

/// The catalog search for the needle: (total, first hit's path and client).
pub async fn find_needle(api: &Remote) -> Result<Value> {
    let d = api
        .ok(r#"{ catalogSearch(query: "needle-deploy") { total hits { path size clientHostname lastArchive { id name } } } }"#, json!({}))
        .await?;
    Ok(d["catalogSearch"].clone())
}

/// Restores the needle to web1 under /restored; returns the restored file's content.
pub async fn restore_needle(api: &Remote, web1: &Container) -> Result<String> {
    let hit = find_needle(api).await?;
    let archive = hit["hits"][0]["lastArchive"]["id"]
        .as_i64()
        .context("no archive")?;
    let path = hit["hits"][0]["path"]
        .as_str()
        .context("no path")?
        .to_string();
    let d = api
        .ok(
            "mutation($i: RestoreInput!) { restore(input: $i) { id } }",
            json!({"i": {"archive": archive, "paths": [path], "targetDirectory": "/restored"}}),
        )
        .await?;
    let id = d["restore"]["id"].as_i64().context("restore job")?;
    let j = api.finished(id, Duration::from_secs(300)).await?;
    if j["status"] != "successful" {
        bail!("restore {j}: {}", api.job_log(id).await?);
    }
    web1.exec(&[
        "cat",
        &format!("/restored/{}", path.trim_start_matches('/')),
    ])
}
