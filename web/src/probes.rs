//! Probes for orchestrators (Docker `HEALTHCHECK`, Kubernetes, load balancers), without
//! authentication: `GET /healthz` answers while the process serves HTTP (liveness);
//! `GET /readyz` answers 200 only when the database accepts a write, the catalog can be
//! searched and the scheduler is ticking, and 503 with the failing checks otherwise.

use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Response {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})).into_response()
}

async fn readyz(State(st): State<AppState>) -> Response {
    let r = st.service.server_readiness().await;
    let ready = r.ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "checks": {"database": r.database, "catalog": r.catalog, "scheduler": r.scheduler},
    });
    (status, Json(body)).into_response()
}
