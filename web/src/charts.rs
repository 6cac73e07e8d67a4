//! Chart and statistics endpoints: `GET /charts/{kind}.{svg|png}` and the original's
//! `GET /api/v1/stats/` (30 days of `{date, size, dedup, success, failed}`), both for a caller
//! with a valid token.

use crate::{caller, AppState};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Duration, Utc};
use model::{ClientId, PolicyId, RepositoryId};
use report::{ChartKind, ChartRequest, Format, ReportError, Reporter};
use serde::Deserialize;
use store::{StatsFilter, StatsGroup, Store};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/charts/{file}", get(chart))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/stats/", get(stats))
}

/// A JSON error body with a status.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({"detail": message.into()}))).into_response()
}

/// The caller must hold a valid token; resolved off the async runtime.
pub(crate) async fn require_user(
    store: &Store,
    headers: &HeaderMap,
) -> Result<store::AuthUser, Response> {
    let store = store.clone();
    let headers = headers.clone();
    tokio::task::spawn_blocking(move || caller(&store, &headers))
        .await
        .ok()
        .flatten()
        .ok_or_else(|| {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "authentication required: send Authorization: Bearer <token>",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            r
        })
}

#[derive(Deserialize)]
struct ChartParams {
    repository: Option<i64>,
    client: Option<i64>,
    policy: Option<i64>,
    days: Option<i64>,
    width: Option<u32>,
    height: Option<u32>,
}

fn report_status(e: &ReportError) -> StatusCode {
    match e {
        ReportError::Invalid { .. } => StatusCode::BAD_REQUEST,
        ReportError::Store(store::StoreError::NotFound { .. }) => StatusCode::NOT_FOUND,
        ReportError::Store(store::StoreError::Validation(_)) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn chart(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(file): Path<String>,
    Query(q): Query<ChartParams>,
) -> Response {
    if let Err(r) = require_user(&st.store, &headers).await {
        return r;
    }
    let Some((kind, ext)) = file.rsplit_once('.') else {
        return error(
            StatusCode::NOT_FOUND,
            "use /charts/{kind}.svg or /charts/{kind}.png",
        );
    };
    let format = match ext {
        "svg" => Format::Svg,
        "png" => Format::Png,
        _ => return error(StatusCode::NOT_FOUND, "charts are .svg or .png"),
    };
    let kind: ChartKind = match kind.parse() {
        Ok(k) => k,
        Err(e) => return error(StatusCode::NOT_FOUND, e.to_string()),
    };
    let mut req = ChartRequest::new(kind, format);
    req.filter = StatsFilter {
        repository: q.repository.map(RepositoryId),
        client: q.client.map(ClientId),
        policy: q.policy.map(PolicyId),
    };
    req.days = q.days.unwrap_or(req.days);
    req.width = q.width.unwrap_or(req.width);
    req.height = q.height.unwrap_or(req.height);
    match Reporter::new(st.store.clone()).chart(req).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, format.content_type()),
                (header::CACHE_CONTROL, "private, max-age=60"),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => {
            let status = report_status(&e);
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                tracing::error!(error = %e, kind = kind.as_str(), "chart failed");
            }
            error(status, e.to_string())
        }
    }
}

async fn stats(State(st): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = require_user(&st.store, &headers).await {
        return r;
    }
    let store = st.store.clone();
    let r = tokio::task::spawn_blocking(move || {
        let to = Utc::now().date_naive() + Duration::days(1);
        store.daily_stats(
            to - Duration::days(30),
            to,
            StatsGroup::All,
            StatsFilter::default(),
        )
    })
    .await;
    match r {
        Ok(Ok(series)) => {
            let points = series
                .into_iter()
                .next()
                .map(|s| s.points)
                .unwrap_or_default();
            Json(
                points
                    .iter()
                    .map(|p| {
                        serde_json::json!({
                            "date": p.date.to_string(),
                            "size": p.original_size,
                            "dedup": p.deduplicated_size,
                            "success": p.success,
                            "failed": p.failed,
                        })
                    })
                    .collect::<Vec<_>>(),
            )
            .into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "stats failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
