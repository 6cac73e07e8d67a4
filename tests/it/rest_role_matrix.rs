//! The role matrix over REST v1 (and charts, metrics): every route is called as anonymous,
//! viewer, operator, operator without grants and superuser, and the status is checked against
//! its row; every route accepts HTTP Basic as well as tokens (`stats/` once refused it).

use crate::setup;
use crate::support;

use anyhow::{ensure, Result};
use serde_json::{json, Value};
use setup::{world, ROLES};
use support::rest::basic;

/// `(method, path, body, statuses per role)`; 2 means any 2xx; `{name}` are the world's ids.
type Route = (&'static str, &'static str, Option<&'static str>, [u16; 5]);

const ROUTES: &[Route] = &[
    ("GET", "/api/v1/", None, [200, 200, 200, 200, 200]),
    ("GET", "/api/v1/ping/", None, [200, 200, 200, 200, 200]),
    // Liveness and readiness probes answer everyone (load balancers, Docker, Kubernetes).
    ("GET", "/healthz", None, [200, 200, 200, 200, 200]),
    ("GET", "/readyz", None, [200, 200, 200, 200, 200]),
    ("GET", "/api/v1/config/", None, [401, 200, 200, 200, 200]),
    ("GET", "/api/v1/me/", None, [401, 200, 200, 200, 200]),
    ("GET", "/api/v1/users/", None, [401, 403, 403, 403, 200]),
    ("GET", "/api/v1/cluster/", None, [401, 403, 403, 403, 200]),
    (
        "POST",
        "/api/v1/users/",
        Some(
            r#"{"email": "rest-new@cyborg.local", "role": "operator", "grants": [{"client": {client}}]}"#,
        ),
        [401, 403, 403, 403, 201],
    ),
    (
        "GET",
        "/api/v1/users/{admin_id}/",
        None,
        [401, 403, 403, 403, 200],
    ),
    (
        "PATCH",
        "/api/v1/users/{tmp_user}/",
        Some(r#"{"role": "viewer", "grants": []}"#),
        [401, 403, 403, 403, 200],
    ),
    (
        "DELETE",
        "/api/v1/users/{tmp_user3}/",
        None,
        [401, 403, 403, 403, 204],
    ),
    ("GET", "/api/v1/clients/", None, [401, 200, 200, 200, 200]),
    (
        "GET",
        "/api/v1/clients/{client}/",
        None,
        [401, 200, 200, 404, 200],
    ),
    (
        "POST",
        "/api/v1/clients/",
        Some(r#"{"hostname": "rest-new"}"#),
        [401, 403, 403, 403, 201],
    ),
    (
        "PATCH",
        "/api/v1/clients/{tmp_client}/",
        Some(r#"{"port": 2200}"#),
        [401, 403, 403, 403, 200],
    ),
    (
        "PUT",
        "/api/v1/clients/{tmp_client}/",
        Some(r#"{"port": 2201}"#),
        [401, 403, 403, 403, 200],
    ),
    (
        "DELETE",
        "/api/v1/clients/{tmp_client2}/",
        None,
        [401, 403, 403, 403, 204],
    ),
    ("GET", "/api/v1/schedules/", None, [401, 200, 200, 200, 200]),
    (
        "GET",
        "/api/v1/schedules/{schedule}/",
        None,
        [401, 200, 200, 404, 200],
    ),
    (
        "POST",
        "/api/v1/schedules/",
        Some(r#"{"name": "rest", "crontab": "0 2 * * *"}"#),
        [401, 403, 403, 403, 201],
    ),
    (
        "PATCH",
        "/api/v1/schedules/{tmp_schedule}/",
        Some(r#"{"name": "rest2"}"#),
        [401, 403, 403, 403, 200],
    ),
    (
        "DELETE",
        "/api/v1/schedules/{tmp_schedule2}/",
        None,
        [401, 403, 403, 403, 204],
    ),
    (
        "GET",
        "/api/v1/repositories/",
        None,
        [401, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/api/v1/repositories/{repository}/",
        None,
        [401, 200, 200, 404, 200],
    ),
    (
        "POST",
        "/api/v1/repositories/",
        Some(r#"{"name": "rest", "path": "/srv/rest-new"}"#),
        [401, 403, 403, 403, 201],
    ),
    (
        "PATCH",
        "/api/v1/repositories/{tmp_repo}/",
        Some(r#"{"name": "rest2"}"#),
        [401, 403, 403, 403, 200],
    ),
    (
        "DELETE",
        "/api/v1/repositories/{tmp_repo2}/",
        None,
        [401, 403, 403, 403, 204],
    ),
    // Superusers only; the repository has no tamper mark (409), the archive no anomaly (400).
    (
        "POST",
        "/api/v1/repositories/{repository}/clear_tamper/",
        None,
        [401, 403, 403, 403, 409],
    ),
    (
        "POST",
        "/api/v1/archives/{archive}/acknowledge_anomaly/",
        None,
        [401, 403, 403, 403, 400],
    ),
    // Fleet health is scoped by grants (an operator without grants sees an empty fleet);
    // readiness is per policy; connection tests are for superusers.
    ("GET", "/api/v1/health/", None, [401, 200, 200, 200, 200]),
    (
        "GET",
        "/api/v1/recoverability/",
        None,
        [401, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/api/v1/policies/{policy}/readiness/",
        None,
        [401, 200, 200, 404, 200],
    ),
    (
        "POST",
        "/api/v1/clients/{client}/test/",
        None,
        [401, 403, 403, 403, 200],
    ),
    (
        "POST",
        "/api/v1/repositories/{repository}/test/",
        None,
        [401, 403, 403, 403, 200],
    ),
    ("GET", "/api/v1/policies/", None, [401, 200, 200, 200, 200]),
    (
        "GET",
        "/api/v1/policies/{policy}/",
        None,
        [401, 200, 200, 404, 200],
    ),
    (
        "GET",
        "/api/v1/policies/{policy}/calendar/",
        None,
        [401, 200, 200, 404, 200],
    ),
    (
        "GET",
        "/api/v1/policies/{policy}/launch/",
        None,
        [401, 200, 200, 404, 200],
    ),
    (
        "POST",
        "/api/v1/policies/{policy}/launch/",
        None,
        [401, 403, 201, 404, 201],
    ),
    (
        "POST",
        "/api/v1/policies/",
        Some(
            r#"{"name": "rest", "policy_type": "config", "clients": [{tmp_client}], "repository": {tmp_repo}, "schedule": {tmp_schedule}}"#,
        ),
        [401, 403, 403, 403, 201],
    ),
    (
        "PATCH",
        "/api/v1/policies/{tmp_policy}/",
        Some(r#"{"name": "rest2"}"#),
        [401, 403, 403, 403, 200],
    ),
    (
        "DELETE",
        "/api/v1/policies/{tmp_policy2}/",
        None,
        [401, 403, 403, 403, 204],
    ),
    (
        "GET",
        "/api/v1/catalogs/?path=hello.txt",
        None,
        [401, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/api/v1/catalogs/{version}/",
        None,
        [401, 200, 200, 404, 200],
    ),
    ("GET", "/api/v1/jobs/", None, [401, 200, 200, 200, 200]),
    (
        "GET",
        "/api/v1/jobs/{job}/",
        None,
        [401, 200, 200, 404, 200],
    ),
    (
        "GET",
        "/api/v1/jobs/{job}/stdout/?format=txt",
        None,
        [401, 200, 200, 404, 200],
    ),
    (
        "GET",
        "/api/v1/jobs/{job}/cancel/",
        None,
        [401, 200, 200, 404, 200],
    ),
    (
        "GET",
        "/api/v1/jobs/{job}/relaunch/",
        None,
        [401, 200, 200, 404, 200],
    ),
    (
        "POST",
        "/api/v1/jobs/{job}/cancel/",
        None,
        [401, 403, 405, 404, 405],
    ),
    (
        "POST",
        "/api/v1/jobs/{job}/relaunch/",
        None,
        [401, 403, 201, 404, 201],
    ),
    ("GET", "/api/v1/restore/", None, [401, 200, 200, 200, 200]),
    // The archive's client is `localhost`, the server itself: superusers only.
    (
        "POST",
        "/api/v1/restore/",
        Some(r#"{"archive": {archive}, "paths": ["{file}"], "dry_run": true}"#),
        [401, 403, 403, 400, 201],
    ),
    ("GET", "/api/v1/settings/", None, [401, 403, 403, 403, 200]),
    (
        "GET",
        "/api/v1/settings/1/",
        None,
        [401, 403, 403, 403, 200],
    ),
    (
        "PATCH",
        "/api/v1/settings/url/",
        Some(r#"{"value": "http://127.0.0.1:8000"}"#),
        [401, 403, 403, 403, 200],
    ),
    (
        "GET",
        "/api/v1/settings/generate_ssh/",
        None,
        [401, 2, 2, 2, 2],
    ),
    (
        "POST",
        "/api/v1/settings/generate_ssh/",
        Some(r#"{"force": true}"#),
        [401, 403, 403, 403, 201],
    ),
    (
        "GET",
        "/api/v1/settings/get_ssh_publickey/",
        None,
        [401, 200, 200, 200, 200],
    ),
    ("GET", "/api/v1/stats/", None, [401, 200, 200, 200, 200]),
    ("GET", "/charts/size.svg", None, [401, 200, 200, 200, 200]),
    (
        "GET",
        "/charts/jobs.png?policy={policy}",
        None,
        [401, 200, 200, 404, 200],
    ),
    ("GET", "/metrics", None, [401, 200, 200, 200, 200]),
];

#[tokio::test(flavor = "multi_thread")]
async fn every_rest_route_answers_each_role_as_the_matrix_says() -> Result<()> {
    let mut w = world().await?;
    let v =
        w.s.rest(
            "GET",
            "/api/v1/catalogs/?path=hello.txt",
            Some(&format!("Token {}", w.admin)),
            None,
        )
        .await?;
    w.ids.push(("version", v.1["results"][0]["id"].to_string()));
    let mut failures = Vec::new();
    for (method, path, body, want) in ROUTES {
        let path = w.fill(path);
        let body: Option<Value> = body.map(|b| serde_json::from_str(&w.fill(b))).transpose()?;
        for (i, want) in want.iter().enumerate() {
            let auth = w.token(i).map(|t| format!("Token {t}"));
            let (code, answer) =
                w.s.rest(method, &path, auth.as_deref(), body.clone())
                    .await?;
            let ok = if *want == 2 {
                (200..300).contains(&code)
            } else {
                code == *want
            };
            if !ok {
                failures.push(format!(
                    "{method} {path} as {}: wanted {want}, got {code} {answer}",
                    ROLES[i]
                ));
            }
        }
    }
    ensure!(
        failures.is_empty(),
        "REST role matrix mismatches:\n{}",
        failures.join("\n")
    );

    // Lists are limited to the grants, on REST too.
    let n = format!("Token {}", w.users[2]);
    for list in [
        "/api/v1/clients/",
        "/api/v1/policies/",
        "/api/v1/jobs/",
        "/api/v1/catalogs/?path=hello.txt",
    ] {
        let (code, body) = w.s.rest("GET", list, Some(&n), None).await?;
        ensure!(
            code == 200 && body["count"] == 0,
            "{list} without grants: {body}"
        );
    }
    let (_, p) =
        w.s.rest(
            "GET",
            &w.fill("/api/v1/policies/{policy}/"),
            Some(&format!("Token {}", w.users[0])),
            None,
        )
        .await?;
    ensure!(p["prehook"] == "$encrypted$", "a viewer read the hook: {p}");
    // Users carry role and grants beside is_superuser.
    let (_, me) =
        w.s.rest(
            "GET",
            "/api/v1/me/",
            Some(&format!("Token {}", w.users[1])),
            None,
        )
        .await?;
    let u = &me["results"][0];
    ensure!(
        u["role"] == "operator" && u["is_superuser"] == false,
        "{me}"
    );
    ensure!(
        u["grants"] == json!([{"client": w.id("client"), "policy": null, "restore": true}]),
        "{me}"
    );

    // HTTP Basic works on every kind of route, statistics included.
    let b = basic(&w.emails[0], "role password 1");
    for path in [
        "/api/v1/stats/",
        "/api/v1/me/",
        "/charts/size.svg",
        "/metrics",
    ] {
        let (code, body) = w.s.rest("GET", path, Some(&b), None).await?;
        ensure!(code == 200, "basic on {path}: {code} {body}");
    }
    Ok(())
}
