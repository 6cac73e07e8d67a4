//! The catalog's life cycle through the real server, on real borg archives: pruned archives
//! vanish from search, a mass deletion is an anomaly and a small change is not, and a server
//! killed in the middle of an ingestion completes the archive's catalog after a restart.

use crate::catalog_support;
use crate::support;

use anyhow::{ensure, Context, Result};
use catalog_support::*;
use serde_json::json;
use std::time::{Duration, Instant};
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn pruned_archives_vanish_from_search() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let src = tempfile::tempdir()?;
    let root = src.path().canonicalize()?;
    copy_docs(&root.join("docs"), 60)?;
    let only = root.join("only-in-first.txt");
    write(&only, "soon gone\n", None)?;
    write(&root.join("stable.txt"), "stable\n", None)?;
    let (policy, repo) = policy_in(&s, &token, &root).await?;
    let a1 = backup(&s, &token, policy).await?;
    std::fs::remove_file(&only)?;
    let a2 = backup(&s, &token, policy).await?;
    write(&root.join("later.txt"), "later\n", None)?;
    let a3 = backup(&s, &token, policy).await?;
    let stable = format!("{}/stable.txt", root.display());
    let (ids, hit) = holders(&s, &token, &stable, json!({})).await?;
    ensure!(ids.len() == 3, "{hit}");
    let (t, hits) = search_all(&s, &token, "only-in-first", json!({}), 50).await?;
    ensure!(
        t == 1 && hits[0]["archiveIds"] == json!([ids[0]]),
        "{hits:?}"
    );

    // Every archive is from today: keeping one daily archive prunes the two older ones.
    s.ok(
        &token,
        "mutation($id: Int!) { updatePolicy(id: $id, input: {keepDaily: 1}) { id } }",
        json!({"id": policy}),
    )
    .await?;
    let pj = s
        .ok(
            &token,
            "mutation($id: Int!) { prunePolicy(id: $id) { id } }",
            json!({"id": policy}),
        )
        .await?;
    let pid = pj["prunePolicy"][0]["id"].as_i64().context("prune job")?;
    s.wait_job_status(&token, pid, "successful", JOBS).await?;
    let left = borg(PASS, &["list", "--short", &repo])?;
    let left: Vec<String> = String::from_utf8_lossy(&left.stdout)
        .lines()
        .map(String::from)
        .collect();
    ensure!(
        left == [a3.clone()],
        "borg kept {left:?}, not [{a3}] ({a1}, {a2} pruned)"
    );

    let (t, hits) = search_all(&s, &token, "only-in-first", json!({}), 50).await?;
    ensure!(
        t == 0,
        "a file only in pruned archives is still found: {hits:?}"
    );
    let (ids_after, hit) = holders(&s, &token, &stable, json!({})).await?;
    ensure!(ids_after == [ids[2]], "{hit}");
    ensure!(
        hit["firstArchive"]["name"] == a3.as_str() && hit["lastArchive"]["name"] == a3.as_str()
    );
    let (_, all) = search_all(&s, &token, "", json!({}), 1000).await?;
    for h in &all {
        ensure!(
            h["archiveIds"] == json!([ids[2]]),
            "a pruned archive is still listed: {h}"
        );
    }
    for gone in &ids[..2] {
        let r = s
            .gql(
                Some(&token),
                "query($a: Int!) { archiveChanges(archive: $a) { added } }",
                json!({"a": gone}),
            )
            .await?;
        ensure!(r.error_code() == Some("NOT_FOUND"), "{:?}", r.0);
        let (t, _) = search_all(&s, &token, "", json!({"archive": gone}), 50).await?;
        ensure!(t == 0, "pruned archive {gone} still has {t} hits");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn mass_deletion_is_an_anomaly_a_small_change_is_not() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let src = tempfile::tempdir()?;
    let root = src.path().canonicalize()?;
    copy_docs(&root.join("docs"), 120)?;
    let (policy, _) = policy_in(&s, &token, &root).await?;
    backup(&s, &token, policy).await?;
    // A normal day: one file changed, one added.
    write(&root.join("added.txt"), "one more\n", None)?;
    let victim = root.join("victim.txt");
    write(&victim, "v1\n", None)?;
    backup(&s, &token, policy).await?;
    write(&victim, "v2, changed\n", None)?;
    backup(&s, &token, policy).await?;
    // Ransomware-like: most of the tree disappears.
    std::fs::remove_dir_all(root.join("docs"))?;
    backup(&s, &token, policy).await?;

    let (ids, _) = holders(
        &s,
        &token,
        &format!("{}/added.txt", root.display()),
        json!({}),
    )
    .await?;
    ensure!(ids.len() == 3, "{ids:?}");
    let (small, deleted) = (ids[1], ids[2]);
    let q = "query($a: Int!) { archiveChanges(archive: $a) { archiveId previousArchiveId added removed changed unchanged anomaly { kind reason archive { id name } } } }";
    let c = s.ok(&token, q, json!({"a": small})).await?["archiveChanges"].clone();
    ensure!(c["anomaly"].is_null(), "a small change is flagged: {c}");
    ensure!(c["previousArchiveId"] == ids[0] && c["removed"] == 0, "{c}");
    ensure!(
        c["changed"].as_i64() >= Some(1) && c["unchanged"].as_i64() > Some(100),
        "{c}"
    );
    let c = s.ok(&token, q, json!({"a": deleted})).await?["archiveChanges"].clone();
    ensure!(
        c["anomaly"]["kind"] == "mass_deletion",
        "mass deletion not flagged: {c}"
    );
    ensure!(c["removed"].as_i64() > Some(100), "{c}");
    ensure!(
        c["anomaly"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("removed"),
        "{c}"
    );

    let d = s
        .ok(
            &token,
            "{ anomalies { kind reason removed archive { id name } previousArchiveId clientHostname policyId } }",
            json!({}),
        )
        .await?;
    let list = d["anomalies"].as_array().cloned().unwrap_or_default();
    ensure!(
        list.len() == 1,
        "only the mass deletion is an anomaly: {list:?}"
    );
    ensure!(
        list[0]["archive"]["id"] == deleted
            && list[0]["kind"] == "mass_deletion"
            && list[0]["previousArchiveId"] == small
            && list[0]["clientHostname"] == "localhost"
            && list[0]["policyId"] == policy,
        "{list:?}"
    );
    let future = s
        .ok(
            &token,
            "{ anomalies(since: \"2999-01-01T00:00:00Z\") { kind } }",
            json!({}),
        )
        .await?;
    ensure!(future["anomalies"] == json!([]), "{future}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_mid_ingest_the_catalog_completes_after_restart() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let src = tempfile::tempdir()?;
    let root = src.path().canonicalize()?;
    many_files(&root.join("bulk"), 60_000)?;
    let (policy, repo) = policy_in(&s, &token, &root).await?;
    let backup_id = launch_backup(&s, &token, policy).await?;
    s.wait_job_status(&token, backup_id, "successful", JOBS)
        .await?;
    let archive = s
        .ok(
            &token,
            "query($id: Int!) { job(id: $id) { archiveName } }",
            json!({"id": backup_id}),
        )
        .await?["job"]["archiveName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // The catalog job follows the backup: kill the server while it lists and ingests.
    let start = Instant::now();
    let catalog_id = loop {
        let d = s
            .ok(
                &token,
                "{ jobs(first: 50, jobType: \"catalog\") { nodes { id status } } }",
                json!({}),
            )
            .await?;
        let running = d["jobs"]["nodes"]
            .as_array()
            .and_then(|a| a.iter().find(|j| j["status"] == "running").cloned());
        if let Some(j) = running {
            break j["id"].as_i64().context("catalog job id")?;
        }
        ensure!(start.elapsed() < JOBS, "no running catalog job: {d}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    ensure!(
        job_status(&s, &token, catalog_id).await? == "running",
        "the catalog job ended before the crash: make the archive larger"
    );
    let dir = s.crash();

    let s = Server::start_with(dir, &[])?;
    let token = s.login().await?;
    let jobs = s.wait_jobs(&token, JOBS).await?;
    let resumed = jobs
        .iter()
        .find(|j| j["jobType"] == "catalog" && j["launchType"] == "resume")
        .with_context(|| format!("no resumed catalog job: {jobs:?}"))?;
    ensure!(resumed["status"] == "successful", "{resumed}");
    ensure!(resumed["archiveName"] == archive.as_str(), "{resumed}");

    // The archive's catalog is exactly its listing: same counts as a clean ingest.
    let list = listing(&repo, &archive)?;
    let files = list.iter().filter(|e| e["type"] == "-").count() as i64;
    let (t, hits) = search_page(&s, &token, "*.txt", json!({}), 1).await?;
    ensure!(
        t == files && t >= 60_000,
        "*.txt: {t}, listing has {files} files"
    );
    let id = hits[0]["archiveIds"][0].as_i64().context("archive id")?;
    let (t, _) = search_page(&s, &token, "", json!({"archive": id, "fileType": "-"}), 1).await?;
    ensure!(t == files, "files in the archive: {t}, listing {files}");
    let dirs = list.iter().filter(|e| e["type"] == "d").count() as i64;
    let (t, _) = search_page(&s, &token, "/", json!({"archive": id, "fileType": "d"}), 1).await?;
    let synthetic = root
        .ancestors()
        .skip(1)
        .filter(|a| a.parent().is_some())
        .count() as i64;
    ensure!(
        t == dirs + synthetic,
        "directories: {t}, listing {dirs} + {synthetic}"
    );
    let (t, _) = search_page(&s, &token, "file-12345.txt", json!({}), 10).await?;
    ensure!(t == 1, "file-12345.txt: {t}");
    let c = s
        .ok(
            &token,
            "query($a: Int!) { archiveChanges(archive: $a) { added previousArchiveId } }",
            json!({"a": id}),
        )
        .await?;
    ensure!(
        c["archiveChanges"]["added"] == t_all(&list, synthetic)
            && c["archiveChanges"]["previousArchiveId"].is_null(),
        "{c}"
    );
    Ok(())
}
