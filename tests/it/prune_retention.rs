//! Retention with real borg: for several keep_* combinations (yearly included), a prune job
//! keeps exactly the archives `borg prune --dry-run --list` says it would, then compacts.

use crate::support;

use anyhow::Result;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;
use support::*;

/// Archive times spread over three years: hourly today, daily, weekly, monthly, yearly.
const TIMES: &[&str] = &[
    "2026-11-27T10:00:00",
    "2026-11-27T09:00:00",
    "2026-11-27T08:00:00",
    "2026-11-26T08:00:00",
    "2026-11-25T08:00:00",
    "2026-11-24T08:00:00",
    "2026-11-18T08:00:00",
    "2026-11-11T08:00:00",
    "2026-11-04T08:00:00",
    "2026-10-15T08:00:00",
    "2026-09-15T08:00:00",
    "2026-08-15T08:00:00",
    "2025-12-31T08:00:00",
    "2025-06-30T08:00:00",
    "2024-12-31T08:00:00",
    "2024-06-30T08:00:00",
];

fn archive_names(text: &str) -> BTreeSet<String> {
    text.split_whitespace()
        .filter(|w| w.starts_with("folders-localhost-"))
        .map(|w| w.trim_end_matches(':').to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_keeps_what_borg_dry_run_keeps_and_compacts() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("f"), "x")?;
    let pass = "prune passphrase";
    let combos: &[(&str, &[(&str, i64)])] = &[
        ("daily", &[("keepDaily", 3)]),
        ("weekly+monthly", &[("keepWeekly", 2), ("keepMonthly", 3)]),
        ("yearly+hourly", &[("keepYearly", 2), ("keepHourly", 1)]),
    ];
    for (label, keeps) in combos {
        let (policy, repo) = local_typed_policy(
            &s,
            &token,
            "folders",
            &json!({"folders": [src.path()]}).to_string(),
            pass,
        )
        .await?;
        // Prepare the repository through the server, then add archives with chosen times.
        let jobs = s
            .ok(
                &token,
                "mutation($id: Int!) { launchPolicy(id: $id) { id } }",
                json!({"id": policy}),
            )
            .await?;
        assert!(!jobs["launchPolicy"]
            .as_array()
            .map(|a| a.is_empty())
            .unwrap_or(true));
        s.wait_jobs(&token, Duration::from_secs(180)).await?;
        // The server's own archive stays: deleting it behind the server's back would be
        // tampering (repository_tamper.rs), and the dry run below accounts for it.
        for t in TIMES {
            let stamp = t.replace('T', "_").replace(':', "-");
            let name = format!(
                "folders-localhost-{}",
                stamp.strip_suffix("-00").unwrap_or(&stamp)
            );
            let out = borg(
                pass,
                &[
                    "create",
                    "--timestamp",
                    t,
                    &format!("{repo}::{name}"),
                    &src.path().display().to_string(),
                ],
            )?;
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut flags = vec![
            "prune".to_string(),
            "--dry-run".into(),
            "--list".into(),
            "--glob-archives".into(),
            "folders-localhost-*".into(),
        ];
        let mut input = serde_json::Map::new();
        for (k, v) in keeps.iter() {
            let flag = match *k {
                "keepHourly" => "--keep-hourly",
                "keepDaily" => "--keep-daily",
                "keepWeekly" => "--keep-weekly",
                "keepMonthly" => "--keep-monthly",
                _ => "--keep-yearly",
            };
            flags.extend([flag.to_string(), v.to_string()]);
            input.insert(k.to_string(), json!(v));
        }
        flags.push(repo.clone());
        let args: Vec<&str> = flags.iter().map(String::as_str).collect();
        let dry = borg(pass, &args)?;
        assert!(
            dry.status.success(),
            "{}",
            String::from_utf8_lossy(&dry.stderr)
        );
        let text = String::from_utf8_lossy(&dry.stderr).to_string();
        let expected: BTreeSet<String> = text
            .lines()
            .filter(|l| l.starts_with("Keeping"))
            .flat_map(archive_names)
            .collect();
        assert!(
            !expected.is_empty() && expected.len() < TIMES.len(),
            "{label}: {text}"
        );

        s.ok(
            &token,
            "mutation($id: Int!, $in: PolicyInput!) { updatePolicy(id: $id, input: $in) { id } }",
            json!({"id": policy, "in": input}),
        )
        .await?;
        let pj = s
            .ok(
                &token,
                "mutation($id: Int!) { prunePolicy(id: $id) { id } }",
                json!({"id": policy}),
            )
            .await?;
        let pid = pj["prunePolicy"][0]["id"].as_i64().unwrap_or(0);
        s.wait_job_status(&token, pid, "successful", Duration::from_secs(120))
            .await?;
        let after = borg(pass, &["list", "--short", &repo])?;
        let kept: BTreeSet<String> = String::from_utf8_lossy(&after.stdout)
            .lines()
            .map(String::from)
            .collect();
        assert_eq!(
            kept, expected,
            "{label}: kept archives differ from borg's dry run"
        );
        let log = s.job_log(&token, pid).await?;
        assert!(
            log.contains("borg prune") && log.contains("borg compact"),
            "{label}: {log}"
        );
        let prune_at = log.find("borg prune").unwrap_or(0);
        assert!(
            log.find("borg compact").unwrap_or(0) > prune_at,
            "compact must follow prune"
        );
    }
    Ok(())
}
