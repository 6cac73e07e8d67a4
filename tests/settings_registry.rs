//! The typed settings registry through GraphQL and REST v1 on the real binary: every setting
//! described for the form, valid values stored, bad values and unknown keys refused with a field
//! error while the stored value stays, secrets masked everywhere, read access honoured; and the
//! effects that no other test shows: `metrics.auth`, `mail.timeout_seconds`, `url` (links in
//! notification mail and webhooks) and `webhook.secret_header`.

mod support;

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::mime::mime_parts;
use support::rest::{operator, Api};
use support::sinks::{HttpSink, SmtpSink};
use support::*;

const UPDATE: &str =
    "mutation($k: String!, $v: String!) { updateSetting(key: $k, value: $v) { key value isSet isSecret } }";
const UPDATE_MANY: &str =
    "mutation($i: [SettingValueInput!]!) { updateSettings(input: $i) { key value } }";
const SETTINGS: &str = "{ settings { key value isSecret isSet label help group groupLabel kind default choices min max readAccess } }";

async fn set(s: &Server, token: &str, key: &str, value: &str) -> Result<Value> {
    Ok(s.ok(token, UPDATE, json!({"k": key, "v": value})).await?["updateSetting"].clone())
}

async fn settings(s: &Server, token: &str) -> Result<Vec<Value>> {
    Ok(s.ok(token, SETTINGS, json!({})).await?["settings"]
        .as_array()
        .context("settings")?
        .clone())
}

async fn value_of(s: &Server, token: &str, key: &str) -> Result<String> {
    let all = settings(s, token).await?;
    let v = all
        .iter()
        .find(|x| x["key"] == key)
        .context("no such setting")?;
    Ok(v["value"].as_str().unwrap_or_default().to_string())
}

/// The `fields` extension of the first error: (field, reason) pairs.
fn fields(g: &Gql) -> Vec<(String, String)> {
    g.0["errors"][0]["extensions"]["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["field"].as_str().unwrap_or_default().to_string(),
                f["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_are_described_checked_and_masked_through_graphql_and_rest() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;

    // Every setting is described for the form.
    let all = settings(&s, &token).await?;
    ensure!(all.len() >= 20, "{all:?}");
    for x in &all {
        for k in ["label", "help", "group", "groupLabel", "kind", "readAccess"] {
            ensure!(x[k].as_str().is_some_and(|v| !v.is_empty()), "{k} of {x}");
        }
    }
    let by = |k: &str| {
        all.iter()
            .find(|x| x["key"] == k)
            .cloned()
            .unwrap_or_default()
    };
    ensure!(by("ic_cron")["kind"] == "CRON" && by("ic_cron")["default"] == "0 4 * * 0");
    ensure!(by("mail.port")["kind"] == "INT" && by("mail.port")["max"] == 65535);
    ensure!(by("mail.security")["choices"] == json!(["none", "starttls", "tls"]));
    ensure!(by("mail.password")["kind"] == "SECRET" && by("mail.password")["isSecret"] == true);
    ensure!(by("url")["readAccess"] == "any_user" && by("url")["group"] == "general");
    ensure!(
        by("report.url").is_null(),
        "report.url was never read and is gone"
    );

    // A valid value is stored (normalized); an invalid one is refused naming the field and
    // the reason, and the stored value stays.
    ensure!(set(&s, &token, "mail.port", " 2525 ").await?["value"] == "2525");
    for (key, bad, why) in [
        ("mail.port", "70000", "65535"),
        ("mail.from", "not-an-address", "mail address"),
        ("ic_cron", "61 * * * *", "ic_cron"),
        ("webhook.url", "ftp://example.com/", "http"),
        ("integrity_check", "maybe", "true or false"),
    ] {
        let r = s
            .gql(Some(&token), UPDATE, json!({"k": key, "v": bad}))
            .await?;
        ensure!(r.error_code() == Some("VALIDATION"), "{key}={bad}: {}", r.0);
        ensure!(r.error_field() == Some("value"), "{}", r.0);
        let msg = r.error_message();
        ensure!(msg.contains(key) && msg.contains(why), "{msg}");
    }
    ensure!(value_of(&s, &token, "mail.port").await? == "2525");

    // An unknown key is refused naming it.
    let r = s
        .gql(Some(&token), UPDATE, json!({"k": "no.such", "v": "1"}))
        .await?;
    ensure!(
        r.error_field() == Some("key") && r.error_message().contains("no.such"),
        "{}",
        r.0
    );

    // Several at once: all or nothing, every refusal named by its key.
    let r = s
        .gql(
            Some(&token),
            UPDATE_MANY,
            json!({"i": [
                {"key": "mail.host", "value": "smtp.example.com"},
                {"key": "mail.port", "value": "x"},
                {"key": "bogus", "value": "1"},
            ]}),
        )
        .await?;
    let f = fields(&r);
    ensure!(
        f.iter()
            .any(|(k, why)| k == "mail.port" && why.contains("whole number"))
            && f.iter()
                .any(|(k, why)| k == "bogus" && why.contains("unknown")),
        "{}",
        r.0
    );
    ensure!(
        value_of(&s, &token, "mail.host").await?.is_empty(),
        "nothing stored"
    );
    let ok = s
        .ok(
            &token,
            UPDATE_MANY,
            json!({"i": [
                {"key": "mail.host", "value": "smtp.example.com"},
                {"key": "mail.security", "value": "STARTTLS"},
            ]}),
        )
        .await?;
    ensure!(ok["updateSettings"][1]["value"] == "starttls", "{ok}");

    // A secret is stored sealed and never returned; the mask sent back keeps it; empty resets.
    let pw = set(&s, &token, "mail.password", "smtp hunter2").await?;
    ensure!(
        pw["value"] == "$encrypted$" && pw["isSecret"] == true,
        "{pw}"
    );
    let kept = set(&s, &token, "mail.password", "$encrypted$").await?;
    ensure!(kept["isSet"] == true, "{kept}");
    let listed = s.ok(&token, SETTINGS, json!({})).await?.to_string();
    ensure!(!listed.contains("hunter2") && listed.contains("$encrypted$"));
    let reset = set(&s, &token, "mail.port", "").await?;
    ensure!(reset["isSet"] == false && reset["value"] == "", "{reset}");

    // REST v1: the same registry, the original's shapes.
    let api = Api::token(&s, &token);
    let list = api.get("/api/v1/settings/").await?;
    ensure!(!list.to_string().contains("hunter2"), "{list}");
    let rows = list["results"].as_array().context("results")?;
    let pw = rows
        .iter()
        .find(|x| x["key"] == "mail.password")
        .context("pw")?;
    ensure!(
        pw["value"] == "$encrypted$" && pw["setting_type"] == "password",
        "{pw}"
    );
    let port = api
        .expect(
            "PATCH",
            "/api/v1/settings/mail.port/",
            Some(json!({"value": "587"})),
            200,
        )
        .await?;
    ensure!(
        port["value"] == "587" && port["setting_type"] == "integer",
        "{port}"
    );
    let bad = api
        .expect(
            "PATCH",
            "/api/v1/settings/mail.port/",
            Some(json!({"value": "0x"})),
            400,
        )
        .await?;
    ensure!(
        bad["value"][0]
            .as_str()
            .is_some_and(|m| m.contains("mail.port")),
        "{bad}"
    );
    ensure!(api.get("/api/v1/settings/mail.port/").await?["value"] == "587");
    let unknown = api
        .expect(
            "PATCH",
            "/api/v1/settings/nope/",
            Some(json!({"value": "1"})),
            400,
        )
        .await?;
    ensure!(
        unknown["key"][0]
            .as_str()
            .is_some_and(|m| m.contains("nope")),
        "{unknown}"
    );

    // Read access: a non-superuser sees only what any user may read, and changes nothing.
    let op = operator(&s, &token).await?;
    let theirs = settings(&s, &op).await?;
    ensure!(
        !theirs.is_empty() && theirs.iter().all(|x| x["readAccess"] == "any_user"),
        "{theirs:?}"
    );
    let r = s
        .gql(
            Some(&op),
            UPDATE,
            json!({"k": "url", "v": "https://x.example"}),
        )
        .await?;
    ensure!(r.error_code() == Some("FORBIDDEN"), "{}", r.0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_auth_and_mail_timeout_take_effect() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let op = operator(&s, &token).await?;
    let metrics = |t: Option<String>| {
        let r = reqwest::Client::new().get(format!("{}/metrics", s.url));
        async move {
            let r = match t {
                Some(t) => r.bearer_auth(t),
                None => r,
            };
            Ok::<u16, anyhow::Error>(r.send().await?.status().as_u16())
        }
    };
    ensure!(metrics(None).await? == 401, "token by default");
    ensure!(metrics(Some(op.clone())).await? == 200);
    set(&s, &token, "metrics.auth", "admin").await?;
    ensure!(metrics(Some(op.clone())).await? == 403);
    ensure!(metrics(Some(token.clone())).await? == 200);
    set(&s, &token, "metrics.auth", "none").await?;
    ensure!(metrics(None).await? == 200);

    // An SMTP server that accepts the connection and never greets: the delivery gives up after
    // mail.timeout_seconds (the default would wait 30 s).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = silent.local_addr()?.port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            held.push(sock);
        }
    });
    set(&s, &token, "mail.host", "127.0.0.1").await?;
    set(&s, &token, "mail.port", &port.to_string()).await?;
    set(&s, &token, "mail.from", "cyborg@test.local").await?;
    set(&s, &token, "mail.timeout_seconds", "2").await?;
    let start = Instant::now();
    let r = s
        .ok(
            &token,
            "mutation { sendTestMail { sent error } }",
            json!({}),
        )
        .await?;
    let took = start.elapsed();
    holder.abort();
    let err = r["sendTestMail"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    ensure!(r["sendTestMail"]["sent"] == false, "{r}");
    ensure!(
        err.contains("timed out") || err.contains("timeout"),
        "{err}"
    );
    ensure!(took < Duration::from_secs(20), "gave up after {took:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn job_mail_and_webhook_link_to_the_job_through_the_url_setting() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let smtp = SmtpSink::start(None).await?;
    let hook = HttpSink::start().await?;
    for (k, v) in [
        ("mail.host", "127.0.0.1"),
        ("mail.port", &smtp.port.to_string()),
        ("mail.from", "CyBorgBackup <cyborg@test.local>"),
        ("url", "https://backup.example.com/"),
        ("webhook.url", &hook.url),
        ("webhook.secret", "hook-secret"),
        ("webhook.secret_header", "X-Hook-Token"),
    ] {
        set(&s, &token, k, v).await?;
    }
    s.ok(
        &token,
        "mutation { setNotificationPreferences(input: {backupSuccess: true}) { backupSuccess } }",
        json!({}),
    )
    .await?;
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("a.txt"), "linked\n")?;
    let policy = local_policy(
        &s,
        &token,
        &[&src.path().display().to_string()],
        "link pass",
    )
    .await?;
    let job = launch_backup(&s, &token, policy).await?;
    let jobs = s.wait_jobs(&token, Duration::from_secs(180)).await?;
    ensure!(jobs.iter().all(|j| j["status"] == "successful"), "{jobs:?}");
    let link = format!("https://backup.example.com/#/jobs/{job}");

    let mails = smtp.wait_for(1, Duration::from_secs(60)).await?;
    let (_, parts) = mime_parts(&mails[0].data)?;
    let text = parts
        .iter()
        .find(|p| p.content_type == "text/plain")
        .context("text")?
        .text();
    ensure!(text.contains(&format!("Job page: {link}")), "{text}");
    let html = parts
        .iter()
        .find(|p| p.content_type == "text/html")
        .context("html")?
        .text();
    ensure!(html.contains(&format!("href=\"{link}\"")), "{html}");

    let deadline = Instant::now() + Duration::from_secs(60);
    let hit = loop {
        let hit = hook
            .all()
            .into_iter()
            .find(|h| serde_json::from_str::<Value>(&h.body).is_ok_and(|b| b["job"]["id"] == job));
        if let Some(h) = hit {
            break h;
        }
        ensure!(
            Instant::now() < deadline,
            "no webhook for job {job}: {:?}",
            hook.all()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    ensure!(
        hit.head
            .to_ascii_lowercase()
            .contains("x-hook-token: hook-secret"),
        "{}",
        hit.head
    );
    let body: Value = serde_json::from_str(&hit.body)?;
    ensure!(body["job"]["url"] == link, "{body}");
    Ok(())
}
