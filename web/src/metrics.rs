//! `GET /metrics`: Prometheus text exposition, protected as the `metrics.auth` setting says
//! (`token`: any valid token, the default; `admin`: a superuser's token; `none`: open).

use crate::charts::{error, require_user};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use model::settings::{MetricsAuth, METRICS_AUTH};
use report::Reporter;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let store = st.store.clone();
    let auth = tokio::task::spawn_blocking(move || store.get(&METRICS_AUTH))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    let auth = match auth {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "metrics.auth setting");
            return error(StatusCode::INTERNAL_SERVER_ERROR, e);
        }
    };
    if auth != MetricsAuth::None {
        match require_user(&st.store, &headers).await {
            Err(r) => return r,
            Ok(u) if auth == MetricsAuth::Admin && !u.is_superuser => {
                return error(StatusCode::FORBIDDEN, "metrics need a superuser's token");
            }
            Ok(_) => {}
        }
    }
    match Reporter::new(st.store.clone()).metrics().await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
    }
}
