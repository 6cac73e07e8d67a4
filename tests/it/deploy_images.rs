//! The deployments administrators use, built and run for real with the machine's Docker
//! Engine: the image from docker/Dockerfile started with docker/compose.yaml, and the Debian
//! package installed in a Debian container. Repository host and client are further containers
//! running sshd, each at its own address on a private Docker network made by the test. The
//! images are built once for both tests by `scripts/docker-images.sh server <binary>`: the base
//! image from debootstrap (cached by tag), the server from docker/Dockerfile's `prebuilt` stage
//! with the binary this test run built, so that CI compiles the workspace once.

mod api;
mod deb;
mod docker;

use anyhow::{Context, Result};
use api::*;
use docker::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// A piped backup that lasts ten minutes unless its client is cut off.
const SLOW_PIPE: &str =
    r#"{"command": "i=0; while [ $i -lt 600 ]; do echo line $i; i=$((i+1)); sleep 1; done"}"#;

/// The repository host and the client web1 (with the needle in /srv/data) on `net`.
pub fn hosts(image: &str, net: &Network) -> Result<(Container, Container)> {
    let repo = Container::run(image, net, "repo")?;
    let web1 = Container::run(image, net, "web1")?;
    repo.exec(&["mkdir", "-p", "/srv/borg"])?;
    web1.exec(&["mkdir", "-p", "/srv/data"])?;
    web1.exec_stdin(
        &["sh", "-c", &format!("cat >/srv/data/{NEEDLE}")],
        NEEDLE_CONTENT,
    )?;
    Ok((repo, web1))
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_compose_backs_up_restores_restarts_and_survives_a_network_cut() -> Result<()> {
    let img = images()?;
    let net = Network::create("compose")?;
    let (repo, web1) = hosts(&img.host, &net)?;
    let compose = Compose::new(
        "compose",
        &[
            ("CYBORG_IMAGE", &img.server),
            ("CYBORG_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("CYBORG_PUBLISH", "127.0.0.1:0"),
            ("CYBORG_LOG", "info"),
        ],
    );
    compose.run(&["up", "-d", "--no-build"])?;
    let server = compose.container("cyborgbackup")?;
    server.connect(&net, "cyborgbackup")?;
    let url = format!("http://{}:8000", server.ip(&net)?);
    let api = Remote::connect(&url, Duration::from_secs(180))
        .await
        .with_context(|| server.logs())?;
    // The server runs as the non-root user, with its data in the volume.
    let who = server.exec(&[
        "sh",
        "-c",
        "id -un; stat -c %U /var/lib/cyborgbackup/cyborgbackup.db",
    ])?;
    assert_eq!(
        who.split_whitespace().collect::<Vec<_>>(),
        ["cyborgbackup", "cyborgbackup"]
    );

    // Back web1 up to the repository host, find the file, restore it.
    let sc = inventory(&api, &[&repo, &web1]).await?;
    let job = api.launch_ok(sc.folders).await?;
    assert_eq!(job["status"], "successful", "{job}");
    let found = find_needle(&api).await?;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["hits"][0]["clientHostname"], "web1", "{found}");
    assert_eq!(restore_needle(&api, &web1).await?, NEEDLE_CONTENT);

    // `docker compose restart`: nothing lost, the session token still valid.
    let before = api
        .ok(
            "{ jobs { totalCount } archives { totalCount } clients { totalCount } }",
            json!({}),
        )
        .await?;
    compose.run(&["restart"])?;
    let restarted = Remote::connect(&url, Duration::from_secs(180))
        .await
        .with_context(|| server.logs())?;
    assert_eq!(
        api.ok(
            "{ jobs { totalCount } archives { totalCount } clients { totalCount } }",
            json!({})
        )
        .await?,
        before
    );
    assert_eq!(find_needle(&restarted).await?, found);

    // A backup runs; the client is cut off the network; the job fails and says why.
    let schedule = api
        .ok(
            r#"mutation { createSchedule(input: {name: "slow", crontab: "0 4 * * *"}) { id } }"#,
            json!({}),
        )
        .await?["createSchedule"]["id"]
        .clone();
    let slow = api
        .ok("mutation($c: Int!, $r: Int!, $s: Int!, $v: String!) { createPolicy(input: {name: \"slow\", policyType: \"piped\", extraVars: $v, clients: [$c], repository: $r, schedule: $s}) { id } }",
            json!({"c": sc.client, "r": sc.repository, "s": schedule, "v": SLOW_PIPE}))
        .await?["createPolicy"]["id"]
        .as_i64()
        .context("policy")?;
    let (running, _) = api.launch(slow).await?;
    let start = Instant::now();
    while api.job(running).await?["status"] != "running" {
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(120),
            "the slow backup did not start"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    web1.disconnect(&net)?;
    let cut = Instant::now();
    let job = api.finished(running, Duration::from_secs(300)).await?;
    let why = job["jobExplanation"].as_str().unwrap_or_default();
    // `error`: the job could not run to its end (transport), as opposed to borg's `failed`.
    assert_eq!(job["status"], "error", "{job}");
    assert!(
        why.contains("web1") && why.contains("lost"),
        "unclear explanation: {why}"
    );
    eprintln!("network cut: job failed after {:?}: {why}", cut.elapsed());
    web1.connect(&net, "web1")?;
    // The next backup after reconnecting succeeds.
    let job = api.launch_ok(sc.folders).await?;
    assert_eq!(job["status"], "successful", "{job}");

    // The image's HEALTHCHECK (`cyborgbackup healthcheck` → /readyz) reports healthy.
    let start = Instant::now();
    loop {
        let h = docker(&["inspect", "-f", "{{.State.Health.Status}}", server.id()])?;
        if h.trim() == "healthy" {
            break;
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(120),
            "container health: {h}"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    Ok(())
}
