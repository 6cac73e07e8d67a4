//! REST API v1, compatible with the original CyBorgBackup's documented contract: the index,
//! `config`, `me`, users, clients, schedules, repositories, policies (+ `launch/`,
//! `calendar/`), catalogs, jobs (+ `stdout/`, `cancel/`, `relaunch/`), restore, stats and
//! settings (+ SSH key). Every route answers with and without a trailing slash and
//! authenticates alike (`auth`); handlers parse, call the services, and shape the answer, so
//! roles and grants are the same as GraphQL's.

mod admin;
pub(crate) mod auth;
mod body;
mod catalogs;
mod cluster;
pub(crate) mod error;
mod health;
mod inventory;
mod jobs;
pub mod limit;
mod objects;
mod page;
mod policies;
pub mod proxy;
mod recoverability;
mod restore;
mod stats;
mod trust;
mod users;

use crate::AppState;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method};
use axum::routing::{get, MethodRouter};
use axum::{Json, Router};
use error::RestError;
use serde_json::json;
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Every REST v1 route except `ping/`, served elsewhere.
pub fn router() -> Router<AppState> {
    let r = both(Router::new(), "/api/v1", get(index));
    let r = both(r, "/api/v1/config", get(config));
    let r = users::routes(r);
    let r = stats::routes(r);
    let r = admin::routes(r);
    let r = inventory::routes(r);
    let r = policies::routes(r);
    let r = jobs::routes(r);
    let r = restore::routes(r);
    let r = trust::routes(r);
    let r = health::routes(r);
    let r = recoverability::routes(r);
    let r = cluster::routes(r);
    catalogs::routes(r)
}

/// Registers a route at `path` and at `path/`.
fn both(r: Router<AppState>, path: &str, m: MethodRouter<AppState>) -> Router<AppState> {
    r.route(path, m.clone()).route(&format!("{path}/"), m)
}

/// The numeric id of a `/{id}` path; anything else is a 404.
pub(crate) struct Id(pub i64);

impl FromRequestParts<AppState> for Id {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, RestError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, st)
            .await
            .map_err(|_| RestError::NotFound)?;
        raw.parse().map(Id).map_err(|_| RestError::NotFound)
    }
}

async fn index() -> Json<serde_json::Value> {
    let mut m = serde_json::Map::new();
    for name in [
        "ping",
        "config",
        "me",
        "users",
        "clients",
        "schedules",
        "repositories",
        "policies",
        "restore",
        "catalogs",
        "jobs",
        "settings",
        "stats",
        "health",
        "recoverability",
        "cluster",
    ] {
        m.insert(name.into(), json!(format!("/api/v1/{name}/")));
    }
    Json(serde_json::Value::Object(m))
}

async fn config(
    _: auth::Caller,
    axum::extract::State(st): axum::extract::State<AppState>,
) -> Json<serde_json::Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "debug": false,
        "allowed_hosts": st.allowed_origins,
    }))
}

/// CORS for the configured origins (`*` allows any); without any, no cross-origin access.
/// Tokens travel in the `Authorization` header, never in cookies, so credentials stay off.
pub fn cors_layer(origins: &[String]) -> CorsLayer {
    let allow = if origins.iter().any(|o| o.trim() == "*") {
        AllowOrigin::any()
    } else {
        let list: Vec<HeaderValue> = origins
            .iter()
            .filter_map(
                |o| match HeaderValue::from_str(o.trim().trim_end_matches('/')) {
                    Ok(v) => Some(v),
                    Err(_) => {
                        tracing::warn!(origin = %o, "ignoring an invalid CORS origin");
                        None
                    }
                },
            )
            .collect();
        AllowOrigin::list(list)
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .max_age(Duration::from_secs(3600))
}
