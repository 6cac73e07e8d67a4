//! mysql and postgresql policy types against real MariaDB and PostgreSQL servers (started by
//! scripts/test-databases.sh): the dump is the archive's single file and holds the rows the
//! test created; a backup user's password never reaches the job log or a command line; a wrong
//! password fails the job with the server's own message and leaves no partial archive.

use crate::support;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::time::Duration;
use support::db::{databases, mysql, psql, unique};
use support::*;

const PASS: &str = "db passphrase";

/// A MariaDB database with one table and one row holding `marker`.
fn mysql_db(name: &str, marker: &str) -> Result<()> {
    mysql(&format!(
        "CREATE DATABASE `{name}`; CREATE TABLE `{name}`.notes (id INT PRIMARY KEY, note VARCHAR(200)); \
         INSERT INTO `{name}`.notes VALUES (1, '{marker}');"
    ))?;
    Ok(())
}

/// The content of `file` in the job's archive.
fn extract(repo: &str, job: &Value, file: &str) -> Result<String> {
    let archive = job["archiveName"].as_str().context("archive name")?;
    borg_extract(PASS, repo, archive, file)
}

async fn log_of(s: &Server, token: &str, job: &Value) -> Result<String> {
    s.job_log(token, job["id"].as_i64().context("job id")?)
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_all_databases_are_dumped() -> Result<()> {
    databases()?;
    let db = unique("cyb_all");
    mysql_db(&db, "row of all databases")?;
    let s = Server::start()?;
    let token = s.login().await?;
    let (policy, repo) = local_typed_policy(&s, &token, "mysql", "{}", PASS).await?;
    let job = backup_job(&s, &token, policy).await?;
    assert_eq!(
        job["status"],
        "successful",
        "{}",
        log_of(&s, &token, &job).await?
    );
    assert!(
        job["archiveName"]
            .as_str()
            .unwrap_or_default()
            .starts_with("mysql-localhost-"),
        "{job}"
    );
    let dump = extract(&repo, &job, "mysql.sql")?;
    assert!(
        dump.contains(&format!("CREATE DATABASE /*!32312 IF NOT EXISTS*/ `{db}`")),
        "database missing from the dump"
    );
    assert!(dump.contains("row of all databases"));
    mysql(&format!("DROP DATABASE `{db}`"))?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_selected_databases_with_a_backup_user() -> Result<()> {
    databases()?;
    let (a, b, c) = (unique("cyb_a"), unique("cyb_b"), unique("cyb_c"));
    mysql_db(&a, "row in a")?;
    mysql_db(&b, "row in b")?;
    mysql_db(&c, "row in c")?;
    let user = unique("cybbk");
    let password = "Pa'ss \"w0rd\" $(touch /tmp/pwned); x";
    // The original's documented grant for a backup user.
    mysql(&format!(
        "CREATE USER '{user}'@'localhost' IDENTIFIED BY '{}'; GRANT LOCK TABLES, SELECT ON *.* TO '{user}'@'localhost'; FLUSH PRIVILEGES;",
        password.replace('\'', "''")
    ))?;
    let s = Server::start()?;
    let token = s.login().await?;
    let vars = json!({"databases": [a, b], "user": user, "password": password}).to_string();
    let (policy, repo) = local_typed_policy(&s, &token, "mysql", &vars, PASS).await?;
    let job = backup_job(&s, &token, policy).await?;
    let log = log_of(&s, &token, &job).await?;
    assert_eq!(job["status"], "successful", "{log}");
    assert!(
        !log.contains("Pa'ss") && !log.contains("w0rd"),
        "the password reached the job log:\n{log}"
    );
    assert!(
        log.contains("mysqldump") && log.contains(&user),
        "the command is logged:\n{log}"
    );
    let dump = extract(&repo, &job, "mysql.sql")?;
    assert!(
        dump.contains("row in a") && dump.contains("row in b"),
        "selected databases missing"
    );
    assert!(
        !dump.contains("row in c"),
        "an unselected database was dumped"
    );
    mysql(&format!("DROP DATABASE `{a}`; DROP DATABASE `{b}`; DROP DATABASE `{c}`; DROP USER '{user}'@'localhost';"))?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_wrong_password_fails_clearly_and_leaves_no_archive() -> Result<()> {
    databases()?;
    let db = unique("cyb_wrong");
    mysql_db(&db, "never dumped")?;
    let user = unique("cybwr");
    mysql(&format!("CREATE USER '{user}'@'localhost' IDENTIFIED BY 'right-password'; GRANT LOCK TABLES, SELECT ON *.* TO '{user}'@'localhost';"))?;
    let s = Server::start()?;
    let token = s.login().await?;
    let vars = json!({"database": db, "user": user, "password": "wrong-password-xyz"}).to_string();
    let (policy, repo) = local_typed_policy(&s, &token, "mysql", &vars, PASS).await?;
    let job = backup_job(&s, &token, policy).await?;
    let log = log_of(&s, &token, &job).await?;
    assert_eq!(job["status"], "failed", "{log}");
    let why = job["jobExplanation"].as_str().unwrap_or_default();
    assert!(
        why.contains("Access denied") && why.contains(&user),
        "unclear explanation: {why}"
    );
    assert!(
        !log.contains("wrong-password-xyz"),
        "the password reached the job log:\n{log}"
    );
    assert_no_archives(PASS, &repo)?;
    mysql(&format!(
        "DROP DATABASE `{db}`; DROP USER '{user}'@'localhost';"
    ))?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn postgresql_one_database_and_all() -> Result<()> {
    databases()?;
    let db = unique("cyb_pg");
    psql("postgres", &format!("CREATE DATABASE {db}"))?;
    psql(&db, "CREATE TABLE notes (id int primary key, note text); INSERT INTO notes VALUES (1, 'row in postgres')")?;
    let s = Server::start()?;
    let token = s.login().await?;

    let (one, repo) = local_typed_policy(
        &s,
        &token,
        "postgresql",
        &json!({"database": db}).to_string(),
        PASS,
    )
    .await?;
    let job = backup_job(&s, &token, one).await?;
    assert_eq!(
        job["status"],
        "successful",
        "{}",
        log_of(&s, &token, &job).await?
    );
    assert!(
        job["archiveName"]
            .as_str()
            .unwrap_or_default()
            .starts_with("postgresql-localhost-"),
        "{job}"
    );
    let dump = extract(&repo, &job, &format!("postgresql-{db}.sql"))?;
    assert!(
        dump.contains(&format!("CREATE DATABASE {db}")),
        "no CREATE DATABASE in the dump"
    );
    assert!(
        dump.contains("row in postgres"),
        "the row is missing from the dump"
    );

    let (all, repo_all) = local_typed_policy(&s, &token, "postgresql", "{}", PASS).await?;
    s.ok(
        &token,
        "mutation($id: Int!) { launchPolicy(id: $id) { id } }",
        json!({"id": all}),
    )
    .await?;
    let jobs = s.wait_jobs(&token, Duration::from_secs(180)).await?;
    let job = jobs
        .iter()
        .find(|j| j["jobType"] == "job" && j["id"] != job["id"])
        .context("second backup job")?;
    assert_eq!(
        job["status"],
        "successful",
        "{}",
        log_of(&s, &token, job).await?
    );
    let dump = extract(&repo_all, job, "postgresql-all.sql")?;
    assert!(
        dump.contains(&format!("CREATE DATABASE {db}")) && dump.contains("row in postgres"),
        "pg_dumpall lacks the database"
    );
    psql("postgres", &format!("DROP DATABASE {db}"))?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_password_is_never_returned_by_the_api() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let vars = json!({"user": "backupuser", "password": "api-secret-pw"}).to_string();
    let (policy, _repo) = local_typed_policy(&s, &token, "mysql", &vars, PASS).await?;
    let p = s
        .ok(
            &token,
            "query($id: Int!) { policy(id: $id) { extraVars } }",
            json!({"id": policy}),
        )
        .await?;
    assert!(
        !p.to_string().contains("api-secret-pw"),
        "extra_vars returned the database password: {p}"
    );
    Ok(())
}
