//! Chart kinds built from stored statistics: repository size trend, backup jobs per day, files
//! per archive and the growth forecast.

use crate::draw::{self, Format, Line, Spec, BLUE_, GREEN_, ORANGE, RED_};
use crate::{forecast, ReportError};
use chrono::{DateTime, Duration, Utc};
use store::{StatsFilter, StatsGroup, Store};

/// Which chart to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// Original, compressed and deduplicated size over time.
    Size,
    /// Backup jobs succeeded and failed per day.
    Jobs,
    /// Files per archive over time.
    Files,
    /// Repository usage, its linear trend and capacity.
    Forecast,
}

impl ChartKind {
    pub const ALL: [ChartKind; 4] = [
        ChartKind::Size,
        ChartKind::Jobs,
        ChartKind::Files,
        ChartKind::Forecast,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChartKind::Size => "size",
            ChartKind::Jobs => "jobs",
            ChartKind::Files => "files",
            ChartKind::Forecast => "forecast",
        }
    }
}

impl std::str::FromStr for ChartKind {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChartKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| ReportError::Invalid {
                field: "kind",
                reason: format!("unknown chart {s:?}: use size, jobs, files or forecast"),
            })
    }
}

/// A chart to render.
#[derive(Debug, Clone)]
pub struct ChartRequest {
    pub kind: ChartKind,
    pub filter: StatsFilter,
    /// Days of history, 1 to 3650.
    pub days: i64,
    pub width: u32,
    pub height: u32,
    pub format: Format,
}

impl ChartRequest {
    pub fn new(kind: ChartKind, format: Format) -> Self {
        ChartRequest {
            kind,
            filter: StatsFilter::default(),
            days: 30,
            width: 800,
            height: 400,
            format,
        }
    }
}

/// Renders a chart from the store (blocking: call from `spawn_blocking` in async code).
pub fn render_chart(store: &Store, req: &ChartRequest) -> Result<Vec<u8>, ReportError> {
    let spec = chart_spec(store, req, Utc::now())?;
    draw::render(&spec, req.format, req.width, req.height)
}

fn scope_label(store: &Store, f: &StatsFilter) -> Result<String, ReportError> {
    let mut parts = Vec::new();
    if let Some(r) = f.repository {
        parts.push(store.repository(r)?.name);
    }
    if let Some(c) = f.client {
        parts.push(store.client(c)?.hostname);
    }
    if let Some(p) = f.policy {
        parts.push(store.policy(p)?.name);
    }
    Ok(if parts.is_empty() {
        "all".to_string()
    } else {
        parts.join(" / ")
    })
}

/// Builds what to draw for `req` as of `now`.
pub fn chart_spec(
    store: &Store,
    req: &ChartRequest,
    now: DateTime<Utc>,
) -> Result<Spec, ReportError> {
    if !(1..=3650).contains(&req.days) {
        return Err(ReportError::Invalid {
            field: "days",
            reason: "must be from 1 to 3650".into(),
        });
    }
    let from = now - Duration::days(req.days);
    let f = req.filter.clone();
    let scope = scope_label(store, &f)?;
    Ok(match req.kind {
        ChartKind::Size => {
            let repo_only = f.repository.is_some() && f.client.is_none() && f.policy.is_none();
            let (title, pts) = if repo_only {
                let h = f
                    .repository
                    .map(|r| store.repository_size_history(r, from))
                    .transpose()?
                    .unwrap_or_default();
                if h.is_empty() {
                    (
                        format!("Archive sizes: {scope}"),
                        store.archive_size_points(f.clone(), from)?,
                    )
                } else {
                    (format!("Repository size: {scope}"), h)
                }
            } else {
                (
                    format!("Archive sizes: {scope}"),
                    store.archive_size_points(f.clone(), from)?,
                )
            };
            let line = |name: &str, color, get: fn(&store::SizePoint) -> i64| Line {
                name: name.to_string(),
                color,
                points: pts.iter().map(|p| (p.time, get(p) as f64)).collect(),
                thin: false,
            };
            Spec::Lines {
                title,
                y_label: "Size".into(),
                from,
                to: now,
                lines: vec![
                    line("Original", BLUE_, |p| p.original_size),
                    line("Compressed", ORANGE, |p| p.compressed_size),
                    line("Deduplicated", GREEN_, |p| p.deduplicated_size),
                ],
                bytes: true,
            }
        }
        ChartKind::Files => {
            let pts = store.archive_size_points(f.clone(), from)?;
            Spec::Lines {
                title: format!("Files per archive: {scope}"),
                y_label: "Files".into(),
                from,
                to: now,
                lines: vec![Line {
                    name: "Files".into(),
                    color: BLUE_,
                    points: pts.iter().map(|p| (p.time, p.nfiles as f64)).collect(),
                    thin: false,
                }],
                bytes: false,
            }
        }
        ChartKind::Jobs => {
            let end = now.date_naive().succ_opt().unwrap_or(now.date_naive());
            let start = end - Duration::days(req.days);
            let series = store.daily_stats(start, end, StatsGroup::All, f.clone())?;
            let points = series
                .into_iter()
                .next()
                .map(|s| s.points)
                .unwrap_or_default();
            Spec::Bars {
                title: format!("Backup jobs per day: {scope}"),
                y_label: "Jobs".into(),
                days: points.iter().map(|p| p.date).collect(),
                groups: vec![
                    (
                        "Succeeded".into(),
                        GREEN_,
                        points.iter().map(|p| p.success).collect(),
                    ),
                    (
                        "Failed".into(),
                        RED_,
                        points.iter().map(|p| p.failed).collect(),
                    ),
                ],
            }
        }
        ChartKind::Forecast => forecast_spec(store, req, now, from)?,
    })
}

fn forecast_spec(
    store: &Store,
    req: &ChartRequest,
    now: DateTime<Utc>,
    from: DateTime<Utc>,
) -> Result<Spec, ReportError> {
    let repo_id = match req.filter.repository {
        Some(r) => r,
        None => {
            let repos = store.repositories()?;
            match repos.as_slice() {
                [only] => only.id,
                _ => {
                    return Err(ReportError::Invalid {
                        field: "repository",
                        reason: "a forecast needs a repository".into(),
                    })
                }
            }
        }
    };
    let repo = store.repository(repo_id)?;
    let capacity = store.repository_capacity(repo_id)?;
    let mut pts: Vec<(DateTime<Utc>, f64)> = store
        .repository_size_history(repo_id, from)?
        .iter()
        .map(|p| (p.time, p.deduplicated_size as f64))
        .collect();
    if pts.is_empty() && repo.deduplicated_size > 0 {
        pts.push((now, repo.deduplicated_size as f64));
    }
    let fitted = forecast::fit_with_history(&pts, capacity, now);
    let describe = match &fitted {
        Ok(f) => f.describe(capacity),
        Err(why) => why.clone(),
    };
    let fc = fitted.ok();
    let to = now
        + fc.map(|f| forecast::horizon(req.days, &f))
            .unwrap_or(Duration::days(30));
    let mut lines = vec![Line {
        name: "Repository usage".into(),
        color: BLUE_,
        points: pts.clone(),
        thin: false,
    }];
    if let (Some(f), Some(first)) = (fc, pts.first()) {
        lines.push(Line {
            name: "Trend".into(),
            color: ORANGE,
            points: vec![
                (first.0, f.value_at(first.0).max(0.0)),
                (to, f.value_at(to).max(0.0)),
            ],
            thin: true,
        });
    }
    if let Some(cap) = capacity {
        lines.push(Line {
            name: "Capacity".into(),
            color: RED_,
            points: vec![(from, cap as f64), (to, cap as f64)],
            thin: true,
        });
    }
    Ok(Spec::Lines {
        title: format!("Growth forecast: {} ({describe})", repo.name),
        y_label: "Size".into(),
        from,
        to,
        lines,
        bytes: true,
    })
}
