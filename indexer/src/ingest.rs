//! Ingestion of one archive listing: a streaming pass that reuses the versions the series
//! already has, indexes new ones, and builds the archive's membership bitmap.

use crate::error::CatalogError;
use crate::fastparse::hash64;
use crate::listing::{parent_of, path_hash, Entry};
use crate::schema::{trigram_text, Fields};
use crate::state::{
    self, vkey, ArchiveRecord, ArchiveState, IdHash, SeriesAppender, SeriesTable, Snapshot,
    VersionRec,
};
use crate::types::{ChangeStats, IngestReport};
use crate::Catalog;
use model::catalog::{IngestSummary, ListingSink};
use model::{ArchiveRef, SeriesKey};
use roaring::RoaringBitmap;
use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tantivy::indexer::UserOperation;
use tantivy::{IndexWriter, TantivyDocument};

/// Documents per batch handed to the index writer (one channel message and wake-up each).
const BATCH: usize = 8;

#[cfg(test)]
thread_local! {
    /// Test hook: fail right after the index commit, before the membership is written, as a
    /// crash at the worst moment would.
    pub(crate) static CRASH_AFTER_INDEX_COMMIT: std::cell::Cell<bool> =
        const { std::cell::Cell::new(false) };
}

impl ListingSink for Catalog {
    fn ingest(
        &self,
        archive: &ArchiveRef,
        listing: &mut dyn BufRead,
    ) -> Result<IngestSummary, String> {
        self.ingest_listing(archive, listing)
            .map(|r| r.summary)
            .map_err(|e| e.to_string())
    }

    fn anomaly(&self, archive: model::ArchiveId) -> Option<String> {
        self.archive_anomaly(archive).map(|a| a.reason)
    }

    fn forget(&self, archive: model::ArchiveId) -> Result<(), String> {
        self.forget_archive(archive)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn sample(
        &self,
        series: &model::SeriesKey,
        max: usize,
        max_size: u64,
    ) -> Result<Vec<model::SampledFile>, String> {
        self.sample_files(series, max, max_size)
            .map_err(|e| e.to_string())
    }

    fn compare(
        &self,
        primary: model::ArchiveId,
        copy: model::ArchiveId,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<model::ComparisonCounts, String> {
        let c = self
            .compare_archives(primary, copy, Some(since))
            .map_err(|e| e.to_string())?;
        Ok(model::ComparisonCounts {
            same: c.same,
            missing: c.missing,
            extra: c.extra,
            changed: c.changed,
            between_runs: c.between_runs,
            unexplained: c.unexplained,
        })
    }
}

/// Work in progress of one ingestion.
struct Pass<'a> {
    writer: &'a IndexWriter,
    /// Documents sent to the indexing threads in batches (one channel message each).
    batch: Vec<UserOperation>,
    fields: Fields,
    series: SeriesKey,
    table: SeriesTable,
    next_vid: u32,
    bitmap: RoaringBitmap,
    /// New records, streamed to the series table file.
    out: SeriesAppender,
    new_recs: u64,
    /// Hashes of the directories seen so far in this listing.
    dirs_seen: HashSet<u64, IdHash>,
    new_versions: u64,
}

impl Pass<'_> {
    fn add(&mut self, entry: &Entry, real: bool) -> Result<(), CatalogError> {
        let key = entry.version_key();
        let vid = match self.table.by_key.get(&vkey(key)) {
            Some(v) => *v,
            None => {
                let vid = self.next_vid;
                self.next_vid = vid
                    .checked_add(1)
                    .ok_or(CatalogError::VersionIdsExhausted)?;
                self.batch.push(UserOperation::Add(make_doc(
                    &self.fields,
                    entry,
                    vid,
                    &self.series,
                )));
                if self.batch.len() >= BATCH {
                    self.flush()?;
                }
                self.table.by_key.insert(vkey(key), vid);
                let path = path_hash(&entry.path);
                self.out.push(&VersionRec {
                    vid,
                    key,
                    path,
                    size: entry.size,
                })?;
                // New ids are above every existing one: `meta` stays sorted.
                self.table.meta.push((vid, path, entry.size));
                self.new_recs += 1;
                if real {
                    self.new_versions += 1;
                }
                vid
            }
        };
        self.bitmap.insert(vid);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), CatalogError> {
        if !self.batch.is_empty() {
            self.writer.run(std::mem::take(&mut self.batch))?;
            self.batch.reserve(BATCH);
        }
        Ok(())
    }

    /// Adds the entry, preceded by synthetic directories for ancestors not in the listing.
    fn add_with_parents(&mut self, entry: &Entry) -> Result<(), CatalogError> {
        let mut p = parent_of(&entry.path);
        if p.is_some_and(|d| d != "/" && !self.dirs_seen.contains(&hash64(d))) {
            let mut missing = Vec::new();
            while let Some(d) = p {
                if d == "/" || self.dirs_seen.contains(&hash64(d)) {
                    break;
                }
                missing.push(d.to_string());
                p = parent_of(d);
            }
            for d in missing.into_iter().rev() {
                self.add(&Entry::synthetic_dir(&d), false)?;
                self.dirs_seen.insert(hash64(&d));
            }
        }
        if entry.file_type == "d" {
            self.dirs_seen.insert(hash64(&entry.path));
        }
        self.add(entry, true)
    }

    fn run(&mut self, listing: &mut dyn BufRead) -> Result<u64, CatalogError> {
        let mut buf = Vec::with_capacity(4096);
        let mut line = 0u64;
        let mut entries = 0u64;
        loop {
            buf.clear();
            let n = listing.read_until(b'\n', &mut buf).map_err(|source| {
                CatalogError::ListingRead {
                    line: line + 1,
                    source,
                }
            })?;
            if n == 0 {
                self.flush()?;
                return Ok(entries);
            }
            line += 1;
            let text = buf.trim_ascii();
            if text.is_empty() {
                continue;
            }
            let entry = Entry::parse(text, line)?;
            entries += 1;
            self.add_with_parents(&entry)?;
        }
    }
}

pub(crate) fn make_doc(f: &Fields, e: &Entry, vid: u32, series: &SeriesKey) -> TantivyDocument {
    let mut d = TantivyDocument::new();
    let name = e.name();
    d.add_u64(f.vid, u64::from(vid));
    d.add_i64(f.repository, series.repository.0);
    d.add_i64(f.policy, series.policy.0);
    d.add_i64(f.client, series.client.0);
    d.add_text(f.path, &e.path);
    if let Some(parent) = parent_of(&e.path) {
        d.add_text(f.parent, parent);
        // Words of the name are in `name_words` already.
        d.add_text(f.path_words, parent);
    }
    d.add_text(f.name_words, name);
    d.add_text(f.name_tri, trigram_text(name));
    d.add_text(f.file_type, &e.file_type);
    d.add_u64(f.size, e.size);
    d.add_i64(f.mtime, e.mtime);
    d.add_text(f.mode, &e.mode);
    d.add_text(f.user, &e.user);
    d.add_text(f.group, &e.group);
    d.add_bool(f.healthy, e.healthy);
    if !e.linktarget.is_empty() {
        d.add_text(f.linktarget, &e.linktarget);
    }
    d
}

/// Change statistics of `cur` against `prev` (None: everything is added).
pub(crate) fn compute_changes(
    prev: Option<(model::ArchiveId, &RoaringBitmap)>,
    cur: &RoaringBitmap,
    table: &SeriesTable,
) -> ChangeStats {
    let size = |vid: u32| table.lookup(vid).map(|m| m.1).unwrap_or(0);
    let Some((prev_id, prev)) = prev else {
        return ChangeStats {
            added: cur.len(),
            added_bytes: cur.iter().map(size).sum(),
            ..Default::default()
        };
    };
    let mut old: HashMap<u64, u64> = HashMap::new();
    for vid in prev - cur {
        if let Some((p, s)) = table.lookup(vid) {
            old.insert(p, s);
        }
    }
    let mut st = ChangeStats {
        previous: Some(prev_id),
        unchanged: prev.intersection_len(cur),
        ..Default::default()
    };
    let mut changed_paths = HashSet::new();
    for vid in cur - prev {
        let Some((p, s)) = table.lookup(vid) else {
            continue;
        };
        match old.get(&p) {
            Some(before) => {
                if changed_paths.insert(p) {
                    st.changed += 1;
                    st.changed_bytes_before += before;
                    st.changed_bytes_after += s;
                }
            }
            None => {
                st.added += 1;
                st.added_bytes += s;
            }
        }
    }
    for (p, s) in old {
        if !changed_paths.contains(&p) {
            st.removed += 1;
            st.removed_bytes += s;
        }
    }
    st
}

/// Recomputes the change statistics of the archive at `pos` of a series (after an
/// out-of-order ingestion or a removal changed its predecessor).
pub(crate) fn refresh_changes(
    snap: &mut Snapshot,
    key: &SeriesKey,
    pos: usize,
    table: &SeriesTable,
) {
    let ids = match snap.series.get(key) {
        Some(s) => s.archives.clone(),
        None => return,
    };
    let Some(cur) = ids.get(pos).and_then(|id| snap.archives.get(id)).cloned() else {
        return;
    };
    let prev = pos
        .checked_sub(1)
        .and_then(|p| ids.get(p))
        .and_then(|id| snap.archives.get(id))
        .cloned();
    let changes = compute_changes(
        prev.as_ref().map(|a| (a.rec.id, a.bitmap.as_ref())),
        &cur.bitmap,
        table,
    );
    let mut rec = cur.rec.clone();
    rec.changes = changes;
    rec.summary.removed = changes.removed;
    snap.archives.insert(
        rec.id,
        Arc::new(ArchiveState {
            rec,
            bitmap: cur.bitmap.clone(),
        }),
    );
}

impl Catalog {
    /// Ingests one archive listing (`borg list --json-lines`), streaming. Idempotent: an
    /// archive already ingested is left alone and its stored report returned. On any error
    /// nothing of the archive becomes visible and a later call starts it over.
    pub fn ingest_listing(
        &self,
        archive: &ArchiveRef,
        listing: &mut dyn BufRead,
    ) -> Result<IngestReport, CatalogError> {
        let mut writer = self.lock_writer()?;
        if let Some(a) = self.snap().archives.get(&archive.id) {
            return Ok(IngestReport {
                archive: archive.id,
                summary: a.rec.summary,
                changes: a.rec.changes,
                already_ingested: true,
            });
        }
        self.recover(&mut writer)?;
        let snap = self.snap();
        let dir = &self.inner.dir;
        let committed = snap.series.get(&archive.series).map_or(0, |s| s.records);
        let mut pass = Pass {
            writer: &writer,
            fields: self.inner.fields,
            series: archive.series,
            table: SeriesTable::load(dir, &archive.series, committed)?,
            next_vid: snap.next_vid,
            batch: Vec::with_capacity(BATCH),
            bitmap: RoaringBitmap::new(),
            out: SeriesAppender::open(dir, &archive.series, committed)?,
            new_recs: 0,
            dirs_seen: HashSet::default(),
            new_versions: 0,
        };
        let entries = match pass.run(listing) {
            Ok(n) => n,
            Err(e) => {
                drop(pass);
                writer.rollback()?;
                return Err(e);
            }
        };
        let Pass {
            table,
            next_vid,
            bitmap,
            out,
            new_recs,
            new_versions,
            ..
        } = pass;
        out.finish()?;
        writer.commit()?;
        // From here until the state is written, committed documents have no membership.
        self.inner.dirty.store(true, Ordering::SeqCst);
        #[cfg(test)]
        if CRASH_AFTER_INDEX_COMMIT.with(|c| c.get()) {
            return Err(CatalogError::Corrupt("simulated crash".into()));
        }
        state::write_bitmap(&state::bitmap_path(dir, archive.id), &bitmap)?;

        let mut ns = (*snap).clone();
        ns.next_vid = next_vid;
        let series = ns.series.entry(archive.series).or_default();
        series.records = committed + new_recs;
        series.archives.push(archive.id);
        ns.live = Arc::new(&*ns.live | &bitmap);
        let rec = ArchiveRecord {
            id: archive.id,
            name: archive.name.clone(),
            series: archive.series,
            time: archive.time,
            summary: IngestSummary {
                entries,
                new_versions,
                removed: 0,
            },
            changes: ChangeStats::default(),
        };
        ns.archives.insert(
            archive.id,
            Arc::new(ArchiveState {
                rec,
                bitmap: Arc::new(bitmap),
            }),
        );
        ns.sort_series(archive.series);
        let ids = ns
            .series
            .get(&archive.series)
            .map(|s| s.archives.clone())
            .unwrap_or_default();
        let pos = ids.iter().position(|id| *id == archive.id).unwrap_or(0);
        refresh_changes(&mut ns, &archive.series, pos, &table);
        if pos + 1 < ids.len() {
            refresh_changes(&mut ns, &archive.series, pos + 1, &table);
        }
        ns.recompute_latest();
        let report = ns
            .archives
            .get(&archive.id)
            .map(|a| IngestReport {
                archive: archive.id,
                summary: a.rec.summary,
                changes: a.rec.changes,
                already_ingested: false,
            })
            .ok_or(CatalogError::UnknownArchive(archive.id.0))?;
        self.commit_snap(ns)?;
        self.inner.dirty.store(false, Ordering::SeqCst);
        tracing::debug!(
            archive = archive.id.0,
            entries,
            new_versions,
            "catalog ingested"
        );
        Ok(report)
    }
}
