//! Read-only GraphQL queries of single objects (lists are in `lists`). Everything except
//! `ping` needs an authenticated caller.

use crate::errors::{ApiError, ApiResult};
use crate::objects::*;
use crate::{services, user};
use async_graphql::{Context, Object};
use chrono::{DateTime, Utc};
use model::{ArchiveId, ClientId, CronExpr, JobId, PolicyId, RepositoryId, ScheduleId};

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

    async fn client(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Client> {
        user(ctx)?;
        Ok(services(ctx).store.client(ClientId(id))?.into())
    }

    async fn repository(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Repository> {
        user(ctx)?;
        Ok(services(ctx).store.repository(RepositoryId(id))?.into())
    }

    async fn schedule(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Schedule> {
        user(ctx)?;
        Ok(services(ctx).store.schedule(ScheduleId(id))?.into())
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

    async fn job(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Job> {
        user(ctx)?;
        Ok(services(ctx).store.job(JobId(id))?.into())
    }

    async fn archive(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Archive> {
        user(ctx)?;
        Ok(services(ctx).store.archive(ArchiveId(id))?.into())
    }
}
