//! "Repository full in N days" without a capacity set: after a backup the server measures the
//! free space of the repository's filesystem (`df` on the repository host) and the forecast
//! uses usage + free space as the capacity; an administrator's capacity still wins.

use crate::support;

use anyhow::{Context, Result};
use serde_json::json;
use std::time::Duration;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_forecast_knows_the_filesystem_free_space() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("a.txt"), "forecast data\n")?;
    let policy = local_policy(&s, &token, &[src.path().to_str().context("path")?], "fc").await?;
    let job = launch_backup(&s, &token, policy).await?;
    s.wait_job_status(&token, job, "successful", Duration::from_secs(120))
        .await?;
    let d = s
        .ok(
            &token,
            "query($id: Int!) { policy(id: $id) { repositoryId } }",
            json!({"id": policy}),
        )
        .await?;
    let repo = d["policy"]["repositoryId"].as_i64().context("repository")?;
    let q = "query($r: Int!) { repositoryForecast(repository: $r) { capacity used description } }";
    let f = s.ok(&token, q, json!({"r": repo})).await?["repositoryForecast"].clone();
    let capacity = f["capacity"]
        .as_i64()
        .context("no capacity from free space")?;
    let used = f["used"].as_i64().unwrap_or_default();
    assert!(used > 0, "{f}");
    assert!(
        capacity > used + 1024 * 1024,
        "capacity should be usage + free space: {f}"
    );
    assert_ne!(f["description"], "no capacity set", "{f}");

    // An explicit capacity overrides the measured one.
    s.ok(
        &token,
        "mutation($r: Int!) { setRepositoryCapacity(repository: $r, capacity: 5000000000000) }",
        json!({"r": repo}),
    )
    .await?;
    let f = s.ok(&token, q, json!({"r": repo})).await?["repositoryForecast"].clone();
    assert_eq!(f["capacity"], 5_000_000_000_000i64, "{f}");
    Ok(())
}
