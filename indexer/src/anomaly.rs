//! Anomaly flags: an archive whose change statistics depart from its series' usual range
//! (a mass deletion, or far more changes than usual) is flagged with a reason. Computed
//! from the change statistics kept for every archive, so always current after ingestion,
//! out-of-order ingestion or pruning.

use crate::state::{ArchiveState, Snapshot};
use crate::types::{Anomaly, AnomalyKind};
use crate::Catalog;
use chrono::{DateTime, Utc};
use model::ArchiveId;
use std::sync::Arc;

/// More than this share of the previous archive's entries removed is a mass deletion.
pub const DELETION_SHARE: f64 = 0.30;
/// More changed paths (added + removed + changed) than this times the series median.
pub const CHANGE_FACTOR: u64 = 10;
/// Archives of the series with a predecessor needed before the median means anything.
pub const MIN_HISTORY: usize = 3;
/// Fewer changed paths than this are never a mass change, whatever the median.
pub const MIN_CHANGES: u64 = 50;

fn changed_paths(a: &ArchiveState) -> u64 {
    let c = &a.rec.changes;
    c.added + c.removed + c.changed
}

fn median(mut v: Vec<u64>) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[v.len() / 2]
}

/// The anomaly of one archive, given the archives of its series in time order.
fn check(series: &[Arc<ArchiveState>], pos: usize) -> Option<Anomaly> {
    let a = series.get(pos)?;
    let c = a.rec.changes;
    let prev = c.previous?;
    let prev_entries = c.unchanged + c.changed + c.removed;
    let prev_name = series
        .iter()
        .find(|s| s.rec.id == prev)
        .map(|s| s.rec.name.clone())
        .unwrap_or_else(|| format!("archive {}", prev.0));
    let make = |kind, reason: String| Anomaly {
        archive: a.rec.id,
        name: a.rec.name.clone(),
        time: a.rec.time,
        series: a.rec.series,
        kind,
        reason,
        changes: c,
    };
    if prev_entries > 0 && c.removed as f64 > DELETION_SHARE * prev_entries as f64 {
        return Some(make(
            AnomalyKind::MassDeletion,
            format!(
                "{} of {} entries ({:.0}%) removed since {prev_name}; more than {:.0}% is unusual",
                c.removed,
                prev_entries,
                100.0 * c.removed as f64 / prev_entries as f64,
                DELETION_SHARE * 100.0
            ),
        ));
    }
    let others: Vec<u64> = series
        .iter()
        .enumerate()
        .filter(|(i, s)| *i != pos && s.rec.changes.previous.is_some())
        .map(|(_, s)| changed_paths(s))
        .collect();
    if others.len() < MIN_HISTORY {
        return None;
    }
    let med = median(others);
    let n = changed_paths(a);
    if n >= MIN_CHANGES && n > CHANGE_FACTOR * med.max(1) {
        return Some(make(
            AnomalyKind::MassChange,
            format!(
                "{n} paths added, removed or changed since {prev_name}: more than {CHANGE_FACTOR}x the series median of {med}"
            ),
        ));
    }
    None
}

fn series_of(snap: &Snapshot, id: ArchiveId) -> Option<(Vec<Arc<ArchiveState>>, usize)> {
    let a = snap.archives.get(&id)?;
    let series = snap.series_archives(&a.rec.series);
    let pos = series.iter().position(|s| s.rec.id == id)?;
    Some((series, pos))
}

impl Catalog {
    /// The anomaly flag of one ingested archive, if it departs from its series' usual range.
    pub fn archive_anomaly(&self, id: ArchiveId) -> Option<Anomaly> {
        let snap = self.snap();
        let (series, pos) = series_of(&snap, id)?;
        check(&series, pos)
    }

    /// Every flagged archive created at or after `since` (all when None), newest first.
    pub fn anomalies(&self, since: Option<DateTime<Utc>>) -> Vec<Anomaly> {
        let snap = self.snap();
        let mut out = Vec::new();
        for key in snap.series.keys() {
            let series = snap.series_archives(key);
            for (pos, a) in series.iter().enumerate() {
                if since.is_some_and(|t| a.rec.time < t) {
                    continue;
                }
                if let Some(found) = check(&series, pos) {
                    out.push(found);
                }
            }
        }
        out.sort_by_key(|a| std::cmp::Reverse((a.time, a.archive)));
        out
    }
}
