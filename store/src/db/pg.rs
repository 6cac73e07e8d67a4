//! The PostgreSQL side of [`super::Conn`]: a client with a statement cache, SQL translated from
//! the store's SQLite dialect, and values moved in both directions as SQLite values.

use super::DbResult;
use postgres::types::{FromSql, IsNull, ToSql, Type};
use rusqlite::types::Value;
use std::collections::HashMap;
use std::error::Error as StdError;

/// Statements kept prepared per connection; the cache is emptied when it grows past this.
const CACHE_LIMIT: usize = 512;

/// Where the PostgreSQL database is: a `postgres://user:password@host:port/db` URL.
#[derive(Clone)]
pub struct PgConfig {
    url: String,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never print it.
        f.write_str("PgConfig(..)")
    }
}

impl PgConfig {
    /// Checks the URL's form (not that the server answers).
    pub fn parse(url: &str) -> Result<PgConfig, String> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err("must start with postgres:// or postgresql://".into());
        }
        url.parse::<postgres::Config>()
            .map_err(|e| format!("is not a PostgreSQL URL: {e}"))?;
        Ok(PgConfig { url: url.into() })
    }

    /// The URL with its password replaced, for logs and status pages.
    pub fn redacted(&self) -> String {
        match self.url.parse::<postgres::Config>() {
            Ok(c) => format!(
                "postgres://{}@{}/{}",
                c.get_user().unwrap_or(""),
                c.get_hosts()
                    .iter()
                    .map(|h| match h {
                        postgres::config::Host::Tcp(h) => h.clone(),
                        postgres::config::Host::Unix(p) => p.display().to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                c.get_dbname().unwrap_or("")
            ),
            Err(_) => "postgres://…".into(),
        }
    }

    pub(crate) fn connect(&self) -> DbResult<PgConn> {
        let client = blocking(|| postgres::Client::connect(&self.url, postgres::NoTls))?;
        Ok(PgConn {
            client: Some(client),
            cache: HashMap::new(),
        })
    }
}

impl PgConfig {
    /// A connection of its own that listens on `channel`.
    pub(crate) fn listen(&self, channel: &str) -> DbResult<crate::bus::Listening> {
        let mut client = blocking(|| postgres::Client::connect(&self.url, postgres::NoTls))?;
        blocking(|| client.batch_execute(&format!("LISTEN {channel}")))?;
        Ok(crate::bus::Listening { client })
    }
}

/// Runs `f`, which blocks on the PostgreSQL client's own runtime, also when called from inside
/// a tokio runtime (where the client cannot block): off the worker with `block_in_place` on a
/// multi-threaded runtime, on a thread of its own on a current-thread one (tests).
pub(crate) fn blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        Ok(_) => std::thread::scope(|s| match s.spawn(f).join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
        Err(_) => f(),
    }
}

pub(crate) struct PgConn {
    /// Always `Some` but while dropping.
    client: Option<postgres::Client>,
    cache: HashMap<String, postgres::Statement>,
}

impl Drop for PgConn {
    fn drop(&mut self) {
        // Closing the client blocks on its runtime: not on a tokio worker.
        let cache = std::mem::take(&mut self.cache);
        let client = self.client.take();
        blocking(move || {
            drop(cache);
            drop(client);
        });
    }
}

impl PgConn {
    fn client(&mut self) -> DbResult<&mut postgres::Client> {
        self.client.as_mut().ok_or(super::DbError::NoRows)
    }

    fn statement(&mut self, sql: &str) -> DbResult<postgres::Statement> {
        if let Some(st) = self.cache.get(sql) {
            return Ok(st.clone());
        }
        let translated = translate(sql);
        let client = self.client()?;
        let st = blocking(|| client.prepare(&translated))?;
        if self.cache.len() >= CACHE_LIMIT {
            self.cache.clear();
        }
        self.cache.insert(sql.to_string(), st.clone());
        Ok(st)
    }

    pub(crate) fn execute(&mut self, sql: &str, args: Vec<Value>) -> DbResult<usize> {
        let st = self.statement(sql)?;
        let params: Vec<Param> = args.into_iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let client = self.client()?;
        Ok(blocking(|| client.execute(&st, &refs))? as usize)
    }

    pub(crate) fn query(&mut self, sql: &str, args: Vec<Value>) -> DbResult<Vec<Vec<Value>>> {
        let st = self.statement(sql)?;
        let params: Vec<Param> = args.into_iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let client = self.client()?;
        let rows = blocking(|| client.query(&st, &refs))?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| Ok(r.try_get::<_, Cell>(i)?.0))
                    .collect::<DbResult<Vec<Value>>>()
            })
            .collect()
    }

    pub(crate) fn batch(&mut self, sql: &str) -> DbResult<()> {
        let translated = translate(sql);
        let client = self.client()?;
        blocking(|| client.batch_execute(&translated))?;
        Ok(())
    }
}

/// Rewrites SQLite-flavoured SQL for PostgreSQL: `?N` and `?` placeholders become `$N`,
/// `LIKE` matches case-insensitively as SQLite's does (`ILIKE`), `INSERT OR IGNORE` becomes
/// `ON CONFLICT DO NOTHING`, and `REAL` casts keep double precision. Quoted text is left alone.
pub(crate) fn translate(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut next = 0usize;
    let mut chars = sql.char_indices().peekable();
    let mut ignore = false;
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for (_, d) in chars.by_ref() {
                    out.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '?' => {
                let mut digits = String::new();
                while let Some((_, d)) = chars.peek().copied().filter(|(_, d)| d.is_ascii_digit()) {
                    digits.push(d);
                    chars.next();
                }
                let n = if digits.is_empty() {
                    next += 1;
                    next
                } else {
                    digits.parse().unwrap_or(0)
                };
                next = next.max(n);
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ if word_at(sql, i, "INSERT OR IGNORE") => {
                out.push_str("INSERT");
                ignore = true;
                for _ in 0.."INSERT OR IGNORE".len() - 1 {
                    chars.next();
                }
            }
            _ if word_at(sql, i, "LIKE") => {
                out.push_str("ILIKE");
                for _ in 0..3 {
                    chars.next();
                }
            }
            _ if word_at(sql, i, "AS REAL") => {
                out.push_str("AS DOUBLE PRECISION");
                for _ in 0.."AS REAL".len() - 1 {
                    chars.next();
                }
            }
            _ => out.push(c),
        }
    }
    if ignore {
        let trimmed = out.trim_end().trim_end_matches(';').to_string();
        out = format!("{trimmed} ON CONFLICT DO NOTHING");
    }
    out
}

/// Whether `word` (ASCII, any case) starts at byte `i` of `sql` as whole words.
fn word_at(sql: &str, i: usize, word: &str) -> bool {
    let b = sql.as_bytes();
    let end = i + word.len();
    end <= b.len()
        && sql.is_char_boundary(end)
        && sql[i..end].eq_ignore_ascii_case(word)
        && (i == 0 || !is_ident(b[i - 1]))
        && (end == b.len() || !is_ident(b[end]))
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A parameter, encoded for whatever type PostgreSQL inferred for its placeholder.
#[derive(Debug)]
struct Param(Value);

impl ToSql for Param {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        use bytes::BufMut;
        let as_text = |out: &mut bytes::BytesMut, s: &str| {
            out.put_slice(s.as_bytes());
            Ok(IsNull::No)
        };
        match (&self.0, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Integer(i), &Type::INT8) => i.to_sql(ty, out),
            (Value::Integer(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (Value::Integer(i), &Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
            (Value::Integer(i), &Type::BOOL) => (*i != 0).to_sql(ty, out),
            (Value::Integer(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Value::Integer(i), &Type::FLOAT4) => (*i as f32).to_sql(ty, out),
            (Value::Integer(i), _) if is_text(ty) => as_text(out, &i.to_string()),
            (Value::Real(f), &Type::FLOAT8) => f.to_sql(ty, out),
            (Value::Real(f), &Type::FLOAT4) => (*f as f32).to_sql(ty, out),
            (Value::Real(f), &Type::INT8) => (*f as i64).to_sql(ty, out),
            (Value::Real(f), _) if is_text(ty) => as_text(out, &f.to_string()),
            (Value::Text(s), _) if is_text(ty) => as_text(out, s),
            (Value::Text(s), &Type::INT8) => s.trim().parse::<i64>()?.to_sql(ty, out),
            (Value::Text(s), &Type::BYTEA) => s.as_bytes().to_sql(ty, out),
            (Value::Blob(b), &Type::BYTEA) => b.as_slice().to_sql(ty, out),
            (v, ty) => Err(format!("cannot bind a {:?} value as {ty}", v.data_type()).into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// Text-like types, including extension types (`citext`) that have no fixed oid.
fn is_text(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
    ) || ty.name() == "citext"
}

/// A result column as a SQLite value.
struct Cell(Value);

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        let v = match *ty {
            Type::BOOL => Value::Integer(bool::from_sql(ty, raw)?.into()),
            Type::INT2 => Value::Integer(i16::from_sql(ty, raw)?.into()),
            Type::INT4 => Value::Integer(i32::from_sql(ty, raw)?.into()),
            Type::INT8 => Value::Integer(i64::from_sql(ty, raw)?),
            Type::OID => Value::Integer(u32::from_sql(ty, raw)?.into()),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::NUMERIC => numeric(raw)?,
            Type::BYTEA => Value::Blob(raw.to_vec()),
            _ => Value::Text(std::str::from_utf8(raw)?.to_string()),
        };
        Ok(Cell(v))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(Cell(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Decodes PostgreSQL's binary NUMERIC (what `SUM` and `AVG` of integers return): an integer
/// when it has no fraction and fits, a float otherwise.
fn numeric(raw: &[u8]) -> Result<Value, Box<dyn StdError + Sync + Send>> {
    let word = |i: usize| -> Result<u16, Box<dyn StdError + Sync + Send>> {
        raw.get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "short numeric".into())
    };
    let ndigits = word(0)? as usize;
    let weight = word(2)? as i16;
    let sign = word(4)?;
    if sign == 0xC000 {
        return Ok(Value::Real(f64::NAN));
    }
    let mut int: i128 = 0;
    let mut frac = 0f64;
    let mut exact = true;
    for k in 0..ndigits {
        let d = word(8 + 2 * k)? as i128;
        let power = weight as i32 - k as i32;
        if power >= 0 {
            let scale = 10_000i128
                .checked_pow(power as u32)
                .ok_or("numeric out of range")?;
            int = d
                .checked_mul(scale)
                .and_then(|x| int.checked_add(x))
                .ok_or("numeric out of range")?;
        } else {
            exact = false;
            frac += d as f64 * 10_000f64.powi(power);
        }
    }
    let negative = sign == 0x4000;
    if exact || frac == 0.0 {
        let v = if negative { -int } else { int };
        if let Ok(i) = i64::try_from(v) {
            return Ok(Value::Integer(i));
        }
    }
    let v = int as f64 + frac;
    Ok(Value::Real(if negative { -v } else { v }))
}
