//! Copying a whole SQLite store into an empty PostgreSQL one (`migrate-to-postgres`): every
//! table row for row in one PostgreSQL transaction, sealed secrets as they are (both stores
//! use the same master key), identity sequences moved past the copied ids, counts compared.

use crate::db::{Backend, Value};
use crate::{Result, Store, StoreError};

/// What one table's copy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    pub table: String,
    pub rows: usize,
}

impl Store {
    /// Copies every row of this (SQLite) store into `to` (PostgreSQL, just migrated, empty),
    /// calling `progress` after each table. Nothing is written when `to` holds any data.
    pub fn copy_into(
        &self,
        to: &Store,
        mut progress: impl FnMut(&TableCopy),
    ) -> Result<Vec<TableCopy>> {
        if self.backend() != Backend::Sqlite || to.backend() != Backend::Postgres {
            return Err(StoreError::Conflict(
                "copy: from a SQLite store into a PostgreSQL store only".into(),
            ));
        }
        if self.schema_version()? != to.schema_version()? {
            return Err(StoreError::Conflict(
                "copy: the two databases are at different schema versions".into(),
            ));
        }
        let from = self.conn();
        // Creation order: a table's references were created (and are copied) before it.
        let tables: Vec<String> = from
            .query_map(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
                   AND name <> 'schema_migrations' ORDER BY rowid",
                [],
                |r| r.get(0),
            )?
            .collect::<rusqlite::Result<_>>()?;
        let target = to.conn();
        for t in &tables {
            let n: i64 =
                target.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))?;
            if n > 0 {
                return Err(StoreError::Conflict(format!(
                    "copy: the PostgreSQL database is not empty (table {t} has {n} rows): \
                     give an empty database"
                )));
            }
        }
        let tx = target.transaction()?;
        let mut done = Vec::new();
        for t in &tables {
            let cols: Vec<String> = from
                .query_map(
                    &format!("SELECT name FROM pragma_table_info('{t}')"),
                    [],
                    |r| r.get(0),
                )?
                .collect::<rusqlite::Result<_>>()?;
            let list = cols.join(", ");
            let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
            let insert = format!("INSERT INTO {t} ({list}) VALUES ({})", marks.join(", "));
            let rows =
                from.query_map(&format!("SELECT {list} FROM {t} ORDER BY rowid"), [], |r| {
                    (0..cols.len())
                        .map(|i| r.get::<_, Value>(i))
                        .collect::<rusqlite::Result<Vec<Value>>>()
                })?;
            let mut n = 0;
            for row in rows {
                tx.execute(&insert, row?)?;
                n += 1;
            }
            if cols.iter().any(|c| c == "id") {
                // NULL (nothing moved) for an id that is not an identity (server_health).
                tx.query_row(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{t}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {t}"
                    ),
                    [],
                    |_| Ok(()),
                )?;
            }
            let copy = TableCopy {
                table: t.clone(),
                rows: n,
            };
            progress(&copy);
            done.push(copy);
        }
        for c in &done {
            let n: i64 = tx.query_row(&format!("SELECT COUNT(*) FROM {}", c.table), [], |r| {
                r.get(0)
            })?;
            if n as usize != c.rows {
                return Err(StoreError::Conflict(format!(
                    "copy: table {} has {n} rows after the copy, not {}: nothing was kept",
                    c.table, c.rows
                )));
            }
        }
        tx.commit()?;
        Ok(done)
    }
}
