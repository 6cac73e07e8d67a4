//! The tantivy schema of the catalog: one document per file version, plus its tokenizers.

use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, FAST, STORED,
};
use tantivy::tokenizer::{
    LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer, Token, TokenStream, Tokenizer,
};
use tantivy::Index;

/// Bumped whenever the schema or the on-disk layout beside the index changes; a catalog
/// written with another version is wiped and rebuilt.
pub const SCHEMA_VERSION: u32 = 4;

/// Marks the start of a name in the trigram field, so that `abc*` is a trigram phrase.
pub(crate) const NAME_START: char = '\u{2}';
/// Marks the end of a name in the trigram field, so that `*.gz` is a trigram phrase.
pub(crate) const NAME_END: char = '\u{3}';

/// Tokenizer of path and name words: split on every non-alphanumeric character (so on
/// `/ . - _` and blanks) and lowercase.
pub(crate) const WORDS_TOKENIZER: &str = "cy_words";
/// Tokenizer of the trigram field: its input is the lowercased name, its tokens the
/// trigrams of the name between [`NAME_START`] and [`NAME_END`], each at its character
/// offset, so that a substring is an exact phrase of trigrams.
pub(crate) const TRIGRAM_TOKENIZER: &str = "cy_tri3";

/// Handles on every field of the schema.
///
/// Ingestion speed comes from indexing little: only the name fields keep positions (so that
/// name words and substrings are exact phrases, never confirmed document by document), no
/// field has norms (nothing is scored), the version id, series ids, size and time are fast
/// columns only, the path is a fast column only (exact paths and prefixes go through the
/// indexed parent directory), and the file name is read back from the path column.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fields {
    /// Version id: fast only (deletes and diff lookups filter the column by a bitmap).
    pub vid: Field,
    pub repository: Field,
    pub policy: Field,
    pub client: Field,
    /// Full path with a leading `/`: a fast (dictionary) column only.
    pub path: Field,
    /// Parent directory path (`/` for top-level entries), exact.
    pub parent: Field,
    pub name_words: Field,
    /// Words of the parent directory path.
    pub path_words: Field,
    pub name_tri: Field,
    pub file_type: Field,
    pub size: Field,
    /// Microseconds since the epoch, UTC.
    pub mtime: Field,
    pub mode: Field,
    pub user: Field,
    pub group: Field,
    pub healthy: Field,
    pub linktarget: Field,
}

pub(crate) fn build_schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    // Version and series ids, size and mtime are filtered and read through fast columns.
    let fastnum = NumericOptions::default().set_fast();
    let indexed = |tokenizer: &str, rec: IndexRecordOption| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(rec)
                .set_fieldnorms(false),
        )
    };
    let basic = |tokenizer: &str| indexed(tokenizer, IndexRecordOption::Basic);
    let positions = |tokenizer: &str| indexed(tokenizer, IndexRecordOption::WithFreqsAndPositions);
    let raw = basic("raw");
    let fields = Fields {
        vid: b.add_u64_field("vid", fastnum.clone()),
        repository: b.add_i64_field("repository", fastnum.clone()),
        policy: b.add_i64_field("policy", fastnum.clone()),
        client: b.add_i64_field("client", fastnum.clone()),
        path: b.add_text_field("path", TextOptions::default() | FAST),
        parent: b.add_text_field("parent", raw.clone()),
        name_words: b.add_text_field("name_words", positions(WORDS_TOKENIZER)),
        path_words: b.add_text_field("path_words", basic(WORDS_TOKENIZER)),
        name_tri: b.add_text_field("name_tri", positions(TRIGRAM_TOKENIZER)),
        file_type: b.add_text_field("type", raw | STORED),
        size: b.add_u64_field("size", fastnum.clone()),
        mtime: b.add_i64_field("mtime", fastnum),
        mode: b.add_text_field("mode", STORED),
        user: b.add_text_field("user", STORED),
        group: b.add_text_field("group", STORED),
        healthy: b.add_bool_field("healthy", STORED),
        linktarget: b.add_text_field("linktarget", STORED),
    };
    (b.build(), fields)
}

/// Registers the catalog's tokenizers on an index (needed after every open).
pub(crate) fn register_tokenizers(index: &Index) -> tantivy::Result<()> {
    let words = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(128))
        .filter(LowerCaser)
        .build();
    index.tokenizers().register(WORDS_TOKENIZER, words);
    index
        .tokenizers()
        .register(TRIGRAM_TOKENIZER, TrigramTokenizer::default());
    Ok(())
}

/// The lowercased name as indexed in the trigram field: the markers cannot occur inside.
pub(crate) fn trigram_text(name: &str) -> std::borrow::Cow<'_, str> {
    let plain = !name
        .bytes()
        .any(|b| b.is_ascii_uppercase() || !b.is_ascii() || b == 2 || b == 3);
    if plain {
        return std::borrow::Cow::Borrowed(name);
    }
    std::borrow::Cow::Owned(
        name.to_lowercase()
            .replace([NAME_START, NAME_END], "\u{fffd}"),
    )
}

/// Character trigrams of `NAME_START + text + NAME_END`, at their character offsets.
#[derive(Clone, Default)]
pub(crate) struct TrigramTokenizer {
    marked: String,
    /// Byte offset of every character of `marked`, then its length.
    bounds: Vec<usize>,
    token: Token,
}

pub(crate) struct TrigramStream<'a> {
    marked: &'a str,
    bounds: &'a [usize],
    next: usize,
    token: &'a mut Token,
}

impl Tokenizer for TrigramTokenizer {
    type TokenStream<'a> = TrigramStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> TrigramStream<'a> {
        self.marked.clear();
        self.marked.push(NAME_START);
        self.marked.push_str(text);
        self.marked.push(NAME_END);
        self.bounds.clear();
        self.bounds
            .extend(self.marked.char_indices().map(|(i, _)| i));
        self.bounds.push(self.marked.len());
        self.token.reset();
        TrigramStream {
            marked: &self.marked,
            bounds: &self.bounds,
            next: 0,
            token: &mut self.token,
        }
    }
}

impl TokenStream for TrigramStream<'_> {
    fn advance(&mut self) -> bool {
        let i = self.next;
        if i + 3 >= self.bounds.len() {
            return false;
        }
        let (from, to) = (self.bounds[i], self.bounds[i + 3]);
        self.token.text.clear();
        self.token.text.push_str(&self.marked[from..to]);
        self.token.offset_from = from;
        self.token.offset_to = to;
        self.token.position = i;
        self.token.position_length = 1;
        self.next = i + 1;
        true
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// Trigrams covering every character of `piece` (a part of a marked, lowercased name), as
/// (character offset, trigram): every third one plus the last, which is enough for an
/// exact phrase. Empty when the piece is shorter than three characters.
pub(crate) fn covering_trigrams(piece: &str) -> Vec<(usize, String)> {
    let chars: Vec<char> = piece.chars().collect();
    let n = chars.len();
    if n < 3 {
        return Vec::new();
    }
    let mut offsets: Vec<usize> = (0..=n - 3).step_by(3).collect();
    if offsets.last() != Some(&(n - 3)) {
        offsets.push(n - 3);
    }
    offsets
        .into_iter()
        .map(|o| (o, chars[o..o + 3].iter().collect()))
        .collect()
}

/// Words of a text as the words tokenizer produces them.
pub(crate) fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.len() < 128)
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_on_separators() {
        assert_eq!(
            words("Etc/nginx-Site_a.CONF"),
            ["etc", "nginx", "site", "a", "conf"]
        );
        let cover = |s: &str| -> Vec<(usize, String)> { covering_trigrams(s) };
        assert_eq!(
            cover("nginx.conf"),
            [
                (0, "ngi".to_string()),
                (3, "nx.".into()),
                (6, "con".into()),
                (7, "onf".into())
            ]
        );
        assert_eq!(cover("gin"), [(0, "gin".to_string())]);
        assert!(cover("ab").is_empty());
        let mut t = TrigramTokenizer::default();
        let mut s = t.token_stream("ab");
        let mut got = Vec::new();
        while s.advance() {
            got.push((s.token().position, s.token().text.clone()));
        }
        assert_eq!(got, [(0, "\u{2}ab".to_string()), (1, "ab\u{3}".into())]);
    }
}
