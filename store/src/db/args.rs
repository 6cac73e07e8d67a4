//! Statement parameters as the store writes them (`params![..]`, `[]`, `[x, y]`, a list of
//! values), turned into owned SQLite values that either database binds.

use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::ToSql;

/// Parameters of one statement, numbered from 1 in order.
pub(crate) trait Args {
    fn values(self) -> Vec<Value>;
}

fn owned(p: &dyn ToSql) -> Value {
    match p.to_sql() {
        Ok(ToSqlOutput::Owned(v)) => v,
        Ok(ToSqlOutput::Borrowed(r)) => match r {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(f) => Value::Real(f),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        },
        // Zero-blobs and other special outputs are not used by the store.
        Ok(_) | Err(_) => Value::Null,
    }
}

impl Args for &[&dyn ToSql] {
    fn values(self) -> Vec<Value> {
        self.iter().map(|p| owned(*p)).collect()
    }
}

impl Args for [&dyn ToSql; 0] {
    fn values(self) -> Vec<Value> {
        Vec::new()
    }
}

impl Args for Vec<Value> {
    fn values(self) -> Vec<Value> {
        self
    }
}

impl Args for &Vec<Value> {
    fn values(self) -> Vec<Value> {
        self.clone()
    }
}

impl Args for &[Value] {
    fn values(self) -> Vec<Value> {
        self.to_vec()
    }
}

macro_rules! array_args {
    ($($n:literal)*) => {$(
        impl<T: ToSql> Args for [T; $n] {
            fn values(self) -> Vec<Value> {
                self.iter().map(|p| owned(p)).collect()
            }
        }
        impl<T: ToSql> Args for &[T; $n] {
            fn values(self) -> Vec<Value> {
                self.iter().map(|p| owned(p)).collect()
            }
        }
    )*};
}

array_args!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
