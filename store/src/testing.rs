//! Stores for tests on either database: `CYBORG_TEST_DATABASE=postgres` runs a test's store on
//! a fresh PostgreSQL database (on the server at `CYBORG_TEST_PG_URL`, by default the one
//! `scripts/test-databases.sh` starts); SQLite in the test's directory otherwise.

use crate::{PgConfig, Store, StoreOptions};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The server tests use, without a database name.
pub const DEFAULT_TEST_PG_URL: &str = "postgres://cyborg_test:cyborg_test@127.0.0.1:5432";

/// Prefix of the databases tests create (`test-databases.sh start` drops leftovers).
pub const TEST_DATABASE_PREFIX: &str = "cyborg_t_";

/// Whether this test run uses PostgreSQL.
pub fn postgres_selected() -> bool {
    std::env::var("CYBORG_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

/// A new, empty PostgreSQL database for one test: its URL.
pub fn new_test_database() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let base = std::env::var("CYBORG_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_TEST_PG_URL.into());
    let base = base.trim_end_matches('/');
    let name = format!(
        "{TEST_DATABASE_PREFIX}{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        uuid::Uuid::new_v4().simple()
    );
    let admin = PgConfig::parse(&format!("{base}/postgres")).expect("test database url");
    let conn = admin
        .connect()
        .expect("connect to the test PostgreSQL server");
    let mut conn = conn;
    conn.batch(&format!("CREATE DATABASE {name}"))
        .expect("create a test database");
    format!("{base}/{name}")
}

/// Options for a store in `dir` on the database this test run uses (a new one on PostgreSQL);
/// opening them again reopens the same database.
pub fn options(dir: &Path) -> StoreOptions {
    let postgres = postgres_selected()
        .then(|| PgConfig::parse(&new_test_database()).expect("test database url"));
    StoreOptions {
        data_dir: dir.into(),
        postgres,
    }
}

/// A store in `dir` on the database this test run uses.
pub fn open(dir: &Path) -> Store {
    Store::open_with(&options(dir)).expect("open the test store")
}
