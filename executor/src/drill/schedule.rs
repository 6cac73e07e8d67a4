//! When drills run: every (policy, client) series with a catalogued archive on the
//! `restore_test_cron` schedule when `auto_restore_test` is on, and each policy whose
//! `extra_vars.restore_test_cron` sets its own schedule (whatever `auto_restore_test` says).

use crate::manager::Executor;
use crate::scheduler::fired;
use chrono::{DateTime, Utc};
use model::settings::{AUTO_RESTORE_TEST, RESTORE_TEST_CRON};
use model::{CatalogState, CronExpr, JobType, Policy};
use std::collections::HashSet;

/// Internal state: when the global drill schedule last fired.
const LAST_RUN: &str = "restore_test.last_run";

fn last_run_key(policy: &Policy) -> String {
    format!("restore_test.policy.{}.last_run", policy.id.0)
}

/// Queues the drills whose schedule has come; returns how many were queued.
pub(crate) fn scheduled_drills(ex: &Executor, now: DateTime<Utc>) -> Result<usize, String> {
    let store = &ex.inner.store;
    let policies = store.policies().map_err(|e| e.to_string())?;
    let global_due = if store.get(&AUTO_RESTORE_TEST).map_err(|e| e.to_string())? {
        let cron = store.get(&RESTORE_TEST_CRON).map_err(|e| e.to_string())?;
        fired(ex, LAST_RUN, &cron, now)?
    } else {
        false
    };
    let mut due: Vec<&Policy> = Vec::new();
    for p in policies.iter().filter(|p| p.enabled) {
        match model::restore_test_cron(&p.extra_vars) {
            Some(own) => match CronExpr::parse(&own)
                .map_err(|e| format!("extra_vars.restore_test_cron: {e}"))
                .and_then(|c| fired(ex, &last_run_key(p), &c, now))
            {
                Ok(true) => due.push(p),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(policy = %p.name, error = %e, "restore test schedule skipped")
                }
            },
            None if global_due => due.push(p),
            None => {}
        }
    }
    if due.is_empty() {
        return Ok(0);
    }
    let queued: HashSet<(i64, i64)> = store
        .unfinished_jobs()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|j| j.job_type == JobType::RestoreTest)
        .filter_map(|j| Some((j.policy?.0, j.client?.0)))
        .collect();
    let mut n = 0;
    for p in due {
        for cid in &p.clients {
            if queued.contains(&(p.id.0, cid.0)) {
                continue;
            }
            let catalogued = store
                .archives(None, Some(*cid), Some(p.id))
                .map_err(|e| e.to_string())?
                .iter()
                .any(|a| a.catalog_state == CatalogState::Complete);
            let enabled = store.client(*cid).map(|c| c.enabled).unwrap_or(false);
            if !catalogued || !enabled {
                continue;
            }
            match ex.launch_restore_test(p.id, Some(*cid), None, None, "scheduled") {
                Ok(jobs) => n += jobs.len(),
                Err(e) => {
                    tracing::warn!(policy = %p.name, error = %e, "scheduled restore test not queued")
                }
            }
        }
    }
    Ok(n)
}
