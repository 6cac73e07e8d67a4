//! Mail over TLS: STARTTLS and implicit TLS to a real SMTP listener with a throw-away
//! certificate trusted through the `mail.ca_certificate` setting, AUTH only after STARTTLS, and
//! the verbatim certificate error when the server is not trusted.

use crate::support;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::time::Duration;
use support::sinks::{SinkTls, SmtpSink};
use support::*;

async fn set(s: &Server, token: &str, key: &str, value: &str) -> Result<Value> {
    s.ok(
        token,
        "mutation($k: String!, $v: String!) { setNotificationSetting(key: $k, value: $v) { key value isSecret } }",
        json!({"k": key, "v": value}),
    )
    .await
}

async fn configure(s: &Server, token: &str, port: u16, security: &str) -> Result<()> {
    set(s, token, "mail.host", "127.0.0.1").await?;
    set(s, token, "mail.port", &port.to_string()).await?;
    set(s, token, "mail.security", security).await?;
    set(s, token, "mail.from", "CyBorgBackup <cyborg@test.local>").await?;
    set(s, token, "mail.username", "mailer").await?;
    set(s, token, "mail.password", "tls pass").await?;
    Ok(())
}

async fn test_mail(s: &Server, token: &str) -> Result<Value> {
    let r = s
        .ok(
            token,
            "mutation { sendTestMail(to: \"ops@test.local\") { sent error } }",
            json!({}),
        )
        .await?;
    Ok(r["sendTestMail"].clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn starttls_and_implicit_tls_with_a_private_ca() -> Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let s = Server::start()?;
    let token = s.login().await?;

    let (smtp, pem) = SmtpSink::start_tls(Some(("mailer", "tls pass")), SinkTls::StartTls).await?;
    configure(&s, &token, smtp.port, "starttls").await?;

    // Not trusted yet: the send fails with the TLS error, verbatim.
    let r = test_mail(&s, &token).await?;
    assert_eq!(r["sent"], false, "{r}");
    let err = r["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("certificate") && err.contains("starttls"),
        "the error should name the certificate problem: {err}"
    );
    assert!(smtp.all().is_empty());

    // A malformed CA is refused with the field named; a good one is stored.
    let bad = s
        .gql(
            Some(&token),
            "mutation($k: String!, $v: String!) { setNotificationSetting(key: $k, value: $v) { key } }",
            json!({"k": "mail.ca_certificate", "v": "not a certificate"}),
        )
        .await?;
    assert_eq!(
        bad.error_code(),
        Some("VALIDATION"),
        "{}",
        bad.error_message()
    );
    assert!(
        bad.error_message().contains("mail.ca_certificate"),
        "{}",
        bad.error_message()
    );
    set(&s, &token, "mail.ca_certificate", &pem).await?;

    let r = test_mail(&s, &token).await?;
    assert_eq!(r["sent"], true, "{r}");
    let mails = smtp.wait_for(1, Duration::from_secs(30)).await?;
    let m = &mails[0];
    assert!(m.tls, "the mail was not sent over TLS");
    let auth = m.auth.clone().context("AUTH after STARTTLS")?;
    assert_eq!((auth.1.as_str(), auth.2.as_str()), ("mailer", "tls pass"));

    // Implicit TLS (SMTPS) on another port with its own certificate.
    let (smtps, pem2) =
        SmtpSink::start_tls(Some(("mailer", "tls pass")), SinkTls::Implicit).await?;
    configure(&s, &token, smtps.port, "tls").await?;
    set(&s, &token, "mail.ca_certificate", &pem2).await?;
    let r = test_mail(&s, &token).await?;
    assert_eq!(r["sent"], true, "{r}");
    let mails = smtps.wait_for(1, Duration::from_secs(30)).await?;
    assert!(mails[0].tls);
    assert!(mails[0].auth.is_some());
    Ok(())
}
