//! Users in GraphQL: create, change (profile, role, grants) and delete through the services
//! (superusers), and the role and grant types.

use crate::errors::{ApiError, ApiResult};
use crate::inputs::{UserInput, UserPatch};
use crate::objects;
use crate::{caller, svc};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use model::{ClientId, GrantScope, PolicyId, UserId};
use service::{UserChange, UserSpec};

/// What a user may do at most; grants narrow operators and viewers to clients or policies.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "model::Role")]
pub enum Role {
    /// Everything.
    Superuser,
    /// Launch, cancel and relaunch backups, checks and drills; restore with a restore grant.
    Operator,
    /// Read inventory, jobs, statistics and catalog metadata of granted clients.
    Viewer,
}

/// Access to one client (every series of it) or one policy (every client of it).
#[derive(SimpleObject, Clone)]
pub struct Grant {
    pub client_id: Option<i64>,
    pub policy_id: Option<i64>,
    /// File contents too: download, and restore from or onto it.
    pub restore: bool,
}

impl From<model::Grant> for Grant {
    fn from(g: model::Grant) -> Self {
        let (client_id, policy_id) = match g.scope {
            GrantScope::Client(c) => (Some(c.0), None),
            GrantScope::Policy(p) => (None, Some(p.0)),
        };
        Grant {
            client_id,
            policy_id,
            restore: g.restore,
        }
    }
}

/// A grant to give: exactly one of `client` and `policy`.
#[derive(InputObject, Clone)]
pub struct GrantInput {
    pub client: Option<i64>,
    pub policy: Option<i64>,
    #[graphql(default)]
    pub restore: bool,
}

/// The model's grants, or a `VALIDATION` error on `grants`.
pub(crate) fn grants(list: Vec<GrantInput>) -> Result<Vec<model::Grant>, ApiError> {
    list.into_iter()
        .map(|g| {
            let scope = match (g.client, g.policy) {
                (Some(c), None) => GrantScope::Client(ClientId(c)),
                (None, Some(p)) => GrantScope::Policy(PolicyId(p)),
                _ => {
                    return Err(ApiError::field(
                        "grants",
                        "a grant names exactly one of client and policy",
                    ))
                }
            };
            Ok(model::Grant {
                scope,
                restore: g.restore,
            })
        })
        .collect()
}

#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Creates a user (superuser): a viewer without grants unless `role`/`grants` say more.
    async fn create_user(&self, ctx: &Context<'_>, input: UserInput) -> ApiResult<objects::User> {
        let c = caller(ctx).await?;
        let spec = UserSpec {
            email: input.email,
            password: Some(input.password),
            first_name: input.first_name,
            last_name: input.last_name,
            is_superuser: input.is_superuser,
            role: input.role.map(Into::into),
            grants: grants(input.grants.unwrap_or_default())?,
        };
        Ok(svc(ctx).create_user(&c, spec).await?.into())
    }

    /// Changes a user's email, names, role or grants (superuser). `grants` replaces them all.
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        id: i64,
        input: UserPatch,
    ) -> ApiResult<objects::User> {
        let c = caller(ctx).await?;
        let change = UserChange {
            email: input.email,
            first_name: input.first_name,
            last_name: input.last_name,
            is_superuser: input.is_superuser,
            role: input.role.map(Into::into),
            grants: input.grants.map(grants).transpose()?,
            password: None,
        };
        Ok(svc(ctx).update_user(&c, UserId(id), change).await?.into())
    }

    /// Deletes a user (superuser; not yourself).
    async fn delete_user(&self, ctx: &Context<'_>, id: i64) -> ApiResult<bool> {
        let c = caller(ctx).await?;
        svc(ctx).delete_user(&c, UserId(id)).await?;
        Ok(true)
    }
}
