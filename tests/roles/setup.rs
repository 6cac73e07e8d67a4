//! The role tests' world: a server with two backed-up local policies (A with a prehook, B on
//! the same client), throwaway objects for the administrative rows, and a user of every role:
//! a viewer and an operator granted the client (the operator with restore), an operator
//! without grants, and a viewer granted only policy A.

#![allow(dead_code)]

use crate::support::*;
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::time::Duration;

/// Roles in the order of every expectation row.
pub const ROLES: [&str; 5] = [
    "anonymous",
    "viewer",
    "operator",
    "operator-no-grants",
    "superuser",
];

pub struct World {
    pub s: Server,
    pub admin: String,
    /// Tokens of viewer, operator, operator without grants (index 1..=3 of [`ROLES`]).
    pub users: [String; 3],
    /// Emails and ids of those users.
    pub emails: [String; 3],
    pub user_ids: [i64; 3],
    /// A viewer granted only policy A.
    pub policy_viewer: String,
    pub src: tempfile::TempDir,
    pub ids: Vec<(&'static str, String)>,
}

impl World {
    /// The token of role `i` of [`ROLES`] (None for anonymous).
    pub fn token(&self, i: usize) -> Option<&str> {
        match i {
            0 => None,
            4 => Some(&self.admin),
            n => Some(&self.users[n - 1]),
        }
    }

    /// `text` with every `{name}` replaced by its id.
    pub fn fill(&self, text: &str) -> String {
        self.ids.iter().fold(text.to_string(), |acc, (k, v)| {
            acc.replace(&format!("{{{k}}}"), v)
        })
    }

    pub fn id(&self, name: &str) -> i64 {
        self.ids
            .iter()
            .find(|(k, _)| *k == name)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0)
    }
}

async fn id_of(s: &Server, token: &str, q: &str, path: &[&str]) -> Result<i64> {
    let d = s.ok(token, q, json!({})).await?;
    let mut v = &d;
    for p in path {
        v = if let Ok(i) = p.parse::<usize>() {
            &v[i]
        } else {
            &v[*p]
        };
    }
    v.as_i64().with_context(|| format!("{q}: {d}"))
}

/// Creates a user with a role and grants; returns (id, session token).
pub async fn user(
    s: &Server,
    admin: &str,
    email: &str,
    role: &str,
    grants: Value,
) -> Result<(i64, String)> {
    let q = "mutation($e: String!, $r: Role!, $g: [GrantInput!]) { createUser(input: {email: $e, password: \"role password 1\", role: $r, grants: $g}) { id } }";
    let d = s
        .ok(admin, q, json!({"e": email, "r": role, "g": grants}))
        .await?;
    let id = d["createUser"]["id"].as_i64().context("user id")?;
    let login =
        "mutation($e: String!) { login(email: $e, password: \"role password 1\") { token } }";
    let t = s.gql(None, login, json!({"e": email})).await?;
    let token = t.data()?["login"]["token"]
        .as_str()
        .context("token")?
        .to_string();
    Ok((id, token))
}

pub async fn world() -> Result<World> {
    let s = Server::start()?;
    let admin = s.login().await?;
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("hello.txt"), "hello roles\n")?;
    let folder = src.path().display().to_string();
    let pa = local_policy(&s, &admin, &[&folder], "role passphrase a").await?;
    let pb = local_policy(&s, &admin, &[&folder], "role passphrase b").await?;
    s.ok(
        &admin,
        "mutation($id: Int!) { updatePolicy(id: $id, input: {prehook: \"echo hook-secret-word\"}) { id } }",
        json!({"id": pa}),
    )
    .await?;
    launch(&s, &admin, pa).await?;
    launch(&s, &admin, pb).await?;
    let jobs = s.wait_jobs(&admin, Duration::from_secs(300)).await?;
    for j in &jobs {
        anyhow::ensure!(j["status"] == "successful", "setup job failed: {j}");
    }
    let p = s
        .ok(
            &admin,
            "query($id: Int!) { policy(id: $id) { clientIds repositoryId scheduleId } }",
            json!({"id": pa}),
        )
        .await?;
    let client = p["policy"]["clientIds"][0].as_i64().context("client")?;
    let job = jobs
        .iter()
        .filter(|j| j["jobType"] == "job")
        .filter_map(|j| j["id"].as_i64())
        .min()
        .context("backup job")?;
    let archive = id_of(
        &s,
        &admin,
        &format!("{{ archives(policy: {pa}) {{ nodes {{ id }} }} }}"),
        &["archives", "nodes", "0", "id"],
    )
    .await?;
    let version = s
        .ok(
            &admin,
            "{ catalogSearch(query: \"hello.txt\") { hits { clientId } } }",
            json!({}),
        )
        .await?;
    anyhow::ensure!(
        version["catalogSearch"]["hits"]
            .as_array()
            .is_some_and(|h| h.len() == 2),
        "{version}"
    );
    // Throwaway objects for the administrative rows.
    let tmp_client = id_of(
        &s,
        &admin,
        "mutation { createClient(input: {hostname: \"tmp-client\"}) { id } }",
        &["createClient", "id"],
    )
    .await?;
    let tmp_client2 = id_of(
        &s,
        &admin,
        "mutation { createClient(input: {hostname: \"tmp-client2\"}) { id } }",
        &["createClient", "id"],
    )
    .await?;
    let repo_path = s.data_dir.path().join("tmp-repo").display().to_string();
    let tmp_repo = id_of(&s, &admin, &format!("mutation {{ createRepository(input: {{name: \"tmp\", path: \"{repo_path}\"}}) {{ id }} }}"), &["createRepository", "id"]).await?;
    let repo_path2 = s.data_dir.path().join("tmp-repo2").display().to_string();
    let tmp_repo2 = id_of(&s, &admin, &format!("mutation {{ createRepository(input: {{name: \"tmp2\", path: \"{repo_path2}\"}}) {{ id }} }}"), &["createRepository", "id"]).await?;
    let tmp_schedule = create_schedule(&s, &admin, "tmp-schedule").await?;
    let tmp_policy = create_policy(
        &s,
        &admin,
        &PolicySpec {
            name: "tmp-policy",
            policy_type: "config",
            clients: vec![tmp_client],
            repository: tmp_repo,
            schedule: tmp_schedule,
            ..Default::default()
        },
    )
    .await?;
    let tmp_policy2 = create_policy(
        &s,
        &admin,
        &PolicySpec {
            name: "tmp-policy2",
            policy_type: "config",
            clients: vec![tmp_client],
            repository: tmp_repo,
            schedule: tmp_schedule,
            ..Default::default()
        },
    )
    .await?;
    let tmp_schedule2 = create_schedule(&s, &admin, "tmp-schedule2").await?;
    let (tmp_user, _) = user(&s, &admin, "tmp1@cyborg.local", "VIEWER", json!([])).await?;
    let (tmp_user2, _) = user(&s, &admin, "tmp2@cyborg.local", "VIEWER", json!([])).await?;
    let (tmp_user3, _) = user(&s, &admin, "tmp3@cyborg.local", "VIEWER", json!([])).await?;
    let emails = [
        "viewer@cyborg.local",
        "operator@cyborg.local",
        "nogrants@cyborg.local",
    ]
    .map(String::from);
    let (v_id, v) = user(
        &s,
        &admin,
        &emails[0],
        "VIEWER",
        json!([{"client": client}]),
    )
    .await?;
    let (o_id, o) = user(
        &s,
        &admin,
        &emails[1],
        "OPERATOR",
        json!([{"client": client, "restore": true}]),
    )
    .await?;
    let (n_id, n) = user(&s, &admin, &emails[2], "OPERATOR", json!([])).await?;
    let (_, policy_viewer) = user(
        &s,
        &admin,
        "policy-viewer@cyborg.local",
        "VIEWER",
        json!([{"policy": pa}]),
    )
    .await?;
    let ids = vec![
        ("client", client.to_string()),
        ("repository", p["policy"]["repositoryId"].to_string()),
        ("schedule", p["policy"]["scheduleId"].to_string()),
        ("policy", pa.to_string()),
        ("policy_b", pb.to_string()),
        ("job", job.to_string()),
        ("archive", archive.to_string()),
        ("file", format!("{folder}/hello.txt")),
        ("admin_id", "1".to_string()),
        ("tmp_client", tmp_client.to_string()),
        ("tmp_client2", tmp_client2.to_string()),
        ("tmp_repo", tmp_repo.to_string()),
        ("tmp_repo2", tmp_repo2.to_string()),
        ("tmp_schedule", tmp_schedule.to_string()),
        ("tmp_schedule2", tmp_schedule2.to_string()),
        ("tmp_policy", tmp_policy.to_string()),
        ("tmp_policy2", tmp_policy2.to_string()),
        ("tmp_user", tmp_user.to_string()),
        ("tmp_user2", tmp_user2.to_string()),
        ("tmp_user3", tmp_user3.to_string()),
    ];
    Ok(World {
        s,
        admin,
        users: [v, o, n],
        emails,
        user_ids: [v_id, o_id, n_id],
        policy_viewer,
        src,
        ids,
    })
}
