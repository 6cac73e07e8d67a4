//! Administration: the server's SSH key and pinned host keys (instance settings are in
//! `settings.rs`).

use crate::errors::{ApiError, ApiResult};
use crate::{admin, services, user};
use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use executor::ssh;

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
}
