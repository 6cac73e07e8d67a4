//! Restore drills in GraphQL: the recorded drills with their evidence and verdict
//! (`restoreTests`), launching drills (`launchRestoreTest`), and the latest passed drill shown on
//! policies and clients (`lastVerifiedRestore`).

use crate::connection::{connection, page_request, Connection};
use crate::errors::ApiResult;
use crate::lists::{self, RestoreTestOrder};
use crate::objects::Job;
use crate::{caller, svc};
use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use model::{ClientId, PolicyId, RepositoryId};
use service::types::{RestoreTestListOptions, Verdict};

/// One finding of a drill about a file (`path` empty: the whole archive or the drill).
#[derive(SimpleObject, Clone)]
pub struct DrillFinding {
    pub path: String,
    pub archive: String,
    pub reason: String,
}

impl From<store::DrillFinding> for DrillFinding {
    fn from(f: store::DrillFinding) -> Self {
        DrillFinding {
            path: f.path,
            archive: f.archive,
            reason: f.reason,
        }
    }
}

/// A restore drill: what was extracted and verified, and the verdict.
#[derive(SimpleObject, Clone)]
pub struct RestoreTest {
    pub id: i64,
    pub job_id: Option<i64>,
    pub policy_id: i64,
    pub client_id: i64,
    pub repository_id: i64,
    /// Archives the drill extracted from.
    pub archives: Vec<String>,
    pub files_checked: i64,
    pub bytes: i64,
    /// Seconds.
    pub duration: f64,
    /// What failed verification.
    pub mismatches: Vec<DrillFinding>,
    /// Checks skipped and why (a live file changed since the backup).
    pub notes: Vec<DrillFinding>,
    /// `passed` or `failed`.
    pub verdict: String,
    pub summary: String,
    pub created: DateTime<Utc>,
}

impl From<store::RestoreTest> for RestoreTest {
    fn from(t: store::RestoreTest) -> Self {
        RestoreTest {
            id: t.id,
            job_id: t.job.map(|j| j.0),
            policy_id: t.policy.0,
            client_id: t.client.0,
            repository_id: t.repository.0,
            archives: t.archives,
            files_checked: t.files_checked,
            bytes: t.bytes,
            duration: t.duration,
            mismatches: t.mismatches.into_iter().map(Into::into).collect(),
            notes: t.notes.into_iter().map(Into::into).collect(),
            verdict: t.verdict.as_str().into(),
            summary: t.summary,
            created: t.created,
        }
    }
}

/// The latest passed drill of a policy or a client (resolver of `lastVerifiedRestore`).
pub(crate) async fn last_verified_restore(
    ctx: &Context<'_>,
    policy: Option<i64>,
    client: Option<i64>,
) -> ApiResult<Option<RestoreTest>> {
    let c = caller(ctx).await?;
    Ok(svc(ctx)
        .last_verified_restore(&c, policy.map(PolicyId), client.map(ClientId))
        .await?
        .map(Into::into))
}

#[derive(Default)]
pub struct DrillQuery;

#[Object]
impl DrillQuery {
    /// Restore drills (newest first by default), optionally of one policy and/or client and
    /// with one verdict (`passed` or `failed`).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::cost::list(first.unwrap_or(50), child_complexity)")]
    async fn restore_tests(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
        policy: Option<i64>,
        client: Option<i64>,
        verdict: Option<String>,
        order_by: Option<RestoreTestOrder>,
    ) -> ApiResult<Connection<RestoreTest>> {
        let c = caller(ctx).await?;
        let order: service::types::RestoreTestOrder = lists::order(order_by);
        let page = page_request(first, after.as_deref(), &order)?;
        let o = RestoreTestListOptions {
            policy: policy.map(PolicyId),
            client: client.map(ClientId),
            verdict: lists::parse::<Verdict>("verdict", verdict)?,
            order,
            page: page.clone(),
            ..Default::default()
        };
        let p = svc(ctx).list_restore_tests(&c, o).await?;
        Ok(connection(p, &page, &order, RestoreTest::from))
    }
}

#[derive(Default)]
pub struct DrillMutation;

#[Object]
impl DrillMutation {
    /// Queues a restore drill of a policy for one client, or for each of its enabled clients,
    /// in `repository` (the primary or one of its copies); without it, in the repository of
    /// the series drilled longest ago, so drills alternate between the primary and the copies.
    async fn launch_restore_test(
        &self,
        ctx: &Context<'_>,
        policy: i64,
        client: Option<i64>,
        repository: Option<i64>,
    ) -> ApiResult<Vec<Job>> {
        let c = caller(ctx).await?;
        let jobs = svc(ctx)
            .launch_restore_test(
                &c,
                PolicyId(policy),
                client.map(ClientId),
                repository.map(RepositoryId),
            )
            .await?;
        Ok(jobs.into_iter().map(Job::from).collect())
    }
}
