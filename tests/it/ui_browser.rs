//! The web UI end to end in a real headless Chromium: log in (after a wrong password), create
//! a client, repository, schedule (after a refused cron expression) and policy through the
//! forms, launch it and watch the live log until the backup succeeds, find a backed-up file in
//! the catalog, open its history, download it and compare bytes, and see the dashboard charts.
//! Every page is saved as a screenshot (`CYBORG_SCREENSHOT_DIR`, default target/ui-screenshots);
//! users, settings, host keys and VM providers are driven by `tests/ui_admin.rs`.

use crate::support;

use anyhow::{ensure, Context, Result};
use serde_json::json;
use std::path::Path;
use std::time::Duration;
use support::browser::{find_file, Browser, ENTER};
use support::*;

const SHORT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread")]
async fn the_ui_backs_up_finds_and_restores_a_file() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let src = tempfile::tempdir()?;
    std::fs::create_dir_all(src.path().join("reports"))?;
    let content = b"quarterly numbers: 42\nsecond line\n".repeat(40);
    std::fs::write(src.path().join("reports/q3-report.txt"), &content)?;
    std::fs::write(src.path().join("reports/notes.md"), "# notes\n")?;
    std::fs::write(src.path().join("hello.txt"), "hello\n")?;
    let folder = src.path().display().to_string();
    let repo_path = s.data_dir.path().join("ui-repo").display().to_string();

    let b = Browser::start().await?;
    let result = scenario(&s, &token, &b, &folder, &repo_path, &content).await;
    if result.is_err() {
        let _ = b.screenshot("failure").await;
    }
    b.close().await?;
    result
}

async fn scenario(
    s: &Server,
    token: &str,
    b: &Browser,
    folder: &str,
    repo_path: &str,
    content: &[u8],
) -> Result<()> {
    // 1. Login: a wrong password first, then the right one.
    b.goto(&format!("{}/", s.url)).await?;
    b.fill("#login-email", ADMIN_EMAIL).await?;
    b.fill("#login-password", "not-the-password").await?;
    b.click("#login-submit").await?;
    let msg = b
        .wait_js(
            "!document.getElementById('login-error').hidden && document.getElementById('login-error').textContent",
            SHORT,
        )
        .await?;
    ensure!(
        msg.as_str()
            .unwrap_or_default()
            .contains("Wrong email or password"),
        "login error {msg}"
    );
    b.screenshot("login").await?;
    b.fill("#login-password", ADMIN_PASSWORD).await?;
    b.wait_for("#login-password")
        .await?
        .send_keys(ENTER)
        .await?;
    b.wait_js("document.querySelector('#count-clients .n')", SHORT)
        .await?;

    // 2. A client through its form (Enter submits).
    b.goto(&format!("{}/#/clients", s.url)).await?;
    b.click("#new-client").await?;
    b.fill("#client-form [name=hostname]", "localhost").await?;
    b.wait_for("#client-form [name=hostname]")
        .await?
        .send_keys(ENTER)
        .await?;
    b.wait_js("[...document.querySelectorAll('#clients-list td')].some(td => td.textContent === 'localhost')", SHORT).await?;
    b.screenshot("clients").await?;

    // 3. A repository.
    b.goto(&format!("{}/#/repositories", s.url)).await?;
    b.click("#new-repository").await?;
    b.fill("#repository-form [name=name]", "local").await?;
    b.fill("#repository-form [name=path]", repo_path).await?;
    b.fill(
        "#repository-form [name=repositoryKey]",
        "correct horse battery staple",
    )
    .await?;
    b.click("#repository-form button[type=submit]").await?;
    b.wait_js(
        "[...document.querySelectorAll('#repositories-list td')].some(td => td.textContent === 'local')",
        SHORT,
    )
    .await?;
    b.screenshot("repositories").await?;

    // 4. A schedule: a bad cron expression is refused next to its field; the preview shows
    // the next runs as one types.
    b.goto(&format!("{}/#/schedules", s.url)).await?;
    b.click("#new-schedule").await?;
    b.fill("#schedule-form [name=name]", "nightly").await?;
    b.fill("#schedule-form [name=crontab]", "61 25 * * *")
        .await?;
    b.wait_js(
        "document.querySelector('[data-cron-preview]').classList.contains('bad')",
        SHORT,
    )
    .await?;
    b.click("#schedule-form button[type=submit]").await?;
    let err = b
        .wait_js(
            "document.querySelector('.field.invalid[data-field=crontab] .ferr')?.textContent",
            SHORT,
        )
        .await?;
    ensure!(!err.as_str().unwrap_or_default().is_empty());
    b.screenshot("schedule-validation").await?;
    b.fill("#schedule-form [name=crontab]", "30 2 * * *")
        .await?;
    let preview = b
        .wait_js(
            "document.querySelector('[data-cron-preview]:not(.bad)')?.textContent.includes('02:30:00') && document.querySelector('[data-cron-preview]').textContent",
            SHORT,
        )
        .await?;
    ensure!(
        preview
            .as_str()
            .unwrap_or_default()
            .matches("02:30:00")
            .count()
            == 5,
        "preview {preview}"
    );
    b.click("#schedule-form button[type=submit]").await?;
    b.wait_js(
        "[...document.querySelectorAll('#schedules-list code')].some(c => c.textContent === '30 2 * * *')",
        SHORT,
    )
    .await?;
    b.screenshot("schedules").await?;

    // 5. A folders policy.
    b.goto(&format!("{}/#/policies", s.url)).await?;
    b.click("#new-policy").await?;
    b.fill("#policy-form [name=name]", "files").await?;
    b.click("#policy-form [name=clients] option").await?;
    b.wait_for("#policy-form [name=repository]")
        .await?
        .select_by_label("local")
        .await?;
    b.wait_for("#policy-form [name=schedule]")
        .await?
        .select_by_label("nightly (30 2 * * *)")
        .await?;
    b.fill("#policy-form [data-list=folders] input", folder)
        .await?;
    b.fill("#policy-form [name=keepDaily]", "7").await?;
    b.screenshot("policy-form").await?;
    b.click("#policy-form button[type=submit]").await?;
    b.wait_js(
        "document.querySelector('#policies-list [data-launch]')",
        SHORT,
    )
    .await?;
    b.screenshot("policies").await?;
    let p = s
        .ok(
            token,
            "{ policies { nodes { id extraVars keepDaily } } }",
            json!({}),
        )
        .await?;
    let policy = &p["policies"]["nodes"][0];
    ensure!(policy["keepDaily"] == 7, "{p}");
    let vars: serde_json::Value =
        serde_json::from_str(policy["extraVars"].as_str().unwrap_or("{}"))?;
    ensure!(vars["folders"] == json!([folder]), "extra vars {vars}");

    // 6. Launch: the page follows the backup job and streams its log until it succeeds.
    b.click("#policies-list [data-launch]").await?;
    b.wait_js("location.hash.startsWith('#/jobs/')", SHORT)
        .await?;
    b.wait_js("document.querySelector('#job-status')", SHORT)
        .await?;
    let final_status = b
        .wait_js(
            "document.getElementById('log-state')?.dataset.final",
            Duration::from_secs(240),
        )
        .await?;
    let job_id: i64 = b
        .wait_js("location.hash.split('/')[2]", SHORT)
        .await?
        .as_str()
        .unwrap_or_default()
        .parse()
        .context("job id in the url")?;
    ensure!(
        final_status == "successful",
        "job {job_id} ended {final_status}: {}",
        s.job_log(token, job_id).await?
    );
    let lines = b
        .wait_js(
            "document.querySelectorAll('#job-log [data-seq]').length",
            SHORT,
        )
        .await?;
    ensure!(lines.as_i64().unwrap_or(0) >= 1, "no log lines shown");
    // The backup waited for the preparation jobs: its lines came over the websocket.
    let live = b
        .wait_js(
            "Number(document.getElementById('job-log').dataset.live || 0)",
            SHORT,
        )
        .await?;
    ensure!(live.as_i64().unwrap_or(0) >= 1, "no line streamed live");
    let shown = b
        .wait_js("document.getElementById('job-log').textContent", SHORT)
        .await?;
    let log = s.job_log(token, job_id).await?;
    if let Some(last) = log.lines().rev().find(|l| !l.trim().is_empty()) {
        ensure!(
            shown.as_str().unwrap_or_default().contains(last.trim()),
            "the page log lacks {last:?}"
        );
    }
    b.screenshot("job").await?;

    // The file changes and the job is relaunched from its page: a second archive.
    let changed = b"quarterly numbers: 43\n".repeat(10);
    std::fs::write(Path::new(folder).join("reports/q3-report.txt"), &changed)?;
    b.click("#job-relaunch").await?;
    b.wait_js(
        &format!("location.hash.startsWith('#/jobs/') && location.hash !== '#/jobs/{job_id}' && document.getElementById('log-state')?.dataset.final"),
        Duration::from_secs(240),
    )
    .await?;
    let relaunched = b
        .wait_js("document.getElementById('log-state').dataset.final", SHORT)
        .await?;
    ensure!(relaunched == "successful", "relaunch ended {relaunched}");
    // Every job of the launch (catalog, prune) finishes; the jobs list shows them.
    s.wait_jobs(token, Duration::from_secs(180)).await?;
    b.goto(&format!("{}/#/jobs", s.url)).await?;
    b.wait_js(
        "document.querySelectorAll('#jobs-list tbody tr').length >= 3",
        SHORT,
    )
    .await?;
    b.screenshot("jobs").await?;
    // The type filter keeps the two backups.
    b.wait_for("#filter-type")
        .await?
        .select_by_value("job")
        .await?;
    b.wait_js(
        "location.hash.includes('type=job') && [...document.querySelectorAll('#jobs-list tbody tr')].map(tr => tr.children[2].textContent).join(',') === 'backup,backup'",
        SHORT,
    )
    .await?;

    // 7. The catalog: `/` focuses the search box; the file is found with its client.
    b.goto(&format!("{}/#/catalog", s.url)).await?;
    b.wait_for("#catalog-query").await?;
    b.js("document.activeElement.blur()", json!(null)).await?;
    b.press('/').await?;
    b.wait_js("document.activeElement.id === 'catalog-query'", SHORT)
        .await?;
    b.wait_for("#catalog-query")
        .await?
        .send_keys(&format!("q3-report.txt{ENTER}"))
        .await?;
    let hit = b
        .wait_js(
            "[...document.querySelectorAll('.hit')].find(h => h.dataset.path.endsWith('/reports/q3-report.txt'))?.textContent",
            SHORT,
        )
        .await?;
    let hit = hit.as_str().unwrap_or_default();
    ensure!(hit.contains("localhost"), "hit {hit}");
    ensure!(hit.contains("220 B"), "size in {hit}");
    b.screenshot("catalog").await?;
    // The repository and archive filters: in the first archive only the older, larger version.
    let arch = s
        .ok(
            token,
            "{ archives(orderBy: TIME_ASC) { nodes { id repositoryId } } }",
            json!({}),
        )
        .await?;
    let first = &arch["archives"]["nodes"][0];
    b.goto(&format!(
        "{}/#/catalog?q=q3-report.txt&repository={}&archive={}&max=100000",
        s.url, first["repositoryId"], first["id"]
    ))
    .await?;
    let only = b
        .wait_js(
            &format!("document.getElementById('catalog-archive').value === '{}' && document.getElementById('catalog-total')?.textContent.startsWith('1 of 1 version,') && document.querySelector('.hit').textContent", first["id"]),
            SHORT,
        )
        .await?;
    ensure!(
        !only.as_str().unwrap_or_default().contains("220 B"),
        "archive filter: {only}"
    );
    b.audit_a11y("catalog").await?;

    // 8. Its history.
    b.click(".hit [data-history]").await?;
    let fates = b
        .wait_js(
            "[...document.querySelectorAll('#file-history .timeline li')].map(li => li.dataset.fate).join(',')",
            SHORT,
        )
        .await?;
    ensure!(fates == "changed,current", "fates {fates}");
    b.screenshot("history").await?;

    // 9. Download it and compare bytes (when the server offers downloads).
    let has_download = s
        .ok(
            token,
            "{ __type(name: \"Mutation\") { fields { name } } }",
            json!({}),
        )
        .await?["__type"]["fields"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x["name"] == "restoreDownload"));
    // The older version, from the first archive.
    b.click("#file-history .timeline li [data-download]")
        .await?;
    if has_download {
        b.wait_for("#download-link").await?;
        let file = b.downloaded(Duration::from_secs(60)).await?;
        let got = std::fs::read(&file)?;
        ensure!(
            got == content,
            "downloaded {} bytes from {}, expected {}",
            got.len(),
            file.display(),
            content.len()
        );
        eprintln!("downloaded {} identical bytes through the page", got.len());
    } else {
        let msg = b
            .wait_js(
                "document.querySelector('#file-history .error-box')?.textContent",
                SHORT,
            )
            .await?;
        eprintln!("restoreDownload is not in the schema yet; the page says: {msg}");
    }

    // Restore the older version into a directory through the restore dialog.
    let target = tempfile::tempdir()?;
    b.click("#file-history .timeline li [data-restore]").await?;
    b.fill(
        "#restore-form [name=targetDirectory]",
        &target.path().display().to_string(),
    )
    .await?;
    b.screenshot("restore").await?;
    b.click("#restore-form button[type=submit]").await?;
    let restored = b
        .wait_js(
            "location.hash.startsWith('#/jobs/') && document.getElementById('log-state')?.dataset.final",
            Duration::from_secs(120),
        )
        .await?;
    ensure!(restored == "successful", "restore ended {restored}");
    let file = find_file(target.path(), "q3-report.txt").context("restored file")?;
    ensure!(std::fs::read(&file)? == content, "restored bytes differ");

    // 10. Browse the archive lazily.
    b.goto(&format!("{}/#/catalog/browse", s.url)).await?;
    b.wait_js(
        "document.querySelectorAll('#browse-client option').length > 1",
        SHORT,
    )
    .await?;
    b.wait_for("#browse-client")
        .await?
        .select_by_label("localhost")
        .await?;
    b.wait_js(
        "document.querySelectorAll('#browse-archive option').length > 1",
        SHORT,
    )
    .await?;
    b.js(
        "const s = document.getElementById('browse-archive'); s.selectedIndex = 1; s.dispatchEvent(new Event('change'));",
        json!(null),
    )
    .await?;
    b.wait_js(
        "document.querySelectorAll('#browse-tree .node').length > 1",
        SHORT,
    )
    .await?;
    b.screenshot("browse").await?;

    // The diff of the two archives shows the changed file.
    b.goto(&format!("{}/#/catalog/diff", s.url)).await?;
    b.wait_js(
        "document.querySelectorAll('#diff-client option').length > 1",
        SHORT,
    )
    .await?;
    b.wait_for("#diff-client")
        .await?
        .select_by_label("localhost")
        .await?;
    let changed_row = b
        .wait_js(
            "[...document.querySelectorAll('#diff-result tr')].find(tr => tr.textContent.includes('q3-report.txt'))?.textContent",
            SHORT,
        )
        .await?;
    ensure!(
        changed_row.as_str().unwrap_or_default().starts_with('~'),
        "diff row {changed_row}"
    );
    b.screenshot("diff").await?;

    // A restore drill from the policies page: restored, verified, and listed as passed.
    b.goto(&format!("{}/#/policies", s.url)).await?;
    b.click("#policies-list [data-drill]").await?;
    let drilled = b
        .wait_js(
            "location.hash.startsWith('#/jobs/') && document.getElementById('log-state')?.dataset.final",
            Duration::from_secs(120),
        )
        .await?;
    ensure!(drilled == "successful", "drill ended {drilled}");
    b.goto(&format!("{}/#/policies", s.url)).await?;
    b.wait_js(
        "document.querySelector('#restore-drills .badge')?.textContent === 'passed'",
        SHORT,
    )
    .await?;
    b.wait_js("document.querySelector('[data-verified] .badge')", SHORT)
        .await?;
    b.screenshot("policies-drills").await?;

    // 11. A running job shows its progress live, on the dashboard and on its page.
    job_progress(s, token, b).await?;

    // 12. The dashboard shows the counters and both charts.
    let t0 = std::time::Instant::now();
    b.goto(&format!("{}/#/", s.url)).await?;
    b.wait_js(
        "document.querySelector('#chart-size svg') && document.querySelector('#chart-jobs svg')",
        SHORT,
    )
    .await?;
    let counters = b
        .wait_js("document.getElementById('counters').innerText", SHORT)
        .await?;
    let counters = counters.as_str().unwrap_or_default();
    ensure!(counters.contains("1\nclients"), "counters {counters}");
    b.wait_js("document.querySelector('#calendar .cal')", SHORT)
        .await?;
    eprintln!(
        "dashboard loaded with both charts in {} ms",
        t0.elapsed().as_millis()
    );
    b.screenshot_tall("dashboard", 1250).await?;
    b.check_page(&s.url, "stats", "#stats-charts svg", "stats")
        .await?;

    // 13. Logout returns to the login page and forgets the token.
    b.click("#logout").await?;
    b.wait_for("#login-form").await?;
    let stored = b
        .js("return sessionStorage.getItem('cyborg.token')", json!(null))
        .await?;
    ensure!(stored.is_null(), "token kept after logout");
    Ok(())
}

/// A slow piped backup (made through the API, into the repository the forms created): its
/// progress bar fills in on the dashboard's running jobs and on the job page, without a reload.
async fn job_progress(s: &Server, token: &str, b: &Browser) -> Result<()> {
    let ids = s
        .ok(
            token,
            "{ clients(first: 1) { nodes { id } } repositories(first: 1) { nodes { id } } schedules(first: 1) { nodes { id } } }",
            json!({}),
        )
        .await?;
    let id = |k: &str| ids[k]["nodes"][0]["id"].as_i64().unwrap_or(0);
    let spec = PolicySpec {
        name: "slow stream",
        policy_type: "piped",
        clients: vec![id("clients")],
        repository: id("repositories"),
        schedule: id("schedules"),
        extra_vars: json!({"command": "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do head -c 4000000 /dev/urandom; sleep 1; done"}),
        ..Default::default()
    };
    let policy = create_policy(s, token, &spec).await?;
    b.goto(&format!("{}/#/", s.url)).await?;
    b.wait_for("#running-jobs").await?;
    let job = launch_backup(s, token, policy).await?;
    let shown = "(sel) => { const t = document.querySelector(sel)?.textContent || ''; return /[0-9] (KiB|MiB|GiB)/.test(t) && t; }";
    b.wait_js(
        &format!("({shown})('#running-jobs .job-progress')"),
        Duration::from_secs(40),
    )
    .await?;
    b.screenshot("dashboard-progress").await?;
    b.goto(&format!("{}/#/jobs/{job}", s.url)).await?;
    let text = b
        .wait_js(&format!("({shown})('#job-progress .job-progress')"), SHORT)
        .await?;
    ensure!(
        text.as_str().unwrap_or_default().contains('B'),
        "progress {text}"
    );
    b.screenshot("job-progress").await?;
    s.wait_job_ok(token, job, Duration::from_secs(120)).await?;
    b.wait_js(
        "document.querySelector('#job-status')?.dataset.status === 'successful' && !document.querySelector('#job-progress .job-progress')",
        SHORT,
    )
    .await?;
    Ok(())
}
