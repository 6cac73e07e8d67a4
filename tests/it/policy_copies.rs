//! Copy repositories (3-2-1): a policy with a primary repository on one host and a copy on
//! another backs its client up into both, as archives of their own made by borg; the catalog
//! finds the file in both; the copy still runs when the primary's host is unreachable; bad
//! copy lists are refused naming the field, through GraphQL and REST.

mod proven;
mod schedule;
use crate::support;

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use std::time::Duration;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_backs_up_into_its_primary_and_its_copy_on_another_host() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let hosts = ssh_hosts(&s, &token).await?;
    let port = hosts.port;

    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("ledger-2026.csv"), "a,b\n1,2\n")?;
    let primary_dir = tempfile::tempdir()?;
    let copy_dir = tempfile::tempdir()?;
    let primary_path = format!(
        "ssh://root@repo:{port}{}/main",
        primary_dir.path().display()
    );
    let copy_path = format!("ssh://root@web2:{port}{}/copy", copy_dir.path().display());
    let client = ssh_client(&s, &token, "web1", port).await?;
    let primary = create_repository(&s, &token, "primary", &primary_path, "primary pass").await?;
    let copy = create_repository(&s, &token, "offsite", &copy_path, "copy pass").await?;
    let spec = PolicySpec {
        name: "ledger",
        policy_type: "folders",
        clients: vec![client],
        repository: primary,
        schedule: create_schedule(&s, &token, "n").await?,
        extra_vars: json!({"folders": [src.path()]}),
        ..Default::default()
    };
    let policy = create_policy(&s, &token, &spec).await?;

    // Bad copy lists are refused with the field, and nothing changes.
    for (copies, why) in [
        (json!([primary]), "is the primary repository"),
        (json!([copy, copy]), "listed twice"),
        (json!([987654]), "does not exist"),
    ] {
        let r = s
            .gql(
                Some(&token),
                "mutation($id: Int!, $c: [Int!]) { updatePolicy(id: $id, input: {copies: $c}) { id } }",
                json!({"id": policy, "c": copies}),
            )
            .await?;
        ensure!(
            r.error_field() == Some("copies") && r.error_message().contains(why),
            "{copies}: {:?} {}",
            r.error_field(),
            r.error_message()
        );
    }
    let (code, body) = s
        .rest(
            "PATCH",
            &format!("/api/v1/policies/{policy}/"),
            Some(&format!("Token {token}")),
            Some(json!({"copies": [primary]})),
        )
        .await?;
    ensure!(
        code == 400 && body["copies"].to_string().contains("primary"),
        "{code} {body}"
    );

    // Set over REST; read back through both APIs.
    let (code, body) = s
        .rest(
            "PATCH",
            &format!("/api/v1/policies/{policy}/"),
            Some(&format!("Token {token}")),
            Some(json!({"copies": [copy]})),
        )
        .await?;
    ensure!(
        code == 200 && body["copies"] == json!([copy]) && body["repository"] == primary,
        "{code} {body}"
    );
    let d = s
        .ok(
            &token,
            "query($id: Int!) { policy(id: $id) { repositoryId copyRepositoryIds } }",
            json!({"id": policy}),
        )
        .await?;
    ensure!(d["policy"]["copyRepositoryIds"] == json!([copy]), "{d}");

    // One run: a backup into each repository, each catalogued.
    launch(&s, &token, policy).await?;
    let jobs = s.wait_jobs(&token, Duration::from_secs(300)).await?;
    for j in &jobs {
        ensure!(
            j["status"] == "successful",
            "job {j}:\n{}\nweb2 sshd:\n{}",
            s.job_log(&token, j["id"].as_i64().unwrap_or(0)).await?,
            hosts.log("web2")
        );
    }
    let backups: Vec<&Value> = jobs.iter().filter(|j| j["jobType"] == "job").collect();
    ensure!(backups.len() == 2, "{backups:?}");
    for (dir, pass, name) in [
        (&primary_dir, "primary pass", "main"),
        (&copy_dir, "copy pass", "copy"),
    ] {
        let repo = format!("{}/{name}", dir.path().display());
        let list = borg(pass, &["list", "--short", &repo])?;
        ensure!(
            list.status.success(),
            "{}",
            String::from_utf8_lossy(&list.stderr)
        );
        let names = String::from_utf8_lossy(&list.stdout).to_string();
        ensure!(names.contains("folders-web1-"), "{repo}: {names}");
        // The copy is a borg archive of its own: the file extracts from it.
        let archive = names.lines().next().context("archive")?.to_string();
        let out = borg(
            pass,
            &[
                "extract",
                "--stdout",
                &format!("{repo}::{archive}"),
                &src.path().join("ledger-2026.csv").display().to_string()[1..],
            ],
        )?;
        ensure!(
            out.stdout == b"a,b\n1,2\n",
            "{repo}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for r in [primary, copy] {
        let d = s
            .ok(
                &token,
                "query($r: Int!) { catalogSearch(query: \"ledger-2026.csv\", filter: {repository: $r}) { total } }",
                json!({"r": r}),
            )
            .await?;
        ensure!(d["catalogSearch"]["total"] == 1, "repository {r}: {d}");
    }

    // The copy matches the primary archive of the same run: same paths, sizes and mtimes.
    let copy_archive = s
        .ok(
            &token,
            "query($r: Int!) { archives(repository: $r) { nodes { id } } }",
            json!({"r": copy}),
        )
        .await?["archives"]["nodes"][0]["id"]
        .as_i64()
        .context("copy archive")?;
    let cmp = s
        .ok(
            &token,
            "query($a: Int!) { copyComparison(archive: $a) { identical same missing extra changed primary { repositoryId } copy { repositoryId } } }",
            json!({"a": copy_archive}),
        )
        .await?["copyComparison"]
        .clone();
    ensure!(
        cmp["identical"] == true
            && cmp["same"].as_i64() >= Some(1)
            && cmp["primary"]["repositoryId"] == primary
            && cmp["copy"]["repositoryId"] == copy,
        "{cmp}"
    );

    // The primary's host is unreachable: its backup fails, the copy's succeeds.
    let (code, body) = s
        .rest(
            "PATCH",
            &format!("/api/v1/repositories/{primary}/"),
            Some(&format!("Token {token}")),
            Some(json!({"path": format!("ssh://root@127.0.0.1:1{}/main", primary_dir.path().display())})),
        )
        .await?;
    ensure!(code == 200, "{code} {body}");
    std::fs::write(src.path().join("ledger-2027.csv"), "c\n")?;
    launch(&s, &token, policy).await?;
    s.wait_jobs(&token, Duration::from_secs(300)).await?;
    let jobs = s
        .ok(
            &token,
            "{ jobs(first: 500, jobType: \"job\") { nodes { id jobType status repositoryId jobExplanation } } }",
            json!({}),
        )
        .await?["jobs"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let backup_of = |repo: i64| {
        jobs.iter()
            .filter(|j| j["jobType"] == "job" && j["repositoryId"] == repo)
            .max_by_key(|j| j["id"].as_i64())
            .cloned()
            .unwrap_or(Value::Null)
    };
    ensure!(
        backup_of(primary)["status"] != "successful",
        "{}",
        backup_of(primary)
    );
    let copy_job = backup_of(copy);
    ensure!(
        copy_job["status"] == "successful",
        "{copy_job}\n{}\nweb2 sshd:\n{}",
        s.job_log(&token, copy_job["id"].as_i64().unwrap_or(0))
            .await?,
        hosts.log("web2")
    );

    // A repository holding copies is not deleted from under its policy.
    let r = s
        .gql(
            Some(&token),
            "mutation($id: Int!) { deleteRepository(id: $id) }",
            json!({"id": copy}),
        )
        .await?;
    ensure!(
        r.error_message().contains("ledger"),
        "a copy repository in use was deleted: {}",
        r.0
    );
    Ok(())
}
