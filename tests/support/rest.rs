//! REST API v1 helpers: a caller with fixed credentials expecting status codes, shape checks,
//! HTTP Basic values, and a non-superuser.

use super::Server;
use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};

pub const USER_EMAIL: &str = "operator@cyborg.local";
pub const USER_PASSWORD: &str = "operator-password";

/// Calls the REST API with one `Authorization` value (or none).
pub struct Api<'a> {
    pub s: &'a Server,
    pub auth: Option<String>,
}

impl<'a> Api<'a> {
    pub fn token(s: &'a Server, token: &str) -> Self {
        Api {
            s,
            auth: Some(format!("Token {token}")),
        }
    }

    pub fn basic(s: &'a Server, email: &str, password: &str) -> Self {
        Api {
            s,
            auth: Some(basic(email, password)),
        }
    }

    /// The status and body of a call.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        self.s.rest(method, path, self.auth.as_deref(), body).await
    }

    /// A call that must answer `status`; returns the body.
    pub async fn expect(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        status: u16,
    ) -> Result<Value> {
        let (code, v) = self.call(method, path, body).await?;
        ensure!(
            code == status,
            "{method} {path}: expected {status}, got {code} {v}"
        );
        Ok(v)
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.expect("GET", path, None, 200).await
    }
}

/// An `Authorization: Basic` value for an email and password.
pub fn basic(email: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{email}:{password}");
    let mut out = String::new();
    for chunk in input.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

/// Checks the fields every inventory object starts with; returns its id.
pub fn check_base(v: &Value, kind: &str, plural: &str) -> Result<i64> {
    let id = v["id"].as_i64().context("id")?;
    ensure!(v["type"] == kind, "type of {v}");
    ensure!(v["url"] == format!("/api/v1/{plural}/{id}/"), "url of {v}");
    for k in ["related", "summary_fields"] {
        ensure!(v[k].is_object(), "{k} of {v}");
    }
    for k in ["created", "modified", "uuid"] {
        ensure!(v[k].is_string(), "{k} of {v}");
    }
    ensure!(
        v.get("created_by").is_some() && v.get("modified_by").is_some(),
        "audit of {v}"
    );
    Ok(id)
}

/// Checks a list envelope and its count.
pub fn check_envelope(v: &Value, count: u64) -> Result<()> {
    ensure!(v["count"] == count, "count of {v}");
    ensure!(
        v.get("next").is_some() && v.get("previous").is_some(),
        "envelope {v}"
    );
    ensure!(v["results"].is_array(), "results of {v}");
    Ok(())
}

/// Creates the operator [`USER_EMAIL`] through GraphQL, granted every client that exists (with
/// restore); returns their session token.
pub async fn operator(s: &Server, admin: &str) -> Result<String> {
    let clients = s
        .ok(admin, "{ clients(first: 500) { nodes { id } } }", json!({}))
        .await?;
    let grants: Vec<Value> = clients["clients"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| json!({"client": c["id"], "restore": true}))
        .collect();
    let q = "mutation($e: String!, $p: String!, $g: [GrantInput!]) { createUser(input: {email: $e, password: $p, role: OPERATOR, grants: $g}) { id } }";
    s.ok(
        admin,
        q,
        json!({"e": USER_EMAIL, "p": USER_PASSWORD, "g": grants}),
    )
    .await?;
    let login = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }";
    let d = s
        .gql(None, login, json!({"e": USER_EMAIL, "p": USER_PASSWORD}))
        .await?;
    Ok(d.data()?["login"]["token"]
        .as_str()
        .context("token")?
        .to_string())
}
