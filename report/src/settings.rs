//! Mail, webhook and link settings as the reporting code uses them, read through the typed
//! settings registry (`model::settings`); the SMTP password and the webhook secret are sealed.

use crate::ReportError;
use model::settings as reg;
use model::{JobId, Secret};
use store::Store;

pub use model::settings::{MailSecurity as Security, MetricsAuth};

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

impl MailSettings {
    /// The stored settings; `NotConfigured` without a server or sender.
    pub fn load(store: &Store) -> Result<MailSettings, ReportError> {
        let host = store.get(&reg::MAIL_HOST)?;
        if host.is_empty() {
            return Err(ReportError::NotConfigured("set mail.host".into()));
        }
        let from = store.get(&reg::MAIL_FROM)?;
        if from.is_empty() {
            return Err(ReportError::NotConfigured("set mail.from".into()));
        }
        let security = store.get(&reg::MAIL_SECURITY)?;
        Ok(MailSettings {
            host,
            port: match store.get(&reg::MAIL_PORT)? {
                0 => security.default_port(),
                p => p,
            },
            security,
            username: store.get(&reg::MAIL_USERNAME)?,
            password: store.get_secret(&reg::MAIL_PASSWORD)?,
            from,
            ca_certificate: store.get(&reg::MAIL_CA)?,
            timeout_seconds: store.get(&reg::MAIL_TIMEOUT)?,
            retry_seconds: store.get(&reg::MAIL_RETRY)?,
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
        let url = store.get(&reg::WEBHOOK_URL)?;
        if url.is_empty() {
            return Ok(None);
        }
        Ok(Some(WebhookSettings {
            url,
            secret: store.get_secret(&reg::WEBHOOK_SECRET)?,
            secret_header: store.get(&reg::WEBHOOK_SECRET_HEADER)?,
        }))
    }
}

/// Links to the web UI, built from the `url` setting; none while it is unset.
#[derive(Debug, Clone, Default)]
pub struct Links {
    base: Option<String>,
}

impl Links {
    pub fn load(store: &Store) -> Result<Links, ReportError> {
        let base = store.get(&reg::URL)?;
        let base = base.trim_end_matches('/');
        Ok(Links {
            base: (!base.is_empty()).then(|| base.to_string()),
        })
    }

    /// The page of a job: `https://backup.example.com/#/jobs/42`.
    pub fn job(&self, id: JobId) -> Option<String> {
        self.base.as_ref().map(|b| format!("{b}/#/jobs/{}", id.0))
    }

    /// The dashboard.
    pub fn home(&self) -> Option<String> {
        self.base.as_ref().map(|b| format!("{b}/#/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().expect("tempdir");
        let s = Store::open(d.path()).expect("store");
        (d, s)
    }

    fn set(s: &Store, k: &str, v: &str) {
        s.apply_settings(&[reg::check(k, v).expect("valid")])
            .expect("stored");
    }

    #[test]
    fn mail_port_zero_means_the_standard_port_of_the_security() {
        let (_d, s) = store();
        assert!(matches!(
            MailSettings::load(&s),
            Err(ReportError::NotConfigured(_))
        ));
        set(&s, "mail.host", "smtp.example.com");
        set(&s, "mail.from", "ops@example.com");
        assert_eq!(MailSettings::load(&s).expect("mail").port, 25);
        set(&s, "mail.security", "tls");
        assert_eq!(MailSettings::load(&s).expect("mail").port, 465);
        set(&s, "mail.port", "2465");
        let m = MailSettings::load(&s).expect("mail");
        assert_eq!((m.port, m.security), (2465, Security::Tls));
    }

    #[test]
    fn links_are_built_from_the_url_setting() {
        let (_d, s) = store();
        assert_eq!(Links::load(&s).expect("links").job(JobId(7)), None);
        set(&s, "url", "https://backup.example.com/");
        let l = Links::load(&s).expect("links");
        assert_eq!(
            l.job(JobId(7)).as_deref(),
            Some("https://backup.example.com/#/jobs/7")
        );
    }

    #[test]
    fn the_secret_header_setting_names_the_webhook_header() {
        let (_d, s) = store();
        set(&s, "webhook.url", "http://127.0.0.1:9/hook");
        let w = WebhookSettings::load(&s).expect("load").expect("set");
        assert_eq!(w.secret_header, "X-CyBorgBackup-Secret");
        set(&s, "webhook.secret_header", "X-Hook-Token");
        let w = WebhookSettings::load(&s).expect("load").expect("set");
        assert_eq!(w.secret_header, "X-Hook-Token");
    }
}
