//! proxmox and vm policy types with stand-in `vzdump` and `qm` commands placed first on the
//! server's PATH: one archive per run holding one vzdump file per guest, checked byte for byte
//! with `borg extract --stdout`; a failing vzdump fails the job and leaves no archive.

use crate::support;

use anyhow::{Context, Result};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use support::*;

const PASS: &str = "vm passphrase";

/// What the stand-in vzdump prints for a guest.
fn image(id: &str) -> String {
    (1..=2000)
        .map(|i| format!("vma {id} block {i:05}\n"))
        .collect()
}

const VZDUMP: &str = r#"#!/bin/bash
# Stand-in for Proxmox's vzdump: `vzdump ID --stdout --mode snapshot`.
id=$1
if [ "$2 $3 $4" != "--stdout --mode snapshot" ]; then echo "stand-in vzdump: unexpected arguments: $*" >&2; exit 2; fi
case "$id" in 100|101|120) ;; *) echo "ERROR: Backup of VM $id failed - unable to find VM '$id'" >&2; exit 255;; esac
echo "INFO: starting new backup job: vzdump $id --stdout --mode snapshot" >&2
for i in $(seq 1 2000); do printf 'vma %s block %05d\n' "$id" "$i"; done
"#;

const QM: &str = r#"#!/bin/bash
# Stand-in for Proxmox's qm: only `qm list`.
[ "$1" = list ] || { echo "stand-in qm: unexpected arguments: $*" >&2; exit 2; }
echo "      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID"
echo "       100 web-db               running    2048              32.00 1234"
echo "       120 vm1                  running    1024              16.00 1240"
"#;

/// A directory with the stand-in commands, and the PATH that puts it first.
fn stand_ins() -> Result<(tempfile::TempDir, String)> {
    let dir = tempfile::tempdir()?;
    for (name, text) in [("vzdump", VZDUMP), ("qm", QM)] {
        let p = dir.path().join(name);
        std::fs::write(&p, text)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
    }
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Ok((dir, path))
}

#[tokio::test(flavor = "multi_thread")]
async fn proxmox_backs_up_each_vm_as_its_own_file() -> Result<()> {
    let (_bin, path) = stand_ins()?;
    let s = Server::start_with(tempfile::tempdir()?, &[("PATH", &path)])?;
    let token = s.login().await?;
    let vars = json!({"vmids": [100, "101"]}).to_string();
    let (policy, repo) = local_typed_policy(&s, &token, "proxmox", &vars, PASS).await?;
    let job = backup_job(&s, &token, policy).await?;
    let log = s.job_log(&token, job["id"].as_i64().unwrap_or(0)).await?;
    assert_eq!(job["status"], "successful", "{log}");
    assert!(
        log.contains("INFO: starting new backup job: vzdump 101"),
        "vzdump's own log is in the job log:\n{log}"
    );
    let archive = job["archiveName"].as_str().unwrap_or_default();
    assert!(archive.starts_with("proxmox-localhost-"), "{archive}");
    assert_eq!(
        borg_paths(PASS, &repo, archive)?,
        ["vzdump-qemu-100.vma", "vzdump-qemu-101.vma"]
    );
    assert_eq!(
        borg_extract(PASS, &repo, archive, "vzdump-qemu-100.vma")?,
        image("100")
    );
    assert_eq!(
        borg_extract(PASS, &repo, archive, "vzdump-qemu-101.vma")?,
        image("101")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn proxmox_failing_vzdump_fails_the_job_and_leaves_no_archive() -> Result<()> {
    let (_bin, path) = stand_ins()?;
    let s = Server::start_with(tempfile::tempdir()?, &[("PATH", &path)])?;
    let token = s.login().await?;
    let (policy, repo) = local_typed_policy(
        &s,
        &token,
        "proxmox",
        &json!({"vmids": ["100", "999"]}).to_string(),
        PASS,
    )
    .await?;
    let job = backup_job(&s, &token, policy).await?;
    let log = s.job_log(&token, job["id"].as_i64().unwrap_or(0)).await?;
    assert_eq!(job["status"], "failed", "{log}");
    let why = job["jobExplanation"].as_str().unwrap_or_default();
    assert!(
        why.contains("unable to find VM '999'"),
        "unclear explanation: {why}\n{log}"
    );
    assert!(
        log.contains("vzdump-qemu-999.vma: producer exited 255"),
        "{log}"
    );
    assert_no_archives(PASS, &repo)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn vm_policy_runs_the_proxmox_provider_on_the_hypervisor() -> Result<()> {
    let (_bin, path) = stand_ins()?;
    let s = Server::start_with(tempfile::tempdir()?, &[("PATH", &path)])?;
    let token = s.login().await?;
    // The VM is the client; its hypervisor (here the server itself) runs the backup.
    let c = s
        .ok(&token, r#"mutation { createClient(input: {hostname: "vm1", hypervisorName: "localhost", ready: true}) { id } }"#, json!({}))
        .await?;
    let repo = s.data_dir.path().join("repo-vm").display().to_string();
    let r = s
        .ok(&token, "mutation($p: String!, $k: String!) { createRepository(input: {name: \"vms\", path: $p, repositoryKey: $k}) { id } }", json!({"p": repo, "k": PASS}))
        .await?;
    let sc = s
        .ok(
            &token,
            r#"mutation { createSchedule(input: {name: "nightly", crontab: "0 3 * * *"}) { id } }"#,
            json!({}),
        )
        .await?;
    let p = s
        .ok(
            &token,
            "mutation($c: Int!, $r: Int!, $s: Int!) { createPolicy(input: {name: \"vms\", policyType: \"vm\", vmprovider: \"proxmox\", clients: [$c], repository: $r, schedule: $s}) { id } }",
            json!({"c": c["createClient"]["id"], "r": r["createRepository"]["id"], "s": sc["createSchedule"]["id"]}),
        )
        .await?;
    let job = backup_job(
        &s,
        &token,
        p["createPolicy"]["id"].as_i64().context("policy id")?,
    )
    .await?;
    let log = s.job_log(&token, job["id"].as_i64().unwrap_or(0)).await?;
    assert_eq!(job["status"], "successful", "{log}");
    assert!(log.contains("backing up VM 120 (vm1)"), "{log}");
    let archive = job["archiveName"].as_str().unwrap_or_default();
    assert!(archive.starts_with("vm-vm1-"), "{archive}");
    assert_eq!(borg_paths(PASS, &repo, archive)?, ["vzdump-qemu-vm1.vma"]);
    assert_eq!(
        borg_extract(PASS, &repo, archive, "vzdump-qemu-vm1.vma")?,
        image("120")
    );
    Ok(())
}
