//! Repository identity and option injection. A repository swapped for an unencrypted one at the
//! same path fails the next backup with an explanation and an alert, and receives no archive.
//! A location whose user, host or path `ssh` or `borg` would read as an option
//! (`ssh://-oProxyCommand=…@host/x`) is refused through GraphQL and REST with the field named,
//! and the command in it never runs.

use crate::support;

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};
use support::mime::subject;
use support::rest::Api;
use support::sinks::SmtpSink;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_repository_swapped_for_an_unencrypted_one_gets_no_backup() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let smtp = SmtpSink::start(None).await?;
    for (k, v) in [
        ("mail.host", "127.0.0.1".to_string()),
        ("mail.port", smtp.port.to_string()),
        ("mail.security", "none".into()),
        ("mail.from", "cyborg@test.local".into()),
    ] {
        s.ok(
            &token,
            "mutation($k: String!, $v: String!) { setNotificationSetting(key: $k, value: $v) { key } }",
            json!({"k": k, "v": v}),
        )
        .await?;
    }
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("secret.txt"), "payroll")?;
    let pass = "identity passphrase";
    let vars = json!({"folders": [src.path()]}).to_string();
    let (policy, repo) = local_typed_policy(&s, &token, "folders", &vars, pass).await?;
    let first = backup_job(&s, &token, policy).await?;
    ensure!(first["status"] == "successful", "{first}");
    let r = s
        .ok(
            &token,
            "{ repositories(first: 5) { nodes { borgId encryptionMode } } }",
            json!({}),
        )
        .await?;
    let recorded = r["repositories"]["nodes"][0]["borgId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ensure!(
        recorded.len() == 64,
        "identity not recorded at preparation: {r}"
    );
    ensure!(
        r["repositories"]["nodes"][0]["encryptionMode"] == "repokey",
        "{r}"
    );

    // Someone with access to the repository host replaces it by an unencrypted one.
    std::fs::remove_dir_all(&repo)?;
    let init = Command::new("borg")
        .args(["init", "-e", "none", &repo])
        .env(
            "BORG_BASE_DIR",
            std::env::temp_dir().join("cyborg-test-borg-base"),
        )
        .output()?;
    ensure!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );

    let job = backup_job(&s, &token, policy).await?;
    ensure!(job["status"] == "failed", "the backup ran: {job}");
    let why = job["jobExplanation"].as_str().unwrap_or_default();
    ensure!(
        why.starts_with("repository identity check failed")
            && why.contains(&repo)
            && why.contains(&recorded),
        "{why}"
    );
    let log = s
        .job_log(&token, job["id"].as_i64().context("job id")?)
        .await?;
    ensure!(!log.contains("borg create"), "borg create started: {log}");
    assert_no_archives(pass, &repo)?;

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = smtp
            .all()
            .into_iter()
            .find(|m| subject(&m.data).starts_with("[CyBorgBackup] REPOSITORY REPLACED"));
        if let Some(m) = found {
            ensure!(
                m.data
                    .replace("=\r\n", "")
                    .contains("identity check failed"),
                "{}",
                m.data
            );
            break;
        }
        ensure!(Instant::now() < deadline, "no identity alert mail");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(())
}

/// Locations whose user, host or path would reach `ssh` or `borg` as an option.
fn injections(marker: &str) -> Vec<String> {
    vec![
        format!("ssh://-oProxyCommand=touch${{IFS}}{marker}@127.0.0.10/x"),
        format!("ssh://-oProxyCommand=touch${{IFS}}pwned@127.0.0.10/{marker}"),
        format!("-oProxyCommand=touch${{IFS}}{marker}@127.0.0.10:/x"),
        format!("root@-oProxyCommand=touch${{IFS}}{marker}:/x"),
        format!("root@127.0.0.10:-{marker}"),
        "ssh://root@127.0.0.10:22x/x".into(),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn option_injection_through_a_location_is_refused() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let marker = std::env::temp_dir().join(format!("cyborg-pwned-{}", std::process::id()));
    let marker_s = marker.display().to_string();
    let _ = std::fs::remove_file(&marker);
    let api = Api::token(&s, &token);
    for (i, path) in injections(&marker_s).into_iter().enumerate() {
        let g = s
            .gql(
                Some(&token),
                "mutation($p: String!, $n: String!) { createRepository(input: {name: $n, path: $p}) { id } }",
                json!({"p": path, "n": format!("evil{i}")}),
            )
            .await?;
        ensure!(
            g.error_code() == Some("VALIDATION") && g.error_field() == Some("path"),
            "{path} accepted: {}",
            g.0
        );
        let fields = &g.0["errors"][0]["extensions"]["fields"];
        ensure!(
            fields.to_string().contains("must") || g.error_message().contains("must"),
            "{}",
            g.0
        );
        let body = json!({"name": format!("evil-rest{i}"), "path": path});
        let r: Value = api
            .expect("POST", "/api/v1/repositories/", Some(body), 400)
            .await?;
        ensure!(r["path"].is_array(), "{path}: {r}");
    }
    // The refusal names the offending value.
    let g = s
        .gql(
            Some(&token),
            "mutation($p: String!) { createRepository(input: {name: \"x\", path: $p}) { id } }",
            json!({"p": "ssh://-oProxyCommand=id@127.0.0.10/x"}),
        )
        .await?;
    ensure!(g.0.to_string().contains("-oProxyCommand=id"), "{}", g.0);
    // An existing repository cannot be changed into one either.
    let ok = s
        .ok(
            &token,
            "mutation { createRepository(input: {name: \"ok\", path: \"root@127.0.0.10:/srv/ok\"}) { id } }",
            json!({}),
        )
        .await?;
    let id = ok["createRepository"]["id"].as_i64().context("id")?;
    let g = s
        .gql(
            Some(&token),
            "mutation($id: Int!, $p: String!) { updateRepository(id: $id, input: {path: $p}) { id } }",
            json!({"id": id, "p": injections(&marker_s)[0]}),
        )
        .await?;
    ensure!(g.error_field() == Some("path"), "{}", g.0);
    // Hostnames, the hypervisor name and the backup user are checked the same way.
    for q in [
        "mutation { createClient(input: {hostname: \"-oProxyCommand=id\"}) { id } }",
        "mutation { createClient(input: {hostname: \"h1\", hypervisorName: \"-oProxyCommand=id\"}) { id } }",
    ] {
        let g = s.gql(Some(&token), q, json!({})).await?;
        ensure!(g.error_code() == Some("VALIDATION"), "{q}: {}", g.0);
    }
    let g = s
        .gql(
            Some(&token),
            "mutation { updateSetting(key: \"backup_user\", value: \"-Fx\") { key } }",
            json!({}),
        )
        .await?;
    ensure!(g.error_field() == Some("value"), "{}", g.0);
    ensure!(!marker.exists(), "the injected command ran");
    let repos = s
        .ok(
            &token,
            "{ repositories(first: 50) { totalCount } }",
            json!({}),
        )
        .await?;
    ensure!(repos["repositories"]["totalCount"] == 1, "{repos}");
    Ok(())
}
