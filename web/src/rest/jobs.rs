//! Jobs: list (filter by `policy`, `client`, `status`, `job_type`), read, `stdout/`
//! (`?format=txt|json`), `cancel/` and `relaunch/`, limited to what the caller's grants reach
//! (cancel and relaunch need what launching the job's type needs).

use super::auth::Caller;
use super::error::{RestError, RestResult};
use super::objects::{self, JobOut, Names};
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
use service::types::JobFilter;

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
        scope: None,
    })
}

async fn list(
    Caller(c): Caller,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Envelope<JobOut>>> {
    let mut f = filter(&p)?;
    let page = p.page()?;
    f.limit = Some(page.size as i64);
    f.offset = Some(page.offset() as i64);
    let (count, jobs) = st.service.jobs_by_offset(&c, f).await?;
    let names = Names::load(&st, &c).await?;
    let results = jobs.into_iter().map(|j| objects::job(&names, j)).collect();
    Ok(Json(p.envelope(
        page,
        usize::try_from(count).unwrap_or(0),
        results,
    )?))
}

async fn detail(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<JobOut>> {
    let j = st.service.job(&c, JobId(id)).await?;
    Ok(Json(objects::job(&Names::load(&st, &c).await?, j)))
}

async fn stdout(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
    p: Params,
) -> RestResult<Response> {
    let format = p.get("format").unwrap_or("json");
    if !matches!(format, "txt" | "json") {
        return Err(RestError::field("format", "must be txt or json"));
    }
    let lines = st.service.job_output_text(&c, JobId(id), MAX_LINES).await?;
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
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<serde_json::Value>> {
    let j = st.service.job(&c, JobId(id)).await?;
    Ok(Json(json!({"can_cancel": !j.status.is_finished()})))
}

async fn cancel(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<StatusCode> {
    if st.service.cancel_job(&c, JobId(id)).await? {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(RestError::NotAllowed("the job has already finished".into()))
    }
}

async fn can_relaunch(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<serde_json::Value>> {
    let j = st.service.job(&c, JobId(id)).await?;
    Ok(Json(json!({"can_relaunch": j.status.is_finished()})))
}

async fn relaunch(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<(StatusCode, Json<Launched>)> {
    let j = st.service.relaunch_job(&c, JobId(id)).await?;
    let names = Names::load(&st, &c).await?;
    Ok((StatusCode::CREATED, Json(launched(&names, vec![j])?)))
}
