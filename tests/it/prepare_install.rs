//! Client preparation on a real host without borg (`bare`, 127.0.0.14: an overlay of `/` where
//! borgbackup was removed): it refuses with `install_borg=false`, installs borg from the Debian
//! mirror with `install_borg=true`, and the installed borg then backs up to the repository host.

use crate::support;

use anyhow::{Context, Result};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};
use support::hosts::HostOptions;
use support::*;

const SET: &str =
    "mutation($k: String!, $v: String!) { updateSetting(key: $k, value: $v) { key value } }";
const PREPARE: &str = "mutation($id: Int!) { prepareClient(id: $id) { id } }";

/// Processes whose mount namespace is `ns` (e.g. `mnt:[4026532396]`), zombies excluded.
fn processes_in(ns: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read_link(e.path().join("ns/mnt"))
                .map(|l| l.to_string_lossy() == ns)
                .unwrap_or(false)
        })
        .filter(|e| {
            std::fs::read_to_string(e.path().join("stat"))
                .map(|s| {
                    !s.rsplit(')')
                        .next()
                        .unwrap_or_default()
                        .trim_start()
                        .starts_with('Z')
                })
                .unwrap_or(false)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

async fn prepare(s: &Server, token: &str, client: i64) -> Result<i64> {
    let d = s.ok(token, PREPARE, json!({"id": client})).await?;
    d["prepareClient"]["id"].as_i64().context("job id")
}

#[tokio::test(flavor = "multi_thread")]
async fn preparation_installs_borg_on_a_host_without_it() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let started = Instant::now();
    let hosts = ssh_hosts_with(&s, &token, HostOptions { bare: true }).await?;
    eprintln!("hosts with bare started: {:?}", started.elapsed());
    let ns = std::fs::read_to_string(hosts.dir.path().join("bare/mntns"))?
        .trim()
        .to_string();
    let c = ssh_client(&s, &token, "bare", hosts.port).await?;

    // 1. Installation not allowed: the job fails and says what to do.
    s.ok(&token, SET, json!({"k": "install_borg", "v": "false"}))
        .await?;
    let job = prepare(&s, &token, c).await?;
    let failed = s
        .wait_job_status(&token, job, "failed", Duration::from_secs(60))
        .await?;
    let why = failed["jobExplanation"].as_str().unwrap_or_default();
    assert!(
        why.contains("borg is not installed on bare")
            && why.contains("install the borgbackup package")
            && why.contains("install_borg"),
        "{failed}"
    );
    let d = s
        .ok(
            &token,
            "query($id: Int!) { client(id: $id) { ready version } }",
            json!({"id": c}),
        )
        .await?;
    assert_eq!(d["client"]["ready"], false, "{d}");

    // 2. Installation allowed: apt-get installs borgbackup, the facts are read again.
    s.ok(&token, SET, json!({"k": "install_borg", "v": "true"}))
        .await?;
    let started = Instant::now();
    let job = prepare(&s, &token, c).await?;
    let (_, log) = s.wait_job_ok(&token, job, Duration::from_secs(600)).await?;
    eprintln!("preparation with installation: {:?}", started.elapsed());
    assert!(
        log.contains("borg is missing on bare: installing the borgbackup package"),
        "{log}"
    );
    assert!(log.contains("Setting up borgbackup"), "{log}");
    let d = s
        .ok(
            &token,
            "query($id: Int!) { client(id: $id) { ready version ip os } }",
            json!({"id": c}),
        )
        .await?;
    let client = &d["client"];
    assert_eq!(client["ready"], true, "{d}");
    assert!(
        client["version"]
            .as_str()
            .unwrap_or_default()
            .starts_with("1."),
        "{d}"
    );
    assert!(!client["os"].as_str().unwrap_or_default().is_empty(), "{d}");

    // 3. The installed borg backs up from bare to the repository host (push mode).
    let src = tempfile::tempdir()?;
    std::fs::write(
        src.path().join("installed.txt"),
        "backed up by a fresh borg\n",
    )?;
    let repo_dir = tempfile::tempdir()?;
    let repo_path = format!(
        "ssh://root@repo:{}{}/main",
        hosts.port,
        repo_dir.path().display()
    );
    let spec = PolicySpec {
        name: "bare",
        policy_type: "folders",
        clients: vec![c],
        repository: create_repository(&s, &token, "remote", &repo_path, "bare repo passphrase")
            .await?,
        schedule: create_schedule(&s, &token, "n").await?,
        extra_vars: json!({"folders": [src.path()]}),
        ..Default::default()
    };
    let policy = create_policy(&s, &token, &spec).await?;
    let started = Instant::now();
    let backup = launch_backup(&s, &token, policy).await?;
    let (_, log) = s
        .wait_job_ok(&token, backup, Duration::from_secs(180))
        .await?;
    eprintln!("backup from bare: {:?}", started.elapsed());
    assert!(
        log.contains("borg create") && log.contains(&format!("ssh://root@repo:{}", hosts.port)),
        "{log}"
    );
    assert!(
        hosts.log("bare").contains("Accepted publickey for root"),
        "the backup did not run on bare"
    );
    let list = borg(
        "bare repo passphrase",
        &[
            "list",
            "--short",
            &format!("{}/main", repo_dir.path().display()),
        ],
    )?;
    let names = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(
        names.contains("folders-bare-"),
        "{names}{}",
        String::from_utf8_lossy(&list.stderr)
    );

    // Stopping the hosts ends bare's namespace (its mounts with it); the machine kept its borg.
    assert!(!processes_in(&ns).is_empty(), "bare runs in {ns}");
    drop(hosts);
    assert_eq!(processes_in(&ns), Vec::<String>::new(), "left in {ns}");
    assert!(Path::new("/usr/bin/borg").exists());
    let v = std::process::Command::new("borg")
        .arg("--version")
        .output()?;
    assert!(
        v.status.success() && String::from_utf8_lossy(&v.stdout).starts_with("borg 1."),
        "{v:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_root_backup_user_installs_borg_under_sudo() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let started = Instant::now();
    let hosts = ssh_hosts_with(&s, &token, HostOptions { bare: true }).await?;
    eprintln!("hosts with bare started: {:?}", started.elapsed());
    s.ok(&token, SET, json!({"k": "backup_user", "v": "cyborg"}))
        .await?;
    let c = ssh_client(&s, &token, "bare", hosts.port).await?;
    // `install_borg` is not set: installing is the default.
    let started = Instant::now();
    let job = prepare(&s, &token, c).await?;
    let (_, log) = s.wait_job_ok(&token, job, Duration::from_secs(600)).await?;
    eprintln!("preparation with installation: {:?}", started.elapsed());
    assert!(log.contains("$ sudo -n sh -c"), "{log}");
    assert!(log.contains("Setting up borgbackup"), "{log}");
    assert!(
        hosts.log("bare").contains("Accepted publickey for cyborg"),
        "the server did not log in as cyborg"
    );
    let d = s
        .ok(
            &token,
            "query($id: Int!) { client(id: $id) { ready version } }",
            json!({"id": c}),
        )
        .await?;
    assert_eq!(d["client"]["ready"], true, "{d}");
    assert!(
        d["client"]["version"]
            .as_str()
            .unwrap_or_default()
            .starts_with("1."),
        "{d}"
    );
    drop(hosts);
    assert!(Path::new("/usr/bin/borg").exists());
    Ok(())
}
