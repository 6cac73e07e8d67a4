//! Test harness: the real `cyborgbackup` binary started on port 0 with a temporary data
//! directory, and a small GraphQL client.
#![allow(dead_code)]

pub mod browser;
pub mod cluster;
pub mod db;
#[path = "../../../executor/tests/support/hosts.rs"]
pub mod hosts;
pub mod mime;
mod objects;
pub mod rest;
pub mod sinks;
pub mod ws;

#[allow(unused_imports)] // not every test binary creates objects
pub use objects::*;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN_EMAIL: &str = "admin@cyborg.local";
pub const ADMIN_PASSWORD: &str = "test-admin-password";

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    pub data_dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The result of a GraphQL call: data, or errors with their extensions.
pub struct Gql(pub Value);

impl Gql {
    pub fn data(&self) -> Result<&Value> {
        if let Some(errs) = self.0.get("errors") {
            bail!("graphql errors: {errs}");
        }
        self.0
            .get("data")
            .ok_or_else(|| anyhow!("no data in {}", self.0))
    }

    /// The `code` extension of the first error.
    pub fn error_code(&self) -> Option<&str> {
        self.0["errors"][0]["extensions"]["code"].as_str()
    }

    /// The `field` extension of the first error.
    pub fn error_field(&self) -> Option<&str> {
        self.0["errors"][0]["extensions"]["field"].as_str()
    }

    pub fn error_message(&self) -> String {
        self.0["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl Server {
    pub fn start() -> Result<Server> {
        Self::start_with(tempfile::tempdir()?, &[])
    }

    /// Starts the server on an existing data directory with extra environment variables.
    pub fn start_with(data_dir: tempfile::TempDir, env: &[(&str, &str)]) -> Result<Server> {
        Self::start_at(data_dir, "127.0.0.1:0", env)
    }

    /// Starts the server listening on `listen` (a loopback address, port 0).
    pub fn start_at(
        data_dir: tempfile::TempDir,
        listen: &str,
        env: &[(&str, &str)],
    ) -> Result<Server> {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cyborgbackup"));
        if store::testing::postgres_selected()
            && !env.iter().any(|(k, _)| *k == "CYBORG_DATABASE_URL")
        {
            // The whole suite on PostgreSQL: each data directory gets a database of its own,
            // kept across restarts of the server on that directory.
            let f = data_dir.path().join("test-database-url");
            let url = match std::fs::read_to_string(&f) {
                Ok(u) => u,
                Err(_) => {
                    let u = store::testing::new_test_database();
                    std::fs::write(&f, &u)?;
                    u
                }
            };
            cmd.env("CYBORG_DATABASE_URL", url.trim());
        }
        cmd.args(["serve", "--listen", listen, "--data-dir"])
            .arg(data_dir.path())
            .env("CYBORG_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("CYBORG_SCHEDULER_TICK_SECONDS", "1")
            .env("CYBORG_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().context("starting cyborgbackup")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines.next().context("server exited before listening")??;
            if let Some(u) = line.strip_prefix("CyBorgBackup listening on ") {
                break u.trim().to_string();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(Server {
            child,
            url,
            data_dir,
            http: reqwest::Client::new(),
        })
    }

    /// The process id of the server (for reading its memory in /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`HUP`, `TERM`, …) to the server process.
    pub fn signal(&self, name: &str) -> Result<()> {
        let st = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()?;
        anyhow::ensure!(st.success(), "kill -{name} failed");
        Ok(())
    }

    /// Kills the server with SIGKILL (a crash) and hands back its data directory.
    pub fn crash(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().expect("tempdir");
        std::mem::replace(&mut self.data_dir, dir)
    }

    /// Stops the server with SIGTERM (a graceful shutdown) and hands back its data directory.
    pub fn terminate(mut self) -> tempfile::TempDir {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().expect("tempdir");
        std::mem::replace(&mut self.data_dir, dir)
    }

    /// Waits until a job reaches `status`.
    pub async fn wait_job_status(
        &self,
        token: &str,
        id: i64,
        status: &str,
        timeout: Duration,
    ) -> Result<Value> {
        let start = Instant::now();
        loop {
            let j = self.ok(token, "query($id: Int!) { job(id: $id) { id status jobExplanation started finished archiveName node } }", json!({"id": id})).await?;
            if j["job"]["status"] == status {
                return Ok(j["job"].clone());
            }
            if start.elapsed() > timeout {
                bail!("job {id} not {status} after {timeout:?}: {}", j["job"]);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Result<Gql> {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.url))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let v: Value = req.send().await?.json().await?;
        Ok(Gql(v))
    }

    pub async fn login(&self) -> Result<String> {
        let r = self
            .gql(
                None,
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
                json!({"e": ADMIN_EMAIL, "p": ADMIN_PASSWORD}),
            )
            .await?;
        Ok(r.data()?["login"]["token"]
            .as_str()
            .context("no token")?
            .to_string())
    }

    /// Runs a query that must succeed and returns its data.
    pub async fn ok(&self, token: &str, query: &str, variables: Value) -> Result<Value> {
        Ok(self
            .gql(Some(token), query, variables)
            .await?
            .data()?
            .clone())
    }

    /// Waits until every job is finished; returns them.
    pub async fn wait_jobs(&self, token: &str, timeout: Duration) -> Result<Vec<Value>> {
        let start = Instant::now();
        loop {
            let d = self.ok(token, "{ jobs(first: 500) { nodes { id jobType status jobExplanation archiveName launchType exitCode } } }", json!({})).await?;
            let jobs = d["jobs"]["nodes"].as_array().cloned().unwrap_or_default();
            let done = !jobs.is_empty()
                && jobs.iter().all(|j| {
                    matches!(
                        j["status"].as_str(),
                        Some("successful" | "failed" | "error" | "canceled")
                    )
                });
            if done {
                return Ok(jobs);
            }
            if start.elapsed() > timeout {
                bail!("jobs not finished after {timeout:?}: {jobs:?}");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// A REST call: `auth` is the whole `Authorization` value (`Token …`, `Basic …`). Returns
    /// the status and the body as JSON (a JSON string for a non-JSON body, null when empty).
    pub async fn rest(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        let (status, _, body) = self.rest_full(method, path, auth, body, &[]).await?;
        Ok((status, body))
    }

    /// Like [`Server::rest`] with extra request headers; also returns the response headers.
    pub async fn rest_full(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Result<(u16, reqwest::header::HeaderMap, Value)> {
        let m = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut req = self.http.request(m, format!("{}{path}", self.url));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let h = resp.headers().clone();
        let text = resp.text().await?;
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, h, v))
    }

    /// The output lines of a job (`at`, `text`).
    async fn job_output(&self, token: &str, id: i64) -> Result<Vec<Value>> {
        let d = self
            .ok(
                token,
                "query($id: Int!) { job(id: $id) { output(limit: 10000) { at text } } }",
                json!({"id": id}),
            )
            .await?;
        Ok(d["job"]["output"].as_array().cloned().unwrap_or_default())
    }

    /// The output lines of a job, joined.
    pub async fn job_log(&self, token: &str, id: i64) -> Result<String> {
        Ok(self
            .job_output(token, id)
            .await?
            .iter()
            .filter_map(|l| l["text"].as_str().map(String::from))
            .collect::<Vec<_>>()
            .join("\n"))
    }

    /// Waits until a job succeeds; returns it and its log, or fails with the log, timestamped.
    pub async fn wait_job_ok(
        &self,
        token: &str,
        id: i64,
        timeout: Duration,
    ) -> Result<(Value, String)> {
        match self.wait_job_status(token, id, "successful", timeout).await {
            Ok(job) => Ok((job, self.job_log(token, id).await?)),
            Err(e) => {
                let timed: Vec<String> = self
                    .job_output(token, id)
                    .await?
                    .iter()
                    .map(|l| format!("{} {}", l["at"], l["text"]))
                    .collect();
                bail!("{e}\n{}", timed.join("\n"))
            }
        }
    }
}

/// Runs borg directly against a local repository (for checking archive contents).
pub fn borg(repo_passphrase: &str, args: &[&str]) -> Result<std::process::Output> {
    let out = Command::new("borg")
        .args(args)
        .env("BORG_PASSPHRASE", repo_passphrase)
        .env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes")
        .env("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes")
        .env(
            "BORG_BASE_DIR",
            std::env::temp_dir().join("cyborg-test-borg-base"),
        )
        .env("TZ", "UTC")
        .output()
        .context("running borg")?;
    Ok(out)
}

/// The content of `file` in `repo::archive`, read with borg itself.
pub fn borg_extract(passphrase: &str, repo: &str, archive: &str, file: &str) -> Result<String> {
    let out = borg(
        passphrase,
        &["extract", "--stdout", &format!("{repo}::{archive}"), file],
    )?;
    if !out.status.success() {
        bail!(
            "borg extract {file} from {archive}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Every path in `repo::archive`, read with borg itself.
pub fn borg_paths(passphrase: &str, repo: &str, archive: &str) -> Result<Vec<String>> {
    let out = borg(
        passphrase,
        &["list", "--json-lines", &format!("{repo}::{archive}")],
    )?;
    if !out.status.success() {
        bail!("borg list: {}", String::from_utf8_lossy(&out.stderr));
    }
    let mut paths = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(line)?;
        paths.push(v["path"].as_str().unwrap_or_default().to_string());
    }
    Ok(paths)
}

/// Fails unless `repo` holds no archive (a failed backup must not leave a partial one).
pub fn assert_no_archives(passphrase: &str, repo: &str) -> Result<()> {
    let list = borg(passphrase, &["list", "--short", repo])?;
    anyhow::ensure!(
        list.status.success(),
        "borg list: {}",
        String::from_utf8_lossy(&list.stderr)
    );
    let names = String::from_utf8_lossy(&list.stdout);
    anyhow::ensure!(
        names.trim().is_empty(),
        "a partial archive was left behind: {names}"
    );
    Ok(())
}

/// Generates the server's SSH key and starts the loopback hosts repo/web1/web2 authorizing it.
pub async fn ssh_hosts(s: &Server, token: &str) -> Result<hosts::TestHosts> {
    ssh_hosts_with(s, token, hosts::HostOptions::default()).await
}

/// Like [`ssh_hosts`], with optional hosts (e.g. `bare`, a client without borg).
pub async fn ssh_hosts_with(
    s: &Server,
    token: &str,
    opts: hosts::HostOptions,
) -> Result<hosts::TestHosts> {
    let d = s
        .ok(token, "mutation { generateSshKey }", json!({}))
        .await?;
    let pubkey = d["generateSshKey"]
        .as_str()
        .context("no public key")?
        .to_string();
    anyhow::ensure!(
        pubkey.starts_with("ssh-ed25519 "),
        "unexpected key {pubkey}"
    );
    Ok(hosts::TestHosts::start_with(&[&pubkey], opts))
}
