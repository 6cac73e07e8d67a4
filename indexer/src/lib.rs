//! The catalog: a versioned, deduplicated index of every file version in every archive.
//!
//! A *version* is one distinct (path, type, size, mtime, mode, user, group, link target)
//! within a series (the archives of one policy and client in one repository). Each version
//! is one tantivy document, indexed once however many archives hold it. Membership (which
//! archives hold which versions) is one roaring bitmap of version ids per archive, kept in
//! files beside the index.
//!
//! On disk, under the catalog directory:
//! - `SCHEMA`: the schema version; another version (or unreadable files) means wipe and
//!   rebuild, reported by [`Catalog::needs_rebuild`];
//! - `index/`: the tantivy index, one document per version;
//! - `state.json`: archives (name, series, time, summary, change statistics), the committed
//!   length of each series table and the next version id; rewritten atomically, it is the
//!   commit point of every ingestion and removal;
//! - `archives/<archive id>.bm`: roaring bitmap of the version ids an archive holds;
//! - `series/<repository>_<policy>_<client>.ver`: append-only table of the series' versions
//!   (id, 128-bit version key, path hash, size) used to deduplicate and count changes;
//! - `gc/<series>.bm`: versions awaiting deletion after archives were forgotten.
//!
//! Index documents committed without their state (a crash mid-ingestion) are deleted at the
//! next open, so an archive is either fully visible or not at all.

mod anomaly;
mod collect;
mod compare;
mod error;
mod fastparse;
mod forget;
mod history;
mod ingest;
mod listing;
mod query;
mod sample;
mod schema;
mod search;
mod sorted;
mod state;
mod types;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_anomaly;
#[cfg(test)]
mod tests_compare;
#[cfg(test)]
mod tests_recovery;
#[cfg(test)]
mod tests_search;

pub use anomaly::{CHANGE_FACTOR, DELETION_SHARE};
pub use error::CatalogError;
pub use schema::SCHEMA_VERSION;
pub use types::*;

use schema::Fields;
use state::{Snapshot, StateFile};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyError};

const SCHEMA_FILE: &str = "SCHEMA";
const INDEX_DIR: &str = "index";

/// Tuning of a catalog.
#[derive(Debug, Clone, Copy)]
pub struct CatalogOptions {
    /// Memory budget of the index writer, split between its threads.
    pub writer_heap_bytes: usize,
    /// Indexing threads; 0 picks one per core (at most 2).
    pub writer_threads: usize,
}

impl Default for CatalogOptions {
    fn default() -> Self {
        CatalogOptions {
            writer_heap_bytes: 128 << 20,
            writer_threads: 0,
        }
    }
}

/// Handle on a catalog directory. Cheap to clone; all clones share one index writer.
/// Every method is blocking: call it off the async runtime.
#[derive(Clone)]
pub struct Catalog {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub dir: PathBuf,
    pub reader: IndexReader,
    pub fields: Fields,
    /// The one writer; its lock also serializes every mutation of the catalog.
    pub writer: Mutex<IndexWriter>,
    pub snap: RwLock<Arc<Snapshot>>,
    /// Set when documents may have been committed without their state (a failure between
    /// the index commit and the state write): purged before the next mutation.
    pub dirty: AtomicBool,
    pub was_reset: bool,
}

impl Catalog {
    /// Opens (or creates) the catalog in `dir` with default options.
    pub fn open(dir: &Path) -> Result<Catalog, CatalogError> {
        Self::open_with(dir, CatalogOptions::default())
    }

    /// Opens (or creates) the catalog in `dir`. A catalog of another schema version, or one
    /// that cannot be read, is wiped and recreated empty; `needs_rebuild()` then says so.
    pub fn open_with(dir: &Path, opts: CatalogOptions) -> Result<Catalog, CatalogError> {
        fs::create_dir_all(dir).map_err(|e| CatalogError::io(dir, e))?;
        match open_existing(dir, opts) {
            Ok(Some(inner)) => return Self::finish_open(inner),
            Ok(None) => {}
            Err(CatalogError::Locked(m)) => return Err(CatalogError::Locked(m)),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "catalog unusable, rebuilding it");
                wipe(dir)?;
                let inner = create_fresh(dir, opts, true)?;
                return Self::finish_open(inner);
            }
        }
        let inner = create_fresh(dir, opts, false)?;
        Self::finish_open(inner)
    }

    fn finish_open(inner: Inner) -> Result<Catalog, CatalogError> {
        let cat = Catalog {
            inner: Arc::new(inner),
        };
        {
            let mut w = cat.lock_writer()?;
            cat.recover(&mut w)?;
        }
        Ok(cat)
    }

    /// True when an existing catalog was found incompatible (another schema version) or
    /// corrupt and was recreated empty: every archive must be ingested again.
    pub fn needs_rebuild(&self) -> bool {
        self.inner.was_reset
    }

    /// Ids of the ingested archives of one repository.
    pub fn archives_in_repository(&self, repository: model::RepositoryId) -> Vec<model::ArchiveId> {
        let snap = self.snap();
        let mut ids: Vec<_> = snap
            .archives
            .values()
            .filter(|a| a.rec.series.repository == repository)
            .map(|a| a.rec.id)
            .collect();
        ids.sort();
        ids
    }

    /// Removes every file of the catalog in `dir`, so that it is rebuilt from borg. Fails
    /// with `Locked` while another process (a running server) has the catalog open.
    pub fn wipe(dir: &Path) -> Result<(), CatalogError> {
        if !dir.exists() {
            return Ok(());
        }
        {
            // Taking the writer lock proves nobody else uses the catalog.
            let opts = CatalogOptions {
                writer_heap_bytes: 16 << 20,
                writer_threads: 1,
            };
            let _probe = Catalog::open_with(dir, opts)?;
        }
        wipe(dir)
    }

    /// Closes this handle. The last handle also waits for the index's background segment
    /// merges to finish, so that they do not compete with what runs next.
    pub fn close(self) -> Result<(), CatalogError> {
        if let Ok(inner) = Arc::try_unwrap(self.inner) {
            let writer = match inner.writer.into_inner() {
                Ok(w) => w,
                Err(p) => p.into_inner(),
            };
            writer.wait_merging_threads()?;
        }
        Ok(())
    }

    /// The directory of this catalog.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Ids of the archives whose catalog is complete.
    pub fn archive_ids(&self) -> Vec<model::ArchiveId> {
        let snap = self.snap();
        let mut ids: Vec<_> = snap.archives.keys().copied().collect();
        ids.sort();
        ids
    }

    /// Whether the archive's catalog is complete.
    pub fn contains_archive(&self, id: model::ArchiveId) -> bool {
        self.snap().archives.contains_key(&id)
    }

    /// Change statistics of an ingested archive against the previous one of its series.
    pub fn archive_changes(&self, id: model::ArchiveId) -> Option<ChangeStats> {
        self.snap().archives.get(&id).map(|a| a.rec.changes)
    }

    /// Ingestion summary of an ingested archive.
    pub fn archive_summary(&self, id: model::ArchiveId) -> Option<model::catalog::IngestSummary> {
        self.snap().archives.get(&id).map(|a| a.rec.summary)
    }

    /// Readiness check: the catalog directory is still there and the index can be searched.
    /// Returns the number of indexed documents.
    pub fn check(&self) -> Result<u64, CatalogError> {
        fs::metadata(self.inner.dir.join(SCHEMA_FILE))
            .map_err(|e| CatalogError::io(&self.inner.dir, e))?;
        Ok(self.inner.reader.searcher().num_docs())
    }

    /// Sizes of the catalog.
    pub fn stats(&self) -> Result<CatalogStats, CatalogError> {
        let snap = self.snap();
        let searcher = self.inner.reader.searcher();
        Ok(CatalogStats {
            archives: snap.archives.len() as u64,
            series: snap
                .series
                .values()
                .filter(|s| !s.archives.is_empty())
                .count() as u64,
            versions: snap.live.len(),
            docs: searcher.num_docs(),
            bytes_on_disk: dir_size(&self.inner.dir),
        })
    }

    pub(crate) fn snap(&self) -> Arc<Snapshot> {
        match self.inner.snap.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub(crate) fn set_snap(&self, snap: Snapshot) {
        let mut g = match self.inner.snap.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = Arc::new(snap);
    }

    /// Locks the writer; after a panic in another holder, discards its uncommitted work.
    pub(crate) fn lock_writer(&self) -> Result<MutexGuard<'_, IndexWriter>, CatalogError> {
        match self.inner.writer.lock() {
            Ok(g) => Ok(g),
            Err(p) => {
                let mut g = p.into_inner();
                self.inner.writer.clear_poison();
                g.rollback()?;
                self.inner.dirty.store(true, Ordering::SeqCst);
                Ok(g)
            }
        }
    }

    /// Persists a new snapshot (the commit point) and publishes it.
    pub(crate) fn commit_snap(&self, snap: Snapshot) -> Result<(), CatalogError> {
        state::write_state(&self.inner.dir, &snap.to_file(SCHEMA_VERSION))?;
        self.set_snap(snap);
        self.inner.reader.reload()?;
        Ok(())
    }
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync + Clone + 'static>() {}
    is::<Catalog>();
}

fn open_existing(dir: &Path, opts: CatalogOptions) -> Result<Option<Inner>, CatalogError> {
    let schema_path = dir.join(SCHEMA_FILE);
    let version = match fs::read_to_string(&schema_path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let leftovers = [
                INDEX_DIR,
                state::STATE_FILE,
                state::ARCHIVES_DIR,
                state::SERIES_DIR,
            ]
            .iter()
            .any(|n| dir.join(n).exists());
            if leftovers {
                return Err(CatalogError::Corrupt("schema file missing".into()));
            }
            return Ok(None);
        }
        Err(e) => return Err(CatalogError::io(&schema_path, e)),
    };
    if version.trim() != SCHEMA_VERSION.to_string() {
        return Err(CatalogError::Corrupt(format!(
            "schema version {:?}, expected {SCHEMA_VERSION}",
            version.trim()
        )));
    }
    let (schema, fields) = schema::build_schema();
    let index = Index::open_in_dir(dir.join(INDEX_DIR))?;
    if index.schema() != schema {
        return Err(CatalogError::Corrupt("index schema differs".into()));
    }
    let file = state::read_state(dir)?
        .ok_or_else(|| CatalogError::Corrupt("state file missing".into()))?;
    if file.schema != SCHEMA_VERSION {
        return Err(CatalogError::Corrupt("state schema differs".into()));
    }
    let snap = Snapshot::load(dir, file)?;
    build_inner(dir, index, fields, snap, opts, false).map(Some)
}

fn create_fresh(dir: &Path, opts: CatalogOptions, was_reset: bool) -> Result<Inner, CatalogError> {
    let (schema, fields) = schema::build_schema();
    for sub in [INDEX_DIR, state::ARCHIVES_DIR, state::SERIES_DIR] {
        let p = dir.join(sub);
        fs::create_dir_all(&p).map_err(|e| CatalogError::io(&p, e))?;
    }
    let index = Index::create_in_dir(dir.join(INDEX_DIR), schema)?;
    state::write_state(
        dir,
        &StateFile {
            schema: SCHEMA_VERSION,
            ..Default::default()
        },
    )?;
    state::write_atomic(
        &dir.join(SCHEMA_FILE),
        SCHEMA_VERSION.to_string().as_bytes(),
    )?;
    build_inner(dir, index, fields, Snapshot::default(), opts, was_reset)
}

fn build_inner(
    dir: &Path,
    index: Index,
    fields: Fields,
    snap: Snapshot,
    opts: CatalogOptions,
    was_reset: bool,
) -> Result<Inner, CatalogError> {
    schema::register_tokenizers(&index)?;
    let threads = match opts.writer_threads {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 2),
        n => n,
    };
    let heap = opts.writer_heap_bytes.max(threads * (16 << 20));
    let writer = index
        .writer_with_num_threads(threads, heap)
        .map_err(|e| match e {
            TantivyError::LockFailure(..) => CatalogError::Locked(dir.display().to_string()),
            other => CatalogError::Index(other),
        })?;
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()?;
    Ok(Inner {
        dir: dir.to_path_buf(),
        reader,
        fields,
        writer: Mutex::new(writer),
        snap: RwLock::new(Arc::new(snap)),
        dirty: AtomicBool::new(true),
        was_reset,
    })
}

/// Removes every file of a catalog (only the names the catalog itself writes).
fn wipe(dir: &Path) -> Result<(), CatalogError> {
    for sub in [
        INDEX_DIR,
        state::ARCHIVES_DIR,
        state::SERIES_DIR,
        forget::GC_DIR,
    ] {
        let p = dir.join(sub);
        if p.exists() {
            fs::remove_dir_all(&p).map_err(|e| CatalogError::io(&p, e))?;
        }
    }
    for f in [SCHEMA_FILE, state::STATE_FILE] {
        let p = dir.join(f);
        if p.exists() {
            fs::remove_file(&p).map_err(|e| CatalogError::io(&p, e))?;
        }
    }
    Ok(())
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    rd.filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}
