//! Pure domain types of CyBorgBackup: ids, inventory objects, policy types, jobs, cron
//! expressions and validation. No IO, no async runtime.

pub mod access;
pub mod catalog;
pub mod copies;
pub mod cron_expr;
pub mod entities;
pub mod health;
pub mod ids;
pub mod job;
pub mod location;
pub mod policy_secrets;
pub mod policy_type;
pub mod secret;
pub mod settings;
pub mod trust;
pub mod validate;

pub use access::{is_server_host, Grant, GrantScope, Role, Visibility};
pub use catalog::{
    ArchiveRef, CatalogState, ComparisonCounts, IngestSummary, ListingSink, SampledFile, SeriesKey,
};
pub use copies::{CopyInput, CopySettings, PolicyCopy, RecoveryState};
pub use cron_expr::{CronError, CronExpr};
pub use entities::*;
pub use health::{SeriesAge, SeriesFacts};
pub use ids::*;
pub use job::{JobProgress, JobStatus, JobType};
pub use location::RepoLocation;
pub use policy_type::{parse_extra_vars, restore_test_cron, PolicyType, TypedVars};
pub use secret::{Secret, MASK};
pub use trust::{RepositoryIdentity, RepositorySecurity, TamperState};
pub use validate::{FieldError, ValidationErrors};
