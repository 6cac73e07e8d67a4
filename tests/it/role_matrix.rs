//! The role matrix over GraphQL: every root field of the schema (read by introspection: a
//! field without a row fails the test) is called as anonymous, viewer, operator, operator
//! without grants and superuser, and each answer is checked against the row. Then what each
//! role sees: lists and catalog search limited to the grants, hooks hidden from non-superusers.

use crate::setup;
use crate::support;

use anyhow::{bail, ensure, Context, Result};
use futures_util::SinkExt;
use serde_json::{json, Value};
use setup::{world, World, ROLES};
use std::time::Duration;
use support::ws::{connect, next_json};
use tokio_tungstenite::tungstenite::Message;

/// Expected answer per role (anonymous, viewer, operator, operator without grants, superuser):
/// `A` allowed (no UNAUTHENTICATED, FORBIDDEN or NOT_FOUND), `a` authorized (the target may not
/// exist), `U` UNAUTHENTICATED, `F` FORBIDDEN, `N` NOT_FOUND (outside the grants), `H` hidden
/// (NOT_FOUND, or a validation error saying it does not exist).
type Row = (&'static str, &'static str, &'static str);

const QUERIES: &[Row] = &[
    ("ping", "{ ping }", "AAAAA"),
    ("version", "{ version }", "AAAAA"),
    (
        "me",
        "{ me { id role grants { clientId restore } } }",
        "UAAAA",
    ),
    ("client", "{ client(id: {client}) { id } }", "UAANA"),
    (
        "repository",
        "{ repository(id: {repository}) { id tampered borgId encryptionMode lastGoodTransaction } }",
        "UAANA",
    ),
    ("schedule", "{ schedule(id: {schedule}) { id } }", "UAANA"),
    (
        "policy",
        "{ policy(id: {policy}) { id prehook clients { id } } }",
        "UAANA",
    ),
    (
        "cronPreview",
        "{ cronPreview(crontab: \"* * * * *\") }",
        "UAAAA",
    ),
    (
        "job",
        "{ job(id: {job}) { id output { text } progress { files } } }",
        "UAANA",
    ),
    ("archive", "{ archive(id: {archive}) { id pruneBlockedBy { id } } }", "UAANA"),
    // The world's archive is in its policy's primary repository: refused on the facts.
    ("copyComparison", "{ copyComparison(archive: {archive}) { identical } }", "UaaNa"),
    // A primary archive has no stored verdict (null), but the archive is still scoped.
    ("copyVerification", "{ copyVerification(archive: {archive}) { verdict } }", "UAANA"),
    // Scoped by grants like fleet health: an operator without grants sees no series.
    ("recoverability", "{ recoverability { ok degraded unmet series { policyId state } } }", "UAAAA"),
    ("users", "{ users { totalCount } }", "UFFFA"),
    ("cluster", "{ cluster { database nodes { name alive } } }", "UFFFA"),
    ("apiTokens", "{ apiTokens { totalCount } }", "UAAAA"),
    ("clients", "{ clients { totalCount } }", "UAAAA"),
    ("repositories", "{ repositories { totalCount } }", "UAAAA"),
    ("schedules", "{ schedules { totalCount } }", "UAAAA"),
    ("policies", "{ policies { totalCount } }", "UAAAA"),
    ("jobs", "{ jobs { totalCount } }", "UAAAA"),
    ("archives", "{ archives { totalCount } }", "UAAAA"),
    (
        "catalogSearch",
        "{ catalogSearch(query: \"hello.txt\") { total } }",
        "UAAAA",
    ),
    (
        "fileHistory",
        "{ fileHistory(client: {client}, path: \"{file}\") { fate } }",
        "UAANA",
    ),
    (
        "archiveChanges",
        "{ archiveChanges(archive: {archive}) { added } }",
        "UAANA",
    ),
    ("anomalies", "{ anomalies { kind acknowledgedAt } }", "UAAAA"),
    ("liveCursor", "{ liveCursor }", "UAAAA"),
    ("fleetHealth", "{ fleetHealth { total series { policyId state } } }", "UAAAA"),
    ("policyReadiness", "{ policyReadiness(policy: {policy}) { ready findings { code } } }", "UAANA"),
    ("clientSetup", "{ clientSetup(id: {client}) { authorizedKeysLine } }", "UAANA"),
    (
        "archiveDiff",
        "{ archiveDiff(a: {archive}, b: {archive}) { total } }",
        "UAANA",
    ),
    (
        "browse",
        "{ browse(archive: {archive}) { total } }",
        "UAANA",
    ),
    ("sshPublicKey", "{ sshPublicKey }", "UAAAA"),
    ("hostKeys", "{ hostKeys { host } }", "UFFFA"),
    // Everyone reads the settings meant for any user (`url`); superusers read them all.
    ("settings", "{ settings { key } }", "UAAAA"),
    ("statsSeries", "{ statsSeries { key } }", "UAAAA"),
    ("chartSvg", "{ chartSvg(kind: \"size\") }", "UAAAA"),
    ("seriesStatus", "{ seriesStatus { policyId pruneBlockedBy { id } repositoryTampered } }", "UAAAA"),
    (
        "repositoryForecast",
        "{ repositoryForecast(repository: {repository}) { used } }",
        "UAANA",
    ),
    (
        "notificationSettings",
        "{ notificationSettings { key } }",
        "UFFFA",
    ),
    (
        "notificationPreferences",
        "{ notificationPreferences { daily } }",
        "UAAAA",
    ),
    ("outgoingMessages", "{ outgoingMessages { id } }", "UFFFA"),
    (
        "vmProviders",
        "{ vmProviders { nodes { name script } } }",
        "UAAAA",
    ),
    (
        "vmProvider",
        "{ vmProvider(name: \"proxmox\") { name } }",
        "UAAAA",
    ),
    ("restoreTests", "{ restoreTests { totalCount } }", "UAAAA"),
];

const MUTATIONS: &[Row] = &[
    ("login", "mutation { login(email: \"admin@cyborg.local\", password: \"test-admin-password\") { token } }", "AAAAA"),
    ("createApiToken", "mutation { createApiToken(name: \"matrix\") { id } }", "UAAAA"),
    ("revokeApiToken", "mutation { revokeApiToken(id: 999999) }", "Uaaaa"),
    ("createClient", "mutation { createClient(input: {hostname: \"matrix-new\"}) { id } }", "UFFFA"),
    ("updateClient", "mutation { updateClient(id: {tmp_client}, input: {port: 2222}) { id } }", "UFFFA"),
    ("deleteClient", "mutation { deleteClient(id: {tmp_client2}) }", "UFFFA"),
    ("createRepository", "mutation { createRepository(input: {name: \"m\", path: \"/srv/matrix-new\"}) { id } }", "UFFFA"),
    ("updateRepository", "mutation { updateRepository(id: {tmp_repo}, input: {name: \"t\"}) { id } }", "UFFFA"),
    ("deleteRepository", "mutation { deleteRepository(id: {tmp_repo2}) }", "UFFFA"),
    ("createSchedule", "mutation { createSchedule(input: {name: \"m\", crontab: \"0 1 * * *\"}) { id } }", "UFFFA"),
    ("updateSchedule", "mutation { updateSchedule(id: {tmp_schedule}, input: {name: \"t\"}) { id } }", "UFFFA"),
    ("deleteSchedule", "mutation { deleteSchedule(id: {tmp_schedule2}) }", "UFFFA"),
    ("createPolicy", "mutation { createPolicy(input: {name: \"m\", policyType: \"config\", clients: [{tmp_client}], repository: {tmp_repo}, schedule: {tmp_schedule}}) { id } }", "UFFFA"),
    ("updatePolicy", "mutation { updatePolicy(id: {tmp_policy}, input: {name: \"t\"}) { id } }", "UFFFA"),
    ("deletePolicy", "mutation { deletePolicy(id: {tmp_policy2}) }", "UFFFA"),
    ("launchPolicy", "mutation { launchPolicy(id: {policy}) { id } }", "UFANA"),
    ("cancelJob", "mutation { cancelJob(id: {job}) }", "UFANA"),
    ("relaunchJob", "mutation { relaunchJob(id: {job}) { id } }", "UFANA"),
    ("prunePolicy", "mutation { prunePolicy(id: {tmp_policy}) { id } }", "UFFFA"),
    ("checkRepository", "mutation { checkRepository(id: {repository}) { id } }", "UFANA"),
    ("prepareClient", "mutation { prepareClient(id: {tmp_client}) { id } }", "UFFFA"),
    ("prepareRepository", "mutation { prepareRepository(id: {tmp_repo}) { id } }", "UFFFA"),
    ("createUser", "mutation { createUser(input: {email: \"matrix@cyborg.local\", password: \"matrix password\", role: OPERATOR}) { id } }", "UFFFA"),
    ("updateUser", "mutation { updateUser(id: {tmp_user}, input: {role: OPERATOR, grants: [{client: {client}}]}) { id role } }", "UFFFA"),
    ("deleteUser", "mutation { deleteUser(id: {tmp_user2}) }", "UFFFA"),
    ("generateSshKey", "mutation { generateSshKey }", "UFFFA"),
    ("importSshKey", "mutation { importSshKey(privateKey: \"not a key\") }", "UFFFa"),
    ("acceptHostKey", "mutation { acceptHostKey(host: \"nowhere\", port: 22) { host } }", "UFFFa"),
    ("updateSetting", "mutation { updateSetting(key: \"backup_user\", value: \"root\") { key } }", "UFFFA"),
    ("updateSettings", "mutation { updateSettings(input: [{key: \"backup_user\", value: \"root\"}]) { key } }", "UFFFA"),
    ("setNotificationSetting", "mutation { setNotificationSetting(key: \"mail.host\", value: \"\") { key } }", "UFFFA"),
    ("setNotificationPreferences", "mutation { setNotificationPreferences(input: {daily: false}) { daily } }", "UAAAA"),
    ("sendTestMail", "mutation { sendTestMail(to: \"nobody@cyborg.local\") { sent } }", "UFFFA"),
    ("sendReport", "mutation { sendReport(period: \"daily\") }", "UFFFA"),
    ("retryOutgoingMessage", "mutation { retryOutgoingMessage(id: 999999) { id } }", "UFFFa"),
    ("setRepositoryCapacity", "mutation { setRepositoryCapacity(repository: {repository}, capacity: 1000000000) }", "UFFFA"),
    // The archive's client is `localhost`: the server itself, for superusers only.
    ("restore", "mutation { restore(input: {archive: {archive}, paths: [\"{file}\"], dryRun: true}) { id } }", "UFFHA"),
    ("restoreDownload", "mutation { restoreDownload(archive: {archive}, paths: [\"{file}\"]) { url } }", "UFAHA"),
    ("launchRestoreTest", "mutation { launchRestoreTest(policy: {policy}) { id } }", "UFANA"),
    ("createVmProvider", "mutation { createVmProvider(input: {name: \"rolevm\", moduleName: \"R\", script: \"true\"}) { name } }", "UFFFA"),
    ("updateVmProvider", "mutation { updateVmProvider(name: \"rolevm\", input: {script: \"false\"}) { name } }", "UFFFA"),
    ("deleteVmProvider", "mutation { deleteVmProvider(name: \"rolevm\") }", "UFFFA"),
    // Superusers resume destruction; the world's archive has no anomaly (VALIDATION) and its
    // repository no tamper mark (CONFLICT): authorized, refused on the facts.
    ("acknowledgeAnomaly", "mutation { acknowledgeAnomaly(archive: {archive}) { id } }", "UFFFA"),
    ("clearRepositoryTamper", "mutation { clearRepositoryTamper(id: {repository}) { id } }", "UFFFA"),
    ("testClientConnection", "mutation { testClientConnection(id: {client}) { ok } }", "UFFFA"),
    ("testRepositoryConnection", "mutation { testRepositoryConnection(id: {repository}) { ok } }", "UFFFA"),
    // These end the caller's sessions: each role runs them with a session of its own.
    ("logout", "mutation { logout }", "UAAAA"),
    ("setPassword", "mutation { setPassword(userId: {me}, password: \"{password}\") }", "UAAAA"),
];

const SUBSCRIPTIONS: &[Row] = &[
    (
        "jobStatus",
        "subscription { jobStatus(job: {job}) { status } }",
        "UAANA",
    ),
    (
        "jobOutput",
        "subscription { jobOutput(job: {job}) { text } }",
        "UAANA",
    ),
    (
        "jobProgress",
        "subscription { jobProgress(job: {job}) { jobId } }",
        "UAANA",
    ),
];

fn matches(want: char, code: Option<&str>, message: &str) -> bool {
    match want {
        'A' => !matches!(code, Some("UNAUTHENTICATED" | "FORBIDDEN" | "NOT_FOUND")),
        'a' => !matches!(code, Some("UNAUTHENTICATED" | "FORBIDDEN")),
        'U' => code == Some("UNAUTHENTICATED"),
        'F' => code == Some("FORBIDDEN"),
        'N' => code == Some("NOT_FOUND"),
        'H' => {
            code == Some("NOT_FOUND")
                || (code == Some("VALIDATION") && message.contains("does not exist"))
        }
        _ => false,
    }
}

fn password(i: usize) -> &'static str {
    if i == 4 {
        support::ADMIN_PASSWORD
    } else {
        "role password 1"
    }
}

/// A session of role `i` of its own (for rows that end sessions).
async fn fresh(w: &World, i: usize) -> Result<Option<String>> {
    let email = match i {
        0 => return Ok(None),
        4 => support::ADMIN_EMAIL.to_string(),
        n => w.emails[n - 1].clone(),
    };
    let d =
        w.s.gql(
            None,
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
            json!({"e": email, "p": password(i)}),
        )
        .await?;
    Ok(Some(
        d.data()?["login"]["token"]
            .as_str()
            .context("token")?
            .to_string(),
    ))
}

/// The first answer to a subscription: an error code, or `None` when it was accepted.
async fn subscribe(w: &World, token: Option<&str>, doc: &str) -> Result<Option<String>> {
    let auth = token.map_or(
        json!({}),
        |t| json!({"authorization": format!("Bearer {t}")}),
    );
    let mut ws = connect(&w.s, auth).await?;
    let first = next_json(&mut ws).await;
    if token.is_none() {
        // Anonymous sockets are refused at connection_init.
        return Ok(match first {
            Ok(m) if m["type"] == "connection_ack" => None,
            _ => Some("UNAUTHENTICATED".into()),
        });
    }
    ensure!(first?["type"] == "connection_ack", "no ack");
    let sub = json!({"id": "1", "type": "subscribe", "payload": {"query": doc}});
    ws.send(Message::text(sub.to_string())).await?;
    ws.send(Message::text(json!({"type": "ping"}).to_string()))
        .await?;
    loop {
        let m = tokio::time::timeout(Duration::from_secs(3), next_json(&mut ws)).await;
        match m {
            Err(_) => return Ok(None),
            Ok(m) => {
                let m = m?;
                match m["type"].as_str() {
                    Some("error") => {
                        return Ok(m["payload"][0]["extensions"]["code"]
                            .as_str()
                            .map(String::from))
                    }
                    // A refusing resolver answers with a result carrying the error.
                    Some("next") if m["payload"]["errors"].is_array() => {
                        return Ok(m["payload"]["errors"][0]["extensions"]["code"]
                            .as_str()
                            .map(String::from))
                    }
                    Some("next" | "pong" | "complete") => continue,
                    other => bail!("unexpected message {other:?}: {m}"),
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_graphql_field_answers_each_role_as_the_matrix_says() -> Result<()> {
    let w = world().await?;
    let schema = w
        .s
        .ok(&w.admin, "{ __schema { queryType { fields(includeDeprecated: true) { name } } mutationType { fields(includeDeprecated: true) { name } } subscriptionType { fields(includeDeprecated: true) { name } } } }", json!({}))
        .await?;
    let names = |k: &str| -> Vec<String> {
        schema["__schema"][k]["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["name"].as_str().map(String::from))
            .collect()
    };
    for (kind, rows) in [
        ("queryType", QUERIES),
        ("mutationType", MUTATIONS),
        ("subscriptionType", SUBSCRIPTIONS),
    ] {
        let fields = names(kind);
        for f in &fields {
            ensure!(
                rows.iter().any(|r| r.0 == f),
                "{kind} field {f} has no row in the role matrix"
            );
        }
        for r in rows {
            ensure!(
                fields.iter().any(|f| f == r.0),
                "the matrix row {} names no {kind} field",
                r.0
            );
        }
    }
    let mut failures = Vec::new();
    // Mutations last: their last rows (logout, setPassword) end the users' sessions.
    for (field, doc, want) in QUERIES.iter().chain(SUBSCRIPTIONS).chain(MUTATIONS) {
        let is_sub = doc.starts_with("subscription");
        let ends_session = matches!(*field, "logout" | "setPassword");
        for (i, want) in want.chars().enumerate() {
            let token = if ends_session {
                fresh(&w, i).await?
            } else {
                w.token(i).map(String::from)
            };
            let me = match i {
                0 => 0,
                4 => 1,
                n => w.user_ids[n - 1],
            };
            let doc = w
                .fill(doc)
                .replace("{me}", &me.to_string())
                .replace("{password}", password(i));
            let (code, message) = if is_sub {
                (subscribe(&w, token.as_deref(), &doc).await?, String::new())
            } else {
                let g = w.s.gql(token.as_deref(), &doc, json!({})).await?;
                (g.error_code().map(String::from), g.error_message())
            };
            if !matches(want, code.as_deref(), &message) {
                failures.push(format!(
                    "{field} as {}: wanted {want}, got {code:?} {message}",
                    ROLES[i]
                ));
            }
        }
    }
    ensure!(
        failures.is_empty(),
        "role matrix mismatches:\n{}",
        failures.join("\n")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn each_role_sees_only_what_its_grants_reach() -> Result<()> {
    let w = world().await?;
    let q = "{ clients { totalCount nodes { hostname } } policies { totalCount nodes { prehook } } jobs { totalCount } archives { totalCount } catalogSearch(query: \"hello.txt\") { total hits { policyId } } seriesStatus { policyId } }";
    let all = w.s.ok(&w.admin, q, json!({})).await?;
    ensure!(all["clients"]["totalCount"].as_i64() >= Some(3), "{all}");
    ensure!(
        all["policies"]["nodes"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["prehook"] == "echo hook-secret-word")),
        "{all}"
    );
    // The viewer granted the client sees it alone, both its policies, and no hook.
    let v = w.s.ok(&w.users[0], q, json!({})).await?;
    ensure!(
        v["clients"]["totalCount"] == 1 && v["clients"]["nodes"][0]["hostname"] == "localhost",
        "{v}"
    );
    ensure!(v["policies"]["totalCount"] == 2, "{v}");
    ensure!(
        !v.to_string().contains("hook-secret-word"),
        "a viewer read a hook: {v}"
    );
    ensure!(v["catalogSearch"]["total"] == 2, "{v}");
    ensure!(v["jobs"]["totalCount"].as_i64() >= Some(4), "{v}");
    // Granted policy A only: A's archive, A's hits, A's series; not B's.
    let pa = w.id("policy");
    let p = w.s.ok(&w.policy_viewer, q, json!({})).await?;
    ensure!(
        p["catalogSearch"]["total"] == 1 && p["catalogSearch"]["hits"][0]["policyId"] == pa,
        "{p}"
    );
    ensure!(
        p["archives"]["totalCount"] == 1 && p["policies"]["totalCount"] == 1,
        "{p}"
    );
    ensure!(
        p["seriesStatus"]
            .as_array()
            .is_some_and(|s| s.len() == 1 && s[0]["policyId"] == pa),
        "{p}"
    );
    let g =
        w.s.gql(
            Some(&w.policy_viewer),
            "query($id: Int!) { policy(id: $id) { id } }",
            json!({"id": w.id("policy_b")}),
        )
        .await?;
    ensure!(g.error_code() == Some("NOT_FOUND"), "{}", g.0);
    // No grants: nothing at all.
    let n = w.s.ok(&w.users[2], q, json!({})).await?;
    for k in ["clients", "policies", "jobs", "archives"] {
        ensure!(n[k]["totalCount"] == 0, "{k}: {n}");
    }
    ensure!(
        n["catalogSearch"]["total"] == 0 && n["seriesStatus"] == json!([]),
        "{n}"
    );
    // Scripts of VM providers are for superusers.
    let vm = "{ vmProviders { nodes { name script } } }";
    let d = w.s.ok(&w.users[1], vm, json!({})).await?;
    ensure!(
        d["vmProviders"]["nodes"]
            .as_array()
            .is_some_and(|l| !l.is_empty() && l.iter().all(|p| p["script"].is_null())),
        "{d}"
    );
    let d = w.s.ok(&w.admin, vm, json!({})).await?;
    ensure!(d["vmProviders"]["nodes"][0]["script"].is_string(), "{d}");
    // Role and grants read back.
    let me: Value =
        w.s.ok(
            &w.users[1],
            "{ me { role grants { clientId policyId restore } } }",
            json!({}),
        )
        .await?;
    ensure!(
        me["me"]["role"] == "OPERATOR"
            && me["me"]["grants"]
                == json!([{"clientId": w.id("client"), "policyId": null, "restore": true}]),
        "{me}"
    );
    Ok(())
}
