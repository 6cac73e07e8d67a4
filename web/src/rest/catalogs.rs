//! Catalog entries as the original served them (`{id, url, archive_name, path, job, mode,
//! mtime, owner, group, size, healthy}`), answered from the versioned catalog: one entry per
//! file version, newest first, filtered by `archive_name` and `path` (any catalog search form:
//! exact path, `dir/` prefix, glob, name words). The id is the catalog's version id. Only
//! series the caller's grants reach are listed.

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
use model::{ClientId, JobId, PolicyId, RepositoryId};
use serde::Serialize;
use service::types::SearchQuery;
use service::CatalogHit;

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

/// Converts a hit; `archive` is the archive filtered on (else the newest archive holding it).
fn entry(found: CatalogHit, archive: Option<(&str, Option<JobId>)>) -> CatalogOut {
    let h = found.hit;
    let (name, job) = match archive {
        Some((name, job)) => (name.to_string(), job),
        None => (h.last_archive.name.clone(), found.last_archive_job),
    };
    CatalogOut {
        id: h.version_id,
        url: format!("{API}/catalogs/{}/", h.version_id),
        archive_name: name,
        path: h.path,
        job: job.map(|j| j.0),
        mode: h.mode,
        mtime: h.mtime,
        owner: h.user,
        group: h.group,
        size: h.size,
        healthy: h.healthy,
    }
}

async fn list(
    Caller(c): Caller,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Envelope<CatalogOut>>> {
    let page = p.page()?;
    let mut base = SearchQuery {
        text: p.get("path").unwrap_or("").to_string(),
        client: p.int("client")?.map(ClientId),
        policy: p.int("policy")?.map(PolicyId),
        repository: p.int("repository")?.map(RepositoryId),
        ..Default::default()
    };
    let mut archive = None;
    if let Some(name) = p.get("archive_name") {
        match st.service.archive_named(&c, name).await? {
            Some(a) => {
                base.archive = Some(a.id);
                archive = Some((a.name, a.job));
            }
            None => return Ok(Json(p.envelope(page, 0, Vec::new())?)),
        }
    }
    let found = st
        .service
        .catalog_search_offset(&c, base, page.offset(), page.size)
        .await
        .map_err(|e| RestError::from(e.rename_fields(&[("query", "path")])))?;
    let Some((total, hits)) = found else {
        return Err(RestError::NotFound);
    };
    let results = hits
        .into_iter()
        .map(|h| entry(h, archive.as_ref().map(|(n, j)| (n.as_str(), *j))))
        .collect();
    Ok(Json(p.envelope(
        page,
        usize::try_from(total).unwrap_or(usize::MAX),
        results,
    )?))
}

async fn detail(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<CatalogOut>> {
    let vid = u32::try_from(id).map_err(|_| RestError::NotFound)?;
    st.service
        .catalog_version(&c, vid)
        .await?
        .map(|h| Json(entry(h, None)))
        .ok_or(RestError::NotFound)
}
