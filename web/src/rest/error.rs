//! Every REST error and its HTTP mapping, in one place: the services' [`ServiceError`] becomes
//! a status and a Django-REST-Framework body (`{"detail": …}`, or `{"field": ["reason", …]}`
//! for validation errors). The download route answers with it too.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use model::ValidationErrors;
use serde_json::{Map, Value};
use service::ServiceError;

/// What a REST handler can fail with.
#[derive(Debug)]
pub(crate) enum RestError {
    /// 400 with one entry per offending field.
    Validation(ValidationErrors),
    /// 400 with a `detail` message (a request that cannot be processed as sent).
    BadRequest(String),
    /// 401: no credentials, or wrong ones.
    Unauthenticated(&'static str),
    /// 403: authenticated, but not allowed (why, when the services said).
    Forbidden(String),
    /// 404.
    NotFound,
    /// 405 for an action the object's state does not allow (e.g. cancelling a finished job).
    NotAllowed(String),
    /// 409: the change conflicts with stored data.
    Conflict(String),
    /// 410: a single-use link already used or expired.
    Gone(String),
    /// 502: a remote tool (borg) failed.
    BadGateway(String),
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
            RestError::Forbidden(m) => detail(
                StatusCode::FORBIDDEN,
                format!("You do not have permission to perform this action: {m}"),
            ),
            RestError::NotFound => detail(StatusCode::NOT_FOUND, "Not found."),
            RestError::NotAllowed(m) => detail(StatusCode::METHOD_NOT_ALLOWED, m),
            RestError::Conflict(m) => detail(StatusCode::CONFLICT, m),
            RestError::Gone(m) => detail(StatusCode::GONE, m),
            RestError::BadGateway(m) => detail(StatusCode::BAD_GATEWAY, m),
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

impl From<ServiceError> for RestError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Validation(v) => RestError::Validation(v),
            ServiceError::NotFound(_) => RestError::NotFound,
            ServiceError::Unauthenticated => {
                RestError::Unauthenticated("Authentication credentials were not provided.")
            }
            ServiceError::Forbidden(m) => RestError::Forbidden(m),
            ServiceError::Conflict(m) => RestError::Conflict(m),
            // The original answers 400 when a policy cannot start.
            ServiceError::Blocked(m) => RestError::BadRequest(m),
            ServiceError::Gone(m) => RestError::Gone(m),
            ServiceError::Upstream(m) => RestError::BadGateway(m),
            ServiceError::RateLimited(secs) => RestError::Throttled(secs),
            ServiceError::Internal(m) => RestError::Internal(m),
        }
    }
}

impl From<ValidationErrors> for RestError {
    fn from(v: ValidationErrors) -> Self {
        RestError::Validation(v)
    }
}
