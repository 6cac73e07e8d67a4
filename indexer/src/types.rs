//! Public request and result types of the catalog.

use chrono::{DateTime, Utc};
use model::catalog::IngestSummary;
use model::{ArchiveId, ClientId, PolicyId, RepositoryId, SeriesKey};
use serde::{Deserialize, Serialize};

/// A catalog search. `text` forms:
/// - words of file names: `nginx.conf` (also matches `nginx-conf`);
/// - substring of a file name: `ginx` finds `nginx.conf.bak` (two characters or more;
///   a single character finds it as a whole word only); case-insensitive;
/// - path prefix, ending with `/`: `/etc/nginx/`;
/// - glob, containing `*` or `?`: `*.sql.gz` on names (case-insensitive), or on whole paths
///   when it contains a `/` (case-sensitive): `/var/log/*.gz`;
/// - exact path, starting with `/`: that path, or if none, every path starting with it;
/// - path words, containing `/` but not starting with it: `nginx/sites-enabled`;
/// - empty: everything (with the filters).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchQuery {
    pub text: String,
    pub client: Option<ClientId>,
    pub policy: Option<PolicyId>,
    pub repository: Option<RepositoryId>,
    /// Only versions held by this archive.
    pub archive: Option<ArchiveId>,
    /// Borg type character: `-` file, `d` directory, `l` symlink, ...
    pub file_type: Option<String>,
    pub min_size: Option<u64>,
    pub max_size: Option<u64>,
    pub mtime_from: Option<DateTime<Utc>>,
    pub mtime_to: Option<DateTime<Utc>>,
    /// Only versions held by the latest archive of their series.
    pub latest_only: bool,
    /// Page size; 0 means the default (50). Capped at 1000.
    pub limit: usize,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// The order of the hits.
    #[serde(default)]
    pub order: SearchOrder,
    /// Only versions of series whose client or policy is listed (what a non-superuser may
    /// see); `None`: every series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_scope: Option<SeriesScope>,
}

/// The order of search hits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SearchOrder {
    /// Newest version first; a name search lists names containing the text as typed first.
    #[default]
    Newest,
    /// By path, then newest first (at most [`SORT_LIMIT`] matches).
    Path,
    /// Largest first, then newest (at most [`SORT_LIMIT`] matches).
    Largest,
}

/// The most matches a search sorts by path or size; more must be narrowed by filters.
pub const SORT_LIMIT: u64 = 100_000;

/// Series reached through grants: any series of these clients, or of these policies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesScope {
    pub clients: Vec<ClientId>,
    pub policies: Vec<PolicyId>,
}

/// An archive as shown with a hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveBrief {
    pub id: ArchiveId,
    pub name: String,
    pub time: DateTime<Utc>,
}

/// One file version and the archives of its series that hold it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionHit {
    /// Catalog-internal id of the version (stable until the catalog is rebuilt).
    pub version_id: u64,
    /// Absolute path (leading `/`).
    pub path: String,
    pub name: String,
    pub file_type: String,
    pub size: u64,
    pub mtime: DateTime<Utc>,
    pub mode: String,
    pub user: String,
    pub group: String,
    pub healthy: bool,
    pub linktarget: String,
    pub series: SeriesKey,
    /// Oldest archive holding the version.
    pub first_archive: ArchiveBrief,
    /// Newest archive holding the version.
    pub last_archive: ArchiveBrief,
    pub archive_count: u32,
    /// Every archive holding the version, oldest first.
    pub archives: Vec<ArchiveId>,
}

/// A page of search results, newest versions first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchPage {
    /// Number of matching versions (all pages).
    pub total: u64,
    pub hits: Vec<VersionHit>,
    pub next_cursor: Option<String>,
}

/// What followed a version in its series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum VersionFate {
    /// The latest archive of the series still holds this version.
    Current,
    /// The next archive holds another version of the path.
    Changed { archive: ArchiveBrief },
    /// The next archive holds no version of the path: it was deleted before that archive.
    Deleted { archive: ArchiveBrief },
}

/// One version in a file's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub version: VersionHit,
    /// What the archive after `version.last_archive` shows.
    pub fate: VersionFate,
}

/// Kind of difference between two archives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiffKind {
    Added,
    Removed,
    Changed,
}

/// One path that differs between two archives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffEntry {
    pub path: String,
    pub kind: DiffKind,
    /// Version in the first archive (removed, changed).
    pub old: Option<VersionHit>,
    /// Version in the second archive (added, changed).
    pub new: Option<VersionHit>,
}

/// Difference between two archives of a series, entries sorted by path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchiveDiff {
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    pub entries: Vec<DiffEntry>,
}

/// How a path differs between two archives of different series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareKind {
    /// In the first archive only.
    Missing,
    /// In the second archive only.
    Extra,
    /// In both, with another size or mtime.
    Changed,
}

/// One path that differs: (size, mtime in microseconds) in each archive that has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compared {
    pub path: String,
    pub kind: CompareKind,
    pub a: Option<(u64, i64)>,
    pub b: Option<(u64, i64)>,
    /// The file was modified after the earlier of the two runs started: a change between the
    /// runs, not a defect of the copy.
    pub between_runs: bool,
}

/// Two archives of different series compared by path, size and mtime.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArchiveComparison {
    /// Paths with the same size and mtime in both.
    pub same: u64,
    pub missing: u64,
    pub extra: u64,
    pub changed: u64,
    /// Differences explained by a file modified between the two runs.
    pub between_runs: u64,
    /// Paths missing from the copy or changed in it with no change between the runs.
    pub unexplained: u64,
    /// The differences, by path (missing and changed first), at most `compare::MAX_LISTED`.
    pub differences: Vec<Compared>,
}

/// Children of a directory in one archive, sorted by path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrowsePage {
    pub total: u64,
    pub entries: Vec<VersionHit>,
}

/// Change statistics of an archive against the previous archive of its series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeStats {
    /// The archive compared against (None for the first archive of a series).
    pub previous: Option<ArchiveId>,
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub added_bytes: u64,
    pub removed_bytes: u64,
    /// Size of changed entries in the previous archive.
    pub changed_bytes_before: u64,
    /// Size of changed entries in this archive.
    pub changed_bytes_after: u64,
}

/// Result of ingesting one archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestReport {
    pub archive: ArchiveId,
    pub summary: IngestSummary,
    pub changes: ChangeStats,
    /// True when the archive was already ingested and nothing was done.
    pub already_ingested: bool,
}

/// Size of the catalog.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogStats {
    pub archives: u64,
    pub series: u64,
    /// Live versions (documents held by at least one archive).
    pub versions: u64,
    /// Documents in the index (may briefly include versions awaiting deletion).
    pub docs: u64,
    /// Bytes used on disk by the whole catalog directory.
    pub bytes_on_disk: u64,
}

/// Why an archive was flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// A large share of the previous archive's entries is gone.
    MassDeletion,
    /// Far more paths changed than usual in the series.
    MassChange,
}

impl AnomalyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::MassDeletion => "mass_deletion",
            AnomalyKind::MassChange => "mass_change",
        }
    }
}

/// An archive whose changes depart from its series' usual range (a ransomware or
/// broken-exclude signal), with a human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    pub archive: ArchiveId,
    pub name: String,
    pub time: DateTime<Utc>,
    pub series: SeriesKey,
    pub kind: AnomalyKind,
    pub reason: String,
    pub changes: ChangeStats,
}
