//! The tantivy schema of the catalog: one document per file version, plus its tokenizers.

use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, FAST, STORED,
};
use tantivy::tokenizer::{
    LowerCaser, NgramTokenizer, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use tantivy::Index;

/// Bumped whenever the schema or the on-disk layout beside the index changes; a catalog
/// written with another version is wiped and rebuilt.
pub const SCHEMA_VERSION: u32 = 3;

/// Tokenizer of path and name words: split on every non-alphanumeric character (so on
/// `/ . - _` and blanks) and lowercase.
pub(crate) const WORDS_TOKENIZER: &str = "cy_words";
/// Tokenizer of the trigram field; its input is already lowercased.
pub(crate) const TRIGRAM_TOKENIZER: &str = "cy_tri";

/// Handles on every field of the schema.
///
/// Ingestion speed comes from indexing little: no field keeps positions or frequencies
/// (phrases of words are confirmed against the path by the collector), no field has norms
/// (nothing is scored), the series ids, size and time are fast columns only, and the file
/// name is read back from the path column instead of a column of its own.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fields {
    /// Version id: indexed (deletes, diff lookups) and fast.
    pub vid: Field,
    pub repository: Field,
    pub policy: Field,
    pub client: Field,
    /// Full path with a leading `/`, exact (case-sensitive), stored and fast.
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
    let vid_opts = NumericOptions::default().set_indexed().set_fast();
    // Series ids, size and mtime are filtered and read through their fast columns.
    let fastnum = NumericOptions::default().set_fast();
    let basic = |tokenizer: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(IndexRecordOption::Basic)
                .set_fieldnorms(false),
        )
    };
    let raw = basic("raw");
    let fields = Fields {
        vid: b.add_u64_field("vid", vid_opts),
        repository: b.add_i64_field("repository", fastnum.clone()),
        policy: b.add_i64_field("policy", fastnum.clone()),
        client: b.add_i64_field("client", fastnum.clone()),
        path: b.add_text_field("path", raw.clone() | STORED | FAST),
        parent: b.add_text_field("parent", raw.clone()),
        name_words: b.add_text_field("name_words", basic(WORDS_TOKENIZER)),
        path_words: b.add_text_field("path_words", basic(WORDS_TOKENIZER)),
        name_tri: b.add_text_field("name_tri", basic(TRIGRAM_TOKENIZER)),
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
    let tri = TextAnalyzer::builder(NgramTokenizer::new(3, 3, false)?).build();
    index.tokenizers().register(TRIGRAM_TOKENIZER, tri);
    Ok(())
}

/// Words of a text as the words tokenizer produces them.
pub(crate) fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.len() < 128)
        .map(str::to_lowercase)
        .collect()
}

/// Distinct trigrams (by characters) of an already lowercased text.
pub(crate) fn trigrams(lower: &str) -> Vec<String> {
    let chars: Vec<char> = lower.chars().collect();
    let mut out: Vec<String> = chars.windows(3).map(|w| w.iter().collect()).collect();
    out.sort();
    out.dedup();
    out
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
        assert_eq!(trigrams("ginx"), ["gin", "inx"]);
        assert!(trigrams("ab").is_empty());
    }
}
