//! The client address of a request, as the login throttle (`service::throttle`) counts it.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::SocketAddr;

/// The client address of a request: the TCP peer, or the address a trusted reverse proxy
/// forwarded (see `proxy.rs`).
pub(crate) fn client_addr(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| super::proxy::client_ip(parts, c.0.ip()).to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The client address, as an extractor.
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(ClientAddr(client_addr(parts)))
    }
}
