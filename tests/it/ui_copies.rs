//! Proven 3-2-1 copies in the web console, in a real headless Chromium: the policy form sets
//! the recovery-point objective and a copy's schedule offset and own retention (bad values
//! refused next to their fields, good ones read back over GraphQL), the repository form
//! refuses a malformed check schedule next to its field, a drill picks its repository, a
//! scheduled copy backup waits for its offset in the jobs list, and the dashboard's
//! Recoverability section shows every series with its repositories (screenshots at 1440×900
//! and 390×844 of the dashboard and the policy form; nothing wider than the phone).

use crate::support;
use crate::ui_console::pages::{fits, shots, viewport, DESKTOP, PHONE};

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::browser::Browser;
use support::*;

const SHORT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread")]
async fn the_console_sets_and_shows_proven_copies() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let b = Browser::start().await?;
    let result = scenario(&s, &token, &b).await;
    if result.is_err() {
        let _ = b.screenshot("copies-failure").await;
    }
    b.close().await?;
    result
}

/// The objects of the scenario.
struct Setup {
    _src: tempfile::TempDir,
    offsite: i64,
    ledger: i64,
}

async fn id_of(s: &Server, token: &str, q: &str, v: Value, field: &str) -> Result<i64> {
    s.ok(token, q, v).await?[field]["id"]
        .as_i64()
        .with_context(|| format!("no id from {field}"))
}

/// "ledger" backs localhost up every minute into "main" and, 120 minutes later, into its copy
/// "offsite"; "archive" has a copy in the disabled repository "cold" (a degraded series).
async fn setup(s: &Server, token: &str) -> Result<Setup> {
    let client = id_of(
        s,
        token,
        r#"mutation { createClient(input: {hostname: "localhost"}) { id } }"#,
        json!({}),
        "createClient",
    )
    .await?;
    let path = |n: &str| s.data_dir.path().join(n).display().to_string();
    let main = create_repository(s, token, "main", &path("main-repo"), "main pass").await?;
    let offsite =
        create_repository(s, token, "offsite", &path("offsite-repo"), "offsite pass").await?;
    let cold = create_repository(s, token, "cold", &path("cold-repo"), "cold pass").await?;
    s.ok(
        token,
        "mutation($id: Int!) { updateRepository(id: $id, input: {enabled: false}) { id } }",
        json!({"id": cold}),
    )
    .await?;
    let minutely = id_of(
        s,
        token,
        r#"mutation { createSchedule(input: {name: "every minute", crontab: "* * * * *"}) { id } }"#,
        json!({}),
        "createSchedule",
    )
    .await?;
    let nightly = create_schedule(s, token, "nightly").await?;
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("ledger.csv"), "a,b\n1,2\n")?;
    let folders = json!({ "folders": [src.path().display().to_string()] });
    let ledger = create_policy(
        s,
        token,
        &PolicySpec {
            name: "ledger",
            policy_type: "folders",
            clients: vec![client],
            repository: main,
            schedule: minutely,
            extra_vars: folders.clone(),
            ..Default::default()
        },
    )
    .await?;
    let archive = create_policy(
        s,
        token,
        &PolicySpec {
            name: "archive",
            policy_type: "folders",
            clients: vec![client],
            repository: main,
            schedule: nightly,
            extra_vars: folders,
            ..Default::default()
        },
    )
    .await?;
    let copies = "mutation($id: Int!, $c: [CopyInput!]) { updatePolicy(id: $id, input: {copySettings: $c}) { id } }";
    s.ok(
        token,
        copies,
        json!({"id": ledger, "c": [{"repositoryId": offsite, "offsetMinutes": 120}]}),
    )
    .await?;
    s.ok(
        token,
        copies,
        json!({"id": archive, "c": [{"repositoryId": cold}]}),
    )
    .await?;
    Ok(Setup {
        _src: src,
        offsite,
        ledger,
    })
}

async fn scenario(s: &Server, token: &str, b: &Browser) -> Result<()> {
    let o = setup(s, token).await?;
    b.login(&s.url, ADMIN_EMAIL, ADMIN_PASSWORD).await?;
    viewport(b, DESKTOP).await?;
    policy_form(s, token, b, &o).await?;
    repository_form(s, token, b).await?;
    drill_choice(s, b, &o).await?;
    waiting_copy(s, token, b, &o).await?;
    dashboard(s, token, b).await?;
    Ok(())
}

/// Opens the edit form of "ledger" on the policies page.
async fn open_ledger(s: &Server, b: &Browser, o: &Setup, query: &str) -> Result<()> {
    b.goto(&format!("{}/{query}#/policies", s.url)).await?;
    b.click("button[aria-label='edit policy ledger']").await?;
    b.wait_for(&format!(
        "#policy-form #copy-settings [data-copy='{}']",
        o.offsite
    ))
    .await?;
    Ok(())
}

/// RPO and the copy's offset and retention: refused next to their fields, then saved.
async fn policy_form(s: &Server, token: &str, b: &Browser, o: &Setup) -> Result<()> {
    open_ledger(s, b, o, "").await?;
    let copy = |k: &str| format!("#policy-form [name='copy-{}-{k}']", o.offsite);
    let offset = b
        .js(
            &format!(
                "return document.querySelector(\"{}\").value",
                copy("offsetMinutes")
            ),
            Value::Null,
        )
        .await?;
    ensure!(offset == "120", "the saved offset shows as {offset}");
    b.fill("#policy-form [name=rpoHours]", "0").await?;
    b.fill(&copy("offsetMinutes"), "2000").await?;
    b.fill(&copy("keepDaily"), "14").await?;
    b.click("#policy-form button[type=submit]").await?;
    let errs = b
        .wait_js(
            "(() => { const e = (f) => document.querySelector(`#policy-form .field.invalid[data-field=${f}] > .ferr`)?.textContent; \
             return e('rpoHours') && e('copies') ? [e('rpoHours'), e('copies')] : null; })()",
            SHORT,
        )
        .await?;
    ensure!(
        errs[0].as_str().unwrap_or_default().contains("8760")
            && errs[1]
                .as_str()
                .unwrap_or_default()
                .contains("offset_minutes"),
        "errors next to the fields: {errs}"
    );
    // The copy's offset is marked, its other settings are not.
    let marked = b
        .js(
            "return [...document.querySelectorAll('#copy-settings .field.invalid input')].map(i => i.name).join(',')",
            Value::Null,
        )
        .await?;
    ensure!(
        marked == format!("copy-{}-offsetMinutes", o.offsite).as_str(),
        "marked copy settings: {marked}"
    );
    b.js(
        "document.getElementById('policy-copies').scrollIntoView()",
        Value::Null,
    )
    .await?;
    b.screenshot("copies-policy-form-invalid").await?;
    b.fill("#policy-form [name=rpoHours]", "24").await?;
    b.fill(&copy("offsetMinutes"), "90").await?;
    b.click("#policy-form button[type=submit]").await?;
    b.wait_js("!document.querySelector('#policy-form')", SHORT)
        .await?;
    let p = s
        .ok(
            token,
            "query($id: Int!) { policy(id: $id) { rpoHours copies { repositoryId offsetMinutes keepDaily keepWeekly } } }",
            json!({"id": o.ledger}),
        )
        .await?;
    let c = &p["policy"]["copies"][0];
    ensure!(
        p["policy"]["rpoHours"] == 24
            && c["repositoryId"] == o.offsite
            && c["offsetMinutes"] == 90
            && c["keepDaily"] == 14
            && c["keepWeekly"].is_null(),
        "saved policy: {p}"
    );
    // The saved form at both sizes, scrolled to the copies.
    for (size, name) in [
        (DESKTOP, "copies-policy-form"),
        (PHONE, "phone-copies-policy-form"),
    ] {
        viewport(b, size).await?;
        let q = if size == PHONE { "?w=390" } else { "?w=1440" };
        open_ledger(s, b, o, q).await?;
        let shown = b
            .js(
                &format!("return [document.querySelector('#policy-form [name=rpoHours]').value, document.querySelector(\"{}\").value, document.querySelector('[data-copy-note]').textContent]", copy("offsetMinutes")),
                Value::Null,
            )
            .await?;
        ensure!(
            shown[0] == "24"
                && shown[1] == "90"
                && shown[2]
                    .as_str()
                    .unwrap_or_default()
                    .contains("own retention"),
            "the form shows {shown}"
        );
        b.audit_a11y("policy form").await?;
        if size == PHONE {
            fits(b, "policy form").await?;
        }
        b.js(
            "document.getElementById('policy-copies').scrollIntoView()",
            Value::Null,
        )
        .await?;
        b.screenshot(name).await?;
        b.press(support::browser::ESCAPE).await?;
    }
    viewport(b, DESKTOP).await
}

/// A malformed check schedule is refused next to its field; a good one is saved.
async fn repository_form(s: &Server, token: &str, b: &Browser) -> Result<()> {
    b.goto(&format!("{}/#/repositories", s.url)).await?;
    b.click("#repositories-list [data-edit='offsite']").await?;
    b.fill("#repository-form [name=checkCron]", "61 * * * *")
        .await?;
    b.click("#repository-form button[type=submit]").await?;
    let err = b
        .wait_js("document.querySelector('#repository-form .field.invalid[data-field=checkCron] .ferr')?.textContent", SHORT)
        .await?;
    ensure!(
        err.as_str().unwrap_or_default().contains("61 * * * *"),
        "check schedule error {err}"
    );
    b.screenshot("copies-repository-check-invalid").await?;
    b.fill("#repository-form [name=checkCron]", "0 5 * * 6")
        .await?;
    b.click("#repository-form button[type=submit]").await?;
    b.wait_js(
        "!document.querySelector('#repository-form') && document.querySelector('#repositories-list code')?.textContent === '0 5 * * 6'",
        SHORT,
    )
    .await?;
    let r = s
        .ok(
            token,
            r#"{ repositories(search: "offsite") { nodes { checkCron } } }"#,
            json!({}),
        )
        .await?;
    ensure!(
        r["repositories"]["nodes"][0]["checkCron"] == "0 5 * * 6",
        "{r}"
    );
    Ok(())
}

/// A drill offers the automatic choice first, then the primary and the copy.
async fn drill_choice(s: &Server, b: &Browser, o: &Setup) -> Result<()> {
    let labels = "[...document.querySelectorAll('#drill-form [name=repository] option')].map(x => x.textContent).join('|')";
    b.goto(&format!("{}/#/policies", s.url)).await?;
    b.click(&format!("#policies-list [data-drill='{}']", o.ledger))
        .await?;
    let opts = b.wait_js(labels, SHORT).await?;
    ensure!(
        opts == "Automatic (alternates between primary and copies)|main (primary)|offsite (copy 1)",
        "drill choices {opts}"
    );
    b.press(support::browser::ESCAPE).await?;
    b.wait_for("#drill-policy")
        .await?
        .select_by_value(&o.ledger.to_string())
        .await?;
    let card = b
        .wait_js(
            "!document.getElementById('drill-repository').disabled && [...document.querySelectorAll('#drill-repository option')].map(x => x.textContent).join('|')",
            SHORT,
        )
        .await?;
    ensure!(
        card.as_str()
            .unwrap_or_default()
            .ends_with("offsite (copy 1)"),
        "drill card choices {card}"
    );
    Ok(())
}

/// The scheduled run of "ledger" queues the copy's backup 90 minutes later: the jobs list
/// says how long it waits.
async fn waiting_copy(s: &Server, token: &str, b: &Browser, o: &Setup) -> Result<()> {
    let start = Instant::now();
    let job = loop {
        let d = s
            .ok(
                token,
                "query($p: Int!) { jobs(first: 100, policy: $p) { nodes { id status notBefore } } }",
                json!({"p": o.ledger}),
            )
            .await?;
        let nodes = d["jobs"]["nodes"].as_array().cloned().unwrap_or_default();
        if let Some(j) = nodes.iter().find(|j| !j["notBefore"].is_null()) {
            break j.clone();
        }
        ensure!(
            start.elapsed() < Duration::from_secs(150),
            "no scheduled copy backup: {d}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let id = job["id"].as_i64().context("job id")?;
    b.goto(&format!("{}/#/jobs?policy={}", s.url, o.ledger))
        .await?;
    let text = b
        .wait_js(
            &format!("[...document.querySelectorAll('#jobs-list tr[data-key=\"{id}\"] [data-not-before]')].map(e => e.textContent).join('')"),
            SHORT,
        )
        .await?;
    let text = text.as_str().unwrap_or_default();
    let hhmm = &job["notBefore"].as_str().unwrap_or_default()[11..16];
    ensure!(
        text.starts_with("waits until") && text.contains(hhmm),
        "job {id}: {text:?}, not before {hhmm}"
    );
    b.screenshot("copies-jobs-waiting").await?;
    Ok(())
}

/// The Recoverability section: counters, one row per series, the filter link; both sizes.
async fn dashboard(s: &Server, token: &str, b: &Browser) -> Result<()> {
    // The primary's first archive is catalogued: one good repository of two.
    let start = Instant::now();
    loop {
        let d = s
            .ok(
                token,
                "{ recoverability { series { policyName good } } }",
                json!({}),
            )
            .await?;
        let good = d["recoverability"]["series"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["policyName"] == "ledger"))
            .and_then(|x| x["good"].as_i64());
        if good >= Some(1) {
            break;
        }
        ensure!(
            start.elapsed() < Duration::from_secs(180),
            "the primary never held a verified archive: {d}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    b.goto(&format!("{}/#/", s.url)).await?;
    let rows = b
        .wait_js(
            "document.querySelectorAll('#recoverability-list [data-recovery]').length === 2 && [...document.querySelectorAll('#recoverability-list tbody tr')].map(r => r.innerText.replace(/\\s+/g, ' ')).join('\\n')",
            SHORT,
        )
        .await?;
    let rows = rows.as_str().unwrap_or_default();
    ensure!(
        rows.contains("ledger") && rows.contains("1 of 2") && rows.contains("met 24 h"),
        "ledger row: {rows}"
    );
    ensure!(
        rows.contains("degraded") && rows.contains("repository cold is disabled"),
        "archive row: {rows}"
    );
    b.click("#recovery-degraded").await?;
    let shown = b
        .wait_js(
            "location.hash === '#/?recovery=degraded' && document.querySelector('#recovery-degraded.active') && [...document.querySelectorAll('#recoverability-list [data-recovery]')].map(e => e.dataset.recovery).join(',')",
            SHORT,
        )
        .await?;
    ensure!(shown == "degraded", "the degraded filter shows {shown}");
    b.click("#recovery-degraded").await?;
    b.wait_js("location.hash === '#/'", SHORT).await?;
    shots(
        b,
        &s.url,
        "#/",
        "#recoverability-list [data-recovery]",
        "copies-dashboard",
    )
    .await?;
    // The section itself, scrolled into view, at both sizes.
    for (size, name) in [
        (DESKTOP, "copies-recoverability"),
        (PHONE, "phone-copies-recoverability"),
    ] {
        viewport(b, size).await?;
        b.js(
            "document.getElementById('recoverability').scrollIntoView()",
            Value::Null,
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        if size == PHONE {
            fits(b, "recoverability").await?;
        }
        b.screenshot(name).await?;
    }
    viewport(b, DESKTOP).await
}
