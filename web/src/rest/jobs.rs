//! Jobs: list (filter by `policy`, `client`, `status`, `job_type`), read, `stdout/`
//! (`?format=txt|json`), `cancel/` and `relaunch/` — reads and actions for any user.

use super::auth::Caller;
use super::error::{RestError, RestResult};
use super::objects::{self, JobOut};
use super::page::{Envelope, Params};
use super::policies::{launched, Launched};
use super::{both, Id};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use model::{ClientId, JobId, JobStatus, JobType, PolicyId};
use serde_json::json;
use store::JobFilter;

/// Most output lines returned by `stdout/`.
const MAX_LINES: usize = 200_000;

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = both(r, "/api/v1/jobs", get(list));
    let r = both(r, "/api/v1/jobs/{id}", get(detail));
    let r = both(r, "/api/v1/jobs/{id}/stdout", get(stdout));
    let r = both(r, "/api/v1/jobs/{id}/cancel", get(can_cancel).post(cancel));
    both(
        r,
        "/api/v1/jobs/{id}/relaunch",
        get(can_relaunch).post(relaunch),
    )
}

fn filter(p: &Params) -> RestResult<JobFilter> {
    let status = p
        .get("status")
        .map(|s| {
            s.parse::<JobStatus>()
                .map_err(|e| RestError::field("status", e))
        })
        .transpose()?;
    let job_type = p
        .get("job_type")
        .map(|s| {
            s.parse::<JobType>()
                .map_err(|e| RestError::field("job_type", e))
        })
        .transpose()?;
    Ok(JobFilter {
        policy: p.int("policy")?.map(PolicyId),
        client: p.int("client")?.map(ClientId),
        status,
        job_type,
        limit: None,
        offset: None,
    })
}

async fn list(
    _: Caller,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Envelope<JobOut>>> {
    let mut f = filter(&p)?;
    let page = p.page()?;
    let count = st.store.count_jobs(&f)?;
    f.limit = Some(page.size as i64);
    f.offset = Some(page.offset() as i64);
    let jobs = st.store.jobs(&f)?;
    let results = jobs
        .into_iter()
        .map(|j| objects::job(&st.store, j))
        .collect();
    Ok(Json(p.envelope(
        page,
        usize::try_from(count).unwrap_or(0),
        results,
    )?))
}

async fn detail(_: Caller, State(st): State<AppState>, Id(id): Id) -> RestResult<Json<JobOut>> {
    let j = st.store.job(JobId(id))?;
    Ok(Json(objects::job(&st.store, j)))
}

async fn stdout(
    _: Caller,
    State(st): State<AppState>,
    Id(id): Id,
    p: Params,
) -> RestResult<Response> {
    let format = p.get("format").unwrap_or("json");
    if !matches!(format, "txt" | "json") {
        return Err(RestError::field("format", "must be txt or json"));
    }
    st.store.job(JobId(id))?;
    let store = st.store.clone();
    let lines = tokio::task::spawn_blocking(move || -> Result<Vec<String>, store::StoreError> {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let chunk = store.job_output(JobId(id), after, 10_000)?;
            let Some(last) = chunk.last() else { break };
            after = last.seq;
            out.extend(chunk.into_iter().map(|l| l.text));
            if out.len() >= MAX_LINES {
                out.truncate(MAX_LINES);
                break;
            }
        }
        Ok(out)
    })
    .await??;
    let n = lines.len();
    let mut content = lines.join("\n");
    if n > 0 {
        content.push('\n');
    }
    if format == "txt" {
        return Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            content,
        )
            .into_response());
    }
    Ok(Json(json!({
        "range": {"start": 0, "end": n, "absolute_end": n},
        "content": content,
    }))
    .into_response())
}

async fn can_cancel(
    _: Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<serde_json::Value>> {
    let j = st.store.job(JobId(id))?;
    Ok(Json(json!({"can_cancel": !j.status.is_finished()})))
}

async fn cancel(_: Caller, State(st): State<AppState>, Id(id): Id) -> RestResult<StatusCode> {
    if st.executor.cancel_job(JobId(id))? {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(RestError::NotAllowed("the job has already finished".into()))
    }
}

async fn can_relaunch(
    _: Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<serde_json::Value>> {
    let j = st.store.job(JobId(id))?;
    Ok(Json(json!({"can_relaunch": j.status.is_finished()})))
}

async fn relaunch(
    Caller(u): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<(StatusCode, Json<Launched>)> {
    let j = st.executor.relaunch_job(JobId(id), Some(u.id))?;
    Ok((StatusCode::CREATED, Json(launched(&st, vec![j])?)))
}
