//! Read-only GraphQL queries of single objects (lists are in `lists`). Everything except
//! `ping` and `version` needs an authenticated caller; objects outside the caller's grants are
//! `NOT_FOUND`.

use crate::errors::ApiResult;
use crate::objects::*;
use crate::{caller, svc};
use async_graphql::{Context, Object};
use chrono::{DateTime, Utc};
use model::{ArchiveId, ClientId, JobId, PolicyId, RepositoryId, ScheduleId};

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
        Ok(svc(ctx).me(&caller(ctx).await?).await?.into())
    }

    async fn client(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Client> {
        Ok(svc(ctx)
            .client(&caller(ctx).await?, ClientId(id))
            .await?
            .into())
    }

    async fn repository(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Repository> {
        let c = caller(ctx).await?;
        Ok(svc(ctx).repository(&c, RepositoryId(id)).await?.into())
    }

    async fn schedule(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Schedule> {
        let c = caller(ctx).await?;
        Ok(svc(ctx).schedule(&c, ScheduleId(id)).await?.into())
    }

    async fn policy(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Policy> {
        Ok(svc(ctx)
            .policy(&caller(ctx).await?, PolicyId(id))
            .await?
            .into())
    }

    /// The next run times of a cron expression, or a `VALIDATION` error on `crontab`.
    async fn cron_preview(
        &self,
        ctx: &Context<'_>,
        crontab: String,
        #[graphql(default = 5)] count: i32,
    ) -> ApiResult<Vec<DateTime<Utc>>> {
        let c = caller(ctx).await?;
        Ok(svc(ctx).cron_preview(&c, &crontab, count.max(0) as usize)?)
    }

    async fn job(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Job> {
        Ok(svc(ctx).job(&caller(ctx).await?, JobId(id)).await?.into())
    }

    async fn archive(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Archive> {
        Ok(svc(ctx)
            .archive(&caller(ctx).await?, ArchiveId(id))
            .await?
            .into())
    }
}
