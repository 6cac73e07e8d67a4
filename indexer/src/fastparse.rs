//! A fast path for the lines borg writes: a flat JSON object of strings without escapes,
//! numbers, booleans and nulls. Anything else (escapes, nesting, odd spacing) returns None
//! and the caller falls back to serde_json, which also produces the error messages.
//! Also a fast parser of borg's `mtime` format and a fast 128/64-bit hash.

use memchr::memchr2;

/// The fields of a borg line the catalog uses, borrowed from the line.
#[derive(Debug, Default)]
pub(crate) struct FastLine<'a> {
    pub kind: Option<&'a str>,
    pub mode: Option<&'a str>,
    pub user: Option<&'a str>,
    pub group: Option<&'a str>,
    pub path: Option<&'a str>,
    pub healthy: Option<bool>,
    pub linktarget: Option<&'a str>,
    pub mtime: Option<&'a str>,
    pub size: Option<u64>,
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// A string starting at the opening quote `i`: its text and the index after the closing quote.
fn string(b: &[u8], i: usize) -> Option<(&str, usize)> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let end = start + memchr2(b'"', b'\\', b.get(start..)?)?;
    if b[end] != b'"' {
        return None; // an escape: leave it to serde_json
    }
    let s = std::str::from_utf8(&b[start..end]).ok()?;
    Some((s, end + 1))
}

enum Val<'a> {
    Str(&'a str),
    Num(u64),
    Bool(bool),
    Other,
}

fn value(b: &[u8], i: usize) -> Option<(Val<'_>, usize)> {
    match *b.get(i)? {
        b'"' => string(b, i).map(|(s, j)| (Val::Str(s), j)),
        b't' if b.get(i..i + 4) == Some(b"true") => Some((Val::Bool(true), i + 4)),
        b'f' if b.get(i..i + 5) == Some(b"false") => Some((Val::Bool(false), i + 5)),
        b'n' if b.get(i..i + 4) == Some(b"null") => Some((Val::Other, i + 4)),
        b'0'..=b'9' => {
            let mut j = i;
            let mut n: u64 = 0;
            while let Some(d) = b.get(j).filter(|c| c.is_ascii_digit()) {
                n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
                j += 1;
            }
            if matches!(b.get(j), Some(b'.' | b'e' | b'E')) {
                return None;
            }
            Some((Val::Num(n), j))
        }
        _ => None,
    }
}

/// A string or null value: Some(Some(text)), Some(None) for null, None for another type.
fn opt_str<'a>(v: &Val<'a>) -> Option<Option<&'a str>> {
    match v {
        Val::Str(s) => Some(Some(*s)),
        Val::Other => Some(None),
        _ => None,
    }
}

/// Parses a flat object; None when the line needs the general parser.
pub(crate) fn parse(b: &[u8]) -> Option<FastLine<'_>> {
    let mut out = FastLine::default();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return Some(out);
    }
    loop {
        let (key, j) = string(b, i)?;
        i = skip_ws(b, j);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        let (val, j) = value(b, i)?;
        i = skip_ws(b, j);
        match key {
            "type" => out.kind = Some(opt_str(&val)??),
            "mode" => out.mode = opt_str(&val)?,
            "user" => out.user = opt_str(&val)?,
            "group" => out.group = opt_str(&val)?,
            "path" => out.path = Some(opt_str(&val)??),
            "linktarget" => out.linktarget = opt_str(&val)?,
            "mtime" => out.mtime = opt_str(&val)?,
            "healthy" => {
                out.healthy = match val {
                    Val::Bool(v) => Some(v),
                    Val::Other => None,
                    _ => return None,
                }
            }
            "size" => {
                out.size = match val {
                    Val::Num(n) => Some(n),
                    Val::Other => None,
                    _ => return None,
                }
            }
            _ => {}
        }
        match b.get(i)? {
            b',' => i = skip_ws(b, i + 1),
            b'}' => break,
            _ => return None,
        }
    }
    // Only whitespace may follow.
    (skip_ws(b, i + 1) == b.len()).then_some(out)
}

fn digits(b: &[u8]) -> Option<i64> {
    let mut n: i64 = 0;
    for c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(c - b'0');
    }
    Some(n)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SS[.ffffff]` (no zone) to microseconds since the epoch; None for any
/// other shape or an out-of-range field (the caller falls back to chrono).
pub(crate) fn mtime_micros(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (h, mi, sec) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = match mo {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=12).contains(&mo) || !(1..=month_days).contains(&d) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let frac = match &b[19..] {
        [] => 0,
        [b'.', f @ ..] if (1..=6).contains(&f.len()) => digits(f)? * 10i64.pow(6 - f.len() as u32),
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3_600 + mi * 60 + sec;
    Some(secs * 1_000_000 + frac)
}

const K0: u64 = 0xa076_1d64_78bd_642f;
const K1: u64 = 0xe703_7ed1_a0b4_28db;
const K2: u64 = 0x8ebc_6af0_9c88_c6e3;

fn mum(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// A fast two-lane multiply-mix hash, stable across builds and platforms (persisted).
pub(crate) struct Hash2 {
    a: u64,
    b: u64,
}

impl Hash2 {
    pub fn new() -> Hash2 {
        Hash2 { a: K0, b: K1 }
    }

    /// Adds one field; its length is mixed in, so field boundaries are unambiguous.
    pub fn field(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.word(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        self.word(u64::from_le_bytes(w) ^ ((bytes.len() as u64) << 56));
        self.word(bytes.len() as u64 ^ K2);
    }

    fn word(&mut self, w: u64) {
        self.a = mum(self.a ^ w, K2);
        self.b = mum(self.b ^ w ^ K0, K1).rotate_left(23);
    }

    pub fn finish128(&self) -> u128 {
        let hi = mum(self.a ^ K1, self.b ^ K2);
        let lo = mum(self.b ^ K0, self.a.rotate_left(31) ^ K1);
        (u128::from(hi) << 64) | u128::from(lo)
    }
}

/// 64-bit hash of a string (in-memory sets only).
pub(crate) fn hash64(s: &str) -> u64 {
    let mut h = Hash2::new();
    h.field(s.as_bytes());
    h.finish128() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_borg_line_and_falls_back() {
        let line = br#"{"type": "-", "mode": "-rw-r--r--", "user": "root", "group": "root", "uid": 0, "gid": 0, "path": "etc/x", "healthy": true, "source": "", "linktarget": "", "flags": null, "mtime": "2026-11-27T10:00:00.000000", "size": 42}"#;
        let l = parse(line).expect("fast path");
        assert_eq!(
            (l.kind, l.path, l.size, l.healthy),
            (Some("-"), Some("etc/x"), Some(42), Some(true))
        );
        assert!(parse(br#"{"type": "-", "path": "a\"b"}"#).is_none());
        assert!(parse(br#"{"type": "-", "path": "a"} x"#).is_none());
        assert!(parse(br#"{"type": "-", "size": 1.5}"#).is_none());
    }

    #[test]
    fn mtimes_match_chrono() {
        for s in [
            "2026-11-27T10:00:00.000000",
            "1999-02-28T23:59:59.5",
            "2024-03-01T00:00:00",
            "1969-12-31T23:59:59.000001",
        ] {
            let want = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .expect("chrono")
                .and_utc()
                .timestamp_micros();
            assert_eq!(mtime_micros(s), Some(want), "{s}");
        }
        assert_eq!(mtime_micros("2024-02-30T00:00:00"), None);
        assert_eq!(mtime_micros("2023-02-29T00:00:00"), None);
    }

    #[test]
    fn hash_separates_fields() {
        let h = |parts: &[&str]| {
            let mut h = Hash2::new();
            for p in parts {
                h.field(p.as_bytes());
            }
            h.finish128()
        };
        assert_ne!(h(&["ab", "c"]), h(&["a", "bc"]));
        assert_ne!(h(&["", "x"]), h(&["x", ""]));
        assert_eq!(h(&["abc"]), h(&["abc"]));
    }
}
