//! The HTTP face of CyBorgBackup: the axum router serving `/graphql` (POST, and GraphiQL on GET),
//! the REST API v1 (`rest`), and the web UI (`ui`). Authentication happens here: a bearer/API token
//! becomes the caller attached to each GraphQL request; failed logins are rate limited, bodies
//! are capped, requests time out, and CORS allows only the configured origins.

mod charts;
mod download;
mod health;
mod metrics;
pub mod rest;
mod ui;
mod ws;

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::{DefaultBodyLimit, Extension, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use graphql::CyborgSchema;
use rest::limit::{graphql_login_emails, graphql_refusal, ClientAddr, LoginLimiter};
pub use rest::proxy::TrustedProxies;
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

/// Largest accepted request body.
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Builds the router.
pub fn router(state: AppState) -> Router {
    let cors = rest::cors_layer(&state.allowed_origins);
    Router::new()
        .merge(ui::routes())
        .route("/graphql", get(graphiql).post(graphql_handler))
        .route("/graphql/ws", get(ws::handler))
        .route("/api/v1/ping", get(ping))
        .route("/api/v1/ping/", get(ping))
        .merge(charts::routes())
        .merge(download::routes())
        .merge(metrics::routes())
        .merge(health::routes())
        .merge(rest::router())
        .layer(Extension(Arc::new(LoginLimiter::default())))
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

async fn graphql_handler(
    State(st): State<AppState>,
    Extension(limiter): Extension<Arc<LoginLimiter>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    req: GraphQLRequest,
) -> Response {
    let mut req = req.into_inner();
    // Failed logins are rate limited per address and email, like HTTP Basic on REST.
    let logins = graphql_login_emails(&req);
    if logins.len() > 1 {
        return graphql_refusal(
            StatusCode::BAD_REQUEST,
            "VALIDATION",
            "one login per request",
            None,
        );
    }
    let login = logins.into_iter().next();
    if let Some(email) = &login {
        if let Err(secs) = limiter.check(&addr, email) {
            let msg = format!("too many failed logins: retry in {secs} seconds");
            return graphql_refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                &msg,
                Some(secs),
            );
        }
    }
    let store = st.store.clone();
    let user = tokio::task::spawn_blocking(move || caller(&store, &headers))
        .await
        .ok()
        .flatten();
    if let Some(u) = user {
        req = req.data(u);
    }
    let resp = st.schema.execute(req).await;
    if let Some(email) = &login {
        if resp.errors.is_empty() {
            limiter.succeeded(email);
        } else {
            limiter.failed(&addr, email);
        }
    }
    GraphQLResponse::from(resp).into_response()
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
