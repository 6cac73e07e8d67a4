//! The HTTP face of CyBorgBackup: the axum router serving `/graphql` (POST, and GraphiQL on GET),
//! the REST API v1 (`rest`), and the web UI (`ui`). Authentication happens here: a bearer/API token
//! becomes the services' caller (role and grants) attached to each GraphQL request, and REST
//! routes resolve it the same way; failed logins are rate limited, bodies are capped, requests
//! time out, and CORS allows only the configured origins.

mod charts;
mod download;
mod graphql_http;
mod metrics;
mod probes;
pub mod rest;
mod ui;
mod ws;

use async_graphql::http::GraphiQLSource;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use graphql::CyborgSchema;
pub use rest::proxy::TrustedProxies;
use service::types::AuthUser;
use std::time::Duration;
use tower_http::timeout::TimeoutLayer;

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    pub schema: CyborgSchema,
    /// What REST handlers call.
    pub service: service::Service,
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
        .merge(probes::routes())
        .merge(rest::router())
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

/// Resolves the caller of a GraphQL request (anonymous when the token is missing or invalid)
/// and the user behind it.
async fn caller(st: &AppState, headers: &HeaderMap) -> (service::Caller, Option<AuthUser>) {
    let Some(token) = bearer_token(headers) else {
        return (service::Caller::Anonymous, None);
    };
    match st.service.identify_token(token).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "token lookup failed");
            (service::Caller::Anonymous, None)
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
