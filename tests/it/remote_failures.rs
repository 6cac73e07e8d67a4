//! Failure cases over real SSH end cleanly with a clear message: a changed host key (until an
//! administrator accepts it), an unreachable host, and a key the host refuses.

use crate::support;

use anyhow::{Context, Result};
use serde_json::json;
use std::time::{Duration, Instant};
use support::*;

async fn make_policy(
    s: &Server,
    token: &str,
    client: i64,
    repo: &str,
    folder: &str,
) -> Result<i64> {
    let spec = PolicySpec {
        name: "p",
        policy_type: "folders",
        clients: vec![client],
        repository: create_repository(s, token, "remote", repo, "failure passphrase").await?,
        schedule: create_schedule(s, token, "n").await?,
        extra_vars: json!({ "folders": [folder] }),
        ..Default::default()
    };
    create_policy(s, token, &spec).await
}

#[tokio::test(flavor = "multi_thread")]
async fn changed_host_key_refused_key_and_unreachable_host() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let hosts = ssh_hosts(&s, &token).await?;
    let port = hosts.port as i64;
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("data.txt"), "data")?;
    let repo_dir = tempfile::tempdir()?;
    let repo = format!("ssh://root@repo:{port}{}/r", repo_dir.path().display());
    let folder = src.path().display().to_string();

    let web1 = ssh_client(&s, &token, "web1", hosts.port).await?;
    let policy = make_policy(&s, &token, web1, &repo, &folder).await?;
    let id = launch_backup(&s, &token, policy).await?;
    s.wait_job_status(&token, id, "successful", Duration::from_secs(120))
        .await?;

    // web1 gets a new host key: the next backup is refused with both fingerprints.
    hosts.rekey("web1");
    let id = launch_backup(&s, &token, policy).await?;
    let j = s
        .wait_job_status(&token, id, "error", Duration::from_secs(60))
        .await?;
    let why = j["jobExplanation"].as_str().unwrap_or_default().to_string();
    assert!(
        why.contains("host key") && why.matches("SHA256:").count() >= 2,
        "{why}"
    );
    let keys = s
        .ok(
            &token,
            "{ hostKeys { host port fingerprint pendingFingerprint } }",
            json!({}),
        )
        .await?;
    let k = keys["hostKeys"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .find(|k| k["host"] == "web1")
        .expect("web1 key");
    assert!(k["pendingFingerprint"].is_string(), "{k}");
    let accepted = s.ok(&token, "mutation($p: Int!) { acceptHostKey(host: \"web1\", port: $p) { fingerprint pendingFingerprint } }", json!({"p": port})).await?;
    assert_eq!(
        accepted["acceptHostKey"]["fingerprint"],
        k["pendingFingerprint"]
    );
    let r = s
        .ok(
            &token,
            "mutation($id: Int!) { relaunchJob(id: $id) { id } }",
            json!({"id": id}),
        )
        .await?;
    s.wait_job_status(
        &token,
        r["relaunchJob"]["id"].as_i64().unwrap_or(0),
        "successful",
        Duration::from_secs(120),
    )
    .await?;

    // A host nobody listens on fails fast as unreachable.
    let ghost = s
        .ok(
            &token,
            r#"mutation { createClient(input: {hostname: "127.0.0.99", port: 9}) { id } }"#,
            json!({}),
        )
        .await?["createClient"]["id"]
        .as_i64()
        .context("client id")?;
    let other_repo = format!("ssh://root@repo:{port}{}/r2", repo_dir.path().display());
    let gp = make_policy(&s, &token, ghost, &other_repo, &folder).await?;
    let t0 = Instant::now();
    s.ok(
        &token,
        "mutation($id: Int!) { launchPolicy(id: $id) { id } }",
        json!({"id": gp}),
    )
    .await?;
    let jobs = s.wait_jobs(&token, Duration::from_secs(120)).await?;
    let prep = jobs
        .iter()
        .find(|j| j["jobType"] == "prepare_client")
        .expect("prepare job");
    assert_eq!(prep["status"], "error", "{prep}");
    let why = prep["jobExplanation"].as_str().unwrap_or_default();
    assert!(why.contains("127.0.0.99"), "{why}");
    assert!(t0.elapsed() < Duration::from_secs(60));
    let backup = jobs
        .iter()
        .find(|j| j["jobType"] == "job" && j["id"].as_i64() > prep["id"].as_i64())
        .expect("backup job");
    assert_eq!(
        backup["status"], "canceled",
        "a backup must not run after its preparation failed: {backup}"
    );

    // A new server key that no host authorizes: the host refuses it, and the job says what to do.
    s.ok(&token, "mutation { generateSshKey }", json!({}))
        .await?;
    let id = launch_backup(&s, &token, policy).await?;
    let j = s
        .wait_job_status(&token, id, "error", Duration::from_secs(60))
        .await?;
    let why = j["jobExplanation"].as_str().unwrap_or_default();
    assert!(why.contains("authorized_keys"), "{why}");
    drop(hosts);
    Ok(())
}

/// Pids of the processes a host's sshd started for sessions (its children and their children).
fn session_pids(listener: u32) -> Vec<u32> {
    let out = std::process::Command::new("pgrep")
        .args(["-P", &listener.to_string()])
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Waits until a job is past its preliminary steps (the repository's identity check, the
/// client's credential) and its `borg create` has been running for a few seconds.
async fn wait_create(s: &Server, token: &str, id: i64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(180);
    while !s.job_log(token, id).await?.contains("borg create") {
        anyhow::ensure!(
            Instant::now() < deadline,
            "job {id} never started borg create"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn ssh_dropped_or_borg_killed_mid_run_fail_the_job_and_the_next_run_works() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let hosts = ssh_hosts(&s, &token).await?;
    let port = hosts.port as i64;
    let repo_dir = tempfile::tempdir()?;
    let repo = format!("ssh://root@repo:{port}{}/drop", repo_dir.path().display());
    let web1 = ssh_client(&s, &token, "web1", hosts.port).await?;
    let spec = PolicySpec {
        name: "slow",
        policy_type: "piped",
        clients: vec![web1],
        repository: create_repository(&s, &token, "drop", &repo, "drop passphrase").await?,
        schedule: create_schedule(&s, &token, "n").await?,
        extra_vars: json!({"command": "echo begin; sleep 20; echo end"}),
        ..Default::default()
    };
    let p = create_policy(&s, &token, &spec).await?;

    // The SSH connection to the client drops in the middle of the backup.
    let id = launch_backup(&s, &token, p).await?;
    wait_create(&s, &token, id).await?;
    let sessions = session_pids(hosts.listener_pid("web1"));
    assert!(!sessions.is_empty(), "no ssh session on web1");
    for pid in sessions {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    let j = s
        .wait_job_status(&token, id, "error", Duration::from_secs(60))
        .await?;
    assert!(
        j["jobExplanation"]
            .as_str()
            .unwrap_or_default()
            .contains("lost"),
        "{j}"
    );

    // borg itself is killed in the middle of the next backup.
    let id = launch_backup(&s, &token, p).await?;
    wait_create(&s, &token, id).await?;
    let killed = std::process::Command::new("pkill")
        .args([
            "-9",
            "-f",
            "^/usr/bin/python3 /usr/bin/borg create .*drop::",
        ])
        .status()?;
    let ps = std::process::Command::new("ps")
        .args(["-eo", "pid,args"])
        .output()?;
    let ps = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| l.contains("borg"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(killed.success(), "no borg create to kill:\n{ps}");
    let j = s
        .wait_job_status(&token, id, "failed", Duration::from_secs(60))
        .await?;
    assert!(
        j["jobExplanation"]
            .as_str()
            .unwrap_or_default()
            .contains("borg exited 137"),
        "{j}"
    );

    // Nothing is left locked: a quick backup succeeds.
    s.ok(
        &token,
        "mutation($id: Int!, $v: String!) { updatePolicy(id: $id, input: {extraVars: $v}) { id } }",
        json!({"id": p, "v": json!({"command": "echo quick"}).to_string()}),
    )
    .await?;
    let id = launch_backup(&s, &token, p).await?;
    s.wait_job_status(&token, id, "successful", Duration::from_secs(240))
        .await?;
    drop(hosts);
    Ok(())
}
