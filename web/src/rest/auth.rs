//! REST authentication: `Authorization: Token …` / `Bearer …` (session or API tokens) and HTTP
//! Basic (`email:password`, rate limited). [`Caller`] is any authenticated user, [`Admin`] a
//! superuser — the same rule as GraphQL's `user(ctx)` and `admin(ctx)`.

use super::error::RestError;
use super::limit::{client_addr, LoginLimiter};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;
use model::TokenId;
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
    let limiter = parts
        .extensions
        .get::<Arc<LoginLimiter>>()
        .cloned()
        .ok_or_else(|| RestError::Internal("login limiter missing from the router".into()))?;
    let addr = client_addr(parts);
    limiter.check(&addr, &email).map_err(RestError::Throttled)?;
    let who = email.clone();
    let user = tokio::task::spawn_blocking(move || store.verify_login(&who, &password)).await??;
    match user {
        Some(u) => {
            limiter.succeeded(&email);
            Ok(AuthUser {
                id: u.id,
                email: u.email,
                is_superuser: u.is_superuser,
                // Basic authentication has no token: nothing can be revoked with it.
                token: TokenId(0),
            })
        }
        None => {
            limiter.failed(&addr, &email);
            Err(RestError::Unauthenticated("Invalid username/password."))
        }
    }
}
