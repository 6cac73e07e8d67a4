//! Pipe policy types with the local transport and real borg: the producer's output becomes the
//! archive's single file, and a failing producer fails the job and leaves no partial archive.

use crate::support;

use anyhow::Result;
use serde_json::json;
use std::time::Duration;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn piped_command_output_is_the_archive() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let pass = "pipe passphrase";
    let (policy, repo) = local_typed_policy(
        &s,
        &token,
        "piped",
        &json!({"command": "printf 'hello from a pipe\\n'; printf 'second line\\n'"}).to_string(),
        pass,
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
    assert_eq!(
        backup["status"],
        "successful",
        "{}",
        s.job_log(&token, backup["id"].as_i64().unwrap_or(0))
            .await?
    );
    let archive = backup["archiveName"].as_str().unwrap_or_default();
    assert!(archive.starts_with("piped-localhost-"));
    let out = borg(
        pass,
        &[
            "extract",
            "--stdout",
            &format!("{repo}::{archive}"),
            "piped",
        ],
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from a pipe\nsecond line\n"
    );
    // The catalog knows the stream's name.
    let found = s
        .ok(
            &token,
            r#"{ catalogSearch(query: "piped") { total hits { path size } } }"#,
            json!({}),
        )
        .await?;
    assert_eq!(found["catalogSearch"]["hits"][0]["size"], 30, "{found}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_producer_fails_the_job_and_leaves_no_archive() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let pass = "pipe passphrase";
    let (policy, repo) = local_typed_policy(
        &s,
        &token,
        "piped",
        &json!({"command": "echo partial dump; echo dump broke >&2; exit 3"}).to_string(),
        pass,
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
    let log = s
        .job_log(&token, backup["id"].as_i64().unwrap_or(0))
        .await?;
    assert!(
        log.contains("dump broke") && log.contains("producer exited 3"),
        "{log}"
    );
    assert_no_archives(pass, &repo)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn shell_metacharacters_in_paths_are_literal() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let marker = s.data_dir.path().join("pwned");
    let evil = format!(
        "/tmp/nothing; touch {m}; $(touch {m}) `touch {m}`",
        m = marker.display()
    );
    let policy = local_policy(&s, &token, &[&evil], "meta passphrase").await?;
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
    assert_eq!(
        backup["status"], "failed",
        "a missing folder must fail the job: {backup}"
    );
    assert!(!marker.exists(), "a shell metacharacter was executed");
    Ok(())
}
