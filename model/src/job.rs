//! Job types and the job state machine (pending → waiting → running → final state).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobType {
    /// `borg create` for one client of a policy.
    Job,
    /// Client preparation (facts, borg presence).
    PrepareClient,
    /// Repository preparation (`borg init` or verification).
    PrepareRepository,
    /// Streams an archive listing into the catalog.
    Catalog,
    /// `borg prune` + `borg compact` for one series.
    Prune,
    /// `borg check`.
    Check,
    /// `borg extract` to a host.
    Restore,
    /// Restore drill: sample files (or the dump) of one series extracted and verified.
    RestoreTest,
}

impl JobType {
    pub const ALL: [JobType; 8] = [
        JobType::Job,
        JobType::PrepareClient,
        JobType::PrepareRepository,
        JobType::Catalog,
        JobType::Prune,
        JobType::Check,
        JobType::Restore,
        JobType::RestoreTest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobType::Job => "job",
            JobType::PrepareClient => "prepare_client",
            JobType::PrepareRepository => "prepare_repository",
            JobType::Catalog => "catalog",
            JobType::Prune => "prune",
            JobType::Check => "check",
            JobType::Restore => "restore",
            JobType::RestoreTest => "restore_test",
        }
    }

    /// Whether the job takes borg's exclusive repository lock.
    pub fn writes_repository(self) -> bool {
        matches!(
            self,
            JobType::Job | JobType::PrepareRepository | JobType::Prune | JobType::Check
        )
    }
}

impl fmt::Display for JobType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown job type {s:?}"))
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Created, not yet considered by the task manager.
    Pending,
    /// Blocked by a lock or a dependency.
    Waiting,
    Running,
    Successful,
    /// The work ran and failed (non-zero exit status).
    Failed,
    /// The work could not run (configuration, transport, server error).
    Error,
    Canceled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 7] = [
        JobStatus::Pending,
        JobStatus::Waiting,
        JobStatus::Running,
        JobStatus::Successful,
        JobStatus::Failed,
        JobStatus::Error,
        JobStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Waiting => "waiting",
            JobStatus::Running => "running",
            JobStatus::Successful => "successful",
            JobStatus::Failed => "failed",
            JobStatus::Error => "error",
            JobStatus::Canceled => "canceled",
        }
    }

    /// A final state: the job will not change any more.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobStatus::Successful | JobStatus::Failed | JobStatus::Error | JobStatus::Canceled
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown job status {s:?}"))
    }
}

/// How far a running job has got, from borg's JSON progress (`--progress --log-json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobProgress {
    /// Files read so far.
    pub files: i64,
    /// Bytes read so far (before compression and deduplication).
    pub original_bytes: i64,
    pub compressed_bytes: i64,
    pub deduplicated_bytes: i64,
    /// The path borg is reading, or the current phase.
    pub current: String,
    /// Estimated completion in percent: against the previous archive of the series for a
    /// backup, or borg's own total when it reports one; `None` when unknown.
    pub percent: Option<f64>,
}
