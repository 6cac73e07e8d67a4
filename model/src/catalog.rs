//! Catalog-facing types shared by the executor (which produces archive listings) and the
//! indexer (which ingests them), so neither crate needs the other.

use crate::ids::{ArchiveId, ClientId, PolicyId, RepositoryId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::BufRead;
use std::str::FromStr;

/// The archives of one (policy, client) in one repository form a series; file versions are
/// deduplicated within a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SeriesKey {
    pub repository: RepositoryId,
    pub policy: PolicyId,
    pub client: ClientId,
}

/// What the indexer needs to know about an archive to ingest or display it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveRef {
    pub id: ArchiveId,
    pub name: String,
    pub series: SeriesKey,
    /// When borg says the archive was created (UTC).
    pub time: DateTime<Utc>,
}

/// Ingestion state of one archive's catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CatalogState {
    Pending,
    Running,
    Complete,
    Failed,
}

impl CatalogState {
    pub fn as_str(self) -> &'static str {
        match self {
            CatalogState::Pending => "pending",
            CatalogState::Running => "running",
            CatalogState::Complete => "complete",
            CatalogState::Failed => "failed",
        }
    }
}

impl fmt::Display for CatalogState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CatalogState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pending" => CatalogState::Pending,
            "running" => CatalogState::Running,
            "complete" => CatalogState::Complete,
            "failed" => CatalogState::Failed,
            other => return Err(format!("unknown catalog state {other:?}")),
        })
    }
}

/// Counts produced by ingesting one archive listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestSummary {
    /// Entries in the listing.
    pub entries: u64,
    /// Versions first seen in this archive (new or changed files).
    pub new_versions: u64,
    /// Paths present in the previous archive of the series but not in this one.
    pub removed: u64,
}

/// A regular file picked from the catalog for a restore drill: the version an archive holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampledFile {
    pub archive: ArchiveId,
    pub archive_name: String,
    /// Absolute path (leading `/`); borg's own path is this without the leading `/`.
    pub path: String,
    pub size: u64,
    pub mtime: DateTime<Utc>,
}

/// Receives a streamed `borg list --json-lines` listing. Implemented by the indexer, called by
/// the executor's catalog job; the composition root wires the two together.
/// A copy archive compared with the primary archive of the same run: how many paths are the
/// same, missing from the copy, extra in it, changed; how many differences a file modified
/// between the two runs explains, and how many nothing explains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComparisonCounts {
    pub same: u64,
    pub missing: u64,
    pub extra: u64,
    pub changed: u64,
    pub between_runs: u64,
    pub unexplained: u64,
}

pub trait ListingSink: Send + Sync {
    /// Ingests one archive. Blocking: call it off the async runtime.
    fn ingest(
        &self,
        archive: &ArchiveRef,
        listing: &mut dyn BufRead,
    ) -> Result<IngestSummary, String>;

    /// Forgets an archive that is gone from its repository (after a successful listing).
    /// Blocking: call it off the async runtime.
    /// Why an ingested archive departs from its series' usual range, if it does.
    fn anomaly(&self, _archive: ArchiveId) -> Option<String> {
        None
    }

    fn forget(&self, archive: ArchiveId) -> Result<(), String> {
        Err(format!("this catalog cannot forget archive {archive}"))
    }

    /// Up to `max` regular files of a series for a restore drill, spread over its latest,
    /// oldest and middle archives, none larger than `max_size` bytes. Blocking.
    fn sample(
        &self,
        _series: &SeriesKey,
        _max: usize,
        _max_size: u64,
    ) -> Result<Vec<SampledFile>, String> {
        Err("this catalog cannot sample files".into())
    }

    /// Compares a copy archive with its primary; `since` is when the earlier run started.
    /// Blocking.
    fn compare(
        &self,
        _primary: ArchiveId,
        _copy: ArchiveId,
        _since: DateTime<Utc>,
    ) -> Result<ComparisonCounts, String> {
        Err("this catalog cannot compare archives".into())
    }
}
