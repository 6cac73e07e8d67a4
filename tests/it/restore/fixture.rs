//! The restore tests' fixture: a server whose client web1 backed up a folder (a 0640 file and a
//! nested one) to the repository host, and helpers to run restores and read what they wrote.

use crate::support::*;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const PASSPHRASE: &str = "restore repo passphrase";
pub const SECRET_CONTENT: &str = "db_password=hunter2\nport=5432\n";
pub const RESTORE: &str =
    "mutation($i: RestoreInput!) { restore(input: $i) { id jobType status archiveName } }";
pub const DOWNLOAD: &str = "mutation($a: Int!, $p: [String!]!) { restoreDownload(archive: $a, paths: $p) { url expiresAt filename } }";

/// A server with web1 backed up to the repository host.
pub struct Fixture {
    pub s: Server,
    pub token: String,
    _hosts: hosts::TestHosts,
    /// The backed-up folder on web1 (same filesystem: loopback hosts).
    pub src: tempfile::TempDir,
    pub repo_dir: tempfile::TempDir,
    pub archive: i64,
    pub web1: i64,
    pub web2: i64,
}

impl Fixture {
    pub fn secret(&self) -> PathBuf {
        self.src.path().join("secret.conf")
    }
    pub fn nested(&self) -> PathBuf {
        self.src.path().join("sub/nested.txt")
    }
}

pub async fn fixture(pull: bool) -> Result<Fixture> {
    let s = Server::start()?;
    let token = s.login().await?;
    let hosts = ssh_hosts(&s, &token).await?;
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("secret.conf"), SECRET_CONTENT)?;
    std::fs::set_permissions(
        src.path().join("secret.conf"),
        std::fs::Permissions::from_mode(0o640),
    )?;
    std::fs::create_dir(src.path().join("sub"))?;
    std::fs::write(src.path().join("sub/nested.txt"), "nested file\n")?;
    let repo_dir = tempfile::tempdir()?;
    let repo_path = format!(
        "ssh://root@repo:{}{}/main",
        hosts.port,
        repo_dir.path().display()
    );
    let web1 = ssh_client(&s, &token, "web1", hosts.port).await?;
    let web2 = ssh_client(&s, &token, "web2", hosts.port).await?;
    let spec = PolicySpec {
        name: "docs",
        policy_type: "folders",
        clients: vec![web1],
        repository: create_repository(&s, &token, "remote", &repo_path, PASSPHRASE).await?,
        schedule: create_schedule(&s, &token, "n").await?,
        extra_vars: json!({"folders": [src.path()]}),
        mode_pull: pull,
        ..Default::default()
    };
    launch_backup(&s, &token, create_policy(&s, &token, &spec).await?).await?;
    let jobs = s.wait_jobs(&token, Duration::from_secs(180)).await?;
    for j in &jobs {
        if j["status"] != "successful" {
            bail!(
                "setup job {j} failed:\n{}",
                s.job_log(&token, j["id"].as_i64().unwrap_or(0)).await?
            );
        }
    }
    let archive = first_archive(&s, &token).await?;
    Ok(Fixture {
        s,
        token,
        _hosts: hosts,
        src,
        repo_dir,
        archive,
        web1,
        web2,
    })
}

/// The id of the (only) archive, whichever shape the archives list has.
pub async fn first_archive(s: &Server, token: &str) -> Result<i64> {
    let g = s
        .gql(Some(token), "{ archives { nodes { id name } } }", json!({}))
        .await?;
    let list = match g.data() {
        Ok(d) => d["archives"]["nodes"].clone(),
        Err(_) => s.ok(token, "{ archives { id name } }", json!({})).await?["archives"].clone(),
    };
    list[0]["id"].as_i64().context("no archive recorded")
}

/// Launches a restore and waits for it to end; returns the job (`status`, `jobExplanation`).
pub async fn restore(s: &Server, token: &str, input: Value) -> Result<(i64, Value)> {
    let d = s.ok(token, RESTORE, json!({ "i": input })).await?;
    let job = &d["restore"];
    assert_eq!(job["jobType"], "restore", "{d}");
    let id = job["id"].as_i64().context("job id")?;
    Ok((id, wait_finished(s, token, id).await?))
}

pub async fn wait_finished(s: &Server, token: &str, id: i64) -> Result<Value> {
    let start = std::time::Instant::now();
    loop {
        let j = s
            .ok(
                token,
                "query($id: Int!) { job(id: $id) { id status jobExplanation nfiles originalSize } }",
                json!({"id": id}),
            )
            .await?;
        let st = j["job"]["status"].as_str().unwrap_or_default().to_string();
        if matches!(st.as_str(), "successful" | "failed" | "error" | "canceled") {
            return Ok(j["job"].clone());
        }
        if start.elapsed() > Duration::from_secs(120) {
            bail!("restore job {id} did not finish: {j}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn mode(p: &Path) -> Result<u32> {
    Ok(std::fs::metadata(p)?.permissions().mode() & 0o7777)
}

/// `dir` + the absolute path `abs`.
pub fn under(dir: &Path, abs: &Path) -> PathBuf {
    dir.join(abs.strip_prefix("/").unwrap_or(abs))
}

pub async fn get(url: &str) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>)> {
    let r = reqwest::get(url).await?;
    let status = r.status().as_u16();
    let h = r.headers().clone();
    Ok((status, h, r.bytes().await?.to_vec()))
}

/// Flips bytes in the largest segment file of a local repository, `from_end` bytes before its
/// end: inside the last data written, so borg fails after it has sent the earlier chunks.
pub fn corrupt_segment(repo: &Path, from_end: u64) -> Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let mut largest: Option<(u64, PathBuf)> = None;
    for dir in std::fs::read_dir(repo.join("data"))? {
        for f in std::fs::read_dir(dir?.path())? {
            let f = f?;
            let len = f.metadata()?.len();
            if largest.as_ref().is_none_or(|(l, _)| len > *l) {
                largest = Some((len, f.path()));
            }
        }
    }
    let (len, path) = largest.context("no segment file")?;
    anyhow::ensure!(
        len > from_end + 4096,
        "segment {} too small",
        path.display()
    );
    let mut file = std::fs::OpenOptions::new().write(true).open(&path)?;
    file.seek(SeekFrom::Start(len - from_end))?;
    file.write_all(&[0x55; 4096])?;
    Ok(())
}
