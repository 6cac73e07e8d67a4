//! The cron scheduler: launches policies whose `next_run` has come, and queues the integrity
//! checks of every repository when the `ic_cron` schedule fires (setting `integrity_check`) or
//! its own `check_cron` does.
//! Each tick also starts the removal of repository keys no policy uses (`credentials.rs`).

use crate::manager::{Executor, LaunchError};
use crate::requeue::CheckOptions;
use chrono::{DateTime, Utc};
use model::settings::{IC_CRON, INTEGRITY_CHECK};
use model::CronExpr;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Internal state: when the integrity check schedule last fired.
const IC_LAST_RUN: &str = "integrity_check.last_run";

/// Whether `cron` fired since the time recorded under the state `key` (recording `now` when it
/// did, or on first sight, which counts from now).
pub(crate) fn fired(
    ex: &Executor,
    key: &str,
    cron: &CronExpr,
    now: DateTime<Utc>,
) -> Result<bool, String> {
    let store = &ex.inner.store;
    let raw = store.state(key).map_err(|e| e.to_string())?;
    let last = raw
        .as_deref()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok());
    let due = match last {
        None => false,
        Some(last) => cron
            .next_after(last.with_timezone(&Utc))
            .is_some_and(|next| next <= now),
    };
    if due || last.is_none() {
        // Compare-and-set: of several nodes seeing the same firing, one records it and acts.
        let swapped = store
            .swap_state(key, raw.as_deref(), &now.to_rfc3339())
            .map_err(|e| e.to_string())?;
        return Ok(due && swapped);
    }
    Ok(false)
}

/// Queues integrity checks when their schedule has come: a repository with its own
/// `check_cron` on that schedule, every other one on `ic_cron` when `integrity_check` is on.
/// Returns how many were queued.
fn integrity_checks(ex: &Executor, now: DateTime<Utc>) -> Result<usize, String> {
    let store = &ex.inner.store;
    let global_due = if store.get(&INTEGRITY_CHECK).map_err(|e| e.to_string())? {
        let cron = store.get(&IC_CRON).map_err(|e| e.to_string())?;
        fired(ex, IC_LAST_RUN, &cron, now)?
    } else {
        false
    };
    let mut queued = 0;
    for repo in store
        .repositories()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|r| r.enabled && r.ready)
    {
        let due = if repo.check_cron.trim().is_empty() {
            global_due
        } else {
            match CronExpr::parse(&repo.check_cron) {
                Ok(cron) => fired(
                    ex,
                    &format!("integrity_check.repository.{}.last_run", repo.id.0),
                    &cron,
                    now,
                )?,
                Err(e) => {
                    tracing::warn!(repository = %repo.name, error = %e.0, "check_cron skipped");
                    false
                }
            }
        };
        if !due {
            continue;
        }
        ex.check_repository(
            repo.id,
            CheckOptions {
                verify_data: false,
                scheduled: true,
            },
            None,
        )
        .map_err(|e| e.to_string())?;
        queued += 1;
    }
    Ok(queued)
}

/// Whether the scheduler is alive: when it last woke up, and how often it should.
#[derive(Debug, Clone, Copy)]
pub struct SchedulerPulse {
    /// The last tick; `None` before the first one.
    pub last_tick: Option<DateTime<Utc>>,
    /// The configured period between ticks.
    pub period: Duration,
}

impl SchedulerPulse {
    /// True when the last tick is older than three periods plus a minute of slack for a
    /// loaded machine (a tick waits for the database like any other work).
    pub fn is_stalled(&self, now: DateTime<Utc>) -> bool {
        let Some(last) = self.last_tick else {
            return true;
        };
        let late = (now - last).to_std().unwrap_or_default();
        late > self.period * 3 + Duration::from_secs(60)
    }
}

impl Executor {
    /// The scheduler's pulse, for the readiness probe.
    pub fn scheduler_pulse(&self) -> SchedulerPulse {
        let ms = self.inner.last_tick.load(Ordering::Relaxed);
        SchedulerPulse {
            last_tick: (ms > 0)
                .then(|| DateTime::from_timestamp_millis(ms))
                .flatten(),
            period: self.inner.opts.scheduler_tick,
        }
    }
}

pub(crate) async fn run(ex: Executor) {
    let mut tick = tokio::time::interval(ex.inner.opts.scheduler_tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        crate::credentials::tick(&ex);
        ex.inner
            .last_tick
            .store(Utc::now().timestamp_millis(), Ordering::Relaxed);
        match integrity_checks(&ex, Utc::now()) {
            Ok(0) => {}
            Ok(n) => tracing::info!(repositories = n, "integrity checks queued"),
            Err(e) => tracing::warn!(error = %e, "integrity check schedule skipped"),
        }
        match crate::drill::scheduled_drills(&ex, Utc::now()) {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "restore tests queued"),
            Err(e) => tracing::warn!(error = %e, "restore test schedule skipped"),
        }
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

#[cfg(test)]
mod pulse_tests {
    use super::*;

    #[test]
    fn a_pulse_is_stalled_before_its_first_tick_and_long_after_its_last() {
        let now = Utc::now();
        let mut p = SchedulerPulse {
            last_tick: None,
            period: Duration::from_secs(5),
        };
        assert!(p.is_stalled(now));
        p.last_tick = Some(now - chrono::Duration::seconds(20));
        assert!(!p.is_stalled(now));
        p.last_tick = Some(now - chrono::Duration::seconds(90));
        assert!(p.is_stalled(now));
    }
}
