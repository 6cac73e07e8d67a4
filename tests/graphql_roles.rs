//! Roles through GraphQL: every operation refuses anonymous callers, and an operator (granted
//! the client with restore) is refused every administrative operation while reading, launching
//! and cancelling. `role_matrix.rs` covers every field for every role.

mod support;

use anyhow::Result;
use serde_json::json;
use support::*;

/// Operations only superusers may run (arguments are valid but never reached).
const ADMIN_ONLY: &[&str] = &[
    "{ users { nodes { id } } }",
    "{ notificationSettings { key } }",
    "{ outgoingMessages { id } }",
    r#"mutation { createUser(input: {email: "x@y.z", password: "long enough pw"}) { id } }"#,
    "mutation { deleteUser(id: 1) }",
    "mutation { setPassword(userId: 1, password: \"another password\") }",
    r#"mutation { createClient(input: {hostname: "h"}) { id } }"#,
    r#"mutation { updateClient(id: 1, input: {enabled: false}) { id } }"#,
    "mutation { deleteClient(id: 1) }",
    r#"mutation { createRepository(input: {name: "r", path: "/srv/r"}) { id } }"#,
    r#"mutation { updateRepository(id: 1, input: {repositoryKey: "k"}) { id } }"#,
    "mutation { deleteRepository(id: 1) }",
    r#"mutation { createSchedule(input: {name: "s", crontab: "* * * * *"}) { id } }"#,
    r#"mutation { updateSchedule(id: 1, input: {enabled: false}) { id } }"#,
    "mutation { deleteSchedule(id: 1) }",
    r#"mutation { createPolicy(input: {name: "p", policyType: "config", repository: 1, schedule: 1}) { id } }"#,
    r#"mutation { updatePolicy(id: 1, input: {enabled: false}) { id } }"#,
    "mutation { deletePolicy(id: 1) }",
    "mutation { prunePolicy(id: 1) { id } }",
    "mutation { prepareClient(id: 1) { id } }",
    "mutation { prepareRepository(id: 1) { id } }",
    r#"mutation { updateUser(id: 1, input: {firstName: "x"}) { id } }"#,
    "mutation { generateSshKey }",
    r#"mutation { importSshKey(privateKey: "x") }"#,
    r#"mutation { acceptHostKey(host: "h", port: 22) { host } }"#,
    "{ hostKeys { host } }",
    r#"mutation { updateSetting(key: "backup_user", value: "root") { key } }"#,
    r#"mutation { setNotificationSetting(key: "mail.host", value: "x") { key } }"#,
    r#"mutation { updateSettings(input: [{key: "mail.host", value: "x"}]) { key } }"#,
    r#"mutation { sendReport(period: "daily") }"#,
    "mutation { retryOutgoingMessage(id: 1) { id } }",
    "mutation { setRepositoryCapacity(repository: 1, capacity: 10) }",
    r#"mutation { createVmProvider(input: {name: "x", moduleName: "X", script: "true"}) { name } }"#,
    r#"mutation { updateVmProvider(name: "x", input: {script: "true"}) { name } }"#,
    r#"mutation { deleteVmProvider(name: "x") }"#,
];

/// Operations any logged-in user may run.
const FOR_EVERYONE: &[&str] = &[
    "{ me { email } }",
    "{ clients { nodes { id } } repositories { nodes { id repositoryKey } } schedules { nodes { id } } policies { nodes { id } } }",
    "{ jobs { nodes { id } } archives { nodes { id } } apiTokens { totalCount } }",
    "{ catalogSearch(query: \"x\") { total } }",
    "{ sshPublicKey }",
    "{ settings { key readAccess } }",
    "{ cronPreview(crontab: \"* * * * *\") }",
    "{ vmProviders { nodes { name script } } }",
    "mutation { launchPolicy(id: 1) { id } }",
    "mutation { cancelJob(id: 1) }",
    "mutation { checkRepository(id: 1) { id } }",
    "{ restoreTests(first: 5, verdict: \"failed\") { totalCount nodes { id verdict } } }",
    "mutation { launchRestoreTest(policy: 1) { id } }",
    r#"mutation { restore(input: {archive: 1, paths: ["/etc/hosts"], dryRun: true}) { id } }"#,
    r#"mutation { restoreDownload(archive: 1, paths: ["/etc/hosts"]) { url } }"#,
];

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_and_non_superusers_are_refused_admin_operations() -> Result<()> {
    let s = Server::start()?;
    let admin = s.login().await?;
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("f"), "x")?;
    let policy = local_policy(
        &s,
        &admin,
        &[&src.path().display().to_string()],
        "roles passphrase",
    )
    .await?;
    let client = s
        .ok(
            &admin,
            "query($id: Int!) { policy(id: $id) { clientIds } }",
            json!({"id": policy}),
        )
        .await?["policy"]["clientIds"][0]
        .clone();
    s.ok(&admin, r#"mutation($c: Int!) { createUser(input: {email: "operator@cyborg.local", password: "operator password", role: OPERATOR, grants: [{client: $c, restore: true}]}) { id } }"#, json!({"c": client})).await?;
    let login = s.gql(None, "mutation { login(email: \"operator@cyborg.local\", password: \"operator password\") { token } }", json!({})).await?;
    let op = login.data()?["login"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for q in ADMIN_ONLY.iter().chain(FOR_EVERYONE) {
        let r = s.gql(None, q, json!({})).await?;
        assert_eq!(
            r.error_code(),
            Some("UNAUTHENTICATED"),
            "anonymous {q}: {}",
            r.0
        );
    }
    for q in ADMIN_ONLY {
        let r = s.gql(Some(&op), q, json!({})).await?;
        assert_eq!(r.error_code(), Some("FORBIDDEN"), "operator {q}: {}", r.0);
    }
    for q in FOR_EVERYONE {
        let r = s.gql(Some(&op), q, json!({})).await?;
        assert!(
            r.error_code()
                .is_none_or(|c| c != "FORBIDDEN" && c != "UNAUTHENTICATED"),
            "operator {q}: {}",
            r.0
        );
    }
    // The operator may change their own password (giving the current one), and nothing the
    // admin owns changed.
    let me = s.ok(&op, "{ me { id } }", json!({})).await?["me"]["id"].clone();
    s.ok(
        &op,
        "mutation($id: Int!) { setPassword(userId: $id, password: \"a new operator pw\", currentPassword: \"operator password\") }",
        json!({"id": me}),
    )
    .await?;
    let counts = s
        .ok(
            &admin,
            "{ clients { totalCount } repositories { totalCount } users { totalCount } }",
            json!({}),
        )
        .await?;
    assert_eq!(counts["clients"]["totalCount"], 1);
    assert_eq!(counts["users"]["totalCount"], 2);
    Ok(())
}
