//! List queries as cursor connections: pages with stable cursors, search, filters, every
//! ordering, field errors on `first` and `after`, the depth limit; jobs filtered by status and
//! type on real backups; VM module providers managed through GraphQL and used by a vm backup.

use crate::support;

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use std::time::Duration;
use support::*;

const HOSTS: [&str; 7] = [
    "web-2", "db-1", "Web-1", "cache-1", "web-3", "db-2", "mail-1",
];

/// Reads a whole list page by page; returns the nodes' `field` and every page's totalCount.
async fn read_all(
    s: &Server,
    token: &str,
    list: &str,
    args: &str,
    field: &str,
    first: usize,
) -> Result<(Vec<String>, Vec<i64>)> {
    let q = format!(
        "query($after: String) {{ {list}(first: {first}, after: $after{args}) {{ totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ {field} }} }} }}"
    );
    let (mut seen, mut totals, mut after) = (Vec::new(), Vec::new(), Value::Null);
    for _ in 0..50 {
        let d = s.ok(token, &q, json!({ "after": after })).await?;
        let c = &d[list];
        let nodes = c["nodes"].as_array().context("nodes")?;
        ensure!(nodes.len() <= first, "page larger than first: {c}");
        seen.extend(nodes.iter().map(|n| match &n[field] {
            Value::String(v) => v.clone(),
            v => v.to_string(),
        }));
        totals.push(c["totalCount"].as_i64().context("totalCount")?);
        if c["pageInfo"]["hasNextPage"] != true {
            return Ok((seen, totals));
        }
        ensure!(nodes.len() == first, "short page before the end: {c}");
        after = c["pageInfo"]["endCursor"].clone();
    }
    anyhow::bail!("{list} never ended")
}

async fn field_error(s: &Server, token: &str, q: &str) -> Result<(String, String)> {
    let r = s.gql(Some(token), q, json!({})).await?;
    Ok((
        r.error_code().unwrap_or_default().to_string(),
        r.error_field().unwrap_or_default().to_string(),
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_page_with_stable_cursors_search_orderings_and_errors() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    for h in HOSTS {
        s.ok(
            &token,
            "mutation($h: String!) { createClient(input: {hostname: $h}) { id } }",
            json!({"h": h}),
        )
        .await?;
    }
    // Seven clients by three: every one seen once, totalCount 7 on every page.
    let (seen, totals) = read_all(&s, &token, "clients", "", "hostname", 3).await?;
    let mut by_name: Vec<String> = HOSTS.iter().map(|h| h.to_string()).collect();
    by_name.sort_by_key(|h| h.to_lowercase());
    assert_eq!(
        seen, by_name,
        "HOSTNAME_ASC is the default, case-insensitive"
    );
    assert_eq!(totals, [7, 7, 7]);

    // A cursor stays valid when a row is inserted before it.
    let q = "query($after: String) { clients(first: 3, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { hostname } } }";
    let p1 = s.ok(&token, q, json!({"after": null})).await?;
    s.ok(
        &token,
        r#"mutation { createClient(input: {hostname: "aaa-new"}) { id } }"#,
        json!({}),
    )
    .await?;
    let p2 = s
        .ok(
            &token,
            q,
            json!({"after": p1["clients"]["pageInfo"]["endCursor"]}),
        )
        .await?;
    let names = |d: &Value| -> Vec<String> {
        d["clients"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n["hostname"].as_str().map(String::from))
            .collect()
    };
    assert_eq!(names(&p1), by_name[0..3]);
    assert_eq!(names(&p2), by_name[3..6], "page 2 moved after an insert");
    assert_eq!(p2["clients"]["totalCount"], 8);
    s.ok(&token, "mutation { deleteClient(id: 8) }", json!({}))
        .await?;

    // Every ordering.
    let mut desc = by_name.clone();
    desc.reverse();
    let created: Vec<String> = HOSTS.iter().map(|h| h.to_string()).collect();
    let mut created_desc = created.clone();
    created_desc.reverse();
    for (order, want) in [
        ("HOSTNAME_ASC", &by_name),
        ("HOSTNAME_DESC", &desc),
        ("CREATED_ASC", &created),
        ("CREATED_DESC", &created_desc),
    ] {
        let args = format!(", orderBy: {order}");
        let (seen, _) = read_all(&s, &token, "clients", &args, "hostname", 2).await?;
        assert_eq!(&seen, want, "{order}");
    }

    // Search (case-insensitive substring, LIKE wildcards taken literally) and filters.
    let (seen, totals) =
        read_all(&s, &token, "clients", ", search: \"WEB\"", "hostname", 2).await?;
    assert_eq!(seen, ["Web-1", "web-2", "web-3"]);
    assert_eq!(totals[0], 3);
    let (seen, _) = read_all(&s, &token, "clients", ", search: \"%\"", "hostname", 5).await?;
    assert!(seen.is_empty(), "{seen:?}");
    s.ok(
        &token,
        "mutation { updateClient(id: 2, input: {enabled: false}) { id } }",
        json!({}),
    )
    .await?;
    let (seen, _) = read_all(&s, &token, "clients", ", enabled: false", "hostname", 5).await?;
    assert_eq!(seen, ["db-1"]);
    let (seen, _) = read_all(&s, &token, "clients", ", ready: true", "hostname", 5).await?;
    assert!(seen.is_empty());

    // Out-of-range `first`, garbage or foreign cursors: field errors.
    for q in [
        "{ clients(first: 0) { totalCount } }",
        "{ clients(first: 501) { totalCount } }",
        "{ jobs(first: -1) { totalCount } }",
    ] {
        assert_eq!(
            field_error(&s, &token, q).await?,
            ("VALIDATION".into(), "first".into()),
            "{q}"
        );
    }
    let foreign = p1["clients"]["pageInfo"]["endCursor"]
        .as_str()
        .context("cursor")?;
    for q in [
        r#"{ clients(after: "not a cursor!") { totalCount } }"#.to_string(),
        r#"{ archives(after: "eyJ4IjoxfQ") { totalCount } }"#.to_string(),
        format!(r#"{{ clients(after: "{foreign}", orderBy: CREATED_DESC) {{ totalCount }} }}"#),
    ] {
        assert_eq!(
            field_error(&s, &token, &q).await?,
            ("VALIDATION".into(), "after".into()),
            "{q}"
        );
    }
    let (code, field) =
        field_error(&s, &token, r#"{ jobs(status: "sleepy") { totalCount } }"#).await?;
    assert_eq!((code.as_str(), field.as_str()), ("VALIDATION", "status"));

    // Depth limit: an over-deep query is refused before it runs.
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {} name {} }} }} }} }}",
        "{ ofType ".repeat(10),
        "}".repeat(10)
    );
    let r = s.gql(Some(&token), &deep, json!({})).await?;
    assert!(
        r.error_message().to_lowercase().contains("nested too deep"),
        "{}",
        r.0
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn other_lists_filter_and_order() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("f"), "x")?;
    let folders = [src.path().display().to_string()];
    local_policy(&s, &token, &[&folders[0]], "lists passphrase").await?;
    s.ok(
        &token,
        r#"mutation { createSchedule(input: {name: "Hourly", crontab: "0 * * * *"}) { id } }"#,
        json!({}),
    )
    .await?;
    s.ok(&token, r#"mutation { createUser(input: {email: "zoe@cyborg.local", password: "operator password"}) { id } }"#, json!({})).await?;
    s.ok(
        &token,
        r#"mutation { createApiToken(name: "ci") { id } }"#,
        json!({}),
    )
    .await?;
    s.ok(
        &token,
        r#"mutation { createApiToken(name: "backup-script") { id } }"#,
        json!({}),
    )
    .await?;
    let d = s
        .ok(
            &token,
            r#"{
              schedules(orderBy: NAME_DESC) { totalCount nodes { name } }
              hourly: schedules(search: "0 *") { nodes { name } }
              users(orderBy: EMAIL_DESC) { totalCount nodes { email } }
              admins: users(isSuperuser: true) { nodes { email } }
              folders: policies(policyType: "folders", client: 1) { totalCount nodes { name } }
              none: policies(policyType: "mysql") { totalCount }
              repositories(search: "repo-") { totalCount nodes { name } }
              apiTokens(orderBy: NAME_ASC) { totalCount nodes { name } }
              ci: apiTokens(search: "CI") { nodes { name } }
            }"#,
            json!({}),
        )
        .await?;
    let names = |v: &Value, f: &str| -> Vec<String> {
        v["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n[f].as_str().map(String::from))
            .collect()
    };
    assert_eq!(names(&d["schedules"], "name"), ["nightly", "Hourly"]);
    assert_eq!(names(&d["hourly"], "name"), ["Hourly"]);
    assert_eq!(
        names(&d["users"], "email"),
        ["zoe@cyborg.local", ADMIN_EMAIL]
    );
    assert_eq!(names(&d["admins"], "email"), [ADMIN_EMAIL]);
    assert_eq!(d["folders"]["totalCount"], 1);
    assert_eq!(d["none"]["totalCount"], 0);
    assert_eq!(d["repositories"]["totalCount"], 1, "search in the path");
    assert_eq!(names(&d["apiTokens"], "name"), ["backup-script", "ci"]);
    assert_eq!(names(&d["ci"], "name"), ["ci"]);
    let e = s
        .gql(
            Some(&token),
            r#"{ policies(policyType: "floppy") { totalCount } }"#,
            json!({}),
        )
        .await?;
    assert_eq!(e.error_field(), Some("policyType"), "{}", e.0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_and_archives_filter_by_status_type_and_time() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("f"), "x")?;
    let good = local_policy(&s, &token, &[&src.path().display().to_string()], "jobs pw").await?;
    launch_backup(&s, &token, good).await?;
    s.wait_jobs(&token, Duration::from_secs(180)).await?;
    // A missing source path fails the backup.
    let bad = local_policy(&s, &token, &["/nonexistent/cyborg-lists"], "jobs pw 2").await?;
    launch_backup(&s, &token, bad).await?;
    let all = s.wait_jobs(&token, Duration::from_secs(180)).await?;
    let ids: Vec<i64> = all.iter().filter_map(|j| j["id"].as_i64()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    let q = "query($s: String, $t: String, $p: Int, $since: DateTime, $until: DateTime) {
        jobs(first: 500, status: $s, jobType: $t, policy: $p, since: $since, until: $until) { totalCount nodes { id status jobType policyId } } }";
    let (sr, tr) = (&s, token.as_str());
    let jobs = |v: Value| async move {
        let d = sr.ok(tr, q, v).await?;
        anyhow::Ok(d["jobs"].clone())
    };
    let failed = jobs(json!({"s": "failed"})).await?;
    assert!(failed["totalCount"].as_i64() >= Some(1), "{failed}");
    let failed_nodes = failed["nodes"].as_array().context("nodes")?;
    assert!(failed_nodes
        .iter()
        .all(|j| j["status"] == "failed" && j["policyId"] == bad));
    let backups = jobs(json!({"t": "job"})).await?;
    assert_eq!(backups["totalCount"], 2, "{backups}");
    assert!(backups["nodes"]
        .as_array()
        .context("nodes")?
        .iter()
        .all(|j| j["jobType"] == "job"));
    let good_ok = jobs(json!({"s": "successful", "p": good})).await?;
    let good_nodes = good_ok["nodes"].as_array().context("nodes")?;
    assert_eq!(
        good_ok["totalCount"].as_u64(),
        Some(good_nodes.len() as u64)
    );
    assert!(good_nodes
        .iter()
        .all(|j| j["status"] == "successful" && j["policyId"] == good));
    assert!(
        good_ok["totalCount"].as_i64() >= Some(2),
        "prepare + backup: {good_ok}"
    );
    let future = jobs(json!({"since": "2999-01-01T00:00:00Z"})).await?;
    assert_eq!(future["totalCount"], 0);
    let past = jobs(json!({"until": "2000-01-01T00:00:00Z"})).await?;
    assert_eq!(past["totalCount"], 0);
    let recent = jobs(json!({"since": "2000-01-01T00:00:00Z"})).await?;
    assert_eq!(recent["totalCount"].as_u64(), Some(all.len() as u64));

    // Jobs page by one, oldest first, ending where they began.
    let (asc, _) = read_all(&s, &token, "jobs", ", orderBy: CREATED_ASC", "id", 1).await?;
    let mut want: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    want.reverse();
    assert_eq!(asc, want);
    let (longest, _) =
        read_all(&s, &token, "jobs", ", orderBy: ELAPSED_DESC", "elapsed", 2).await?;
    let el: Vec<f64> = longest.iter().filter_map(|e| e.parse().ok()).collect();
    assert!(el.windows(2).all(|w| w[0] >= w[1]), "{el:?}");

    let d = s
        .ok(
            &token,
            "query($p: Int!) { archives(policy: $p, catalogState: \"complete\") { totalCount nodes { name catalogState } }
              none: archives(anomaly: true) { totalCount } }",
            json!({"p": good}),
        )
        .await?;
    assert_eq!(d["archives"]["totalCount"], 1, "{d}");
    assert_eq!(d["none"]["totalCount"], 0);
    Ok(())
}

const PASS: &str = "vm provider pw";

#[tokio::test(flavor = "multi_thread")]
async fn vm_providers_are_managed_in_graphql_and_back_up_vms() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let script = "#!/bin/bash\nprintf 'disk image of %s\\n' \"$1\"\n";
    let create = "mutation($i: VmProviderInput!) { createVmProvider(input: $i) { name moduleName moduleType client builtIn } }";
    let p = s
        .ok(&token, create, json!({"i": {"name": "Echo", "moduleName": "Echo hypervisor", "script": script, "image": "{hostname}.raw"}}))
        .await?;
    assert_eq!(
        p["createVmProvider"],
        json!({"name": "echo", "moduleName": "Echo hypervisor", "moduleType": "vm", "client": "{hypervisor_name}", "builtIn": false})
    );
    for (input, field) in [
        (
            json!({"name": "echo", "moduleName": "x", "script": "true"}),
            "name",
        ),
        (
            json!({"name": "proxmox", "moduleName": "x", "script": "true"}),
            "name",
        ),
        (
            json!({"name": "../x", "moduleName": "x", "script": "true"}),
            "name",
        ),
        (
            json!({"name": "db", "moduleName": "x", "moduleType": "mysql", "script": "true"}),
            "moduleType",
        ),
        (
            json!({"name": "e2", "moduleName": "x", "script": " "}),
            "script",
        ),
    ] {
        let r = s.gql(Some(&token), create, json!({"i": input})).await?;
        assert_eq!(
            (r.error_code(), r.error_field()),
            (Some("VALIDATION"), Some(field)),
            "{input}: {}",
            r.0
        );
    }
    let list = s
        .ok(&token, "{ vmProviders { totalCount nodes { name builtIn script } } mine: vmProviders(search: \"HYPERVISOR\") { nodes { name } } }", json!({}))
        .await?;
    assert_eq!(list["vmProviders"]["totalCount"], 2);
    assert_eq!(list["vmProviders"]["nodes"][1]["name"], "proxmox");
    assert_eq!(list["vmProviders"]["nodes"][1]["builtIn"], true);
    assert!(list["vmProviders"]["nodes"][1]["script"]
        .as_str()
        .unwrap_or_default()
        .contains("vzdump"));
    assert_eq!(list["mine"]["nodes"], json!([{"name": "echo"}]));
    let (names, _) = read_all(&s, &token, "vmProviders", ", orderBy: NAME_DESC", "name", 1).await?;
    assert_eq!(names, ["proxmox", "echo"]);
    let r = s
        .gql(
            Some(&token),
            r#"mutation { deleteVmProvider(name: "proxmox") }"#,
            json!({}),
        )
        .await?;
    assert_eq!(r.error_field(), Some("name"), "{}", r.0);

    // A vm policy using the stored provider backs the VM up on its hypervisor (the server).
    let c = s
        .ok(&token, r#"mutation { createClient(input: {hostname: "vm7", hypervisorName: "localhost", ready: true}) { id } }"#, json!({}))
        .await?;
    let repo = s.data_dir.path().join("repo-vm").display().to_string();
    let spec = PolicySpec {
        name: "vms",
        policy_type: "vm",
        vmprovider: "echo",
        clients: vec![c["createClient"]["id"].as_i64().context("client id")?],
        repository: create_repository(&s, &token, "vms", &repo, PASS).await?,
        schedule: create_schedule(&s, &token, "n").await?,
        ..Default::default()
    };
    let policy = create_policy(&s, &token, &spec).await?;
    let job = launch_backup(&s, &token, policy).await?;
    let (done, log) = s.wait_job_ok(&token, job, Duration::from_secs(180)).await?;
    let archive = done["archiveName"].as_str().unwrap_or_default();
    let out = borg(
        PASS,
        &[
            "extract",
            "--stdout",
            &format!("{repo}::{archive}"),
            "vm7.raw",
        ],
    )?;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "disk image of vm7\n",
        "{log}"
    );

    // In use: renaming or deleting is refused; an update of the script is not.
    let r = s
        .gql(
            Some(&token),
            r#"mutation { deleteVmProvider(name: "echo") }"#,
            json!({}),
        )
        .await?;
    assert_eq!(r.error_code(), Some("CONFLICT"), "{}", r.0);
    let r = s
        .gql(
            Some(&token),
            r#"mutation { updateVmProvider(name: "echo", input: {name: "echo2"}) { name } }"#,
            json!({}),
        )
        .await?;
    assert_eq!(r.error_field(), Some("name"), "{}", r.0);
    let u = s
        .ok(&token, r#"mutation { updateVmProvider(name: "ECHO", input: {moduleName: "Echo 2"}) { name moduleName } }"#, json!({}))
        .await?;
    assert_eq!(
        u["updateVmProvider"],
        json!({"name": "echo", "moduleName": "Echo 2"})
    );
    s.ok(
        &token,
        "mutation($id: Int!) { deletePolicy(id: $id) }",
        json!({"id": policy}),
    )
    .await?;
    s.ok(
        &token,
        r#"mutation { deleteVmProvider(name: "echo") }"#,
        json!({}),
    )
    .await?;
    let left = s
        .ok(&token, "{ vmProviders { totalCount } }", json!({}))
        .await?;
    assert_eq!(left["vmProviders"]["totalCount"], 1);
    Ok(())
}
