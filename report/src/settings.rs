//! Settings of mail, webhooks, scheduled reports and metrics, read from and written to the
//! store's settings table. The SMTP password and the webhook secret are sealed secrets.

use crate::ReportError;
use model::Secret;
use store::Store;

pub const MAIL_HOST: &str = "mail.host";
pub const MAIL_PORT: &str = "mail.port";
pub const MAIL_SECURITY: &str = "mail.security";
pub const MAIL_USERNAME: &str = "mail.username";
pub const MAIL_PASSWORD: &str = "mail.password";
pub const MAIL_FROM: &str = "mail.from";
/// PEM certificates trusted for the SMTP server in addition to the public roots (a private CA).
pub const MAIL_CA: &str = "mail.ca_certificate";
pub const MAIL_TIMEOUT: &str = "mail.timeout_seconds";
pub const MAIL_RETRY: &str = "mail.retry_seconds";
pub const WEBHOOK_URL: &str = "webhook.url";
pub const WEBHOOK_SECRET: &str = "webhook.secret";
pub const WEBHOOK_SECRET_HEADER: &str = "webhook.secret_header";
pub const METRICS_AUTH: &str = "metrics.auth";
pub const REPORT_URL: &str = "report.url";

/// Connection security of the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain SMTP (only for a trusted local relay).
    None,
    /// Plain connection upgraded with STARTTLS (required).
    StartTls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

impl Security {
    pub fn as_str(self) -> &'static str {
        match self {
            Security::None => "none",
            Security::StartTls => "starttls",
            Security::Tls => "tls",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Security::None => 25,
            Security::StartTls => 587,
            Security::Tls => 465,
        }
    }

    pub fn parse(s: &str) -> Result<Self, ReportError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "" => Ok(Security::None),
            "starttls" => Ok(Security::StartTls),
            "tls" | "ssl" | "smtps" => Ok(Security::Tls),
            other => Err(ReportError::Invalid {
                field: "security",
                reason: format!("{other:?} is not one of none, starttls, tls"),
            }),
        }
    }
}

/// The SMTP server and sender.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub password: Option<Secret>,
    pub from: String,
    /// Extra trusted root certificates (PEM); empty for the public roots only.
    pub ca_certificate: String,
    pub timeout_seconds: u64,
    /// First retry delay; doubled on each further attempt.
    pub retry_seconds: u64,
}

fn get(store: &Store, key: &str) -> Result<String, ReportError> {
    Ok(store.setting(key)?.unwrap_or_default().trim().to_string())
}

fn number<T: std::str::FromStr>(
    store: &Store,
    key: &'static str,
    default: T,
) -> Result<T, ReportError> {
    let v = get(store, key)?;
    if v.is_empty() {
        return Ok(default);
    }
    v.parse().map_err(|_| ReportError::Invalid {
        field: key,
        reason: format!("{v:?} is not a valid number"),
    })
}

impl MailSettings {
    /// The stored settings; `NotConfigured` without a server or sender.
    pub fn load(store: &Store) -> Result<MailSettings, ReportError> {
        let host = get(store, MAIL_HOST)?;
        if host.is_empty() {
            return Err(ReportError::NotConfigured("set mail.host".into()));
        }
        let from = get(store, MAIL_FROM)?;
        if from.is_empty() {
            return Err(ReportError::NotConfigured("set mail.from".into()));
        }
        let security = Security::parse(&get(store, MAIL_SECURITY)?)?;
        Ok(MailSettings {
            host,
            port: number(store, MAIL_PORT, security.default_port())?,
            security,
            username: get(store, MAIL_USERNAME)?,
            password: store.secret_setting(MAIL_PASSWORD)?,
            from,
            ca_certificate: store.setting(MAIL_CA)?.unwrap_or_default(),
            timeout_seconds: number(store, MAIL_TIMEOUT, 30)?,
            retry_seconds: number(store, MAIL_RETRY, 60)?,
        })
    }
}

/// Where job-completion webhooks go.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub url: String,
    pub secret: Option<Secret>,
    pub secret_header: String,
}

impl WebhookSettings {
    /// `None` when no webhook URL is set.
    pub fn load(store: &Store) -> Result<Option<WebhookSettings>, ReportError> {
        let url = get(store, WEBHOOK_URL)?;
        if url.is_empty() {
            return Ok(None);
        }
        let header = get(store, WEBHOOK_SECRET_HEADER)?;
        Ok(Some(WebhookSettings {
            url,
            secret: store.secret_setting(WEBHOOK_SECRET)?,
            secret_header: if header.is_empty() {
                "X-CyBorgBackup-Secret".into()
            } else {
                header
            },
        }))
    }
}

/// Who may read `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsAuth {
    /// Any valid API or session token (the default).
    Token,
    /// A superuser's token.
    Admin,
    /// Anyone who can reach the server.
    None,
}

impl MetricsAuth {
    pub fn load(store: &Store) -> Result<MetricsAuth, ReportError> {
        match get(store, METRICS_AUTH)?.as_str() {
            "" | "token" => Ok(MetricsAuth::Token),
            "admin" => Ok(MetricsAuth::Admin),
            "none" => Ok(MetricsAuth::None),
            other => Err(ReportError::Invalid {
                field: "metrics.auth",
                reason: format!("{other:?} is not one of token, admin, none"),
            }),
        }
    }
}

/// Validates and stores a plain setting of this crate (`mail.*`, `webhook.*`, `report.*`,
/// `metrics.*`); an empty value clears it. Secrets go through [`set_secret`].
pub fn set(store: &Store, key: &str, value: &str) -> Result<(), ReportError> {
    let value = value.trim();
    let invalid = |reason: String| ReportError::Invalid {
        field: "value",
        reason: format!("{key}: {reason}"),
    };
    match key {
        MAIL_HOST | MAIL_USERNAME | MAIL_FROM | WEBHOOK_SECRET_HEADER => {}
        MAIL_PORT => {
            if !value.is_empty() && value.parse::<u16>().map(|p| p == 0).unwrap_or(true) {
                return Err(invalid("must be a port from 1 to 65535".into()));
            }
        }
        MAIL_TIMEOUT | MAIL_RETRY => {
            if !value.is_empty() && value.parse::<u64>().map(|p| p == 0).unwrap_or(true) {
                return Err(invalid("must be a positive number of seconds".into()));
            }
        }
        MAIL_SECURITY => {
            Security::parse(value)?;
        }
        MAIL_CA => {
            if !value.is_empty() {
                crate::mail::root_certificate(value).map_err(|e| invalid(e.to_string()))?;
            }
        }
        WEBHOOK_URL | REPORT_URL => {
            if !(value.is_empty() || value.starts_with("http://") || value.starts_with("https://"))
            {
                return Err(invalid("must be an http:// or https:// URL".into()));
            }
        }
        METRICS_AUTH => {
            if !["", "token", "admin", "none"].contains(&value) {
                return Err(invalid("must be token, admin or none".into()));
            }
        }
        k if crate::reports::Period::from_cron_key(k).is_some() => {
            if !value.is_empty() {
                model::CronExpr::parse(value).map_err(|e| invalid(e.to_string()))?;
            }
        }
        MAIL_PASSWORD | WEBHOOK_SECRET => {
            return Err(invalid("is a secret: use set_secret".into()));
        }
        _ => return Err(invalid("unknown setting".into())),
    }
    store.set_setting(key, value)?;
    Ok(())
}

/// Stores `mail.password` or `webhook.secret` sealed; an empty value clears it.
pub fn set_secret(store: &Store, key: &str, value: &str) -> Result<(), ReportError> {
    if key != MAIL_PASSWORD && key != WEBHOOK_SECRET {
        return Err(ReportError::Invalid {
            field: "key",
            reason: format!("{key} is not a secret setting"),
        });
    }
    if value.is_empty() {
        store.set_setting(key, "")?;
    } else {
        store.set_secret_setting(key, &Secret::new(value))?;
    }
    Ok(())
}

/// Every key this crate reads, with whether it is secret.
pub const KEYS: &[(&str, bool)] = &[
    (MAIL_HOST, false),
    (MAIL_PORT, false),
    (MAIL_SECURITY, false),
    (MAIL_USERNAME, false),
    (MAIL_PASSWORD, true),
    (MAIL_FROM, false),
    (MAIL_CA, false),
    (MAIL_TIMEOUT, false),
    (MAIL_RETRY, false),
    (WEBHOOK_URL, false),
    (WEBHOOK_SECRET, true),
    (WEBHOOK_SECRET_HEADER, false),
    (METRICS_AUTH, false),
    (REPORT_URL, false),
    ("report.daily_cron", false),
    ("report.weekly_cron", false),
    ("report.monthly_cron", false),
];

/// The value of every key, secrets masked (`$encrypted$` when set, empty otherwise).
pub fn masked(store: &Store) -> Result<Vec<(String, String, bool)>, ReportError> {
    let mut out = Vec::new();
    for (k, secret) in KEYS {
        let v = if *secret {
            if store.secret_setting(k)?.is_some() {
                model::MASK.to_string()
            } else {
                String::new()
            }
        } else {
            store.setting(k)?.unwrap_or_default()
        };
        out.push((k.to_string(), v, *secret));
    }
    Ok(out)
}
