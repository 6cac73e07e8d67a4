//! REST API v1 access control against the real binary: a table of every route proves that
//! anonymous callers (and bad credentials) get 401 and an operator granted the client gets 403
//! on every admin operation while reads and actions work (`rest_role_matrix.rs` covers every
//! role); failed logins are rate limited (HTTP Basic and
//! GraphQL); CORS allows only the configured origins.

mod support;

use anyhow::{ensure, Context, Result};
use serde_json::json;
use std::time::Duration;
use support::rest::{basic, operator, Api, USER_EMAIL, USER_PASSWORD};
use support::{local_policy, Server, ADMIN_EMAIL, ADMIN_PASSWORD};

/// `(method, path, admin only)` for every REST route; `{c}`, `{p}`, `{j}`, … are real ids.
const ROUTES: &[(&str, &str, bool)] = &[
    ("GET", "/api/v1/config/", false),
    ("GET", "/api/v1/me/", false),
    ("GET", "/api/v1/users/", true),
    ("POST", "/api/v1/users/", true),
    ("GET", "/api/v1/users/{u}/", false),
    ("PATCH", "/api/v1/users/{u}/", true),
    ("DELETE", "/api/v1/users/{u}/", true),
    ("GET", "/api/v1/clients/", false),
    ("GET", "/api/v1/clients/{c}/", false),
    ("POST", "/api/v1/clients/", true),
    ("PATCH", "/api/v1/clients/{c}/", true),
    ("PUT", "/api/v1/clients/{c}/", true),
    ("DELETE", "/api/v1/clients/{c}/", true),
    ("GET", "/api/v1/schedules/", false),
    ("GET", "/api/v1/schedules/{s}/", false),
    ("POST", "/api/v1/schedules/", true),
    ("PATCH", "/api/v1/schedules/{s}/", true),
    ("DELETE", "/api/v1/schedules/{s}/", true),
    ("GET", "/api/v1/repositories/", false),
    ("GET", "/api/v1/repositories/{r}/", false),
    ("POST", "/api/v1/repositories/", true),
    ("PATCH", "/api/v1/repositories/{r}/", true),
    ("DELETE", "/api/v1/repositories/{r}/", true),
    ("GET", "/api/v1/policies/", false),
    ("GET", "/api/v1/policies/{p}/", false),
    ("GET", "/api/v1/policies/{p}/calendar/", false),
    ("GET", "/api/v1/policies/{p}/launch/", false),
    ("POST", "/api/v1/policies/", true),
    ("PATCH", "/api/v1/policies/{p}/", true),
    ("DELETE", "/api/v1/policies/{p}/", true),
    ("GET", "/api/v1/catalogs/", false),
    ("GET", "/api/v1/catalogs/1/", false),
    ("GET", "/api/v1/jobs/", false),
    ("GET", "/api/v1/jobs/{j}/", false),
    ("GET", "/api/v1/jobs/{j}/stdout/?format=txt", false),
    ("GET", "/api/v1/jobs/{j}/cancel/", false),
    ("GET", "/api/v1/jobs/{j}/relaunch/", false),
    ("GET", "/api/v1/settings/", true),
    ("GET", "/api/v1/settings/1/", true),
    ("PATCH", "/api/v1/settings/url/", true),
    ("POST", "/api/v1/settings/generate_ssh/", true),
    ("GET", "/api/v1/settings/generate_ssh/", false),
    ("GET", "/api/v1/settings/get_ssh_publickey/", false),
    ("GET", "/api/v1/stats/", false),
    ("POST", "/api/v1/policies/{p}/launch/", false),
    ("POST", "/api/v1/jobs/{j}/relaunch/", false),
    ("POST", "/api/v1/jobs/{j}/cancel/", false),
];

#[tokio::test]
async fn every_route_refuses_anonymous_callers_and_non_superusers_on_admin_operations() -> Result<()>
{
    let s = Server::start()?;
    let admin_token = s.login().await?;
    let admin = Api::token(&s, &admin_token);
    let pid = local_policy(&s, &admin_token, &["/etc/hostname"], "role-pass").await?;
    let user = Api::token(&s, &operator(&s, &admin_token).await?);
    let p = admin.get(&format!("/api/v1/policies/{pid}/")).await?;
    let users = admin.get("/api/v1/users/").await?;
    let uid = users["results"]
        .as_array()
        .and_then(|l| l.iter().find(|u| u["email"] == USER_EMAIL))
        .and_then(|u| u["id"].as_i64())
        .context("operator id")?;
    let ids = [
        ("{u}", uid.to_string()),
        ("{c}", p["clients"][0].to_string()),
        ("{r}", p["repository"].to_string()),
        ("{s}", p["schedule"].to_string()),
        ("{p}", pid.to_string()),
    ];
    let fill = |path: &str, job: i64| {
        let start = path.replace("{j}", &job.to_string());
        ids.iter().fold(start, |acc, (k, v)| acc.replace(k, v))
    };

    let bad_basic = basic(USER_EMAIL, "wrong-password");
    let refused = [
        None,
        Some("Token not-a-token"),
        Some("Bearer not-a-token"),
        Some("Digest x"),
    ];
    for (method, path, _) in ROUTES {
        let path = fill(path, 1);
        for auth in refused {
            let (code, body) = s.rest(method, &path, auth, Some(json!({}))).await?;
            ensure!(code == 401, "{method} {path} with {auth:?}: {code} {body}");
            ensure!(body["detail"].is_string(), "{body}");
        }
    }
    let (code, _) = s.rest("GET", "/api/v1/me/", Some(&bad_basic), None).await?;
    ensure!(code == 401, "bad basic: {code}");

    // The non-superuser: launch works (a real job), then the whole table.
    let launched = user
        .expect(
            "POST",
            &format!("/api/v1/policies/{pid}/launch/"),
            None,
            201,
        )
        .await?;
    let job = launched["job"].as_i64().context("job id")?;
    s.wait_jobs(&admin_token, Duration::from_secs(120)).await?;
    let inventory_before = admin.get("/api/v1/clients/").await?;
    for (method, path, admin_only) in ROUTES {
        let path = fill(path, job);
        let (code, body) = user.call(method, &path, Some(json!({}))).await?;
        if *admin_only {
            ensure!(code == 403, "{method} {path} as a user: {code} {body}");
            ensure!(body["detail"].is_string(), "{body}");
        } else {
            // 404: no catalog entry 1; 405: cancelling the finished job.
            let ok = matches!(code, 200 | 201 | 202 | 204 | 404 | 405);
            ensure!(ok, "{method} {path} as a user: {code} {body}");
        }
    }
    ensure!(
        admin.get("/api/v1/clients/").await? == inventory_before,
        "a user changed clients"
    );
    Api::basic(&s, USER_EMAIL, USER_PASSWORD)
        .get("/api/v1/me/")
        .await?;
    user.expect("GET", "/api/v1/users/1/", None, 403).await?;
    Ok(())
}

#[tokio::test]
async fn failed_logins_are_rate_limited_for_basic_and_graphql() -> Result<()> {
    let s = Server::start()?;
    let wrong = Api::basic(&s, ADMIN_EMAIL, "not-the-password");
    for _ in 0..5 {
        wrong.expect("GET", "/api/v1/me/", None, 401).await?;
    }
    // Now even the right password is refused, on REST and on GraphQL, with Retry-After.
    let right = basic(ADMIN_EMAIL, ADMIN_PASSWORD);
    let (code, h, body) = s
        .rest_full("GET", "/api/v1/me/", Some(&right), None, &[])
        .await?;
    ensure!(
        code == 429 && h.contains_key("retry-after"),
        "{code} {body}"
    );
    ensure!(body["detail"].is_string(), "{body}");
    let login = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }";
    let g = s
        .gql(None, login, json!({"e": ADMIN_EMAIL, "p": ADMIN_PASSWORD}))
        .await?;
    ensure!(g.error_code() == Some("RATE_LIMITED"), "{}", g.0);
    // Several logins in one GraphQL request are refused.
    let two = r#"mutation { a: login(email: "x@y", password: "1") { token }
        b: login(email: "z@y", password: "2") { token } }"#;
    let g = s.gql(None, two, json!({})).await?;
    ensure!(g.error_code() == Some("VALIDATION"), "{}", g.0);
    // GraphQL failures count too: another account is refused after five.
    for _ in 0..5 {
        let g = s
            .gql(
                None,
                login,
                json!({"e": "other@cyborg.local", "p": "bad-password"}),
            )
            .await?;
        ensure!(g.error_code() == Some("VALIDATION"), "{}", g.0);
    }
    let g = s
        .gql(
            None,
            login,
            json!({"e": "other@cyborg.local", "p": "bad-password"}),
        )
        .await?;
    ensure!(g.error_code() == Some("RATE_LIMITED"), "{}", g.0);
    // Tokens are not affected.
    let d = s.gql(None, "{ ping }", json!({})).await?;
    ensure!(d.data().is_ok(), "{}", d.0);
    Ok(())
}

#[tokio::test]
async fn cors_allows_only_configured_origins() -> Result<()> {
    let origin = ("CYBORG_CORS_ALLOWED_ORIGINS", "https://ui.example.com");
    let s = Server::start_with(tempfile::tempdir()?, &[origin])?;
    let pre = [
        ("Origin", "https://ui.example.com"),
        ("Access-Control-Request-Method", "PATCH"),
        (
            "Access-Control-Request-Headers",
            "authorization,content-type",
        ),
    ];
    let (code, h, _) = s
        .rest_full("OPTIONS", "/api/v1/clients/", None, None, &pre)
        .await?;
    ensure!(code == 200, "preflight: {code}");
    let allowed = h
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok());
    ensure!(allowed == Some("https://ui.example.com"), "{h:?}");
    let evil = [("Origin", "https://evil.example.com")];
    let (_, h, _) = s
        .rest_full("GET", "/api/v1/ping/", None, None, &evil)
        .await?;
    ensure!(!h.contains_key("access-control-allow-origin"), "{h:?}");
    let ui = [("Origin", "https://ui.example.com")];
    let (_, h, _) = s
        .rest_full(
            "POST",
            "/graphql",
            None,
            Some(json!({"query": "{ ping }"})),
            &ui,
        )
        .await?;
    ensure!(h.contains_key("access-control-allow-origin"), "{h:?}");
    let cfg = Api::token(&s, &s.login().await?)
        .get("/api/v1/config/")
        .await?;
    ensure!(
        cfg["allowed_hosts"] == json!(["https://ui.example.com"]),
        "{cfg}"
    );
    Ok(())
}
