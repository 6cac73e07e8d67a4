//! One connection API over the two databases the store runs on: SQLite (the embedded default)
//! and PostgreSQL (several nodes). Store code writes SQLite-flavoured SQL with `?N` parameters
//! and reads rows with SQLite's loose typing; on PostgreSQL the text is translated once
//! (`pg::translate`) and every value goes through the same `rusqlite` conversions, so a store
//! function behaves alike on both.
//!
//! What the shared SQL avoids, because PostgreSQL refuses it: an integer flag used as a boolean
//! (`WHERE enabled` — write `enabled <> 0`), `WHERE 1`, `IS ?`, `SUM(a = b)`, a parameter
//! whose first use gives it no type (`?1 IS NULL OR x = ?1` — write `x = ?1 OR ?1 IS NULL`),
//! and bare columns beside aggregates.

mod args;
mod pg;
mod row;

pub(crate) use args::Args;
pub use pg::PgConfig;
pub(crate) use row::Row;
pub(crate) use rusqlite::params;
pub(crate) use rusqlite::types::Value;

use std::cell::RefCell;
use std::ops::Deref;

/// An error of either database, or a row that did not convert.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgresql: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("query returned no rows")]
    NoRows,
}

impl DbError {
    /// Whether the statement failed on a UNIQUE constraint.
    pub(crate) fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            }
            DbError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }

    /// Whether retrying later may succeed: a busy SQLite file, a PostgreSQL serialization
    /// failure or deadlock, or a lost connection to PostgreSQL.
    pub(crate) fn is_transient(&self) -> bool {
        use postgres::error::SqlState;
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::DatabaseBusy
                    || e.code == rusqlite::ErrorCode::DatabaseLocked
            }
            DbError::Postgres(e) => match e.code() {
                Some(c) => {
                    c == &SqlState::T_R_SERIALIZATION_FAILURE
                        || c == &SqlState::T_R_DEADLOCK_DETECTED
                        || c == &SqlState::LOCK_NOT_AVAILABLE
                        || c.code().starts_with("08")
                }
                None => e.is_closed(),
            },
            _ => false,
        }
    }
}

pub(crate) type DbResult<T> = std::result::Result<T, DbError>;

/// `.optional()` on a single-row result: no row becomes `None`.
pub(crate) trait OptionalExtension<T> {
    fn optional(self) -> DbResult<Option<T>>;
}

impl<T> OptionalExtension<T> for DbResult<T> {
    fn optional(self) -> DbResult<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRows) | Err(DbError::Sqlite(rusqlite::Error::QueryReturnedNoRows)) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// Which database a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One database connection. Methods take `&self` (as rusqlite's do); a PostgreSQL client is
/// used by one caller at a time, which the store's mutex and pool guarantee.
pub(crate) enum Conn {
    Sqlite(rusqlite::Connection),
    Pg(Box<RefCell<pg::PgConn>>),
}

impl Conn {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Pg(_) => Backend::Postgres,
        }
    }

    /// The SQLite connection, for SQLite-only maintenance (pragmas, snapshots).
    pub(crate) fn sqlite(&self) -> Option<&rusqlite::Connection> {
        match self {
            Conn::Sqlite(c) => Some(c),
            Conn::Pg(_) => None,
        }
    }

    /// Runs one statement; the number of rows changed.
    pub(crate) fn execute(&self, sql: &str, args: impl Args) -> DbResult<usize> {
        match self {
            Conn::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                Ok(st.execute(rusqlite::params_from_iter(args.values()))?)
            }
            Conn::Pg(c) => c.borrow_mut().execute(sql, args.values()),
        }
    }

    /// Runs an INSERT into a table with an `id` key; the new row's id.
    pub(crate) fn insert(&self, sql: &str, args: impl Args) -> DbResult<i64> {
        match self {
            Conn::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                st.execute(rusqlite::params_from_iter(args.values()))?;
                Ok(c.last_insert_rowid())
            }
            Conn::Pg(c) => {
                let rows = c
                    .borrow_mut()
                    .query(&format!("{sql} RETURNING id"), args.values())?;
                let first = rows.first().ok_or(DbError::NoRows)?;
                Ok(Row::Owned(first).get(0)?)
            }
        }
    }

    /// Runs several `;`-separated statements without parameters.
    pub(crate) fn execute_batch(&self, sql: &str) -> DbResult<()> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Pg(c) => c.borrow_mut().batch(sql),
        }
    }

    /// The first row mapped by `f`; [`DbError::NoRows`] when there is none.
    pub(crate) fn query_row<T>(
        &self,
        sql: &str,
        args: impl Args,
        f: impl FnOnce(&Row) -> rusqlite::Result<T>,
    ) -> DbResult<T> {
        match self {
            Conn::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let mut rows = st.query(rusqlite::params_from_iter(args.values()))?;
                match rows.next()? {
                    Some(r) => Ok(f(&Row::Sqlite(r))?),
                    None => Err(DbError::NoRows),
                }
            }
            Conn::Pg(c) => {
                let rows = c.borrow_mut().query(sql, args.values())?;
                let first = rows.first().ok_or(DbError::NoRows)?;
                Ok(f(&Row::Owned(first))?)
            }
        }
    }

    /// Every row mapped by `f`, in order; a row that does not map is an error of its own.
    pub(crate) fn query_map<T>(
        &self,
        sql: &str,
        args: impl Args,
        mut f: impl FnMut(&Row) -> rusqlite::Result<T>,
    ) -> DbResult<std::vec::IntoIter<rusqlite::Result<T>>> {
        let mut out = Vec::new();
        match self {
            Conn::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let mut rows = st.query(rusqlite::params_from_iter(args.values()))?;
                while let Some(r) = rows.next()? {
                    out.push(f(&Row::Sqlite(r)));
                }
            }
            Conn::Pg(c) => {
                let rows = c.borrow_mut().query(sql, args.values())?;
                out.reserve(rows.len());
                for r in &rows {
                    out.push(f(&Row::Owned(r)));
                }
            }
        }
        Ok(out.into_iter())
    }

    /// A statement to run once or more (rows are read eagerly on either database).
    pub(crate) fn prepare(&self, sql: &str) -> DbResult<Stmt<'_>> {
        Ok(Stmt {
            conn: self,
            sql: sql.to_string(),
        })
    }

    /// Starts a transaction that commits on [`Tx::commit`] and rolls back when dropped before.
    pub(crate) fn transaction(&self) -> DbResult<Tx<'_>> {
        match self {
            Conn::Sqlite(c) => c.execute_batch("BEGIN")?,
            Conn::Pg(c) => c.borrow_mut().batch("BEGIN")?,
        }
        Ok(Tx {
            conn: self,
            open: true,
        })
    }

    /// A transaction that reads then writes: on SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so that another connection cannot write between its reads and its
    /// writes (PostgreSQL callers lock what they read themselves).
    pub(crate) fn write_transaction(&self) -> DbResult<Tx<'_>> {
        match self {
            Conn::Sqlite(c) => c.execute_batch("BEGIN IMMEDIATE")?,
            Conn::Pg(c) => c.borrow_mut().batch("BEGIN")?,
        }
        Ok(Tx {
            conn: self,
            open: true,
        })
    }
}

/// A statement bound to its connection, rusqlite style (`prepare` then `query_map`).
pub(crate) struct Stmt<'a> {
    conn: &'a Conn,
    sql: String,
}

impl Stmt<'_> {
    pub(crate) fn query_map<T>(
        &mut self,
        args: impl Args,
        f: impl FnMut(&Row) -> rusqlite::Result<T>,
    ) -> DbResult<std::vec::IntoIter<rusqlite::Result<T>>> {
        self.conn.query_map(&self.sql, args, f)
    }

    pub(crate) fn execute(&mut self, args: impl Args) -> DbResult<usize> {
        self.conn.execute(&self.sql, args)
    }

    pub(crate) fn query_row<T>(
        &mut self,
        args: impl Args,
        f: impl FnOnce(&Row) -> rusqlite::Result<T>,
    ) -> DbResult<T> {
        self.conn.query_row(&self.sql, args, f)
    }

    /// Every row, as values, to walk with [`Rows::next`].
    pub(crate) fn query(&mut self, args: impl Args) -> DbResult<Rows> {
        let rows = self.conn.query_map(&self.sql, args, |r| {
            (0..r.len())
                .map(|i| r.get::<_, Value>(i))
                .collect::<rusqlite::Result<Vec<Value>>>()
        })?;
        Ok(Rows {
            rows: rows.collect::<rusqlite::Result<_>>()?,
            at: 0,
        })
    }
}

/// The rows of [`Stmt::query`], read one after the other.
pub(crate) struct Rows {
    rows: Vec<Vec<Value>>,
    at: usize,
}

impl Rows {
    #[allow(clippy::should_implement_trait)] // rows lend themselves: not an `Iterator`
    pub(crate) fn next(&mut self) -> DbResult<Option<Row<'_>>> {
        let row = self.rows.get(self.at).map(|r| Row::Owned(r));
        self.at += 1;
        Ok(row)
    }
}

/// An open transaction; statements run through it (it derefs to its connection).
pub(crate) struct Tx<'a> {
    conn: &'a Conn,
    open: bool,
}

impl Tx<'_> {
    pub(crate) fn commit(mut self) -> DbResult<()> {
        self.open = false;
        self.conn.execute_batch("COMMIT")
    }
}

impl Deref for Tx<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::warn!(error = %e, "rollback failed");
            }
        }
    }
}

#[cfg(test)]
mod tests;
