//! Recoverability over REST: `GET recoverability/` (counters and every series with its primary
//! and copy repositories; `?state=ok|degraded|unmet`, `?policy=`, `?client=`).

use super::auth::Caller;
use super::both;
use super::error::RestResult;
use super::page::Params;
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use model::{ClientId, PolicyId};
use serde_json::{json, Value};
use service::copies::RecoveryFilter;

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    both(r, "/api/v1/recoverability", get(recoverability))
}

async fn recoverability(
    Caller(c): Caller,
    State(st): State<AppState>,
    p: Params,
) -> RestResult<Json<Value>> {
    let filter = RecoveryFilter {
        state: p.get("state").map(str::to_string),
        policy: p.int("policy")?.map(PolicyId),
        client: p.int("client")?.map(ClientId),
    };
    let r = st.service.recoverability(&c, filter).await?;
    let results: Vec<Value> = r
        .series
        .iter()
        .map(|s| {
            let repos: Vec<Value> = s
                .repositories
                .iter()
                .map(|x| {
                    let row = &x.row;
                    json!({
                        "repository": row.repository.0, "repository_name": row.repository_name,
                        "role": if x.is_copy() { "copy" } else { "primary" },
                        "host": x.host, "append_only": x.append_only,
                        "newest_archive": row.newest_archive, "newest_verified": row.newest_verified,
                        "verified_age_seconds": x.verified_age_seconds,
                        "last_comparison": row.last_comparison,
                        "last_check_status": row.check_status.map(|s| s.as_str()),
                        "last_check": row.check_finished,
                        "last_drill_verdict": row.drill_verdict, "last_drill": row.drill_time,
                        "last_passed_drill": row.drill_passed,
                        "good": x.is_good(), "problems": x.problems,
                    })
                })
                .collect();
            json!({
                "policy": s.policy.0, "policy_name": s.policy_name,
                "client": s.client.0, "hostname": s.hostname,
                "state": s.state.as_str(), "reasons": s.reasons,
                "rpo_hours": s.rpo_hours, "rpo_met": s.rpo_met,
                "copies": s.copies, "good": s.good, "append_only": s.append_only,
                "other_hosts": s.other_hosts,
                "newest_verified_age_seconds": s.newest_verified_age_seconds,
                "repositories": repos,
            })
        })
        .collect();
    Ok(Json(json!({
        "ok": r.ok, "degraded": r.degraded, "unmet": r.unmet,
        "count": results.len(), "results": results,
    })))
}
