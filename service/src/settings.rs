//! Instance settings from the typed registry (`model::settings`): reading what the caller may
//! read (secrets masked) and changing settings (superuser), checked by the registry and stored
//! all or none.

use crate::{authorize, Action, Caller, Result, Service, ServiceError, Target};
use model::settings::{self as reg, SettingError, View};
use model::ValidationErrors;

/// A setting as shown: its declaration and its value (a mask for a set secret).
pub type Setting = View;

const NOTIFICATION_GROUPS: [reg::Group; 4] = [
    reg::Group::Mail,
    reg::Group::Webhooks,
    reg::Group::Reports,
    reg::Group::Metrics,
];

/// A refusal of a single change: an unknown key names the `key` argument, a bad value the
/// `value` argument (the reason starts with the setting's key).
fn single_error(e: SettingError) -> ServiceError {
    match e {
        SettingError::Unknown { .. } => ServiceError::field("key", e.to_string()),
        SettingError::Invalid { .. } => ServiceError::field("value", e.to_string()),
    }
}

impl Service {
    /// The settings the caller may read (superusers: all), in form order, optionally of one
    /// group.
    pub async fn settings(&self, caller: &Caller, group: Option<String>) -> Result<Vec<Setting>> {
        authorize(caller, Action::Authenticated, Target::Global)?;
        if let Some(g) = &group {
            if !reg::Group::ALL.iter().any(|x| x.as_str() == g) {
                let all: Vec<&str> = reg::Group::ALL.iter().map(|x| x.as_str()).collect();
                return Err(ServiceError::field(
                    "group",
                    format!("{g:?} is not one of {}", all.join(", ")),
                ));
            }
        }
        let superuser = caller.is_superuser();
        let views = self
            .run(move |i| Ok(i.store.setting_views(superuser)?))
            .await?;
        Ok(views
            .into_iter()
            .filter(|v| group.as_deref().is_none_or(|g| v.def.group.as_str() == g))
            .collect())
    }

    /// Every setting (superuser): the administration views of REST v1.
    pub async fn all_settings(&self, caller: &Caller) -> Result<Vec<Setting>> {
        authorize(caller, Action::Administer, Target::Global)?;
        self.run(|i| Ok(i.store.setting_views(true)?)).await
    }

    /// Mail, webhook, report and metrics settings (superuser; earlier versions' query).
    pub async fn notification_settings(&self, caller: &Caller) -> Result<Vec<Setting>> {
        Ok(self
            .all_settings(caller)
            .await?
            .into_iter()
            .filter(|v| NOTIFICATION_GROUPS.contains(&v.def.group))
            .collect())
    }

    /// Changes one setting (superuser). An empty value resets it to its default; an unknown
    /// key is refused on `key`, a bad value on `value`, and nothing is stored.
    pub async fn update_setting(&self, caller: &Caller, key: &str, value: &str) -> Result<Setting> {
        authorize(caller, Action::Administer, Target::Global)?;
        let change = reg::check(key, value).map_err(single_error)?;
        let by = caller.user_id();
        self.run(move |i| {
            i.store.apply_settings(std::slice::from_ref(&change))?;
            tracing::info!(user = ?by, key = change.def().key, "setting changed");
            Ok(i.store.setting_view(change.def())?)
        })
        .await
    }

    /// Changes several settings at once, all or none (superuser). Every refused change is a
    /// field error named by its key (also an unknown key).
    pub async fn update_settings(
        &self,
        caller: &Caller,
        input: Vec<(String, String)>,
    ) -> Result<Vec<Setting>> {
        authorize(caller, Action::Administer, Target::Global)?;
        if input.len() > reg::all().len() {
            return Err(ServiceError::field(
                "input",
                format!("at most {} settings at once", reg::all().len()),
            ));
        }
        let changes = reg::check_all(input.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map_err(
            |errs| {
                let mut v = ValidationErrors::new();
                for e in errs {
                    match &e {
                        SettingError::Unknown { key } => v.add(key, "unknown setting"),
                        SettingError::Invalid { key, reason } => v.add(key, reason.clone()),
                    }
                }
                ServiceError::Validation(v)
            },
        )?;
        let by = caller.user_id();
        self.run(move |i| {
            i.store.apply_settings(&changes)?;
            let mut out = Vec::new();
            for c in &changes {
                tracing::info!(user = ?by, key = c.def().key, "setting changed");
                out.push(i.store.setting_view(c.def())?);
            }
            Ok(out)
        })
        .await
    }
}
