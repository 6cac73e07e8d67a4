//! Maps the services' error to GraphQL errors with a machine-readable `code` extension
//! (`VALIDATION`, `NOT_FOUND`, `UNAUTHENTICATED`, `FORBIDDEN`, `CONFLICT`, `INTERNAL`) and the
//! offending fields: the one place where GraphQL learns what went wrong.

use async_graphql::ErrorExtensions;
use model::ValidationErrors;
use store::StoreError;

/// Every error a resolver returns: the services' error.
pub type ApiError = service::ServiceError;

/// The `code` extension of an error.
pub fn code(e: &ApiError) -> &'static str {
    match e {
        ApiError::Validation(_) => "VALIDATION",
        ApiError::NotFound(_) | ApiError::Gone(_) => "NOT_FOUND",
        ApiError::Unauthenticated => "UNAUTHENTICATED",
        ApiError::Forbidden(_) => "FORBIDDEN",
        ApiError::Conflict(_) | ApiError::Blocked(_) | ApiError::Upstream(_) => "CONFLICT",
        ApiError::RateLimited(_) => "RATE_LIMITED",
        ApiError::Internal(_) => "INTERNAL",
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
    let code = code(&e);
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

pub type ApiResult<T> = Result<T, GqlError>;
