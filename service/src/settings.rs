//! Instance settings (superuser): the keys an administrator may change, their descriptions and
//! validation, moved here from the GraphQL resolvers so that GraphQL and REST share them. The
//! typed settings registry replaces this list.

use crate::{authorize, Action, Caller, Result, Service, ServiceError, Target};

/// Settings an administrator may change, with their description.
const SETTINGS: &[(&str, &str)] = &[
    (
        "backup_user",
        "user the server logs in as on clients (root, or a user with sudo)",
    ),
    (
        "url",
        "the URL clients and browsers use to reach this server",
    ),
    (
        "install_borg",
        "true (default) to let client preparation install borgbackup when it is missing",
    ),
    (
        "integrity_check",
        "true to run borg check of every repository on the ic_cron schedule",
    ),
    (
        "ic_cron",
        "when integrity checks run (cron, default Sundays at 04:00)",
    ),
    (
        "auto_restore_test",
        "true to run a restore drill of every series on the restore_test_cron schedule",
    ),
    (
        "restore_test_cron",
        "when restore drills run (cron, default Sundays at 04:00); a policy may set its own in extra_vars.restore_test_cron",
    ),
];

/// A setting as shown (secrets masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    pub value: String,
    pub is_secret: bool,
    pub description: String,
}

fn validate(key: &str, value: &str) -> Result<()> {
    let bad = |reason: String| Err(ServiceError::field("value", reason));
    if matches!(
        key,
        "integrity_check" | "install_borg" | "auto_restore_test"
    ) && !matches!(value, "true" | "false")
    {
        return bad(format!("{key} must be true or false"));
    }
    if matches!(key, "restore_test_cron" | "ic_cron") {
        if let Err(e) = model::CronExpr::parse(value) {
            return bad(format!("{key}: {e}"));
        }
    }
    if key == "backup_user" {
        // It reaches `ssh user@host` and `sudo`: never read as an option.
        if let Some(why) = model::validate::user_name_problem(value) {
            return bad(format!("backup_user {value:?} {why}"));
        }
        if value.len() > 32 {
            return bad("backup_user must be at most 32 characters".into());
        }
    }
    if value.len() > 4096 || value.chars().any(char::is_control) {
        return bad("must be at most 4096 characters without control characters".into());
    }
    Ok(())
}

impl Service {
    /// Every instance setting (superuser).
    pub async fn settings(&self, caller: &Caller) -> Result<Vec<Setting>> {
        authorize(caller, Action::Administer, Target::Global)?;
        let stored = self.run(|i| Ok(i.store.settings()?)).await?;
        Ok(SETTINGS
            .iter()
            .map(|(k, d)| {
                let v = stored.iter().find(|s| s.key == *k);
                Setting {
                    key: k.to_string(),
                    value: v.map(|s| s.value.clone()).unwrap_or_default(),
                    is_secret: v.is_some_and(|s| s.is_secret),
                    description: d.to_string(),
                }
            })
            .collect())
    }

    /// Changes one instance setting (superuser); unknown keys and bad values are refused.
    pub async fn update_setting(
        &self,
        caller: &Caller,
        key: &str,
        value: String,
    ) -> Result<Setting> {
        authorize(caller, Action::Administer, Target::Global)?;
        let Some((k, d)) = SETTINGS.iter().find(|(k, _)| *k == key) else {
            let known: Vec<&str> = SETTINGS.iter().map(|(k, _)| *k).collect();
            return Err(ServiceError::field(
                "key",
                format!(
                    "unknown setting {key:?}: expected one of {}",
                    known.join(", ")
                ),
            ));
        };
        validate(k, &value)?;
        let stored = value.clone();
        self.run(move |i| Ok(i.store.set_setting(k, &stored)?))
            .await?;
        tracing::info!(key = %k, by = ?caller.user_id(), "setting changed");
        Ok(Setting {
            key: k.to_string(),
            value,
            is_secret: false,
            description: d.to_string(),
        })
    }
}
