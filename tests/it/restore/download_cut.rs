//! A download whose repository breaks after the first chunks were sent is cut short: the
//! transfer ends with an error instead of looking complete.

use crate::fixture::*;
use crate::support::*;
use anyhow::Result;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn a_download_that_fails_midway_is_cut_short() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let src = tempfile::tempdir()?;
    // Incompressible data in at least three borg chunks (at most 8 MiB each): the damage 3 MiB
    // before the end is never in the first.
    let mut data = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(std::fs::File::open("/dev/urandom")?, 24 << 20),
        &mut data,
    )?;
    std::fs::write(src.path().join("big.bin"), &data)?;
    let vars = json!({ "folders": [src.path()] }).to_string();
    let (policy, repo) = local_typed_policy(&s, &token, "folders", &vars, PASSPHRASE).await?;
    launch_backup(&s, &token, policy).await?;
    for j in s.wait_jobs(&token, Duration::from_secs(120)).await? {
        assert_eq!(j["status"], "successful", "{j}");
    }
    let archive = first_archive(&s, &token).await?;
    let big = src.path().join("big.bin").display().to_string();
    let d = s
        .ok(&token, DOWNLOAD, json!({"a": archive, "p": [big]}))
        .await?;
    let url = format!(
        "{}{}",
        s.url,
        d["restoreDownload"]["url"].as_str().unwrap_or_default()
    );
    corrupt_segment(std::path::Path::new(&repo), 3 << 20)?;
    let resp = reqwest::get(&url).await?;
    assert_eq!(
        resp.status().as_u16(),
        200,
        "the first chunks were readable"
    );
    let body = resp.bytes().await;
    assert!(
        body.as_ref().map_or(true, |b| b.len() < data.len()),
        "a download cut short by borg must not look complete"
    );
    assert!(body.is_err(), "the transfer ends with an error");
    Ok(())
}
