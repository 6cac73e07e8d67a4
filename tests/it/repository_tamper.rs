//! An archive deleted through an append-only borg serve (what a compromised client's key
//! allows) is detected at the next prune: no prune or compact runs, the repository is marked
//! tampered, mail and webhook name the archive, and the README's recovery steps, run exactly as
//! written, bring it back; after the administrator clears the mark, prune and compact resume.
//! The second test makes the deletion with the real (client, repository) key the server
//! installed on a loopback repository host.

use crate::support;

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::mime::subject;
use support::rest::Api;
use support::sinks::{HttpSink, SmtpSink};
use support::*;

/// The fenced `sh` block after `<!-- recovery:NAME -->` in the README.
fn readme_block(name: &str) -> Result<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))?;
    let marker = format!("<!-- recovery:{name} -->");
    let after = readme
        .split_once(&marker)
        .context("README lacks the recovery marker")?
        .1;
    let start = after.find("```sh\n").context("no sh block")? + "```sh\n".len();
    let len = after[start..].find("```").context("unterminated block")?;
    Ok(after[start..start + len].to_string())
}

/// Runs a README block with bash, failing on any error.
fn run_block(block: &str, env: &[(&str, &str)]) -> Result<String> {
    let mut cmd = Command::new("bash");
    cmd.args(["-euo", "pipefail", "-c", block]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output()?;
    ensure!(
        out.status.success(),
        "README block failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn test_base_dir() -> std::path::PathBuf {
    std::env::temp_dir().join("cyborg-test-borg-base")
}

/// `borg delete REPO::ARCHIVE` as a client whose key runs only
/// `borg serve --append-only --restrict-to-repository REPO` (the forced command of an
/// append-only key): `BORG_RSH` stands in for ssh and starts that serve.
fn delete_through_append_only_key(pass: &str, repo: &str, archive: &str) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let rsh = dir.path().join("append-only-ssh");
    std::fs::write(
        &rsh,
        "#!/bin/sh\nexec borg serve --append-only --restrict-to-repository \"$CYBORG_TEST_REPO\"\n",
    )?;
    Command::new("chmod").arg("+x").arg(&rsh).status()?;
    let out = Command::new("borg")
        .args(["delete", &format!("ssh://attacker@client{repo}::{archive}")])
        .env("BORG_RSH", &rsh)
        .env("CYBORG_TEST_REPO", repo)
        .env("BORG_PASSPHRASE", pass)
        .env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes")
        .env("BORG_BASE_DIR", test_base_dir())
        .output()?;
    ensure!(
        out.status.success(),
        "append-only delete failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn list_names(pass: &str, repo: &str) -> Result<Vec<String>> {
    let out = borg(pass, &["list", "--short", repo])?;
    ensure!(
        out.status.success(),
        "borg list: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect())
}

async fn prune(s: &Server, token: &str, policy: i64) -> Result<i64> {
    let d = s
        .ok(
            token,
            "mutation($id: Int!) { prunePolicy(id: $id) { id } }",
            json!({"id": policy}),
        )
        .await?;
    d["prunePolicy"][0]["id"].as_i64().context("prune job")
}

async fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> Result<T> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("no {what}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn append_only_deletion_stops_compaction_and_is_rolled_back() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let smtp = SmtpSink::start(None).await?;
    let hook = HttpSink::start().await?;
    for (k, v) in [
        ("mail.host", "127.0.0.1".to_string()),
        ("mail.port", smtp.port.to_string()),
        ("mail.security", "none".into()),
        ("mail.from", "cyborg@test.local".into()),
        ("webhook.url", hook.url.clone()),
    ] {
        s.ok(
            &token,
            "mutation($k: String!, $v: String!) { setNotificationSetting(key: $k, value: $v) { key } }",
            json!({"k": k, "v": v}),
        )
        .await?;
    }
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("precious.txt"), "the only copy")?;
    let pass = "tamper passphrase";
    let vars = json!({"folders": [src.path()]}).to_string();
    let (policy, repo) = local_typed_policy(&s, &token, "folders", &vars, pass).await?;
    s.ok(
        &token,
        "mutation($id: Int!) { updatePolicy(id: $id, input: {keepDaily: 7}) { id } }",
        json!({"id": policy}),
    )
    .await?;
    // Two backups, each followed by its catalog and a clean prune and compact.
    for _ in 0..2 {
        launch(&s, &token, policy).await?;
        let jobs = s.wait_jobs(&token, Duration::from_secs(240)).await?;
        ensure!(jobs.iter().all(|j| j["status"] == "successful"), "{jobs:?}");
    }
    let names = list_names(pass, &repo)?;
    ensure!(names.len() == 2, "{names:?}");
    let victim = names[0].clone();
    let r = s
        .ok(
            &token,
            "{ repositories(first: 5) { nodes { id tampered lastGoodTransaction borgId encryptionMode } } }",
            json!({}),
        )
        .await?;
    let node = &r["repositories"]["nodes"][0];
    let repo_id = node["id"].as_i64().context("repository id")?;
    let good = node["lastGoodTransaction"]
        .as_i64()
        .context("no last good transaction recorded")?;
    ensure!(
        node["tampered"] == false && node["encryptionMode"] == "repokey",
        "{node}"
    );

    // The attack: the client's append-only key deletes the oldest archive.
    delete_through_append_only_key(pass, &repo, &victim)?;
    ensure!(!list_names(pass, &repo)?.contains(&victim), "not deleted");

    // The next prune notices, stops before prune and compact, and marks the repository.
    let pid = prune(&s, &token, policy).await?;
    let job = s
        .wait_job_status(&token, pid, "failed", Duration::from_secs(120))
        .await?;
    let why = job["jobExplanation"].as_str().unwrap_or_default();
    ensure!(
        why.starts_with("repository tampered") && why.contains(&victim),
        "{job}"
    );
    let log = s.job_log(&token, pid).await?;
    ensure!(
        !log.contains("$ borg compact") && !log.contains("$ borg prune"),
        "prune or compact ran on a tampered repository: {log}"
    );
    let r = s
        .ok(
            &token,
            "query($id: Int!) { repository(id: $id) { tampered tamperState tamperedArchives lastGoodTransaction } }",
            json!({"id": repo_id}),
        )
        .await?;
    ensure!(
        r["repository"]["tampered"] == true
            && r["repository"]["tamperedArchives"] == json!([victim.clone()])
            && r["repository"]["lastGoodTransaction"] == good,
        "{r}"
    );
    let api = Api::token(&s, &token);
    let rest = api.get(&format!("/api/v1/repositories/{repo_id}/")).await?;
    ensure!(
        rest["tampered"] == true && rest["tampered_archives"][0] == victim.as_str(),
        "{rest}"
    );

    // Mail and webhook name the archive.
    let mail = wait_for("tamper mail", || {
        smtp.all()
            .into_iter()
            .find(|m| subject(&m.data).starts_with("[CyBorgBackup] REPOSITORY TAMPERED"))
    })
    .await?;
    ensure!(
        mail.data.replace("=\r\n", "").contains(&victim),
        "{}",
        mail.data
    );
    let event: Value = wait_for("tamper webhook", || {
        hook.all()
            .into_iter()
            .find(|c| c.body.contains("\"event\":\"repository_tampered\""))
            .and_then(|c| serde_json::from_str(&c.body).ok())
    })
    .await?;
    ensure!(
        event["missing_archives"] == json!([victim.clone()])
            && event["last_good_transaction"] == good,
        "{event}"
    );

    // While marked, prunes stay paused.
    let pid = prune(&s, &token, policy).await?;
    let job = s
        .wait_job_status(&token, pid, "canceled", Duration::from_secs(60))
        .await?;
    ensure!(
        job["jobExplanation"]
            .as_str()
            .unwrap_or_default()
            .contains("repository marked tampered"),
        "{job}"
    );

    // Recovery, as the README says, on the repository host and for every borg that opened it
    // (the server's base directory for local repositories, and the attacker's client).
    let good = good.to_string();
    let out = run_block(
        &readme_block("repository")?,
        &[("REPO", &repo), ("GOOD", &good)],
    )?;
    ensure!(out.contains("transaction "), "transactions file: {out}");
    let server_base = s.data_dir.path().join("borg");
    for base in [server_base.as_path(), test_base_dir().as_path()] {
        run_block(
            &readme_block("cache")?,
            &[
                ("REPO", &repo),
                ("BORG_BASE_DIR", &base.display().to_string()),
            ],
        )?;
    }
    let back = list_names(pass, &repo)?;
    ensure!(
        back.contains(&victim),
        "rollback did not restore it: {back:?}"
    );
    let inside = src.path().join("precious.txt").display().to_string();
    let content = borg_extract(pass, &repo, &victim, inside.trim_start_matches('/'))?;
    ensure!(content == "the only copy", "{content}");
    leftovers(Path::new(&repo))?;

    // The administrator clears the mark; the next prune and compact run again.
    s.ok(
        &token,
        "mutation($id: Int!) { clearRepositoryTamper(id: $id) { id tampered } }",
        json!({"id": repo_id}),
    )
    .await?;
    let pid = prune(&s, &token, policy).await?;
    s.wait_job_status(&token, pid, "successful", Duration::from_secs(120))
        .await?;
    let log = s.job_log(&token, pid).await?;
    ensure!(log.contains("$ borg compact"), "{log}");
    let r = s
        .ok(
            &token,
            "query($id: Int!) { repository(id: $id) { tampered tamperState } archives { nodes { name } } }",
            json!({"id": repo_id}),
        )
        .await?;
    ensure!(
        r["repository"]["tampered"] == false && r["repository"]["tamperState"] == "",
        "{r}"
    );
    ensure!(
        r["archives"]["nodes"].as_array().map(Vec::len) == Some(2),
        "both archives are still catalogued: {r}"
    );
    Ok(())
}

/// The copy the README makes sits next to the repository; removed with the test's data dir.
fn leftovers(repo: &Path) -> Result<()> {
    let parent = repo.parent().context("repository parent")?;
    let copies = std::fs::read_dir(parent)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".compromised."))
        .count();
    ensure!(
        copies == 1,
        "the README's copy of the compromised repository is missing"
    );
    Ok(())
}

/// The same attack with the real credential: the (client, repository) key the server installed
/// on the repository host (forced `borg serve --append-only`), used by hand on the client over
/// the loopback sshd hosts (this process stands in for root on web1: same machine).
#[tokio::test(flavor = "multi_thread")]
async fn deletion_with_a_clients_installed_key_is_detected_at_the_next_prune() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let s = Server::start()?;
    let token = s.login().await?;
    let hosts = ssh_hosts(&s, &token).await?;
    let port = hosts.port;
    let pass = "remote tamper passphrase";
    let dir = tempfile::tempdir()?;
    let src = dir.path().join("src");
    std::fs::create_dir(&src)?;
    std::fs::write(src.join("f.txt"), "remote\n")?;
    let path = format!("{}/r", dir.path().display());
    let web1 = ssh_client(&s, &token, "web1", port).await?;
    let location = format!("ssh://root@repo:{port}{path}");
    let repo = create_repository(&s, &token, "r", &location, pass).await?;
    let spec = PolicySpec {
        name: "r",
        policy_type: "folders",
        clients: vec![web1],
        repository: repo,
        schedule: create_schedule(&s, &token, "n").await?,
        extra_vars: json!({"folders": [src]}),
        ..Default::default()
    };
    let policy = create_policy(&s, &token, &spec).await?;
    s.ok(
        &token,
        "mutation($id: Int!) { updatePolicy(id: $id, input: {keepDaily: 7}) { id } }",
        json!({"id": policy}),
    )
    .await?;
    launch(&s, &token, policy).await?;
    let jobs = s.wait_jobs(&token, Duration::from_secs(300)).await?;
    ensure!(jobs.iter().all(|j| j["status"] == "successful"), "{jobs:?}");
    let names = list_names(pass, &path)?;
    let victim = names.first().context("no archive")?.clone();

    let store = store::Store::open(s.data_dir.path())?;
    let pem = store
        .repository_credential_key(model::ClientId(web1), model::RepositoryId(repo))?
        .context("no private key")?;
    let key = dir.path().join("web1.key");
    std::fs::write(&key, pem.expose())?;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
    let rsh = format!(
        "ssh -F /dev/null -oBatchMode=yes -oIdentitiesOnly=yes -oIdentityAgent=none -i {} -oUserKnownHostsFile={}",
        key.display(),
        hosts.known_hosts().display()
    );
    let base = tempfile::tempdir()?;
    let del = Command::new("borg")
        .args([
            "delete",
            &format!("ssh://root@127.0.0.10:{port}{path}::{victim}"),
        ])
        .env("BORG_RSH", &rsh)
        .env("BORG_PASSPHRASE", pass)
        .env("BORG_BASE_DIR", base.path())
        .env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes")
        .env_remove("SSH_AUTH_SOCK")
        .output()?;
    ensure!(
        del.status.success(),
        "delete through the client's key: {}",
        String::from_utf8_lossy(&del.stderr)
    );
    ensure!(!list_names(pass, &path)?.contains(&victim), "not deleted");

    let pid = prune(&s, &token, policy).await?;
    let job = s
        .wait_job_status(&token, pid, "failed", Duration::from_secs(120))
        .await?;
    let why = job["jobExplanation"].as_str().unwrap_or_default();
    ensure!(
        why.starts_with("repository tampered") && why.contains(&victim),
        "{job}"
    );
    let log = s.job_log(&token, pid).await?;
    ensure!(
        !log.contains("$ borg compact") && !log.contains("$ borg prune"),
        "prune or compact ran on a tampered repository: {log}"
    );
    // The repository is marked, naming the archive.
    let r = s
        .ok(
            &token,
            "query($id: Int!) { repository(id: $id) { tampered tamperedArchives } }",
            json!({"id": repo}),
        )
        .await?;
    ensure!(
        r["repository"]["tampered"] == true
            && r["repository"]["tamperedArchives"] == json!([victim]),
        "{r}"
    );
    Ok(())
}
