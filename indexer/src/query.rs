//! Translation of a `SearchQuery` into a tantivy query plus the confirmation a candidate
//! must pass. Name words and substrings are exact phrases (of words, of trigrams at their
//! offsets); only globs with several pieces or on paths, path words and exact paths are
//! confirmed on the path of each candidate.

use crate::error::CatalogError;
use crate::listing::{name_of, parent_of};
use crate::schema::{covering_trigrams, words, Fields, NAME_END, NAME_START};
use crate::types::SearchQuery;
use roaring::RoaringBitmap;
use std::ops::Bound;
use std::sync::Arc;
use tantivy::query::doc_predicate_query::{DocPredicateQuery, FunctionPredicate};
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, InvertedIndexRangeQuery, Occur, PhraseQuery, Query,
    RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, SegmentReader, Term};

/// A `*`/`?` wildcard pattern.
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    pat: Vec<char>,
    /// The pattern's bytes when it is ASCII: then ASCII texts are matched byte by byte.
    ascii: Option<Vec<u8>>,
}

/// Whole-sequence match; `*` matches any run, `?` one element. Iterative with one
/// backtrack point, so linear in practice and never recursive.
fn wildcard<T: Copy + PartialEq>(pat: &[T], text: &[T], star: T, one: T) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    let mut back: Option<(usize, usize)> = None;
    while i < text.len() {
        if p < pat.len() && (pat[p] == one || pat[p] == text[i]) {
            p += 1;
            i += 1;
        } else if p < pat.len() && pat[p] == star {
            back = Some((p, i));
            p += 1;
        } else if let Some((sp, si)) = back {
            p = sp + 1;
            i = si + 1;
            back = Some((sp, si + 1));
        } else {
            return false;
        }
    }
    pat[p..].iter().all(|c| *c == star)
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        Glob {
            pat: pattern.chars().collect(),
            ascii: pattern.is_ascii().then(|| pattern.as_bytes().to_vec()),
        }
    }

    /// Whole-string match; `*` matches any run (including `/`), `?` one character.
    pub fn matches(&self, text: &str) -> bool {
        if let (Some(pat), true) = (&self.ascii, text.is_ascii()) {
            return wildcard(pat, text.as_bytes(), b'*', b'?');
        }
        let t: Vec<char> = text.chars().collect();
        wildcard(&self.pat, &t, '*', '?')
    }
}

/// The exact check a candidate document must pass, on its path. Only the forms the index
/// cannot answer exactly need one (globs with several pieces or on paths, path words, the
/// exact-path forms whose candidates are the entries of the parent directory).
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
    /// The path is this one.
    PathEq(String),
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
            Confirm::PathEq(p) => path == p,
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

fn or(mut qs: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    match qs.len() {
        0 => Box::new(EmptyQuery),
        1 => qs.remove(0),
        _ => Box::new(BooleanQuery::new(
            qs.into_iter().map(|q| (Occur::Should, q)).collect(),
        )),
    }
}

/// These words in sequence in a words field with positions (exact).
fn word_seq_q(field: Field, ws: &[String]) -> Option<Box<dyn Query>> {
    let terms: Vec<Term> = ws.iter().map(|w| Term::from_field_text(field, w)).collect();
    match terms.len() {
        0 => None,
        1 => terms.into_iter().next().map(term_q),
        _ => Some(Box::new(PhraseQuery::new(terms))),
    }
}

/// Names containing `piece` (lowercased, possibly with the start and end markers): an exact
/// phrase of trigrams. None when the piece is shorter than a trigram.
fn substring_q(f: &Fields, piece: &str) -> Option<Box<dyn Query>> {
    let mut terms: Vec<(usize, Term)> = covering_trigrams(piece)
        .into_iter()
        .map(|(o, g)| (o, Term::from_field_text(f.name_tri, &g)))
        .collect();
    match terms.len() {
        0 => None,
        1 => terms.pop().map(|(_, t)| term_q(t)),
        _ => Some(Box::new(PhraseQuery::new_with_offset(terms))),
    }
}

/// Equality on a fast-only i64 field (series ids are not in the inverted index).
pub(crate) fn id_q(field: Field, v: i64) -> Box<dyn Query> {
    Box::new(RangeQuery::new(
        Bound::Included(Term::from_field_i64(field, v)),
        Bound::Included(Term::from_field_i64(field, v)),
    ))
}

/// Versions whose id is in `set` (a scan of the version id column).
pub(crate) fn vid_set_q(set: Arc<RoaringBitmap>) -> Box<dyn Query> {
    let pred = FunctionPredicate::from(move |reader: &SegmentReader| {
        let col = reader.fast_fields().u64("vid")?;
        let set = set.clone();
        Ok(move |doc: DocId| {
            col.first(doc)
                .and_then(|v| u32::try_from(v).ok())
                .is_some_and(|v| set.contains(v))
        })
    });
    Box::new(DocPredicateQuery::from(pred))
}

/// Entries directly in directory `dir`.
pub(crate) fn parent_q(f: &Fields, dir: &str) -> Box<dyn Query> {
    term_q(Term::from_field_text(f.parent, dir))
}

/// Every path starting with `prefix`: a range of the path column's dictionary, then a scan
/// of the column (exact, and independent of how many paths the range holds).
pub(crate) fn path_range_q(f: &Fields, prefix: &str) -> Box<dyn Query> {
    if prefix == "/" || prefix.is_empty() {
        return Box::new(AllQuery);
    }
    Box::new(RangeQuery::new(
        Bound::Included(Term::from_field_text(f.path, prefix)),
        Bound::Excluded(Term::from_field_text(
            f.path,
            &format!("{prefix}\u{10FFFF}"),
        )),
    ))
}

/// Candidates and confirmation of one exact path: the entries of its parent directory.
pub(crate) fn exact_path_plan(f: &Fields, path: &str) -> (Box<dyn Query>, Confirm) {
    match parent_of(path) {
        Some(parent) => (parent_q(f, parent), Confirm::PathEq(path.to_string())),
        None => (Box::new(EmptyQuery), Confirm::None),
    }
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

/// A piece of a marked glob that constrains nothing: empty or a lone marker.
fn is_bare(piece: &str) -> bool {
    piece.is_empty() || piece == NAME_START.to_string() || piece == NAME_END.to_string()
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
        .to_lowercase()
        .replace([NAME_START, NAME_END], "\u{fffd}");
    let wild = |c: char| c == '*' || c == '?';
    let mut clauses = Vec::new();
    if on_path {
        // A wildcard may span `/`: only what follows the last wildcard (or the whole last
        // component, without one) is surely inside the name.
        let piece = match name_part.rfind(wild) {
            Some(i) => format!("{}{NAME_END}", &name_part[i + 1..]),
            None => format!("{NAME_START}{name_part}{NAME_END}"),
        };
        let literal: String = pattern.chars().take_while(|c| !wild(*c)).collect();
        let dir = literal
            .rfind('/')
            .filter(|cut| *cut > 0)
            .map(|cut| &literal[..=cut]);
        clauses.extend(substring_q(f, &piece));
        clauses.extend(dir.map(|d| path_range_q(f, d)));
        return (and(clauses), Confirm::PathGlob(Glob::new(&pattern)));
    }
    let marked = format!("{NAME_START}{name_part}{NAME_END}");
    let pieces: Vec<&str> = marked.split(wild).collect();
    let mut phrases = 0;
    let mut loose = false;
    for piece in &pieces {
        match substring_q(f, piece) {
            Some(q) => {
                clauses.push(q);
                phrases += 1;
            }
            None => loose |= !is_bare(piece),
        }
    }
    // One literal piece between stars is exactly "contains" (anchored by the markers).
    if !pattern.contains('?') && !loose && phrases <= 1 {
        return (and(clauses), Confirm::None);
    }
    let plain: Vec<&str> = name_part.split(wild).collect();
    for w in whole_words(&plain) {
        clauses.push(term_q(Term::from_field_text(f.name_words, &w)));
    }
    (and(clauses), Confirm::NameGlob(Glob::new(&name_part)))
}

/// Names containing the text, or whose words contain its words in sequence: both exact
/// phrases, so nothing is confirmed.
fn name_plan(f: &Fields, text: &str) -> (Box<dyn Query>, Confirm) {
    let lc = text.to_lowercase();
    let ws = words(text);
    let clean = lc.replace([NAME_START, NAME_END], "\u{fffd}");
    let mut either = Vec::new();
    either.extend(word_seq_q(f.name_words, &ws));
    either.extend(substring_q(f, &clean));
    if clean.chars().count() == 2 {
        // Two characters are the start of a trigram of the marked name (the next character
        // or the end marker follows): a range of trigram terms, exact too.
        either.push(Box::new(InvertedIndexRangeQuery::new(
            Bound::Included(Term::from_field_text(f.name_tri, &clean)),
            Bound::Excluded(Term::from_field_text(
                f.name_tri,
                &format!("{clean}\u{10FFFF}"),
            )),
        )));
    }
    if either.is_empty() {
        return (Box::new(AllQuery), Confirm::Name { lc, words: ws });
    }
    (or(either), Confirm::None)
}

/// The two ranks of a name search whose text is more than its words (punctuation, spaces):
/// names containing the text as typed first, then names that only contain its words in
/// sequence, so `<img` lists `<img.svg` before `qemu-img`. None when there is one rank.
pub(crate) fn name_tiers(f: &Fields, text: &str) -> Option<(Box<dyn Query>, Box<dyn Query>)> {
    let lc = text.trim().to_lowercase();
    let ws = words(&lc);
    if ws.is_empty() || ws.concat() == lc {
        return None;
    }
    let clean = lc.replace([NAME_START, NAME_END], "\u{fffd}");
    let literal = substring_q(f, &clean)?;
    let by_words = word_seq_q(f.name_words, &ws)?;
    let rest = BooleanQuery::new(vec![
        (Occur::Must, by_words),
        (Occur::MustNot, literal.box_clone()),
    ]);
    Some((literal, Box::new(rest)))
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
        TextForm::DirPrefix(p) => (path_range_q(f, p), Confirm::None),
        TextForm::Exact(p) if exact_as_prefix => (path_range_q(f, p), Confirm::None),
        TextForm::Exact(p) => exact_path_plan(f, p),
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
                .map(|w| {
                    or(vec![
                        term_q(Term::from_field_text(f.path_words, w)),
                        term_q(Term::from_field_text(f.name_words, w)),
                    ])
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
    if let Some(s) = &q.series_scope {
        let clients = s.clients.iter().map(|c| id_q(f.client, c.0));
        let policies = s.policies.iter().map(|p| id_q(f.policy, p.0));
        out.push(or(clients.chain(policies).collect()));
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
        assert!(Glob::new("*ü?.txt").matches("aüb.txt"));
        assert!(!Glob::new("*ü?.txt").matches("aü.txt"));
        assert!(Glob::new("a*b*c").matches("aXbYbZc"));
        assert!(!Glob::new("a*b*c").matches("aXbYbZ"));
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
