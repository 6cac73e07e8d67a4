//! Removing archives from the catalog (pruned or gone from the repository), garbage
//! collection of versions no archive holds any longer, and recovery after a crash.

use crate::error::CatalogError;
use crate::ingest::refresh_changes;
use crate::query::vid_set_q;
use crate::state::{self, SeriesTable};
use crate::Catalog;
use model::{ArchiveId, ClientId, PolicyId, RepositoryId, SeriesKey};
use roaring::RoaringBitmap;
use std::collections::HashMap;
use std::fs;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tantivy::collector::Count;
use tantivy::query::RangeQuery;
use tantivy::{IndexWriter, Term};

/// Directory of pending garbage collections: one bitmap of orphaned version ids per series,
/// written before the archives are forgotten and removed once the versions are deleted.
pub(crate) const GC_DIR: &str = "gc";

fn gc_path(dir: &Path, key: &SeriesKey) -> PathBuf {
    dir.join(GC_DIR).join(format!(
        "{}_{}_{}.bm",
        key.repository.0, key.policy.0, key.client.0
    ))
}

fn parse_gc_name(name: &str) -> Option<SeriesKey> {
    let stem = name.strip_suffix(".bm")?;
    let mut it = stem.split('_').map(|p| p.parse::<i64>().ok());
    let (r, p, c) = (it.next()??, it.next()??, it.next()??);
    if it.next().is_some() {
        return None;
    }
    Some(SeriesKey {
        repository: RepositoryId(r),
        policy: PolicyId(p),
        client: ClientId(c),
    })
}

impl Catalog {
    /// Forgets one archive; versions only it held are deleted from the index. Returns
    /// whether the archive was known.
    pub fn forget_archive(&self, id: ArchiveId) -> Result<bool, CatalogError> {
        Ok(!self.forget_many(&[id])?.is_empty())
    }

    /// Forgets every archive of `series` that is not in `present` (the archives the
    /// repository still has). Returns the forgotten ids.
    pub fn reconcile(
        &self,
        series: SeriesKey,
        present: &[ArchiveId],
    ) -> Result<Vec<ArchiveId>, CatalogError> {
        let gone: Vec<ArchiveId> = self
            .snap()
            .series
            .get(&series)
            .map(|s| {
                s.archives
                    .iter()
                    .copied()
                    .filter(|id| !present.contains(id))
                    .collect()
            })
            .unwrap_or_default();
        self.forget_many(&gone)
    }

    /// Forgets several archives at once (one index commit).
    pub fn forget_many(&self, ids: &[ArchiveId]) -> Result<Vec<ArchiveId>, CatalogError> {
        let mut writer = self.lock_writer()?;
        self.recover(&mut writer)?;
        let dir = self.inner.dir.clone();
        let mut ns = (*self.snap()).clone();
        let mut removed: HashMap<SeriesKey, RoaringBitmap> = HashMap::new();
        let mut gone = Vec::new();
        for id in ids {
            let Some(a) = ns.archives.remove(id) else {
                continue;
            };
            if let Some(s) = ns.series.get_mut(&a.rec.series) {
                s.archives.retain(|x| x != id);
            }
            *removed.entry(a.rec.series).or_default() |= a.bitmap.as_ref();
            gone.push(*id);
        }
        if gone.is_empty() {
            return Ok(gone);
        }
        let gc_dir = dir.join(GC_DIR);
        fs::create_dir_all(&gc_dir).map_err(|e| CatalogError::io(&gc_dir, e))?;
        let mut live = (*ns.live).clone();
        for (key, bm) in &removed {
            let mut still = RoaringBitmap::new();
            for a in ns.series_archives(key) {
                still |= a.bitmap.as_ref();
            }
            let mut orphans = bm - &still;
            let path = gc_path(&dir, key);
            if path.exists() {
                orphans |= state::read_bitmap(&path)?;
            }
            state::write_bitmap(&path, &orphans)?;
            live -= &orphans;
            // Archives whose predecessor changed get fresh change statistics.
            let archives = ns.series_archives(key);
            let stale: Vec<usize> = (0..archives.len())
                .filter(|&i| {
                    let prev = i.checked_sub(1).map(|p| archives[p].rec.id);
                    archives[i].rec.changes.previous != prev
                })
                .collect();
            if !stale.is_empty() {
                let records = ns.series.get(key).map_or(0, |s| s.records);
                let table = SeriesTable::load(&dir, key, records)?;
                for pos in stale {
                    refresh_changes(&mut ns, key, pos, &table);
                }
            }
        }
        ns.live = Arc::new(live);
        ns.recompute_latest();
        self.commit_snap(ns)?;
        for id in &gone {
            let p = state::bitmap_path(&dir, *id);
            if let Err(e) = fs::remove_file(&p) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %p.display(), error = %e, "cannot remove bitmap");
                }
            }
        }
        self.run_gc(&mut writer)?;
        Ok(gone)
    }

    /// Deletes the versions listed in pending garbage-collection files from the index and
    /// from their series tables.
    fn run_gc(&self, writer: &mut IndexWriter) -> Result<(), CatalogError> {
        let dir = self.inner.dir.clone();
        let gc_dir = dir.join(GC_DIR);
        let Ok(rd) = fs::read_dir(&gc_dir) else {
            return Ok(());
        };
        let live = self.snap().live.clone();
        let mut pending = Vec::new();
        for e in rd.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            match parse_gc_name(&name) {
                // A crash between writing this file and forgetting the archives leaves
                // versions that are still held: never delete those.
                Some(key) => pending.push((
                    key,
                    e.path(),
                    state::read_bitmap(&e.path())? - live.as_ref(),
                )),
                None => {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        let mut doomed = RoaringBitmap::new();
        for (_, _, bm) in &pending {
            doomed |= bm;
        }
        writer.delete_query(vid_set_q(Arc::new(doomed)))?;
        writer.commit()?;
        let mut ns = (*self.snap()).clone();
        for (key, _, bm) in &pending {
            let records = ns.series.get(key).map_or(0, |s| s.records);
            let kept = SeriesTable::remove(&dir, key, records, bm)?;
            ns.series.entry(*key).or_default().records = kept;
        }
        self.commit_snap(ns)?;
        for (_, path, _) in pending {
            fs::remove_file(&path).map_err(|e| CatalogError::io(&path, e))?;
        }
        Ok(())
    }

    /// Brings the catalog back to a consistent state: deletes documents committed without
    /// their membership (a crash or failure mid-ingestion) and finishes pending garbage
    /// collection.
    pub(crate) fn recover(&self, writer: &mut IndexWriter) -> Result<(), CatalogError> {
        if self.inner.dirty.load(Ordering::SeqCst) {
            self.inner.reader.reload()?;
            let next = u64::from(self.snap().next_vid);
            let vid = self.inner.fields.vid;
            let q = RangeQuery::new(
                Bound::Included(Term::from_field_u64(vid, next)),
                Bound::Unbounded,
            );
            let stray = self.inner.reader.searcher().search(&q, &Count)?;
            if stray > 0 {
                tracing::info!(
                    stray,
                    "catalog: deleting documents of an interrupted ingestion"
                );
                writer.delete_query(Box::new(q))?;
                writer.commit()?;
                self.inner.reader.reload()?;
            }
            self.inner.dirty.store(false, Ordering::SeqCst);
        }
        self.run_gc(writer)
    }
}
