//! Authentication, the same on every REST route (and charts, metrics): `Authorization: Token …`
//! / `Bearer …` (session or API tokens) or HTTP Basic (`email:password`, rate limited). The
//! result is the services' [`service::Caller`]; what the caller may do is the services' call.

use super::error::RestError;
use super::limit::client_addr;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;

/// The authenticated caller; a request without valid credentials is refused with 401.
pub(crate) struct Caller(pub service::Caller);

/// The caller when credentials are sent (refused with 401 when they are wrong), else
/// anonymous.
pub(crate) struct MaybeCaller(pub service::Caller);

impl FromRequestParts<AppState> for Caller {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, RestError> {
        match authenticate(parts, st).await? {
            Some(c) => Ok(Caller(c)),
            None => Err(RestError::Unauthenticated(
                "Authentication credentials were not provided.",
            )),
        }
    }
}

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, RestError> {
        Ok(MaybeCaller(
            authenticate(parts, st)
                .await?
                .unwrap_or(service::Caller::Anonymous),
        ))
    }
}

/// The caller of a request: `None` without an `Authorization` header, an error with bad
/// credentials.
pub(crate) async fn authenticate(
    parts: &Parts,
    st: &AppState,
) -> Result<Option<service::Caller>, RestError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| RestError::Unauthenticated("Invalid authorization header."))?
        .trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer") {
        return match st.service.identify_token(rest).await?.0 {
            service::Caller::Anonymous => Err(RestError::Unauthenticated("Invalid token.")),
            c => Ok(Some(c)),
        };
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
    match st
        .service
        .identify_password(&client_addr(parts), email, password)
        .await?
    {
        Some((c, _)) => Ok(Some(c)),
        None => Err(RestError::Unauthenticated("Invalid username/password.")),
    }
}

/// The client address of a request, for the services' login throttle.
pub(crate) struct Addr(pub String);

impl FromRequestParts<AppState> for Addr {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, RestError> {
        Ok(Addr(client_addr(parts)))
    }
}
