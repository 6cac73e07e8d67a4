//! Operations on the database as a whole: the readiness probe's write check, and consistent
//! snapshots of a live database through SQLite's online backup API (the server's self-backup).

use crate::{now, Result, Store, StoreError};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// File name of the database in a data directory.
pub const DATABASE_FILE: &str = "cyborgbackup.db";

impl Store {
    /// Rewrites the health row: fails when the database does not accept writes (read-only
    /// file, full disk, lost volume).
    pub fn write_check(&self) -> Result<()> {
        self.conn().execute(
            "INSERT INTO server_health (id, checked_at) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
            [now()],
        )?;
        Ok(())
    }

    /// Writes a consistent copy of the live database to `dest` (see [`snapshot_database`]).
    pub fn snapshot_to(&self, dest: &Path) -> Result<()> {
        if self.backend() == crate::Backend::Postgres {
            return Err(StoreError::Conflict(
                "snapshot: the server's self-backup copies the SQLite database; on PostgreSQL \
                 back the database up with pg_dump"
                    .into(),
            ));
        }
        snapshot_database(&self.path, dest)
    }
}

/// Copies the database at `src` to a new file `dest` with SQLite's online backup API, from a
/// read transaction of its own: writers of a running server go on (WAL), and the copy is one
/// consistent state, checked with `PRAGMA quick_check` before it is trusted.
pub fn snapshot_database(src: &Path, dest: &Path) -> Result<()> {
    if dest.exists() {
        return Err(StoreError::Conflict(format!(
            "snapshot: {} already exists",
            dest.display()
        )));
    }
    let from = Connection::open_with_flags(
        src,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    from.busy_timeout(std::time::Duration::from_secs(30))?;
    let mut to = Connection::open(dest)?;
    {
        use rusqlite::backup::{Backup, StepResult};
        let backup = Backup::new(&from, &mut to)?;
        // All pages in one step (-1): one read transaction, hence one consistent state.
        let mut retries = 0;
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More => {}
                _ if retries < 300 => {
                    // Busy or locked by a writer: try again shortly.
                    retries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                _ => {
                    return Err(StoreError::Conflict(
                        "snapshot: the database stayed locked for 30 seconds".into(),
                    ))
                }
            }
        }
    }
    let verdict: String = to.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if verdict != "ok" {
        return Err(StoreError::Conflict(format!(
            "snapshot: the copy failed its integrity check: {verdict}"
        )));
    }
    // A self-contained file: no -wal beside it.
    to.pragma_update(None, "journal_mode", "DELETE")?;
    tracing::debug!(src = %src.display(), dest = %dest.display(), "database snapshot written");
    Ok(())
}

/// The schema version of a database file that no server has open (a snapshot), read-only.
pub fn database_schema_version(path: &Path) -> Result<i64> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    crate::migrate::current_version(&crate::db::Conn::Sqlite(conn))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewUser;

    #[test]
    fn snapshot_of_a_live_database_holds_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.write_check().unwrap();
        store
            .create_user(&NewUser {
                email: "a@example.com".into(),
                password: "pw-pw-pw-pw".into(),
                ..Default::default()
            })
            .unwrap();
        let dest = dir.path().join("copy.db");
        store.snapshot_to(&dest).unwrap();
        assert_eq!(
            database_schema_version(&dest).unwrap(),
            crate::SCHEMA_VERSION
        );
        assert!(store.snapshot_to(&dest).is_err(), "overwrote a snapshot");
        // Still writable while and after the copy.
        store.write_check().unwrap();
        let copy = tempfile::tempdir().unwrap();
        std::fs::copy(&dest, copy.path().join(DATABASE_FILE)).unwrap();
        std::fs::copy(
            dir.path().join("master.key"),
            copy.path().join("master.key"),
        )
        .unwrap();
        let restored = Store::open(copy.path()).unwrap();
        assert!(restored.user_by_email("a@example.com").unwrap().is_some());
    }
}
