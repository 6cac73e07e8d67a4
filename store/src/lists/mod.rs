//! Paged lists with filters and orderings pushed into SQL. Pages are keyset pages on
//! (sort key, id): a cursor holds the last row's sort key and id, so it stays stable when rows
//! are inserted before or after it, and a page costs one indexed range scan plus a count.

mod inventory;
mod jobs;

pub use inventory::{
    ApiTokenListOptions, ApiTokenOrder, ClientListOptions, ClientOrder, PolicyListOptions,
    PolicyOrder, RepositoryListOptions, RepositoryOrder, ScheduleListOptions, ScheduleOrder,
    UserListOptions, UserOrder,
};
pub use jobs::{ArchiveListOptions, ArchiveOrder, JobListOptions, JobOrder};

use crate::db::Row;
use crate::db::Value;
use crate::{Result, Store};
use serde::{Deserialize, Serialize};

/// The most rows one page may hold.
pub const MAX_PAGE: i64 = 500;

/// The value of a sort key as a cursor carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortKey {
    Int(i64),
    Real(f64),
    Text(String),
}

impl SortKey {
    fn to_sql(&self) -> Value {
        match self {
            SortKey::Int(i) => Value::Integer(*i),
            SortKey::Real(f) => Value::Real(*f),
            SortKey::Text(t) => Value::Text(t.clone()),
        }
    }

    fn from_sql(v: Value) -> SortKey {
        match v {
            Value::Integer(i) => SortKey::Int(i),
            Value::Real(f) => SortKey::Real(f),
            Value::Text(t) => SortKey::Text(t),
            Value::Blob(b) => SortKey::Text(String::from_utf8_lossy(&b).into_owned()),
            Value::Null => SortKey::Text(String::new()),
        }
    }
}

/// Where a page starts: after the row with this sort key and id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "k")]
    pub key: SortKey,
    #[serde(rename = "i")]
    pub id: i64,
}

/// Which page to read: `first` rows (clamped to 1..=[`MAX_PAGE`]) after `after`.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub first: i64,
    pub after: Option<Cursor>,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            first: 50,
            after: None,
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The cursor of the last item (pass it as `after` for the next page).
    pub end_cursor: Option<Cursor>,
    pub has_next_page: bool,
    /// Rows matching the filters, over every page.
    pub total_count: i64,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            end_cursor: self.end_cursor,
            has_next_page: self.has_next_page,
            total_count: self.total_count,
        }
    }
}

/// A sort: an SQL expression that is never NULL, and its direction. Ties break on `id` in the
/// same direction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sort {
    pub expr: &'static str,
    pub desc: bool,
}

pub(crate) const fn asc(expr: &'static str) -> Sort {
    Sort { expr, desc: false }
}

pub(crate) const fn desc(expr: &'static str) -> Sort {
    Sort { expr, desc: true }
}

/// A SELECT being built: table, columns, WHERE terms and their arguments.
pub(crate) struct Select {
    from: &'static str,
    id: &'static str,
    cols: String,
    filters: Vec<String>,
    args: Vec<Value>,
}

impl Select {
    pub fn new(from: &'static str, id: &'static str, cols: String) -> Select {
        Select {
            from,
            id,
            cols,
            filters: Vec::new(),
            args: Vec::new(),
        }
    }

    /// Adds a WHERE term whose `?` placeholders take `args` in order.
    pub fn filter(&mut self, sql: &str, args: impl IntoIterator<Item = Value>) -> &mut Self {
        self.filters.push(sql.to_string());
        self.args.extend(args);
        self
    }

    /// `column = value` when the value is set.
    pub fn eq(&mut self, column: &str, value: Option<impl Into<Value>>) -> &mut Self {
        if let Some(v) = value {
            self.filter(&format!("{column} = ?"), [v.into()]);
        }
        self
    }

    /// A case-insensitive substring of any of `columns`, when `text` is set and not blank.
    pub fn search(&mut self, columns: &[&str], text: Option<&str>) -> &mut Self {
        let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return self;
        };
        let escaped = t
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        let terms: Vec<String> = columns
            .iter()
            .map(|c| format!("{c} LIKE ? ESCAPE '\\'"))
            .collect();
        let args = columns.iter().map(|_| Value::Text(pattern.clone()));
        self.filter(&format!("({})", terms.join(" OR ")), args);
        self
    }

    fn where_sql(&self, extra: Option<&str>) -> String {
        let mut terms: Vec<&str> = self.filters.iter().map(String::as_str).collect();
        terms.extend(extra);
        if terms.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", terms.join(" AND "))
        }
    }
}

impl Store {
    /// Runs `q` as one page sorted by `sort`, mapping each row with `row` (which reads the
    /// columns of `q` from index 0; the sort key follows them).
    pub(crate) fn page<T>(
        &self,
        q: &Select,
        sort: Sort,
        page: &PageRequest,
        row: impl Fn(&Row) -> rusqlite::Result<T>,
    ) -> Result<Page<T>> {
        let first = page.first.clamp(1, MAX_PAGE);
        let read = self.read();
        // One snapshot for the count and the page, so that both agree.
        let conn = read.transaction()?;
        let total_count: i64 = conn.query_row(
            &format!("SELECT COUNT(*) FROM {}{}", q.from, q.where_sql(None)),
            &q.args,
            |r| r.get(0),
        )?;
        let (dir, cmp) = if sort.desc {
            ("DESC", "<")
        } else {
            ("ASC", ">")
        };
        let mut args = q.args.clone();
        let after = page.after.as_ref().map(|c| {
            args.push(c.key.to_sql());
            args.push(Value::Integer(c.id));
            format!("({}, {}) {cmp} (?, ?)", sort.expr, q.id)
        });
        args.push(Value::Integer(first + 1));
        // The sort key and the id follow the columns `row` reads.
        let sql = format!(
            "SELECT {}, {}, {} FROM {}{} ORDER BY {} {dir}, {} {dir} LIMIT ?",
            q.cols,
            sort.expr,
            q.id,
            q.from,
            q.where_sql(after.as_deref()),
            sort.expr,
            q.id,
        );
        let mut st = conn.prepare(&sql)?;
        let mut rows = st.query(args)?;
        let mut items = Vec::new();
        let mut end_cursor = None;
        let mut has_next_page = false;
        while let Some(r) = rows.next()? {
            if items.len() as i64 == first {
                has_next_page = true;
                break;
            }
            let key_at = r.len() - 2;
            let id_at = r.len() - 1;
            items.push(row(&r)?);
            end_cursor = Some(Cursor {
                key: SortKey::from_sql(r.get(key_at)?),
                id: r.get(id_at)?,
            });
        }
        Ok(Page {
            items,
            end_cursor,
            has_next_page,
            total_count,
        })
    }
}

/// An optional bool as an SQL value.
pub(crate) fn flag(v: Option<bool>) -> Option<Value> {
    v.map(|b| Value::Integer(b.into()))
}
