//! The settings table through the registry on a real SQLite file: typed reads with defaults,
//! changes stored together, resets, sealed secrets, and internal state kept apart.

use model::settings::{self, check, check_all, MailSecurity};
use store::{Store, StoreError};

fn store() -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().expect("tempdir");
    let s = store::testing::open(d.path());
    (d, s)
}

#[test]
fn typed_reads_fall_back_to_defaults_and_changes_apply_together() {
    let (_d, s) = store();
    assert_eq!(s.get(&settings::MAIL_PORT).expect("get"), 0);
    assert_eq!(s.get(&settings::BACKUP_USER).expect("get"), "root");
    assert!(s.get(&settings::INSTALL_BORG).expect("get"));
    let changes = check_all([("mail.port", "2525"), ("mail.security", "tls")]).expect("valid");
    s.apply_settings(&changes).expect("stored");
    assert_eq!(s.get(&settings::MAIL_PORT).expect("get"), 2525);
    assert_eq!(
        s.get(&settings::MAIL_SECURITY).expect("get"),
        MailSecurity::Tls
    );
    // An empty value resets to the default.
    s.apply_settings(&[check("mail.port", "").expect("reset")])
        .expect("reset");
    assert_eq!(s.get(&settings::MAIL_PORT).expect("get"), 0);
    let v = s.setting_view(settings::MAIL_PORT.def()).expect("view");
    assert!(!v.is_set && v.value.is_empty());
}

#[test]
fn secrets_are_sealed_masked_and_kept_by_the_mask() {
    let d = tempfile::tempdir().expect("tempdir");
    let options = store::testing::options(d.path());
    let s = Store::open_with(&options).expect("store");
    s.apply_settings(&[check("webhook.secret", "hook secret 42").expect("valid")])
        .expect("stored");
    let v = s
        .setting_view(settings::WEBHOOK_SECRET.def())
        .expect("view");
    assert_eq!(v.value, model::MASK);
    s.apply_settings(&[check("webhook.secret", model::MASK).expect("keep")])
        .expect("kept");
    assert_eq!(
        s.get_secret(&settings::WEBHOOK_SECRET)
            .expect("get")
            .expect("set")
            .expose(),
        "hook secret 42"
    );
    drop(s);
    for f in ["cyborgbackup.db", "cyborgbackup.db-wal"] {
        if let Ok(bytes) = std::fs::read(d.path().join(f)) {
            let needle = b"hook secret 42";
            assert!(!bytes.windows(needle.len()).any(|w| w == needle), "{f}");
        }
    }
    let s = Store::open_with(&options).expect("reopen");
    s.apply_settings(&[check("webhook.secret", "").expect("clear")])
        .expect("cleared");
    assert!(s
        .get_secret(&settings::WEBHOOK_SECRET)
        .expect("get")
        .is_none());
}

#[test]
fn internal_state_cannot_shadow_a_setting() {
    let (_d, s) = store();
    s.set_state("integrity_check.last_run", "2024-01-01T00:00:00Z")
        .expect("state");
    assert_eq!(
        s.state("integrity_check.last_run")
            .expect("read")
            .as_deref(),
        Some("2024-01-01T00:00:00Z")
    );
    assert!(matches!(
        s.set_state("mail.port", "1"),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.set_secret_state("mail.password", &model::Secret::new("x")),
        Err(StoreError::Conflict(_))
    ));
    // State never shows up among the settings.
    let views = s.setting_views(true).expect("views");
    assert!(views
        .iter()
        .all(|v| v.def.key != "integrity_check.last_run"));
    assert_eq!(views.len(), settings::all().len());
    assert!(s
        .setting_views(false)
        .expect("views")
        .iter()
        .all(|v| v.def.read == settings::Access::AnyUser));
}
