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
use std::time::Duration;

/// Longest wait for the database and catalog checks.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Response {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})).into_response()
}

/// The verdict of one check: `"ok"` or a short reason (details go to the log).
fn verdict<E: std::fmt::Display>(check: &str, r: Result<(), E>, reason: &str) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => {
            tracing::warn!(check, error = %e, "readiness check failed");
            reason.into()
        }
    }
}

async fn readyz(State(st): State<AppState>) -> Response {
    let store = st.store.clone();
    let catalog = st.catalog.clone();
    let blocking = tokio::task::spawn_blocking(move || {
        let db = verdict("database", store.write_check(), "does not accept writes");
        let cat = verdict("catalog", catalog.check().map(|_| ()), "cannot be searched");
        (db, cat)
    });
    let (database, catalog) = match tokio::time::timeout(PROBE_TIMEOUT, blocking).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "readiness check panicked");
            ("check failed".into(), "check failed".into())
        }
        Err(_) => (
            format!("no answer within {} seconds", PROBE_TIMEOUT.as_secs()),
            "not checked".into(),
        ),
    };
    let pulse = st.executor.scheduler_pulse();
    let scheduler = if !pulse.is_stalled(chrono::Utc::now()) {
        "ok".to_string()
    } else {
        match pulse.last_tick {
            Some(t) => format!("stalled: last tick at {}", t.to_rfc3339()),
            None => "not started".into(),
        }
    };
    let ready = [&database, &catalog, &scheduler].iter().all(|v| *v == "ok");
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "checks": {"database": database, "catalog": catalog, "scheduler": scheduler},
    });
    (status, Json(body)).into_response()
}
