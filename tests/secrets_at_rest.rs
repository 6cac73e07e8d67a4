//! Secrets at rest: a mysql policy's database password, created through the API, is sealed —
//! `sqlite3 cyborgbackup.db .dump` (the real CLI) and the database files hold no trace of it, no
//! API returns it — and the backup still works; a password an older version stored in clear is
//! sealed at the next start. The data directory is 0700 and its files 0600.

mod support;

use anyhow::{ensure, Context, Result};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use support::db::{databases, mysql, unique};
use support::*;

const PASS: &str = "repo passphrase";

fn dump(dir: &Path) -> Result<String> {
    let out = Command::new("sqlite3")
        .arg(dir.join("cyborgbackup.db"))
        .arg(".dump")
        .output()
        .context("running sqlite3 (scripts/install-deps.sh --tests installs it)")?;
    ensure!(
        out.status.success(),
        "sqlite3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn sql(dir: &Path, statement: &str) -> Result<()> {
    let out = Command::new("sqlite3")
        .arg(dir.join("cyborgbackup.db"))
        .arg(statement)
        .output()?;
    ensure!(
        out.status.success(),
        "sqlite3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Fails when any file of the data directory (recursively) is open to group or others.
fn assert_private(dir: &Path) -> Result<()> {
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    ensure!(mode & 0o077 == 0, "{} is {mode:o}", dir.display());
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        let meta = std::fs::symlink_metadata(&p)?;
        if meta.is_dir() {
            assert_private(&p)?;
        } else {
            let mode = meta.permissions().mode() & 0o777;
            ensure!(mode & 0o077 == 0, "{} is {mode:o}", p.display());
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn database_passwords_are_sealed_at_rest() -> Result<()> {
    databases()?;
    let db = unique("cyb_sealed");
    mysql(&format!(
        "CREATE DATABASE `{db}`; CREATE TABLE `{db}`.t (v VARCHAR(50)); INSERT INTO `{db}`.t VALUES ('sealed row');"
    ))?;
    let user = unique("cybseal");
    let password = format!("Sealed-{}-pw", unique("x"));
    mysql(&format!(
        "CREATE USER '{user}'@'localhost' IDENTIFIED BY '{password}'; GRANT LOCK TABLES, SELECT ON *.* TO '{user}'@'localhost';"
    ))?;
    let s = Server::start()?;
    let token = s.login().await?;
    let vars = json!({"databases": [db], "user": user, "password": password}).to_string();
    let (policy, repo) = local_typed_policy(&s, &token, "mysql", &vars, PASS).await?;
    let job = backup_job(&s, &token, policy).await?;
    ensure!(job["status"] == "successful", "{job}");
    let archive = job["archiveName"].as_str().context("archive")?;
    let file = format!("mysql-{db}.sql");
    ensure!(borg_extract(PASS, &repo, archive, &file)?.contains("sealed row"));
    // No API returns it.
    let shown = s
        .ok(
            &token,
            "query($id: Int!) { policy(id: $id) { extraVars } }",
            json!({"id": policy}),
        )
        .await?;
    ensure!(!shown.to_string().contains(&password), "{shown}");
    let (_, rest) = s
        .rest(
            "GET",
            &format!("/api/v1/policies/{policy}/"),
            Some(&format!("Token {token}")),
            None,
        )
        .await?;
    ensure!(!rest.to_string().contains(&password), "{rest}");
    // Neither the dump nor the raw database files hold it.
    let dir = s.data_dir.path().to_path_buf();
    ensure!(
        !dump(&dir)?.contains(&password),
        "the password is in the dump"
    );
    for f in ["cyborgbackup.db", "cyborgbackup.db-wal"] {
        let bytes = std::fs::read(dir.join(f)).unwrap_or_default();
        ensure!(
            !bytes
                .windows(password.len())
                .any(|w| w == password.as_bytes()),
            "the password is in {f}"
        );
    }
    assert_private(&dir)?;
    // An older version left the password in clear: the next start seals it.
    let dir = s.terminate();
    let clear = vars.replace('\'', "''");
    sql(
        dir.path(),
        &format!("UPDATE policies SET extra_vars = '{clear}', extra_vars_sealed = NULL WHERE id = {policy}"),
    )?;
    ensure!(
        dump(dir.path())?.contains(&password),
        "the clear value was not written"
    );
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    std::fs::set_permissions(
        dir.path().join("master.key"),
        std::fs::Permissions::from_mode(0o644),
    )?;
    let s = Server::start_with(dir, &[])?;
    ensure!(
        !dump(s.data_dir.path())?.contains(&password),
        "still in clear after a start"
    );
    assert_private(s.data_dir.path())?;
    let token = s.login().await?;
    let job = backup_job(&s, &token, policy).await?;
    ensure!(job["status"] == "successful", "after sealing: {job}");
    mysql(&format!(
        "DROP DATABASE `{db}`; DROP USER '{user}'@'localhost';"
    ))?;
    Ok(())
}
