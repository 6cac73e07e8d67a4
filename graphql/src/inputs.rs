//! GraphQL input types and their conversion to the model's input structs.

use async_graphql::{InputObject, MaybeUndefined};

#[derive(InputObject, Default)]
pub struct ClientInput {
    pub hostname: Option<String>,
    pub port: Option<i64>,
    pub ip: Option<String>,
    pub version: Option<String>,
    pub ready: Option<bool>,
    pub hypervisor_ready: Option<bool>,
    pub hypervisor_name: Option<String>,
    pub enabled: Option<bool>,
}

impl From<ClientInput> for model::ClientInput {
    fn from(i: ClientInput) -> Self {
        model::ClientInput {
            hostname: i.hostname,
            port: i.port,
            ip: i.ip,
            version: i.version,
            ready: i.ready,
            hypervisor_ready: i.hypervisor_ready,
            hypervisor_name: i.hypervisor_name,
            enabled: i.enabled,
        }
    }
}

#[derive(InputObject, Default)]
pub struct RepositoryInput {
    pub name: Option<String>,
    pub path: Option<String>,
    /// The borg passphrase; write-only.
    pub repository_key: Option<String>,
    pub ready: Option<bool>,
    pub enabled: Option<bool>,
    /// Integrity check schedule (cron); empty clears it.
    pub check_cron: Option<String>,
}

impl From<RepositoryInput> for model::RepositoryInput {
    fn from(i: RepositoryInput) -> Self {
        model::RepositoryInput {
            name: i.name,
            path: i.path,
            repository_key: i.repository_key,
            ready: i.ready,
            enabled: i.enabled,
            check_cron: i.check_cron,
        }
    }
}

#[derive(InputObject, Default)]
pub struct ScheduleInput {
    pub name: Option<String>,
    /// 5-field cron (`m h dom mon dow`) or the original's 6-field form ending with the year.
    pub crontab: Option<String>,
    pub enabled: Option<bool>,
}

impl From<ScheduleInput> for model::ScheduleInput {
    fn from(i: ScheduleInput) -> Self {
        model::ScheduleInput {
            name: i.name,
            crontab: i.crontab,
            enabled: i.enabled,
        }
    }
}

#[derive(InputObject, Default)]
pub struct PolicyInput {
    pub name: Option<String>,
    pub policy_type: Option<String>,
    /// JSON object text, e.g. `{"folders": ["/srv"]}`.
    pub extra_vars: Option<String>,
    pub clients: Option<Vec<i64>>,
    /// The primary repository.
    pub repository: Option<i64>,
    /// Copy repositories, in order: each run also backs every client up into each (3-2-1).
    /// Replaces the list (a copy kept in it keeps its settings); `[]` clears it.
    pub copies: Option<Vec<i64>>,
    /// Copy repositories with their settings, in order; replaces `copies` when both are given.
    pub copy_settings: Option<Vec<crate::copies::CopyInput>>,
    /// Recovery-point objective in hours (1 to 8760); null clears it.
    pub rpo_hours: MaybeUndefined<i64>,
    pub schedule: Option<i64>,
    pub keep_hourly: MaybeUndefined<i64>,
    pub keep_daily: MaybeUndefined<i64>,
    pub keep_weekly: MaybeUndefined<i64>,
    pub keep_monthly: MaybeUndefined<i64>,
    pub keep_yearly: MaybeUndefined<i64>,
    pub vmprovider: Option<String>,
    pub mode_pull: Option<bool>,
    pub enabled: Option<bool>,
    pub prehook: Option<String>,
    pub posthook: Option<String>,
}

fn tri(v: MaybeUndefined<i64>) -> Option<Option<i64>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(n) => Some(Some(n)),
    }
}

impl From<PolicyInput> for model::PolicyInput {
    fn from(i: PolicyInput) -> Self {
        model::PolicyInput {
            name: i.name,
            policy_type: i.policy_type,
            extra_vars: i.extra_vars,
            clients: i.clients,
            repository: i.repository,
            copies: match i.copy_settings {
                Some(list) => Some(list.into_iter().map(Into::into).collect()),
                None => i
                    .copies
                    .map(|l| l.into_iter().map(model::CopyInput::id).collect()),
            },
            rpo_hours: tri(i.rpo_hours),
            schedule: i.schedule,
            keep_hourly: tri(i.keep_hourly),
            keep_daily: tri(i.keep_daily),
            keep_weekly: tri(i.keep_weekly),
            keep_monthly: tri(i.keep_monthly),
            keep_yearly: tri(i.keep_yearly),
            vmprovider: i.vmprovider,
            mode_pull: i.mode_pull,
            enabled: i.enabled,
            prehook: i.prehook,
            posthook: i.posthook,
        }
    }
}

#[derive(InputObject)]
pub struct UserInput {
    pub email: String,
    pub password: String,
    #[graphql(default)]
    pub first_name: String,
    #[graphql(default)]
    pub last_name: String,
    /// Deprecated by `role`; when both are sent they must agree.
    pub is_superuser: Option<bool>,
    /// Viewer unless said (superuser when `isSuperuser` is true).
    pub role: Option<crate::users::Role>,
    pub grants: Option<Vec<crate::users::GrantInput>>,
}

/// Changes to a user; absent fields stay as they are.
#[derive(InputObject, Default)]
pub struct UserPatch {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub is_superuser: Option<bool>,
    pub role: Option<crate::users::Role>,
    /// Replaces every grant of the user.
    pub grants: Option<Vec<crate::users::GrantInput>>,
}
