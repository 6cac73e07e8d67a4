//! `serve --demo`: on first start, a local client, repository, schedule and policy whose first
//! backup runs at once, so there is something real to look at.

use anyhow::Result;
use executor::Executor;
use model::*;
use std::path::Path;
use store::Store;

pub fn setup(
    store: &Store,
    executor: &Executor,
    data_dir: &Path,
    url: &str,
    admin_password: Option<&str>,
) -> Result<()> {
    let login = match admin_password {
        Some(p) => format!("{} / {p}", crate::serve::ADMIN_EMAIL),
        None => format!("{} (password as set before)", crate::serve::ADMIN_EMAIL),
    };
    if !store.clients()?.is_empty() {
        println!("\nCyBorgBackup is running at {url}\n  login: {login}\n");
        return Ok(());
    }
    let client = store.create_client(
        &ClientInput {
            hostname: Some("localhost".into()),
            ..Default::default()
        },
        None,
    )?;
    let repo = store.create_repository(
        &RepositoryInput {
            name: Some("Demo repository".into()),
            path: Some(data_dir.join("demo-repository").display().to_string()),
            repository_key: Some(crate::serve::random_password()),
            ..Default::default()
        },
        None,
    )?;
    let schedule = store.create_schedule(
        &ScheduleInput {
            name: Some("Every night at 03:00".into()),
            crontab: Some("0 3 * * *".into()),
            enabled: None,
        },
        None,
    )?;
    let folders: Vec<&str> = ["/etc", "/usr/share/doc"]
        .into_iter()
        .filter(|p| Path::new(p).exists())
        .collect();
    let policy = store.create_policy(
        &PolicyInput {
            name: Some("Demo: system configuration and docs".into()),
            policy_type: Some("folders".into()),
            extra_vars: Some(serde_json::json!({ "folders": folders }).to_string()),
            clients: Some(vec![client.id.0]),
            repository: Some(repo.id.0),
            schedule: Some(schedule.id.0),
            keep_daily: Some(Some(7)),
            keep_weekly: Some(Some(4)),
            ..Default::default()
        },
        None,
    )?;
    let jobs = executor.launch_policy(policy.id, None, "demo")?;
    println!(
        "\nCyBorgBackup is running at {url}\n  login: {login}\n  demo policy {:?} launched ({} jobs): back up of {} into {}\n  web UI: {url}/   GraphQL explorer: {url}/graphql\n",
        policy.name,
        jobs.len(),
        folders.join(", "),
        repo.path
    );
    Ok(())
}
