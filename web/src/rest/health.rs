//! Fleet health and host setup over REST: `GET health/` (counters and every series, `?state=`
//! `ok|late|overdue|never|disabled|failing`, `?policy=`, `?client=`), `GET
//! policies/{id}/readiness/` (why a policy cannot run), and `POST clients/{id}/test/`,
//! `POST repositories/{id}/test/` (a connection test, step by step; superusers).

use super::auth::{Admin, Caller};
use super::error::{RestError, RestResult};
use super::page::Params;
use super::{both, Id};
use crate::AppState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use model::{ClientId, PolicyId, RepositoryId, SeriesAge};
use serde_json::{json, Value};

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = both(r, "/api/v1/health", get(health));
    let r = both(r, "/api/v1/policies/{id}/readiness", get(readiness));
    let r = both(r, "/api/v1/clients/{id}/test", post(test_client));
    both(r, "/api/v1/repositories/{id}/test", post(test_repository))
}

fn report_error(e: report::ReportError) -> RestError {
    match e {
        report::ReportError::Store(s) => s.into(),
        other => RestError::Internal(other.to_string()),
    }
}

async fn health(_: Caller, State(st): State<AppState>, p: Params) -> RestResult<Json<Value>> {
    let state = p.get("state").map(str::to_string);
    let want = match state.as_deref() {
        None | Some("failing") => None,
        Some(s) => Some(
            s.parse::<SeriesAge>()
                .map_err(|e| RestError::field("state", e))?,
        ),
    };
    let failing = state.as_deref() == Some("failing");
    let policy = p.int("policy")?;
    let client = p.int("client")?;
    let store = st.store.clone();
    let h = tokio::task::spawn_blocking(move || {
        report::health::fleet_health(&store, chrono::Utc::now())
    })
    .await?
    .map_err(report_error)?;
    let results: Vec<Value> = h
        .series
        .iter()
        .filter(|s| want.is_none_or(|w| s.state == w))
        .filter(|s| !failing || (s.last_failed && s.state != SeriesAge::Disabled))
        .filter(|s| policy.is_none_or(|x| s.row.policy.0 == x))
        .filter(|s| client.is_none_or(|x| s.row.client.0 == x))
        .map(|s| {
            let r = &s.row;
            json!({
                "policy": r.policy.0, "policy_name": r.policy_name,
                "client": r.client.0, "hostname": r.hostname,
                "repository": r.repository.0, "repository_name": r.repository_name,
                "crontab": r.crontab, "state": s.state.as_str(),
                "last_success": r.last_success, "last_success_job": r.last_success_job.map(|j| j.0),
                "age_seconds": s.age_seconds, "interval_seconds": s.interval_seconds,
                "next_run": s.next_run, "last_job": r.last_job.map(|j| j.0),
                "last_status": r.last_status.map(|x| x.as_str()),
                "last_explanation": r.last_explanation, "last_failed": s.last_failed,
                "drill_verdict": r.drill_verdict, "drill_time": r.drill_time,
                "repository_state": s.repository_state.as_str(),
            })
        })
        .collect();
    Ok(Json(json!({
        "total": h.series.len(), "ok": h.ok, "late": h.late, "overdue": h.overdue,
        "never": h.never, "disabled": h.disabled, "failing": h.failing,
        "drills_failed": h.drills_failed, "nearly_full": h.nearly_full,
        "count": results.len(), "results": results,
    })))
}

async fn readiness(_: Caller, State(st): State<AppState>, Id(id): Id) -> RestResult<Json<Value>> {
    let ex = st.executor.clone();
    let r = tokio::task::spawn_blocking(move || ex.policy_readiness(PolicyId(id))).await??;
    Ok(Json(json!({
        "policy": id,
        "ready": r.ready(),
        "findings": r.findings.iter().map(|f| json!({
            "code": f.code, "severity": f.severity.as_str(), "message": f.message, "fix": f.fix,
        })).collect::<Vec<_>>(),
    })))
}

fn test_json(t: executor::ConnectionTest) -> Value {
    json!({
        "host": t.host, "port": t.port, "user": t.user, "ok": t.ok(),
        "steps": t.steps.iter().map(|s| json!({"step": s.step, "ok": s.ok, "detail": s.detail})).collect::<Vec<_>>(),
    })
}

async fn test_client(_: Admin, State(st): State<AppState>, Id(id): Id) -> RestResult<Json<Value>> {
    let t = st.executor.test_client_connection(ClientId(id)).await?;
    Ok(Json(test_json(t)))
}

async fn test_repository(
    _: Admin,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<Value>> {
    let t = st
        .executor
        .test_repository_connection(RepositoryId(id))
        .await?;
    Ok(Json(test_json(t)))
}
