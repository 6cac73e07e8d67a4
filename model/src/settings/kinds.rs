//! Kinds of setting values and their validation, and the enumerated values some settings take.

use super::FromSetting;

/// Longest value of any setting but a certificate bundle.
pub const MAX_VALUE_LEN: usize = 4096;
/// Longest certificate bundle.
pub const MAX_PEM_LEN: usize = 64 * 1024;

/// The type of a setting's value; `check` accepts or refuses a trimmed, non-empty value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `true` or `false` (also yes/no, on/off, 1/0; stored as true/false).
    Bool,
    /// A whole number within `min..=max`.
    Int { min: i64, max: i64 },
    /// One line of text without control characters.
    Text { max_len: usize },
    /// A Unix user name.
    UserName,
    /// A host name or IP address.
    Host,
    /// One of the listed words (case-insensitive, stored lowercase).
    Choice(&'static [&'static str]),
    /// A mail address, optionally with a display name: `Name <user@example.com>`.
    Mailbox,
    /// An absolute http:// or https:// URL.
    Url,
    /// A cron expression (5 fields, or the original's 6 with a year).
    Cron,
    /// A password or token: sealed at rest, never returned.
    Secret,
    /// PEM text holding one or more certificates.
    Pem,
    /// An HTTP header name.
    HeaderName,
}

impl Kind {
    /// A stable name of the kind, for APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bool => "bool",
            Kind::Int { .. } => "int",
            Kind::Text { .. } => "text",
            Kind::UserName => "user_name",
            Kind::Host => "host",
            Kind::Choice(_) => "choice",
            Kind::Mailbox => "mailbox",
            Kind::Url => "url",
            Kind::Cron => "cron",
            Kind::Secret => "secret",
            Kind::Pem => "pem",
            Kind::HeaderName => "header_name",
        }
    }

    /// The normalized value, or why `v` is refused.
    pub fn check(self, v: &str) -> Result<String, String> {
        let max = if self == Kind::Pem {
            MAX_PEM_LEN
        } else {
            MAX_VALUE_LEN
        };
        if v.len() > max {
            return Err(format!("must be at most {max} bytes"));
        }
        if self != Kind::Pem && v.chars().any(char::is_control) {
            return Err("must not contain control characters or line breaks".into());
        }
        match self {
            Kind::Bool => match v.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Ok("true".into()),
                "false" | "no" | "off" | "0" => Ok("false".into()),
                _ => Err(format!("{v:?} is not true or false")),
            },
            Kind::Int { min, max } => match v.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n.to_string()),
                _ => Err(format!("must be a whole number from {min} to {max}")),
            },
            Kind::Text { max_len } => {
                if v.chars().count() > max_len {
                    Err(format!("must be at most {max_len} characters"))
                } else {
                    Ok(v.to_string())
                }
            }
            Kind::UserName => user_name(v),
            Kind::Host => {
                let mut e = crate::ValidationErrors::new();
                crate::validate::check_hostname(&mut e, "", v);
                match e.0.into_iter().next() {
                    Some(f) => Err(f.reason),
                    None => Ok(v.to_string()),
                }
            }
            Kind::Choice(words) => {
                let l = v.to_ascii_lowercase();
                if words.contains(&l.as_str()) {
                    Ok(l)
                } else {
                    Err(format!("{v:?} is not one of {}", words.join(", ")))
                }
            }
            Kind::Mailbox => mailbox(v),
            Kind::Url => url(v),
            Kind::Cron => crate::CronExpr::parse(v)
                .map(|c| c.as_str().to_string())
                .map_err(|e| e.to_string()),
            Kind::Secret => Ok(v.to_string()),
            Kind::Pem => pem_certificates(v),
            Kind::HeaderName => header_name(v),
        }
    }
}

fn user_name(v: &str) -> Result<String, String> {
    let ok = v.len() <= 32
        && !v.starts_with('-')
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(v.to_string())
    } else {
        Err("must be a user name of at most 32 letters, digits, '_', '-' or '.'".into())
    }
}

fn mailbox(v: &str) -> Result<String, String> {
    let (name, addr) = match v.rsplit_once('<') {
        Some((name, rest)) => {
            let addr = rest
                .strip_suffix('>')
                .ok_or_else(|| format!("{v:?} lacks the closing '>'"))?;
            (name.trim(), addr.trim())
        }
        None => ("", v),
    };
    if name.contains(['<', '>', '"']) {
        return Err("the display name must not contain '<', '>' or '\"'".into());
    }
    if !email_address::EmailAddress::is_valid(addr) {
        return Err(format!("{addr:?} is not a mail address"));
    }
    Ok(if name.is_empty() {
        addr.to_string()
    } else {
        format!("{name} <{addr}>")
    })
}

fn url(v: &str) -> Result<String, String> {
    let u = url::Url::parse(v).map_err(|e| format!("{v:?} is not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// URL".into());
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    Ok(v.to_string())
}

fn pem_certificates(v: &str) -> Result<String, String> {
    let blocks = pem::parse_many(v).map_err(|e| format!("is not PEM text: {e}"))?;
    if blocks.is_empty() {
        return Err("expected PEM text with -----BEGIN CERTIFICATE----- blocks".into());
    }
    for b in &blocks {
        if b.tag() != "CERTIFICATE" {
            return Err(format!(
                "holds a {:?} block: only CERTIFICATE blocks are trusted",
                b.tag()
            ));
        }
        // A DER certificate is one ASN.1 SEQUENCE.
        if b.contents().first() != Some(&0x30) || b.contents().len() < 64 {
            return Err("holds a CERTIFICATE block that is not a DER certificate".into());
        }
    }
    Ok(v.trim().to_string())
}

fn header_name(v: &str) -> Result<String, String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if v.len() <= 64 && v.chars().all(token) {
        Ok(v.to_string())
    } else {
        Err("must be an HTTP header name: letters, digits and '-' (at most 64)".into())
    }
}

/// Connection security of the SMTP server (`mail.security`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailSecurity {
    /// Plain SMTP (only for a trusted local relay).
    None,
    /// Plain connection upgraded with STARTTLS (required).
    StartTls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

impl MailSecurity {
    pub const WORDS: &'static [&'static str] = &["none", "starttls", "tls"];

    pub fn as_str(self) -> &'static str {
        match self {
            MailSecurity::None => "none",
            MailSecurity::StartTls => "starttls",
            MailSecurity::Tls => "tls",
        }
    }

    /// The standard port, used when `mail.port` is 0.
    pub fn default_port(self) -> u16 {
        match self {
            MailSecurity::None => 25,
            MailSecurity::StartTls => 587,
            MailSecurity::Tls => 465,
        }
    }
}

impl FromSetting for MailSecurity {
    fn from_setting(s: &str) -> Option<Self> {
        match s {
            "none" => Some(MailSecurity::None),
            "starttls" => Some(MailSecurity::StartTls),
            "tls" => Some(MailSecurity::Tls),
            _ => None,
        }
    }
}

/// Who may read `/metrics` (`metrics.auth`).
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
    pub const WORDS: &'static [&'static str] = &["token", "admin", "none"];
}

impl FromSetting for MetricsAuth {
    fn from_setting(s: &str) -> Option<Self> {
        match s {
            "token" => Some(MetricsAuth::Token),
            "admin" => Some(MetricsAuth::Admin),
            "none" => Some(MetricsAuth::None),
            _ => None,
        }
    }
}
