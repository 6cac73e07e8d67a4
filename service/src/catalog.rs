//! The catalog: search, a file's history, archive changes, diff and browse, anomalies. Every
//! read is limited to the series the caller's grants reach (searches inside the index).

use crate::{authorize, Action, Caller, Inner, Result, Service, ServiceError, Target};
use indexer::{Anomaly, ChangeStats, DiffKind, SearchQuery, VersionFate, VersionHit};
use model::{ArchiveId, ClientId, JobId};
use std::collections::HashMap;

/// Longest accepted search text and directory.
const MAX_QUERY: usize = 1024;
const MAX_DIRECTORY: usize = 4096;
/// Deepest offset a REST page may start at, and the chunk walked to reach it.
const MAX_OFFSET: usize = 100_000;
const CHUNK: usize = 1000;

/// A file version with the hostname of its client and the job of its newest archive.
#[derive(Debug, Clone)]
pub struct CatalogHit {
    pub hit: VersionHit,
    pub client_hostname: String,
    pub last_archive_job: Option<JobId>,
}

/// A version in a file's history and what became of it.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub version: CatalogHit,
    pub fate: VersionFate,
}

/// One path that differs between two archives.
#[derive(Debug, Clone)]
pub struct DiffEntry {
    pub path: String,
    pub kind: DiffKind,
    pub old: Option<CatalogHit>,
    pub new: Option<CatalogHit>,
}

/// One page of search results.
#[derive(Debug, Clone)]
pub struct CatalogPage {
    pub total: u64,
    pub hits: Vec<CatalogHit>,
    pub next_cursor: Option<String>,
}

/// Differences between two archives: counts and one page of entries.
#[derive(Debug, Clone)]
pub struct DiffPage {
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    pub entries: Vec<DiffEntry>,
}

/// An archive's changes against the previous one of its series, with its anomaly flag.
#[derive(Debug, Clone)]
pub struct ArchiveChanges {
    pub changes: ChangeStats,
    pub anomaly: Option<(Anomaly, String)>,
}

/// Hostnames and archive jobs looked up once per call.
struct Names<'a> {
    i: &'a Inner,
    hosts: HashMap<ClientId, String>,
    jobs: HashMap<ArchiveId, Option<JobId>>,
}

impl<'a> Names<'a> {
    fn new(i: &'a Inner) -> Self {
        Names {
            i,
            hosts: HashMap::new(),
            jobs: HashMap::new(),
        }
    }

    fn host(&mut self, c: ClientId) -> String {
        let i = self.i;
        self.hosts
            .entry(c)
            .or_insert_with(|| i.store.client(c).map(|c| c.hostname).unwrap_or_default())
            .clone()
    }

    fn hit(&mut self, hit: VersionHit) -> CatalogHit {
        let i = self.i;
        let last = hit.last_archive.id;
        let job = *self
            .jobs
            .entry(last)
            .or_insert_with(|| i.store.archive(last).ok().and_then(|a| a.job));
        CatalogHit {
            client_hostname: self.host(hit.series.client),
            last_archive_job: job,
            hit,
        }
    }
}

/// Allows reading the catalog of an archive's series (not found outside the grants).
fn visible_archive(i: &Inner, caller: &Caller, id: ArchiveId) -> Result<()> {
    if caller.is_superuser() {
        return Ok(());
    }
    let a = i
        .store
        .archive(id)
        .map_err(|_| ServiceError::NotFound(format!("archive {id} is not in the catalog")))?;
    authorize(
        caller,
        Action::View,
        Target::Series {
            client: a.client,
            policy: a.policy,
        },
    )
}

fn page_args(first: i32, offset: i32) -> Result<(usize, usize)> {
    if offset < 0 {
        return Err(ServiceError::field("offset", "must not be negative"));
    }
    Ok((first.clamp(1, 1000) as usize, offset as usize))
}

impl Service {
    /// Searches every version the caller may see (`q.series_scope` is set from the grants).
    pub async fn catalog_search(&self, caller: &Caller, mut q: SearchQuery) -> Result<CatalogPage> {
        authorize(caller, Action::View, Target::Global)?;
        if q.text.len() > MAX_QUERY {
            return Err(ServiceError::field(
                "query",
                "must be at most 1024 characters",
            ));
        }
        q.series_scope = caller.series_scope();
        self.run(move |i| {
            let page = i.catalog.search(&q)?;
            let mut n = Names::new(i);
            Ok(CatalogPage {
                total: page.total,
                hits: page.hits.into_iter().map(|h| n.hit(h)).collect(),
                next_cursor: page.next_cursor,
            })
        })
        .await
    }

    /// One page of a search at an offset (the REST API's paging), walking the catalog's
    /// cursor; `None` past the deepest page served.
    pub async fn catalog_search_offset(
        &self,
        caller: &Caller,
        mut base: SearchQuery,
        offset: usize,
        size: usize,
    ) -> Result<Option<(u64, Vec<CatalogHit>)>> {
        authorize(caller, Action::View, Target::Global)?;
        if offset > MAX_OFFSET {
            return Ok(None);
        }
        if base.text.len() > MAX_DIRECTORY {
            return Err(ServiceError::field(
                "query",
                "must be at most 4096 characters",
            ));
        }
        base.series_scope = caller.series_scope();
        self.run(move |i| {
            let mut skipped = 0;
            let mut out = Vec::new();
            let mut cursor = None;
            let mut n = Names::new(i);
            loop {
                let need = if skipped < offset {
                    offset - skipped
                } else {
                    size - out.len()
                };
                let q = SearchQuery {
                    limit: need.clamp(1, CHUNK),
                    cursor: cursor.take(),
                    ..base.clone()
                };
                let page = i.catalog.search(&q)?;
                for h in page.hits {
                    if skipped < offset {
                        skipped += 1;
                    } else if out.len() < size {
                        out.push(n.hit(h));
                    }
                }
                match page.next_cursor {
                    Some(c) if out.len() < size => cursor = Some(c),
                    _ => return Ok(Some((page.total, out))),
                }
            }
        })
        .await
    }

    /// One version by its catalog id, if the caller may see its series.
    pub async fn catalog_version(
        &self,
        caller: &Caller,
        version: u32,
    ) -> Result<Option<CatalogHit>> {
        authorize(caller, Action::View, Target::Global)?;
        let Some(before) = version.checked_add(1) else {
            return Ok(None);
        };
        // The newest version at or below the id: the cursor `v{n}` lists versions before n.
        let q = SearchQuery {
            limit: 1,
            cursor: Some(format!("v{before}")),
            series_scope: caller.series_scope(),
            ..Default::default()
        };
        self.run(move |i| {
            let page = i.catalog.search(&q)?;
            let mut n = Names::new(i);
            Ok(page
                .hits
                .into_iter()
                .find(|h| h.version_id == u64::from(version))
                .map(|h| n.hit(h)))
        })
        .await
    }

    /// Every version of one path on one client, oldest first, in the series the caller reaches.
    pub async fn file_history(
        &self,
        caller: &Caller,
        client: ClientId,
        path: String,
    ) -> Result<Vec<HistoryEntry>> {
        authorize(caller, Action::View, Target::Client(client))?;
        if path.len() > MAX_DIRECTORY {
            return Err(ServiceError::field(
                "path",
                "must be at most 4096 characters",
            ));
        }
        let scope = caller.scope();
        self.run(move |i| {
            let entries = i.catalog.file_history(client, &path)?;
            let mut n = Names::new(i);
            Ok(entries
                .into_iter()
                .filter(|e| {
                    let s = e.version.series;
                    scope.as_ref().is_none_or(|v| v.series(s.client, s.policy))
                })
                .map(|e| HistoryEntry {
                    version: n.hit(e.version),
                    fate: e.fate,
                })
                .collect())
        })
        .await
    }

    /// An archive's changes against the previous archive of its series.
    pub async fn archive_changes(&self, caller: &Caller, id: ArchiveId) -> Result<ArchiveChanges> {
        authorize(caller, Action::View, Target::Global)?;
        let c = caller.clone();
        self.run(move |i| {
            visible_archive(i, &c, id)?;
            let changes = i.catalog.archive_changes(id).ok_or_else(|| {
                ServiceError::NotFound(format!("archive {id} is not in the catalog"))
            })?;
            let mut n = Names::new(i);
            let anomaly = i.catalog.archive_anomaly(id).map(|a| {
                let host = n.host(a.series.client);
                (a, host)
            });
            Ok(ArchiveChanges { changes, anomaly })
        })
        .await
    }

    /// Flagged archives since `since`, newest first, in the series the caller reaches (each
    /// with its client's hostname).
    pub async fn anomalies(
        &self,
        caller: &Caller,
        since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<(Anomaly, String)>> {
        authorize(caller, Action::View, Target::Global)?;
        let scope = caller.scope();
        self.run(move |i| {
            let mut n = Names::new(i);
            Ok(i.catalog
                .anomalies(since)
                .into_iter()
                .filter(|a| {
                    scope
                        .as_ref()
                        .is_none_or(|v| v.series(a.series.client, a.series.policy))
                })
                .map(|a| {
                    let host = n.host(a.series.client);
                    (a, host)
                })
                .collect())
        })
        .await
    }

    /// Differences from archive `a` to archive `b` of one series.
    pub async fn archive_diff(
        &self,
        caller: &Caller,
        a: ArchiveId,
        b: ArchiveId,
        first: i32,
        offset: i32,
    ) -> Result<DiffPage> {
        authorize(caller, Action::View, Target::Global)?;
        let (limit, offset) = page_args(first, offset)?;
        let c = caller.clone();
        self.run(move |i| {
            visible_archive(i, &c, a)?;
            visible_archive(i, &c, b)?;
            let d = i.catalog.archive_diff(a, b, limit, offset)?;
            let mut n = Names::new(i);
            Ok(DiffPage {
                added: d.added,
                removed: d.removed,
                changed: d.changed,
                entries: d
                    .entries
                    .into_iter()
                    .map(|e| DiffEntry {
                        path: e.path,
                        kind: e.kind,
                        old: e.old.map(|h| n.hit(h)),
                        new: e.new.map(|h| n.hit(h)),
                    })
                    .collect(),
            })
        })
        .await
    }

    /// Children of `directory` in one archive, sorted by path: (total, one page).
    pub async fn browse(
        &self,
        caller: &Caller,
        archive: ArchiveId,
        directory: String,
        first: i32,
        offset: i32,
    ) -> Result<(u64, Vec<CatalogHit>)> {
        authorize(caller, Action::View, Target::Global)?;
        if directory.len() > MAX_DIRECTORY {
            return Err(ServiceError::field(
                "directory",
                "must be at most 4096 characters",
            ));
        }
        let (limit, offset) = page_args(first, offset)?;
        let c = caller.clone();
        self.run(move |i| {
            visible_archive(i, &c, archive)?;
            let page = i.catalog.browse(archive, &directory, limit, offset)?;
            let mut n = Names::new(i);
            Ok((
                page.total,
                page.entries.into_iter().map(|h| n.hit(h)).collect(),
            ))
        })
        .await
    }
}
