//! Catalog entries as the original served them (`{id, url, archive_name, path, job, mode,
//! mtime, owner, group, size, healthy}`), answered from the versioned catalog: one entry per
//! file version, newest first, filtered by `archive_name` and `path` (any catalog search form:
//! exact path, `dir/` prefix, glob, name words). The id is the catalog's version id.

use super::auth::Caller;
use super::error::{RestError, RestResult};
use super::objects::API;
use super::page::{Envelope, Params};
use super::{both, Id};
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use indexer::{Catalog, SearchQuery, VersionHit};
use model::{ArchiveId, ClientId, PolicyId, RepositoryId};
use serde::Serialize;
use std::collections::HashMap;
use store::Store;

/// Deepest entry a page may start at (pages walk the catalog's cursor).
const MAX_OFFSET: usize = 100_000;
/// Largest chunk the catalog returns at once.
const CHUNK: usize = 1000;

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = both(r, "/api/v1/catalogs", get(list));
    both(r, "/api/v1/catalogs/{id}", get(detail))
}

#[derive(Serialize)]
pub(crate) struct CatalogOut {
    pub id: u64,
    pub url: String,
    pub archive_name: String,
    pub path: String,
    pub job: Option<i64>,
    pub mode: String,
    pub mtime: DateTime<Utc>,
    pub owner: String,
    pub group: String,
    pub size: u64,
    pub healthy: bool,
}

/// Converts hits; `archive` is the archive filtered on (else the newest archive holding each).
fn entries(
    store: &Store,
    hits: Vec<VersionHit>,
    archive: Option<(ArchiveId, &str)>,
) -> Vec<CatalogOut> {
    let mut jobs: HashMap<ArchiveId, Option<i64>> = HashMap::new();
    hits.into_iter()
        .map(|h| {
            let (aid, name) = match archive {
                Some((id, name)) => (id, name.to_string()),
                None => (h.last_archive.id, h.last_archive.name.clone()),
            };
            let job = *jobs
                .entry(aid)
                .or_insert_with(|| store.archive(aid).ok().and_then(|a| a.job).map(|j| j.0));
            CatalogOut {
                id: h.version_id,
                url: format!("{API}/catalogs/{}/", h.version_id),
                archive_name: name,
                path: h.path,
                job,
                mode: h.mode,
                mtime: h.mtime,
                owner: h.user,
                group: h.group,
                size: h.size,
                healthy: h.healthy,
            }
        })
        .collect()
}

/// One page of a search at an offset, walking the catalog's cursor. Returns the total too.
fn search_at(
    catalog: &Catalog,
    base: &SearchQuery,
    offset: usize,
    size: usize,
) -> Result<(u64, Vec<VersionHit>), indexer::CatalogError> {
    let mut skipped = 0;
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let need = if skipped < offset {
            offset - skipped
        } else {
            size - out.len()
        };
        let q = SearchQuery {
            limit: need.min(CHUNK),
            cursor: cursor.take(),
            ..base.clone()
        };
        let page = catalog.search(&q)?;
        for h in page.hits {
            if skipped < offset {
                skipped += 1;
            } else if out.len() < size {
                out.push(h);
            }
        }
        match page.next_cursor {
            Some(c) if out.len() < size => cursor = Some(c),
            _ => return Ok((page.total, out)),
        }
    }
}

async fn list(
    _: Caller,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Envelope<CatalogOut>>> {
    let page = p.page()?;
    if page.offset() > MAX_OFFSET {
        return Err(RestError::NotFound);
    }
    let text = p.get("path").unwrap_or("").to_string();
    if text.len() > 4096 {
        return Err(RestError::field("path", "must be at most 4096 characters"));
    }
    let mut base = SearchQuery {
        text,
        client: p.int("client")?.map(ClientId),
        policy: p.int("policy")?.map(PolicyId),
        repository: p.int("repository")?.map(RepositoryId),
        ..Default::default()
    };
    let mut archive = None;
    if let Some(name) = p.get("archive_name") {
        let found = st
            .store
            .archives(None, None, None)?
            .into_iter()
            .find(|a| a.name == name);
        match found {
            Some(a) => {
                base.archive = Some(a.id);
                archive = Some((a.id, a.name));
            }
            None => return Ok(Json(p.envelope(page, 0, Vec::new())?)),
        }
    }
    let catalog = st.catalog.clone();
    let (total, hits) =
        tokio::task::spawn_blocking(move || search_at(&catalog, &base, page.offset(), page.size))
            .await??;
    let results = entries(
        &st.store,
        hits,
        archive.as_ref().map(|(id, n)| (*id, n.as_str())),
    );
    Ok(Json(p.envelope(
        page,
        usize::try_from(total).unwrap_or(usize::MAX),
        results,
    )?))
}

async fn detail(_: Caller, State(st): State<AppState>, Id(id): Id) -> RestResult<Json<CatalogOut>> {
    let vid = u32::try_from(id).map_err(|_| RestError::NotFound)?;
    let catalog = st.catalog.clone();
    // The newest version at or below the id: the cursor `v{n}` lists versions before n.
    let before = vid.checked_add(1).ok_or(RestError::NotFound)?;
    let q = SearchQuery {
        limit: 1,
        cursor: Some(format!("v{before}")),
        ..Default::default()
    };
    let page = tokio::task::spawn_blocking(move || catalog.search(&q)).await??;
    let hits: Vec<_> = page
        .hits
        .into_iter()
        .filter(|h| h.version_id == u64::from(vid))
        .collect();
    entries(&st.store, hits, None)
        .pop()
        .map(Json)
        .ok_or(RestError::NotFound)
}
