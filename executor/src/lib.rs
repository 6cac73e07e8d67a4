//! Runs borg for CyBorgBackup: builds borg command lines per policy type, runs them through a
//! transport (local process today, SSH next), and manages jobs: launching policies, ordering and
//! locking, the cron scheduler, repository preparation, backups, catalog listings and pruning.

pub mod borg;
mod bus;
mod catalog_job;
mod cluster;
pub mod conntest;
mod copy_check;
pub mod credentials;
pub mod drill;
mod events;
mod identity;
mod jobs;
mod manager;
mod output;
mod prepare;
mod progress;
mod prune;
pub mod readiness;
mod requeue;
pub mod restore;
mod runner;
mod scheduler;
pub mod scrub;
mod sources;
pub mod ssh;
mod tamper;
mod targets;
pub mod transport;
pub mod vm;

pub use conntest::{ConnectionTest, TestStep};
pub use drill::DrillError;
pub use events::{FeedGap, JobEvent, StatusEntry, StatusFeed};
pub use manager::{Executor, ExecutorOptions, LaunchError};
pub use readiness::{Finding, Readiness, Severity};
pub use requeue::{CheckOptions, RequeueError};
pub use restore::{RestoreError, RestoreRequest};
pub use scheduler::SchedulerPulse;
pub use transport::{RemoteCommand, TransportError};
