//! Maps domain errors to GraphQL errors with a machine-readable code and the offending field.

use async_graphql::ErrorExtensions;
use model::ValidationErrors;
use store::StoreError;

/// Every error a resolver returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid input: {0}")]
    Validation(ValidationErrors),
    #[error("{0}")]
    NotFound(String),
    #[error("authentication required: log in or send an API token")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts; the seconds to wait travel as the `retryAfter` extension.
    #[error("too many failed logins: retry in {0} seconds")]
    RateLimited(u64),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "VALIDATION",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Unauthenticated => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::RateLimited(_) => "RATE_LIMITED",
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    pub fn field(field: &str, reason: impl Into<String>) -> Self {
        ApiError::Validation(ValidationErrors::single(field, reason))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            StoreError::Validation(v) => ApiError::Validation(v),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::Internal(other.to_string())
            }
        }
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(v: ValidationErrors) -> Self {
        ApiError::Validation(v)
    }
}

/// The error type of resolvers: a GraphQL error already carrying its extensions. It has no
/// `Display`, so async-graphql's blanket conversion never strips the code.
#[derive(Debug, Clone)]
pub struct GqlError(async_graphql::Error);

impl From<GqlError> for async_graphql::Error {
    fn from(e: GqlError) -> Self {
        e.0
    }
}

impl From<StoreError> for GqlError {
    fn from(e: StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<ValidationErrors> for GqlError {
    fn from(e: ValidationErrors) -> Self {
        ApiError::from(e).into()
    }
}

impl From<ApiError> for GqlError {
    fn from(e: ApiError) -> Self {
        GqlError(to_graphql(e))
    }
}

fn to_graphql(e: ApiError) -> async_graphql::Error {
    {
        let code = e.code();
        let fields = match &e {
            ApiError::Validation(v) => v.0.clone(),
            _ => Vec::new(),
        };
        let retry_after = match &e {
            ApiError::RateLimited(secs) => Some(*secs),
            _ => None,
        };
        async_graphql::Error::new(e.to_string()).extend_with(|_, ext| {
            ext.set("code", code);
            if let Some(secs) = retry_after {
                ext.set("retryAfter", secs);
            }
            if let Some(first) = fields.first() {
                ext.set("field", first.field.clone());
            }
            if !fields.is_empty() {
                let list: Vec<async_graphql::Value> = fields
                    .iter()
                    .map(|f| {
                        let mut m = async_graphql::indexmap::IndexMap::new();
                        m.insert(
                            async_graphql::Name::new("field"),
                            async_graphql::Value::from(f.field.clone()),
                        );
                        m.insert(
                            async_graphql::Name::new("reason"),
                            async_graphql::Value::from(f.reason.clone()),
                        );
                        async_graphql::Value::Object(m)
                    })
                    .collect();
                ext.set("fields", async_graphql::Value::List(list));
            }
        })
    }
}

pub type ApiResult<T> = Result<T, GqlError>;
