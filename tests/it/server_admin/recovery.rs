//! Disaster recovery: a running server backs itself up (`admin backup`), its data directory is
//! destroyed, `admin restore` brings it back into a fresh one, and the restored server has the
//! same inventory, users and secrets (a backup runs with the restored passphrase) and answers
//! the same catalog search once the catalog has rebuilt itself from the repository.

use super::{bin, text};
use crate::support::*;
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const PASSPHRASE: &str = "inventory repository passphrase";
const SELF_PASSPHRASE: &str = "self-backup passphrase kept in a safe";
const INVENTORY: &str = "{ clients { nodes { hostname } } repositories { nodes { name path hasKey } } policies { nodes { name policyType } } users { nodes { email isSuperuser } } }";
const SEARCH: &str = r#"{ catalogSearch(query: "needle-report") { total hits { path size clientHostname lastArchive { name } } } }"#;

fn admin(data_dir: &Path, args: &[&str], repo: &str, pass_file: &Path) -> Result<String> {
    let out = bin()
        .arg("admin")
        .args(args)
        .args(["--repository", repo, "--passphrase-file"])
        .arg(pass_file)
        .arg("--data-dir")
        .arg(data_dir)
        .env("CYBORG_LOG", "warn")
        .output()?;
    anyhow::ensure!(out.status.success(), "admin {args:?}: {}", text(&out));
    Ok(text(&out))
}

/// Waits until every job is finished and successful.
async fn all_jobs_ok(s: &Server, token: &str) -> Result<Vec<Value>> {
    let jobs = s.wait_jobs(token, Duration::from_secs(300)).await?;
    // The first job that did not succeed is the cause; later ones were canceled after it.
    let mut jobs_by_id = jobs.clone();
    jobs_by_id.sort_by_key(|j| j["id"].as_i64());
    for j in &jobs_by_id {
        anyhow::ensure!(
            j["status"] == "successful",
            "job {j}: {}",
            s.job_log(token, j["id"].as_i64().unwrap_or(0)).await?
        );
    }
    Ok(jobs_by_id)
}

#[tokio::test(flavor = "multi_thread")]
async fn self_backup_restores_a_server_on_a_fresh_data_directory() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    // Inventory: a local client, a repository outside the data directory, a policy, a user.
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("needle-report.txt"), "quarterly numbers\n")?;
    let repos = tempfile::tempdir()?;
    let repo = repos.path().join("main").display().to_string();
    s.ok(
        &token,
        r#"mutation { createClient(input: {hostname: "localhost"}) { id } }"#,
        json!({}),
    )
    .await?;
    let client = s
        .ok(&token, "{ clients { nodes { id } } }", json!({}))
        .await?["clients"]["nodes"][0]["id"]
        .as_i64()
        .context("client")?;
    let spec = PolicySpec {
        name: "reports",
        policy_type: "folders",
        clients: vec![client],
        repository: create_repository(&s, &token, "main", &repo, PASSPHRASE).await?,
        schedule: create_schedule(&s, &token, "nightly").await?,
        extra_vars: json!({"folders": [src.path()]}),
        ..Default::default()
    };
    let policy = create_policy(&s, &token, &spec).await?;
    s.ok(&token, r#"mutation { createUser(input: {email: "ops@example.com", password: "ops-password-1"}) { id } }"#, json!({}))
        .await?;
    launch(&s, &token, policy).await?;
    all_jobs_ok(&s, &token).await?;
    let inventory = s.ok(&token, INVENTORY, json!({})).await?;
    let found = s.ok(&token, SEARCH, json!({})).await?;
    assert_eq!(found["catalogSearch"]["total"], 1, "{found}");

    // The self-backup, taken while the server runs.
    let vault = tempfile::tempdir()?;
    let self_repo = vault.path().join("cyborgbackup").display().to_string();
    let pass_file = vault.path().join("passphrase");
    std::fs::write(&pass_file, format!("{SELF_PASSPHRASE}\n"))?;
    let out = admin(s.data_dir.path(), &["backup"], &self_repo, &pass_file)?;
    assert!(out.contains("cyborgbackup-server-"), "{out}");
    assert!(out.contains("master.key"), "{out}");
    // The repository is encrypted with the given passphrase; the master key is inside.
    let listed = borg(SELF_PASSPHRASE, &["list", "--short", &self_repo])?;
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let archive = String::from_utf8_lossy(&listed.stdout).trim().to_string();
    let paths = borg_paths(SELF_PASSPHRASE, &self_repo, &archive)?;
    for f in [
        "cyborgbackup.db",
        "master.key",
        "cyborgbackup-manifest.json",
    ] {
        assert!(paths.iter().any(|p| p == f), "{f} not in {paths:?}");
    }
    assert!(!borg("wrong", &["list", &self_repo])?.status.success());

    // The machine is lost.
    let old = s.crash();
    std::fs::remove_dir_all(old.path())?;
    drop(old);

    // A new machine: restore refuses a directory holding a server, then restores a fresh one.
    let fresh = tempfile::tempdir()?;
    let busy = tempfile::tempdir()?;
    store_with_a_database(busy.path())?;
    let out = bin()
        .args([
            "admin",
            "restore",
            "--repository",
            &self_repo,
            "--passphrase-file",
        ])
        .arg(&pass_file)
        .arg("--data-dir")
        .arg(busy.path())
        .output()?;
    assert!(
        !out.status.success() && text(&out).contains("--replace"),
        "{}",
        text(&out)
    );
    let out = admin(fresh.path(), &["restore"], &self_repo, &pass_file)?;
    assert!(
        out.contains("2 users, 1 clients, 1 repositories, 1 policies, 1 archives"),
        "{out}"
    );

    let s = Server::start_with(fresh, &[])?;
    // The same administrator password, the same inventory and users.
    let token = s.login().await?;
    assert_eq!(s.ok(&token, INVENTORY, json!({})).await?, inventory);
    let r = s
        .gql(None, "mutation { login(email: \"ops@example.com\", password: \"ops-password-1\") { token } }", json!({}))
        .await?;
    assert!(r.data().is_ok(), "restored user cannot log in: {}", r.0);
    // The catalog rebuilds itself from the repository, then answers the same.
    all_jobs_ok(&s, &token).await?;
    assert_eq!(s.ok(&token, SEARCH, json!({})).await?, found);
    // The restored master key opens the repository passphrase: a new backup runs.
    let job = backup_job(&s, &token, policy).await?;
    assert_eq!(
        job["status"],
        "successful",
        "{job}: {}",
        s.job_log(&token, job["id"].as_i64().unwrap_or(0)).await?
    );
    let names = borg(PASSPHRASE, &["list", "--short", &repo])?;
    assert_eq!(String::from_utf8_lossy(&names.stdout).lines().count(), 2);
    Ok(())
}

/// A data directory holding a database and a master key, like a freshly installed server.
fn store_with_a_database(dir: &Path) -> Result<()> {
    let out = bin().arg("migrate").arg("--data-dir").arg(dir).output()?;
    anyhow::ensure!(out.status.success(), "{}", text(&out));
    Ok(())
}
