//! Administration: the server's SSH key and pinned host keys (instance settings are in
//! `settings.rs`).

use crate::errors::ApiResult;
use crate::{caller, svc};
use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};

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

#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// The server's public SSH key, for the backup user's `authorized_keys` on every client and
    /// repository host; null until generated or imported.
    async fn ssh_public_key(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        let c = caller(ctx).await?;
        Ok(svc(ctx).ssh_public_key(&c).await?)
    }

    /// SSH host keys pinned on first connection, with any changed key awaiting acceptance
    /// (superuser).
    async fn host_keys(&self, ctx: &Context<'_>) -> ApiResult<Vec<HostKey>> {
        let c = caller(ctx).await?;
        Ok(svc(ctx)
            .host_keys(&c)
            .await?
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
        let c = caller(ctx).await?;
        Ok(svc(ctx).generate_ssh_key(&c, true).await?)
    }

    /// Imports an existing OpenSSH private key (with its passphrase, if it has one).
    async fn import_ssh_key(
        &self,
        ctx: &Context<'_>,
        private_key: String,
        passphrase: Option<String>,
    ) -> ApiResult<String> {
        let c = caller(ctx).await?;
        Ok(svc(ctx).import_ssh_key(&c, private_key, passphrase).await?)
    }

    /// Accepts the changed host key a host presented (after checking it out of band).
    async fn accept_host_key(
        &self,
        ctx: &Context<'_>,
        host: String,
        port: i32,
    ) -> ApiResult<HostKey> {
        let c = caller(ctx).await?;
        Ok(svc(ctx).accept_host_key(&c, host, port).await?.into())
    }
}
