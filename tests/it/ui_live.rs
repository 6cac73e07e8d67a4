//! The live views in a real headless Chromium lose nothing: a job printing hundreds of lines
//! on stdout and stderr as fast as it can shows every line, once and in order, in its live log
//! 20 runs out of 20 — with the page opened before the job starts, while it prints, left and
//! reopened during the run, and with the websocket cut mid-run; and the dashboard's running
//! jobs show a job launched right as the page loads, or while the websocket is down, then
//! drop it when it ends, without any polling.

use crate::support;

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use std::time::Duration;
use support::browser::Browser;
use support::*;

const SHORT: Duration = Duration::from_secs(30);
const RUNS: usize = 20;
const LINES: usize = 300;

#[tokio::test(flavor = "multi_thread")]
async fn live_views_show_every_line_and_every_job() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let b = Browser::start().await?;
    let result = scenario(&s, &token, &b).await;
    if result.is_err() {
        let _ = b.screenshot("live-failure").await;
    }
    b.close().await?;
    result
}

async fn ids(s: &Server, token: &str) -> Result<(i64, i64, i64)> {
    let c = s
        .ok(
            token,
            r#"mutation { createClient(input: {hostname: "localhost"}) { id } }"#,
            json!({}),
        )
        .await?["createClient"]["id"]
        .as_i64()
        .context("client")?;
    let repo = s.data_dir.path().join("live-repo").display().to_string();
    let r = create_repository(s, token, "live", &repo, "live view passphrase").await?;
    let sc = create_schedule(s, token, "nightly").await?;
    Ok((c, r, sc))
}

async fn scenario(s: &Server, token: &str, b: &Browser) -> Result<()> {
    let (client, repository, schedule) = ids(s, token).await?;
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("a.txt"), "a\n")?;
    let folder = src.path().display().to_string();
    // Both streams at once, as fast as the shell prints.
    let prehook = format!(
        "i=1; while [ $i -le {LINES} ]; do echo \"out line $i\"; echo \"err line $i\" >&2; i=$((i+1)); done"
    );
    let fast = create_policy(
        s,
        token,
        &PolicySpec {
            name: "fast lines",
            policy_type: "folders",
            clients: vec![client],
            repository,
            schedule,
            extra_vars: json!({ "folders": [folder] }),
            prehook: &prehook,
            ..Default::default()
        },
    )
    .await?;
    let slow = create_policy(
        s,
        token,
        &PolicySpec {
            name: "slow start",
            policy_type: "folders",
            clients: vec![client],
            repository,
            schedule,
            extra_vars: json!({ "folders": [folder] }),
            prehook: "sleep 3",
            ..Default::default()
        },
    )
    .await?;
    b.login(&s.url, ADMIN_EMAIL, ADMIN_PASSWORD).await?;

    let mut via_ws = 0;
    let mut via_read = 0;
    for run in 0..RUNS {
        let (ws, read) = one_log_run(s, token, b, fast, run)
            .await
            .with_context(|| format!("run {} of {RUNS}", run + 1))?;
        via_ws += ws;
        via_read += read;
    }
    eprintln!(
        "{RUNS}/{RUNS} runs showed every line: {via_ws} lines over the websocket, {via_read} read after a gap or at the end"
    );
    ensure!(
        via_ws >= via_read * 4,
        "most lines should stream: {via_ws} streamed, {via_read} read"
    );
    s.wait_jobs(token, Duration::from_secs(300)).await?;

    dashboard_sees_every_job(s, token, b, slow).await
}

/// One fast job watched in the browser, perturbed according to `run`; returns how many lines
/// came over the websocket and how many were read by query.
async fn one_log_run(
    s: &Server,
    token: &str,
    b: &Browser,
    policy: i64,
    run: usize,
) -> Result<(usize, usize)> {
    let mode = run % 4;
    // Mode 3 opens the page while the job already prints; the others before it starts.
    let job = launch_backup(s, token, policy).await?;
    let page = format!("{}/#/jobs/{job}", s.url);
    if mode == 3 {
        wait_for_output(s, token, job, 50).await?;
    }
    b.goto(&page).await?;
    b.wait_js(
        "document.getElementById('job-head')?.querySelector('#job-status')",
        SHORT,
    )
    .await?;
    match mode {
        // The websocket is cut while the job prints; the page resubscribes after its marker.
        1 => {
            wait_for_output(s, token, job, 20).await?;
            b.js("window.cyborgDebug.dropLiveConnection()", Value::Null)
                .await?;
        }
        // The page is left and opened again during the run.
        2 => {
            wait_for_output(s, token, job, 20).await?;
            b.goto(&format!("{}/#/jobs", s.url)).await?;
            b.wait_for("#jobs-list").await?;
            b.goto(&page).await?;
        }
        _ => {}
    }
    let fin = b
        .wait_js(
            "document.getElementById('log-state')?.dataset.final",
            Duration::from_secs(180),
        )
        .await?;
    ensure!(fin == "successful", "job {job} ended {fin}");
    let stored = all_output(s, token, job).await?;
    ensure!(
        stored.len() >= 2 * LINES,
        "job {job} stored {} lines",
        stored.len()
    );
    // Lines may still be on their way when the final status shows; they must all arrive.
    let expect = stored.len();
    let shown = b
        .wait_js(
            &format!(
                "(() => {{ const l = [...document.querySelectorAll('#job-log [data-seq]')]; return l.length >= {expect} && l.map(e => [Number(e.dataset.seq), e.dataset.via, e.textContent]); }})()"
            ),
            SHORT,
        )
        .await
        .with_context(|| format!("job {job}: not every line shown (mode {mode})"))?;
    let shown = shown.as_array().context("lines")?;
    ensure!(
        shown.len() == expect,
        "job {job}: {} lines shown, {expect} stored (duplicates?)",
        shown.len()
    );
    let (mut ws, mut read) = (0, 0);
    for (i, (line, want)) in shown.iter().zip(&stored).enumerate() {
        let seq = line[0].as_i64().unwrap_or(-1);
        ensure!(
            seq == want.0,
            "job {job}: line {i} shows seq {seq}, expected {} (mode {mode})",
            want.0
        );
        let text = line[2].as_str().unwrap_or_default();
        ensure!(
            text.ends_with(&want.1),
            "job {job}: seq {seq} shows {text:?}, stored {:?}",
            want.1
        );
        if line[1] == "ws" {
            ws += 1;
        } else {
            read += 1;
        }
    }
    Ok((ws, read))
}

/// Waits until a job has stored at least `n` lines.
async fn wait_for_output(s: &Server, token: &str, job: i64, n: usize) -> Result<()> {
    let start = std::time::Instant::now();
    while all_output(s, token, job).await?.len() < n {
        ensure!(
            start.elapsed() < Duration::from_secs(120),
            "job {job} printed fewer than {n} lines"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Every stored line of a job: (seq, text).
async fn all_output(s: &Server, token: &str, job: i64) -> Result<Vec<(i64, String)>> {
    let mut out = Vec::new();
    loop {
        let after = out.last().map_or(0, |l: &(i64, String)| l.0);
        let d = s
            .ok(
                token,
                "query($id: Int!, $a: Int!) { job(id: $id) { output(after: $a, limit: 1000) { seq text } } }",
                json!({"id": job, "a": after}),
            )
            .await?;
        let page = d["job"]["output"].as_array().cloned().unwrap_or_default();
        let n = page.len();
        out.extend(page.iter().map(|l| {
            (
                l["seq"].as_i64().unwrap_or(0),
                l["text"].as_str().unwrap_or_default().to_string(),
            )
        }));
        if n < 1000 {
            return Ok(out);
        }
    }
}

/// The dashboard's running jobs follow the status feed alone: a job launched the moment the
/// page loads (before its websocket is up) and one launched while the websocket is down both
/// show, and leave the list when they end.
async fn dashboard_sees_every_job(s: &Server, token: &str, b: &Browser, policy: i64) -> Result<()> {
    for run in 0..5 {
        // A full page load: a new websocket, a new cursor.
        b.goto(&format!("{}/?load={run}#/", s.url)).await?;
        let job = launch_backup(s, token, policy).await?;
        b.wait_js(
            &format!("document.querySelector('#running-jobs [data-job=\"{job}\"]')"),
            SHORT,
        )
        .await
        .with_context(|| format!("run {run}: job {job} launched at page load never shown"))?;
        s.wait_jobs(token, Duration::from_secs(120)).await?;
        b.wait_js(
            &format!("!document.querySelector('#running-jobs [data-job=\"{job}\"]')"),
            SHORT,
        )
        .await
        .with_context(|| format!("run {run}: finished job {job} still shown"))?;
    }
    // The websocket goes down; a job launched meanwhile is replayed after the reconnect.
    b.wait_js("document.body.dataset.live === 'live'", SHORT)
        .await?;
    b.js("window.cyborgDebug.dropLiveConnection()", Value::Null)
        .await?;
    let job = launch_backup(s, token, policy).await?;
    b.wait_js(
        &format!("document.querySelector('#running-jobs [data-job=\"{job}\"]')"),
        SHORT,
    )
    .await
    .with_context(|| format!("job {job} launched during a reconnect never shown"))?;
    s.wait_jobs(token, Duration::from_secs(120)).await?;
    Ok(())
}
