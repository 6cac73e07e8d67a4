//! REST authentication: `Authorization: Token …` / `Bearer …` (session or API tokens) and HTTP
//! Basic (`email:password`, rate limited). [`Caller`] is any authenticated user, [`Admin`] a
//! superuser — the same rule as GraphQL's `user(ctx)` and `admin(ctx)`.

use super::error::RestError;
use super::limit::client_addr;
use crate::login::Logins;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;
use graphql::CheckRefused;
use model::{TokenId, UserId};
use std::sync::Arc;
use store::AuthUser;

/// The authenticated caller.
pub(crate) struct Caller(pub AuthUser);

/// The authenticated caller, who is a superuser.
pub(crate) struct Admin(pub AuthUser);

impl FromRequestParts<AppState> for Caller {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, RestError> {
        authenticate(parts, st).await.map(Caller)
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, RestError> {
        let u = authenticate(parts, st).await?;
        if u.is_superuser {
            Ok(Admin(u))
        } else {
            Err(RestError::Forbidden)
        }
    }
}

async fn authenticate(parts: &Parts, st: &AppState) -> Result<AuthUser, RestError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Err(RestError::Unauthenticated(
            "Authentication credentials were not provided.",
        ));
    };
    let value = value
        .to_str()
        .map_err(|_| RestError::Unauthenticated("Invalid authorization header."))?
        .trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim().to_string();
    let store = st.store.clone();
    if scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer") {
        let found = tokio::task::spawn_blocking(move || store.authenticate_token(&rest)).await??;
        return found.ok_or(RestError::Unauthenticated("Invalid token."));
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(RestError::Unauthenticated(
            "Unsupported authorization scheme: use Token, Bearer or Basic.",
        ));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(RestError::Unauthenticated("Invalid basic header."))?;
    let (email, password) = decoded
        .split_once(':')
        .ok_or(RestError::Unauthenticated("Invalid basic header."))?;
    let (email, password) = (email.trim().to_string(), password.to_string());
    let logins = logins(parts)?;
    match logins.verify(&client_addr(parts), &email, &password).await {
        Ok(u) => Ok(AuthUser {
            id: u.id,
            email: u.email,
            is_superuser: u.is_superuser,
            // Basic authentication has no token: nothing can be revoked with it.
            token: TokenId(0),
        }),
        Err(CheckRefused::Wrong) => Err(RestError::Unauthenticated("Invalid username/password.")),
        Err(CheckRefused::Throttled(secs)) => Err(RestError::Throttled(secs)),
        Err(CheckRefused::Internal(m)) => Err(RestError::Internal(m)),
    }
}

fn logins(parts: &Parts) -> Result<Arc<Logins>, RestError> {
    parts
        .extensions
        .get::<Arc<Logins>>()
        .cloned()
        .ok_or_else(|| RestError::Internal("password checks missing from the router".into()))
}

/// Password changes through REST, with GraphQL's rule: changing your own password needs the
/// current one (checked through the login throttle); every session and API token of the user
/// ends except the caller's own token.
pub(crate) struct PasswordChange {
    logins: Arc<Logins>,
    addr: String,
}

impl FromRequestParts<AppState> for PasswordChange {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, RestError> {
        Ok(PasswordChange {
            logins: logins(parts)?,
            addr: client_addr(parts),
        })
    }
}

impl PasswordChange {
    /// Sets `target`'s password to `new` on behalf of `caller`.
    pub(crate) async fn apply(
        &self,
        st: &AppState,
        caller: &AuthUser,
        target: UserId,
        current: Option<&str>,
        new: String,
    ) -> Result<(), RestError> {
        let own = caller.id == target;
        if own {
            let current = current.filter(|c| !c.is_empty()).ok_or_else(|| {
                RestError::field(
                    "current_password",
                    "is required to change your own password",
                )
            })?;
            match self.logins.verify(&self.addr, &caller.email, current).await {
                Ok(u) if u.id == caller.id => {}
                Ok(_) | Err(CheckRefused::Wrong) => {
                    return Err(RestError::field(
                        "current_password",
                        "is not your current password",
                    ))
                }
                Err(CheckRefused::Throttled(secs)) => return Err(RestError::Throttled(secs)),
                Err(CheckRefused::Internal(m)) => return Err(RestError::Internal(m)),
            }
        }
        // Basic authentication has no token (0): then every token of the user ends.
        let keep = (own && caller.token.0 != 0).then_some(caller.token);
        let store = st.store.clone();
        tokio::task::spawn_blocking(move || store.set_password_keeping(target, &new, keep))
            .await??;
        Ok(())
    }
}
