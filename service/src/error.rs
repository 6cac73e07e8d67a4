//! The one error of every service call. Each transport maps it in one place: GraphQL in
//! `graphql/src/errors.rs` (a `code` extension), REST in `web/src/rest/error.rs` (a status).

use indexer::CatalogError;
use model::{FieldError, ValidationErrors};
use store::StoreError;

/// Why a service call failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Bad input, naming each offending field and why.
    #[error("invalid input: {0}")]
    Validation(ValidationErrors),
    /// The object does not exist, or the caller's grants do not reach it.
    #[error("{0}")]
    NotFound(String),
    /// No valid credentials.
    #[error("authentication required: log in or send an API token")]
    Unauthenticated,
    /// Authenticated, but the role or grants do not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// The change conflicts with stored data or the object's state.
    #[error("{0}")]
    Conflict(String),
    /// The action cannot start now (a disabled schedule, repository or client).
    #[error("{0}")]
    Blocked(String),
    /// A single-use link was used already or expired.
    #[error("{0}")]
    Gone(String),
    /// Too many failed logins; the seconds to wait.
    #[error("too many failed logins: retry in {0} seconds")]
    RateLimited(u64),
    /// A remote tool (borg, ssh) failed.
    #[error("{0}")]
    Upstream(String),
    /// A fault of the server; the cause is logged.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

impl ServiceError {
    /// A validation error on one field.
    pub fn field(field: &str, reason: impl Into<String>) -> Self {
        ServiceError::Validation(ValidationErrors::single(field, reason))
    }

    /// Renames fields of a validation error (a transport that names them differently).
    pub fn rename_fields(self, names: &[(&str, &str)]) -> Self {
        match self {
            ServiceError::Validation(v) => ServiceError::Validation(ValidationErrors(
                v.0.into_iter()
                    .map(|f| FieldError {
                        field: names
                            .iter()
                            .find(|(ours, _)| *ours == f.field)
                            .map_or(f.field, |(_, theirs)| theirs.to_string()),
                        reason: f.reason,
                    })
                    .collect(),
            )),
            other => other,
        }
    }

    fn internal(what: &str, e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, what, "service call failed");
        ServiceError::Internal(format!("{what}: {e}"))
    }
}

impl From<ValidationErrors> for ServiceError {
    fn from(v: ValidationErrors) -> Self {
        ServiceError::Validation(v)
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => ServiceError::NotFound(e.to_string()),
            StoreError::Validation(v) => ServiceError::Validation(v),
            StoreError::Conflict(m) => ServiceError::Conflict(m),
            other => ServiceError::internal("store", other),
        }
    }
}

impl From<executor::LaunchError> for ServiceError {
    fn from(e: executor::LaunchError) -> Self {
        match e {
            executor::LaunchError::Blocked(_) => ServiceError::Blocked(e.to_string()),
            executor::LaunchError::Store(s) => s.into(),
        }
    }
}

impl From<executor::RequeueError> for ServiceError {
    fn from(e: executor::RequeueError) -> Self {
        match e {
            executor::RequeueError::Store(s) => s.into(),
            other => ServiceError::Conflict(other.to_string()),
        }
    }
}

impl From<executor::RestoreError> for ServiceError {
    fn from(e: executor::RestoreError) -> Self {
        match e {
            executor::RestoreError::Validation(v) => ServiceError::Validation(v),
            executor::RestoreError::Store(s) => s.into(),
            e @ executor::RestoreError::Repository(_) => ServiceError::Conflict(e.to_string()),
        }
    }
}

impl From<executor::restore::DownloadError> for ServiceError {
    fn from(e: executor::restore::DownloadError) -> Self {
        use executor::restore::DownloadError as D;
        match e {
            D::UnknownTicket => ServiceError::NotFound(e.to_string()),
            D::Gone => ServiceError::Gone(e.to_string()),
            D::WrongUser => ServiceError::Forbidden(e.to_string()),
            D::Borg(m) => ServiceError::Upstream(m),
            D::Store(s) => s.into(),
        }
    }
}

impl From<executor::DrillError> for ServiceError {
    fn from(e: executor::DrillError) -> Self {
        match e {
            executor::DrillError::Store(s) => s.into(),
            e @ executor::DrillError::ClientNotInPolicy { .. } => {
                ServiceError::field("client", e.to_string())
            }
            e @ executor::DrillError::NoClient(_) => ServiceError::Conflict(e.to_string()),
            e @ executor::DrillError::RepositoryNotInPolicy { .. } => {
                ServiceError::field("repository", e.to_string())
            }
        }
    }
}

impl From<CatalogError> for ServiceError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::UnknownArchive(id) => {
                ServiceError::NotFound(format!("archive {id} is not in the catalog"))
            }
            CatalogError::DifferentSeries(..) => ServiceError::field("b", e.to_string()),
            CatalogError::InvalidQuery(m) => ServiceError::field("query", m),
            other => ServiceError::internal("catalog", other),
        }
    }
}

impl From<report::ReportError> for ServiceError {
    fn from(e: report::ReportError) -> Self {
        use report::ReportError as R;
        match e {
            R::Store(s) => s.into(),
            R::Invalid { field, reason } => ServiceError::field(field, reason),
            R::NotConfigured(m) => {
                ServiceError::field("mail", format!("mail is not configured: {m}"))
            }
            other => ServiceError::internal("report", other),
        }
    }
}

impl From<executor::ssh::KeyError> for ServiceError {
    fn from(e: executor::ssh::KeyError) -> Self {
        use executor::ssh::KeyError as K;
        match e {
            K::Invalid(m) => ServiceError::field("privateKey", m),
            K::Passphrase | K::NeedsPassphrase => ServiceError::field("passphrase", e.to_string()),
            K::Store(s) => s.into(),
            other => ServiceError::internal("ssh key", other),
        }
    }
}
