//! Fleet health of a backup series (policy × client): how old its last successful backup is
//! against its schedule.
//!
//! The schedule's *interval* is the time between its two most recent run times before now
//! (for a regular schedule, its period: a day for `30 2 * * *`; on a weekday-only schedule a
//! Monday sees the 3-day weekend gap, a Tuesday a 1-day gap). A series is
//! - `ok` while its last successful backup is at most 1.5 intervals old,
//! - `late` when it is older than 1.5 intervals (one run was missed and half an interval of
//!   grace has passed),
//! - `overdue` when it is older than 2 intervals (two runs missed),
//! - `never` when it has no successful backup and its first scheduled run (after the policy
//!   was created) is more than half an interval past — before that it is `ok`, waiting,
//! - `disabled` when its policy, client, schedule or repository is disabled (never alerted).

use crate::cron_expr::CronExpr;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a series stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeriesAge {
    Ok,
    Late,
    Overdue,
    Never,
    Disabled,
}

impl SeriesAge {
    pub const ALL: [SeriesAge; 5] = [
        SeriesAge::Ok,
        SeriesAge::Late,
        SeriesAge::Overdue,
        SeriesAge::Never,
        SeriesAge::Disabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SeriesAge::Ok => "ok",
            SeriesAge::Late => "late",
            SeriesAge::Overdue => "overdue",
            SeriesAge::Never => "never",
            SeriesAge::Disabled => "disabled",
        }
    }

    /// Needs an administrator's attention.
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            SeriesAge::Late | SeriesAge::Overdue | SeriesAge::Never
        )
    }
}

impl fmt::Display for SeriesAge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SeriesAge {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SeriesAge::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                format!("{s:?} is not a series state (ok, late, overdue, never, disabled)")
            })
    }
}

/// The schedule's interval at `now`: the gap between its two most recent run times before
/// `now`, or between its next two when it has not run twice yet.
pub fn expected_interval(cron: &CronExpr, now: DateTime<Utc>) -> Option<Duration> {
    let prev = cron.previous(now, 2);
    if prev.len() == 2 {
        return Some(prev[0] - prev[1]);
    }
    let next = cron.upcoming(now, 2);
    (next.len() == 2).then(|| next[1] - next[0])
}

/// What the classification needs to know about a series.
#[derive(Debug, Clone, Copy)]
pub struct SeriesFacts {
    pub last_success: Option<DateTime<Utc>>,
    /// When the policy was created (a series is not `never` before its first run is due).
    pub since: DateTime<Utc>,
    pub enabled: bool,
}

/// The state of a series at `now` under its schedule.
pub fn classify(cron: &CronExpr, facts: SeriesFacts, now: DateTime<Utc>) -> SeriesAge {
    if !facts.enabled {
        return SeriesAge::Disabled;
    }
    let Some(interval) = expected_interval(cron, now) else {
        return SeriesAge::Ok;
    };
    let grace = interval / 2;
    match facts.last_success {
        Some(t) => {
            let age = now - t;
            if age > interval * 2 {
                SeriesAge::Overdue
            } else if age > interval + grace {
                SeriesAge::Late
            } else {
                SeriesAge::Ok
            }
        }
        None => match cron.next_after(facts.since) {
            Some(first) if now > first + grace => SeriesAge::Never,
            _ => SeriesAge::Ok,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn facts(last: Option<&str>) -> SeriesFacts {
        SeriesFacts {
            last_success: last.map(t),
            since: t("2026-01-01T00:00:00Z"),
            enabled: true,
        }
    }

    #[test]
    fn a_daily_series_is_late_after_a_day_and_a_half_and_overdue_after_two() {
        let daily = CronExpr::parse("30 2 * * *").unwrap();
        let now = t("2026-03-10T12:00:00Z");
        assert_eq!(expected_interval(&daily, now), Some(Duration::days(1)));
        let at = |last| classify(&daily, facts(Some(last)), now);
        assert_eq!(at("2026-03-10T02:40:00Z"), SeriesAge::Ok);
        assert_eq!(at("2026-03-09T02:40:00Z"), SeriesAge::Ok); // 33 h
        assert_eq!(at("2026-03-08T23:00:00Z"), SeriesAge::Late); // 37 h
        assert_eq!(at("2026-03-08T11:00:00Z"), SeriesAge::Overdue); // 49 h
        assert_eq!(classify(&daily, facts(None), now), SeriesAge::Never);
    }

    #[test]
    fn weekday_schedules_allow_the_weekend() {
        let weekdays = CronExpr::parse("0 2 * * 1-5").unwrap();
        // Monday 2026-03-09 10:00: the last two runs are Friday and Monday, 3 days apart.
        let monday = t("2026-03-09T10:00:00Z");
        assert_eq!(
            expected_interval(&weekdays, monday),
            Some(Duration::days(3))
        );
        let last_friday = facts(Some("2026-03-06T02:10:00Z"));
        assert_eq!(classify(&weekdays, last_friday, monday), SeriesAge::Ok);
    }

    #[test]
    fn a_new_policy_is_not_never_before_its_first_run() {
        let daily = CronExpr::parse("0 3 * * *").unwrap();
        let mut f = facts(None);
        f.since = t("2026-03-10T10:00:00Z");
        assert_eq!(
            classify(&daily, f, t("2026-03-10T20:00:00Z")),
            SeriesAge::Ok
        );
        assert_eq!(
            classify(&daily, f, t("2026-03-11T16:00:00Z")),
            SeriesAge::Never
        );
        f.enabled = false;
        assert_eq!(
            classify(&daily, f, t("2026-03-20T16:00:00Z")),
            SeriesAge::Disabled
        );
    }
}
