//! Fleet health: every series (policy × client) with the age of its last successful backup
//! against its schedule (`model::health` defines ok / late / overdue / never / disabled), its
//! last backup's failure, its last restore drill verdict and its repository's state; the
//! counters the dashboard, API, metrics and reports show; and the overdue alert, queued once
//! per overdue episode by mail and webhook.

use crate::alerts::{self, Alert};
use crate::ReportError;
use chrono::{DateTime, Utc};
use model::access::Visibility;
use model::health::{classify, expected_interval};
use model::{CronExpr, JobStatus, SeriesAge, SeriesFacts};
use serde_json::json;
use store::{SeriesRow, Store};

/// A repository is nearly full when this share of its capacity is used.
pub const NEARLY_FULL: f64 = 0.9;

/// The state of a series' repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepositoryState {
    Ok,
    /// At least [`NEARLY_FULL`] of the capacity (set, or used + measured free space) is used.
    NearlyFull,
    /// Archives vanished without a prune by this server (prune and compact stopped).
    Tampered,
}

impl RepositoryState {
    pub fn as_str(self) -> &'static str {
        match self {
            RepositoryState::Ok => "ok",
            RepositoryState::NearlyFull => "nearly_full",
            RepositoryState::Tampered => "tampered",
        }
    }
}

/// One series and where it stands.
#[derive(Debug, Clone)]
pub struct SeriesHealth {
    pub row: SeriesRow,
    pub state: SeriesAge,
    /// The schedule's interval now (see `model::health`), in seconds.
    pub interval_seconds: Option<i64>,
    /// Seconds since the last successful backup.
    pub age_seconds: Option<i64>,
    /// The last finished backup failed — including a backup canceled because a job it
    /// depended on (a preparation) failed.
    pub last_failed: bool,
    pub repository_state: RepositoryState,
    pub next_run: Option<DateTime<Utc>>,
}

/// Every series and the counters over them.
#[derive(Debug, Clone, Default)]
pub struct FleetHealth {
    pub series: Vec<SeriesHealth>,
    pub ok: usize,
    pub late: usize,
    pub overdue: usize,
    pub never: usize,
    pub disabled: usize,
    /// Series whose last backup failed.
    pub failing: usize,
    /// Series whose last restore drill failed.
    pub drills_failed: usize,
    /// Series writing to a nearly full repository.
    pub nearly_full: usize,
    /// Series writing to a tampered repository.
    pub tampered: usize,
}

/// Whether a finished backup counts as a failure of its series: failed, error, or canceled
/// because its dependency failed (not canceled by someone).
pub fn is_series_failure(status: JobStatus, explanation: &str) -> bool {
    match status {
        JobStatus::Failed | JobStatus::Error => true,
        JobStatus::Canceled => explanation.starts_with("dependency job"),
        _ => false,
    }
}

fn assess(row: SeriesRow, now: DateTime<Utc>) -> SeriesHealth {
    let cron = CronExpr::parse(&row.crontab).ok();
    let state = match &cron {
        Some(c) => classify(
            c,
            SeriesFacts {
                last_success: row.last_success,
                since: row.policy_created,
                enabled: row.enabled,
            },
            now,
        ),
        None if !row.enabled => SeriesAge::Disabled,
        None => SeriesAge::Ok,
    };
    let last_failed = row
        .last_status
        .is_some_and(|s| is_series_failure(s, &row.last_explanation));
    let repository_state = match row.repository_capacity {
        _ if row.repository_tampered => RepositoryState::Tampered,
        Some(cap) if cap > 0 && row.repository_used as f64 >= cap as f64 * NEARLY_FULL => {
            RepositoryState::NearlyFull
        }
        _ => RepositoryState::Ok,
    };
    SeriesHealth {
        interval_seconds: cron
            .as_ref()
            .and_then(|c| expected_interval(c, now))
            .map(|d| d.num_seconds()),
        age_seconds: row.last_success.map(|t| (now - t).num_seconds().max(0)),
        next_run: cron
            .as_ref()
            .filter(|_| row.enabled)
            .and_then(|c| c.next_after(now)),
        state,
        last_failed,
        repository_state,
        row,
    }
}

/// The fleet's health at `now` (blocking).
pub fn fleet_health(store: &Store, now: DateTime<Utc>) -> Result<FleetHealth, ReportError> {
    scoped_fleet_health(store, now, None)
}

/// The health of the series `scope` reaches (every series without one), counters included.
pub fn scoped_fleet_health(
    store: &Store,
    now: DateTime<Utc>,
    scope: Option<&Visibility>,
) -> Result<FleetHealth, ReportError> {
    let mut h = FleetHealth::default();
    for row in store.series_rows()? {
        if scope.is_some_and(|v| !v.series(row.client, row.policy)) {
            continue;
        }
        let s = assess(row, now);
        match s.state {
            SeriesAge::Ok => h.ok += 1,
            SeriesAge::Late => h.late += 1,
            SeriesAge::Overdue => h.overdue += 1,
            SeriesAge::Never => h.never += 1,
            SeriesAge::Disabled => h.disabled += 1,
        }
        if s.state != SeriesAge::Disabled {
            h.failing += usize::from(s.last_failed);
            h.drills_failed += usize::from(s.row.drill_verdict.as_deref() == Some("failed"));
            h.nearly_full += usize::from(s.repository_state == RepositoryState::NearlyFull);
            h.tampered += usize::from(s.repository_state == RepositoryState::Tampered);
        }
        h.series.push(s);
    }
    Ok(h)
}

/// A human age: "3 h", "2 days".
pub fn human_age(seconds: i64) -> String {
    match seconds {
        s if s < 90 => format!("{s} s"),
        s if s < 90 * 60 => format!("{} min", s / 60),
        s if s < 36 * 3600 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86400),
    }
}

fn overdue_alert(s: &SeriesHealth) -> Alert {
    let r = &s.row;
    let last = match (r.last_success, s.age_seconds) {
        (Some(t), Some(age)) => format!(
            "Its last successful backup finished {} ago ({}).",
            human_age(age),
            t.format("%Y-%m-%d %H:%M UTC")
        ),
        _ => "It has never been backed up successfully.".to_string(),
    };
    let failure = if s.last_failed {
        format!(
            "\nThe last backup (job #{}) ended {}: {}\n",
            r.last_job.map_or(0, |j| j.0),
            r.last_status.map_or("", |st| st.as_str()),
            r.last_explanation
        )
    } else {
        String::new()
    };
    Alert {
        kind: "series_overdue",
        subject: format!(
            "[CyBorgBackup] BACKUP OVERDUE: {} {}",
            r.hostname, r.policy_name
        ),
        text: format!(
            "The backups of {} by policy {} (repository {}) are overdue: the schedule ({}) runs \
             every {}, and two runs have passed without a successful backup.\n\n{last}\n{failure}\n\
             Look at the policy's readiness and its last jobs in the web console.\n",
            r.hostname,
            r.policy_name,
            r.repository_name,
            r.crontab,
            s.interval_seconds.map_or("?".into(), human_age),
        ),
        payload: json!({
            "event": "series_overdue",
            "policy": {"id": r.policy.0, "name": r.policy_name},
            "client": {"id": r.client.0, "hostname": r.hostname},
            "repository": {"id": r.repository.0, "name": r.repository_name},
            "state": s.state.as_str(),
            "last_success": r.last_success,
            "age_seconds": s.age_seconds,
            "interval_seconds": s.interval_seconds,
            "last_job": r.last_job.map(|j| j.0),
            "last_failed": s.last_failed,
        }),
    }
}

/// Queues an alert (mail to those who want failures, and the webhook) for every enabled
/// series that became overdue or never backed up, once per episode; returns how many.
pub fn alert_overdue(store: &Store, now: DateTime<Utc>) -> Result<usize, ReportError> {
    let health = fleet_health(store, now)?;
    let mail = alerts::optional_mail(store)?;
    let mut n = 0;
    for s in health
        .series
        .iter()
        .filter(|s| matches!(s.state, SeriesAge::Overdue | SeriesAge::Never))
    {
        if !store.record_overdue_alert(s.row.policy, s.row.client, s.row.last_success)? {
            continue;
        }
        let alert = overdue_alert(s);
        tracing::warn!(policy = %s.row.policy_name, client = %s.row.hostname, state = s.state.as_str(), "series overdue: alert queued");
        alerts::to_series(store, mail.as_ref(), &alert, s.row.client, s.row.policy)?;
        n += 1;
    }
    if n > 0 {
        crate::wake();
    }
    Ok(n)
}

/// The fleet health gauges in Prometheus text format, appended to `/metrics`.
pub fn metrics(
    store: &Store,
    now: DateTime<Utc>,
    scope: Option<&Visibility>,
    out: &mut String,
) -> Result<(), ReportError> {
    let h = scoped_fleet_health(store, now, scope)?;
    let label = crate::metrics::label;
    out.push_str("# HELP cyborgbackup_series_state State of a series against its schedule: 1 for the current state (ok, late, overdue, never, disabled).\n");
    out.push_str("# TYPE cyborgbackup_series_state gauge\n");
    for s in &h.series {
        let l = format!(
            "policy=\"{}\",client=\"{}\",repository=\"{}\"",
            label(&s.row.policy_name),
            label(&s.row.hostname),
            label(&s.row.repository_name)
        );
        for st in SeriesAge::ALL {
            out.push_str(&format!(
                "cyborgbackup_series_state{{{l},state=\"{st}\"}} {}\n",
                u8::from(s.state == st)
            ));
        }
    }
    out.push_str("# HELP cyborgbackup_series_age_seconds Seconds since the last successful backup of a series (absent: never).\n");
    out.push_str("# TYPE cyborgbackup_series_age_seconds gauge\n");
    for s in &h.series {
        if let Some(age) = s.age_seconds {
            out.push_str(&format!(
                "cyborgbackup_series_age_seconds{{policy=\"{}\",client=\"{}\"}} {age}\n",
                label(&s.row.policy_name),
                label(&s.row.hostname)
            ));
        }
    }
    out.push_str("# HELP cyborgbackup_series Series by state.\n");
    out.push_str("# TYPE cyborgbackup_series gauge\n");
    for (st, n) in [
        ("ok", h.ok),
        ("late", h.late),
        ("overdue", h.overdue),
        ("never", h.never),
        ("disabled", h.disabled),
    ] {
        out.push_str(&format!("cyborgbackup_series{{state=\"{st}\"}} {n}\n"));
    }
    Ok(())
}

/// The report's "Fleet health" section as (text, html): the counters, then every series that
/// needs attention (late, overdue, never, last backup failed, drill failed, nearly full).
pub(crate) fn report_section(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<(String, String), ReportError> {
    let h = fleet_health(store, now)?;
    let summary = format!(
        "{} series: {} ok, {} late, {} overdue, {} never backed up, {} disabled; {} with a failed last backup, {} with a failed restore drill, {} in a nearly full repository, {} in a tampered repository.",
        h.series.len(), h.ok, h.late, h.overdue, h.never, h.disabled, h.failing, h.drills_failed, h.nearly_full, h.tampered
    );
    let attention: Vec<String> = h
        .series
        .iter()
        .filter(|s| {
            s.state.is_problem()
                || (s.state != SeriesAge::Disabled
                    && (s.last_failed
                        || s.row.drill_verdict.as_deref() == Some("failed")
                        || s.repository_state != RepositoryState::Ok))
        })
        .map(|s| {
            let mut why = vec![match s.age_seconds {
                Some(a) => format!("{}, last success {} ago", s.state, human_age(a)),
                None => format!("{}, no successful backup", s.state),
            }];
            if s.last_failed {
                why.push(format!("last backup failed: {}", s.row.last_explanation));
            }
            if s.row.drill_verdict.as_deref() == Some("failed") {
                why.push("last restore drill failed".into());
            }
            if s.repository_state == RepositoryState::Tampered {
                why.push(format!("repository {} tampered", s.row.repository_name));
            }
            if s.repository_state == RepositoryState::NearlyFull {
                why.push(format!("repository {} nearly full", s.row.repository_name));
            }
            format!(
                "{} / {}: {}",
                s.row.hostname,
                s.row.policy_name,
                why.join("; ")
            )
        })
        .collect();
    let mut text = format!("Fleet health: {summary}\n");
    let mut html = format!(
        "<h2>Fleet health</h2><p>{}</p>",
        crate::notifier::esc(&summary)
    );
    if !attention.is_empty() {
        text.push_str("Needs attention:\n");
        html.push_str("<ul>");
        for a in &attention {
            text.push_str(&format!("  - {a}\n"));
            html.push_str(&format!(
                "<li style=\"color:#a00\">{}</li>",
                crate::notifier::esc(a)
            ));
        }
        html.push_str("</ul>");
    }
    text.push('\n');
    Ok((text, html))
}
