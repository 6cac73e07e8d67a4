//! `GET /charts/{kind}.{svg|png}`: charts of the series the caller's grants reach,
//! authenticated like the REST API (token or HTTP Basic).

use crate::rest::auth::Caller;
use crate::rest::error::{RestError, RestResult};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use model::{ClientId, PolicyId, RepositoryId};
use serde::Deserialize;
use service::types::{ChartKind, ChartRequest, Format, StatsFilter};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/charts/{file}", get(chart))
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

async fn chart(
    Caller(c): Caller,
    State(st): State<AppState>,
    Path(file): Path<String>,
    Query(q): Query<ChartParams>,
) -> RestResult<Response> {
    let Some((kind, ext)) = file.rsplit_once('.') else {
        return Err(RestError::NotFound);
    };
    let format = match ext {
        "svg" => Format::Svg,
        "png" => Format::Png,
        _ => return Err(RestError::NotFound),
    };
    let kind: ChartKind = kind.parse().map_err(|_| RestError::NotFound)?;
    let mut req = ChartRequest::new(kind, format);
    req.filter = StatsFilter {
        repository: q.repository.map(RepositoryId),
        client: q.client.map(ClientId),
        policy: q.policy.map(PolicyId),
        scope: None,
    };
    req.days = q.days.unwrap_or(req.days);
    req.width = q.width.unwrap_or(req.width);
    req.height = q.height.unwrap_or(req.height);
    let bytes = st.service.chart(&c, req).await?;
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type()),
            (header::CACHE_CONTROL, "private, max-age=60"),
        ],
        bytes,
    )
        .into_response())
}
