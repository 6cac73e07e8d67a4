//! Membership and bookkeeping kept beside the tantivy index: the state file (archives,
//! series, next version id), one roaring bitmap of version ids per archive, and one
//! append-only version table per series. `state.json` is the commit point of every change.

use crate::error::CatalogError;
use crate::types::ChangeStats;
use chrono::{DateTime, Utc};
use model::catalog::IngestSummary;
use model::{ArchiveId, SeriesKey};
use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) const STATE_FILE: &str = "state.json";
pub(crate) const ARCHIVES_DIR: &str = "archives";
pub(crate) const SERIES_DIR: &str = "series";

/// What the catalog knows about one ingested archive.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ArchiveRecord {
    pub id: ArchiveId,
    pub name: String,
    pub series: SeriesKey,
    pub time: DateTime<Utc>,
    pub summary: IngestSummary,
    pub changes: ChangeStats,
}

/// Committed length (in records) of a series' version table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SeriesLen {
    pub key: SeriesKey,
    pub records: u64,
}

/// The serialized state file.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub(crate) struct StateFile {
    pub schema: u32,
    pub next_vid: u32,
    pub archives: Vec<ArchiveRecord>,
    pub series: Vec<SeriesLen>,
}

/// One ingested archive in memory.
#[derive(Debug)]
pub(crate) struct ArchiveState {
    pub rec: ArchiveRecord,
    pub bitmap: Arc<RoaringBitmap>,
}

/// A series in memory: its archives in (time, id) order and its version table length.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeriesState {
    pub archives: Vec<ArchiveId>,
    pub records: u64,
}

/// Immutable view of the membership, swapped as a whole after every commit.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    pub archives: HashMap<ArchiveId, Arc<ArchiveState>>,
    pub series: HashMap<SeriesKey, SeriesState>,
    pub next_vid: u32,
    /// Versions held by at least one archive.
    pub live: Arc<RoaringBitmap>,
    /// Versions held by the latest archive of their series.
    pub latest: Arc<RoaringBitmap>,
}

impl Snapshot {
    pub fn to_file(&self, schema: u32) -> StateFile {
        let mut archives: Vec<ArchiveRecord> =
            self.archives.values().map(|a| a.rec.clone()).collect();
        archives.sort_by_key(|a| a.id);
        let mut series: Vec<SeriesLen> = self
            .series
            .iter()
            .map(|(k, s)| SeriesLen {
                key: *k,
                records: s.records,
            })
            .collect();
        series.sort_by_key(|s| (s.key.repository, s.key.policy, s.key.client));
        StateFile {
            schema,
            next_vid: self.next_vid,
            archives,
            series,
        }
    }

    /// Builds the in-memory state from the state file and the archive bitmaps.
    pub fn load(dir: &Path, file: StateFile) -> Result<Snapshot, CatalogError> {
        let mut snap = Snapshot {
            next_vid: file.next_vid,
            ..Default::default()
        };
        for s in file.series {
            snap.series.insert(
                s.key,
                SeriesState {
                    archives: Vec::new(),
                    records: s.records,
                },
            );
        }
        for rec in file.archives {
            let bitmap = read_bitmap(&bitmap_path(dir, rec.id))?;
            snap.series
                .entry(rec.series)
                .or_default()
                .archives
                .push(rec.id);
            snap.archives.insert(
                rec.id,
                Arc::new(ArchiveState {
                    rec,
                    bitmap: Arc::new(bitmap),
                }),
            );
        }
        let keys: Vec<SeriesKey> = snap.series.keys().copied().collect();
        for k in keys {
            snap.sort_series(k);
        }
        let mut live = RoaringBitmap::new();
        for a in snap.archives.values() {
            live |= a.bitmap.as_ref();
        }
        snap.live = Arc::new(live);
        snap.recompute_latest();
        Ok(snap)
    }

    pub fn sort_series(&mut self, key: SeriesKey) {
        let archives = &self.archives;
        if let Some(s) = self.series.get_mut(&key) {
            s.archives.sort_by_key(|id| {
                let t = archives.get(id).map(|a| a.rec.time).unwrap_or_default();
                (t, *id)
            });
        }
    }

    pub fn recompute_latest(&mut self) {
        let mut latest = RoaringBitmap::new();
        for s in self.series.values() {
            if let Some(a) = s.archives.last().and_then(|id| self.archives.get(id)) {
                latest |= a.bitmap.as_ref();
            }
        }
        self.latest = Arc::new(latest);
    }

    /// The archives of a series in time order.
    pub fn series_archives(&self, key: &SeriesKey) -> Vec<Arc<ArchiveState>> {
        self.series
            .get(key)
            .map(|s| {
                s.archives
                    .iter()
                    .filter_map(|id| self.archives.get(id).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub(crate) fn bitmap_path(dir: &Path, id: ArchiveId) -> PathBuf {
    dir.join(ARCHIVES_DIR).join(format!("{}.bm", id.0))
}

pub(crate) fn read_bitmap(path: &Path) -> Result<RoaringBitmap, CatalogError> {
    let f = File::open(path).map_err(|e| CatalogError::io(path, e))?;
    RoaringBitmap::deserialize_from(BufReader::new(f))
        .map_err(|e| CatalogError::Corrupt(format!("{}: {e}", path.display())))
}

pub(crate) fn write_bitmap(path: &Path, bm: &RoaringBitmap) -> Result<(), CatalogError> {
    let mut buf = Vec::with_capacity(bm.serialized_size());
    bm.serialize_into(&mut buf)
        .map_err(|e| CatalogError::io(path, e))?;
    write_atomic(path, &buf)
}

/// Writes a file through a temporary file, fsync and rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CatalogError> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp).map_err(|e| CatalogError::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| CatalogError::io(&tmp, e))?;
        f.sync_all().map_err(|e| CatalogError::io(&tmp, e))?;
    }
    fs::rename(&tmp, path).map_err(|e| CatalogError::io(path, e))?;
    if let Some(parent) = path.parent() {
        if let Ok(d) = File::open(parent) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

pub(crate) fn write_state(dir: &Path, file: &StateFile) -> Result<(), CatalogError> {
    let bytes = serde_json::to_vec(file).map_err(|e| CatalogError::Corrupt(e.to_string()))?;
    write_atomic(&dir.join(STATE_FILE), &bytes)
}

pub(crate) fn read_state(dir: &Path) -> Result<Option<StateFile>, CatalogError> {
    let path = dir.join(STATE_FILE);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| CatalogError::Corrupt(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CatalogError::io(&path, e)),
    }
}

/// One version of a series: id, version key, path hash and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VersionRec {
    pub vid: u32,
    pub key: u128,
    pub path: u64,
    pub size: u64,
}

const REC_LEN: usize = 4 + 16 + 8 + 8;

impl VersionRec {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.vid.to_le_bytes());
        out.extend_from_slice(&self.key.to_le_bytes());
        out.extend_from_slice(&self.path.to_le_bytes());
        out.extend_from_slice(&self.size.to_le_bytes());
    }
    fn decode(b: &[u8]) -> VersionRec {
        let mut vid = [0u8; 4];
        let mut key = [0u8; 16];
        let mut path = [0u8; 8];
        let mut size = [0u8; 8];
        vid.copy_from_slice(&b[0..4]);
        key.copy_from_slice(&b[4..20]);
        path.copy_from_slice(&b[20..28]);
        size.copy_from_slice(&b[28..36]);
        VersionRec {
            vid: u32::from_le_bytes(vid),
            key: u128::from_le_bytes(key),
            path: u64::from_le_bytes(path),
            size: u64::from_le_bytes(size),
        }
    }
}

/// A 128-bit version key as two halves: 8-byte aligned, so a table entry takes 24 bytes
/// instead of 32.
pub(crate) type VKey = (u64, u64);

pub(crate) fn vkey(key: u128) -> VKey {
    (key as u64, (key >> 64) as u64)
}

/// The version table of one series, loaded in memory for ingestion and bookkeeping.
#[derive(Debug, Default)]
pub(crate) struct SeriesTable {
    /// Version key → version id.
    pub by_key: HashMap<VKey, u32, IdHash>,
    /// (vid, path hash, size), sorted by vid.
    pub meta: Vec<(u32, u64, u64)>,
}

/// Streams new records of a series table to its file after the committed ones, so that a
/// first ingestion of millions of entries does not hold them in memory. Records past the
/// committed length count only once the state file says so.
pub(crate) struct SeriesAppender {
    path: PathBuf,
    w: BufWriter<File>,
    buf: Vec<u8>,
}

impl SeriesAppender {
    /// Opens the table of `key` for appending after its `committed` records, cutting off
    /// leftovers of an interrupted ingestion.
    pub fn open(dir: &Path, key: &SeriesKey, committed: u64) -> Result<Self, CatalogError> {
        let path = series_path(dir, key);
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| CatalogError::io(&path, e))?;
        let at = committed * REC_LEN as u64;
        f.set_len(at).map_err(|e| CatalogError::io(&path, e))?;
        f.seek(SeekFrom::Start(at))
            .map_err(|e| CatalogError::io(&path, e))?;
        Ok(SeriesAppender {
            path,
            w: BufWriter::with_capacity(1 << 16, f),
            buf: Vec::with_capacity(REC_LEN),
        })
    }

    pub fn push(&mut self, rec: &VersionRec) -> Result<(), CatalogError> {
        self.buf.clear();
        rec.encode(&mut self.buf);
        self.w
            .write_all(&self.buf)
            .map_err(|e| CatalogError::io(&self.path, e))
    }

    /// Flushes and syncs the records written.
    pub fn finish(self) -> Result<(), CatalogError> {
        let path = self.path;
        let f = self
            .w
            .into_inner()
            .map_err(|e| CatalogError::io(&path, e.into_error()))?;
        f.sync_all().map_err(|e| CatalogError::io(&path, e))
    }
}

/// Hasher of keys that are already hashes: takes their low 64 bits.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

pub(crate) type IdHash = std::hash::BuildHasherDefault<IdHasher>;

pub(crate) fn series_path(dir: &Path, key: &SeriesKey) -> PathBuf {
    dir.join(SERIES_DIR).join(format!(
        "{}_{}_{}.ver",
        key.repository.0, key.policy.0, key.client.0
    ))
}

impl SeriesTable {
    /// Loads the first `records` committed records (bytes past them are leftovers of an
    /// interrupted ingestion and are ignored).
    pub fn load(dir: &Path, key: &SeriesKey, records: u64) -> Result<SeriesTable, CatalogError> {
        let path = series_path(dir, key);
        let mut table = SeriesTable::default();
        if records == 0 {
            return Ok(table);
        }
        let f = File::open(&path).map_err(|e| CatalogError::io(&path, e))?;
        let mut r = BufReader::with_capacity(1 << 20, f);
        let mut buf = [0u8; REC_LEN];
        table.by_key.reserve(records as usize);
        table.meta.reserve(records as usize);
        for _ in 0..records {
            match r.read_exact(&mut buf) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(CatalogError::io(&path, e)),
            }
            let rec = VersionRec::decode(&buf);
            table.by_key.insert(vkey(rec.key), rec.vid);
            table.meta.push((rec.vid, rec.path, rec.size));
        }
        table.meta.sort_unstable_by_key(|m| m.0);
        Ok(table)
    }

    /// Path hash and size of a version.
    pub fn lookup(&self, vid: u32) -> Option<(u64, u64)> {
        self.meta
            .binary_search_by_key(&vid, |m| m.0)
            .ok()
            .map(|i| (self.meta[i].1, self.meta[i].2))
    }

    /// Rewrites the committed records of a series without the given version ids; returns the
    /// new record count.
    pub fn remove(
        dir: &Path,
        key: &SeriesKey,
        committed: u64,
        drop_vids: &RoaringBitmap,
    ) -> Result<u64, CatalogError> {
        let path = series_path(dir, key);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(CatalogError::io(&path, e)),
        };
        let mut out = Vec::with_capacity(bytes.len());
        let mut kept = 0u64;
        for chunk in bytes.chunks_exact(REC_LEN).take(committed as usize) {
            let rec = VersionRec::decode(chunk);
            if !drop_vids.contains(rec.vid) {
                rec.encode(&mut out);
                kept += 1;
            }
        }
        write_atomic(&path, &out)?;
        Ok(kept)
    }
}
