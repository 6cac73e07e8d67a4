//! Recoverability per series (policy × client) across its primary and copy repositories: how
//! many copies, how many are append-only or on another host, the age of the newest verified
//! archive in each, the last drill and integrity check of each, and whether the series meets
//! the policy's recovery-point objective. A series whose state drops (a repository fails its
//! check or drill, a copy differs from its primary, the objective is missed) alerts once per
//! episode by mail and webhook.

use crate::alerts::{self, Alert};
use crate::health::human_age;
use crate::ReportError;
use chrono::{DateTime, Utc};
use model::access::Visibility;
use model::{ClientId, JobStatus, PolicyId, RecoveryState, RepoLocation};
use serde_json::json;
use store::{RecoveryRow, Store};

/// One repository (primary or copy) of a series.
#[derive(Debug, Clone)]
pub struct RepositoryRecovery {
    pub row: RecoveryRow,
    /// Written through per-client `--append-only` credentials (a repository over SSH).
    pub append_only: bool,
    /// The repository's host ("server" for a local one).
    pub host: String,
    /// Seconds since the newest verified archive (none: no verified archive).
    pub verified_age_seconds: Option<i64>,
    /// What is wrong with this repository (empty: it counts as a good copy).
    pub problems: Vec<String>,
}

impl RepositoryRecovery {
    pub fn is_copy(&self) -> bool {
        self.row.position > 0
    }
    /// Holds a verified archive and nothing is wrong with it.
    pub fn is_good(&self) -> bool {
        self.problems.is_empty() && self.verified_age_seconds.is_some()
    }
}

/// The recoverability of one series.
#[derive(Debug, Clone)]
pub struct SeriesRecovery {
    pub policy: PolicyId,
    pub policy_name: String,
    pub client: ClientId,
    pub hostname: String,
    pub enabled: bool,
    pub rpo_hours: Option<u32>,
    pub state: RecoveryState,
    /// Why the state is not ok.
    pub reasons: Vec<String>,
    /// The primary first, then the copies in order.
    pub repositories: Vec<RepositoryRecovery>,
    /// Copy repositories (the primary not counted).
    pub copies: usize,
    /// Repositories (primary included) that hold a verified archive and show no problem.
    pub good: usize,
    pub append_only: usize,
    /// Distinct repository hosts other than the client itself.
    pub other_hosts: usize,
    /// Age of the newest verified archive in a good repository.
    pub newest_verified_age_seconds: Option<i64>,
    /// Whether the objective is met (none without an objective).
    pub rpo_met: Option<bool>,
}

/// Every series' recoverability with the counters.
#[derive(Debug, Clone, Default)]
pub struct Recoverability {
    pub series: Vec<SeriesRecovery>,
    pub ok: usize,
    pub degraded: usize,
    pub unmet: usize,
}

fn repository(row: RecoveryRow, now: DateTime<Utc>) -> RepositoryRecovery {
    let location = RepoLocation::parse(&row.repository_path);
    let (append_only, host) = match &location {
        Some(RepoLocation::Remote { host, .. }) => (true, host.clone()),
        _ => (false, "server".to_string()),
    };
    let mut problems = Vec::new();
    if !row.repository_enabled {
        problems.push(format!("repository {} is disabled", row.repository_name));
    }
    if row.tampered {
        problems.push(format!(
            "repository {} is marked tampered (archives vanished)",
            row.repository_name
        ));
    }
    if matches!(row.check_status, Some(JobStatus::Failed | JobStatus::Error)) {
        problems.push(format!(
            "the last integrity check of {} failed{}: {}",
            row.repository_name,
            row.check_finished
                .map(|t| format!(" {}", t.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default(),
            row.check_explanation
        ));
    }
    if row.drill_verdict.as_deref() == Some("failed") {
        problems.push(format!(
            "the last restore drill from {} failed",
            row.repository_name
        ));
    }
    if row.position > 0 && row.last_comparison.as_deref() == Some("differs") {
        problems.push(format!(
            "the newest copy in {} differs from its primary archive",
            row.repository_name
        ));
    }
    RepositoryRecovery {
        verified_age_seconds: row.newest_verified.map(|t| (now - t).num_seconds().max(0)),
        append_only,
        host,
        problems,
        row,
    }
}

fn assess(repos: Vec<RepositoryRecovery>, now: DateTime<Utc>) -> Option<SeriesRecovery> {
    let first = repos.first()?.row.clone();
    let good: Vec<&RepositoryRecovery> = repos.iter().filter(|r| r.is_good()).collect();
    let newest = good.iter().filter_map(|r| r.verified_age_seconds).min();
    let mut hosts: Vec<&str> = repos
        .iter()
        .map(|r| r.host.as_str())
        .filter(|h| *h != first.hostname)
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    let mut reasons: Vec<String> = repos.iter().flat_map(|r| r.problems.clone()).collect();
    // A series younger than its objective has not missed it yet.
    let rpo_met = first.rpo_hours.map(|h| {
        let limit = i64::from(h) * 3600;
        newest.is_some_and(|age| age <= limit) || (now - first.policy_created).num_seconds() < limit
    });
    let state = if rpo_met == Some(false) {
        reasons.insert(
            0,
            match newest {
                Some(age) => format!(
                    "the newest verified archive is {} old, older than the objective of {} h",
                    human_age(age),
                    first.rpo_hours.unwrap_or_default()
                ),
                None => format!(
                    "no verified archive, and the objective is {} h",
                    first.rpo_hours.unwrap_or_default()
                ),
            },
        );
        RecoveryState::Unmet
    } else if reasons.is_empty() {
        RecoveryState::Ok
    } else {
        RecoveryState::Degraded
    };
    Some(SeriesRecovery {
        policy: first.policy,
        policy_name: first.policy_name,
        client: first.client,
        hostname: first.hostname,
        enabled: first.enabled,
        rpo_hours: first.rpo_hours,
        state,
        reasons,
        copies: repos.iter().filter(|r| r.is_copy()).count(),
        good: good.len(),
        append_only: repos.iter().filter(|r| r.append_only).count(),
        other_hosts: hosts.len(),
        newest_verified_age_seconds: newest,
        rpo_met,
        repositories: repos,
    })
}

/// The recoverability of the series `scope` reaches (every series without one).
pub fn recoverability(
    store: &Store,
    now: DateTime<Utc>,
    scope: Option<&Visibility>,
) -> Result<Recoverability, ReportError> {
    let mut out = Recoverability::default();
    let mut group: Vec<RepositoryRecovery> = Vec::new();
    let flush = |group: &mut Vec<RepositoryRecovery>, out: &mut Recoverability| {
        if let Some(s) = assess(std::mem::take(group), now) {
            match s.state {
                RecoveryState::Ok => out.ok += 1,
                RecoveryState::Degraded => out.degraded += 1,
                RecoveryState::Unmet => out.unmet += 1,
            }
            out.series.push(s);
        }
    };
    for row in store.recovery_rows()? {
        if scope.is_some_and(|v| !v.series(row.client, row.policy)) {
            continue;
        }
        if group
            .first()
            .is_some_and(|g| (g.row.policy, g.row.client) != (row.policy, row.client))
        {
            flush(&mut group, &mut out);
        }
        group.push(repository(row, now));
    }
    flush(&mut group, &mut out);
    Ok(out)
}

fn alert(s: &SeriesRecovery) -> Alert {
    let unmet = s.state == RecoveryState::Unmet;
    let (kind, headline) = if unmet {
        (
            "recovery_objective_missed",
            "RECOVERY POINT OBJECTIVE MISSED",
        )
    } else {
        ("recoverability_degraded", "RECOVERABILITY DEGRADED")
    };
    let repos: Vec<String> = s
        .repositories
        .iter()
        .map(|r| {
            format!(
                "  {} {} ({}): {}",
                if r.is_copy() { "copy" } else { "primary" },
                r.row.repository_name,
                r.host,
                match (r.verified_age_seconds, r.problems.is_empty()) {
                    (_, false) => r.problems.join("; "),
                    (Some(age), true) => format!("newest verified archive {} old", human_age(age)),
                    (None, true) => "no verified archive yet".into(),
                }
            )
        })
        .collect();
    Alert {
        kind,
        subject: format!(
            "[CyBorgBackup] {headline}: {} {}",
            s.hostname, s.policy_name
        ),
        text: format!(
            "The backups of {} by policy {} are less recoverable than they should be:\n\n{}\n\n\
             Repositories of this series:\n{}\n\n{} of {} repositories hold a verified archive \
             with no problem. Look at the repositories' last checks and restore drills in the \
             web console, and restore from a good copy if one is needed.\n",
            s.hostname,
            s.policy_name,
            s.reasons
                .iter()
                .map(|r| format!("  - {r}"))
                .collect::<Vec<_>>()
                .join("\n"),
            repos.join("\n"),
            s.good,
            s.repositories.len()
        ),
        payload: json!({
            "event": kind,
            "policy": {"id": s.policy.0, "name": s.policy_name},
            "client": {"id": s.client.0, "hostname": s.hostname},
            "state": s.state.as_str(),
            "reasons": s.reasons,
            "rpo_hours": s.rpo_hours,
            "newest_verified_age_seconds": s.newest_verified_age_seconds,
            "repositories": s.repositories.iter().map(|r| json!({
                "id": r.row.repository.0,
                "name": r.row.repository_name,
                "copy": r.is_copy(),
                "good": r.is_good(),
                "problems": r.problems,
            })).collect::<Vec<_>>(),
        }),
    }
}

/// Queues an alert for every enabled series whose recoverability dropped since the state last
/// recorded for it (ok → degraded → unmet), once per episode; returns how many.
pub fn alert_recoverability(store: &Store, now: DateTime<Utc>) -> Result<usize, ReportError> {
    let all = recoverability(store, now, None)?;
    let mail = alerts::optional_mail(store)?;
    let mut n = 0;
    for s in all.series.iter().filter(|s| s.enabled) {
        let before = store
            .recoverability_alerted(s.policy, s.client)?
            .and_then(|v| v.parse::<RecoveryState>().ok())
            .unwrap_or(RecoveryState::Ok);
        if s.state == before {
            continue;
        }
        store.set_recoverability_alerted(s.policy, s.client, s.state.as_str())?;
        if s.state < before {
            continue;
        }
        let a = alert(s);
        tracing::warn!(policy = %s.policy_name, client = %s.hostname, state = s.state.as_str(), "recoverability dropped: alert queued");
        alerts::to_series(store, mail.as_ref(), &a, s.client, s.policy)?;
        n += 1;
    }
    if n > 0 {
        crate::wake();
    }
    Ok(n)
}

/// Recoverability gauges in Prometheus text format, appended to `/metrics`.
pub fn metrics(
    store: &Store,
    now: DateTime<Utc>,
    scope: Option<&Visibility>,
    out: &mut String,
) -> Result<(), ReportError> {
    let r = recoverability(store, now, scope)?;
    let label = crate::metrics::label;
    out.push_str("# HELP cyborgbackup_series_recoverability Recoverability of a series across its repositories: 1 for the current state (ok, degraded, unmet).\n");
    out.push_str("# TYPE cyborgbackup_series_recoverability gauge\n");
    for s in &r.series {
        let l = format!(
            "policy=\"{}\",client=\"{}\"",
            label(&s.policy_name),
            label(&s.hostname)
        );
        for st in [
            RecoveryState::Ok,
            RecoveryState::Degraded,
            RecoveryState::Unmet,
        ] {
            out.push_str(&format!(
                "cyborgbackup_series_recoverability{{{l},state=\"{st}\"}} {}\n",
                u8::from(s.state == st)
            ));
        }
    }
    out.push_str("# HELP cyborgbackup_series_good_copies Repositories of a series (primary included) holding a verified archive with no problem.\n");
    out.push_str("# TYPE cyborgbackup_series_good_copies gauge\n");
    for s in &r.series {
        out.push_str(&format!(
            "cyborgbackup_series_good_copies{{policy=\"{}\",client=\"{}\"}} {}\n",
            label(&s.policy_name),
            label(&s.hostname),
            s.good
        ));
    }
    out.push_str("# HELP cyborgbackup_series_verified_age_seconds Seconds since the newest verified archive of a series in a good repository (absent: none).\n");
    out.push_str("# TYPE cyborgbackup_series_verified_age_seconds gauge\n");
    for s in &r.series {
        if let Some(age) = s.newest_verified_age_seconds {
            out.push_str(&format!(
                "cyborgbackup_series_verified_age_seconds{{policy=\"{}\",client=\"{}\"}} {age}\n",
                label(&s.policy_name),
                label(&s.hostname)
            ));
        }
    }
    Ok(())
}

/// The report's "Recoverability" section as (text, html): the counters, then every series
/// that is not recoverable as intended, with why.
pub(crate) fn report_section(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<(String, String), ReportError> {
    let r = recoverability(store, now, None)?;
    let summary = format!(
        "{} series: {} recoverable as intended, {} degraded, {} missing their recovery-point objective.",
        r.series.len(),
        r.ok,
        r.degraded,
        r.unmet
    );
    let mut text = format!("Recoverability: {summary}\n");
    let mut html = format!(
        "<h2>Recoverability</h2><p>{}</p>",
        crate::notifier::esc(&summary)
    );
    let attention: Vec<String> = r
        .series
        .iter()
        .filter(|s| s.state != RecoveryState::Ok)
        .map(|s| {
            format!(
                "{} / {}: {} ({} of {} repositories good): {}",
                s.hostname,
                s.policy_name,
                s.state,
                s.good,
                s.repositories.len(),
                s.reasons.join("; ")
            )
        })
        .collect();
    if !attention.is_empty() {
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
