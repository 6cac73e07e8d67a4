//! The administration pages of the web UI in a real headless Chromium: a user created and edited
//! (a bad email shown next to its field), a VM provider created, offered by the policy form and
//! deleted, a client over SSH prepared from its row, its host key changed (the next preparation
//! fails), accepted on the host keys page and prepared again, and every settings page checked
//! for error boxes and unlabelled controls, with a screenshot of each
//! (`CYBORG_SCREENSHOT_DIR`, default target/ui-screenshots).

use crate::support;

use anyhow::{ensure, Result};
use serde_json::json;
use std::time::Duration;
use support::browser::{Browser, ENTER, ESCAPE, TAB};
use support::*;

const SHORT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread")]
async fn the_ui_administers_users_providers_and_host_keys() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let hosts = ssh_hosts(&s, &token).await?;
    let b = Browser::start().await?;
    let t0 = std::time::Instant::now();
    let result = scenario(&s, &token, &b, &hosts).await;
    if result.is_err() {
        let _ = b.screenshot("admin-failure").await;
    }
    eprintln!("admin scenario took {} ms", t0.elapsed().as_millis());
    b.close().await?;
    result
}

async fn scenario(s: &Server, token: &str, b: &Browser, hosts: &hosts::TestHosts) -> Result<()> {
    // Assets are served with their types and validators.
    let http = reqwest::Client::new();
    let r = http.get(format!("{}/ui/js/app.js", s.url)).send().await?;
    ensure!(r.status() == 200, "app.js: {}", r.status());
    ensure!(
        r.headers()["content-type"]
            .to_str()?
            .starts_with("text/javascript"),
        "app.js type {:?}",
        r.headers()["content-type"]
    );
    ensure!(r.headers().contains_key("etag"));

    b.login(&s.url, ADMIN_EMAIL, ADMIN_PASSWORD).await?;

    // Keyboard: Tab shows a visible focus ring; Escape closes a dialog and gives the focus back.
    b.goto(&format!("{}/#/users", s.url)).await?;
    b.wait_js("document.querySelector('#users-list td')", SHORT)
        .await?;
    b.js("document.getElementById('new-user').focus()", json!(null))
        .await?;
    b.press(TAB).await?;
    let ring = b
        .wait_js(
            "document.activeElement !== document.body && getComputedStyle(document.activeElement).outlineStyle",
            SHORT,
        )
        .await?;
    ensure!(ring != "none", "no visible focus: {ring}");
    b.click("#new-user").await?;
    b.wait_for("#user-form [name=email]").await?;
    b.audit_a11y("user dialog").await?;
    b.press(ESCAPE).await?;
    b.wait_js(
        "!document.querySelector('.backdrop') && document.activeElement.id === 'new-user'",
        SHORT,
    )
    .await?;

    // A user through the form, then edited: a bad email is refused next to its field.
    b.click("#new-user").await?;
    b.fill("#user-form [name=email]", "ops@example.com").await?;
    b.fill("#user-form [name=password]", "a long enough password")
        .await?;
    b.fill("#user-form [name=firstName]", "Ops").await?;
    b.click("#user-form button[type=submit]").await?;
    b.click("#users-list [data-edit='ops@example.com']").await?;
    ensure!(
        b.js(
            "return document.querySelector('#user-form [name=password]') === null",
            json!(null)
        )
        .await?
            == true,
        "the edit form asks for a password"
    );
    b.fill("#user-form [name=email]", "not an email").await?;
    b.wait_for("#user-form [name=email]")
        .await?
        .send_keys(ENTER)
        .await?;
    let err = b
        .wait_js(
            "document.querySelector('#user-form .field.invalid[data-field=email] .ferr')?.textContent",
            SHORT,
        )
        .await?;
    ensure!(
        !err.as_str().unwrap_or_default().is_empty(),
        "no field error"
    );
    let invalid = b
        .js(
            "return document.querySelector('#user-form [name=email]').getAttribute('aria-invalid')",
            json!(null),
        )
        .await?;
    ensure!(invalid == "true", "aria-invalid {invalid}");
    b.screenshot("user-validation").await?;
    b.fill("#user-form [name=email]", "olga@example.com")
        .await?;
    b.fill("#user-form [name=lastName]", "Admin").await?;
    b.wait_for("#user-form [name=role]")
        .await?
        .select_by_value("SUPERUSER")
        .await?;
    b.click("#user-form button[type=submit]").await?;
    b.wait_js(
        "!document.querySelector('.backdrop') && [...document.querySelectorAll('#users-list td')].some(td => td.textContent === 'olga@example.com')",
        SHORT,
    )
    .await?;
    let users = s
        .ok(
            token,
            "{ users { nodes { email firstName lastName isSuperuser role } } }",
            json!({}),
        )
        .await?;
    ensure!(
        users["users"]["nodes"].as_array().is_some_and(|a| a.iter().any(|u| u
            == &json!({"email": "olga@example.com", "firstName": "Ops", "lastName": "Admin", "isSuperuser": true, "role": "SUPERUSER"}))),
        "user not updated: {users}"
    );
    b.check_page(&s.url, "users", "#users-list td", "users")
        .await?;

    // A VM provider: created, offered by the policy form, deleted.
    b.check_page(
        &s.url,
        "vmproviders",
        "#vmproviders-list td",
        "vmproviders-builtin",
    )
    .await?;
    b.click("#new-vmprovider").await?;
    b.fill("#vmprovider-form [name=name]", "libvirt").await?;
    b.fill("#vmprovider-form [name=moduleName]", "libvirt / KVM")
        .await?;
    b.fill(
        "#vmprovider-form [name=script]",
        "cat \"/var/lib/libvirt/images/$1.qcow2\"",
    )
    .await?;
    b.click("#vmprovider-form button[type=submit]").await?;
    b.wait_js(
        "document.querySelector('#vmproviders-list [data-edit=libvirt]')",
        SHORT,
    )
    .await?;
    b.click("#vmproviders-list [data-edit=libvirt]").await?;
    b.fill("#vmprovider-form [name=moduleName]", "KVM (libvirt)")
        .await?;
    b.click("#vmprovider-form button[type=submit]").await?;
    b.wait_js(
        "[...document.querySelectorAll('#vmproviders-list td')].some(td => td.textContent === 'KVM (libvirt)')",
        SHORT,
    )
    .await?;
    b.screenshot("vmproviders").await?;
    b.goto(&format!("{}/#/policies", s.url)).await?;
    b.click("#new-policy").await?;
    b.wait_for("#policy-form [name=policyType]")
        .await?
        .select_by_value("vm")
        .await?;
    b.wait_js(
        "[...document.querySelectorAll('#policy-form [name=vmprovider] option')].some(o => o.value === 'libvirt')",
        SHORT,
    )
    .await?;
    b.audit_a11y("policy form").await?;
    b.press(ESCAPE).await?;
    b.goto(&format!("{}/#/vmproviders", s.url)).await?;
    b.wait_for("#vmproviders-list [data-delete=libvirt]")
        .await?;
    b.js("window.confirm = () => true", json!(null)).await?;
    b.click("#vmproviders-list [data-delete=libvirt]").await?;
    b.wait_js(
        "document.querySelector('#vmproviders-list td') && !document.querySelector('#vmproviders-list [data-edit=libvirt]')",
        SHORT,
    )
    .await?;

    // A client over SSH, prepared from its row: the page follows the job; the OS is shown.
    b.goto(&format!("{}/#/clients", s.url)).await?;
    b.click("#new-client").await?;
    b.fill("#client-form [name=hostname]", "web1").await?;
    b.fill("#client-form [name=port]", &hosts.port.to_string())
        .await?;
    b.click("#client-form button[type=submit]").await?;
    client_setup(s, token, b).await?;
    let first = prepare_web1(s, b).await?;
    ensure!(first == "successful", "first preparation ended {first}");
    b.goto(&format!("{}/#/clients", s.url)).await?;
    let os = b
        .wait_js(
            "document.querySelector('#clients-list [data-os=web1]')?.textContent",
            SHORT,
        )
        .await?;
    ensure!(os != "—", "no OS shown");
    b.screenshot("clients-prepared").await?;

    // The host gets a new key: preparing fails; the host keys page shows both fingerprints.
    hosts.rekey("web1");
    let refused = prepare_web1(s, b).await?;
    ensure!(refused != "successful", "prepared despite a changed key");
    let job: i64 = b
        .wait_js("location.hash.split('/')[2]", SHORT)
        .await?
        .as_str()
        .unwrap_or_default()
        .parse()?;
    let why = s
        .ok(
            token,
            "query($id: Int!) { job(id: $id) { jobExplanation } }",
            json!({"id": job}),
        )
        .await?;
    let why = why["job"]["jobExplanation"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ensure!(why.contains("host key"), "job {job}: {why}");
    b.check_page(
        &s.url,
        "hostkeys",
        "#host-keys [data-pending=web1]",
        "hostkeys-changed",
    )
    .await?;
    b.click("#host-keys [data-accept]").await?;
    b.click("#accept-host-key").await?;
    b.wait_js(
        "!document.querySelector('#host-keys [data-pending]') && document.querySelector('#host-keys [data-fingerprint=web1]')",
        SHORT,
    )
    .await?;
    b.screenshot("hostkeys").await?;
    let again = prepare_web1(s, b).await?;
    ensure!(
        again == "successful",
        "preparation after accepting ended {again}"
    );

    // The client's drills link opens the policies page with its drills.
    b.goto(&format!("{}/#/clients", s.url)).await?;
    b.click("#clients-list a[href^='#/policies?client=']")
        .await?;
    b.wait_js("location.hash.startsWith('#/policies?client=') && document.getElementById('drill-client') && document.getElementById('drill-client').value !== ''", SHORT)
        .await?;
    b.check_page(
        &s.url,
        "policies?client=1",
        "#drills-list",
        "admin-policies-drills",
    )
    .await?;

    // Every other page renders without an error box and with labelled controls.
    for (page, ready) in [
        ("clients", "#clients-list td"),
        ("repositories", "#repositories-list"),
        ("schedules", "#schedules-list"),
        ("jobs", "#jobs-list table"),
        ("catalog", "#catalog-filters"),
        ("settings/general", "#settings-form-general"),
        ("settings/ssh", "#ssh-key h2"),
        ("settings/tokens", "#tokens-list"),
        ("settings/mail", "#test-mail-to"),
        ("settings/me", "#settings-me form"),
    ] {
        let shot = if page.starts_with("settings") {
            page.replace('/', "-")
        } else {
            format!("admin-{page}")
        };
        b.check_page(&s.url, page, ready, &shot).await?;
    }

    // A setting saved with Enter.
    b.goto(&format!("{}/#/settings/general", s.url)).await?;
    b.fill(
        "#settings-general input[name=url]",
        "https://backup.example.com",
    )
    .await?;
    b.wait_for("#settings-general input[name=url]")
        .await?
        .send_keys(ENTER)
        .await?;
    b.wait_js(
        "[...document.querySelectorAll('.toast')].some(t => t.textContent === 'Server URL saved')",
        SHORT,
    )
    .await?;
    let settings = s.ok(token, "{ settings { key value } }", json!({})).await?;
    ensure!(
        settings["settings"].as_array().is_some_and(|a| a
            .iter()
            .any(|x| x["key"] == "url" && x["value"] == "https://backup.example.com")),
        "url not saved: {settings}"
    );
    Ok(())
}

/// Prepares web1 from its row on the clients page; returns the job's final status.
async fn prepare_web1(s: &Server, b: &Browser) -> Result<serde_json::Value> {
    b.goto(&format!("{}/#/clients", s.url)).await?;
    b.click("#clients-list [data-prepare=web1]").await?;
    b.wait_js(
        "location.hash.startsWith('#/jobs/') && document.getElementById('log-state')?.dataset.final",
        Duration::from_secs(90),
    )
    .await
}

/// The setup dialog that follows a new client: the exact authorized_keys line of the server's
/// key, a connection test that passes on web1, and one that fails on a client whose port is
/// closed, each step with its result.
async fn client_setup(s: &Server, token: &str, b: &Browser) -> Result<()> {
    let key = s.ok(token, "{ sshPublicKey }", json!({})).await?["sshPublicKey"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_string();
    let line = b
        .wait_js(
            "document.querySelector('#client-setup #authorized-keys-line')?.textContent",
            SHORT,
        )
        .await?;
    ensure!(
        line.as_str() == Some(key.as_str()),
        "key line {line}, server key {key}"
    );
    let install = b
        .wait_js(
            "document.getElementById('install-command')?.textContent",
            SHORT,
        )
        .await?;
    ensure!(
        install.as_str().unwrap_or_default().contains(&key)
            && install
                .as_str()
                .unwrap_or_default()
                .contains("authorized_keys"),
        "install command {install}"
    );
    b.click("#test-connection").await?;
    let steps = b
        .wait_js(
            "document.getElementById('connection-result')?.dataset.ok === 'true' && [...document.querySelectorAll('#connection-steps li')].map(li => li.dataset.step + '=' + li.dataset.ok).join(',')",
            Duration::from_secs(60),
        )
        .await?;
    let steps = steps.as_str().unwrap_or_default();
    for step in ["reachable=true", "host_key=true", "login=true", "borg=true"] {
        ensure!(steps.contains(step), "steps {steps} lack {step}");
    }
    b.screenshot("client-setup").await?;
    b.click("#client-setup .formactions button").await?;

    // A client whose SSH port is closed: the test stops at the first step and says why.
    let closed = std::net::TcpListener::bind((hosts::WEB2, 0))?
        .local_addr()?
        .port();
    b.click("#new-client").await?;
    b.fill("#client-form [name=hostname]", "web2").await?;
    b.fill("#client-form [name=port]", &closed.to_string())
        .await?;
    b.click("#client-form button[type=submit]").await?;
    b.click("#client-setup #test-connection").await?;
    let failed = b
        .wait_js(
            "document.getElementById('connection-result')?.dataset.ok === 'false' && document.querySelector('#connection-steps li[data-step=reachable]')?.textContent",
            Duration::from_secs(60),
        )
        .await?;
    ensure!(
        failed
            .as_str()
            .unwrap_or_default()
            .contains("cannot connect"),
        "failing step {failed}"
    );
    b.screenshot("client-setup-failed").await?;
    b.click("#client-setup .formactions button").await?;
    let id = s
        .ok(
            token,
            r#"{ clients(search: "web2") { nodes { id } } }"#,
            json!({}),
        )
        .await?["clients"]["nodes"][0]["id"]
        .as_i64()
        .unwrap_or(0);
    s.ok(
        token,
        "mutation($id: Int!) { deleteClient(id: $id) }",
        json!({"id": id}),
    )
    .await?;
    Ok(())
}
