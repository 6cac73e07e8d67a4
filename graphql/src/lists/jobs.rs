//! Connections of jobs and archives.

use super::{order, parse, ArchiveOrder, JobOrder};
use crate::connection::{connection, page_request, Connection};
use crate::errors::ApiResult;
use crate::objects::{Archive, Job};
use crate::{caller, svc};
use async_graphql::{Context, Object};
use chrono::{DateTime, Utc};
use model::{CatalogState, ClientId, JobStatus, JobType, PolicyId, RepositoryId};

#[derive(Default)]
pub struct JobLists;

#[Object]
impl JobLists {
    /// Jobs, newest first unless `orderBy` says otherwise. `status` e.g. `failed`, `jobType`
    /// e.g. `job` or `check`; `since`/`until` bound the creation time (until exclusive);
    /// `search`: substring of the job's name or archive name.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::cost::list(first.unwrap_or(50), child_complexity)")]
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
        status: Option<String>,
        job_type: Option<String>,
        policy: Option<i64>,
        client: Option<i64>,
        repository: Option<i64>,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        order_by: Option<JobOrder>,
    ) -> ApiResult<Connection<Job>> {
        let c = caller(ctx).await?;
        let order: store::JobOrder = order(order_by);
        let page = page_request(first, after.as_deref(), &order)?;
        let o = store::JobListOptions {
            search,
            status: parse::<JobStatus>("status", status)?,
            job_type: parse::<JobType>("jobType", job_type)?,
            policy: policy.map(PolicyId),
            client: client.map(ClientId),
            repository: repository.map(RepositoryId),
            since,
            until,
            order,
            page: page.clone(),
            ..Default::default()
        };
        let p = svc(ctx).list_jobs(&c, o).await?;
        Ok(connection(p, &page, &order, Job::from))
    }

    /// Archives with their catalog state, newest first unless `orderBy` says otherwise.
    /// `catalogState`: pending, running, complete or failed; `anomaly`: only flagged (true) or
    /// unflagged (false) archives; `since`/`until` bound the archive time (until exclusive).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::cost::list(first.unwrap_or(50), child_complexity)")]
    async fn archives(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
        repository: Option<i64>,
        client: Option<i64>,
        policy: Option<i64>,
        catalog_state: Option<String>,
        anomaly: Option<bool>,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        order_by: Option<ArchiveOrder>,
    ) -> ApiResult<Connection<Archive>> {
        let c = caller(ctx).await?;
        let order: store::ArchiveOrder = order(order_by);
        let page = page_request(first, after.as_deref(), &order)?;
        let o = store::ArchiveListOptions {
            search,
            repository: repository.map(RepositoryId),
            client: client.map(ClientId),
            policy: policy.map(PolicyId),
            catalog_state: parse::<CatalogState>("catalogState", catalog_state)?,
            anomaly,
            since,
            until,
            order,
            page: page.clone(),
            ..Default::default()
        };
        let p = svc(ctx).list_archives(&c, o).await?;
        Ok(connection(p, &page, &order, Archive::from))
    }
}
