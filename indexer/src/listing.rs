//! Parsing of `borg list --json-lines` entries and the hashes that identify file versions.

use crate::error::CatalogError;
use crate::fastparse;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use std::borrow::Cow;

/// One line of a borg 1.2 listing, borrowed from the line buffer where possible.
#[derive(Debug, Deserialize)]
struct RawEntry<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    mode: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    group: Option<Cow<'a, str>>,
    #[serde(borrow)]
    path: Cow<'a, str>,
    #[serde(default)]
    healthy: Option<bool>,
    #[serde(borrow, default)]
    linktarget: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    mtime: Option<Cow<'a, str>>,
    #[serde(default)]
    size: Option<u64>,
}

/// A parsed listing entry, with its path normalised to a leading `/`. Other strings borrow
/// from the line when it has no escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry<'a> {
    pub path: String,
    pub file_type: Cow<'a, str>,
    pub mode: Cow<'a, str>,
    pub user: Cow<'a, str>,
    pub group: Cow<'a, str>,
    pub healthy: bool,
    pub linktarget: Cow<'a, str>,
    /// Microseconds since the epoch (UTC).
    pub mtime: i64,
    pub size: u64,
}

impl<'a> Entry<'a> {
    /// Parses one JSON line; `line` is the 1-based line number used in errors.
    pub fn parse(bytes: &'a [u8], line: u64) -> Result<Entry<'a>, CatalogError> {
        if let Some(f) = fastparse::parse(bytes) {
            if let (Some(kind), Some(path)) = (f.kind, f.path) {
                let rel = path.trim_start_matches('/').trim_end_matches('/');
                let mtime = f.mtime.map(|s| (s, fastparse::mtime_micros(s)));
                if !rel.is_empty() && !matches!(mtime, Some((_, None))) {
                    let mut abs = String::with_capacity(rel.len() + 1);
                    abs.push('/');
                    abs.push_str(rel);
                    let b = |v: Option<&'a str>| Cow::Borrowed(v.unwrap_or(""));
                    return Ok(Entry {
                        path: abs,
                        file_type: Cow::Borrowed(kind),
                        mode: b(f.mode),
                        user: b(f.user),
                        group: b(f.group),
                        healthy: f.healthy.unwrap_or(true),
                        linktarget: b(f.linktarget),
                        mtime: mtime.and_then(|m| m.1).unwrap_or(0),
                        size: f.size.unwrap_or(0),
                    });
                }
            }
        }
        let raw: RawEntry<'_> =
            serde_json::from_slice(bytes).map_err(|e| CatalogError::Listing {
                line,
                message: e.to_string(),
            })?;
        let rel = raw.path.trim_start_matches('/').trim_end_matches('/');
        if rel.is_empty() {
            return Err(CatalogError::Listing {
                line,
                message: "empty path".into(),
            });
        }
        let mtime = match raw.mtime.as_deref() {
            Some(s) => parse_mtime(s).ok_or_else(|| CatalogError::Listing {
                line,
                message: format!("bad mtime {s:?}"),
            })?,
            None => 0,
        };
        let own = |v: Option<Cow<'a, str>>| v.unwrap_or_default();
        Ok(Entry {
            path: format!("/{rel}"),
            file_type: raw.kind,
            mode: own(raw.mode),
            user: own(raw.user),
            group: own(raw.group),
            healthy: raw.healthy.unwrap_or(true),
            linktarget: own(raw.linktarget),
            mtime,
            size: raw.size.unwrap_or(0),
        })
    }

    /// A directory entry standing for an ancestor the listing does not contain (borg 1.2
    /// does not archive the parents of the paths given to `borg create`). Its attributes are
    /// constant so it is one version for the whole series.
    pub fn synthetic_dir(path: &str) -> Entry<'static> {
        Entry {
            path: path.to_string(),
            file_type: Cow::Borrowed("d"),
            mode: Cow::Borrowed(""),
            user: Cow::Borrowed(""),
            group: Cow::Borrowed(""),
            healthy: true,
            linktarget: Cow::Borrowed(""),
            mtime: 0,
            size: 0,
        }
    }

    /// Identity of the version: hash of (path, type, size, mtime, mode, user, group, link).
    pub fn version_key(&self) -> u128 {
        let mut h = fastparse::Hash2::new();
        for part in [
            self.path.as_bytes(),
            self.file_type.as_bytes(),
            &self.size.to_le_bytes(),
            &self.mtime.to_le_bytes(),
            self.mode.as_bytes(),
            self.user.as_bytes(),
            self.group.as_bytes(),
            self.linktarget.as_bytes(),
        ] {
            h.field(part);
        }
        h.finish128()
    }

    /// File name: the last path component.
    pub fn name(&self) -> &str {
        name_of(&self.path)
    }
}

/// Last component of a `/`-separated path.
pub(crate) fn name_of(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Parent directory of an absolute path (`/` for top-level entries), or None for `/`.
pub(crate) fn parent_of(path: &str) -> Option<&str> {
    let idx = path.rfind('/')?;
    if path.len() <= 1 {
        return None;
    }
    Some(if idx == 0 { "/" } else { &path[..idx] })
}

/// Hash of a path alone, used to pair versions of the same path in change statistics.
pub(crate) fn path_hash(path: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in path.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Parses borg's `mtime` (local time without a zone; borg runs with TZ=UTC) into
/// microseconds since the epoch. Also accepts RFC 3339 with an offset.
pub(crate) fn parse_mtime(s: &str) -> Option<i64> {
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc().timestamp_micros());
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc).timestamp_micros())
}

/// Converts stored microseconds back to a UTC time.
pub(crate) fn micros_to_time(us: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(us).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_borg_line() {
        let line = br#"{"type": "-", "mode": "-rw-r--r--", "user": "root", "group": "root", "uid": 0, "gid": 0, "path": "etc/nginx/nginx.conf", "healthy": true, "source": "", "linktarget": "", "flags": 0, "mtime": "2026-11-27T10:00:00.000000", "size": 42}"#;
        let e = Entry::parse(line, 1).expect("parse");
        assert_eq!(e.path, "/etc/nginx/nginx.conf");
        assert_eq!(e.name(), "nginx.conf");
        assert_eq!(e.size, 42);
        assert_eq!(
            micros_to_time(e.mtime).to_rfc3339(),
            "2026-11-27T10:00:00+00:00"
        );
        let err = Entry::parse(b"{not json", 7).expect_err("bad line");
        assert!(err.to_string().starts_with("listing line 7"));
    }

    #[test]
    fn parents() {
        assert_eq!(parent_of("/etc/nginx"), Some("/etc"));
        assert_eq!(parent_of("/etc"), Some("/"));
        assert_eq!(parent_of("/"), None);
    }
}
