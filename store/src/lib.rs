//! Persistence for CyBorgBackup, on SQLite (the embedded default) or PostgreSQL (several nodes).
//! Every SQL statement of the project lives in this crate; migrations from `migrations/` (and
//! `migrations/postgres/`) are embedded and applied when the store opens.

mod access;
mod archives;
mod bus;
mod cluster;
mod copies;
mod credentials;
mod db;
mod drills;
mod health;
mod hostkeys;
mod inventory;
mod jobs;
mod lists;
mod login_limits;
mod migrate;
mod notify;
mod policies;
mod policy_secrets;
mod pool;
pub mod secrets;
mod security;
mod server_health;
mod settings;
mod stats;
#[doc(hidden)]
pub mod testing;
mod tickets;
mod transfer;
mod users;
mod vm_providers;

pub use archives::ArchiveSizes;
pub use bus::{Listener, EVENTS_CHANNEL, MAX_PAYLOAD};
pub use cluster::{Claim, ClaimOptions, ExpiredLease, NodeBeat, NodeRow};
pub use copies::{CopyVerification, RecoveryRow};
pub use credentials::RepositoryCredential;
pub use drills::{
    DrillFinding, NewRestoreTest, RestoreTest, RestoreTestFilter, RestoreTestListOptions,
    RestoreTestOrder, Verdict,
};
pub use health::SeriesRow;
pub use hostkeys::{HostKey, PendingHostKey};
pub use jobs::{JobFilter, NewJob, NewOutputLine};
pub use lists::*;
pub use login_limits::{AddressLimits, LoginPair};
pub use migrate::{MIGRATIONS, SCHEMA_VERSION};
pub use notify::{Channel, NewOutbox, NotifyPref, NotifyPrefs, OutboxItem, Recipient};
pub use server_health::{database_schema_version, snapshot_database, DATABASE_FILE};
pub use stats::{
    DailySeries, DailyStat, JobOutcomeCount, SeriesStatus, SizePoint, StatsFilter, StatsGroup,
};
pub use tickets::{DownloadTicketRecord, NewDownloadTicket, TicketTake};
pub use transfer::TableCopy;
pub use users::{AuthUser, NewUser, TokenInfo, TokenKind};
pub use vm_providers::{VmProviderInput, VmProviderRecord, BUILT_IN_VM_PROVIDERS};

use chrono::{DateTime, SecondsFormat, Utc};
use db::Conn;
pub use db::{Backend, DbError, PgConfig};
use model::ValidationErrors;
use secrets::MasterKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    #[error("invalid input: {0}")]
    Validation(ValidationErrors),
    /// The change conflicts with stored data (unique name, object still in use).
    #[error("{0}")]
    Conflict(String),
    #[error("database schema version {found} is newer than this binary supports ({supported}): upgrade cyborgbackup")]
    TooNew { found: i64, supported: i64 },
    #[error("{0}")]
    Database(#[from] DbError),
    #[error("secret storage: {0}")]
    Crypto(String),
    #[error("io on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl StoreError {
    pub(crate) fn not_found(kind: &'static str, id: impl ToString) -> Self {
        StoreError::NotFound {
            kind,
            id: id.to_string(),
        }
    }

    /// Whether retrying the same call later may succeed (a busy or unreachable database).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Database(e) if e.is_transient())
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(DbError::Sqlite(e))
    }
}

impl From<ValidationErrors> for StoreError {
    fn from(e: ValidationErrors) -> Self {
        StoreError::Validation(e)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where a store keeps its data.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The data directory: the master key, and the SQLite file when `postgres` is `None`.
    pub data_dir: PathBuf,
    /// PostgreSQL instead of the SQLite file.
    pub postgres: Option<PgConfig>,
}

/// Handle to the database; cheap to clone, safe to share between threads. Calls are blocking
/// (async code calls them off the runtime, through `service::Service::run` or
/// `spawn_blocking`). Writes and read-modify-write sequences take the one writer connection;
/// hot reads (job lists and output, tokens, grants) take a read-only connection of a small pool
/// (`pool.rs`), so they never wait behind a write (WAL mode).
#[derive(Clone)]
pub struct Store {
    writer: Arc<Mutex<Conn>>,
    readers: Arc<pool::Pool>,
    key: Arc<MasterKey>,
    path: PathBuf,
    /// The PostgreSQL database, when the store is on one (for listening connections).
    postgres: Option<PgConfig>,
}

impl Store {
    /// Opens (creating if needed) `cyborgbackup.db` and `master.key` in `data_dir`, applying
    /// pending migrations.
    pub fn open(data_dir: &Path) -> Result<Store> {
        Store::open_with(&StoreOptions {
            data_dir: data_dir.into(),
            postgres: None,
        })
    }

    /// Opens the database `options` name: the SQLite file in the data directory, or PostgreSQL.
    /// The master key stays in the data directory either way (every node of a cluster holds a
    /// copy of the same key). Pending migrations are applied (on PostgreSQL under an advisory
    /// lock, so that nodes starting together migrate once).
    pub fn open_with(options: &StoreOptions) -> Result<Store> {
        let data_dir = &options.data_dir;
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Io {
            path: data_dir.into(),
            source,
        })?;
        let key = MasterKey::load_or_create(&data_dir.join("master.key"))?;
        let path = data_dir.join(DATABASE_FILE);
        let (conn, readers) = match &options.postgres {
            None => {
                let conn = pool::connect(&path)?;
                migrate::apply(&conn)?;
                (conn, pool::Pool::open(&path)?)
            }
            Some(pg) => {
                let conn = Conn::Pg(Box::new(std::cell::RefCell::new(pg.connect()?)));
                migrate::apply(&conn)?;
                (conn, pool::Pool::open_postgres(pg)?)
            }
        };
        let store = Store {
            writer: Arc::new(Mutex::new(conn)),
            readers: Arc::new(readers),
            key: Arc::new(key),
            path,
            postgres: options.postgres.clone(),
        };
        store.seal_clear_policy_secrets(&store.conn())?;
        Ok(store)
    }

    /// Which database this store runs on.
    pub fn backend(&self) -> Backend {
        self.conn().backend()
    }

    /// Path of the SQLite file (on PostgreSQL, where it would be: nothing is there).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version currently applied.
    pub fn schema_version(&self) -> Result<i64> {
        migrate::current_version(&self.conn())
    }

    /// The writer connection, for writes and for reads that must see a write of the same call.
    /// Calls are serialized on it; never hold it while calling another `Store` method.
    pub(crate) fn conn(&self) -> MutexGuard<'_, Conn> {
        // A panic while holding the lock leaves the connection usable: SQLite rolls back.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A read-only connection of the pool for one call: sees every committed write and never
    /// waits behind the writer. Never hold it while calling another `Store` method.
    pub(crate) fn read(&self) -> pool::Pooled<'_> {
        self.readers.get()
    }

    pub(crate) fn key(&self) -> &MasterKey {
        &self.key
    }
}

/// Timestamps are stored as RFC 3339 UTC text with microseconds, which sorts correctly.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

pub(crate) fn parse_opt_ts(s: Option<String>) -> Option<DateTime<Utc>> {
    s.map(|s| parse_ts(&s))
}

pub(crate) fn now() -> String {
    ts(Utc::now())
}

pub(crate) fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Maps a UNIQUE constraint failure to a conflict naming the field.
pub(crate) fn unique_conflict(e: DbError, field: &str, value: &str) -> StoreError {
    if e.is_unique_violation() {
        StoreError::Validation(ValidationErrors::single(
            field,
            format!("{value:?} is already used"),
        ))
    } else {
        StoreError::Database(e)
    }
}
