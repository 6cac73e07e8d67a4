//! Delivers the outbox: mail over SMTP and webhooks over HTTP, retrying failed attempts with a
//! doubling delay and giving up (state `failed`, error kept) after a few.

use crate::mail;
use crate::settings::{MailSettings, WebhookSettings};
use crate::ReportError;
use chrono::{Duration, Utc};
use store::{OutboxItem, Store};

/// Attempts before a message is given up.
pub const MAX_ATTEMPTS: i64 = 5;

/// Delivers every due entry; returns how many were sent.
pub async fn deliver_due(store: &Store) -> Result<usize, ReportError> {
    let s = store.clone();
    let due = tokio::task::spawn_blocking(move || s.due_outbox(Utc::now(), 20))
        .await
        .map_err(|e| ReportError::Smtp(e.to_string()))??;
    let mut sent = 0;
    for item in due {
        let (result, retry_base) = match item.channel.as_str() {
            "mail" => match MailSettings::load(store) {
                Ok(m) => {
                    let to: Vec<String> = item
                        .recipients
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect();
                    (
                        mail::send_raw(&m, &to, &item.payload).await,
                        m.retry_seconds,
                    )
                }
                Err(e) => (Err(e), 60),
            },
            _ => (post_webhook(store, &item).await, 60),
        };
        match result {
            Ok(()) => {
                store.outbox_sent(item.id)?;
                sent += 1;
            }
            Err(e) => {
                let error = e.to_string();
                let retry_at = (item.attempts + 1 < MAX_ATTEMPTS).then(|| {
                    let secs = retry_base.saturating_mul(1u64 << item.attempts.clamp(0, 10));
                    Utc::now() + Duration::seconds(secs.min(86_400) as i64)
                });
                tracing::warn!(id = item.id, channel = %item.channel, kind = %item.kind,
                    attempt = item.attempts + 1, gave_up = retry_at.is_none(), error = %error,
                    "delivery failed");
                store.outbox_attempt_failed(item.id, &error, retry_at)?;
            }
        }
    }
    Ok(sent)
}

/// An HTTP(S) client; installs aws-lc-rs as the process's rustls provider on first use.
pub fn http_client() -> Result<reqwest::Client, ReportError> {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        // Err means another part of the process installed one first: that one is used.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .build()
        .map_err(|e| ReportError::Webhook(mail::error_chain(&e)))
}

async fn post_webhook(store: &Store, item: &OutboxItem) -> Result<(), ReportError> {
    let settings = WebhookSettings::load(store)?;
    let client = http_client()?;
    let mut req = client
        .post(&item.recipients)
        .header("content-type", "application/json")
        .header(
            "user-agent",
            concat!("cyborgbackup/", env!("CARGO_PKG_VERSION")),
        )
        .body(item.payload.clone());
    if let Some(w) = settings.filter(|w| w.url == item.recipients) {
        if let Some(secret) = &w.secret {
            req = req.header(w.secret_header.as_str(), secret.expose());
        }
    }
    let resp = req.send().await.map_err(|e| {
        ReportError::Webhook(format!("{}: {}", item.recipients, mail::error_chain(&e)))
    })?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(ReportError::Webhook(format!(
            "{} answered HTTP {}",
            item.recipients,
            resp.status()
        )))
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn https_client_has_a_crypto_provider() {
        let c = super::http_client().expect("https-capable client");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let err = c
            .post(format!("https://127.0.0.1:{port}/hook"))
            .send()
            .await
            .expect_err("closed port");
        assert!(err.is_connect(), "{err}");
    }
}
