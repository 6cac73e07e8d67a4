//! Administration: the server's SSH key, pinned host keys, and instance settings. Secrets are
//! write-only: settings that hold them read back masked.

use crate::errors::{ApiError, ApiResult};
use crate::{admin, services, user};
use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use executor::ssh;

/// Settings an administrator may change, with their validation.
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

#[derive(SimpleObject)]
pub struct Setting {
    pub key: String,
    pub value: String,
    pub is_secret: bool,
    pub description: String,
}

#[derive(SimpleObject)]
pub struct HostKey {
    pub host: String,
    pub port: i32,
    pub key_type: String,
    pub fingerprint: String,
    pub first_seen: DateTime<Utc>,
    pub accepted_by: Option<String>,
    /// A different key the host presented, refused until accepted.
    pub pending_fingerprint: Option<String>,
}

impl From<store::HostKey> for HostKey {
    fn from(k: store::HostKey) -> Self {
        HostKey {
            host: k.host,
            port: i32::from(k.port),
            key_type: k.key_type,
            fingerprint: k.fingerprint,
            first_seen: k.first_seen,
            accepted_by: k.accepted_by,
            pending_fingerprint: k.pending.map(|p| p.fingerprint),
        }
    }
}

fn key_error(e: ssh::KeyError) -> ApiError {
    match e {
        ssh::KeyError::Invalid(m) => ApiError::field("privateKey", m),
        ssh::KeyError::Passphrase | ssh::KeyError::NeedsPassphrase => {
            ApiError::field("passphrase", e.to_string())
        }
        other => ApiError::Internal(other.to_string()),
    }
}

fn check_port(port: i32) -> ApiResult<u16> {
    Ok(u16::try_from(port)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| ApiError::field("port", "must be between 1 and 65535"))?)
}

#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// The server's public SSH key, for the backup user's `authorized_keys` on every client and
    /// repository host; null until generated or imported.
    async fn ssh_public_key(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        user(ctx)?;
        ssh::server_public_key(&services(ctx).store).map_err(|e| key_error(e).into())
    }

    /// SSH host keys pinned on first connection, with any changed key awaiting acceptance.
    async fn host_keys(&self, ctx: &Context<'_>) -> ApiResult<Vec<HostKey>> {
        user(ctx)?;
        Ok(services(ctx)
            .store
            .host_keys()?
            .into_iter()
            .map(HostKey::from)
            .collect())
    }

    /// Instance settings (secrets masked).
    async fn settings(&self, ctx: &Context<'_>) -> ApiResult<Vec<Setting>> {
        admin(ctx)?;
        let stored = services(ctx).store.settings()?;
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
}

#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Generates a new ed25519 key pair for the server (replacing any previous one) and returns
    /// its public key. The private key is stored encrypted, protected by a random passphrase.
    async fn generate_ssh_key(&self, ctx: &Context<'_>) -> ApiResult<String> {
        admin(ctx)?;
        ssh::generate_server_key(&services(ctx).store, "cyborgbackup")
            .map_err(|e| key_error(e).into())
    }

    /// Imports an existing OpenSSH private key (with its passphrase, if it has one).
    async fn import_ssh_key(
        &self,
        ctx: &Context<'_>,
        private_key: String,
        passphrase: Option<String>,
    ) -> ApiResult<String> {
        admin(ctx)?;
        if private_key.len() > 64 * 1024 {
            return Err(ApiError::field("privateKey", "must be at most 64 KiB").into());
        }
        let pass = passphrase.filter(|p| !p.is_empty()).map(model::Secret::new);
        ssh::import_server_key(&services(ctx).store, &private_key, pass.as_ref())
            .map_err(|e| key_error(e).into())
    }

    /// Accepts the changed host key a host presented (after checking it out of band).
    async fn accept_host_key(
        &self,
        ctx: &Context<'_>,
        host: String,
        port: i32,
    ) -> ApiResult<HostKey> {
        let u = admin(ctx)?;
        let port = check_port(port)?;
        Ok(services(ctx)
            .store
            .accept_host_key(&host, port, &u.email)?
            .into())
    }

    /// Changes one instance setting.
    async fn update_setting(
        &self,
        ctx: &Context<'_>,
        key: String,
        value: String,
    ) -> ApiResult<Setting> {
        admin(ctx)?;
        let Some((k, d)) = SETTINGS.iter().find(|(k, _)| *k == key) else {
            let known: Vec<&str> = SETTINGS.iter().map(|(k, _)| *k).collect();
            return Err(ApiError::field(
                "key",
                format!(
                    "unknown setting {key:?}: expected one of {}",
                    known.join(", ")
                ),
            )
            .into());
        };
        if matches!(*k, "integrity_check" | "install_borg")
            && !matches!(value.as_str(), "true" | "false")
        {
            return Err(ApiError::field("value", format!("{k} must be true or false")).into());
        }
        if *k == "auto_restore_test" && !matches!(value.as_str(), "true" | "false") {
            return Err(ApiError::field("value", "auto_restore_test must be true or false").into());
        }
        if *k == "restore_test_cron" {
            if let Err(e) = model::CronExpr::parse(&value) {
                return Err(ApiError::field("value", format!("restore_test_cron: {e}")).into());
            }
        }
        if *k == "ic_cron" {
            if let Err(e) = model::CronExpr::parse(&value) {
                return Err(ApiError::field("value", format!("ic_cron: {e}")).into());
            }
        }
        if *k == "backup_user" {
            // It reaches `ssh user@host` and `sudo`: never read as an option.
            if let Some(why) = model::validate::user_name_problem(&value) {
                return Err(
                    ApiError::field("value", format!("backup_user {value:?} {why}")).into(),
                );
            }
        }
        if value.len() > 4096 || value.chars().any(char::is_control) {
            return Err(ApiError::field(
                "value",
                "must be at most 4096 characters without control characters",
            )
            .into());
        }
        services(ctx).store.set_setting(k, &value)?;
        Ok(Setting {
            key: k.to_string(),
            value,
            is_secret: false,
            description: d.to_string(),
        })
    }
}
