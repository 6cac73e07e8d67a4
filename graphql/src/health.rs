//! Fleet health and host setup in GraphQL: `fleetHealth` (every series with its state against
//! its schedule, and the counters), `policyReadiness` (why a policy cannot run, before its
//! schedule fires), `clientSetup` (the exact `authorized_keys` line to install), and the
//! `testClientConnection` / `testRepositoryConnection` mutations (each step's result).

use crate::errors::GqlError;
use crate::{caller, svc};
use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use model::{ClientId, PolicyId, RepositoryId};
use service::health::FleetFilter;

/// One series (policy × client) and where it stands.
#[derive(SimpleObject, Clone)]
pub struct SeriesHealth {
    pub policy_id: i64,
    pub policy_name: String,
    pub client_id: i64,
    pub hostname: String,
    pub repository_id: i64,
    pub repository_name: String,
    pub crontab: String,
    /// `ok`, `late` (last success older than 1.5 schedule intervals), `overdue` (older than
    /// 2), `never` (no success and the first run is past), `disabled`.
    pub state: String,
    pub last_success: Option<DateTime<Utc>>,
    pub last_success_job_id: Option<i64>,
    /// Seconds since the last success.
    pub age_seconds: Option<i64>,
    /// The schedule's interval now, in seconds.
    pub interval_seconds: Option<i64>,
    pub next_run: Option<DateTime<Utc>>,
    /// The last finished backup (any outcome).
    pub last_job_id: Option<i64>,
    pub last_status: Option<String>,
    pub last_explanation: String,
    /// The last backup failed, errored, or was canceled because its dependency failed.
    pub last_failed: bool,
    /// `passed`, `failed`, or none when never drilled.
    pub drill_verdict: Option<String>,
    pub drill_time: Option<DateTime<Utc>>,
    /// `ok`, `nearly_full` (90% of its capacity used) or `tampered` (archives vanished without
    /// a prune by this server).
    pub repository_state: String,
}

impl From<service::health::SeriesHealth> for SeriesHealth {
    fn from(s: service::health::SeriesHealth) -> Self {
        let r = s.row;
        SeriesHealth {
            policy_id: r.policy.0,
            policy_name: r.policy_name,
            client_id: r.client.0,
            hostname: r.hostname,
            repository_id: r.repository.0,
            repository_name: r.repository_name,
            crontab: r.crontab,
            state: s.state.to_string(),
            last_success: r.last_success,
            last_success_job_id: r.last_success_job.map(|j| j.0),
            age_seconds: s.age_seconds,
            interval_seconds: s.interval_seconds,
            next_run: s.next_run,
            last_job_id: r.last_job.map(|j| j.0),
            last_status: r.last_status.map(|st| st.to_string()),
            last_explanation: r.last_explanation,
            last_failed: s.last_failed,
            drill_verdict: r.drill_verdict,
            drill_time: r.drill_time,
            repository_state: s.repository_state.as_str().into(),
        }
    }
}

/// Every series and the counters over the whole fleet (unfiltered).
#[derive(SimpleObject, Clone)]
pub struct FleetHealth {
    pub total: i64,
    pub ok: i64,
    pub late: i64,
    pub overdue: i64,
    pub never: i64,
    pub disabled: i64,
    /// Series whose last backup failed.
    pub failing: i64,
    /// Series whose last restore drill failed.
    pub drills_failed: i64,
    /// Series writing to a nearly full repository.
    pub nearly_full: i64,
    /// Series writing to a tampered repository.
    pub tampered: i64,
    pub series: Vec<SeriesHealth>,
}

/// One reason a policy cannot run, or what happens before it runs.
#[derive(SimpleObject, Clone)]
pub struct ReadinessFinding {
    /// `disabled`, `no_clients`, `no_ssh_key`, `host_key_changed`,
    /// `client_preparation_failed`, `client_not_prepared`, `repository_preparation_failed`,
    /// `repository_not_prepared`, `unencrypted`.
    pub code: String,
    /// `error` (the next run fails or does not start) or `warning`.
    pub severity: String,
    pub message: String,
    /// The UI route that fixes it, e.g. `hostkeys`, `settings/ssh`, `clients/3`.
    pub fix: String,
}

/// Whether a policy can run.
#[derive(SimpleObject, Clone)]
pub struct PolicyReadiness {
    pub policy_id: i64,
    pub ready: bool,
    pub findings: Vec<ReadinessFinding>,
}

impl From<service::health::Readiness> for PolicyReadiness {
    fn from(r: service::health::Readiness) -> Self {
        PolicyReadiness {
            policy_id: r.policy.0,
            ready: r.ready(),
            findings: r
                .findings
                .into_iter()
                .map(|f| ReadinessFinding {
                    code: f.code.into(),
                    severity: f.severity.as_str().into(),
                    message: f.message,
                    fix: f.fix,
                })
                .collect(),
        }
    }
}

/// What to install on a client so that the server can log in.
#[derive(SimpleObject, Clone)]
pub struct ClientSetup {
    pub client_id: i64,
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

/// One step of a connection test.
#[derive(SimpleObject, Clone)]
pub struct ConnectionStep {
    /// `reachable`, `host_key`, `login`, `borg`, `sudo`, `local`.
    pub step: String,
    pub ok: bool,
    pub detail: String,
}

/// The result of a connection test.
#[derive(SimpleObject, Clone)]
pub struct ConnectionTest {
    pub host: String,
    pub port: i32,
    pub user: String,
    pub ok: bool,
    pub steps: Vec<ConnectionStep>,
}

impl From<service::health::ConnectionTest> for ConnectionTest {
    fn from(t: service::health::ConnectionTest) -> Self {
        ConnectionTest {
            ok: t.ok(),
            host: t.host,
            port: i32::from(t.port),
            user: t.user,
            steps: t
                .steps
                .into_iter()
                .map(|s| ConnectionStep {
                    step: s.step.into(),
                    ok: s.ok,
                    detail: s.detail,
                })
                .collect(),
        }
    }
}

#[derive(Default)]
pub struct HealthQuery;

#[Object]
impl HealthQuery {
    /// Every series (policy × client) the caller's grants reach, with its state; `state` keeps
    /// one state (`ok`, `late`, `overdue`, `never`, `disabled`, or `failing` for a failed last
    /// backup). The counters cover every series the caller sees.
    async fn fleet_health(
        &self,
        ctx: &Context<'_>,
        state: Option<String>,
        policy: Option<i64>,
        client: Option<i64>,
    ) -> Result<FleetHealth, GqlError> {
        let c = caller(ctx).await?;
        let filter = FleetFilter {
            state,
            policy: policy.map(PolicyId),
            client: client.map(ClientId),
        };
        let h = svc(ctx).fleet_health(&c, filter).await?;
        let n = |x: usize| x as i64;
        Ok(FleetHealth {
            total: n(h.ok + h.late + h.overdue + h.never + h.disabled),
            ok: n(h.ok),
            late: n(h.late),
            overdue: n(h.overdue),
            never: n(h.never),
            disabled: n(h.disabled),
            failing: n(h.failing),
            drills_failed: n(h.drills_failed),
            nearly_full: n(h.nearly_full),
            tampered: n(h.tampered),
            series: h.series.into_iter().map(Into::into).collect(),
        })
    }

    /// Why a policy cannot run (errors) and what happens before it runs (warnings); every
    /// policy the caller sees when `policy` is omitted.
    async fn policy_readiness(
        &self,
        ctx: &Context<'_>,
        policy: Option<i64>,
    ) -> Result<Vec<PolicyReadiness>, GqlError> {
        let c = caller(ctx).await?;
        Ok(svc(ctx)
            .policy_readiness(&c, policy.map(PolicyId))
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The `authorized_keys` line to install on a client for the server's key.
    async fn client_setup(&self, ctx: &Context<'_>, id: i64) -> Result<ClientSetup, GqlError> {
        let c = caller(ctx).await?;
        let s = svc(ctx).client_setup(&c, ClientId(id)).await?;
        Ok(ClientSetup {
            client_id: s.client.0,
            hostname: s.hostname,
            local: s.local,
            user: s.user,
            authorized_keys_line: s.authorized_keys_line,
            install_command: s.install_command,
        })
    }
}

#[derive(Default)]
pub struct HealthMutation;

#[Object]
impl HealthMutation {
    /// Tests the connection to a client step by step (reachable, host key — pinned on first
    /// use —, login, borg version, sudo for a user other than root). Superuser only.
    async fn test_client_connection(
        &self,
        ctx: &Context<'_>,
        id: i64,
    ) -> Result<ConnectionTest, GqlError> {
        let c = caller(ctx).await?;
        Ok(svc(ctx)
            .test_client_connection(&c, ClientId(id))
            .await?
            .into())
    }

    /// Tests the connection to a repository's host (or the local directory), step by step.
    /// Superuser only.
    async fn test_repository_connection(
        &self,
        ctx: &Context<'_>,
        id: i64,
    ) -> Result<ConnectionTest, GqlError> {
        let c = caller(ctx).await?;
        Ok(svc(ctx)
            .test_repository_connection(&c, RepositoryId(id))
            .await?
            .into())
    }
}
