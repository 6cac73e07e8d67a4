//! The HTTP face of CyBorgBackup: the axum router serving `/graphql` (POST, and GraphiQL on GET),
//! the REST API v1 ping, and the landing page. Authentication happens here: a bearer/API token
//! becomes the caller attached to each GraphQL request.

mod charts;
mod metrics;

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use graphql::CyborgSchema;
use std::time::Duration;
use store::{AuthUser, Store};
use tower_http::timeout::TimeoutLayer;

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    pub schema: CyborgSchema,
    pub store: Store,
}

/// Largest accepted request body.
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Builds the router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/graphql", get(graphiql).post(graphql_handler))
        .route("/api/v1/ping", get(ping))
        .route("/api/v1/ping/", get(ping))
        .merge(charts::routes())
        .merge(metrics::routes())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
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

async fn graphql_handler(
    State(st): State<AppState>,
    headers: HeaderMap,
    req: GraphQLRequest,
) -> GraphQLResponse {
    let mut req = req.into_inner();
    let store = st.store.clone();
    let user = tokio::task::spawn_blocking(move || caller(&store, &headers))
        .await
        .ok()
        .flatten();
    if let Some(u) = user {
        req = req.data(u);
    }
    st.schema.execute(req).await.into()
}

async fn graphiql() -> Html<String> {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
}

async fn ping() -> Response {
    Json(serde_json::json!({"version": env!("CARGO_PKG_VERSION"), "ping": "pong"})).into_response()
}

async fn index() -> Html<&'static str> {
    Html(include_str!("index.html"))
}
