//! Scheduled reports (daily, weekly, monthly; times set by cron): multipart HTML with inline PNG
//! charts and a plain-text alternative, a row per client and policy.

use crate::charts::{chart_spec, ChartKind, ChartRequest};
use crate::draw::{self, Format};
use crate::mail::{InlineImage, MailContent};
use crate::notifier::{enqueue_mail, esc, human_bytes};
use crate::settings::MailSettings;
use crate::{forecast, ReportError};
use chrono::{DateTime, Duration, Utc};
use model::settings::{self, Setting};
use model::{CronExpr, JobStatus};
use store::{NotifyPref, StatsFilter, StatsGroup, Store};

/// A report period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Daily,
    Weekly,
    Monthly,
}

impl Period {
    pub const ALL: [Period; 3] = [Period::Daily, Period::Weekly, Period::Monthly];

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
        }
    }

    /// The setting holding the period's cron expression (by default 07:00 UTC every day,
    /// Monday, first of the month).
    pub fn cron_setting(self) -> &'static Setting<CronExpr> {
        match self {
            Period::Daily => &settings::REPORT_DAILY_CRON,
            Period::Weekly => &settings::REPORT_WEEKLY_CRON,
            Period::Monthly => &settings::REPORT_MONTHLY_CRON,
        }
    }

    /// Days the report covers.
    pub fn days(self) -> i64 {
        match self {
            Period::Daily => 1,
            Period::Weekly => 7,
            Period::Monthly => 30,
        }
    }

    fn chart_days(self) -> i64 {
        match self {
            Period::Daily => 14,
            Period::Weekly => 30,
            Period::Monthly => 90,
        }
    }

    fn pref(self) -> NotifyPref {
        match self {
            Period::Daily => NotifyPref::Daily,
            Period::Weekly => NotifyPref::Weekly,
            Period::Monthly => NotifyPref::Monthly,
        }
    }

    pub fn parse(s: &str) -> Result<Period, ReportError> {
        Period::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ReportError::Invalid {
                field: "period",
                reason: format!("{s:?} is not one of daily, weekly, monthly"),
            })
    }
}

fn last_run_key(p: Period) -> String {
    format!("report.{}.last_run", p.as_str())
}

/// The periods whose cron fired since their last run, marking them run at `now`. The first
/// call only records `now` (no report for the time before the server ran).
pub fn due_periods(store: &Store, now: DateTime<Utc>) -> Result<Vec<Period>, ReportError> {
    let mut due = Vec::new();
    for p in Period::ALL {
        let cron = store.get(p.cron_setting())?;
        let key = last_run_key(p);
        let last = store
            .state(&key)?
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| t.with_timezone(&Utc));
        match last {
            None => store.set_state(&key, &now.to_rfc3339())?,
            Some(last) => {
                if cron.next_after(last).is_some_and(|next| next <= now) {
                    store.set_state(&key, &now.to_rfc3339())?;
                    due.push(p);
                }
            }
        }
    }
    Ok(due)
}

/// Queues the report of `period` for every superuser who asked for it (a report covers every
/// client and repository); returns the outbox ids.
pub fn send_report(
    store: &Store,
    period: Period,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, ReportError> {
    let recipients = crate::audience::superusers(store, period.pref())?;
    if recipients.is_empty() {
        tracing::info!(period = period.as_str(), "no one subscribed to this report");
        return Ok(vec![]);
    }
    let settings = MailSettings::load(store)?;
    let content = build_report(store, period, now)?;
    enqueue_mail(
        store,
        &settings,
        &format!("report_{}", period.as_str()),
        &recipients,
        &content,
    )
}

fn png(
    store: &Store,
    kind: ChartKind,
    filter: StatsFilter,
    days: i64,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, ReportError> {
    let mut req = ChartRequest::new(kind, Format::Png);
    req.filter = filter;
    req.days = days;
    req.width = 720;
    req.height = 300;
    let spec = chart_spec(store, &req, now)?;
    draw::render(&spec, Format::Png, req.width, req.height)
}

/// Builds the report as of `now`.
pub fn build_report(
    store: &Store,
    period: Period,
    now: DateTime<Utc>,
) -> Result<MailContent, ReportError> {
    let end = now.date_naive().succ_opt().unwrap_or(now.date_naive());
    let start = end - Duration::days(period.days());
    let totals = store
        .daily_stats(start, end, StatsGroup::All, StatsFilter::default())?
        .into_iter()
        .next()
        .map(|s| s.points)
        .unwrap_or_default();
    let ok: i64 = totals.iter().map(|p| p.success).sum();
    let failed: i64 = totals.iter().map(|p| p.failed).sum();
    let archives: i64 = totals.iter().map(|p| p.archives).sum();
    let title = format!(
        "CyBorgBackup {} report, {}",
        period.as_str(),
        now.format("%Y-%m-%d")
    );
    let subject = format!(
        "[CyBorgBackup] {} report: {ok} succeeded, {failed} failed",
        capitalize(period.as_str())
    );
    let mut images = vec![InlineImage {
        cid: "chart-jobs@cyborgbackup".into(),
        png: png(
            store,
            ChartKind::Jobs,
            StatsFilter::default(),
            period.chart_days(),
            now,
        )?,
    }];
    let mut full_warnings = Vec::new();
    for repo in store.repositories()?.into_iter().take(6) {
        let f = StatsFilter {
            repository: Some(repo.id),
            ..Default::default()
        };
        images.push(InlineImage {
            cid: format!("chart-size-{}@cyborgbackup", repo.id.0),
            png: png(store, ChartKind::Size, f.clone(), period.chart_days(), now)?,
        });
        if let Some(cap) = store.repository_capacity(repo.id)? {
            images.push(InlineImage {
                cid: format!("chart-forecast-{}@cyborgbackup", repo.id.0),
                png: png(store, ChartKind::Forecast, f, period.chart_days(), now)?,
            });
            let pts: Vec<_> = store
                .repository_size_history(repo.id, now - Duration::days(period.chart_days()))?
                .iter()
                .map(|p| (p.time, p.deduplicated_size as f64))
                .collect();
            let fc = forecast::fit_with_history(&pts, Some(cap), now).ok();
            let used = repo.deduplicated_size as f64 / cap as f64;
            let soon = fc.and_then(|f| f.full_in_days).is_some_and(|d| d <= 30.0);
            if soon || used >= 0.9 {
                full_warnings.push(format!(
                    "{}: {} of {} used ({:.0}%), {}",
                    repo.name,
                    human_bytes(repo.deduplicated_size),
                    human_bytes(cap),
                    used * 100.0,
                    fc.map(|f| f.describe(Some(cap))).unwrap_or_default()
                ));
            }
        }
    }
    let rows = store.series_status()?;
    let fmt_t = |t: Option<DateTime<Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "never".into())
    };
    let cells = |r: &store::SeriesStatus| {
        [
            r.hostname.clone(),
            r.policy_name.clone(),
            r.repository_name.clone(),
            fmt_t(r.last_backup),
            r.last_status
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "-".into()),
            human_bytes(r.original_size),
            human_bytes(r.deduplicated_size),
            r.catalog_state
                .map(|c| c.as_str().to_string())
                .unwrap_or_else(|| "-".into()),
            if r.anomaly.is_empty() {
                "-".into()
            } else {
                r.anomaly.clone()
            },
            last_restore_test(store, r),
        ]
    };
    const HEAD: [&str; 10] = [
        "Client",
        "Policy",
        "Repository",
        "Last backup",
        "Status",
        "Archive size",
        "Deduplicated",
        "Catalog",
        "Anomaly",
        "Last restore test",
    ];

    let mut text = format!(
        "{title}\n\nLast {} day(s): {ok} backups succeeded, {failed} failed, {archives} archives created.\n\n",
        period.days()
    );
    let (health_text, health_html) = crate::health::report_section(store, now)?;
    text.push_str(&health_text);
    let (recovery_text, recovery_html) = crate::recoverability::report_section(store, now)?;
    text.push_str(&recovery_text);
    if !full_warnings.is_empty() {
        text.push_str("Repositories approaching full:\n");
        for w in &full_warnings {
            text.push_str(&format!("  - {w}\n"));
        }
        text.push('\n');
    }
    text.push_str(&HEAD.join(" | "));
    text.push('\n');
    for r in &rows {
        text.push_str(&cells(r).join(" | "));
        text.push('\n');
    }
    if rows.is_empty() {
        text.push_str("(no policy has a client yet)\n");
    }
    let home = crate::settings::Links::load(store)?.home();
    if let Some(h) = &home {
        text.push_str(&format!("\nDashboard: {h}\n"));
    }

    let mut html = format!(
        "<html><body style=\"font-family: sans-serif\"><h1>{}</h1><p>Last {} day(s): <b>{ok}</b> backups succeeded, <b>{failed}</b> failed, {archives} archives created.</p>",
        esc(&title),
        period.days()
    );
    html.push_str(&health_html);
    html.push_str(&recovery_html);
    if !full_warnings.is_empty() {
        html.push_str("<h2>Repositories approaching full</h2><ul>");
        for w in &full_warnings {
            html.push_str(&format!("<li>{}</li>", esc(w)));
        }
        html.push_str("</ul>");
    }
    html.push_str("<h2>Backups</h2><table border=\"1\" cellpadding=\"4\" cellspacing=\"0\"><tr>");
    for h in HEAD {
        html.push_str(&format!("<th>{h}</th>"));
    }
    html.push_str("</tr>");
    for r in &rows {
        let bad = r.last_status.is_some_and(|s| s != JobStatus::Successful);
        html.push_str(if bad {
            "<tr style=\"background:#fdd\">"
        } else {
            "<tr>"
        });
        for c in cells(r) {
            html.push_str(&format!("<td>{}</td>", esc(&c)));
        }
        html.push_str("</tr>");
    }
    html.push_str("</table><h2>Charts</h2>");
    for img in &images {
        html.push_str(&format!(
            "<p><img src=\"cid:{}\" width=\"720\" height=\"300\" alt=\"chart\"></p>",
            esc(&img.cid)
        ));
    }
    if let Some(h) = &home {
        html.push_str(&format!(
            "<p><a href=\"{}\">Open CyBorgBackup</a></p>",
            esc(h)
        ));
    }
    html.push_str("</body></html>");
    Ok(MailContent {
        subject,
        text,
        html: Some(html),
        images,
    })
}

/// "2026-11-27 04:00 UTC passed", or "never", for the report's column.
fn last_restore_test(store: &Store, r: &store::SeriesStatus) -> String {
    match store.last_restore_test(Some(r.policy), Some(r.client), None) {
        Ok(Some(t)) => format!(
            "{} {}",
            t.created.format("%Y-%m-%d %H:%M UTC"),
            t.verdict.as_str()
        ),
        Ok(None) => "never".into(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the last restore test");
            "-".into()
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_tick_records_then_fires_after_the_cron_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        let t0 = DateTime::parse_from_rfc3339("2024-03-04T06:00:00Z")
            .expect("t")
            .with_timezone(&Utc);
        assert!(due_periods(&store, t0).expect("due").is_empty());
        assert!(due_periods(&store, t0 + Duration::minutes(30))
            .expect("due")
            .is_empty());
        // 07:00 passed: daily fires; 2024-03-04 is a Monday: weekly too.
        let due = due_periods(&store, t0 + Duration::hours(2)).expect("due");
        assert_eq!(due, vec![Period::Daily, Period::Weekly]);
        assert!(due_periods(&store, t0 + Duration::hours(3))
            .expect("due")
            .is_empty());
        // The report.daily_cron setting moves the daily report.
        let every_5 = settings::check("report.daily_cron", "*/5 * * * *").expect("valid");
        store.apply_settings(&[every_5]).expect("set");
        let due = due_periods(&store, t0 + Duration::hours(3) + Duration::minutes(6)).expect("due");
        assert_eq!(due, vec![Period::Daily]);
        // So do report.weekly_cron and report.monthly_cron (by default not due until next
        // Monday and April 1st).
        let changes = settings::check_all([
            ("report.weekly_cron", "0 12 * * *"),
            ("report.monthly_cron", "30 12 * * *"),
        ])
        .expect("valid");
        store.apply_settings(&changes).expect("set");
        let due =
            due_periods(&store, t0 + Duration::hours(6) + Duration::minutes(10)).expect("due");
        assert_eq!(due, vec![Period::Daily, Period::Weekly]);
        let due =
            due_periods(&store, t0 + Duration::hours(6) + Duration::minutes(40)).expect("due");
        assert_eq!(due, vec![Period::Daily, Period::Monthly]);
    }
}
