//! Store-level tests on a real SQLite file: CRUD, validation, the enabled cascade, secrets.

use model::*;
use store::{Store, StoreError};

fn store() -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let s = store::testing::open(d.path());
    (d, s)
}

fn setup(s: &Store) -> (Client, Repository, Schedule, Policy) {
    let c = s
        .create_client(
            &ClientInput {
                hostname: Some("web1.example.com".into()),
                ..Default::default()
            },
            None,
        )
        .unwrap();
    let r = s
        .create_repository(
            &RepositoryInput {
                name: Some("main".into()),
                path: Some("/srv/borg".into()),
                repository_key: Some("hunter2-passphrase".into()),
                ..Default::default()
            },
            None,
        )
        .unwrap();
    let sc = s
        .create_schedule(
            &ScheduleInput {
                name: Some("nightly".into()),
                crontab: Some("0 5 * * MON *".into()),
                enabled: None,
            },
            None,
        )
        .unwrap();
    let p = s
        .create_policy(
            &PolicyInput {
                name: Some("etc".into()),
                policy_type: Some("config".into()),
                repository: Some(r.id.0),
                schedule: Some(sc.id.0),
                clients: Some(vec![c.id.0]),
                keep_daily: Some(Some(7)),
                ..Default::default()
            },
            None,
        )
        .unwrap();
    (c, r, sc, p)
}

#[test]
fn crud_round_trip_and_next_run() {
    let (_d, s) = store();
    let (c, r, _sc, p) = setup(&s);
    assert_eq!(p.clients, vec![c.id]);
    assert_eq!(p.retention.keep_daily, Some(7));
    assert!(p.next_run.is_some());
    assert!(r.has_key);
    let p2 = s
        .update_policy(
            p.id,
            &PolicyInput {
                keep_daily: Some(None),
                keep_yearly: Some(Some(3)),
                ..Default::default()
            },
            None,
        )
        .unwrap();
    assert_eq!(p2.retention.keep_daily, None);
    assert_eq!(p2.retention.keep_yearly, Some(3));
    assert_eq!(p2.name, "etc");
}

#[test]
fn secrets_are_not_plain_text_on_disk() {
    let d = tempfile::tempdir().unwrap();
    let options = store::testing::options(d.path());
    let s = Store::open_with(&options).unwrap();
    let (_c, r, _sc, _p) = setup(&s);
    let pw = model::settings::check("mail.password", "mail-pass-123").unwrap();
    s.apply_settings(&[pw]).unwrap();
    assert_eq!(
        s.repository_passphrase(r.id).unwrap().unwrap().expose(),
        "hunter2-passphrase"
    );
    drop(s);
    for f in ["cyborgbackup.db", "cyborgbackup.db-wal"] {
        if let Ok(bytes) = std::fs::read(d.path().join(f)) {
            for secret in [&b"hunter2-passphrase"[..], b"mail-pass-123"] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret),
                    "secret in {f}"
                );
            }
        }
    }
    let s = Store::open_with(&options).unwrap();
    let views = s.setting_views(true).unwrap();
    let pw = views.iter().find(|v| v.def.key == "mail.password").unwrap();
    assert_eq!(pw.value, MASK);
    assert_eq!(
        s.get_secret(&model::settings::MAIL_PASSWORD)
            .unwrap()
            .unwrap()
            .expose(),
        "mail-pass-123"
    );
    // Updating with the mask keeps the stored passphrase.
    s.update_repository(
        r.id,
        &RepositoryInput {
            repository_key: Some(MASK.into()),
            ..Default::default()
        },
        None,
    )
    .unwrap();
    assert_eq!(
        s.repository_passphrase(r.id).unwrap().unwrap().expose(),
        "hunter2-passphrase"
    );
}

#[test]
fn enabled_cascades_to_policies() {
    let (_d, s) = store();
    let (c, r, sc, p) = setup(&s);
    assert!(s.policy_blockers(&p).unwrap().is_empty());
    s.update_schedule(
        sc.id,
        &ScheduleInput {
            enabled: Some(false),
            ..Default::default()
        },
        None,
    )
    .unwrap();
    assert!(s.policy_blockers(&p).unwrap()[0].contains("schedule"));
    s.update_schedule(
        sc.id,
        &ScheduleInput {
            enabled: Some(true),
            ..Default::default()
        },
        None,
    )
    .unwrap();
    s.update_repository(
        r.id,
        &RepositoryInput {
            enabled: Some(false),
            ..Default::default()
        },
        None,
    )
    .unwrap();
    assert!(s.policy_blockers(&p).unwrap()[0].contains("repository"));
    s.update_repository(
        r.id,
        &RepositoryInput {
            enabled: Some(true),
            ..Default::default()
        },
        None,
    )
    .unwrap();
    s.update_client(
        c.id,
        &ClientInput {
            enabled: Some(false),
            ..Default::default()
        },
        None,
    )
    .unwrap();
    assert!(s.policy_blockers(&p).unwrap()[0].contains("client"));
}

#[test]
fn invalid_input_changes_nothing() {
    let (_d, s) = store();
    let (c, r, sc, p) = setup(&s);
    let e = s.create_client(
        &ClientInput {
            hostname: Some("bad; touch /tmp/pwned".into()),
            ..Default::default()
        },
        None,
    );
    assert!(matches!(e, Err(StoreError::Validation(v)) if v.0[0].field == "hostname"));
    let e = s.create_client(
        &ClientInput {
            hostname: Some("web1.example.com".into()),
            ..Default::default()
        },
        None,
    );
    assert!(
        matches!(e, Err(StoreError::Validation(v)) if v.0[0].field == "hostname" && v.0[0].reason.contains("already"))
    );
    let e = s.update_schedule(
        sc.id,
        &ScheduleInput {
            crontab: Some("61 * * * *".into()),
            ..Default::default()
        },
        None,
    );
    assert!(matches!(e, Err(StoreError::Validation(v)) if v.0[0].field == "crontab"));
    assert_eq!(s.schedule(sc.id).unwrap().crontab, "0 5 * * MON *");
    let e = s.update_policy(
        p.id,
        &PolicyInput {
            policy_type: Some("folders".into()),
            ..Default::default()
        },
        None,
    );
    assert!(matches!(e, Err(StoreError::Validation(v)) if v.0[0].field == "extra_vars.folders"));
    let e = s.update_policy(
        p.id,
        &PolicyInput {
            repository: Some(999),
            ..Default::default()
        },
        None,
    );
    assert!(matches!(e, Err(StoreError::Validation(v)) if v.0[0].field == "repository"));
    assert!(matches!(
        s.delete_repository(r.id),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.delete_schedule(sc.id),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.policy(p.id).unwrap().policy_type, PolicyType::Config);
    assert_eq!(s.client(c.id).unwrap().hostname, "web1.example.com");
}

#[test]
fn due_policies_are_taken_once() {
    let (_d, s) = store();
    let (_c, _r, _sc, p) = setup(&s);
    let due_at = p.next_run.unwrap();
    assert!(s
        .take_due_policies(due_at - chrono::Duration::seconds(1))
        .unwrap()
        .is_empty());
    assert_eq!(s.take_due_policies(due_at).unwrap().len(), 1);
    assert!(s.take_due_policies(due_at).unwrap().is_empty());
    assert!(s.policy(p.id).unwrap().next_run.unwrap() > due_at);
}
