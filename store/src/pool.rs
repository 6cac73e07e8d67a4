//! Connections to the database: the writer connection's settings, and a small pool of read-only
//! connections. Readers run in parallel with each other and with the writer: a long write (a
//! batch of job output lines) holds only the writer connection and SQLite's write lock (WAL
//! mode), never a lock every reader waits behind. On PostgreSQL the pool holds read-only
//! sessions the same way.

use crate::db::{Conn, PgConfig};
use crate::Result;
use rusqlite::Connection;
use std::ops::Deref;
use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// Read connections in the pool: enough for the API's readers on a small server, each with its
/// own page cache (SQLite's default, about 2 MiB).
pub(crate) const POOL_SIZE: usize = 8;

/// How long a statement waits for a lock held by another process before failing as busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the writer connection (the one that migrates and writes).
pub(crate) fn connect(path: &Path) -> Result<Conn> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Deleted and overwritten content is zeroed where that costs no extra I/O.
    conn.pragma_update(None, "secure_delete", "FAST")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(Conn::Sqlite(conn))
}

/// Opens one read connection: `query_only`, so a write sent to it by mistake fails loudly.
fn connect_reader(path: &Path) -> Result<Conn> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "query_only", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(Conn::Sqlite(conn))
}

/// Read sessions of a PostgreSQL pool: fewer than SQLite's, since each is a server process.
const PG_POOL_SIZE: usize = 4;

/// Connections handed out one per caller, returned when the guard drops.
pub(crate) struct Pool {
    idle: Mutex<Vec<Conn>>,
    returned: Condvar,
}

impl Pool {
    /// `POOL_SIZE` read connections to `path` (already migrated by the writer).
    pub fn open(path: &Path) -> Result<Pool> {
        let mut idle = Vec::with_capacity(POOL_SIZE);
        for _ in 0..POOL_SIZE {
            idle.push(connect_reader(path)?);
        }
        Ok(Pool {
            idle: Mutex::new(idle),
            returned: Condvar::new(),
        })
    }

    /// Read-only sessions to PostgreSQL (`default_transaction_read_only`).
    pub fn open_postgres(pg: &PgConfig) -> Result<Pool> {
        let mut idle = Vec::with_capacity(PG_POOL_SIZE);
        for _ in 0..PG_POOL_SIZE {
            let conn = Conn::Pg(Box::new(std::cell::RefCell::new(pg.connect()?)));
            conn.execute_batch("SET default_transaction_read_only = on")?;
            idle.push(conn);
        }
        Ok(Pool {
            idle: Mutex::new(idle),
            returned: Condvar::new(),
        })
    }

    /// A connection for this caller; waits while all are in use. A caller never holds one
    /// while asking for another, so waiting always ends.
    pub fn get(&self) -> Pooled<'_> {
        // A panic while holding the lock leaves the list usable: it is only a Vec.
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(conn) = idle.pop() {
                return Pooled {
                    pool: self,
                    conn: Some(conn),
                };
            }
            idle = self.returned.wait(idle).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn put(&self, conn: Conn) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(conn);
        self.returned.notify_one();
    }
}

/// One read connection of the pool, returned to it on drop (also when unwinding).
pub(crate) struct Pooled<'a> {
    pool: &'a Pool,
    conn: Option<Conn>,
}

impl Deref for Pooled<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
            .as_ref()
            .expect("a pooled connection is present until drop")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.put(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn setup() -> (tempfile::TempDir, Conn, Arc<Pool>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let w = connect(&path).expect("connect");
        w.execute_batch("CREATE TABLE t (x INTEGER)")
            .expect("create");
        let pool = Arc::new(Pool::open(&path).expect("pool"));
        (dir, w, pool)
    }

    fn count(c: &Conn) -> i64 {
        c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .expect("count")
    }

    #[test]
    fn a_reader_is_not_blocked_by_an_open_write_transaction() {
        let (_dir, w, pool) = setup();
        let tx = w.transaction().expect("begin");
        tx.execute("INSERT INTO t VALUES (1)", []).expect("insert");
        // While the write is open, a reader sees the committed state at once.
        assert_eq!(count(&pool.get()), 0);
        tx.commit().expect("commit");
        assert_eq!(count(&pool.get()), 1);
    }

    #[test]
    fn readers_refuse_writes() {
        let (_dir, _w, pool) = setup();
        assert!(pool.get().execute("INSERT INTO t VALUES (1)", []).is_err());
    }

    #[test]
    fn more_readers_than_connections_all_get_one() {
        let (_dir, w, pool) = setup();
        w.execute("INSERT INTO t VALUES (1)", []).expect("insert");
        let threads: Vec<_> = (0..POOL_SIZE * 3)
            .map(|_| {
                let pool = pool.clone();
                std::thread::spawn(move || (0..50).map(|_| count(&pool.get())).sum::<i64>())
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().expect("thread"), 50);
        }
    }
}
