//! Timelines of one path (every version, and when it changed or disappeared) and the
//! difference between two archives, both answered from membership without calling borg.

use crate::collect::{Found, Keep, Membership};
use crate::error::CatalogError;
use crate::query::{exact_path_plan, id_q, vid_set_q, Confirm};
use crate::types::{ArchiveBrief, ArchiveDiff, DiffEntry, DiffKind, HistoryEntry, VersionFate};
use crate::Catalog;
use model::{ArchiveId, ClientId};
use std::collections::BTreeMap;
use std::sync::Arc;
use tantivy::query::{BooleanQuery, Occur};

impl Catalog {
    /// Every version of `path` on one client (all its series), oldest first, each with
    /// what happened after it: still current, changed, or deleted (and in which archive).
    pub fn file_history(
        &self,
        client: ClientId,
        path: &str,
    ) -> Result<Vec<HistoryEntry>, CatalogError> {
        let path = format!("/{}", path.trim().trim_start_matches('/'));
        let f = &self.inner.fields;
        let snap = self.snap();
        let (by_path, confirm) = exact_path_plan(f, &path);
        let q = BooleanQuery::new(vec![
            (Occur::Must, by_path),
            (Occur::Must, id_q(f.client, client.0)),
        ]);
        let member = Arc::new(Membership {
            live: snap.live.clone(),
            require: Vec::new(),
        });
        let searcher = self.inner.reader.searcher();
        let got = self.collect(&searcher, &q, &member, confirm, Keep::All)?;
        let mut versions = Vec::new();
        for found in &got.found {
            if let Some(h) = self.version_hit(&snap, &searcher, found.addr)? {
                versions.push(h);
            }
        }
        versions.sort_by(|a, b| {
            (a.first_archive.time, a.first_archive.id)
                .cmp(&(b.first_archive.time, b.first_archive.id))
        });
        let mut out = Vec::with_capacity(versions.len());
        for v in &versions {
            let archives = snap.series_archives(&v.series);
            let last = archives.iter().position(|a| a.rec.id == v.last_archive.id);
            let next = last.and_then(|i| archives.get(i + 1));
            let fate = match next {
                None => VersionFate::Current,
                Some(n) => {
                    let brief = ArchiveBrief {
                        id: n.rec.id,
                        name: n.rec.name.clone(),
                        time: n.rec.time,
                    };
                    let present = versions.iter().any(|o| {
                        o.series == v.series
                            && u32::try_from(o.version_id).is_ok_and(|x| n.bitmap.contains(x))
                    });
                    if present {
                        VersionFate::Changed { archive: brief }
                    } else {
                        VersionFate::Deleted { archive: brief }
                    }
                }
            };
            out.push(HistoryEntry {
                version: v.clone(),
                fate,
            });
        }
        Ok(out)
    }

    /// Added, removed and changed paths from archive `a` to archive `b` (same series),
    /// entries sorted by path and paged by `limit` (0: all) and `offset`.
    pub fn archive_diff(
        &self,
        a: ArchiveId,
        b: ArchiveId,
        limit: usize,
        offset: usize,
    ) -> Result<ArchiveDiff, CatalogError> {
        let snap = self.snap();
        let sa = snap
            .archives
            .get(&a)
            .ok_or(CatalogError::UnknownArchive(a.0))?;
        let sb = snap
            .archives
            .get(&b)
            .ok_or(CatalogError::UnknownArchive(b.0))?;
        if sa.rec.series != sb.rec.series {
            return Err(CatalogError::DifferentSeries(a.0, b.0));
        }
        let only_a = sa.bitmap.as_ref() - sb.bitmap.as_ref();
        let only_b = sb.bitmap.as_ref() - sa.bitmap.as_ref();
        let mut diff = ArchiveDiff {
            added: 0,
            removed: 0,
            changed: 0,
            entries: Vec::new(),
        };
        if only_a.is_empty() && only_b.is_empty() {
            return Ok(diff);
        }
        let q = vid_set_q(Arc::new(&only_a | &only_b));
        let member = Arc::new(Membership {
            live: snap.live.clone(),
            require: Vec::new(),
        });
        let searcher = self.inner.reader.searcher();
        let got = self.collect(&searcher, q.as_ref(), &member, Confirm::None, Keep::All)?;
        let mut by_path: BTreeMap<String, (Option<Found>, Option<Found>)> = BTreeMap::new();
        for found in got.found {
            let slot = by_path.entry(found.path.clone()).or_default();
            if only_a.contains(found.vid) {
                slot.0 = Some(found);
            } else {
                slot.1 = Some(found);
            }
        }
        let mut rows = Vec::with_capacity(by_path.len());
        for (path, (old, new)) in by_path {
            let kind = match (&old, &new) {
                (Some(_), Some(_)) => DiffKind::Changed,
                (Some(_), None) => DiffKind::Removed,
                _ => DiffKind::Added,
            };
            match kind {
                DiffKind::Added => diff.added += 1,
                DiffKind::Removed => diff.removed += 1,
                DiffKind::Changed => diff.changed += 1,
            }
            rows.push((path, kind, old, new));
        }
        let take = if limit == 0 { usize::MAX } else { limit };
        for (path, kind, old, new) in rows.into_iter().skip(offset).take(take) {
            let load = |f: Option<Found>| -> Result<_, CatalogError> {
                match f {
                    Some(f) => self.version_hit(&snap, &searcher, f.addr),
                    None => Ok(None),
                }
            };
            diff.entries.push(DiffEntry {
                path,
                kind,
                old: load(old)?,
                new: load(new)?,
            });
        }
        Ok(diff)
    }
}
