//! The walking skeleton end to end: the real binary, real borg, a real SQLite file and the
//! tantivy catalog. Log in, define a local client, repository, schedule and policy, launch it,
//! and find the backed-up file by name.

use crate::support;

use anyhow::Result;
use serde_json::json;
use std::time::Duration;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn launch_backs_up_and_catalog_finds_the_file() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let src = tempfile::tempdir()?;
    std::fs::create_dir_all(src.path().join("etc/nginx/sites-enabled"))?;
    std::fs::write(
        src.path().join("etc/nginx/nginx.conf"),
        "worker_processes 4;\n",
    )?;
    std::fs::write(
        src.path().join("etc/nginx/sites-enabled/default"),
        "server {}\n",
    )?;
    std::fs::write(src.path().join("notes ü; $(touch pwned).txt"), "odd name\n")?;
    let folder = src.path().display().to_string();
    let passphrase = "correct horse battery staple";
    let policy = local_policy(&s, &token, &[&folder], passphrase).await?;

    let launched = s
        .ok(
            &token,
            "mutation($id: Int!) { launchPolicy(id: $id) { id jobType status } }",
            json!({"id": policy}),
        )
        .await?;
    assert!(
        launched["launchPolicy"]
            .as_array()
            .map(|a| a.len())
            .unwrap_or(0)
            >= 1
    );
    let jobs = s.wait_jobs(&token, Duration::from_secs(180)).await?;
    for j in &jobs {
        assert_eq!(
            j["status"],
            "successful",
            "job {j}: {}",
            s.job_log(&token, j["id"].as_i64().unwrap_or(0)).await?
        );
    }
    let types: Vec<&str> = jobs.iter().filter_map(|j| j["jobType"].as_str()).collect();
    for t in ["prepare_repository", "prepare_client", "job", "catalog"] {
        assert!(types.contains(&t), "no {t} job in {types:?}");
    }
    let backup = jobs
        .iter()
        .find(|j| j["jobType"] == "job")
        .expect("backup job");
    let archive = backup["archiveName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        archive.starts_with("folders-localhost-"),
        "archive name {archive}"
    );

    // The job recorded borg's JSON statistics.
    let d = s.ok(&token, "query($id: Int!) { job(id: $id) { nfiles originalSize deduplicatedSize } archives { nodes { name catalogState nfiles } } }", json!({"id": backup["id"]})).await?;
    assert!(d["job"]["nfiles"].as_i64().unwrap_or(0) >= 3, "{d}");
    assert!(d["job"]["originalSize"].as_i64().unwrap_or(0) > 0);
    assert_eq!(d["archives"]["nodes"][0]["catalogState"], "complete");

    // The file is found by name, with its client and archive.
    let found = s
        .ok(&token, r#"{ catalogSearch(query: "nginx.conf") { total hits { path size clientHostname lastArchive { name } firstArchive { name } } } }"#, json!({}))
        .await?;
    let hits = found["catalogSearch"]["hits"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let hit = hits
        .iter()
        .find(|h| {
            h["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/etc/nginx/nginx.conf"))
        })
        .unwrap_or_else(|| panic!("nginx.conf not found: {found}"));
    assert_eq!(hit["clientHostname"], "localhost");
    assert_eq!(hit["lastArchive"]["name"], archive.as_str());
    assert_eq!(hit["size"], 20);
    // Odd file names are stored and found literally, never executed.
    let odd = s
        .ok(
            &token,
            r#"{ catalogSearch(query: "notes") { total hits { name } } }"#,
            json!({}),
        )
        .await?;
    assert_eq!(
        odd["catalogSearch"]["hits"][0]["name"],
        "notes ü; $(touch pwned).txt"
    );
    assert!(!src.path().join("pwned").exists() && !std::path::Path::new("pwned").exists());

    // The passphrase is in no API answer, no job log and no file of the data directory.
    let repos = s
        .ok(
            &token,
            "{ repositories { nodes { repositoryKey hasKey } } }",
            json!({}),
        )
        .await?;
    assert_eq!(
        repos["repositories"]["nodes"][0]["repositoryKey"],
        "$encrypted$"
    );
    for j in &jobs {
        let log = s.job_log(&token, j["id"].as_i64().unwrap_or(0)).await?;
        assert!(!log.contains(passphrase), "passphrase in job log");
    }
    for f in ["cyborgbackup.db", "cyborgbackup.db-wal"] {
        if let Ok(bytes) = std::fs::read(s.data_dir.path().join(f)) {
            assert!(
                !bytes
                    .windows(passphrase.len())
                    .any(|w| w == passphrase.as_bytes()),
                "passphrase in {f}"
            );
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_borg_create_fails_the_job_with_borgs_message() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let policy = local_policy(
        &s,
        &token,
        &["/nonexistent/cyborg-test-folder"],
        "some passphrase",
    )
    .await?;
    s.ok(
        &token,
        "mutation($id: Int!) { launchPolicy(id: $id) { id } }",
        json!({"id": policy}),
    )
    .await?;
    let jobs = s.wait_jobs(&token, Duration::from_secs(120)).await?;
    let backup = jobs
        .iter()
        .find(|j| j["jobType"] == "job")
        .expect("backup job");
    assert_eq!(backup["status"], "failed", "{backup}");
    assert!(
        backup["jobExplanation"]
            .as_str()
            .unwrap_or_default()
            .contains("/nonexistent/cyborg-test-folder"),
        "{backup}"
    );
    let log = s
        .job_log(&token, backup["id"].as_i64().unwrap_or(0))
        .await?;
    assert!(
        log.contains("No such file or directory"),
        "borg's message missing from the log:\n{log}"
    );
    // No catalog job follows a failed backup.
    assert!(!jobs.iter().any(|j| j["jobType"] == "catalog"), "{jobs:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_passphrase_fails_cleanly() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("a.txt"), "a")?;
    let policy = local_policy(
        &s,
        &token,
        &[&src.path().display().to_string()],
        "first passphrase",
    )
    .await?;
    s.ok(
        &token,
        "mutation($id: Int!) { launchPolicy(id: $id) { id } }",
        json!({"id": policy}),
    )
    .await?;
    s.wait_jobs(&token, Duration::from_secs(120)).await?;
    let repo = s
        .ok(&token, "{ repositories { nodes { id } } }", json!({}))
        .await?["repositories"]["nodes"][0]["id"]
        .clone();
    s.ok(&token, "mutation($id: Int!) { updateRepository(id: $id, input: {repositoryKey: \"not the passphrase\"}) { id } }", json!({"id": repo})).await?;
    let before = s.ok(&token, "{ jobs { totalCount } }", json!({})).await?["jobs"]["totalCount"]
        .as_u64()
        .unwrap_or(0) as usize;
    s.ok(
        &token,
        "mutation($id: Int!) { launchPolicy(id: $id) { id } }",
        json!({"id": policy}),
    )
    .await?;
    let jobs = s.wait_jobs(&token, Duration::from_secs(120)).await?;
    assert!(jobs.len() > before);
    let latest = &jobs[0];
    assert_eq!(latest["jobType"], "job");
    assert_eq!(latest["status"], "failed", "{latest}");
    let log = s
        .job_log(&token, latest["id"].as_i64().unwrap_or(0))
        .await?;
    assert!(log.to_lowercase().contains("passphrase"), "{log}");
    assert!(
        !log.contains("not the passphrase"),
        "secret leaked into the log"
    );
    Ok(())
}
