//! The cluster over REST: `GET cluster/` lists the nodes sharing the database, their
//! heartbeats and running jobs (superusers).

use super::auth::Caller;
use super::both;
use super::error::RestResult;
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    both(r, "/api/v1/cluster", get(cluster))
}

async fn cluster(Caller(c): Caller, State(st): State<AppState>) -> RestResult<Json<Value>> {
    let v = st.service.cluster(&c).await?;
    let results: Vec<Value> = v
        .nodes
        .iter()
        .map(|n| {
            json!({
                "name": n.name, "address": n.address, "catalog": n.catalog,
                "version": n.version, "started": n.started, "heartbeat": n.heartbeat,
                "heartbeat_age_seconds": n.heartbeat_age_seconds, "alive": n.alive,
                "running_jobs": n.running_jobs.iter().map(|j| j.0).collect::<Vec<_>>(),
                "this_node": n.this_node,
            })
        })
        .collect();
    Ok(Json(json!({
        "database": v.database,
        "count": results.len(),
        "results": results,
    })))
}
