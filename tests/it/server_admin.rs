//! Running the server for real: HTTPS with a throw-away certificate reloaded on SIGHUP, the
//! health and readiness probes (and the `healthcheck` command the Docker image runs), trusted
//! reverse-proxy headers for the login limiter, and disaster recovery: a self-backup of a
//! running server restored into a fresh data directory.

use crate::support::*;
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cyborgbackup"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A client that trusts only `pem` (no public roots), with a new connection (and handshake)
/// for every request.
fn client_trusting(pem: &str) -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes())?)
        .timeout(Duration::from_secs(20))
        .build()?)
}

fn self_signed() -> Result<(String, String)> {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])?;
    Ok((ck.cert.pem(), ck.key_pair.serialize_pem()))
}

#[tokio::test(flavor = "multi_thread")]
async fn https_with_a_trusted_certificate_reloaded_on_sighup() -> Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let tls = tempfile::tempdir()?;
    let (cert_a, key_a) = self_signed()?;
    let (cert, key) = (tls.path().join("cert.pem"), tls.path().join("key.pem"));
    std::fs::write(&cert, &cert_a)?;
    std::fs::write(&key, &key_a)?;
    let (c, k) = (cert.display().to_string(), key.display().to_string());
    let s = Server::start_with(
        tempfile::tempdir()?,
        &[("CYBORG_TLS_CERTIFICATE", &c), ("CYBORG_TLS_KEY", &k)],
    )?;
    assert!(s.url.starts_with("https://127.0.0.1:"), "{}", s.url);
    let trusts_a = client_trusting(&cert_a)?;
    let login = json!({"query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
        "variables": {"e": ADMIN_EMAIL, "p": ADMIN_PASSWORD}});
    let r: Value = trusts_a
        .post(format!("{}/graphql", s.url))
        .json(&login)
        .send()
        .await?
        .json()
        .await?;
    assert!(r["data"]["login"]["token"].is_string(), "{r}");
    // Plain HTTP on the same port gets no answer from the API.
    let plain = s.url.replace("https://", "http://");
    let r = reqwest::Client::new()
        .get(format!("{plain}/healthz"))
        .send()
        .await;
    assert!(r.map(|r| !r.status().is_success()).unwrap_or(true));
    // A client that trusts nothing else refuses the server.
    let (cert_b, key_b) = self_signed()?;
    let trusts_b = client_trusting(&cert_b)?;
    assert!(trusts_b
        .get(format!("{}/healthz", s.url))
        .send()
        .await
        .is_err());

    // A broken reload keeps the current certificate.
    std::fs::write(&key, "not a key")?;
    s.signal("HUP")?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let r = trusts_a.get(format!("{}/healthz", s.url)).send().await?;
    assert_eq!(
        r.status(),
        200,
        "a failed reload stopped the old certificate"
    );

    // New files + SIGHUP: served without a restart.
    std::fs::write(&cert, &cert_b)?;
    std::fs::write(&key, &key_b)?;
    s.signal("HUP")?;
    let start = Instant::now();
    loop {
        if let Ok(r) = trusts_b.get(format!("{}/healthz", s.url)).send().await {
            assert_eq!(r.status(), 200);
            break;
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(30),
            "the new certificate was not served after SIGHUP"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(trusts_a
        .get(format!("{}/healthz", s.url))
        .send()
        .await
        .is_err());
    // The container health check speaks HTTPS to the configured listener too.
    let port = s.url.rsplit(':').next().context("port")?;
    let out = bin()
        .args(["healthcheck", "--data-dir"])
        .arg(s.data_dir.path())
        .env("CYBORG_LISTEN", format!("0.0.0.0:{port}"))
        .env("CYBORG_TLS_CERTIFICATE", &c)
        .env("CYBORG_TLS_KEY", &k)
        .output()?;
    assert!(out.status.success(), "{}", text(&out));
    // Missing files stop the start with the key's name.
    let out = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tempfile::tempdir()?.path())
        .env("CYBORG_TLS_CERTIFICATE", "/nonexistent/cert.pem")
        .env("CYBORG_TLS_KEY", &k)
        .output()?;
    assert!(!out.status.success());
    assert!(text(&out).contains("tls_certificate"), "{}", text(&out));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_readiness_probes() -> Result<()> {
    let s = Server::start()?;
    let (status, body) = s.rest("GET", "/healthz", None, None).await?;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("ok")),
        "{body}"
    );
    // The scheduler ticks every second here; wait for its first tick at most.
    let start = Instant::now();
    let body = loop {
        let (status, body) = s.rest("GET", "/readyz", None, None).await?;
        if status == 200 {
            break body;
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(60),
            "not ready: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(body["status"], "ready", "{body}");
    for check in ["database", "catalog", "scheduler"] {
        assert_eq!(body["checks"][check], "ok", "{body}");
    }
    let out = bin()
        .args(["healthcheck", "--url", &format!("{}/readyz", s.url)])
        .output()?;
    assert!(out.status.success(), "{}", text(&out));
    // A dead server fails the health check.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let out = bin()
        .args(["healthcheck", "--url", &format!("http://{dead}/readyz")])
        .output()?;
    assert!(!out.status.success(), "{}", text(&out));
    // The catalog gone from under the server: not ready, and the reason is named.
    std::fs::remove_dir_all(s.data_dir.path().join("catalog"))?;
    let (status, body) = s.rest("GET", "/readyz", None, None).await?;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["database"], "ok", "{body}");
    assert_eq!(body["checks"]["catalog"], "cannot be searched", "{body}");
    Ok(())
}

/// A failed HTTP Basic login for `email` from a client that says it is `forwarded_for`.
async fn failed_login(s: &Server, email: &str, forwarded_for: &str) -> Result<u16> {
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{email}:wrong"));
    let (status, _, _) = s
        .rest_full(
            "GET",
            "/api/v1/me/",
            Some(&format!("Basic {auth}")),
            None,
            &[("X-Forwarded-For", forwarded_for)],
        )
        .await?;
    Ok(status)
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarded_for_counts_only_behind_a_trusted_proxy() -> Result<()> {
    // Behind a trusted proxy (loopback here), the limiter counts the forwarded client.
    let s = Server::start_with(
        tempfile::tempdir()?,
        &[("CYBORG_TRUSTED_PROXIES", "127.0.0.0/8, ::1")],
    )?;
    for i in 0..20 {
        let st = failed_login(&s, &format!("a{i}@x.io"), "198.51.100.7").await?;
        assert_eq!(st, 401, "failed login {i}");
    }
    assert_eq!(failed_login(&s, "fresh@x.io", "198.51.100.7").await?, 429);
    // Prepending a forged hop does not make that client someone else.
    assert_eq!(
        failed_login(&s, "fresh2@x.io", "6.6.6.6, 198.51.100.7").await?,
        429
    );
    // Another client behind the same proxy is not blocked.
    assert_eq!(failed_login(&s, "fresh3@x.io", "203.0.113.50").await?, 401);
    drop(s);

    // Without trusted proxies the header is ignored: inventing addresses does not escape the
    // limit of the real peer.
    let s = Server::start()?;
    for i in 0..20 {
        let st = failed_login(&s, &format!("b{i}@x.io"), &format!("192.0.2.{i}")).await?;
        assert_eq!(st, 401, "failed login {i}");
    }
    assert_eq!(failed_login(&s, "fresh@x.io", "192.0.2.99").await?, 429);
    Ok(())
}

mod recovery;
