//! The web console as the administrator's daily tool, in a real headless Chromium: the
//! dashboard's fleet health shows a late and an overdue series and its counters link to them,
//! an overdue series alerts once by mail and webhook, a policy that cannot run says why before
//! its schedule fires, a backup canceled by a failed preparation counts as a failure of its
//! series, an unencrypted repository needs an explicit confirmation, the mail form saves,
//! refuses a bad port next to the field and sends a test mail to a real SMTP sink; and every
//! page at 390×844 fits the screen with a folding menu (screenshots at 1440×900 and 390×844).

pub(crate) mod pages;
use crate::support;

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::browser::Browser;
use support::sinks::{HttpSink, SmtpSink};
use support::*;

const SHORT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread")]
async fn the_console_answers_is_every_host_backed_up() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let smtp = SmtpSink::start(None).await?;
    let hook = HttpSink::start().await?;
    let b = Browser::start().await?;
    let result = scenario(&s, &token, &b, &smtp, &hook).await;
    if result.is_err() {
        let _ = b.screenshot("console-failure").await;
    }
    b.close().await?;
    result
}

async fn gql_id(s: &Server, token: &str, q: &str, v: Value, field: &str) -> Result<i64> {
    s.ok(token, q, v).await?[field]["id"]
        .as_i64()
        .with_context(|| format!("no id from {field}"))
}

/// Two series on a schedule every 2 minutes (interval 120 s: late after 180 s, overdue after
/// 240 s) whose backups succeed only while a flag file exists.
struct Fleet {
    src: tempfile::TempDir,
    overdue: i64,
    late: i64,
}

async fn fleet(s: &Server, token: &str) -> Result<Fleet> {
    let client = gql_id(
        s,
        token,
        r#"mutation { createClient(input: {hostname: "localhost"}) { id } }"#,
        json!({}),
        "createClient",
    )
    .await?;
    let repo = s.data_dir.path().join("fleet-repo").display().to_string();
    let repository = create_repository(s, token, "fleet", &repo, "fleet passphrase").await?;
    let schedule = gql_id(s, token, r#"mutation { createSchedule(input: {name: "every 2 minutes", crontab: "*/2 * * * *"}) { id } }"#, json!({}), "createSchedule").await?;
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("data.txt"), "fleet data\n")?;
    let mut ids = Vec::new();
    for name in ["overdue", "late"] {
        let flag = src.path().join(format!("ok-{name}"));
        let prehook = format!("test -e '{}'", flag.display());
        ids.push(
            create_policy(s, token, &PolicySpec {
                name,
                policy_type: "folders",
                clients: vec![client],
                repository,
                schedule,
                extra_vars: json!({ "folders": [src.path().join("data.txt").display().to_string()] }),
                prehook: &prehook,
                ..Default::default()
            })
            .await?,
        );
    }
    Ok(Fleet {
        src,
        overdue: ids[0],
        late: ids[1],
    })
}

/// One successful backup of `name`, then its scheduled runs fail again.
async fn succeed_once(s: &Server, token: &str, f: &Fleet, policy: i64, name: &str) -> Result<()> {
    let flag = f.src.path().join(format!("ok-{name}"));
    std::fs::write(&flag, "")?;
    let job = launch_backup(s, token, policy).await?;
    let r = s.wait_job_ok(token, job, Duration::from_secs(180)).await;
    std::fs::remove_file(&flag)?;
    r.map(|_| ())
}

async fn health(s: &Server, token: &str) -> Result<Value> {
    Ok(s.ok(
        token,
        "{ fleetHealth { late overdue failing series { policyName hostname state lastFailed } } }",
        json!({}),
    )
    .await?["fleetHealth"]
        .clone())
}

fn state_of<'a>(h: &'a Value, policy: &str) -> &'a str {
    h["series"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["policyName"] == policy))
        .and_then(|x| x["state"].as_str())
        .unwrap_or("")
}

async fn scenario(
    s: &Server,
    token: &str,
    b: &Browser,
    smtp: &SmtpSink,
    hook: &HttpSink,
) -> Result<()> {
    let f = fleet(s, token).await?;
    let t0 = Instant::now();
    succeed_once(s, token, &f, f.overdue, "overdue").await?;
    b.login(&s.url, ADMIN_EMAIL, ADMIN_PASSWORD).await?;

    // While time passes: the mail form, readiness, encryption, every page on a phone.
    mail_form(s, token, b, smtp, hook).await?;
    unprepared_policy(s, token, b).await?;
    unencrypted_repository(s, token, b).await?;
    // The second series succeeds about a minute after the first.
    while t0.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    succeed_once(s, token, &f, f.late, "late").await?;
    pages::every_page(s, token, b, "").await?;

    // Wait for the moment the first is overdue and the second late.
    let start = Instant::now();
    loop {
        let h = health(s, token).await?;
        if state_of(&h, "overdue") == "overdue" && state_of(&h, "late") == "late" {
            break;
        }
        ensure!(
            start.elapsed() < Duration::from_secs(400),
            "states never reached: {h}"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    dashboard_states(s, b).await?;
    pages::shots(
        b,
        &s.url,
        "#/",
        "#fleet-health [data-state=late]",
        "dashboard",
    )
    .await?;

    // The overdue series alerted once, by webhook and by mail.
    let alerts = |all: &[support::sinks::Captured]| {
        all.iter()
            .filter(|c| {
                // The series of the policy named "overdue" (the other one follows later).
                c.body.contains("\"series_overdue\"") && c.body.contains("\"name\":\"overdue\"")
            })
            .count()
    };
    let start = Instant::now();
    while alerts(&hook.all()) == 0 {
        ensure!(
            start.elapsed() < Duration::from_secs(90),
            "no overdue webhook"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let start = Instant::now();
    let overdue_mails = || {
        smtp.all()
            .iter()
            .filter(|m| {
                support::mime::subject(&m.data).contains("BACKUP OVERDUE: localhost overdue")
            })
            .count()
    };
    while overdue_mails() == 0 {
        ensure!(start.elapsed() < Duration::from_secs(90), "no overdue mail");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // Two report ticks later, still one of each.
    tokio::time::sleep(Duration::from_secs(45)).await;
    ensure!(
        alerts(&hook.all()) == 1,
        "{} overdue webhooks",
        alerts(&hook.all())
    );
    ensure!(overdue_mails() == 1, "{} overdue mails", overdue_mails());

    // The same states over REST and in the metrics.
    let (code, rest) = s
        .rest(
            "GET",
            "/api/v1/health/?state=overdue",
            Some(&format!("Token {token}")),
            None,
        )
        .await?;
    ensure!(code == 200, "health over REST: {code} {rest}");
    let listed = rest["results"].as_array().cloned().unwrap_or_default();
    ensure!(
        rest["overdue"].as_i64() >= Some(1)
            && listed.iter().all(|r| r["state"] == "overdue")
            && listed
                .iter()
                .any(|r| r["policy_name"] == "overdue" && r["last_failed"] == true),
        "{rest}"
    );
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", s.url))
        .bearer_auth(token)
        .send()
        .await?
        .text()
        .await?;
    ensure!(
        metrics.contains("cyborgbackup_series_state{policy=\"overdue\",client=\"localhost\",repository=\"fleet\",state=\"overdue\"} 1"),
        "metrics lack the overdue state"
    );
    Ok(())
}

/// The dashboard lists both states; the counters open the filtered list.
async fn dashboard_states(s: &Server, b: &Browser) -> Result<()> {
    b.client.set_window_size(1440, 900).await?;
    b.goto(&format!("{}/#/", s.url)).await?;
    b.wait_js("document.querySelector('#fleet-health [data-state=overdue]') && document.querySelector('#fleet-health [data-state=late]')", SHORT)
        .await?;
    for state in ["late", "overdue"] {
        b.click(&format!("#health-{state}")).await?;
        // The filtered list replaces the whole one: only that state, with its active counter.
        let rows = b
            .wait_js(
                &format!("location.hash === '#/?health={state}' && document.querySelector('#health-{state}.active') && [...document.querySelectorAll('#fleet-health-list [data-state]')].map(e => e.dataset.state).join(',')"),
                SHORT,
            )
            .await?;
        ensure!(rows == state, "{state} filter shows {rows}");
        b.screenshot(&format!("dashboard-{state}")).await?;
    }
    b.click("#health-overdue").await?; // a second click clears the filter
    b.wait_js("location.hash === '#/'", SHORT).await?;
    Ok(())
}

/// The mail form: a bad port refused next to its field, then saved, then a test mail.
async fn mail_form(
    s: &Server,
    token: &str,
    b: &Browser,
    smtp: &SmtpSink,
    hook: &HttpSink,
) -> Result<()> {
    b.goto(&format!("{}/#/settings/mail", s.url)).await?;
    b.wait_for("#settings-form-mail").await?;
    let field = |k: &str| format!("#settings-form-mail [name='{k}']");
    b.fill(&field("mail.host"), "127.0.0.1").await?;
    b.fill(&field("mail.port"), "99999").await?;
    b.fill(&field("mail.from"), "CyBorgBackup <cyborg@test.local>")
        .await?;
    b.fill(&field("webhook.url"), &hook.url).await?;
    b.wait_for(&field("mail.security"))
        .await?
        .select_by_value("none")
        .await?;
    b.click("#settings-form-mail-save").await?;
    let err = b
        .wait_js("document.querySelector('#settings-form-mail .field.invalid[data-field=\"mail.port\"] .ferr')?.textContent", SHORT)
        .await?;
    ensure!(
        err.as_str().unwrap_or_default().contains("65535"),
        "port error {err}"
    );
    b.screenshot("settings-mail-invalid").await?;
    b.fill(&field("mail.port"), &smtp.port.to_string()).await?;
    b.fill(&field("mail.retry_seconds"), "1").await?;
    b.click("#settings-form-mail-save").await?;
    b.wait_js("!document.querySelector('#settings-form-mail .field.invalid') && [...document.querySelectorAll('.toast')].some(t => /saved/.test(t.textContent))", SHORT)
        .await?;
    let st = s
        .ok(token, "{ notificationSettings { key value } }", json!({}))
        .await?;
    let get = |k: &str| {
        st["notificationSettings"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["key"] == k))
            .map(|x| x["value"].clone())
            .unwrap_or(Value::Null)
    };
    ensure!(
        get("mail.port") == json!(smtp.port.to_string()) && get("mail.host") == "127.0.0.1",
        "{st}"
    );
    b.fill("#test-mail-to", "ops@test.local").await?;
    b.click("#send-test-mail").await?;
    b.wait_js(
        "document.querySelector('#test-mail-result .badge.ok')",
        SHORT,
    )
    .await?;
    let mails = smtp.wait_for(1, SHORT).await?;
    ensure!(
        mails
            .iter()
            .any(|m| m.to.iter().any(|t| t.contains("ops@test.local"))),
        "test mail not received"
    );
    b.screenshot("settings-mail").await?;
    Ok(())
}

/// A policy whose client is over SSH while the server has no key: its row says it cannot run
/// and why, before any run; after a launch its canceled backup counts as a failure.
async fn unprepared_policy(s: &Server, token: &str, b: &Browser) -> Result<()> {
    let client = gql_id(
        s,
        token,
        r#"mutation { createClient(input: {hostname: "web9.test.local"}) { id } }"#,
        json!({}),
        "createClient",
    )
    .await?;
    let repo = s.data_dir.path().join("web9-repo").display().to_string();
    let repository = create_repository(s, token, "web9", &repo, "web9 passphrase").await?;
    let schedule = create_schedule(s, token, "nightly").await?;
    let policy = create_policy(
        s,
        token,
        &PolicySpec {
            name: "web9 files",
            policy_type: "folders",
            clients: vec![client],
            repository,
            schedule,
            extra_vars: json!({ "folders": ["/etc"] }),
            ..Default::default()
        },
    )
    .await?;
    b.goto(&format!("{}/#/policies", s.url)).await?;
    let why = b
        .wait_js(&format!("document.querySelector('#policies-list [data-policy=\"{policy}\"][data-ready=false]')?.textContent"), SHORT)
        .await?;
    let why = why.as_str().unwrap_or_default();
    ensure!(
        why.contains("cannot run") && why.contains("no SSH key"),
        "readiness {why}"
    );
    ensure!(
        why.contains("web9.test.local is not prepared"),
        "readiness {why}"
    );
    b.wait_for(&format!("#policies-list [data-policy=\"{policy}\"] li[data-code=no_ssh_key] a[href='#/settings/ssh']")).await?;
    b.screenshot("policies-readiness").await?;
    // Launched anyway: preparation fails, the backup is canceled, the series is failing.
    launch(s, token, policy).await?;
    s.wait_jobs(token, Duration::from_secs(120)).await?;
    let h = health(s, token).await?;
    let series = h["series"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["policyName"] == "web9 files"))
        .cloned()
        .unwrap_or_default();
    ensure!(
        series["lastFailed"] == true && h["failing"].as_i64() >= Some(1),
        "{h}"
    );
    b.goto(&format!("{}/#/?health=failing", s.url)).await?;
    b.wait_js("[...document.querySelectorAll('#fleet-health-list td')].some(td => td.textContent === 'dependency failed')", SHORT)
        .await?;
    Ok(())
}

/// A repository without encryption is created only after ticking the confirmation; the
/// passphrase is generated by default.
async fn unencrypted_repository(s: &Server, token: &str, b: &Browser) -> Result<()> {
    b.goto(&format!("{}/#/repositories", s.url)).await?;
    b.click("#new-repository").await?;
    let generated = b
        .wait_js(
            "document.querySelector('#repository-form [name=repositoryKey]')?.value",
            SHORT,
        )
        .await?;
    ensure!(
        generated.as_str().unwrap_or_default().len() >= 30,
        "generated passphrase {generated}"
    );
    b.fill("#repository-form [name=name]", "plain").await?;
    let path = s.data_dir.path().join("plain-repo").display().to_string();
    b.fill("#repository-form [name=path]", &path).await?;
    b.wait_for("#repository-form [name=encryption]")
        .await?
        .select_by_value("none")
        .await?;
    b.click("#repository-form button[type=submit]").await?;
    let err = b
        .wait_js("document.querySelector('#repository-form .field.invalid[data-field=confirmUnencrypted] .ferr')?.textContent", SHORT)
        .await?;
    ensure!(
        err.as_str().unwrap_or_default().contains("unencrypted"),
        "confirmation error {err}"
    );
    let none = s
        .ok(
            token,
            r#"{ repositories(search: "plain") { totalCount } }"#,
            json!({}),
        )
        .await?;
    ensure!(
        none["repositories"]["totalCount"] == 0,
        "created without confirmation: {none}"
    );
    b.screenshot("repository-unencrypted").await?;
    b.click("#repository-form [name=confirmUnencrypted]")
        .await?;
    b.click("#repository-form button[type=submit]").await?;
    b.wait_for("#repository-setup").await?;
    let r = s
        .ok(
            token,
            r#"{ repositories(search: "plain") { nodes { hasKey } } }"#,
            json!({}),
        )
        .await?;
    ensure!(r["repositories"]["nodes"][0]["hasKey"] == false, "{r}");
    Ok(())
}
