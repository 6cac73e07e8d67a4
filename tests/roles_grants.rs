//! The abuse cases of the review, with real borg over the loopback sshd hosts: without the
//! right grant a user cannot download `/etc/shadow` from an archive, restore onto a host, or
//! relaunch a preparation or prune job; with it (or as a superuser where the rules say) each
//! works for real.

#[path = "restore/fixture.rs"]
#[allow(dead_code)]
mod fixture;
#[path = "roles/setup.rs"]
mod setup;
mod support;

use anyhow::{ensure, Context, Result};
use fixture::*;
use serde_json::{json, Value};
use std::time::Duration;
use support::*;

const GRANTS: &str =
    "mutation($id: Int!, $g: [GrantInput!]) { updateUser(id: $id, input: {grants: $g}) { id } }";
const RELAUNCH: &str = "mutation($id: Int!) { relaunchJob(id: $id) { id jobType } }";

fn refused(g: &Gql) -> bool {
    matches!(g.error_code(), Some("FORBIDDEN" | "NOT_FOUND"))
        || (g.error_code() == Some("VALIDATION") && g.error_message().contains("does not exist"))
}

async fn job_of(s: &Server, token: &str, kind: &str) -> Result<i64> {
    let d = s
        .ok(
            token,
            "query($t: String!) { jobs(jobType: $t, first: 1) { nodes { id } } }",
            json!({"t": kind}),
        )
        .await?;
    d["jobs"]["nodes"][0]["id"]
        .as_i64()
        .with_context(|| format!("no {kind} job: {d}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_decide_downloads_restores_and_relaunches() -> Result<()> {
    let f = fixture(false).await?;
    let (s, admin) = (&f.s, f.token.as_str());
    // The server backs itself up too: /etc/shadow is in an archive of its `localhost` client.
    let shadow = local_policy(s, admin, &["/etc/shadow"], "shadow passphrase").await?;
    launch(s, admin, shadow).await?;
    s.wait_jobs(admin, Duration::from_secs(300)).await?;
    let d = s
        .ok(
            admin,
            "query($p: Int!) { archives(policy: $p) { nodes { id clientId } } }",
            json!({"p": shadow}),
        )
        .await?;
    let shadow_archive = d["archives"]["nodes"][0]["id"]
        .as_i64()
        .context("shadow archive")?;
    let localhost = d["archives"]["nodes"][0]["clientId"]
        .as_i64()
        .context("localhost")?;
    // A prune job to relaunch: the web1 policy keeps 3 daily archives.
    let web1_policy = s
        .ok(
            admin,
            "{ policies(search: \"docs\") { nodes { id } } }",
            json!({}),
        )
        .await?["policies"]["nodes"][0]["id"]
        .clone();
    s.ok(
        admin,
        "mutation($id: Int!) { updatePolicy(id: $id, input: {keepDaily: 3}) { id } }",
        json!({"id": web1_policy}),
    )
    .await?;
    s.ok(
        admin,
        "mutation($id: Int!) { prunePolicy(id: $id) { id } }",
        json!({"id": web1_policy}),
    )
    .await?;
    s.wait_jobs(admin, Duration::from_secs(300)).await?;
    let prune = job_of(s, admin, "prune").await?;
    let prepare = job_of(s, admin, "prepare_client").await?;
    let backup = job_of(s, admin, "job").await?;

    let (op_id, op) = setup::user(s, admin, "op@cyborg.local", "OPERATOR", json!([])).await?;
    let download = |a: i64, p: &str| (DOWNLOAD, json!({"a": a, "p": [p]}));
    let target = tempfile::tempdir()?;
    let secret = f.secret().display().to_string();
    let onto = |client: i64, dry: bool| json!({"i": {"archive": f.archive, "paths": [secret], "client": client, "targetDirectory": target.path(), "dryRun": dry}});

    // 1. No grants: every case is refused.
    let (q, v) = download(shadow_archive, "/etc/shadow");
    let g = s.gql(Some(&op), q, v).await?;
    ensure!(refused(&g), "download /etc/shadow without a grant: {}", g.0);
    let g = s.gql(Some(&op), RESTORE, onto(f.web1, false)).await?;
    ensure!(refused(&g), "restore without a grant: {}", g.0);
    for job in [prepare, prune, backup] {
        let g = s.gql(Some(&op), RELAUNCH, json!({"id": job})).await?;
        ensure!(refused(&g), "relaunch {job} without a grant: {}", g.0);
    }

    // /metrics (metrics.auth is `token` by default) names no series of clients out of reach.
    let metrics = |token: String| async move {
        let (code, body) = s
            .rest("GET", "/metrics", Some(&format!("Token {token}")), None)
            .await?;
        ensure!(code == 200, "metrics: {code} {body}");
        Ok::<String, anyhow::Error>(body.as_str().unwrap_or_default().to_string())
    };
    let all = metrics(admin.to_string()).await?;
    ensure!(
        all.contains("client=\"localhost\"") && all.contains("cyborgbackup_jobs_total"),
        "{all}"
    );
    let none = metrics(op.clone()).await?;
    ensure!(
        !none.contains("client=")
            && !none.contains("repository=\"")
            && !none.contains("cyborgbackup_jobs_total{"),
        "metrics without grants show the instance: {none}"
    );

    ensure!(all.contains("policy=\"docs\""), "{all}");
    s.ok(
        admin,
        GRANTS,
        json!({"id": op_id, "g": [{"client": localhost}]}),
    )
    .await?;
    let some = metrics(op.clone()).await?;
    ensure!(
        some.contains("client=\"localhost\"") && !some.contains("policy=\"docs\""),
        "metrics with a grant on localhost only: {some}"
    );

    // 2. Grants without the restore flag: metadata yes, contents no.
    let no_restore = json!([{"client": localhost}, {"client": f.web1}]);
    s.ok(admin, GRANTS, json!({"id": op_id, "g": no_restore}))
        .await?;
    let (q, v) = download(shadow_archive, "/etc/shadow");
    let g = s.gql(Some(&op), q, v).await?;
    ensure!(
        g.error_code() == Some("FORBIDDEN"),
        "download without the restore flag: {}",
        g.0
    );
    let browse = s
        .ok(
            &op,
            "query($a: Int!) { browse(archive: $a, directory: \"/etc\") { entries { path } } }",
            json!({"a": shadow_archive}),
        )
        .await?;
    ensure!(browse.to_string().contains("/etc/shadow"), "{browse}");
    // Preparation and prune jobs stay a superuser's, whatever the grants.
    for job in [prepare, prune] {
        let g = s.gql(Some(&op), RELAUNCH, json!({"id": job})).await?;
        ensure!(
            g.error_code() == Some("FORBIDDEN"),
            "relaunch {job}: {}",
            g.0
        );
    }
    let again = s.ok(&op, RELAUNCH, json!({"id": backup})).await?;
    ensure!(again["relaunchJob"]["jobType"] == "job", "{again}");

    // 3. With the restore flag: the download works, byte for byte.
    let full = json!([{"client": localhost, "restore": true}, {"client": f.web1, "restore": true}]);
    s.ok(admin, GRANTS, json!({"id": op_id, "g": full})).await?;
    let (q, v) = download(shadow_archive, "/etc/shadow");
    let d = s.ok(&op, q, v).await?;
    let (status, _, body) = get(&format!(
        "{}{}",
        s.url,
        d["restoreDownload"]["url"].as_str().unwrap_or_default()
    ))
    .await?;
    ensure!(
        status == 200 && body == std::fs::read("/etc/shadow")?,
        "download: {status}"
    );
    // A viewer never reads contents, restore flag or not.
    let (_, viewer) = setup::user(
        s,
        admin,
        "viewer@cyborg.local",
        "VIEWER",
        json!([{"client": localhost, "restore": true}]),
    )
    .await?;
    let (q, v) = download(shadow_archive, "/etc/shadow");
    let g = s.gql(Some(&viewer), q, v).await?;
    ensure!(
        g.error_code() == Some("FORBIDDEN"),
        "viewer download: {}",
        g.0
    );

    // 4. Restoring onto a host: its own grant is needed; the server itself is superuser only.
    let g = s.gql(Some(&op), RESTORE, onto(f.web2, false)).await?;
    ensure!(
        refused(&g),
        "restore onto web2 without a grant on it: {}",
        g.0
    );
    let g = s.gql(Some(&op), RESTORE, onto(localhost, true)).await?;
    ensure!(
        g.error_code() == Some("FORBIDDEN"),
        "restore onto the server: {}",
        g.0
    );
    let (_, job) = restore(
        s,
        admin,
        onto(localhost, true)
            .get("i")
            .cloned()
            .unwrap_or(Value::Null),
    )
    .await?;
    // Authorized: the job is queued. From a remote repository the executor then refuses to
    // restore onto `localhost` itself (the server must be a client by its hostname, so that no
    // repository credential is used on the server): that is its rule, not a permission refusal.
    ensure!(
        job["status"] == "successful"
            || job["jobExplanation"]
                .as_str()
                .is_some_and(|e| e.contains("is the server itself")),
        "a superuser's dry run onto the server: {job}"
    );
    let with_web2 =
        json!([{"client": f.web1, "restore": true}, {"client": f.web2, "restore": true}]);
    s.ok(admin, GRANTS, json!({"id": op_id, "g": with_web2}))
        .await?;
    let (id, job) = restore(
        s,
        &op,
        onto(f.web2, false).get("i").cloned().unwrap_or(Value::Null),
    )
    .await?;
    ensure!(
        job["status"] == "successful",
        "{job}\n{}",
        s.job_log(admin, id).await?
    );
    ensure!(std::fs::read_to_string(under(target.path(), &f.secret()))? == SECRET_CONTENT);

    // 5. A superuser relaunches the prune job, which runs.
    let r = s.ok(admin, RELAUNCH, json!({"id": prune})).await?;
    let id = r["relaunchJob"]["id"]
        .as_i64()
        .context("relaunched prune")?;
    s.wait_job_ok(admin, id, Duration::from_secs(180)).await?;
    Ok(())
}
