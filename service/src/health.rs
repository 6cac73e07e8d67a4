//! Fleet health and host setup: every series the caller's grants reach with its state against
//! its schedule, why a policy cannot run, the `authorized_keys` line a client needs, and
//! step-by-step connection tests (superuser).

use crate::{authorize, Action, Caller, Result, Service, ServiceError, Target};
use chrono::Utc;
use model::{ClientId, PolicyId, RepositoryId, SeriesAge};

pub use executor::{ConnectionTest, Readiness};
pub use report::health::{FleetHealth, RepositoryState, SeriesHealth};

/// Which series of the fleet to list (the counters always cover every series the caller sees).
#[derive(Debug, Clone, Default)]
pub struct FleetFilter {
    /// `ok`, `late`, `overdue`, `never`, `disabled`, or `failing` (the last backup failed).
    pub state: Option<String>,
    pub policy: Option<PolicyId>,
    pub client: Option<ClientId>,
}

/// What to install on a client so that the server can log in.
#[derive(Debug, Clone)]
pub struct ClientSetup {
    pub client: ClientId,
    pub hostname: String,
    /// The client is this server: no key to install.
    pub local: bool,
    /// The user the server logs in as (setting `backup_user`).
    pub user: String,
    /// The line for that user's `~/.ssh/authorized_keys` (none until the server has a key).
    pub authorized_keys_line: Option<String>,
    /// A shell command that appends the line, run on the client as that user.
    pub install_command: Option<String>,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn is_local(hostname: &str) -> bool {
    matches!(hostname, "localhost" | "127.0.0.1" | "::1")
}

impl Service {
    /// The series the caller's grants reach, with their states and counters.
    pub async fn fleet_health(&self, caller: &Caller, filter: FleetFilter) -> Result<FleetHealth> {
        authorize(caller, Action::View, Target::Global)?;
        let failing = filter.state.as_deref() == Some("failing");
        let want = match filter.state.as_deref() {
            None | Some("") | Some("failing") => None,
            Some(s) => Some(
                s.parse::<SeriesAge>()
                    .map_err(|e| ServiceError::field("state", e))?,
            ),
        };
        let scope = caller.scope();
        let mut h = self
            .run(move |i| {
                Ok(report::health::scoped_fleet_health(
                    &i.store,
                    Utc::now(),
                    scope.as_deref(),
                )?)
            })
            .await?;
        h.series.retain(|s| {
            want.is_none_or(|w| s.state == w)
                && (!failing || (s.last_failed && s.state != SeriesAge::Disabled))
                && filter.policy.is_none_or(|p| s.row.policy == p)
                && filter.client.is_none_or(|c| s.row.client == c)
        });
        Ok(h)
    }

    /// Why a policy cannot run (errors) and what happens before it runs (warnings); every
    /// policy the caller sees when `policy` is `None`.
    pub async fn policy_readiness(
        &self,
        caller: &Caller,
        policy: Option<PolicyId>,
    ) -> Result<Vec<Readiness>> {
        match policy {
            Some(p) => authorize(caller, Action::View, Target::Policy(p))?,
            None => authorize(caller, Action::View, Target::Global)?,
        }
        let scope = caller.scope();
        self.run(move |i| {
            let ids: Vec<PolicyId> = match policy {
                Some(p) => vec![p],
                None => i
                    .store
                    .policies()?
                    .into_iter()
                    .map(|p| p.id)
                    .filter(|p| scope.as_ref().is_none_or(|v| v.policies.contains(p)))
                    .collect(),
            };
            ids.into_iter()
                .map(|id| Ok(i.executor.policy_readiness(id)?))
                .collect()
        })
        .await
    }

    /// The `authorized_keys` line to install on a client for the server's key.
    pub async fn client_setup(&self, caller: &Caller, id: ClientId) -> Result<ClientSetup> {
        authorize(caller, Action::View, Target::Client(id))?;
        self.run(move |i| {
            let c = i.store.client(id)?;
            let local = is_local(&c.hostname);
            let user = i.store.get(&model::settings::BACKUP_USER)?;
            let key = executor::ssh::server_public_key(&i.store)?
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty() && !local);
            let install_command = key.as_ref().map(|k| {
                format!(
                    "umask 077; mkdir -p ~/.ssh && grep -qxF {q} ~/.ssh/authorized_keys 2>/dev/null || echo {q} >> ~/.ssh/authorized_keys",
                    q = quote(k)
                )
            });
            Ok(ClientSetup {
                client: c.id,
                hostname: c.hostname,
                local,
                user,
                authorized_keys_line: key,
                install_command,
            })
        })
        .await
    }

    /// Tests the connection to a client step by step (reachable, host key — pinned on first
    /// use —, login, borg version, sudo for a user other than root). Superuser only.
    pub async fn test_client_connection(
        &self,
        caller: &Caller,
        id: ClientId,
    ) -> Result<ConnectionTest> {
        authorize(caller, Action::Administer, Target::Client(id))?;
        Ok(self.inner.executor.test_client_connection(id).await?)
    }

    /// Tests the connection to a repository's host (or the local directory). Superuser only.
    pub async fn test_repository_connection(
        &self,
        caller: &Caller,
        id: RepositoryId,
    ) -> Result<ConnectionTest> {
        authorize(caller, Action::Administer, Target::Repository(id))?;
        Ok(self.inner.executor.test_repository_connection(id).await?)
    }
}
