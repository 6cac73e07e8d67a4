//! One result row: a live SQLite row, or a PostgreSQL row already turned into SQLite values.
//! Either way a column is read with `rusqlite`'s conversions (`FromSql`), so an integer column
//! reads as `bool`, `i64` or `Option<i64>` alike on both databases.

use rusqlite::types::{FromSql, FromSqlError, Value, ValueRef};

/// A column position (the store reads columns by index only).
pub(crate) trait ColumnIndex {
    fn index(self) -> usize;
}

impl ColumnIndex for usize {
    fn index(self) -> usize {
        self
    }
}

/// One row of a result.
pub(crate) enum Row<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Owned(&'a [Value]),
}

impl Row<'_> {
    /// Column `idx` converted to `T` (a `rusqlite` result, so row mappers read alike on both
    /// databases).
    pub(crate) fn get<I: ColumnIndex, T: FromSql>(&self, idx: I) -> rusqlite::Result<T> {
        let index = idx.index();
        match self {
            Row::Sqlite(r) => r.get(index),
            Row::Owned(values) => {
                let v = values
                    .get(index)
                    .ok_or(rusqlite::Error::InvalidColumnIndex(index))?;
                T::column_result(ValueRef::from(v)).map_err(|e| match e {
                    FromSqlError::InvalidType => rusqlite::Error::InvalidColumnType(
                        index,
                        format!("column {index}"),
                        v.data_type(),
                    ),
                    FromSqlError::OutOfRange(i) => {
                        rusqlite::Error::IntegralValueOutOfRange(index, i)
                    }
                    other => rusqlite::Error::FromSqlConversionFailure(
                        index,
                        v.data_type(),
                        Box::new(other),
                    ),
                })
            }
        }
    }

    /// Number of columns.
    pub(crate) fn len(&self) -> usize {
        match self {
            Row::Sqlite(r) => r.as_ref().column_count(),
            Row::Owned(values) => values.len(),
        }
    }
}
