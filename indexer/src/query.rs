//! Translation of a `SearchQuery` into a tantivy query plus the confirmation a candidate
//! must pass (substring and glob candidates come from trigrams and are checked exactly).

use crate::error::CatalogError;
use crate::listing::name_of;
use crate::schema::{trigrams, words, Fields};
use crate::types::SearchQuery;
use std::ops::Bound;
use tantivy::query::{
    AllQuery, BooleanQuery, InvertedIndexRangeQuery, Occur, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::Term;

/// A `*`/`?` wildcard pattern.
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    pat: Vec<char>,
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        Glob {
            pat: pattern.chars().collect(),
        }
    }

    /// Whole-string match; `*` matches any run (including `/`), `?` one character.
    pub fn matches(&self, text: &str) -> bool {
        let t: Vec<char> = text.chars().collect();
        let (mut p, mut i) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while i < t.len() {
            if p < self.pat.len() && (self.pat[p] == '?' || self.pat[p] == t[i]) {
                p += 1;
                i += 1;
            } else if p < self.pat.len() && self.pat[p] == '*' {
                star = Some((p, i));
                p += 1;
            } else if let Some((sp, si)) = star {
                p = sp + 1;
                i = si + 1;
                star = Some((sp, si + 1));
            } else {
                return false;
            }
        }
        self.pat[p..].iter().all(|c| *c == '*')
    }
}

/// The exact check a candidate document must pass, on its path.
#[derive(Debug, Clone)]
pub(crate) enum Confirm {
    None,
    /// Lowercased name contains `lc`, or its words contain `words` in sequence.
    Name {
        lc: String,
        words: Vec<String>,
    },
    /// Lowercased name matches the (lowercased) glob.
    NameGlob(Glob),
    /// Path matches the glob (case-sensitive).
    PathGlob(Glob),
    /// Words of the path contain these words in sequence.
    PathWords(Vec<String>),
}

impl Confirm {
    pub fn needs_path(&self) -> bool {
        !matches!(self, Confirm::None)
    }
    pub fn check(&self, path: &str) -> bool {
        let name_lc = || name_of(path).to_lowercase();
        match self {
            Confirm::None => true,
            Confirm::Name { lc, words: w } => {
                let name = name_lc();
                name.contains(lc.as_str()) || (!w.is_empty() && contains_seq(&words(&name), w))
            }
            Confirm::NameGlob(g) => g.matches(&name_lc()),
            Confirm::PathGlob(g) => g.matches(path),
            Confirm::PathWords(w) => contains_seq(&words(path), w),
        }
    }
}

fn contains_seq(hay: &[String], needle: &[String]) -> bool {
    needle.len() <= hay.len() && hay.windows(needle.len()).any(|w| w == needle)
}

/// How the text of a query is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TextForm {
    All,
    Glob(String),
    /// Path prefix ending with `/`.
    DirPrefix(String),
    /// Exact path (falls back to a string prefix when nothing matches).
    Exact(String),
    PathWords(String),
    Name(String),
}

pub(crate) fn classify(text: &str) -> TextForm {
    let t = text.trim();
    if t.is_empty() {
        TextForm::All
    } else if t.contains('*') || t.contains('?') {
        TextForm::Glob(t.to_string())
    } else if t.ends_with('/') {
        TextForm::DirPrefix(format!("/{}", t.trim_start_matches('/')))
    } else if t.starts_with('/') {
        TextForm::Exact(t.to_string())
    } else if t.contains('/') {
        TextForm::PathWords(t.to_string())
    } else {
        TextForm::Name(t.to_string())
    }
}

fn term_q(t: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(t, IndexRecordOption::Basic))
}

fn and(mut qs: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    match qs.len() {
        0 => Box::new(AllQuery),
        1 => qs.remove(0),
        _ => Box::new(BooleanQuery::new(
            qs.into_iter().map(|q| (Occur::Must, q)).collect(),
        )),
    }
}

/// Every word in a words field (their order is confirmed on the path by the collector).
fn words_q(field: Field, ws: &[String]) -> Option<Box<dyn Query>> {
    let mut ws = ws.to_vec();
    ws.sort();
    ws.dedup();
    match ws.len() {
        0 => None,
        _ => Some(and(ws
            .iter()
            .map(|w| term_q(Term::from_field_text(field, w)))
            .collect())),
    }
}

fn trigram_q(f: &Fields, lc: &str) -> Vec<Box<dyn Query>> {
    trigrams(lc)
        .iter()
        .map(|g| term_q(Term::from_field_text(f.name_tri, g)))
        .collect()
}

/// Equality on a fast-only i64 field (series ids are not in the inverted index).
pub(crate) fn id_q(field: Field, v: i64) -> Box<dyn Query> {
    Box::new(RangeQuery::new(
        Bound::Included(Term::from_field_i64(field, v)),
        Bound::Included(Term::from_field_i64(field, v)),
    ))
}

/// Every path starting with `prefix` (a term range: no per-document scan).
pub(crate) fn path_prefix_q(f: &Fields, prefix: &str) -> Box<dyn Query> {
    Box::new(InvertedIndexRangeQuery::new(
        Bound::Included(Term::from_field_text(f.path, prefix)),
        Bound::Excluded(Term::from_field_text(
            f.path,
            &format!("{prefix}\u{10FFFF}"),
        )),
    ))
}

pub(crate) fn exact_path_q(f: &Fields, path: &str) -> Box<dyn Query> {
    term_q(Term::from_field_text(f.path, path))
}

/// Words of a glob piece that are bounded on both sides by separators or by the ends of
/// the name (not by a wildcard), so they are whole indexed words.
fn whole_words(pieces: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let last = pieces.len().saturating_sub(1);
    for (i, piece) in pieces.iter().enumerate() {
        let chars: Vec<char> = piece.chars().collect();
        let mut start = 0;
        while start < chars.len() {
            if !chars[start].is_alphanumeric() {
                start += 1;
                continue;
            }
            let mut end = start;
            while end < chars.len() && chars[end].is_alphanumeric() {
                end += 1;
            }
            let left_ok = start > 0 || i == 0;
            let right_ok = end < chars.len() || i == last;
            if left_ok && right_ok {
                out.extend(words(&chars[start..end].iter().collect::<String>()));
            }
            start = end;
        }
    }
    out
}

fn glob_plan(f: &Fields, text: &str) -> (Box<dyn Query>, Confirm) {
    let on_path = text.contains('/');
    let pattern = if on_path && !text.starts_with('/') && !text.starts_with('*') {
        format!("/{text}")
    } else {
        text.to_string()
    };
    let name_part = pattern
        .rsplit('/')
        .next()
        .unwrap_or(&pattern)
        .to_lowercase();
    let pieces: Vec<&str> = name_part.split(['*', '?']).collect();
    let mut clauses = Vec::new();
    for piece in &pieces {
        if piece.chars().count() >= 3 {
            clauses.extend(trigram_q(f, piece));
        }
    }
    for w in whole_words(&pieces) {
        clauses.push(term_q(Term::from_field_text(f.name_words, &w)));
    }
    if on_path {
        let literal: String = pattern
            .chars()
            .take_while(|c| *c != '*' && *c != '?')
            .collect();
        if let Some(cut) = literal.rfind('/') {
            if cut > 0 {
                clauses.push(path_prefix_q(f, &literal[..=cut]));
            }
        }
    }
    let confirm = if on_path {
        Confirm::PathGlob(Glob::new(&pattern))
    } else {
        Confirm::NameGlob(Glob::new(&pattern.to_lowercase()))
    };
    (and(clauses), confirm)
}

fn name_plan(f: &Fields, text: &str) -> (Box<dyn Query>, Confirm) {
    let lc = text.to_lowercase();
    let ws = words(text);
    let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if let Some(q) = words_q(f.name_words, &ws) {
        should.push((Occur::Should, q));
    }
    let grams = trigram_q(f, &lc);
    if !grams.is_empty() {
        should.push((Occur::Should, and(grams)));
    }
    let query: Box<dyn Query> = match should.len() {
        0 => Box::new(AllQuery),
        1 => should.remove(0).1,
        _ => Box::new(BooleanQuery::new(should)),
    };
    (query, Confirm::Name { lc, words: ws })
}

/// Query and confirmation for the text part. `exact_as_prefix` turns the exact-path form
/// into its string-prefix fallback.
pub(crate) fn text_plan(
    f: &Fields,
    form: &TextForm,
    exact_as_prefix: bool,
) -> (Box<dyn Query>, Confirm) {
    match form {
        TextForm::All => (Box::new(AllQuery), Confirm::None),
        TextForm::Glob(g) => glob_plan(f, g),
        TextForm::DirPrefix(p) if p == "/" => (Box::new(AllQuery), Confirm::None),
        TextForm::DirPrefix(p) => (path_prefix_q(f, p), Confirm::None),
        TextForm::Exact(p) if exact_as_prefix => (path_prefix_q(f, p), Confirm::None),
        TextForm::Exact(p) => (exact_path_q(f, p), Confirm::None),
        TextForm::PathWords(t) => {
            let ws = words(t);
            if ws.is_empty() {
                return (Box::new(AllQuery), Confirm::None);
            }
            // A word is in the parent's words or in the name's; the order is confirmed.
            let mut uniq = ws.clone();
            uniq.sort();
            uniq.dedup();
            let each = uniq
                .iter()
                .map(|w| -> Box<dyn Query> {
                    Box::new(BooleanQuery::new(vec![
                        (
                            Occur::Should,
                            term_q(Term::from_field_text(f.path_words, w)),
                        ),
                        (
                            Occur::Should,
                            term_q(Term::from_field_text(f.name_words, w)),
                        ),
                    ]))
                })
                .collect();
            (and(each), Confirm::PathWords(ws))
        }
        TextForm::Name(t) => name_plan(f, t),
    }
}

/// Index-side filters of a query (membership filters are applied by the collector).
pub(crate) fn filter_clauses(
    f: &Fields,
    q: &SearchQuery,
) -> Result<Vec<Box<dyn Query>>, CatalogError> {
    let mut out = Vec::new();
    if let Some(c) = q.client {
        out.push(id_q(f.client, c.0));
    }
    if let Some(p) = q.policy {
        out.push(id_q(f.policy, p.0));
    }
    if let Some(r) = q.repository {
        out.push(id_q(f.repository, r.0));
    }
    if let Some(t) = q.file_type.as_deref().filter(|t| !t.is_empty()) {
        out.push(term_q(Term::from_field_text(f.file_type, t)));
    }
    if let (Some(lo), Some(hi)) = (q.min_size, q.max_size) {
        if lo > hi {
            return Err(CatalogError::InvalidQuery(
                "min_size is above max_size".into(),
            ));
        }
    }
    if q.min_size.is_some() || q.max_size.is_some() {
        let lo = q.min_size.map_or(Bound::Unbounded, |v| {
            Bound::Included(Term::from_field_u64(f.size, v))
        });
        let hi = q.max_size.map_or(Bound::Unbounded, |v| {
            Bound::Included(Term::from_field_u64(f.size, v))
        });
        out.push(Box::new(RangeQuery::new(lo, hi)));
    }
    if q.mtime_from.is_some() || q.mtime_to.is_some() {
        let lo = q.mtime_from.map_or(Bound::Unbounded, |t| {
            Bound::Included(Term::from_field_i64(f.mtime, t.timestamp_micros()))
        });
        let hi = q.mtime_to.map_or(Bound::Unbounded, |t| {
            Bound::Included(Term::from_field_i64(f.mtime, t.timestamp_micros()))
        });
        out.push(Box::new(RangeQuery::new(lo, hi)));
    }
    Ok(out)
}

/// Text query AND filters.
pub(crate) fn combine(text: Box<dyn Query>, filters: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    let mut all = filters;
    all.insert(0, text);
    and(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(Glob::new("*.sql.gz").matches("db.sql.gz"));
        assert!(!Glob::new("*.sql.gz").matches("db.sql.gz.1"));
        assert!(Glob::new("a?c*").matches("abcdef"));
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("/var/*/x.log").matches("/var/a/b/x.log"));
        assert_eq!(whole_words(&["", ".sql.gz"]), ["sql", "gz"]);
        assert_eq!(whole_words(&["nginx", ".co"]), ["co"]);
        assert!(whole_words(&["", "ginx", ""]).is_empty());
        assert_eq!(whole_words(&["", ".c"]), ["c"]);
    }

    #[test]
    fn forms() {
        assert_eq!(
            classify("/etc/nginx/"),
            TextForm::DirPrefix("/etc/nginx/".into())
        );
        assert_eq!(
            classify("etc/nginx/"),
            TextForm::DirPrefix("/etc/nginx/".into())
        );
        assert_eq!(classify("/etc/hosts"), TextForm::Exact("/etc/hosts".into()));
        assert_eq!(classify("*.gz"), TextForm::Glob("*.gz".into()));
        assert_eq!(classify("ginx"), TextForm::Name("ginx".into()));
        assert_eq!(
            classify("nginx/sites"),
            TextForm::PathWords("nginx/sites".into())
        );
    }
}
