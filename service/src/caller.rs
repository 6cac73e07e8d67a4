//! Who performs a service call: nobody (anonymous), the system (scheduler, CLI, start-up), or a
//! user with a role, grants and what those grants reach, resolved once per request.

use crate::{Inner, Result, Service, ServiceError};
use model::{Grant, Role, TokenId, UserId, Visibility};
use std::sync::Arc;
use store::AuthUser;

/// The caller of a service call.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No or invalid credentials: refused everything but public reads.
    Anonymous,
    /// The server itself (scheduler, CLI, start-up): allowed everything.
    System,
    /// A logged-in user.
    User(Arc<UserCaller>),
}

/// A logged-in user as the services see them.
#[derive(Debug)]
pub struct UserCaller {
    pub id: UserId,
    pub email: String,
    /// The session or API token used (0 for HTTP Basic).
    pub token: TokenId,
    pub role: Role,
    pub grants: Vec<Grant>,
    /// What the grants reach (empty for a superuser, who reaches everything).
    pub visibility: Arc<Visibility>,
}

impl Caller {
    /// The user's id, if a user.
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Caller::User(u) => Some(u.id),
            _ => None,
        }
    }

    /// Whether the caller may do everything (the system or a superuser).
    pub fn is_superuser(&self) -> bool {
        match self {
            Caller::System => true,
            Caller::User(u) => u.role == Role::Superuser,
            Caller::Anonymous => false,
        }
    }

    /// What the caller reaches when restricted by grants; `None` for everything.
    pub fn scope(&self) -> Option<Arc<Visibility>> {
        match self {
            Caller::User(u) if u.role != Role::Superuser => Some(u.visibility.clone()),
            Caller::Anonymous => Some(Arc::new(Visibility::default())),
            _ => None,
        }
    }

    /// The series scope for catalog searches (`None`: every series).
    pub(crate) fn series_scope(&self) -> Option<indexer::SeriesScope> {
        self.scope().map(|v| indexer::SeriesScope {
            clients: v.granted_clients.iter().copied().collect(),
            policies: v.granted_policies.iter().copied().collect(),
        })
    }
}

/// Loads role and grants of an authenticated user and what they reach.
pub(crate) fn resolve(inner: &Inner, auth: AuthUser) -> Result<Caller> {
    let user = inner.store.user(auth.id)?;
    if !user.is_active {
        return Ok(Caller::Anonymous);
    }
    let (grants, visibility) = if user.role == Role::Superuser {
        (Vec::new(), Visibility::default())
    } else {
        let grants = inner.store.user_grants(user.id)?;
        let v = Visibility::new(&grants, &inner.store.policies()?);
        (grants, v)
    };
    Ok(Caller::User(Arc::new(UserCaller {
        id: user.id,
        email: user.email,
        token: auth.token,
        role: user.role,
        grants,
        visibility: Arc::new(visibility),
    })))
}

impl Service {
    /// The caller behind an authenticated user (from a token or a websocket's init), with role
    /// and grants as stored now; `None` is anonymous.
    pub async fn identify(&self, auth: Option<AuthUser>) -> Result<Caller> {
        match auth {
            None => Ok(Caller::Anonymous),
            Some(a) => self.run(move |i| resolve(i, a)).await,
        }
    }

    /// The caller behind a session or API token; anonymous when it is unknown, expired or
    /// revoked.
    pub async fn identify_token(&self, token: &str) -> Result<(Caller, Option<AuthUser>)> {
        let token = token.trim().to_string();
        self.run(move |i| match i.store.authenticate_token(&token)? {
            Some(a) => Ok((resolve(i, a.clone())?, Some(a))),
            None => Ok((Caller::Anonymous, None)),
        })
        .await
    }
}

impl From<tokio::task::JoinError> for ServiceError {
    fn from(e: tokio::task::JoinError) -> Self {
        tracing::error!(error = %e, "background task failed");
        ServiceError::Internal(format!("background task failed: {e}"))
    }
}
