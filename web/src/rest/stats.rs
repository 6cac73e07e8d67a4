//! `GET /api/v1/stats/`: the original's 30 days of `{date, size, dedup, success, failed}` over
//! the series the caller's grants reach, authenticated like every REST route.

use super::auth::Caller;
use super::both;
use super::error::RestResult;
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    both(r, "/api/v1/stats", get(stats))
}

async fn stats(Caller(c): Caller, State(st): State<AppState>) -> RestResult<Json<Vec<Value>>> {
    let series = st.service.stats_last_30_days(&c).await?;
    Ok(Json(
        series
            .points
            .iter()
            .map(|p| {
                json!({
                    "date": p.date.to_string(),
                    "size": p.original_size,
                    "dedup": p.deduplicated_size,
                    "success": p.success,
                    "failed": p.failed,
                })
            })
            .collect(),
    ))
}
