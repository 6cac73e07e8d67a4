//! `cyborgbackup migrate-to-postgres`: a SQLite server's inventory, jobs and sealed secrets
//! copied into a real PostgreSQL database; the server started on it with the same data
//! directory finds everything, opens the secrets, backs up again and numbers new rows after the
//! copied ones. A database that is not empty is refused without a change.

use crate::support::{launch_backup, local_typed_policy, Server};
use anyhow::{Context, Result};
use serde_json::json;
use std::process::Command;
use std::time::Duration;

fn migrate(dir: &std::path::Path, to: &str) -> Result<std::process::Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_cyborgbackup"))
        .args(["migrate-to-postgres", "--data-dir"])
        .arg(dir)
        .args(["--to", to])
        .env("CYBORG_LOG", "warn")
        .env_remove("CYBORG_DATABASE_URL")
        .output()?)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_server_moves_to_postgresql_with_its_history_and_secrets() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let pass = "moved passphrase";
    let (policy, repo) = local_typed_policy(
        &s,
        &token,
        "piped",
        &json!({"command": "echo before the move"}).to_string(),
        pass,
    )
    .await?;
    crate::support::launch(&s, &token, policy).await?;
    let before = s.wait_jobs(&token, Duration::from_secs(180)).await?;
    assert!(
        before.iter().all(|j| j["status"] == "successful"),
        "{before:?}"
    );
    let mail = s
        .ok(
            &token,
            r#"mutation { updateSettings(input: [{key: "mail.password", value: "smtp-secret-9"}]) { key } }"#,
            json!({}),
        )
        .await;
    mail?;
    let dir = s.terminate();

    let url = store::testing::new_test_database();
    let bad = migrate(dir.path(), "mysql://nope")?;
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--to"),
        "{bad:?}"
    );
    let out = migrate(dir.path(), &url)?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("jobs"), "progress per table: {text}");
    assert!(
        !text.contains("cyborg_test:"),
        "the password of the URL is printed: {text}"
    );
    // A second copy into the now filled database is refused.
    let again = migrate(dir.path(), &url)?;
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{again:?}"
    );

    let s = Server::start_with(dir, &[("CYBORG_DATABASE_URL", &url)])?;
    let token = s.login().await?;
    let jobs = s
        .ok(
            &token,
            "{ jobs(first: 100) { nodes { id status } } }",
            json!({}),
        )
        .await?;
    let moved = jobs["jobs"]["nodes"].as_array().context("jobs")?;
    assert_eq!(moved.len(), before.len(), "{jobs}");
    let max_id = moved
        .iter()
        .filter_map(|j| j["id"].as_i64())
        .max()
        .unwrap_or(0);
    // The sealed passphrase opens with the same master key: a new backup succeeds, and its
    // job is numbered after the copied ones.
    let id = launch_backup(&s, &token, policy).await?;
    assert!(id > max_id, "new job {id} after {max_id}");
    let (j, _log) = s.wait_job_ok(&token, id, Duration::from_secs(180)).await?;
    let archive = j["archiveName"].as_str().context("archive")?;
    let listed = crate::support::borg(pass, &["list", "--short", &repo])?;
    assert!(String::from_utf8_lossy(&listed.stdout).contains(archive));
    // Settings came along, the secret still masked.
    let settings = s
        .ok(&token, r#"{ settings { key value } }"#, json!({}))
        .await?;
    let pw = settings["settings"]
        .as_array()
        .context("settings")?
        .iter()
        .find(|x| x["key"] == "mail.password")
        .context("mail.password")?
        .clone();
    assert_ne!(pw["value"], "smtp-secret-9");
    assert!(!pw["value"].as_str().unwrap_or_default().is_empty(), "{pw}");
    Ok(())
}
