//! Unit tests of the registry: declarations are consistent, defaults valid, unknown keys and
//! bad values refused with the key and the reason.

use super::*;
use std::collections::HashSet;

#[test]
fn every_default_passes_its_own_validator() {
    for d in all() {
        if d.default.is_empty() {
            // Empty means "not set": only text-like kinds may have it.
            assert!(
                matches!(
                    d.kind,
                    Kind::Text { .. }
                        | Kind::Host
                        | Kind::Mailbox
                        | Kind::Url
                        | Kind::Secret
                        | Kind::Pem
                ),
                "{} has an empty default",
                d.key
            );
            continue;
        }
        let v = d.kind.check(d.default);
        assert_eq!(v.as_deref(), Ok(d.default), "default of {}", d.key);
    }
}

#[test]
fn typed_defaults_read_back() {
    // `read(None)` panics when a default does not parse as the handle's type.
    assert_eq!(URL.read(None), "");
    assert_eq!(BACKUP_USER.read(None), "root");
    assert!(INSTALL_BORG.read(None));
    assert!(!INTEGRITY_CHECK.read(None));
    assert_eq!(IC_CRON.read(None).as_str(), "0 4 * * 0");
    assert!(!AUTO_RESTORE_TEST.read(None));
    assert_eq!(RESTORE_TEST_CRON.read(None).as_str(), "0 4 * * 0");
    assert_eq!(MAIL_HOST.read(None), "");
    assert_eq!(MAIL_PORT.read(None), 0);
    assert_eq!(MAIL_SECURITY.read(None), MailSecurity::None);
    assert_eq!(MAIL_USERNAME.read(None), "");
    assert_eq!(MAIL_FROM.read(None), "");
    assert_eq!(MAIL_CA.read(None), "");
    assert_eq!(MAIL_TIMEOUT.read(None), 30);
    assert_eq!(MAIL_RETRY.read(None), 60);
    assert_eq!(WEBHOOK_URL.read(None), "");
    assert_eq!(WEBHOOK_SECRET_HEADER.read(None), "X-CyBorgBackup-Secret");
    assert_eq!(REPORT_DAILY_CRON.read(None).as_str(), "0 7 * * *");
    assert_eq!(REPORT_WEEKLY_CRON.read(None).as_str(), "0 7 * * 1");
    assert_eq!(REPORT_MONTHLY_CRON.read(None).as_str(), "0 7 1 * *");
    assert_eq!(METRICS_AUTH.read(None), MetricsAuth::Token);
    assert!(MAIL_PASSWORD.def().is_secret() && WEBHOOK_SECRET.def().is_secret());
}

#[test]
fn keys_are_unique_and_every_setting_is_described() {
    let mut seen = HashSet::new();
    for d in all() {
        assert!(seen.insert(d.key), "{} declared twice", d.key);
        assert!(!d.label.is_empty() && !d.help.is_empty(), "{}", d.key);
        assert!(!d.help.contains('\n'), "help of {} is one line", d.key);
        assert_eq!(find(d.key), Some(*d));
    }
    // Every group of the form has a setting.
    for g in Group::ALL {
        assert!(all().iter().any(|d| d.group == g), "{g:?} is empty");
    }
}

#[test]
fn unknown_keys_are_refused_naming_the_key() {
    let e = check("report.url", "https://x.example").expect_err("removed key");
    assert_eq!(
        e,
        SettingError::Unknown {
            key: "report.url".into()
        }
    );
    assert!(e.to_string().contains("report.url"));
    assert!(check("", "x").is_err());
    assert!(check("ssh_private_key", "x").is_err(), "internal state");
}

#[test]
fn bad_values_are_refused_with_the_key_and_reason() {
    let cases = [
        ("mail.port", "65536", "from 0 to 65535"),
        ("mail.port", "smtp", "whole number"),
        ("mail.timeout_seconds", "0", "from 1 to 600"),
        ("mail.security", "ssl3", "none, starttls, tls"),
        ("mail.from", "not an address", "not a mail address"),
        ("mail.from", "Ops <ops@example.com", "closing"),
        ("mail.host", "smtp;rm -rf /", "invalid character"),
        ("mail.ca_certificate", "not a certificate", "PEM"),
        ("webhook.url", "ftp://example.com/x", "http://"),
        ("webhook.url", "not a url", "not a URL"),
        (
            "url",
            "https://user:pw@example.com",
            "user name or password",
        ),
        ("webhook.secret_header", "X Bad", "header name"),
        ("ic_cron", "61 * * * *", ""),
        ("integrity_check", "maybe", "true or false"),
        ("backup_user", "root; rm", "user name"),
        ("metrics.auth", "everyone", "token, admin, none"),
        ("mail.username", "a\nb", "control characters"),
        ("mail.password", "pass\u{0}word", "control characters"),
    ];
    for (k, v, want) in cases {
        match check(k, v) {
            Err(SettingError::Invalid { key, reason }) => {
                assert_eq!(key, k);
                assert!(reason.contains(want), "{k}={v:?}: {reason}");
            }
            other => panic!("{k}={v:?} accepted: {other:?}"),
        }
    }
}

#[test]
fn values_are_normalized() {
    let plain = |k: &str, v: &str| match check(k, v).expect("valid").value {
        ChangeValue::Plain(s) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!(plain("install_borg", " Yes "), "true");
    assert_eq!(plain("integrity_check", "off"), "false");
    assert_eq!(plain("mail.security", "STARTTLS"), "starttls");
    assert_eq!(plain("mail.port", " 2525"), "2525");
    assert_eq!(
        plain("mail.from", "CyBorgBackup  <cyborg@test.local>"),
        "CyBorgBackup <cyborg@test.local>"
    );
    assert_eq!(
        plain("url", "https://backup.example.com/"),
        "https://backup.example.com/"
    );
    assert_eq!(
        check("mail.port", "  ").expect("reset").value,
        ChangeValue::Reset
    );
    // Secrets keep their spaces; the mask keeps the stored secret.
    match check("mail.password", " two words ").expect("secret").value {
        ChangeValue::Secret(s) => assert_eq!(s.expose(), " two words "),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        check("mail.password", MASK_VALUE).expect("keep").value,
        ChangeValue::Keep
    );
    assert_eq!(
        check("mail.password", "").expect("clear").value,
        ChangeValue::Reset
    );
}

const MASK_VALUE: &str = crate::MASK;

#[test]
fn check_all_reports_every_refusal_and_duplicates() {
    let errs = check_all([
        ("mail.port", "x"),
        ("nope", "1"),
        ("mail.host", "smtp.example.com"),
        ("mail.host", "other.example.com"),
    ])
    .expect_err("refused");
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(matches!(&errs[1], SettingError::Unknown { key } if key == "nope"));
    assert!(errs[2].to_string().contains("more than once"));
    let ok = check_all([("mail.port", "25"), ("mail.host", "smtp.example.com")]).expect("ok");
    assert_eq!(ok.len(), 2);
}

#[test]
fn stored_values_that_no_longer_parse_read_as_the_default() {
    assert_eq!(MAIL_PORT.read(Some("")), 0);
    assert_eq!(MAIL_PORT.read(Some("junk")), 0);
    assert_eq!(MAIL_PORT.read(Some("2525")), 2525);
    // Older versions accepted yes/1 when reading.
    assert!(INTEGRITY_CHECK.read(Some("yes")));
    assert!(!MAIL_PORT.is_readable("junk"));
}

#[test]
fn views_mask_secrets_and_honour_read_access() {
    let stored = |k: &str| match k {
        "mail.password" => Stored::Sealed,
        "webhook.secret" => Stored::Plain("old clear secret".into()),
        "url" => Stored::Plain("https://b.example".into()),
        _ => Stored::Missing,
    };
    let all_views = views(stored, true);
    assert_eq!(all_views.len(), all().len());
    let by = |k: &str| all_views.iter().find(|v| v.def.key == k).expect("view");
    assert_eq!(by("mail.password").value, crate::MASK);
    assert_eq!(by("webhook.secret").value, crate::MASK);
    assert!(by("url").is_set && !by("mail.port").is_set);
    let user_views = views(stored, false);
    assert!(user_views.iter().all(|v| v.def.read == Access::AnyUser));
    assert!(user_views.iter().any(|v| v.def.key == "url"));
}
