//! Comparison of two archives of different series by path, size and mtime: a copy archive
//! against the primary archive of the same run (3-2-1 copies are verified with it).

use crate::collect::Keep;
use crate::error::CatalogError;
use crate::query::{vid_set_q, Confirm};
use crate::types::{ArchiveComparison, CompareKind, Compared};
use crate::Catalog;
use chrono::{DateTime, Utc};
use model::ArchiveId;
use std::collections::BTreeMap;
use std::sync::Arc;
use tantivy::Searcher;

/// At most this many differences are listed (all are counted).
pub const MAX_LISTED: usize = 1000;

/// (size, mtime in microseconds) of every path of one archive.
type Listing = BTreeMap<String, (u64, i64)>;

impl Catalog {
    /// What differs between archive `a` (the reference, e.g. the primary) and archive `b` (e.g.
    /// its copy), by path: paths missing from `b`, extra in `b`, and changed (size or mtime).
    /// `since` is when the earlier of the two runs started: a difference involving a file
    /// modified since then is a change between the runs, told apart from a defect.
    pub fn compare_archives(
        &self,
        a: ArchiveId,
        b: ArchiveId,
        since: Option<DateTime<Utc>>,
    ) -> Result<ArchiveComparison, CatalogError> {
        let searcher = self.inner.reader.searcher();
        let left = self.listing(&searcher, a)?;
        let right = self.listing(&searcher, b)?;
        let since = since.map(|t| t.timestamp_micros());
        let mut out = ArchiveComparison::default();
        // Creating or deleting a file modifies its directory: a path missing from one archive
        // whose directory changed since the earlier run was added or removed between the runs.
        let dir_changed = |path: &str, t: i64| {
            let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
            [left.get(dir), right.get(dir)]
                .into_iter()
                .flatten()
                .any(|(_, m)| *m >= t)
        };
        let note = |out: &mut ArchiveComparison, mut c: Compared| {
            c.between_runs = since.is_some_and(|t| {
                c.a.is_some_and(|(_, m)| m >= t)
                    || c.b.is_some_and(|(_, m)| m >= t)
                    || (c.kind != CompareKind::Changed && dir_changed(&c.path, t))
            });
            match c.kind {
                CompareKind::Missing => out.missing += 1,
                CompareKind::Extra => out.extra += 1,
                CompareKind::Changed => out.changed += 1,
            }
            if c.between_runs {
                out.between_runs += 1;
            } else if c.kind != CompareKind::Extra {
                out.unexplained += 1;
            }
            if out.differences.len() < MAX_LISTED {
                out.differences.push(c);
            }
        };
        for (path, l) in &left {
            match right.get(path) {
                Some(r) if r == l => out.same += 1,
                Some(r) => note(
                    &mut out,
                    Compared {
                        path: path.clone(),
                        kind: CompareKind::Changed,
                        a: Some(*l),
                        b: Some(*r),
                        between_runs: false,
                    },
                ),
                None => note(
                    &mut out,
                    Compared {
                        path: path.clone(),
                        kind: CompareKind::Missing,
                        a: Some(*l),
                        b: None,
                        between_runs: false,
                    },
                ),
            }
        }
        for (path, r) in right.iter().filter(|(p, _)| !left.contains_key(*p)) {
            note(
                &mut out,
                Compared {
                    path: path.clone(),
                    kind: CompareKind::Extra,
                    a: None,
                    b: Some(*r),
                    between_runs: false,
                },
            );
        }
        Ok(out)
    }

    fn listing(&self, searcher: &Searcher, archive: ArchiveId) -> Result<Listing, CatalogError> {
        let snap = self.snap();
        let st = snap
            .archives
            .get(&archive)
            .ok_or(CatalogError::UnknownArchive(archive.0))?;
        let member = Arc::new(crate::collect::Membership {
            live: snap.live.clone(),
            require: Vec::new(),
        });
        let q = vid_set_q(st.bitmap.clone());
        let got = self.collect(searcher, q.as_ref(), &member, Confirm::None, Keep::All)?;
        let mut out = Listing::new();
        for f in got.found {
            let seg = searcher.segment_reader(f.addr.segment_ord);
            let ff = seg.fast_fields();
            let size = ff.u64("size")?.first(f.addr.doc_id).unwrap_or(0);
            let mtime = ff.i64("mtime")?.first(f.addr.doc_id).unwrap_or(0);
            out.insert(f.path, (size, mtime));
        }
        Ok(out)
    }
}
