//! Remote clients beyond the plain root push: a non-root backup user whose borg runs under
//! `sudo -E` (the `backup_user` setting), and database dumps made on a client over SSH.

use crate::support;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;
use support::db::{databases, mysql, psql, unique};
use support::*;

const PASS: &str = "variants passphrase";

/// A repository on the repository host, a schedule, and a policy of `policy_type` for `client`;
/// returns the policy, the repository's path and the directory holding it (removed on drop).
async fn remote_policy(
    s: &Server,
    token: &str,
    port: u16,
    client: i64,
    policy_type: &str,
    extra_vars: Value,
) -> Result<(i64, String, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let repo_local = format!("{}/{policy_type}", dir.path().display());
    let spec = PolicySpec {
        name: policy_type,
        policy_type,
        clients: vec![client],
        repository: create_repository(
            s,
            token,
            &format!("{policy_type}-repo"),
            &format!("ssh://root@repo:{port}{repo_local}"),
            PASS,
        )
        .await?,
        schedule: create_schedule(s, token, &format!("{policy_type}-schedule")).await?,
        extra_vars,
        ..Default::default()
    };
    Ok((create_policy(s, token, &spec).await?, repo_local, dir))
}

/// Runs one backup of `policy` and returns the successful job and its log.
async fn backup_ok(s: &Server, token: &str, policy: i64) -> Result<(Value, String)> {
    let id = launch_backup(s, token, policy).await?;
    s.wait_job_ok(token, id, Duration::from_secs(180)).await
}

fn extract(repo: &str, job: &Value, file: &str) -> Result<String> {
    let archive = job["archiveName"].as_str().context("archive name")?;
    let out = borg(
        PASS,
        &["extract", "--stdout", &format!("{repo}::{archive}"), file],
    )?;
    if !out.status.success() {
        bail!("borg extract: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_root_backup_user_runs_borg_under_sudo() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let hosts = ssh_hosts(&s, &token).await?;
    s.ok(
        &token,
        r#"mutation { updateSetting(key: "backup_user", value: "cyborg") { key } }"#,
        json!({}),
    )
    .await?;
    // A file only root can read: the backup user gets it through sudo.
    let src = tempfile::tempdir()?;
    let secret = src.path().join("root-only.key");
    std::fs::write(&secret, "only root reads this\n")?;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600))?;
    std::fs::set_permissions(src.path(), std::fs::Permissions::from_mode(0o700))?;
    let c = ssh_client(&s, &token, "web1", hosts.port).await?;
    let (policy, repo, _dir) = remote_policy(
        &s,
        &token,
        hosts.port,
        c,
        "folders",
        json!({"folders": [src.path()]}),
    )
    .await?;
    let (job, log) = backup_ok(&s, &token, policy).await?;
    assert!(log.contains("sudo -E -n"), "borg ran without sudo:\n{log}");
    assert!(
        hosts.log("web1").contains("for cyborg from"),
        "the server did not log in as cyborg"
    );
    // Preparation recorded the client's facts, as the backup user saw them.
    let d = s
        .ok(
            &token,
            "query($id: Int!) { client(id: $id) { ready version ip os } }",
            json!({"id": c}),
        )
        .await?;
    let os_release = std::fs::read_to_string("/etc/os-release")?;
    let pretty = os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .context("PRETTY_NAME")?
        .trim_matches('"');
    assert_eq!(d["client"]["os"], pretty, "{d}");
    assert_eq!(d["client"]["ready"], true, "{d}");
    assert!(
        d["client"]["version"]
            .as_str()
            .unwrap_or_default()
            .starts_with("1."),
        "{d}"
    );
    // Preparing again on demand works, as the backup user.
    let d = s
        .ok(
            &token,
            "mutation($id: Int!) { prepareClient(id: $id) { id } }",
            json!({"id": c}),
        )
        .await?;
    let prep = d["prepareClient"]["id"].as_i64().context("job id")?;
    s.wait_job_status(&token, prep, "successful", Duration::from_secs(60))
        .await?;
    assert!(s.job_log(&token, prep).await?.contains(pretty));
    let path = secret.to_str().context("path")?.trim_start_matches('/');
    assert_eq!(extract(&repo, &job, path)?, "only root reads this\n");

    // Restoring as the backup user goes through sudo too, keeping the file's mode.
    let a = s
        .ok(
            &token,
            "query($p: Int!) { archives(policy: $p, first: 1) { nodes { id } } }",
            json!({"p": policy}),
        )
        .await?;
    let archive = a["archives"]["nodes"][0]["id"]
        .as_i64()
        .context("archive")?;
    let target = tempfile::tempdir()?;
    let r = s
        .ok(
            &token,
            "mutation($a: Int!, $p: String!, $t: String!) { restore(input: {archive: $a, paths: [$p], targetDirectory: $t}) { id } }",
            json!({"a": archive, "p": secret, "t": target.path()}),
        )
        .await?;
    let rid = r["restore"]["id"].as_i64().context("restore job")?;
    let (_, rlog) = s.wait_job_ok(&token, rid, Duration::from_secs(120)).await?;
    assert!(rlog.contains("sudo -E -n"), "{rlog}");
    let restored = target.path().join(path);
    assert_eq!(
        std::fs::read_to_string(&restored)?,
        "only root reads this\n"
    );
    assert_eq!(
        std::fs::metadata(&restored)?.permissions().mode() & 0o777,
        0o600
    );
    drop(hosts);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn database_dumps_are_made_on_a_remote_client() -> Result<()> {
    databases()?;
    let pg = unique("cyb_rpg");
    psql("postgres", &format!("CREATE DATABASE {pg}"))?;
    psql(
        &pg,
        "CREATE TABLE notes (id int primary key, note text); INSERT INTO notes VALUES (1, 'remote postgres row')",
    )?;
    let my = unique("cyb_rmy");
    mysql(&format!(
        "CREATE DATABASE `{my}`; CREATE TABLE `{my}`.notes (id INT PRIMARY KEY, note VARCHAR(200)); INSERT INTO `{my}`.notes VALUES (1, 'remote mariadb row');"
    ))?;
    let s = Server::start()?;
    let token = s.login().await?;
    let hosts = ssh_hosts(&s, &token).await?;
    let c = ssh_client(&s, &token, "web2", hosts.port).await?;

    let (p, repo, _dir) = remote_policy(
        &s,
        &token,
        hosts.port,
        c,
        "postgresql",
        json!({"database": pg}),
    )
    .await?;
    let (job, log) = backup_ok(&s, &token, p).await?;
    assert!(
        job["archiveName"]
            .as_str()
            .unwrap_or_default()
            .starts_with("postgresql-web2-"),
        "{job}"
    );
    assert!(log.contains("pg_dump"), "{log}");
    let dump = extract(&repo, &job, &format!("postgresql-{pg}.sql"))?;
    assert!(
        dump.contains("remote postgres row"),
        "row missing from the dump"
    );

    let (p, repo, _dir2) =
        remote_policy(&s, &token, hosts.port, c, "mysql", json!({"database": my})).await?;
    let (job, _) = backup_ok(&s, &token, p).await?;
    let dump = extract(&repo, &job, &format!("mysql-{my}.sql"))?;
    assert!(
        dump.contains("remote mariadb row"),
        "row missing from the dump"
    );

    psql("postgres", &format!("DROP DATABASE {pg}"))?;
    mysql(&format!("DROP DATABASE `{my}`"))?;
    drop(hosts);
    Ok(())
}
