//! Repository trust in REST v1: the recorded identity and tamper mark shown with every
//! repository, `POST repositories/{id}/clear_tamper/` and `POST archives/{id}/acknowledge_anomaly/`
//! (superusers; the services decide), the same actions as GraphQL's `clearRepositoryTamper` and
//! `acknowledgeAnomaly`.

use super::auth::Caller;
use super::error::RestResult;
use super::objects::{self, RepositoryOut};
use super::{both, Id};
use crate::AppState;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use model::{ArchiveId, RepositoryId, RepositorySecurity, TamperState};
use serde::Serialize;
use serde_json::{json, Value};

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = both(
        r,
        "/api/v1/repositories/{id}/clear_tamper",
        post(clear_tamper),
    );
    both(
        r,
        "/api/v1/archives/{id}/acknowledge_anomaly",
        post(acknowledge_anomaly),
    )
}

/// The trust fields of a repository (flattened into its JSON).
#[derive(Serialize)]
pub(crate) struct SecurityOut {
    pub tampered: bool,
    pub tamper_state: &'static str,
    pub tampered_archives: Vec<String>,
    pub tampered_at: Option<DateTime<Utc>>,
    pub last_good_transaction: Option<i64>,
    pub borg_id: String,
    pub encryption_mode: String,
}

pub(crate) fn security(s: RepositorySecurity) -> SecurityOut {
    SecurityOut {
        tampered: s.tamper == TamperState::Tampered,
        tamper_state: s.tamper.as_str(),
        tampered_archives: s.tampered_archives,
        tampered_at: s.tampered_at,
        last_good_transaction: s.last_good_transaction,
        borg_id: s.identity.borg_id,
        encryption_mode: s.identity.encryption_mode,
    }
}

async fn clear_tamper(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<RepositoryOut>> {
    let s = st
        .service
        .clear_repository_tamper(&c, RepositoryId(id))
        .await?;
    let r = st.service.repository(&c, RepositoryId(id)).await?;
    Ok(Json(objects::repository(r, Some(s))))
}

async fn acknowledge_anomaly(
    Caller(c): Caller,
    State(st): State<AppState>,
    Id(id): Id,
) -> RestResult<Json<Value>> {
    let a = st.service.acknowledge_anomaly(&c, ArchiveId(id)).await?;
    Ok(Json(json!({
        "id": a.id.0,
        "name": a.name,
        "repository": a.repository.0,
        "policy": a.policy.0,
        "client": a.client.0,
        "anomaly": a.anomaly,
        "anomaly_acknowledged_at": a.anomaly_acknowledged_at,
    })))
}
