//! Recoverability in GraphQL: `recoverability` lists every series the caller sees with its
//! primary and copy repositories, the newest verified archive, last drill and check of each,
//! and whether the policy's recovery-point objective is met.

use crate::errors::ApiResult;
use crate::{caller, svc};
use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use model::{ClientId, PolicyId};
use service::copies::{RecoveryFilter, RepositoryRecovery, SeriesRecovery};

/// One repository (the primary or a copy) of a series.
#[derive(SimpleObject, Clone)]
#[graphql(name = "RepositoryRecovery")]
pub struct RepositoryRecoveryObj {
    pub repository_id: i64,
    pub repository_name: String,
    /// `primary` or `copy`.
    pub role: String,
    /// The repository's host (`server` for a local one).
    pub host: String,
    /// Written through per-client `--append-only` credentials.
    pub append_only: bool,
    pub newest_archive: Option<DateTime<Utc>>,
    /// Catalogued and, for a copy, matching its primary archive of the same run.
    pub newest_verified: Option<DateTime<Utc>>,
    pub verified_age_seconds: Option<i64>,
    /// `identical`, `consistent` or `differs` for a copy's newest compared archive.
    pub last_comparison: Option<String>,
    pub last_check_status: Option<String>,
    pub last_check: Option<DateTime<Utc>>,
    pub last_drill_verdict: Option<String>,
    pub last_drill: Option<DateTime<Utc>>,
    /// The last restore drill from this repository that passed.
    pub last_passed_drill: Option<DateTime<Utc>>,
    /// Holds a verified archive and shows no problem.
    pub good: bool,
    pub problems: Vec<String>,
}

impl From<RepositoryRecovery> for RepositoryRecoveryObj {
    fn from(r: RepositoryRecovery) -> Self {
        let good = r.is_good();
        let copy = r.is_copy();
        let row = r.row;
        RepositoryRecoveryObj {
            repository_id: row.repository.0,
            repository_name: row.repository_name,
            role: if copy { "copy" } else { "primary" }.into(),
            host: r.host,
            append_only: r.append_only,
            newest_archive: row.newest_archive,
            newest_verified: row.newest_verified,
            verified_age_seconds: r.verified_age_seconds,
            last_comparison: row.last_comparison,
            last_check_status: row.check_status.map(|s| s.to_string()),
            last_check: row.check_finished,
            last_drill_verdict: row.drill_verdict,
            last_drill: row.drill_time,
            last_passed_drill: row.drill_passed,
            good,
            problems: r.problems,
        }
    }
}

/// How recoverable one series (policy × client) is.
#[derive(SimpleObject, Clone)]
#[graphql(name = "SeriesRecovery")]
pub struct SeriesRecoveryObj {
    pub policy_id: i64,
    pub policy_name: String,
    pub client_id: i64,
    pub hostname: String,
    /// `ok`, `degraded` (a repository failed its check or drill, or a copy differs) or
    /// `unmet` (no verified archive younger than the objective).
    pub state: String,
    pub reasons: Vec<String>,
    pub rpo_hours: Option<i64>,
    pub rpo_met: Option<bool>,
    pub copies: i64,
    /// Repositories (primary included) holding a verified archive with no problem.
    pub good: i64,
    pub append_only: i64,
    /// Distinct repository hosts other than the client itself.
    pub other_hosts: i64,
    pub newest_verified_age_seconds: Option<i64>,
    pub repositories: Vec<RepositoryRecoveryObj>,
}

impl From<SeriesRecovery> for SeriesRecoveryObj {
    fn from(s: SeriesRecovery) -> Self {
        let n = |x: usize| i64::try_from(x).unwrap_or(i64::MAX);
        SeriesRecoveryObj {
            policy_id: s.policy.0,
            policy_name: s.policy_name,
            client_id: s.client.0,
            hostname: s.hostname,
            state: s.state.to_string(),
            reasons: s.reasons,
            rpo_hours: s.rpo_hours.map(i64::from),
            rpo_met: s.rpo_met,
            copies: n(s.copies),
            good: n(s.good),
            append_only: n(s.append_only),
            other_hosts: n(s.other_hosts),
            newest_verified_age_seconds: s.newest_verified_age_seconds,
            repositories: s.repositories.into_iter().map(Into::into).collect(),
        }
    }
}

/// Every series' recoverability and the counters over all the series the caller sees.
#[derive(SimpleObject, Clone)]
#[graphql(name = "Recoverability")]
pub struct RecoverabilityObj {
    pub ok: i64,
    pub degraded: i64,
    pub unmet: i64,
    pub series: Vec<SeriesRecoveryObj>,
}

#[derive(Default)]
pub struct RecoverabilityQuery;

#[Object]
impl RecoverabilityQuery {
    /// Recoverability of every series your grants reach, optionally only in one state
    /// (`ok`, `degraded`, `unmet`), of one policy or of one client.
    async fn recoverability(
        &self,
        ctx: &Context<'_>,
        state: Option<String>,
        policy: Option<i64>,
        client: Option<i64>,
    ) -> ApiResult<RecoverabilityObj> {
        let c = caller(ctx).await?;
        let r = svc(ctx)
            .recoverability(
                &c,
                RecoveryFilter {
                    state,
                    policy: policy.map(PolicyId),
                    client: client.map(ClientId),
                },
            )
            .await?;
        let n = |x: usize| i64::try_from(x).unwrap_or(i64::MAX);
        Ok(RecoverabilityObj {
            ok: n(r.ok),
            degraded: n(r.degraded),
            unmet: n(r.unmet),
            series: r.series.into_iter().map(Into::into).collect(),
        })
    }
}
