//! The HTTP face of CyBorgBackup: the axum router serving `/graphql` (POST, and GraphiQL on GET),
//! the REST API v1 (`rest`), and the web UI (`ui`). Authentication happens here: a bearer/API token
//! becomes the caller attached to each GraphQL request; failed logins are rate limited, bodies
//! are capped, requests time out, and CORS allows only the configured origins.

mod charts;
mod download;
mod graphql_http;
pub mod login;
mod metrics;
pub mod rest;
mod ui;
mod ws;

use async_graphql::http::GraphiQLSource;
use axum::extract::{DefaultBodyLimit, Extension};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use graphql::CyborgSchema;
use std::sync::Arc;
use std::time::Duration;
use store::{AuthUser, Store};
use tower_http::timeout::TimeoutLayer;

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    pub schema: CyborgSchema,
    pub store: Store,
    pub executor: executor::Executor,
    pub catalog: indexer::Catalog,
    /// Origins (`https://ui.example.com`, or `*`) whose pages may call the APIs (CORS).
    pub allowed_origins: Vec<String>,
}

/// Largest accepted request body (every route, `POST /graphql` included) and websocket message.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Builds the router.
pub fn router(state: AppState) -> Router {
    let cors = rest::cors_layer(&state.allowed_origins);
    Router::new()
        .merge(ui::routes())
        .route("/graphql", get(graphiql).post(graphql_http::handler))
        .route("/graphql/ws", get(ws::handler))
        .route("/api/v1/ping", get(ping))
        .route("/api/v1/ping/", get(ping))
        .merge(charts::routes())
        .merge(download::routes())
        .merge(metrics::routes())
        .merge(rest::router())
        .layer(Extension(Arc::new(login::Logins::new(state.store.clone()))))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .layer(cors)
        .with_state(state)
}

/// The token of an `Authorization: Bearer …` or `Authorization: Token …` header.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token") {
        Some(token.trim())
    } else {
        None
    }
}

/// Resolves the caller of a request; `None` when anonymous or the token is invalid.
fn caller(store: &Store, headers: &HeaderMap) -> Option<AuthUser> {
    let token = bearer_token(headers)?;
    match store.authenticate_token(token) {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %e, "token lookup failed");
            None
        }
    }
}

async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish(),
    )
}

async fn ping() -> Response {
    Json(serde_json::json!({"version": env!("CARGO_PKG_VERSION"), "ping": "pong"})).into_response()
}
