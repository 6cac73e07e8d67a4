//! The GraphQL API of CyBorgBackup: the only crate that knows async-graphql. Resolvers call the
//! store, the executor and the catalog; errors carry a `code` extension (`VALIDATION`,
//! `NOT_FOUND`, `UNAUTHENTICATED`, `FORBIDDEN`, `CONFLICT`, `INTERNAL`) and name the field.

mod admin;
mod catalog;
mod connection;
mod drills;
mod errors;
mod health;
mod inputs;
mod lists;
mod live;
mod mutation;
mod objects;
mod query;
mod restore;
mod stats;
mod vm;

use async_graphql::{Context, MergedObject, Schema};
pub use errors::{ApiError, GqlError};
use executor::Executor;
use indexer::Catalog;
use store::{AuthUser, Store};

/// Every query: inventory and jobs, plus the catalog.
#[derive(MergedObject, Default)]
pub struct Query(
    query::InventoryQuery,
    lists::InventoryLists,
    lists::JobLists,
    catalog::CatalogQuery,
    admin::AdminQuery,
    stats::StatsQuery,
    vm::VmQuery,
    drills::DrillQuery,
    live::LiveQuery,
    health::HealthQuery,
);

/// Every mutation: inventory and jobs, plus administration (SSH key, host keys, settings).
#[derive(MergedObject, Default)]
pub struct Mutation(
    mutation::CoreMutation,
    admin::AdminMutation,
    stats::StatsMutation,
    restore::RestoreMutation,
    drills::DrillMutation,
    vm::VmMutation,
    health::HealthMutation,
);

pub type CyborgSchema = Schema<Query, Mutation, live::Subscription>;

/// What resolvers reach: the composition root builds it once.
#[derive(Clone)]
pub struct Services {
    pub store: Store,
    pub executor: Executor,
    pub catalog: Catalog,
}

/// Builds the schema with depth and complexity limits.
pub fn schema(services: Services) -> CyborgSchema {
    Schema::build(Query::default(), Mutation::default(), live::Subscription)
        .data(services)
        .limit_depth(12)
        .limit_complexity(5000)
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

/// The authenticated caller, or `UNAUTHENTICATED`.
pub(crate) fn user<'a>(ctx: &Context<'a>) -> Result<&'a AuthUser, errors::GqlError> {
    ctx.data_opt::<AuthUser>()
        .ok_or_else(|| ApiError::Unauthenticated.into())
}

/// Resolves the token of a websocket's connection_init payload (`authorization: "Bearer …"`
/// or `token: "…"`) to the data subscriptions run with.
pub fn connection_data(
    store: &Store,
    payload: &serde_json::Value,
) -> Result<async_graphql::Data, String> {
    let raw = payload
        .get("authorization")
        .or_else(|| payload.get("Authorization"))
        .and_then(|v| v.as_str())
        .map(|s| s.split_once(' ').map_or(s, |(_, t)| t))
        .or_else(|| payload.get("token").and_then(|v| v.as_str()))
        .ok_or("authentication required: send {\"authorization\": \"Bearer <token>\"} in connection_init")?;
    let user = store
        .authenticate_token(raw.trim())
        .map_err(|e| e.to_string())?
        .ok_or("invalid or expired token")?;
    let mut data = async_graphql::Data::default();
    data.insert(user);
    Ok(data)
}

/// The caller, who must be a superuser, or `FORBIDDEN`.
pub(crate) fn admin<'a>(ctx: &Context<'a>) -> Result<&'a AuthUser, errors::GqlError> {
    let u = user(ctx)?;
    if u.is_superuser {
        Ok(u)
    } else {
        Err(ApiError::Forbidden("this operation needs a superuser".into()).into())
    }
}
