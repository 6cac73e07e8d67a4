//! Read-only GraphQL queries. Everything except `ping` needs an authenticated caller.

use crate::errors::{ApiError, ApiResult};
use crate::objects::*;
use crate::{admin, services, user};
use async_graphql::{Context, Object};
use chrono::{DateTime, Utc};
use model::{
    ArchiveId, ClientId, CronExpr, JobId, JobStatus, JobType, PolicyId, RepositoryId, ScheduleId,
};
use store::JobFilter;

#[derive(Default)]
pub struct InventoryQuery;

#[Object]
impl InventoryQuery {
    /// Liveness check; needs no authentication.
    async fn ping(&self) -> &'static str {
        "pong"
    }

    /// Version of the server.
    async fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    /// The logged-in user.
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<User> {
        let u = user(ctx)?;
        Ok(services(ctx).store.user(u.id)?.into())
    }

    async fn users(&self, ctx: &Context<'_>) -> ApiResult<Vec<User>> {
        admin(ctx)?;
        Ok(services(ctx)
            .store
            .users()?
            .into_iter()
            .map(User::from)
            .collect())
    }

    /// The caller's API tokens (never the token values).
    async fn api_tokens(&self, ctx: &Context<'_>) -> ApiResult<Vec<ApiToken>> {
        let u = user(ctx)?;
        Ok(services(ctx)
            .store
            .api_tokens(u.id)?
            .into_iter()
            .map(|t| ApiToken {
                id: t.id.0,
                name: t.name,
                created: t.created,
                last_used: t.last_used,
            })
            .collect())
    }

    async fn clients(&self, ctx: &Context<'_>) -> ApiResult<Vec<Client>> {
        user(ctx)?;
        Ok(services(ctx)
            .store
            .clients()?
            .into_iter()
            .map(Client::from)
            .collect())
    }

    async fn client(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Client> {
        user(ctx)?;
        Ok(services(ctx).store.client(ClientId(id))?.into())
    }

    async fn repositories(&self, ctx: &Context<'_>) -> ApiResult<Vec<Repository>> {
        user(ctx)?;
        Ok(services(ctx)
            .store
            .repositories()?
            .into_iter()
            .map(Repository::from)
            .collect())
    }

    async fn repository(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Repository> {
        user(ctx)?;
        Ok(services(ctx).store.repository(RepositoryId(id))?.into())
    }

    async fn schedules(&self, ctx: &Context<'_>) -> ApiResult<Vec<Schedule>> {
        user(ctx)?;
        Ok(services(ctx)
            .store
            .schedules()?
            .into_iter()
            .map(Schedule::from)
            .collect())
    }

    async fn schedule(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Schedule> {
        user(ctx)?;
        Ok(services(ctx).store.schedule(ScheduleId(id))?.into())
    }

    async fn policies(&self, ctx: &Context<'_>) -> ApiResult<Vec<Policy>> {
        user(ctx)?;
        Ok(services(ctx)
            .store
            .policies()?
            .into_iter()
            .map(Policy::from)
            .collect())
    }

    async fn policy(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Policy> {
        user(ctx)?;
        Ok(services(ctx).store.policy(PolicyId(id))?.into())
    }

    /// The next run times of a cron expression, or a `VALIDATION` error on `crontab`.
    async fn cron_preview(
        &self,
        ctx: &Context<'_>,
        crontab: String,
        #[graphql(default = 5)] count: i32,
    ) -> ApiResult<Vec<DateTime<Utc>>> {
        user(ctx)?;
        let c = CronExpr::parse(&crontab).map_err(|e| ApiError::field("crontab", e.0))?;
        Ok(c.upcoming(Utc::now(), count.clamp(0, 100) as usize))
    }

    /// Jobs, newest first.
    #[allow(clippy::too_many_arguments)]
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        status: Option<String>,
        job_type: Option<String>,
        policy: Option<i64>,
        client: Option<i64>,
        #[graphql(default = 50)] limit: i64,
        #[graphql(default = 0)] offset: i64,
    ) -> ApiResult<Vec<Job>> {
        user(ctx)?;
        let status = status
            .map(|s| s.parse::<JobStatus>())
            .transpose()
            .map_err(|e| ApiError::field("status", e))?;
        let job_type = job_type
            .map(|s| s.parse::<JobType>())
            .transpose()
            .map_err(|e| ApiError::field("jobType", e))?;
        let f = JobFilter {
            policy: policy.map(PolicyId),
            client: client.map(ClientId),
            status,
            job_type,
            limit: Some(limit.clamp(1, 1000)),
            offset: Some(offset.max(0)),
        };
        Ok(services(ctx)
            .store
            .jobs(&f)?
            .into_iter()
            .map(Job::from)
            .collect())
    }

    async fn job(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Job> {
        user(ctx)?;
        Ok(services(ctx).store.job(JobId(id))?.into())
    }

    /// Archives, newest first, with their catalog state.
    async fn archives(
        &self,
        ctx: &Context<'_>,
        repository: Option<i64>,
        client: Option<i64>,
        policy: Option<i64>,
    ) -> ApiResult<Vec<Archive>> {
        user(ctx)?;
        let list = services(ctx).store.archives(
            repository.map(RepositoryId),
            client.map(ClientId),
            policy.map(PolicyId),
        )?;
        Ok(list.into_iter().map(Archive::from).collect())
    }

    async fn archive(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Archive> {
        user(ctx)?;
        Ok(services(ctx).store.archive(ArchiveId(id))?.into())
    }
}
