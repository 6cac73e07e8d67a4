//! SMTP with lettre: a transport honouring every mail setting (server, port, security, AUTH,
//! timeout of the whole conversation), message building, raw sends for the outbox, and the
//! test mail.

use crate::settings::{MailSettings, Security};
use crate::ReportError;
use lettre::address::Envelope;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// An inline image of an HTML mail, referenced as `cid:<cid>`.
#[derive(Debug, Clone)]
pub struct InlineImage {
    pub cid: String,
    pub png: Vec<u8>,
}

/// The parts of a mail to build.
#[derive(Debug, Clone, Default)]
pub struct MailContent {
    pub subject: String,
    pub text: String,
    /// An HTML alternative; plain text only when `None`.
    pub html: Option<String>,
    pub images: Vec<InlineImage>,
}

/// Every source of an error, joined: lettre puts the useful part (refused, timed out, the
/// server's reply) in the sources.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = c.source();
    }
    s
}

fn smtp_err(m: &MailSettings, e: &dyn std::error::Error) -> ReportError {
    ReportError::Smtp(format!(
        "smtp {}:{} ({}): {}",
        m.host,
        m.port,
        m.security.as_str(),
        error_chain(e)
    ))
}

/// Parses PEM text holding one or more certificates.
pub fn root_certificate(pem: &str) -> Result<Certificate, ReportError> {
    let invalid = |reason: String| ReportError::Invalid {
        field: "mail.ca_certificate",
        reason,
    };
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(invalid(
            "expected PEM text with -----BEGIN CERTIFICATE----- blocks".into(),
        ));
    }
    Certificate::from_pem(pem.as_bytes()).map_err(|e| invalid(error_chain(&e)))
}

/// Builds the transport described by the settings.
pub fn transport(m: &MailSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, ReportError> {
    let tls = || {
        let mut b = TlsParameters::builder(m.host.clone());
        if !m.ca_certificate.trim().is_empty() {
            b = b.add_root_certificate(root_certificate(&m.ca_certificate)?);
        }
        b.build().map_err(|e| smtp_err(m, &e))
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(m.host.clone())
        .port(m.port)
        .timeout(Some(Duration::from_secs(m.timeout_seconds)));
    b = match m.security {
        Security::None => b.tls(Tls::None),
        Security::StartTls => b.tls(Tls::Required(tls()?)),
        Security::Tls => b.tls(Tls::Wrapper(tls()?)),
    };
    if !m.username.is_empty() {
        let password = m
            .password
            .as_ref()
            .map(|p| p.expose().to_string())
            .unwrap_or_default();
        b = b
            .credentials(Credentials::new(m.username.clone(), password))
            .authentication(vec![Mechanism::Plain, Mechanism::Login]);
    }
    Ok(b.build())
}

fn mailbox(field: &'static str, s: &str) -> Result<Mailbox, ReportError> {
    s.trim().parse().map_err(|e| ReportError::Invalid {
        field,
        reason: format!("{s:?} is not a mail address: {e}"),
    })
}

/// Formats a message from the configured sender to `to`; returns the raw bytes and envelope
/// recipients.
pub fn build(m: &MailSettings, to: &[String], c: &MailContent) -> Result<Vec<u8>, ReportError> {
    let mut b = Message::builder()
        .from(mailbox("mail.from", &m.from)?)
        .subject(c.subject.clone());
    for t in to {
        b = b.to(mailbox("to", t)?);
    }
    let text = SinglePart::plain(c.text.clone());
    let msg = match &c.html {
        None => b.singlepart(text),
        Some(html) => {
            let html = SinglePart::html(html.clone());
            let alt = if c.images.is_empty() {
                MultiPart::alternative().singlepart(text).singlepart(html)
            } else {
                let png = ContentType::parse("image/png")
                    .map_err(|e| ReportError::Chart(e.to_string()))?;
                let mut rel = MultiPart::related().singlepart(html);
                for img in &c.images {
                    rel = rel.singlepart(
                        Attachment::new_inline(img.cid.clone()).body(img.png.clone(), png.clone()),
                    );
                }
                MultiPart::alternative().singlepart(text).multipart(rel)
            };
            b.multipart(alt)
        }
    }
    .map_err(|e| ReportError::Invalid {
        field: "mail",
        reason: e.to_string(),
    })?;
    Ok(msg.formatted())
}

/// Sends formatted bytes to `to` over a fresh connection.
pub async fn send_raw(m: &MailSettings, to: &[String], raw: &[u8]) -> Result<(), ReportError> {
    let from: Address = mailbox("mail.from", &m.from)?.email;
    let rcpt = to
        .iter()
        .map(|t| mailbox("to", t).map(|mb| mb.email))
        .collect::<Result<Vec<_>, _>>()?;
    let env = Envelope::new(Some(from), rcpt).map_err(|e| ReportError::Invalid {
        field: "to",
        reason: e.to_string(),
    })?;
    let t = transport(m)?;
    // lettre bounds only the TCP connect: a server that accepts and then stalls would hold the
    // outbox forever, so the whole conversation gets `mail.timeout_seconds` too.
    let limit = Duration::from_secs(m.timeout_seconds);
    match tokio::time::timeout(limit, t.send_raw(&env, raw)).await {
        Ok(r) => {
            r.map_err(|e| smtp_err(m, &e))?;
        }
        Err(_) => {
            return Err(ReportError::Smtp(format!(
                "smtp {}:{} ({}): timed out after {} s (mail.timeout_seconds)",
                m.host,
                m.port,
                m.security.as_str(),
                m.timeout_seconds
            )))
        }
    }
    tracing::info!(host = %m.host, port = m.port, recipients = to.len(), "mail sent");
    Ok(())
}

/// Sends a test mail now (not through the outbox) and returns the SMTP error verbatim.
pub async fn send_test(m: &MailSettings, to: &str) -> Result<(), ReportError> {
    let content = MailContent {
        subject: "[CyBorgBackup] Test mail".into(),
        text: format!(
            "This is a test mail from CyBorgBackup.\n\nServer: {}:{} ({})\nAuthentication: {}\n",
            m.host,
            m.port,
            m.security.as_str(),
            if m.username.is_empty() { "none" } else { "yes" }
        ),
        html: None,
        images: vec![],
    };
    let to = vec![to.to_string()];
    let raw = build(m, &to, &content)?;
    send_raw(m, &to, &raw).await
}
