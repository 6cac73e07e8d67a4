//! Fleet health and host setup over REST: `GET health/` (counters and every series, `?state=`
//! `ok|late|overdue|never|disabled|failing`, `?policy=`, `?client=`), `GET
//! policies/{id}/readiness/` (why a policy cannot run), and `POST clients/{id}/test/`,
//! `POST repositories/{id}/test/` (a connection test, step by step; superusers).

use super::auth::Caller;
use super::error::RestResult;
use super::page::Params;
use super::{both, Id};
use crate::AppState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use model::{ClientId, PolicyId, RepositoryId};
use serde_json::{json, Value};
use service::health::{ConnectionTest, FleetFilter};

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = both(r, "/api/v1/health", get(health));
    let r = both(r, "/api/v1/policies/{id}/readiness", get(readiness));
    let r = both(r, "/api/v1/clients/{id}/test", post(test_client));
    both(r, "/api/v1/repositories/{id}/test", post(test_repository))
}

async fn health(
    Caller(c): Caller,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Value>> {
    let filter = FleetFilter {
        state: p.get("state").map(str::to_string),
        policy: p.int("policy")?.map(PolicyId),
        client: p.int("client")?.map(ClientId),
    };
    let h = st.service.fleet_health(&c, filter).await?;
    let results: Vec<Value> = h
        .series
        .iter()
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
        "total": h.ok + h.late + h.overdue + h.never + h.disabled,
        "ok": h.ok, "late": h.late, "overdue": h.overdue,
        "never": h.never, "disabled": h.disabled, "failing": h.failing,
        "drills_failed": h.drills_failed, "nearly_full": h.nearly_full, "tampered": h.tampered,
        "count": results.len(), "results": results,
    })))
}

async fn readiness(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<Value>> {
    let all = st.service.policy_readiness(&c, Some(PolicyId(id))).await?;
    let findings: Vec<Value> = all
        .iter()
        .flat_map(|r| r.findings.iter())
        .map(|f| {
            json!({
                "code": f.code, "severity": f.severity.as_str(), "message": f.message, "fix": f.fix,
            })
        })
        .collect();
    Ok(Json(json!({
        "policy": id,
        "ready": all.iter().all(|r| r.ready()),
        "findings": findings,
    })))
}

fn test_json(t: ConnectionTest) -> Value {
    json!({
        "host": t.host, "port": t.port, "user": t.user, "ok": t.ok(),
        "steps": t.steps.iter().map(|s| json!({"step": s.step, "ok": s.ok, "detail": s.detail})).collect::<Vec<_>>(),
    })
}

async fn test_client(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<Value>> {
    let t = st.service.test_client_connection(&c, ClientId(id)).await?;
    Ok(Json(test_json(t)))
}

async fn test_repository(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<Value>> {
    let t = st
        .service
        .test_repository_connection(&c, RepositoryId(id))
        .await?;
    Ok(Json(test_json(t)))
}
