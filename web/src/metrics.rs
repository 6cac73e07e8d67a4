//! `GET /metrics`: Prometheus text exposition, protected as the `metrics.auth` setting says
//! (`token`: any valid credentials, the default; `admin`: a superuser's; `none`: open).
//! Credentials are read like the REST API's.

use crate::rest::auth::MaybeCaller;
use crate::rest::error::RestResult;
use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(MaybeCaller(c): MaybeCaller, State(st): State<AppState>) -> RestResult<Response> {
    let text = st.service.metrics(&c).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
