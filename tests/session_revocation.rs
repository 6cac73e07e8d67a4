//! Sessions end where they should: a websocket opened before a logout, a password change or a
//! demotion runs nothing after it and is closed (4401); a password change revokes the user's
//! other sessions and API tokens; changing your own password needs the current one (GraphQL and
//! REST), a superuser changing another's does not; websocket messages are capped.

mod support;

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use std::time::Duration;
use support::ws::{closed, connect, next_json, send, Ws};
use support::*;

const SESSION_ENDED: Option<u16> = Some(4401);

async fn login_as(s: &Server, email: &str, password: &str) -> Result<String> {
    let r = s
        .gql(
            None,
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
            json!({"e": email, "p": password}),
        )
        .await?;
    Ok(r.data()?["login"]["token"]
        .as_str()
        .context("token")?
        .to_string())
}

async fn socket(s: &Server, token: &str) -> Result<Ws> {
    let mut ws = connect(s, json!({"authorization": format!("Bearer {token}")})).await?;
    let ack = next_json(&mut ws).await?;
    ensure!(ack["type"] == "connection_ack", "{ack}");
    // A quiet subscription stays open meanwhile (no job runs in these tests).
    send(
        &mut ws,
        json!({"id": "status", "type": "subscribe", "payload": {"query": "subscription { jobStatus { jobId status } }"}}),
    )
    .await?;
    Ok(ws)
}

fn me(id: &str) -> Value {
    json!({"id": id, "type": "subscribe", "payload": {"query": "{ me { email } }"}})
}

async fn create_user(s: &Server, admin: &str, email: &str, superuser: bool) -> Result<i64> {
    let d = s
        .ok(
            admin,
            "mutation($e: String!, $s: Boolean!) { createUser(input: {email: $e, password: \"first password\", isSuperuser: $s}) { id } }",
            json!({"e": email, "s": superuser}),
        )
        .await?;
    d["createUser"]["id"].as_i64().context("user id")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_websocket_opened_before_logout_runs_nothing_after_it() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let mut ws = socket(&s, &token).await?;
    send(&mut ws, me("before")).await?;
    let m = next_json(&mut ws).await?;
    ensure!(
        m["type"] == "next" && m["payload"]["data"]["me"]["email"] == ADMIN_EMAIL,
        "{m}"
    );
    s.ok(&token, "mutation { logout }", json!({})).await?;
    // The next operation is refused: the socket closes before running it.
    send(&mut ws, me("after")).await?;
    let code = closed(&mut ws, Duration::from_secs(30)).await?;
    ensure!(code == SESSION_ENDED, "closed with {code:?}");
    // A socket that sends nothing more is closed by the periodic check.
    let token = s.login().await?;
    let mut ws = socket(&s, &token).await?;
    s.ok(&token, "mutation { logout }", json!({})).await?;
    let code = closed(&mut ws, Duration::from_secs(60)).await?;
    ensure!(code == SESSION_ENDED, "closed with {code:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_websocket_ends_when_its_session_expires() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let mut ws = socket(&s, &token).await?;
    // Age the session (the newest token) past its expiry, as twelve hours would.
    let out = std::process::Command::new("sqlite3")
        .arg(s.data_dir.path().join("cyborgbackup.db"))
        .arg(".timeout 10000")
        .arg("UPDATE tokens SET expires = '2000-01-01T00:00:00.000000Z' WHERE id = (SELECT MAX(id) FROM tokens)")
        .output()
        .context("running sqlite3 (scripts/install-deps.sh --tests installs it)")?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let code = closed(&mut ws, Duration::from_secs(60)).await?;
    ensure!(code == SESSION_ENDED, "expiry: closed with {code:?}");
    let r = s.gql(Some(&token), "{ me { email } }", json!({})).await?;
    ensure!(r.error_code() == Some("UNAUTHENTICATED"), "{}", r.0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_websocket_ends_on_password_change_and_demotion() -> Result<()> {
    let s = Server::start()?;
    let admin = s.login().await?;
    // Demotion of a superuser.
    let second = create_user(&s, &admin, "second@cyborg.local", true).await?;
    let token = login_as(&s, "second@cyborg.local", "first password").await?;
    let mut ws = socket(&s, &token).await?;
    s.ok(
        &admin,
        "mutation($id: Int!) { updateUser(id: $id, input: {isSuperuser: false}) { id } }",
        json!({"id": second}),
    )
    .await?;
    let code = closed(&mut ws, Duration::from_secs(60)).await?;
    ensure!(code == SESSION_ENDED, "demotion: closed with {code:?}");
    // A password change by a superuser, the socket opened with an API token.
    let op = create_user(&s, &admin, "op@cyborg.local", false).await?;
    let session = login_as(&s, "op@cyborg.local", "first password").await?;
    let api = s
        .ok(
            &session,
            "mutation { createApiToken(name: \"ci\") { token } }",
            json!({}),
        )
        .await?["createApiToken"]["token"]
        .as_str()
        .context("api token")?
        .to_string();
    let mut ws = socket(&s, &api).await?;
    s.ok(
        &admin,
        "mutation($id: Int!) { setPassword(userId: $id, password: \"second password\") }",
        json!({"id": op}),
    )
    .await?;
    send(&mut ws, me("after")).await?;
    let code = closed(&mut ws, Duration::from_secs(30)).await?;
    ensure!(
        code == SESSION_ENDED,
        "password change: closed with {code:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_change_revokes_tokens_and_needs_the_current_password() -> Result<()> {
    let s = Server::start()?;
    let admin = s.login().await?;
    let op = create_user(&s, &admin, "op@cyborg.local", false).await?;
    let mine = login_as(&s, "op@cyborg.local", "first password").await?;
    let other = login_as(&s, "op@cyborg.local", "first password").await?;
    let api = s
        .ok(
            &mine,
            "mutation { createApiToken(name: \"ci\") { token } }",
            json!({}),
        )
        .await?["createApiToken"]["token"]
        .as_str()
        .context("api token")?
        .to_string();
    let change = "mutation($id: Int!, $p: String!, $c: String) { setPassword(userId: $id, password: $p, currentPassword: $c) }";
    // Without, or with a wrong, current password: refused, nothing revoked.
    for current in [Value::Null, json!("not the password")] {
        let r = s
            .gql(
                Some(&mine),
                change,
                json!({"id": op, "p": "second password", "c": current}),
            )
            .await?;
        ensure!(r.error_field() == Some("currentPassword"), "{}", r.0);
    }
    s.ok(&api, "{ me { email } }", json!({})).await?;
    // With it: done; the API token and the other session end, this session goes on.
    s.ok(
        &mine,
        change,
        json!({"id": op, "p": "second password", "c": "first password"}),
    )
    .await?;
    for (name, t) in [("api token", &api), ("other session", &other)] {
        let r = s.gql(Some(t), "{ me { email } }", json!({})).await?;
        ensure!(r.error_code() == Some("UNAUTHENTICATED"), "{name}: {}", r.0);
    }
    let (code, _) = s
        .rest("GET", "/api/v1/me/", Some(&format!("Token {api}")), None)
        .await?;
    ensure!(code == 401, "the api token still works on REST: {code}");
    s.ok(&mine, "{ me { email } }", json!({})).await?;
    login_as(&s, "op@cyborg.local", "second password").await?;
    // A superuser sets another's password without theirs; every session of it ends.
    s.ok(
        &admin,
        "mutation($id: Int!) { setPassword(userId: $id, password: \"third password\") }",
        json!({"id": op}),
    )
    .await?;
    let r = s.gql(Some(&mine), "{ me { email } }", json!({})).await?;
    ensure!(r.error_code() == Some("UNAUTHENTICATED"), "{}", r.0);
    // REST: a superuser changing their own password gives the current one too.
    let me_id = s.ok(&admin, "{ me { id } }", json!({})).await?["me"]["id"].clone();
    let auth = format!("Token {admin}");
    let path = format!("/api/v1/users/{me_id}/");
    let (code, body) = s
        .rest(
            "PATCH",
            &path,
            Some(&auth),
            Some(json!({"password": "new admin password"})),
        )
        .await?;
    ensure!(
        code == 400 && body["current_password"].is_array(),
        "{code} {body}"
    );
    let with = json!({"password": "new admin password", "current_password": ADMIN_PASSWORD});
    let (code, body) = s.rest("PATCH", &path, Some(&auth), Some(with)).await?;
    ensure!(code == 200, "{code} {body}");
    login_as(&s, ADMIN_EMAIL, "new admin password").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_messages_are_capped() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let mut ws = socket(&s, &token).await?;
    let huge = "x".repeat(3 << 20);
    let msg = json!({"id": "big", "type": "subscribe", "payload": {"query": format!("{{ ping }} # {huge}")}});
    // The server may close while the message is still being sent.
    let _ = send(&mut ws, msg).await;
    closed(&mut ws, Duration::from_secs(60)).await?;
    Ok(())
}
