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
    /// Parses 5 fields (`m h dom mon dow`), 6 fields (`m h dom mon dow year`, the original's
    /// form) or a macro (`@hourly`, `@daily`/`@midnight`, `@weekly`, `@monthly`,
    /// `@yearly`/`@annually`). Seconds are always 0. An error quotes what was typed and
    /// states the allowed values.
    pub fn parse(line: &str) -> Result<Self, CronError> {
        let typed = line.split_whitespace().collect::<Vec<_>>().join(" ");
        let expanded = match typed.to_ascii_lowercase().as_str() {
            "" => return Err(CronError("must not be empty".into())),
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            m if m.starts_with('@') => {
                return Err(CronError(format!(
                    "{typed:?} is not a schedule macro: use @hourly, @daily, @weekly, @monthly or @yearly"
                )))
            }
            _ => typed.as_str(),
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if !matches!(fields.len(), 5 | 6) {
            return Err(CronError(format!(
                "{typed:?} has {} field{}: expected 5 (minute hour day-of-month month weekday) or 6 (… year)",
                fields.len(),
                if fields.len() == 1 { "" } else { "s" }
            )));
        }
        for (f, spec) in fields.iter().zip(FIELDS.iter()) {
            check_field(f, spec)?;
        }
        let mut f: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
        f[4] = weekday_names(&f[4]);
        let translated = format!("0 {}", f.join(" "));
        let inner = cron::Schedule::from_str(&translated)
            .map_err(|e| CronError(format!("{typed:?} is not a valid cron expression ({e})")))?;
        // An expression that never fires (e.g. 31 February, a past year) is a mistake.
        if inner.upcoming(Utc).next().is_none() {
            return Err(CronError(format!(
                "{typed:?} never fires in the future (a date that does not exist, or a past year)"
            )));
        }
        Ok(CronExpr {
            source: typed,
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

    /// The last `n` runs at or before `before`, newest first.
    pub fn previous(&self, before: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let just_after = before + chrono::Duration::seconds(1);
        self.inner.after(&just_after).rev().take(n).collect()
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

/// One field of a cron line: its name, its limits, and the names it accepts.
struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// What to tell the user about the allowed values.
    allowed: &'static str,
}

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const FIELDS: [FieldSpec; 6] = [
    FieldSpec {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        allowed: "0 to 59",
    },
    FieldSpec {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        allowed: "0 to 23",
    },
    FieldSpec {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
        allowed: "1 to 31",
    },
    FieldSpec {
        name: "month",
        min: 1,
        max: 12,
        names: MONTHS,
        allowed: "1 to 12 or JAN to DEC",
    },
    FieldSpec {
        name: "weekday",
        min: 0,
        max: 7,
        names: DAYS,
        allowed: "0 to 7 (0 and 7 are Sunday) or SUN to SAT",
    },
    FieldSpec {
        name: "year",
        min: 1970,
        max: 2099,
        names: &[],
        allowed: "1970 to 2099",
    },
];

/// Checks one field (`*`, `?`, values, ranges `a-b`, lists `a,b`, steps `*/n`, `a-b/n`).
fn check_field(field: &str, spec: &FieldSpec) -> Result<(), CronError> {
    let bad = |why: String| CronError(format!("{} field {field:?}: {why}", spec.name));
    let value = |v: &str| -> Result<u32, CronError> {
        if let Ok(n) = v.parse::<u32>() {
            if n < spec.min || n > spec.max {
                return Err(bad(format!("{n} is out of range: use {}", spec.allowed)));
            }
            return Ok(n);
        }
        let upper = v.to_ascii_uppercase();
        match spec.names.iter().position(|n| *n == upper) {
            Some(i) => Ok(i as u32 + if spec.names.len() == 12 { 1 } else { 0 }),
            None => Err(bad(format!("{v:?} is not a value: use {}", spec.allowed))),
        }
    };
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        if let Some(s) = step {
            match s.parse::<u32>() {
                Ok(n) if (1..=spec.max.max(1)).contains(&n) => {}
                _ => {
                    return Err(bad(format!(
                        "the step {s:?} must be a whole number from 1 to {}",
                        spec.max.max(1)
                    )))
                }
            }
        }
        match range {
            "*" | "?" => {}
            "" => return Err(bad("has an empty part".into())),
            r => match r.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (value(a)?, value(b)?);
                    if a > b {
                        return Err(bad(format!("the range {r:?} runs backwards")));
                    }
                }
                None => {
                    value(r)?;
                }
            },
        }
    }
    Ok(())
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
    fn macros_expand_and_keep_what_was_typed() {
        let d = CronExpr::parse("@daily").unwrap();
        assert_eq!(d.as_str(), "@daily");
        assert_eq!(
            d.next_after(t("2026-11-27T10:00:00Z")),
            Some(t("2026-11-28T00:00:00Z"))
        );
        let w = CronExpr::parse("@weekly").unwrap();
        assert_eq!(
            w.next_after(t("2026-11-27T10:00:00Z")).unwrap().weekday(),
            Weekday::Sun
        );
        assert!(CronExpr::parse("@hourly").is_ok());
        assert!(CronExpr::parse("@monthly").is_ok());
        assert!(CronExpr::parse("@yearly").is_ok());
        let e = CronExpr::parse("@reboot").unwrap_err().0;
        assert!(e.contains("\"@reboot\"") && e.contains("@daily"), "{e}");
    }

    #[test]
    fn errors_quote_what_was_typed_and_the_real_limits() {
        let e = CronExpr::parse("61 25 * * *").unwrap_err().0;
        assert_eq!(e, "minute field \"61\": 61 is out of range: use 0 to 59");
        let e = CronExpr::parse("0 25 * * *").unwrap_err().0;
        assert_eq!(e, "hour field \"25\": 25 is out of range: use 0 to 23");
        let e = CronExpr::parse("0 5 * * 8").unwrap_err().0;
        assert!(
            e.contains("weekday field \"8\"") && e.contains("0 to 7"),
            "{e}"
        );
        let e = CronExpr::parse("0 5 * 13 *").unwrap_err().0;
        assert!(e.contains("1 to 12 or JAN to DEC"), "{e}");
        let e = CronExpr::parse("0 0 31 2 *").unwrap_err().0;
        assert!(e.starts_with("\"0 0 31 2 *\" never fires"), "{e}");
        let e = CronExpr::parse("* * *").unwrap_err().0;
        assert!(e.starts_with("\"* * *\" has 3 fields"), "{e}");
        let e = CronExpr::parse("*/0 * * * *").unwrap_err().0;
        assert!(e.contains("step \"0\""), "{e}");
        // No error mentions the seconds field or weekday names the user did not type.
        for bad in ["61 * * * *", "0 0 * * 9", "a b c d e"] {
            let e = CronExpr::parse(bad).unwrap_err().0;
            assert!(!e.contains("0 61") && !e.contains("less than"), "{e}");
        }
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
