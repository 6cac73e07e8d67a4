//! The GraphQL API of CyBorgBackup: the only crate that knows async-graphql. Resolvers are
//! thin: they parse arguments, call the application services (`service`) with the caller,
//! and convert the result; errors carry a `code` extension (`VALIDATION`, `NOT_FOUND`,
//! `UNAUTHENTICATED`, `FORBIDDEN`, `CONFLICT`, `INTERNAL`) and name the field.

mod admin;
mod catalog;
mod cluster;
mod connection;
mod copies;
mod cost;
mod drills;
mod errors;
mod health;
mod inputs;
mod lists;
mod live;
mod live_output;
mod live_status;
pub mod login;
mod mutation;
mod objects;
mod query;
mod recoverability;
mod restore;
mod settings;
mod stats;
mod trust;
mod users;
mod vm;

use async_graphql::{Context, MergedObject, Schema};
pub use errors::{ApiError, GqlError};
use executor::Executor;
use indexer::Catalog;
pub use login::LoginContext;
use service::{Caller, Service};
use store::{AuthUser, Store};

/// Every query: inventory and jobs, plus the catalog.
#[derive(MergedObject, Default)]
pub struct Query(
    query::InventoryQuery,
    lists::InventoryLists,
    lists::JobLists,
    catalog::CatalogQuery,
    admin::AdminQuery,
    settings::SettingsQuery,
    stats::StatsQuery,
    vm::VmQuery,
    drills::DrillQuery,
    live::LiveQuery,
    health::HealthQuery,
    copies::CopyQuery,
    recoverability::RecoverabilityQuery,
    cluster::ClusterQuery,
);

/// Every mutation: inventory and jobs, plus administration (SSH key, host keys, settings).
#[derive(MergedObject, Default)]
pub struct Mutation(
    mutation::CoreMutation,
    users::UserMutation,
    admin::AdminMutation,
    settings::SettingsMutation,
    stats::StatsMutation,
    restore::RestoreMutation,
    drills::DrillMutation,
    vm::VmMutation,
    trust::TrustMutation,
    health::HealthMutation,
);

pub type CyborgSchema = Schema<Query, Mutation, live::Subscription>;

/// What resolvers reach: the composition root builds it once. Resolvers call `service`; the
/// store is read directly only by the login, token and settings resolvers, which other work
/// moves into the services.
#[derive(Clone)]
pub struct Services {
    pub store: Store,
    pub executor: Executor,
    pub catalog: Catalog,
    pub service: Service,
}

/// Builds the schema with depth and complexity limits (a list field costs its page size times
/// the cost of one item, see `cost.rs`) and at most one `login` per document.
pub fn schema(services: Services) -> CyborgSchema {
    Schema::build(Query::default(), Mutation::default(), live::Subscription)
        .data(services)
        .limit_depth(12)
        .limit_complexity(cost::MAX_COMPLEXITY)
        .extension(login::OneLoginPerRequest)
        .finish()
}

/// The SDL of the schema (committed as `schema.graphql`).
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), live::Subscription)
        .finish()
        .sdl()
}

pub(crate) fn services<'a>(ctx: &Context<'a>) -> &'a Services {
    ctx.data_unchecked::<Services>()
}

/// The application services.
pub(crate) fn svc<'a>(ctx: &Context<'a>) -> &'a Service {
    &services(ctx).service
}

/// The caller of this request: resolved by the HTTP handler, or (websocket operations) from
/// the connection's user with role and grants as stored now.
pub(crate) async fn caller(ctx: &Context<'_>) -> Result<Caller, errors::GqlError> {
    if let Some(c) = ctx.data_opt::<Caller>() {
        return Ok(c.clone());
    }
    let auth = ctx.data_opt::<AuthUser>().cloned();
    Ok(svc(ctx).identify(auth).await?)
}

/// The token of a websocket's connection_init payload (`authorization: "Bearer …"` or
/// `token: "…"`).
pub fn connection_token(payload: &serde_json::Value) -> Result<String, String> {
    payload
        .get("authorization")
        .or_else(|| payload.get("Authorization"))
        .and_then(|v| v.as_str())
        .map(|s| s.split_once(' ').map_or(s, |(_, t)| t))
        .or_else(|| payload.get("token").and_then(|v| v.as_str()))
        .map(|t| t.trim().to_string())
        .ok_or_else(|| "authentication required: send {\"authorization\": \"Bearer <token>\"} in connection_init".into())
}

/// The data every operation of an authenticated websocket runs with. The HTTP layer re-checks
/// the session before each operation and closes the socket when it ended.
pub fn connection_data(user: AuthUser, login: LoginContext) -> async_graphql::Data {
    let mut data = async_graphql::Data::default();
    data.insert(user);
    data.insert(login);
    data
}
