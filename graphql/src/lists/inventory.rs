//! Connections of users, API tokens, clients, repositories, schedules and policies.

use super::{
    order, parse, ApiTokenOrder, ClientOrder, PolicyOrder, RepositoryOrder, ScheduleOrder,
    UserOrder,
};
use crate::connection::{connection, page_request, Connection};
use crate::errors::ApiResult;
use crate::objects::{ApiToken, Client, Policy, Repository, Schedule, User};
use crate::{caller, svc};
use async_graphql::{Context, Object};
use model::{ClientId, PolicyType, RepositoryId, ScheduleId};

#[derive(Default)]
pub struct InventoryLists;

#[Object]
impl InventoryLists {
    /// Users (superuser). `search`: substring of the email or name.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::cost::list(first.unwrap_or(50), child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
        is_superuser: Option<bool>,
        is_active: Option<bool>,
        order_by: Option<UserOrder>,
    ) -> ApiResult<Connection<User>> {
        let c = caller(ctx).await?;
        let order: store::UserOrder = order(order_by);
        let page = page_request(first, after.as_deref(), &order)?;
        let o = store::UserListOptions {
            search,
            is_superuser,
            is_active,
            order,
            page: page.clone(),
        };
        let p = svc(ctx).list_users(&c, o).await?;
        Ok(connection(p, &page, &order, User::from))
    }

    /// The caller's API tokens (never the token values). `search`: substring of the name.
    #[graphql(complexity = "crate::cost::list(first.unwrap_or(50), child_complexity)")]
    async fn api_tokens(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
        order_by: Option<ApiTokenOrder>,
    ) -> ApiResult<Connection<ApiToken>> {
        let c = caller(ctx).await?;
        let order: store::ApiTokenOrder = order(order_by);
        let page = page_request(first, after.as_deref(), &order)?;
        let o = store::ApiTokenListOptions {
            user: model::UserId(0),
            search,
            order,
            page: page.clone(),
        };
        let p = svc(ctx).list_api_tokens(&c, o).await?;
        Ok(connection(p, &page, &order, |t| ApiToken {
            id: t.id.0,
            name: t.name,
            created: t.created,
            last_used: t.last_used,
        }))
    }

    /// Clients. `search`: substring of the hostname, IP or hypervisor name.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::cost::list(first.unwrap_or(50), child_complexity)")]
    async fn clients(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
        enabled: Option<bool>,
        ready: Option<bool>,
        order_by: Option<ClientOrder>,
    ) -> ApiResult<Connection<Client>> {
        let c = caller(ctx).await?;
        let order: store::ClientOrder = order(order_by);
        let page = page_request(first, after.as_deref(), &order)?;
        let o = store::ClientListOptions {
            search,
            enabled,
            ready,
            order,
            page: page.clone(),
            ..Default::default()
        };
        let p = svc(ctx).list_clients(&c, o).await?;
        Ok(connection(p, &page, &order, Client::from))
    }

    /// Repositories. `search`: substring of the name or path.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::cost::list(first.unwrap_or(50), child_complexity)")]
    async fn repositories(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
        enabled: Option<bool>,
        ready: Option<bool>,
        order_by: Option<RepositoryOrder>,
    ) -> ApiResult<Connection<Repository>> {
        let c = caller(ctx).await?;
        let order: store::RepositoryOrder = order(order_by);
        let page = page_request(first, after.as_deref(), &order)?;
        let o = store::RepositoryListOptions {
            search,
            enabled,
            ready,
            order,
            page: page.clone(),
            ..Default::default()
        };
        let p = svc(ctx).list_repositories(&c, o).await?;
        Ok(connection(p, &page, &order, Repository::from))
    }

    /// Schedules. `search`: substring of the name or crontab.
    #[graphql(complexity = "crate::cost::list(first.unwrap_or(50), child_complexity)")]
    async fn schedules(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
        enabled: Option<bool>,
        order_by: Option<ScheduleOrder>,
    ) -> ApiResult<Connection<Schedule>> {
        let c = caller(ctx).await?;
        let order: store::ScheduleOrder = order(order_by);
        let page = page_request(first, after.as_deref(), &order)?;
        let o = store::ScheduleListOptions {
            search,
            enabled,
            order,
            page: page.clone(),
            ..Default::default()
        };
        let p = svc(ctx).list_schedules(&c, o).await?;
        Ok(connection(p, &page, &order, Schedule::from))
    }

    /// Policies. `search`: substring of the name; `policyType` e.g. `folders`; `client`:
    /// policies backing up that client.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::cost::list(first.unwrap_or(50), child_complexity)")]
    async fn policies(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
        policy_type: Option<String>,
        enabled: Option<bool>,
        client: Option<i64>,
        repository: Option<i64>,
        schedule: Option<i64>,
        order_by: Option<PolicyOrder>,
    ) -> ApiResult<Connection<Policy>> {
        let c = caller(ctx).await?;
        let order: store::PolicyOrder = order(order_by);
        let page = page_request(first, after.as_deref(), &order)?;
        let o = store::PolicyListOptions {
            search,
            policy_type: parse::<PolicyType>("policyType", policy_type)?,
            enabled,
            client: client.map(ClientId),
            repository: repository.map(RepositoryId),
            schedule: schedule.map(ScheduleId),
            order,
            page: page.clone(),
            ..Default::default()
        };
        let p = svc(ctx).list_policies(&c, o).await?;
        Ok(connection(p, &page, &order, Policy::from))
    }
}
