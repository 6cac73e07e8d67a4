//! Copies (3-2-1) in GraphQL: a policy's copy repositories with their own retention and
//! schedule offset, and `copyComparison`, a copy archive checked against the primary archive of
//! the same run (paths, sizes, mtimes).

use crate::errors::ApiResult;
use crate::objects::Archive;
use crate::{caller, svc};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use model::ArchiveId;
use service::types::{CompareKind, Compared};

/// One copy repository of a policy.
#[derive(SimpleObject, Clone)]
pub struct PolicyCopy {
    pub repository_id: i64,
    /// The copy's own retention (all null: the policy's applies).
    pub keep_hourly: Option<i64>,
    pub keep_daily: Option<i64>,
    pub keep_weekly: Option<i64>,
    pub keep_monthly: Option<i64>,
    pub keep_yearly: Option<i64>,
    /// A scheduled run starts this copy's backups this many minutes after the primary's.
    pub offset_minutes: i64,
}

impl From<model::PolicyCopy> for PolicyCopy {
    fn from(c: model::PolicyCopy) -> Self {
        let k = |v: Option<u32>| v.map(i64::from);
        PolicyCopy {
            repository_id: c.repository.0,
            keep_hourly: k(c.retention.keep_hourly),
            keep_daily: k(c.retention.keep_daily),
            keep_weekly: k(c.retention.keep_weekly),
            keep_monthly: k(c.retention.keep_monthly),
            keep_yearly: k(c.retention.keep_yearly),
            offset_minutes: i64::from(c.offset_minutes),
        }
    }
}

/// A copy repository with its settings, for `PolicyInput.copySettings`.
#[derive(InputObject, Clone)]
pub struct CopyInput {
    pub repository_id: i64,
    /// The copy's own retention; leave all unset to follow the policy's.
    pub keep_hourly: Option<i64>,
    pub keep_daily: Option<i64>,
    pub keep_weekly: Option<i64>,
    pub keep_monthly: Option<i64>,
    pub keep_yearly: Option<i64>,
    /// Minutes (0 to 1440) a scheduled run waits before this copy's backups start.
    pub offset_minutes: Option<i64>,
}

impl From<CopyInput> for model::CopyInput {
    fn from(c: CopyInput) -> Self {
        model::CopyInput {
            repository: c.repository_id,
            settings: Some(model::CopySettings {
                keep_hourly: c.keep_hourly,
                keep_daily: c.keep_daily,
                keep_weekly: c.keep_weekly,
                keep_monthly: c.keep_monthly,
                keep_yearly: c.keep_yearly,
                offset_minutes: c.offset_minutes,
            }),
        }
    }
}

/// How a path differs.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum CopyDifferenceKind {
    /// In the primary archive, not in the copy.
    Missing,
    /// In the copy only.
    Extra,
    /// In both, with another size or mtime (changed between the two backups, or damaged).
    Changed,
}

/// A path's size and mtime in one archive.
#[derive(SimpleObject, Clone)]
pub struct FileState {
    pub size: i64,
    pub mtime: DateTime<Utc>,
}

/// One path that differs between the primary archive and its copy.
#[derive(SimpleObject, Clone)]
pub struct CopyDifference {
    pub path: String,
    pub kind: CopyDifferenceKind,
    pub primary: Option<FileState>,
    pub copy: Option<FileState>,
    /// The file (or its directory) was modified after the earlier of the two runs started: a
    /// change between the runs, not a defect of the copy.
    pub between_runs: bool,
}

/// A copy archive compared with the primary archive of the same run.
#[derive(SimpleObject, Clone)]
pub struct CopyComparison {
    pub copy: Archive,
    pub primary: Archive,
    /// No path missing, extra or changed.
    pub identical: bool,
    /// `identical`, `consistent` (every difference is a change between the two runs) or
    /// `differs` (paths missing from the copy or changed in it that no change explains).
    pub verdict: String,
    pub same: i64,
    pub missing: i64,
    pub extra: i64,
    pub changed: i64,
    /// Differences explained by a file modified between the two runs.
    pub between_runs: i64,
    /// Missing or changed paths that nothing explains.
    pub unexplained: i64,
    /// At most 1,000 differences, by path.
    pub differences: Vec<CopyDifference>,
}

fn state(s: Option<(u64, i64)>) -> Option<FileState> {
    s.map(|(size, mtime)| FileState {
        size: i64::try_from(size).unwrap_or(i64::MAX),
        mtime: DateTime::from_timestamp_micros(mtime).unwrap_or_default(),
    })
}

fn difference(d: Compared) -> CopyDifference {
    CopyDifference {
        path: d.path,
        kind: match d.kind {
            CompareKind::Missing => CopyDifferenceKind::Missing,
            CompareKind::Extra => CopyDifferenceKind::Extra,
            CompareKind::Changed => CopyDifferenceKind::Changed,
        },
        primary: state(d.a),
        copy: state(d.b),
        between_runs: d.between_runs,
    }
}

/// The stored verdict of a copy archive compared with its primary once both were catalogued.
#[derive(SimpleObject, Clone)]
pub struct CopyVerification {
    pub archive_id: i64,
    pub primary_archive_id: Option<i64>,
    /// `identical`, `consistent` (every difference is a change between the two runs) or
    /// `differs`.
    pub verdict: String,
    pub same: i64,
    pub missing: i64,
    pub extra: i64,
    pub changed: i64,
    pub between_runs: i64,
    pub summary: String,
    pub checked: DateTime<Utc>,
}

impl From<service::types::CopyVerification> for CopyVerification {
    fn from(v: service::types::CopyVerification) -> Self {
        let n = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
        CopyVerification {
            archive_id: v.archive.0,
            primary_archive_id: v.primary_archive.map(|a| a.0),
            verdict: v.verdict,
            same: n(v.counts.same),
            missing: n(v.counts.missing),
            extra: n(v.counts.extra),
            changed: n(v.counts.changed),
            between_runs: n(v.counts.between_runs),
            summary: v.summary,
            checked: v.checked,
        }
    }
}

#[derive(Default)]
pub struct CopyQuery;

#[Object]
impl CopyQuery {
    /// The verdict stored when a copy archive was compared with its primary (null for a
    /// primary archive, or a copy whose primary of the same run is not catalogued yet).
    async fn copy_verification(
        &self,
        ctx: &Context<'_>,
        archive: i64,
    ) -> ApiResult<Option<CopyVerification>> {
        let c = caller(ctx).await?;
        let v = svc(ctx).copy_verification(&c, ArchiveId(archive)).await?;
        Ok(v.map(Into::into))
    }

    /// Compares a copy archive (in one of its policy's copy repositories) with the primary
    /// archive of the same run, once both are catalogued.
    async fn copy_comparison(&self, ctx: &Context<'_>, archive: i64) -> ApiResult<CopyComparison> {
        let c = caller(ctx).await?;
        let r = svc(ctx).copy_comparison(&c, ArchiveId(archive)).await?;
        let n = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
        let k = r.comparison;
        Ok(CopyComparison {
            copy: r.copy.into(),
            primary: r.primary.into(),
            identical: k.missing + k.extra + k.changed == 0,
            verdict: model::copies::comparison_verdict(
                k.missing + k.extra + k.changed,
                k.unexplained,
            )
            .into(),
            same: n(k.same),
            missing: n(k.missing),
            extra: n(k.extra),
            changed: n(k.changed),
            between_runs: n(k.between_runs),
            unexplained: n(k.unexplained),
            differences: k.differences.into_iter().map(difference).collect(),
        })
    }
}
