//! Every REST error and its HTTP mapping, in one place: Django-REST-Framework bodies
//! (`{"detail": …}`, or `{"field": ["reason", …]}` for validation errors).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use model::ValidationErrors;
use serde_json::{Map, Value};
use store::StoreError;

/// What a REST handler can fail with.
#[derive(Debug)]
pub(crate) enum RestError {
    /// 400 with one entry per offending field.
    Validation(ValidationErrors),
    /// 400 with a `detail` message (a request that cannot be processed as sent).
    BadRequest(String),
    /// 401: no credentials, or wrong ones.
    Unauthenticated(&'static str),
    /// 403: authenticated, but not allowed.
    Forbidden,
    /// 404.
    NotFound,
    /// 405 for an action the object's state does not allow (e.g. cancelling a finished job).
    NotAllowed(String),
    /// 409: the change conflicts with stored data.
    Conflict(String),
    /// 429 with the seconds to wait.
    Throttled(u64),
    /// 500; the cause is logged, not returned.
    Internal(String),
}

pub(crate) type RestResult<T> = Result<T, RestError>;

impl RestError {
    pub(crate) fn field(field: &str, reason: impl Into<String>) -> Self {
        RestError::Validation(ValidationErrors::single(field, reason))
    }
}

fn detail(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "detail": msg.into() }))).into_response()
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        match self {
            RestError::Validation(v) => {
                let mut m = Map::new();
                for f in v.0 {
                    let entry = m.entry(f.field).or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(list) = entry {
                        list.push(Value::String(f.reason));
                    }
                }
                (StatusCode::BAD_REQUEST, Json(Value::Object(m))).into_response()
            }
            RestError::BadRequest(m) => detail(StatusCode::BAD_REQUEST, m),
            RestError::Unauthenticated(m) => {
                let mut r = detail(StatusCode::UNAUTHORIZED, m);
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Token"));
                r
            }
            RestError::Forbidden => detail(
                StatusCode::FORBIDDEN,
                "You do not have permission to perform this action.",
            ),
            RestError::NotFound => detail(StatusCode::NOT_FOUND, "Not found."),
            RestError::NotAllowed(m) => detail(StatusCode::METHOD_NOT_ALLOWED, m),
            RestError::Conflict(m) => detail(StatusCode::CONFLICT, m),
            RestError::Throttled(secs) => {
                let mut r = detail(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("Request was throttled. Expected available in {secs} seconds."),
                );
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
            RestError::Internal(m) => {
                tracing::error!(error = %m, "REST request failed");
                detail(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
            }
        }
    }
}

impl From<StoreError> for RestError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => RestError::NotFound,
            StoreError::Validation(v) => RestError::Validation(v),
            StoreError::Conflict(m) => RestError::Conflict(m),
            other => RestError::Internal(other.to_string()),
        }
    }
}

impl From<ValidationErrors> for RestError {
    fn from(v: ValidationErrors) -> Self {
        RestError::Validation(v)
    }
}

impl From<executor::LaunchError> for RestError {
    fn from(e: executor::LaunchError) -> Self {
        match e {
            // The original answers 400 when a policy cannot start.
            executor::LaunchError::Blocked(_) => RestError::BadRequest(e.to_string()),
            executor::LaunchError::Store(s) => s.into(),
        }
    }
}

impl From<executor::RequeueError> for RestError {
    fn from(e: executor::RequeueError) -> Self {
        match e {
            executor::RequeueError::Store(s) => s.into(),
            other => RestError::Conflict(other.to_string()),
        }
    }
}

impl From<executor::ssh::KeyError> for RestError {
    fn from(e: executor::ssh::KeyError) -> Self {
        RestError::Internal(format!("ssh key: {e}"))
    }
}

impl From<indexer::CatalogError> for RestError {
    fn from(e: indexer::CatalogError) -> Self {
        use indexer::CatalogError as E;
        match e {
            E::UnknownArchive(_) => RestError::NotFound,
            E::InvalidQuery(m) => RestError::field("path", m),
            other => RestError::Internal(format!("catalog: {other}")),
        }
    }
}

impl From<tokio::task::JoinError> for RestError {
    fn from(e: tokio::task::JoinError) -> Self {
        RestError::Internal(format!("background task failed: {e}"))
    }
}
