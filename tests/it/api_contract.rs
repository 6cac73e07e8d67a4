//! API behaviour of the real binary: authentication, field-level validation errors, the enabled
//! cascade, cron in both forms with calendars, and the scheduler.

use crate::support;

use anyhow::Result;
use serde_json::json;
use std::time::Duration;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_callers_are_refused() -> Result<()> {
    let s = Server::start()?;
    let ping = s.gql(None, "{ ping }", json!({})).await?;
    assert_eq!(ping.data()?["ping"], "pong");
    for q in [
        "{ clients { nodes { id } } }",
        "{ me { email } }",
        "{ jobs { nodes { id } } }",
        "{ catalogSearch(query: \"x\") { total } }",
        "mutation { createClient(input: {hostname: \"x\"}) { id } }",
        "mutation { launchPolicy(id: 1) { id } }",
    ] {
        let r = s.gql(None, q, json!({})).await?;
        assert_eq!(r.error_code(), Some("UNAUTHENTICATED"), "{q}: {}", r.0);
        let r = s.gql(Some("cbs_forged"), q, json!({})).await?;
        assert_eq!(
            r.error_code(),
            Some("UNAUTHENTICATED"),
            "{q} with a forged token: {}",
            r.0
        );
    }
    let bad = s
        .gql(
            None,
            "mutation { login(email: \"admin@cyborg.local\", password: \"wrong\") { token } }",
            json!({}),
        )
        .await?;
    assert_eq!(bad.error_code(), Some("VALIDATION"));
    assert!(bad.error_message().contains("wrong email or password"));
    // Logout ends the session; API tokens work until revoked.
    let token = s.login().await?;
    let t = s
        .ok(
            &token,
            "mutation { createApiToken(name: \"ci\") { id token } }",
            json!({}),
        )
        .await?;
    let api = t["createApiToken"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        s.ok(&api, "{ me { email } }", json!({})).await?["me"]["email"],
        ADMIN_EMAIL
    );
    s.ok(&token, "mutation { logout }", json!({})).await?;
    assert_eq!(
        s.gql(Some(&token), "{ me { email } }", json!({}))
            .await?
            .error_code(),
        Some("UNAUTHENTICATED")
    );
    s.ok(
        &api,
        "mutation($id: Int!) { revokeApiToken(id: $id) }",
        json!({"id": t["createApiToken"]["id"]}),
    )
    .await?;
    assert_eq!(
        s.gql(Some(&api), "{ me { email } }", json!({}))
            .await?
            .error_code(),
        Some("UNAUTHENTICATED")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_names_the_field_and_changes_nothing() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let cases = [
        (
            r#"mutation { createClient(input: {hostname: "web1; touch /tmp/pwned"}) { id } }"#,
            "hostname",
        ),
        (
            r#"mutation { createClient(input: {hostname: ""}) { id } }"#,
            "hostname",
        ),
        (
            r#"mutation { createClient(input: {hostname: "ok.example.com", port: 70000}) { id } }"#,
            "port",
        ),
        (
            r#"mutation { createSchedule(input: {name: "x", crontab: "61 * * * *"}) { id } }"#,
            "crontab",
        ),
        (
            r#"mutation { createSchedule(input: {name: "x", crontab: "every day"}) { id } }"#,
            "crontab",
        ),
        (
            r#"mutation { createSchedule(input: {name: "", crontab: "* * * * *"}) { id } }"#,
            "name",
        ),
        (
            r#"mutation { createRepository(input: {name: "r", path: "relative/path"}) { id } }"#,
            "path",
        ),
    ];
    for (q, field) in cases {
        let r = s.gql(Some(&token), q, json!({})).await?;
        assert_eq!(r.error_code(), Some("VALIDATION"), "{q}: {}", r.0);
        assert_eq!(r.error_field(), Some(field), "{q}: {}", r.0);
    }
    let c = s
        .ok(
            &token,
            r#"mutation { createClient(input: {hostname: "localhost"}) { id } }"#,
            json!({}),
        )
        .await?["createClient"]["id"]
        .clone();
    let r = s
        .ok(
            &token,
            r#"mutation { createRepository(input: {name: "r", path: "/srv/borg/r"}) { id } }"#,
            json!({}),
        )
        .await?["createRepository"]["id"]
        .clone();
    let sc = s
        .ok(
            &token,
            r#"mutation { createSchedule(input: {name: "s", crontab: "0 5 * * MON *"}) { id } }"#,
            json!({}),
        )
        .await?["createSchedule"]["id"]
        .clone();
    let policy = |ptype: &str, vars: &str, keep: i64| json!({"c": c, "r": r, "s": sc, "t": ptype, "v": vars, "k": keep});
    let q = "mutation($c: Int!, $r: Int!, $s: Int!, $t: String!, $v: String!, $k: Int) { createPolicy(input: {name: \"p\", policyType: $t, extraVars: $v, clients: [$c], repository: $r, schedule: $s, keepDaily: $k}) { id } }";
    for (vars, field) in [
        (policy("floppy", "", 1), "policy_type"),
        (policy("folders", "", 1), "extra_vars.folders"),
        (
            policy("folders", "{\"folders\": \"relative\"}", 1),
            "extra_vars.folders[0]",
        ),
        (policy("folders", "{not json", 1), "extra_vars"),
        (policy("config", "", -1), "keep_daily"),
        (policy("piped", "{}", 1), "extra_vars.command"),
    ] {
        let r = s.gql(Some(&token), q, vars.clone()).await?;
        assert_eq!(r.error_code(), Some("VALIDATION"), "{vars}: {}", r.0);
        assert_eq!(r.error_field(), Some(field), "{vars}: {}", r.0);
    }
    let counts = s
        .ok(
            &token,
            "{ clients { totalCount nodes { id } } policies { totalCount nodes { id } } schedules { nodes { id } } }",
            json!({}),
        )
        .await?;
    assert_eq!(
        counts["clients"]["nodes"].as_array().map(|a| a.len()),
        Some(1)
    );
    assert_eq!(counts["clients"]["totalCount"], 1);
    assert_eq!(
        counts["policies"]["nodes"].as_array().map(|a| a.len()),
        Some(0)
    );
    assert_eq!(counts["policies"]["totalCount"], 0);
    let e = s
        .gql(Some(&token), "{ client(id: 999) { id } }", json!({}))
        .await?;
    assert_eq!(e.error_code(), Some("NOT_FOUND"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn cron_forms_calendar_and_scheduler() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let preview = s.ok(&token, r#"{ a: cronPreview(crontab: "0 5 * * MON *", count: 3) b: cronPreview(crontab: "30 2 * * *", count: 2) }"#, json!({})).await?;
    for t in preview["a"].as_array().cloned().unwrap_or_default() {
        let t = chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap_or_default())?;
        use chrono::{Datelike, Timelike};
        assert_eq!(
            (t.weekday(), t.hour(), t.minute()),
            (chrono::Weekday::Mon, 5, 0)
        );
    }
    assert_eq!(preview["b"].as_array().map(|a| a.len()), Some(2));

    // A policy on an every-minute schedule fires by itself; one on a disabled schedule never does.
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("f"), "x")?;
    let policy = local_policy(
        &s,
        &token,
        &[&src.path().display().to_string()],
        "pass phrase",
    )
    .await?;
    let p = s
        .ok(
            &token,
            "query($id: Int!) { policy(id: $id) { scheduleId calendar(year: 2026, month: 11) } }",
            json!({"id": policy}),
        )
        .await?;
    assert_eq!(
        p["policy"]["calendar"].as_array().map(|a| a.len()),
        Some(30),
        "daily at 03:00 in November"
    );
    let every = s.ok(&token, r#"mutation { createSchedule(input: {name: "every minute", crontab: "*/1 * * * * *"}) { id } }"#, json!({})).await?["createSchedule"]["id"].clone();
    let off = s.ok(&token, r#"mutation { createSchedule(input: {name: "off", crontab: "* * * * *", enabled: false}) { id } }"#, json!({})).await?["createSchedule"]["id"].clone();
    let d = s
        .ok(
            &token,
            "query($id: Int!) { policy(id: $id) { clientIds repositoryId } }",
            json!({"id": policy}),
        )
        .await?;
    let mk = "mutation($c: [Int!]!, $r: Int!, $s: Int!, $v: String!, $n: String!) { createPolicy(input: {name: $n, policyType: \"folders\", extraVars: $v, clients: $c, repository: $r, schedule: $s}) { id blockers } }";
    let vars = |n: &str, sched: &serde_json::Value| json!({"c": d["policy"]["clientIds"], "r": d["policy"]["repositoryId"], "s": sched, "n": n, "v": json!({"folders": [src.path().display().to_string()]}).to_string()});
    let fired = s.ok(&token, mk, vars("fires", &every)).await?["createPolicy"]["id"].clone();
    let quiet = s.ok(&token, mk, vars("quiet", &off)).await?;
    assert!(
        quiet["createPolicy"]["blockers"][0]
            .as_str()
            .unwrap_or_default()
            .contains("schedule"),
        "{quiet}"
    );
    let launch = s
        .gql(
            Some(&token),
            "mutation($id: Int!) { launchPolicy(id: $id) { id } }",
            json!({"id": quiet["createPolicy"]["id"]}),
        )
        .await?;
    assert_eq!(launch.error_code(), Some("CONFLICT"), "{}", launch.0);
    let deadline = std::time::Instant::now() + Duration::from_secs(75);
    loop {
        let jobs = s
            .ok(
                &token,
                "query($p: Int!) { jobs(policy: $p) { nodes { launchType } } }",
                json!({"p": fired}),
            )
            .await?;
        if jobs["jobs"]["nodes"]
            .as_array()
            .is_some_and(|a| a.iter().any(|j| j["launchType"] == "scheduled"))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the every-minute schedule did not fire"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let quiet_jobs = s
        .ok(
            &token,
            "query($p: Int!) { jobs(policy: $p) { totalCount nodes { id } } }",
            json!({"p": quiet["createPolicy"]["id"]}),
        )
        .await?;
    assert_eq!(
        quiet_jobs["jobs"]["nodes"].as_array().map(|a| a.len()),
        Some(0)
    );
    assert_eq!(quiet_jobs["jobs"]["totalCount"], 0);
    Ok(())
}
