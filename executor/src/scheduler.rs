//! The cron scheduler: launches policies whose `next_run` has come.

use crate::manager::{Executor, LaunchError};
use chrono::Utc;

pub(crate) async fn run(ex: Executor) {
    let mut tick = tokio::time::interval(ex.inner.opts.scheduler_tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let due = match ex.inner.store.take_due_policies(Utc::now()) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "scheduler cannot read due policies");
                continue;
            }
        };
        for p in due {
            match ex.launch_policy(p.id, None, "scheduled") {
                Ok(jobs) => tracing::info!(policy = %p.name, jobs = jobs.len(), "schedule fired"),
                Err(LaunchError::Blocked(why)) => {
                    tracing::info!(policy = %p.name, reasons = %why.join("; "), "schedule fired but policy cannot run")
                }
                Err(e) => tracing::error!(policy = %p.name, error = %e, "scheduled launch failed"),
            }
        }
    }
}
