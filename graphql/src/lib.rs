//! The GraphQL API of CyBorgBackup: the only crate that knows async-graphql. Resolvers call the
//! store, the executor and the catalog; errors carry a `code` extension (`VALIDATION`,
//! `NOT_FOUND`, `UNAUTHENTICATED`, `FORBIDDEN`, `CONFLICT`, `INTERNAL`) and name the field.

mod admin;
mod catalog;
mod errors;
mod inputs;
mod mutation;
mod objects;
mod query;
mod stats;

use async_graphql::{Context, EmptySubscription, MergedObject, Schema};
pub use errors::{ApiError, GqlError};
use executor::Executor;
use indexer::Catalog;
use store::{AuthUser, Store};

/// Every query: inventory and jobs, plus the catalog.
#[derive(MergedObject, Default)]
pub struct Query(
    query::InventoryQuery,
    catalog::CatalogQuery,
    admin::AdminQuery,
    stats::StatsQuery,
);

/// Every mutation: inventory and jobs, plus administration (SSH key, host keys, settings).
#[derive(MergedObject, Default)]
pub struct Mutation(
    mutation::CoreMutation,
    admin::AdminMutation,
    stats::StatsMutation,
);

pub type CyborgSchema = Schema<Query, Mutation, EmptySubscription>;

/// What resolvers reach: the composition root builds it once.
#[derive(Clone)]
pub struct Services {
    pub store: Store,
    pub executor: Executor,
    pub catalog: Catalog,
}

/// Builds the schema with depth and complexity limits.
pub fn schema(services: Services) -> CyborgSchema {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .data(services)
        .limit_depth(12)
        .limit_complexity(5000)
        .finish()
}

/// The SDL of the schema (committed as `schema.graphql`).
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
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

/// The caller, who must be a superuser, or `FORBIDDEN`.
pub(crate) fn admin<'a>(ctx: &Context<'a>) -> Result<&'a AuthUser, errors::GqlError> {
    let u = user(ctx)?;
    if u.is_superuser {
        Ok(u)
    } else {
        Err(ApiError::Forbidden("this operation needs a superuser".into()).into())
    }
}
