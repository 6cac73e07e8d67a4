//! Login rate limiting: failed logins are counted per client address and per email in a
//! sliding window; past the limit, logins are refused with 429 (even with the right password)
//! until the window has moved on. Used by HTTP Basic on the REST API and by the GraphQL
//! `login` mutation.

use async_graphql::parser::types::{DocumentOperations, OperationType, Selection};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed logins per email within the window before logins for it are refused.
pub const MAX_FAILURES_PER_EMAIL: usize = 5;
/// Failed logins per client address within the window before its logins are refused.
pub const MAX_FAILURES_PER_ADDRESS: usize = 20;
/// Length of the sliding window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Most keys tracked; beyond, expired keys are dropped (then the oldest).
const MAX_KEYS: usize = 100_000;

/// Counts failed logins; shared by every request of the router.
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

fn keys(addr: &str, email: &str) -> [(String, usize); 2] {
    [
        (format!("addr:{addr}"), MAX_FAILURES_PER_ADDRESS),
        (
            format!("email:{}", email.trim().to_lowercase()),
            MAX_FAILURES_PER_EMAIL,
        ),
    ]
}

impl LoginLimiter {
    /// `Err(seconds to wait)` when either the address or the email is over its limit.
    pub fn check(&self, addr: &str, email: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = 0u64;
        for (key, max) in keys(addr, email) {
            if let Some(list) = map.get_mut(&key) {
                list.retain(|t| now.duration_since(*t) < WINDOW);
                if list.len() >= max {
                    let oldest = list[list.len() - max];
                    let left = WINDOW.saturating_sub(now.duration_since(oldest));
                    wait = wait.max(left.as_secs().max(1));
                }
            }
        }
        if wait > 0 {
            Err(wait)
        } else {
            Ok(())
        }
    }

    /// Records a failed login.
    pub fn failed(&self, addr: &str, email: &str) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_KEYS {
            map.retain(|_, l| l.last().is_some_and(|t| now.duration_since(*t) < WINDOW));
            if map.len() >= MAX_KEYS {
                map.clear();
            }
        }
        for (key, _) in keys(addr, email) {
            let list = map.entry(key).or_default();
            list.retain(|t| now.duration_since(*t) < WINDOW);
            list.push(now);
        }
    }

    /// A successful login clears the email's failures (not the address's).
    pub fn succeeded(&self, email: &str) {
        let key = format!("email:{}", email.trim().to_lowercase());
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
    }
}

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

/// A GraphQL error response with an HTTP status (429 carries `Retry-After`).
pub fn graphql_refusal(
    status: StatusCode,
    code: &str,
    message: &str,
    retry_after: Option<u64>,
) -> Response {
    let body = serde_json::json!({
        "data": null,
        "errors": [{"message": message, "extensions": {"code": code}}],
    });
    let mut r = (status, Json(body)).into_response();
    if let Some(v) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// The emails of the `login` fields of a GraphQL request's mutations (empty when it logs in
/// nobody, or cannot be parsed: execution rejects it then).
pub fn graphql_login_emails(req: &async_graphql::Request) -> Vec<String> {
    let Ok(doc) = async_graphql::parser::parse_query(&req.query) else {
        return Vec::new();
    };
    let ops: Vec<_> = match &doc.operations {
        DocumentOperations::Single(op) => vec![op],
        DocumentOperations::Multiple(m) => m.values().collect(),
    };
    let mut emails = Vec::new();
    for op in ops {
        if op.node.ty != OperationType::Mutation {
            continue;
        }
        for sel in &op.node.selection_set.node.items {
            let Selection::Field(f) = &sel.node else {
                continue;
            };
            if f.node.name.node != "login" {
                continue;
            }
            let value = f.node.get_argument("email").and_then(|v| {
                v.node
                    .clone()
                    .into_const_with(|name| req.variables.get(&name).cloned().ok_or(()))
                    .ok()
            });
            let email = match value {
                Some(async_graphql::Value::String(s)) => s,
                _ => String::new(),
            };
            emails.push(email);
        }
    }
    emails
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_email_and_address() {
        let l = LoginLimiter::default();
        for _ in 0..MAX_FAILURES_PER_EMAIL {
            assert!(l.check("1.2.3.4", "a@x").is_ok());
            l.failed("1.2.3.4", "a@x");
        }
        assert!(l.check("1.2.3.4", "A@x").is_err());
        assert!(l.check("5.6.7.8", "a@x").is_err());
        assert!(l.check("1.2.3.4", "b@x").is_ok());
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            l.failed("9.9.9.9", &format!("u{i}@x"));
        }
        assert!(l.check("9.9.9.9", "fresh@x").is_err());
        l.succeeded("a@x");
        assert!(l.check("1.2.3.4", "a@x").is_ok());
    }

    #[test]
    fn finds_login_emails_in_graphql() {
        let req = async_graphql::Request::new(
            "mutation($e: String!) { a: login(email: $e, password: \"x\") { token } b: login(email: \"lit@x\", password: \"y\") { token } }",
        )
        .variables(async_graphql::Variables::from_json(
            serde_json::json!({"e": "var@x"}),
        ));
        assert_eq!(graphql_login_emails(&req), vec!["var@x", "lit@x"]);
        let q = async_graphql::Request::new("{ ping }");
        assert!(graphql_login_emails(&q).is_empty());
    }
}
