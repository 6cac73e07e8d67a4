//! Policies: CRUD (superusers), `launch/` (any user: one backup job per enabled client) and
//! `calendar/` (every run time of the current month by the policy's schedule).

use super::auth::{Admin, Caller};
use super::body::Fields;
use super::error::{RestError, RestResult};
use super::objects::{self, JobOut, PolicyOut};
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
    _: Caller,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Envelope<PolicyOut>>> {
    let all: Vec<_> = st.store.policies()?;
    let page = p.paginate(all)?;
    Ok(Json(Envelope {
        count: page.count,
        next: page.next,
        previous: page.previous,
        results: page
            .results
            .into_iter()
            .map(|x| objects::policy(&st.store, x))
            .collect(),
    }))
}

async fn detail(_: Caller, State(st): State<AppState>, Id(id): Id) -> RestResult<Json<PolicyOut>> {
    let p = st.store.policy(PolicyId(id))?;
    Ok(Json(objects::policy(&st.store, p)))
}

async fn create(
    Admin(u): Admin,
    State(st): State<AppState>,
    body: Bytes,
) -> RestResult<(StatusCode, Json<PolicyOut>)> {
    let input = policy_input(&body)?;
    let p = st.store.create_policy(&input, Some(u.id))?;
    Ok((StatusCode::CREATED, Json(objects::policy(&st.store, p))))
}

async fn update(
    Admin(u): Admin,
    State(st): State<AppState>,
    Id(id): Id,
    body: Bytes,
) -> RestResult<Json<PolicyOut>> {
    let input = policy_input(&body)?;
    let p = st.store.update_policy(PolicyId(id), &input, Some(u.id))?;
    Ok(Json(objects::policy(&st.store, p)))
}

async fn delete(_: Admin, State(st): State<AppState>, Id(id): Id) -> RestResult<StatusCode> {
    st.store.delete_policy(PolicyId(id))?;
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

pub(crate) fn launched(st: &AppState, jobs: Vec<model::Job>) -> RestResult<Launched> {
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
        detail: objects::job(&st.store, first),
    })
}

async fn launch(
    Caller(u): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<(StatusCode, Json<Launched>)> {
    let jobs = st
        .executor
        .launch_policy(PolicyId(id), Some(u.id), "manual")?;
    Ok((StatusCode::CREATED, Json(launched(&st, jobs)?)))
}

/// `GET launch/`: whether the policy can run now, and why not.
async fn launch_info(
    _: Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<serde_json::Value>> {
    let p = st.store.policy(PolicyId(id))?;
    let blockers = st.store.policy_blockers(&p)?;
    Ok(Json(
        serde_json::json!({"can_launch": blockers.is_empty(), "blockers": blockers}),
    ))
}

async fn calendar(
    _: Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<Vec<DateTime<Utc>>>> {
    let p = st.store.policy(PolicyId(id))?;
    let s = st.store.schedule(p.schedule)?;
    let now = Utc::now();
    // A run every minute is at most 44640 a month.
    let runs = s
        .cron()
        .map(|c| c.calendar(now.year(), now.month(), 50_000))
        .unwrap_or_default();
    Ok(Json(runs))
}
