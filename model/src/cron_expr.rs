//! Cron expressions in the standard 5-field form and the original CyBorgBackup's 6-field
//! form (`minute hour day-of-month month day-of-week year`), evaluated in UTC.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use std::fmt;
use std::str::FromStr;

/// Why a cron line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(pub String);

/// A validated cron expression.
#[derive(Clone)]
pub struct CronExpr {
    source: String,
    inner: cron::Schedule,
}

impl fmt::Debug for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CronExpr({:?})", self.source)
    }
}

impl PartialEq for CronExpr {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl CronExpr {
    /// Parses 5 fields (`m h dom mon dow`) or 6 fields (`m h dom mon dow year`, the original's
    /// form). Seconds are always 0.
    pub fn parse(line: &str) -> Result<Self, CronError> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let translated = match fields.len() {
            5 | 6 => {
                let mut f: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
                f[4] = weekday_names(&f[4]);
                format!("0 {}", f.join(" "))
            }
            0 => return Err(CronError("must not be empty".into())),
            n => {
                return Err(CronError(format!(
                    "expected 5 fields (minute hour day month weekday) or 6 (… year), got {n}"
                )))
            }
        };
        for (i, f) in fields.iter().enumerate() {
            if !f
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | '/' | ',' | '-' | '?'))
            {
                return Err(CronError(format!(
                    "field {} ({f:?}) has invalid characters",
                    i + 1
                )));
            }
        }
        let inner = cron::Schedule::from_str(&translated)
            .map_err(|e| CronError(format!("invalid cron expression: {e}")))?;
        // An expression that never fires (e.g. 31 February, a past year) is a mistake.
        if inner.upcoming(Utc).next().is_none() {
            return Err(CronError("never fires in the future".into()));
        }
        Ok(CronExpr {
            source: fields.join(" "),
            inner,
        })
    }

    /// The expression as given (whitespace normalised).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The first run strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.inner.after(&after).next()
    }

    /// The next `n` runs strictly after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        self.inner.after(&after).take(n).collect()
    }

    /// Every run time within the given calendar month (UTC), capped at `limit` entries.
    pub fn calendar(&self, year: i32, month: u32, limit: usize) -> Vec<DateTime<Utc>> {
        let Some(start) = Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0).single() else {
            return Vec::new();
        };
        let first = start - chrono::Duration::seconds(1);
        self.inner
            .after(&first)
            .take_while(|t| t.year() == year && t.month() == month)
            .take(limit)
            .collect()
    }
}

/// Standard cron numbers weekdays 0-7 from Sunday; the `cron` crate numbers them 1-7. Names
/// mean the same to both, so numbers are rewritten as names.
fn weekday_names(field: &str) -> String {
    const NAMES: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
    let (body, step) = match field.split_once('/') {
        Some((b, s)) => (b, Some(s)),
        None => (field, None),
    };
    let body: Vec<String> = body
        .split(',')
        .map(|part| {
            part.split('-')
                .map(|x| match x.parse::<usize>() {
                    Ok(n) if n < NAMES.len() => NAMES[n].to_string(),
                    _ => x.to_string(),
                })
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect();
    match step {
        Some(s) => format!("{}/{s}", body.join(",")),
        None => body.join(","),
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn five_field_form() {
        let c = CronExpr::parse("30 2 * * *").unwrap();
        assert_eq!(
            c.next_after(t("2026-11-27T10:00:00Z")),
            Some(t("2026-11-28T02:30:00Z"))
        );
    }

    #[test]
    fn original_six_field_form_with_year() {
        let c = CronExpr::parse("0 5 * * MON *").unwrap();
        let n = c.next_after(t("2026-11-27T10:00:00Z")).unwrap();
        assert_eq!(n, t("2026-11-30T05:00:00Z"));
        assert_eq!(n.weekday(), Weekday::Mon);
        let every = CronExpr::parse("*/1 * * * * *").unwrap();
        assert_eq!(
            every.upcoming(t("2026-11-27T10:00:30Z"), 2),
            vec![t("2026-11-27T10:01:00Z"), t("2026-11-27T10:02:00Z")]
        );
    }

    #[test]
    fn numeric_weekdays_follow_standard_cron() {
        let c = CronExpr::parse("0 5 * * 1").unwrap();
        assert_eq!(
            c.next_after(t("2026-11-27T10:00:00Z")),
            Some(t("2026-11-30T05:00:00Z"))
        );
        let sun = CronExpr::parse("0 5 * * 0").unwrap();
        assert_eq!(
            sun.next_after(t("2026-11-27T10:00:00Z")),
            Some(t("2026-11-29T05:00:00Z"))
        );
        let weekdays = CronExpr::parse("0 5 * * 1-5").unwrap();
        assert_eq!(
            weekdays.next_after(t("2026-11-28T10:00:00Z")),
            Some(t("2026-11-30T05:00:00Z"))
        );
    }

    #[test]
    fn calendar_of_a_month() {
        let c = CronExpr::parse("0 5 * * MON *").unwrap();
        let cal = c.calendar(2026, 11, 100);
        assert_eq!(cal.len(), 5); // Mondays of November 2026: 2, 9, 16, 23, 30
        assert_eq!(cal[0], t("2026-11-02T05:00:00Z"));
        assert_eq!(cal[4], t("2026-11-30T05:00:00Z"));
        let daily = CronExpr::parse("0 1 * * *").unwrap();
        assert_eq!(daily.calendar(2027, 2, 100).len(), 28);
    }

    #[test]
    fn malformed_lines_are_refused() {
        for bad in [
            "",
            "* * *",
            "61 * * * *",
            "* * * * * * *",
            "a b c d e",
            "0 5 * * MON; rm",
            "0 0 31 2 *",
        ] {
            assert!(CronExpr::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
