//! Catalog queries: fleet-wide file search and a file's version history.

use crate::errors::{ApiError, ApiResult};
use crate::{services, user};
use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use indexer::{ArchiveBrief, SearchQuery, VersionHit};
use model::{ArchiveId, ClientId, PolicyId, RepositoryId};

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

fn hit(store: &store::Store, h: VersionHit) -> CatalogHit {
    let hostname = store
        .client(h.series.client)
        .map(|c| c.hostname)
        .unwrap_or_default();
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

#[derive(Default)]
pub struct CatalogQuery;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, indexer::CatalogError> + Send + 'static,
) -> ApiResult<T> {
    Ok(tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("catalog task failed: {e}")))?
        .map_err(|e| ApiError::Internal(format!("catalog: {e}")))?)
}

#[Object]
impl CatalogQuery {
    /// Searches every version of every file in every archive. `query` forms: file-name words
    /// (`nginx.conf`), a substring of a name (`ginx`), a path prefix (`/etc/nginx/`), a glob
    /// (`*.sql.gz`), an exact path (`/etc/hosts`).
    async fn catalog_search(
        &self,
        ctx: &Context<'_>,
        query: String,
        filter: Option<CatalogFilter>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
    ) -> ApiResult<CatalogPage> {
        user(ctx)?;
        if query.len() > 1024 {
            return Err(ApiError::field("query", "must be at most 1024 characters").into());
        }
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
        };
        let s = services(ctx);
        let catalog = s.catalog.clone();
        let page = blocking(move || catalog.search(&q)).await?;
        Ok(CatalogPage {
            total: page.total.min(i64::MAX as u64) as i64,
            hits: page.hits.into_iter().map(|h| hit(&s.store, h)).collect(),
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
        user(ctx)?;
        let s = services(ctx);
        let catalog = s.catalog.clone();
        let entries = blocking(move || catalog.file_history(ClientId(client), &path)).await?;
        Ok(entries
            .into_iter()
            .map(|e| {
                let (fate, fate_archive) = match e.fate {
                    indexer::VersionFate::Current => ("current", None),
                    indexer::VersionFate::Changed { archive } => ("changed", Some(archive.into())),
                    indexer::VersionFate::Deleted { archive } => ("deleted", Some(archive.into())),
                };
                HistoryItem {
                    version: hit(&s.store, e.version),
                    fate: fate.into(),
                    fate_archive,
                }
            })
            .collect())
    }
}
