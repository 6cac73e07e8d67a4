//! Copies (3-2-1) in GraphQL: `copyComparison`, a copy archive checked against the primary
//! archive of the same run (paths, sizes, mtimes).

use crate::errors::ApiResult;
use crate::objects::Archive;
use crate::{caller, svc};
use async_graphql::{Context, Enum, Object, SimpleObject};
use chrono::{DateTime, Utc};
use model::ArchiveId;
use service::types::{CompareKind, Compared};

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
}

/// A copy archive compared with the primary archive of the same run.
#[derive(SimpleObject, Clone)]
pub struct CopyComparison {
    pub copy: Archive,
    pub primary: Archive,
    /// No path missing, extra or changed.
    pub identical: bool,
    pub same: i64,
    pub missing: i64,
    pub extra: i64,
    pub changed: i64,
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
    }
}

#[derive(Default)]
pub struct CopyQuery;

#[Object]
impl CopyQuery {
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
            same: n(k.same),
            missing: n(k.missing),
            extra: n(k.extra),
            changed: n(k.changed),
            differences: k.differences.into_iter().map(difference).collect(),
        })
    }
}
