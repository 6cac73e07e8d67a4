//! Growth forecast: a least-squares line through a repository's size over a window, and when a
//! capacity is known, the number of days until it is full.

use chrono::{DateTime, Duration, Utc};

/// The fitted trend of a size series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forecast {
    /// Bytes per day (negative when shrinking).
    pub slope_per_day: f64,
    /// The fitted size at `at`.
    pub fitted_now: f64,
    pub at: DateTime<Utc>,
    /// Days from `at` until the capacity is reached; `None` when no capacity is known or the
    /// repository is not growing.
    pub full_in_days: Option<f64>,
}

impl Forecast {
    /// The fitted size at `t`.
    pub fn value_at(&self, t: DateTime<Utc>) -> f64 {
        self.fitted_now + self.slope_per_day * (t - self.at).num_seconds() as f64 / 86400.0
    }

    /// A sentence for titles and reports.
    pub fn describe(&self, capacity: Option<i64>) -> String {
        match (capacity, self.full_in_days) {
            (None, _) => "no capacity set".to_string(),
            (Some(_), Some(d)) if d <= 0.0 => "full".to_string(),
            (Some(_), Some(d)) => format!("full in {} days", d.ceil() as i64),
            (Some(_), None) => "not growing".to_string(),
        }
    }
}

/// Fits `(time, bytes)` points; needs two distinct times, otherwise a flat line through the
/// single point (or `None` without points).
pub fn fit(
    points: &[(DateTime<Utc>, f64)],
    capacity: Option<i64>,
    now: DateTime<Utc>,
) -> Option<Forecast> {
    let first = points.first()?;
    let xs: Vec<f64> = points
        .iter()
        .map(|(t, _)| (*t - first.0).num_seconds() as f64 / 86400.0)
        .collect();
    let n = points.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f64 = xs
        .iter()
        .zip(points)
        .map(|(x, p)| (x - mx) * (p.1 - my))
        .sum();
    let slope = if sxx > 1e-9 { sxy / sxx } else { 0.0 };
    let x_now = (now - first.0).num_seconds() as f64 / 86400.0;
    let fitted_now = my + slope * (x_now - mx);
    let full_in_days = capacity.and_then(|cap| {
        let cap = cap as f64;
        let current = points
            .last()
            .map(|p| p.1)
            .unwrap_or(fitted_now)
            .max(fitted_now);
        if current >= cap {
            Some(0.0)
        } else if slope > 0.0 {
            Some((cap - fitted_now) / slope)
        } else {
            None
        }
    });
    Some(Forecast {
        slope_per_day: slope,
        fitted_now,
        at: now,
        full_in_days,
    })
}

/// Least history a forecast is drawn from: a week, and this many measurements.
pub const MIN_POINTS: usize = 3;
pub const MIN_SPAN_DAYS: i64 = 7;

/// A human span: "4 minutes", "3 hours", "2 days".
fn span_text(d: Duration) -> String {
    let (n, unit) = if d.num_days() >= 1 {
        (d.num_days(), "day")
    } else if d.num_hours() >= 1 {
        (d.num_hours(), "hour")
    } else {
        (d.num_minutes(), "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// Fits like [`fit`] only with enough history (a week and [`MIN_POINTS`] measurements);
/// otherwise a sentence saying what is missing, for the chart title and the API.
pub fn fit_with_history(
    points: &[(DateTime<Utc>, f64)],
    capacity: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Forecast, String> {
    let span = match (points.first(), points.last()) {
        (Some(a), Some(b)) => b.0 - a.0,
        _ => Duration::zero(),
    };
    if points.len() < MIN_POINTS || span < Duration::days(MIN_SPAN_DAYS) {
        let have = match points.len() {
            0 => "no backup yet".to_string(),
            1 => "1 backup".to_string(),
            n => format!("{n} backups over {}", span_text(span)),
        };
        return Err(format!(
            "a forecast needs at least a week of history and {MIN_POINTS} backups ({have} so far)"
        ));
    }
    fit(points, capacity, now).ok_or_else(|| "no data".to_string())
}

/// How far ahead a forecast chart looks: the window length, at least 30 days, extended up to
/// three windows to show the day the repository fills.
pub fn horizon(window_days: i64, f: &Forecast) -> Duration {
    let base = window_days.max(30) as f64;
    let days = match f.full_in_days {
        Some(d) if d > base && d <= base * 3.0 => d * 1.05,
        _ => base,
    };
    Duration::seconds((days * 86400.0) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + n * 86400, 0).unwrap_or_default()
    }

    #[test]
    fn linear_growth_gives_days_until_full() {
        let pts: Vec<_> = (0..10)
            .map(|d| (day(d), 1000.0 + 100.0 * d as f64))
            .collect();
        let f = fit(&pts, Some(3000), day(9)).expect("fit");
        assert!((f.slope_per_day - 100.0).abs() < 1e-6);
        assert!((f.full_in_days.unwrap_or(0.0) - 11.0).abs() < 1e-6);
        assert_eq!(f.describe(Some(3000)), "full in 11 days");
    }

    #[test]
    fn no_forecast_without_a_week_and_three_points() {
        let minutes: Vec<_> = (0..2)
            .map(|i| (day(0) + Duration::minutes(4 * i), 1000.0 + 500.0 * i as f64))
            .collect();
        let why = fit_with_history(&minutes, Some(1 << 30), day(0)).unwrap_err();
        assert_eq!(
            why,
            "a forecast needs at least a week of history and 3 backups (2 backups over 4 minutes so far)"
        );
        let short: Vec<_> = (0..5).map(|d| (day(d), 1000.0 * d as f64)).collect();
        assert!(fit_with_history(&short, Some(10_000), day(4))
            .unwrap_err()
            .contains("5 backups over 4 days"));
        let week: Vec<_> = (0..8).map(|d| (day(d), 1000.0 * d as f64)).collect();
        assert!(fit_with_history(&week, Some(100_000), day(7)).is_ok());
    }

    #[test]
    fn one_point_or_none_and_no_capacity() {
        assert!(fit(&[], Some(1), day(0)).is_none());
        let f = fit(&[(day(0), 5.0)], Some(10), day(1)).expect("fit");
        assert_eq!(f.slope_per_day, 0.0);
        assert_eq!(f.full_in_days, None);
        assert_eq!(f.describe(Some(10)), "not growing");
        assert_eq!(f.describe(None), "no capacity set");
        let full = fit(&[(day(0), 50.0)], Some(10), day(1)).expect("fit");
        assert_eq!(full.describe(Some(10)), "full");
    }
}
