//! Policies: CRUD (superusers), `launch/` (operators whose grants cover the policy: one backup
//! job per enabled client) and `calendar/` (every run time of the current month).

use super::auth::Caller;
use super::body::Fields;
use super::error::{RestError, RestResult};
use super::objects::{self, JobOut, Names, PolicyOut};
use super::page::{Envelope, Params};
use super::{both, Id};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Datelike, Utc};
use model::{JobType, PolicyId};
use serde::Serialize;

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = both(r, "/api/v1/policies", get(list).post(create));
    let r = both(
        r,
        "/api/v1/policies/{id}",
        get(detail).patch(update).put(update).delete(delete),
    );
    let r = both(
        r,
        "/api/v1/policies/{id}/launch",
        post(launch).get(launch_info),
    );
    both(r, "/api/v1/policies/{id}/calendar", get(calendar))
}

fn policy_input(body: &[u8]) -> RestResult<model::PolicyInput> {
    let mut f = Fields::parse(body)?;
    let input = model::PolicyInput {
        name: f.string("name"),
        policy_type: f.string("policy_type"),
        extra_vars: f.json_text("extra_vars"),
        clients: f.ids("clients"),
        repository: f.int("repository"),
        copies: f.copies("copies"),
        rpo_hours: f.nullable_int("rpo_hours"),
        schedule: f.int("schedule"),
        keep_hourly: f.nullable_int("keep_hourly"),
        keep_daily: f.nullable_int("keep_daily"),
        keep_weekly: f.nullable_int("keep_weekly"),
        keep_monthly: f.nullable_int("keep_monthly"),
        keep_yearly: f.nullable_int("keep_yearly"),
        vmprovider: f.string("vmprovider"),
        mode_pull: f.boolean("mode_pull"),
        enabled: f.boolean("enabled"),
        prehook: f.string("prehook"),
        posthook: f.string("posthook"),
    };
    f.finish()?;
    Ok(input)
}

async fn list(
    Caller(c): Caller,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Envelope<PolicyOut>>> {
    let all: Vec<_> = st.service.policies(&c).await?;
    let names = Names::load(&st, &c).await?;
    let page = p.paginate(all)?;
    Ok(Json(Envelope {
        count: page.count,
        next: page.next,
        previous: page.previous,
        results: page
            .results
            .into_iter()
            .map(|x| objects::policy(&names, x))
            .collect(),
    }))
}

async fn detail(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<PolicyOut>> {
    let p = st.service.policy(&c, PolicyId(id)).await?;
    Ok(Json(objects::policy(&Names::load(&st, &c).await?, p)))
}

async fn create(
    Caller(c): Caller,
    State(st): State<AppState>,
    body: Bytes,
) -> RestResult<(StatusCode, Json<PolicyOut>)> {
    let input = policy_input(&body)?;
    let p = st.service.create_policy(&c, input).await?;
    let names = Names::load(&st, &c).await?;
    Ok((StatusCode::CREATED, Json(objects::policy(&names, p))))
}

async fn update(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
    body: Bytes,
) -> RestResult<Json<PolicyOut>> {
    let input = policy_input(&body)?;
    let p = st.service.update_policy(&c, PolicyId(id), input).await?;
    Ok(Json(objects::policy(&Names::load(&st, &c).await?, p)))
}

async fn delete(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<StatusCode> {
    st.service.delete_policy(&c, PolicyId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The answer to a launch: the backup job (as `job` and in full) and every job created.
#[derive(Serialize)]
pub(crate) struct Launched {
    pub job: i64,
    pub jobs: Vec<i64>,
    #[serde(flatten)]
    pub detail: JobOut,
}

pub(crate) fn launched(names: &Names, jobs: Vec<model::Job>) -> RestResult<Launched> {
    let ids = jobs.iter().map(|j| j.id.0).collect();
    let main = jobs
        .iter()
        .position(|j| j.job_type == JobType::Job)
        .unwrap_or(0);
    let Some(first) = jobs.into_iter().nth(main) else {
        return Err(RestError::BadRequest(
            "the policy has no enabled client to back up".into(),
        ));
    };
    Ok(Launched {
        job: first.id.0,
        jobs: ids,
        detail: objects::job(names, first),
    })
}

async fn launch(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<(StatusCode, Json<Launched>)> {
    let jobs = st.service.launch_policy(&c, PolicyId(id)).await?;
    let names = Names::load(&st, &c).await?;
    Ok((StatusCode::CREATED, Json(launched(&names, jobs)?)))
}

/// `GET launch/`: whether the policy can run now, and why not.
async fn launch_info(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<serde_json::Value>> {
    let blockers = st.service.policy_blockers(&c, PolicyId(id)).await?;
    Ok(Json(
        serde_json::json!({"can_launch": blockers.is_empty(), "blockers": blockers}),
    ))
}

async fn calendar(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<Vec<DateTime<Utc>>>> {
    let now = Utc::now();
    let runs = st
        .service
        .policy_calendar(&c, PolicyId(id), now.year(), now.month())
        .await?;
    Ok(Json(runs))
}
