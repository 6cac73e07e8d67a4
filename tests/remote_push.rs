//! Push mode over real SSH: the server (russh, its own generated key) drives two clients on
//! loopback sshd hosts, whose borg writes to a repository host through the forwarded agent.

mod support;

use anyhow::Result;
use serde_json::json;
use std::time::Duration;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn two_clients_back_up_to_a_repository_host() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let hosts = ssh_hosts(&s, &token).await?;
    let port = hosts.port as i64;

    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("remote-report.csv"), "a,b\n1,2\n")?;
    let repo_dir = tempfile::tempdir()?;
    let repo_path = format!("ssh://root@repo:{port}{}/main", repo_dir.path().display());

    let mut clients = Vec::new();
    for h in ["web1", "web2"] {
        clients.push(ssh_client(&s, &token, h, hosts.port).await?);
    }
    let repo =
        create_repository(&s, &token, "remote", &repo_path, "remote repo passphrase").await?;
    let spec = PolicySpec {
        name: "docs",
        policy_type: "folders",
        clients: clients.clone(),
        repository: repo,
        schedule: create_schedule(&s, &token, "n").await?,
        extra_vars: json!({"folders": [src.path()]}),
        ..Default::default()
    };
    launch(&s, &token, create_policy(&s, &token, &spec).await?).await?;
    let jobs = s.wait_jobs(&token, Duration::from_secs(180)).await?;
    for j in &jobs {
        assert_eq!(
            j["status"],
            "successful",
            "job {j}:\n{}",
            s.job_log(&token, j["id"].as_i64().unwrap_or(0)).await?
        );
    }
    let backups: Vec<&serde_json::Value> = jobs.iter().filter(|j| j["jobType"] == "job").collect();
    assert_eq!(backups.len(), 2);

    // Both archives are in the repository on the repository host.
    let list = borg(
        "remote repo passphrase",
        &[
            "list",
            "--short",
            &format!("{}/main", repo_dir.path().display()),
        ],
    )?;
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let names = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(
        names.contains("folders-web1-") && names.contains("folders-web2-"),
        "{names}"
    );

    // Clients were prepared over SSH, host keys pinned, and the catalog finds the file on both.
    let d = s
        .ok(
            &token,
            "{ clients { nodes { hostname ready version } } hostKeys { host port fingerprint } }",
            json!({}),
        )
        .await?;
    for c in d["clients"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        assert_eq!(c["ready"], true, "{c}");
        assert!(
            c["version"].as_str().unwrap_or_default().starts_with("1."),
            "{c}"
        );
    }
    assert!(
        d["hostKeys"].as_array().map(|a| a.len()).unwrap_or(0) >= 3,
        "{d}"
    );
    let found = s
        .ok(
            &token,
            r#"{ catalogSearch(query: "remote-report.csv") { total hits { clientHostname } } }"#,
            json!({}),
        )
        .await?;
    let mut hostsfound: Vec<String> = found["catalogSearch"]["hits"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|h| h["clientHostname"].as_str().map(String::from))
        .collect();
    hostsfound.sort();
    assert_eq!(hostsfound, vec!["web1", "web2"], "{found}");
    drop(hosts);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_mode_relays_through_the_server() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let hosts = ssh_hosts(&s, &token).await?;
    let port = hosts.port as i64;
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("pulled.txt"), "pulled data\n")?;
    let repo_dir = tempfile::tempdir()?;
    let repo_path = format!("ssh://root@repo:{port}{}/pull", repo_dir.path().display());
    let c = ssh_client(&s, &token, "web2", hosts.port).await?;
    let out = tempfile::tempdir()?;
    let hook_file = out.path().join("hook-host");
    let hook = format!("hostname > {}", hook_file.display());
    let spec = PolicySpec {
        name: "pull",
        policy_type: "folders",
        clients: vec![c],
        repository: create_repository(&s, &token, "pull", &repo_path, "pull passphrase").await?,
        schedule: create_schedule(&s, &token, "n").await?,
        extra_vars: json!({"folders": [src.path()]}),
        mode_pull: true,
        prehook: &hook,
        ..Default::default()
    };
    launch(&s, &token, create_policy(&s, &token, &spec).await?).await?;
    let jobs = s.wait_jobs(&token, Duration::from_secs(180)).await?;
    for j in &jobs {
        assert_eq!(
            j["status"],
            "successful",
            "job {j}:\n{}",
            s.job_log(&token, j["id"].as_i64().unwrap_or(0)).await?
        );
    }
    let backup = jobs.iter().find(|j| j["jobType"] == "job").expect("backup");
    let log = s
        .job_log(&token, backup["id"].as_i64().unwrap_or(0))
        .await?;
    // The client's borg went through the server's relay: no tunnel, no hop through the host.
    assert!(log.contains("the server relays"), "{log}");
    assert!(log.contains("CYBORG_RELAY_RSH"), "{log}");
    assert!(!log.contains("-R 127.0.0.1:"), "{log}");
    assert!(!log.contains("pull passphrase"));
    // Hooks still run on the client.
    assert_eq!(std::fs::read_to_string(&hook_file)?.trim(), "web2");
    let list = borg(
        "pull passphrase",
        &[
            "list",
            "--short",
            &format!("{}/pull", repo_dir.path().display()),
        ],
    )?;
    assert!(
        String::from_utf8_lossy(&list.stdout).contains("folders-web2-"),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    drop(hosts);
    Ok(())
}
