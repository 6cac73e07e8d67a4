//! Errors of the catalog.

use thiserror::Error;

/// Everything that can go wrong while opening, ingesting into or querying the catalog.
#[derive(Debug, Error)]
pub enum CatalogError {
    #[error("catalog i/o error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("catalog index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("catalog directory is in use by another catalog writer: {0}")]
    Locked(String),
    #[error("catalog state is corrupt: {0}")]
    Corrupt(String),
    #[error("listing line {line}: {message}")]
    Listing { line: u64, message: String },
    #[error("reading listing at line {line}: {source}")]
    ListingRead {
        line: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("unknown archive {0}")]
    UnknownArchive(i64),
    #[error("archives {0} and {1} belong to different series")]
    DifferentSeries(i64, i64),
    #[error("invalid search: {0}")]
    InvalidQuery(String),
    #[error("catalog version id space exhausted")]
    VersionIdsExhausted,
    #[error("catalog lock poisoned")]
    Poisoned,
}

impl CatalogError {
    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        CatalogError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}
