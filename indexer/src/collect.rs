//! A tantivy collector that applies membership (archive, latest, live) and exact
//! confirmation to candidates, counts them, and keeps either the newest versions (search
//! pages) or all of them with their paths (browse, diff, history).

use crate::query::Confirm;
use roaring::RoaringBitmap;
use std::cmp::Reverse;
use std::sync::Arc;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

/// Version sets a hit must belong to.
#[derive(Debug, Clone)]
pub(crate) struct Membership {
    /// Versions held by at least one archive (hides documents awaiting deletion).
    pub live: Arc<RoaringBitmap>,
    /// Further sets the version must be in (an archive, the latest archives).
    pub require: Vec<Arc<RoaringBitmap>>,
}

impl Membership {
    fn admits(&self, vid: u32) -> bool {
        self.live.contains(vid) && self.require.iter().all(|b| b.contains(vid))
    }
}

/// What to keep.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Keep {
    /// The `limit` highest version ids below `before`.
    Newest { limit: usize, before: Option<u32> },
    /// Everything, with paths.
    All,
}

/// One kept candidate.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub vid: u32,
    pub path: String,
    pub addr: DocAddress,
}

pub(crate) struct Collected {
    pub total: u64,
    pub found: Vec<Found>,
    /// A string column could not be read in some segment.
    pub error: Option<String>,
}

pub(crate) struct VersionCollector {
    pub member: Arc<Membership>,
    pub confirm: Arc<Confirm>,
    pub keep: Keep,
}

pub(crate) struct SegCollector {
    seg: SegmentOrdinal,
    vid: Column<u64>,
    path: Option<StrColumn>,
    member: Arc<Membership>,
    confirm: Arc<Confirm>,
    keep: Keep,
    /// Candidates past membership; strings are resolved at harvest, in term order, so each
    /// dictionary block is decoded once instead of once per document.
    pending: Vec<Pending>,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    vid: u32,
    doc: DocId,
    path_ord: Option<u64>,
}

/// Resolves the distinct ordinals of a string column, in order, through `f`.
fn resolve<T>(
    col: &StrColumn,
    ords: &mut Vec<u64>,
    mut f: impl FnMut(&str) -> T,
) -> std::io::Result<Vec<T>> {
    ords.sort_unstable();
    ords.dedup();
    let mut out = Vec::with_capacity(ords.len());
    col.dictionary().sorted_ords_to_term_cb(ords, |bytes| {
        out.push(f(std::str::from_utf8(bytes).unwrap_or("")));
    })?;
    Ok(out)
}

impl Collector for VersionCollector {
    type Fruit = Collected;
    type Child = SegCollector;

    fn for_segment(
        &self,
        seg: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegCollector> {
        let ff = reader.fast_fields();
        let want_path = self.confirm.needs_path() || matches!(self.keep, Keep::All);
        Ok(SegCollector {
            seg,
            vid: ff.u64("vid")?,
            path: if want_path { ff.str("path")? } else { None },
            member: self.member.clone(),
            confirm: self.confirm.clone(),
            keep: self.keep,
            pending: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Collected>) -> tantivy::Result<Collected> {
        let mut total = 0;
        let mut found = Vec::new();
        for f in fruits {
            if let Some(e) = f.error {
                return Err(tantivy::TantivyError::InternalError(e));
            }
            total += f.total;
            found.extend(f.found);
        }
        if let Keep::Newest { limit, .. } = self.keep {
            found.sort_by_key(|f| Reverse(f.vid));
            found.truncate(limit);
        }
        Ok(Collected {
            total,
            found,
            error: None,
        })
    }
}

impl SegmentCollector for SegCollector {
    type Fruit = Collected;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(vid) = self.vid.first(doc).and_then(|v| u32::try_from(v).ok()) else {
            return;
        };
        if !self.member.admits(vid) {
            return;
        }
        self.pending.push(Pending {
            vid,
            doc,
            path_ord: self.path.as_ref().and_then(|c| c.ords().first(doc)),
        });
    }

    fn harvest(mut self) -> Collected {
        self.resolve().unwrap_or_else(|e| Collected {
            total: 0,
            found: Vec::new(),
            error: Some(format!("reading a string column: {e}")),
        })
    }
}

impl SegCollector {
    fn resolve(&mut self) -> std::io::Result<Collected> {
        let mut pending = std::mem::take(&mut self.pending);
        let mut paths: Vec<(u64, String)> = Vec::new();
        if let Some(col) = &self.path {
            let mut ords: Vec<u64> = pending.iter().filter_map(|p| p.path_ord).collect();
            let confirm = &self.confirm;
            let keep_all = matches!(self.keep, Keep::All);
            // One pass over the dictionary in term order: confirm, and keep the paths only
            // when they are returned.
            let checked = resolve(col, &mut ords, |path| {
                let ok = !confirm.needs_path() || confirm.check(path);
                (
                    ok,
                    if keep_all && ok {
                        path.to_string()
                    } else {
                        String::new()
                    },
                )
            })?;
            if confirm.needs_path() {
                pending.retain(|p| {
                    p.path_ord
                        .and_then(|o| ords.binary_search(&o).ok())
                        .is_some_and(|i| checked[i].0)
                });
            }
            if keep_all {
                paths = ords
                    .into_iter()
                    .zip(checked)
                    .filter(|(_, (ok, _))| *ok)
                    .map(|(o, (_, p))| (o, p))
                    .collect();
            }
        }
        let total = pending.len() as u64;
        let seg = self.seg;
        let found = match self.keep {
            Keep::Newest { limit, before } => {
                // Linear selection of the newest: candidates come in about increasing
                // version order, the worst case of a bounded heap.
                let mut top: Vec<(u32, DocId)> = pending
                    .iter()
                    .filter(|p| before.is_none_or(|b| p.vid < b))
                    .map(|p| (p.vid, p.doc))
                    .collect();
                if top.len() > limit {
                    if limit > 0 {
                        top.select_nth_unstable_by_key(limit - 1, |x| Reverse(x.0));
                    }
                    top.truncate(limit);
                }
                top.into_iter()
                    .map(|(vid, doc)| Found {
                        vid,
                        path: String::new(),
                        addr: DocAddress::new(seg, doc),
                    })
                    .collect()
            }
            Keep::All => pending
                .iter()
                .map(|p| Found {
                    vid: p.vid,
                    path: p
                        .path_ord
                        .and_then(|o| paths.binary_search_by_key(&o, |x| x.0).ok())
                        .map(|i| paths[i].1.clone())
                        .unwrap_or_default(),
                    addr: DocAddress::new(seg, p.doc),
                })
                .collect(),
        };
        Ok(Collected {
            total,
            found,
            error: None,
        })
    }
}
