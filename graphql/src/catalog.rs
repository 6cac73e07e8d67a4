//! Catalog queries: fleet-wide file search, a file's version history, archive diff and
//! browse, change statistics and anomaly flags.

use crate::errors::{ApiError, ApiResult};
use crate::{caller, svc};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use model::{ArchiveId, ClientId, PolicyId, RepositoryId};
use service::types::{
    Anomaly, ArchiveBrief, ChangeStats, DiffKind, SearchOrder, SearchQuery, VersionFate,
};

#[derive(SimpleObject, Clone)]
pub struct CatalogArchive {
    pub id: i64,
    pub name: String,
    pub time: DateTime<Utc>,
}

impl From<ArchiveBrief> for CatalogArchive {
    fn from(a: ArchiveBrief) -> Self {
        CatalogArchive {
            id: a.id.0,
            name: a.name,
            time: a.time,
        }
    }
}

/// One file version: where it is, what it is, and which archives hold it.
#[derive(SimpleObject, Clone)]
pub struct CatalogHit {
    pub path: String,
    pub name: String,
    /// borg's type character: `-` file, `d` directory, `l` symlink.
    pub file_type: String,
    pub size: i64,
    pub mtime: DateTime<Utc>,
    pub mode: String,
    pub owner: String,
    pub group: String,
    pub healthy: bool,
    pub linktarget: String,
    pub client_id: i64,
    pub client_hostname: String,
    pub policy_id: i64,
    pub repository_id: i64,
    pub first_archive: CatalogArchive,
    pub last_archive: CatalogArchive,
    pub archive_count: i32,
    pub archive_ids: Vec<i64>,
}

fn hit(found: service::CatalogHit) -> CatalogHit {
    let (h, hostname) = (found.hit, found.client_hostname);
    CatalogHit {
        path: h.path,
        name: h.name,
        file_type: h.file_type,
        size: h.size.min(i64::MAX as u64) as i64,
        mtime: h.mtime,
        mode: h.mode,
        owner: h.user,
        group: h.group,
        healthy: h.healthy,
        linktarget: h.linktarget,
        client_id: h.series.client.0,
        client_hostname: hostname,
        policy_id: h.series.policy.0,
        repository_id: h.series.repository.0,
        first_archive: h.first_archive.into(),
        last_archive: h.last_archive.into(),
        archive_count: h.archive_count.min(i32::MAX as u32) as i32,
        archive_ids: h.archives.iter().map(|a| a.0).collect(),
    }
}

#[derive(SimpleObject)]
pub struct CatalogPage {
    /// Matching versions over all pages.
    pub total: i64,
    pub hits: Vec<CatalogHit>,
    /// Pass as `after` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(InputObject, Default)]
pub struct CatalogFilter {
    pub client: Option<i64>,
    pub policy: Option<i64>,
    pub repository: Option<i64>,
    pub archive: Option<i64>,
    /// `-` file, `d` directory, `l` symlink.
    pub file_type: Option<String>,
    pub min_size: Option<i64>,
    pub max_size: Option<i64>,
    pub mtime_from: Option<DateTime<Utc>>,
    pub mtime_to: Option<DateTime<Utc>>,
    /// Only versions present in the latest archive of their series.
    #[graphql(default)]
    pub latest_only: bool,
}

#[derive(SimpleObject)]
pub struct HistoryItem {
    pub version: CatalogHit,
    /// current, changed or deleted.
    pub fate: String,
    /// The archive where the change or deletion was first seen.
    pub fate_archive: Option<CatalogArchive>,
}

/// Change statistics of an archive against the previous archive of its series.
#[derive(SimpleObject)]
pub struct ArchiveChanges {
    pub archive_id: i64,
    /// The archive compared against; null for the first archive of a series.
    pub previous_archive_id: Option<i64>,
    pub added: i64,
    pub removed: i64,
    pub changed: i64,
    pub unchanged: i64,
    pub added_bytes: i64,
    pub removed_bytes: i64,
    pub changed_bytes_before: i64,
    pub changed_bytes_after: i64,
    /// Set when the archive departs from its series' usual range.
    pub anomaly: Option<CatalogAnomaly>,
}

fn changes(id: ArchiveId, c: ChangeStats, anomaly: Option<CatalogAnomaly>) -> ArchiveChanges {
    ArchiveChanges {
        archive_id: id.0,
        previous_archive_id: c.previous.map(|p| p.0),
        added: count(c.added),
        removed: count(c.removed),
        changed: count(c.changed),
        unchanged: count(c.unchanged),
        added_bytes: count(c.added_bytes),
        removed_bytes: count(c.removed_bytes),
        changed_bytes_before: count(c.changed_bytes_before),
        changed_bytes_after: count(c.changed_bytes_after),
        anomaly,
    }
}

/// An archive flagged as departing from its series' baseline (mass deletion or change).
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct CatalogAnomaly {
    pub archive: CatalogArchive,
    pub client_id: i64,
    pub client_hostname: String,
    pub policy_id: i64,
    pub repository_id: i64,
    /// `mass_deletion` or `mass_change`.
    pub kind: String,
    pub reason: String,
    pub previous_archive_id: Option<i64>,
    pub added: i64,
    pub removed: i64,
    pub changed: i64,
}

fn anomaly((a, hostname): (Anomaly, String)) -> CatalogAnomaly {
    CatalogAnomaly {
        client_hostname: hostname,
        archive: CatalogArchive {
            id: a.archive.0,
            name: a.name,
            time: a.time,
        },
        client_id: a.series.client.0,
        policy_id: a.series.policy.0,
        repository_id: a.series.repository.0,
        kind: a.kind.as_str().into(),
        reason: a.reason,
        previous_archive_id: a.changes.previous.map(|p| p.0),
        added: count(a.changes.added),
        removed: count(a.changes.removed),
        changed: count(a.changes.changed),
    }
}

/// One path that differs between two archives.
#[derive(SimpleObject)]
pub struct DiffItem {
    pub path: String,
    /// added, removed or changed.
    pub kind: String,
    /// The version in the first archive (removed, changed).
    pub old: Option<CatalogHit>,
    /// The version in the second archive (added, changed).
    pub new: Option<CatalogHit>,
}

/// Differences between two archives of a series: counts, and one page of entries by path.
#[derive(SimpleObject)]
pub struct DiffPage {
    pub added: i64,
    pub removed: i64,
    pub changed: i64,
    /// added + removed + changed: the number of entries over all pages.
    pub total: i64,
    pub entries: Vec<DiffItem>,
}

/// Children of a directory in one archive, one page, sorted by path.
#[derive(SimpleObject)]
pub struct BrowseResult {
    pub total: i64,
    pub entries: Vec<CatalogHit>,
}

#[derive(Default)]
pub struct CatalogQuery;

fn count(n: u64) -> i64 {
    n.min(i64::MAX as u64) as i64
}

/// The order of catalog search hits.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatalogOrder {
    /// Newest version first; for a name with punctuation or spaces, names containing it as
    /// typed come first.
    #[default]
    Newest,
    /// By path (at most 100,000 matches).
    Path,
    /// Largest first (at most 100,000 matches).
    Largest,
}

impl From<CatalogOrder> for SearchOrder {
    fn from(o: CatalogOrder) -> Self {
        match o {
            CatalogOrder::Newest => SearchOrder::Newest,
            CatalogOrder::Path => SearchOrder::Path,
            CatalogOrder::Largest => SearchOrder::Largest,
        }
    }
}

#[Object]
impl CatalogQuery {
    /// Searches every version of every file in every archive your grants reach. `query`
    /// forms: file-name words (`nginx.conf`), a substring of a name (`ginx`), a path prefix
    /// (`/etc/nginx/`), a glob (`*.sql.gz`), an exact path (`/etc/hosts`).
    #[graphql(complexity = "crate::cost::list(first, child_complexity)")]
    async fn catalog_search(
        &self,
        ctx: &Context<'_>,
        query: String,
        filter: Option<CatalogFilter>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
        #[graphql(default)] order_by: CatalogOrder,
    ) -> ApiResult<CatalogPage> {
        let c = caller(ctx).await?;
        let f = filter.unwrap_or_default();
        let nonneg = |v: Option<i64>, field: &str| -> ApiResult<Option<u64>> {
            Ok(v.map(|n| {
                u64::try_from(n).map_err(|_| ApiError::field(field, "must not be negative"))
            })
            .transpose()?)
        };
        let q = SearchQuery {
            text: query,
            client: f.client.map(ClientId),
            policy: f.policy.map(PolicyId),
            repository: f.repository.map(RepositoryId),
            archive: f.archive.map(ArchiveId),
            file_type: f.file_type,
            min_size: nonneg(f.min_size, "filter.minSize")?,
            max_size: nonneg(f.max_size, "filter.maxSize")?,
            mtime_from: f.mtime_from,
            mtime_to: f.mtime_to,
            latest_only: f.latest_only,
            limit: first.clamp(1, 1000) as usize,
            cursor: after,
            order: order_by.into(),
            series_scope: None,
        };
        let page = svc(ctx).catalog_search(&c, q).await?;
        Ok(CatalogPage {
            total: count(page.total),
            hits: page.hits.into_iter().map(hit).collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// Every version of one path on one client, oldest first, with what became of each.
    async fn file_history(
        &self,
        ctx: &Context<'_>,
        client: i64,
        path: String,
    ) -> ApiResult<Vec<HistoryItem>> {
        let c = caller(ctx).await?;
        let entries = svc(ctx).file_history(&c, ClientId(client), path).await?;
        Ok(entries
            .into_iter()
            .map(|e| {
                let (fate, fate_archive) = match e.fate {
                    VersionFate::Current => ("current", None),
                    VersionFate::Changed { archive } => ("changed", Some(archive.into())),
                    VersionFate::Deleted { archive } => ("deleted", Some(archive.into())),
                };
                HistoryItem {
                    version: hit(e.version),
                    fate: fate.into(),
                    fate_archive,
                }
            })
            .collect())
    }

    /// Added, removed and changed entries and bytes of an archive against the previous
    /// archive of its series, with its anomaly flag.
    async fn archive_changes(&self, ctx: &Context<'_>, archive: i64) -> ApiResult<ArchiveChanges> {
        let c = caller(ctx).await?;
        let id = ArchiveId(archive);
        let found = svc(ctx).archive_changes(&c, id).await?;
        Ok(changes(id, found.changes, found.anomaly.map(anomaly)))
    }

    /// Archives whose deletions or changes are far outside their series' usual range
    /// (more than 30% of entries removed, or more than 10x the median changes), newest first.
    async fn anomalies(
        &self,
        ctx: &Context<'_>,
        since: Option<DateTime<Utc>>,
    ) -> ApiResult<Vec<CatalogAnomaly>> {
        let c = caller(ctx).await?;
        let found = svc(ctx).anomalies(&c, since).await?;
        Ok(found.into_iter().map(anomaly).collect())
    }

    /// Differences from archive `a` to archive `b` (two archives of one series), computed
    /// from the catalog without calling borg.
    #[graphql(complexity = "crate::cost::list(first, child_complexity)")]
    async fn archive_diff(
        &self,
        ctx: &Context<'_>,
        a: i64,
        b: i64,
        #[graphql(default = 100)] first: i32,
        #[graphql(default = 0)] offset: i32,
    ) -> ApiResult<DiffPage> {
        let c = caller(ctx).await?;
        let d = svc(ctx)
            .archive_diff(&c, ArchiveId(a), ArchiveId(b), first, offset)
            .await?;
        Ok(DiffPage {
            added: count(d.added),
            removed: count(d.removed),
            changed: count(d.changed),
            total: count(d.added + d.removed + d.changed),
            entries: d
                .entries
                .into_iter()
                .map(|e| DiffItem {
                    path: e.path,
                    kind: match e.kind {
                        DiffKind::Added => "added",
                        DiffKind::Removed => "removed",
                        DiffKind::Changed => "changed",
                    }
                    .into(),
                    old: e.old.map(hit),
                    new: e.new.map(hit),
                })
                .collect(),
        })
    }

    /// Children of `directory` (`/` for the top) in one archive, sorted by path.
    #[graphql(complexity = "crate::cost::list(first, child_complexity)")]
    async fn browse(
        &self,
        ctx: &Context<'_>,
        archive: i64,
        #[graphql(default = "/")] directory: String,
        #[graphql(default = 100)] first: i32,
        #[graphql(default = 0)] offset: i32,
    ) -> ApiResult<BrowseResult> {
        let c = caller(ctx).await?;
        let (total, entries) = svc(ctx)
            .browse(&c, ArchiveId(archive), directory, first, offset)
            .await?;
        Ok(BrowseResult {
            total: count(total),
            entries: entries.into_iter().map(hit).collect(),
        })
    }
}
