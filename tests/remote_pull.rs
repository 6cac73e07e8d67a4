//! Pull mode with a client that has no network route to the repository host: `island` runs in
//! its own network namespace. Push mode from it fails (its borg cannot reach the repository);
//! pull mode succeeds because the data flows through the server's relay.

mod support;

use anyhow::{Context, Result};
use serde_json::json;
use std::time::Duration;
use support::*;

/// A pre-hook that records on the shared filesystem whether the client can open a TCP
/// connection to the repository host's sshd.
fn probe_hook(port: u16, out: &std::path::Path) -> String {
    format!(
        "if bash -c 'exec 3<>/dev/tcp/127.0.0.10/{port}' 2>/dev/null; then echo reachable; else echo unreachable; fi > {}",
        out.display()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_isolated_client_backs_up_only_in_pull_mode() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let hosts = ssh_hosts(&s, &token).await?;
    let port = hosts.port;
    let src = tempfile::tempdir()?;
    std::fs::write(
        src.path().join("island.txt"),
        "data from an isolated host\n",
    )?;
    let repo_dir = tempfile::tempdir()?;
    let repo_path = format!("ssh://root@repo:{port}{}/isl", repo_dir.path().display());
    let probe = tempfile::tempdir()?;
    let push_probe = probe.path().join("push");
    let pull_probe = probe.path().join("pull");

    let c = ssh_client(&s, &token, "island", port).await?;
    let repo = create_repository(&s, &token, "isl", &repo_path, "island passphrase").await?;
    let schedule = create_schedule(&s, &token, "n").await?;
    let mut policies = Vec::new();
    for (name, pull, hook) in [
        ("push", false, probe_hook(port, &push_probe)),
        ("pull", true, probe_hook(port, &pull_probe)),
    ] {
        let spec = PolicySpec {
            name,
            policy_type: "folders",
            clients: vec![c],
            repository: repo,
            schedule,
            extra_vars: json!({"folders": [src.path()]}),
            mode_pull: pull,
            prehook: &hook,
            ..Default::default()
        };
        policies.push(create_policy(&s, &token, &spec).await?);
    }

    // Push: the client's own borg has to reach the repository host, and cannot.
    let push_job = launch_backup(&s, &token, policies[0]).await?;
    s.wait_job_status(&token, push_job, "failed", Duration::from_secs(180))
        .await?;
    let log = s.job_log(&token, push_job).await?;
    assert!(
        log.contains("Connection refused") || log.contains("Connection closed"),
        "the log should say why borg could not reach the repository:\n{log}"
    );
    assert_eq!(std::fs::read_to_string(&push_probe)?.trim(), "unreachable");

    // Pull: the same client, same repository, through the server's relay.
    let pull_job = launch_backup(&s, &token, policies[1]).await?;
    let job = s
        .wait_job_status(&token, pull_job, "successful", Duration::from_secs(180))
        .await?;
    let log = s.job_log(&token, pull_job).await?;
    assert_eq!(std::fs::read_to_string(&pull_probe)?.trim(), "unreachable");
    assert!(!log.contains("island passphrase"), "{log}");

    let list = borg(
        "island passphrase",
        &[
            "list",
            "--format",
            "{path}{NL}",
            &format!(
                "{}/isl::{}",
                repo_dir.path().display(),
                job["archiveName"].as_str().context("archive name")?
            ),
        ],
    )?;
    let listing = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.status.success() && listing.contains("island.txt"),
        "{listing}{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let out = borg(
        "island passphrase",
        &[
            "extract",
            "--stdout",
            &format!(
                "{}/isl::{}",
                repo_dir.path().display(),
                job["archiveName"].as_str().unwrap_or_default()
            ),
            src.path()
                .join("island.txt")
                .to_str()
                .context("path")?
                .trim_start_matches('/'),
        ],
    )?;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "data from an isolated host\n"
    );
    drop(hosts);
    Ok(())
}
