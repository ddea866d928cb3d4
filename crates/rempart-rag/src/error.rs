//! The crate's one error type. Messages name ids, paths and numbers, never
//! document or query text.

use std::path::PathBuf;

/// What went wrong in chunking, indexing, search or persistence.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A chunk id was added twice.
    #[error("chunk id {id:?} is already in the index")]
    DuplicateChunk {
        /// The chunk id.
        id: String,
    },
    /// The document is under legal hold and may not be deleted.
    #[error("document {document:?} is under legal hold; lift the hold before deleting it")]
    LegalHold {
        /// The document id.
        document: String,
    },
    /// BM25 or chunker parameters out of range.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParam {
        /// Which parameter.
        name: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// A vector of the wrong dimension, or not finite.
    #[error("vector for {id:?}: expected {expected} finite dimensions, got {got}")]
    BadVector {
        /// The chunk id (or "query").
        id: String,
        /// The index dimension.
        expected: usize,
        /// What was given.
        got: usize,
    },
    /// Reading or writing an index file failed.
    #[error("index file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An index file is not one this version wrote, or is damaged.
    #[error("index file {path} is not a valid index: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The index file was written with another term key.
    #[error("index file {path} was written with a different term key")]
    WrongKey {
        /// The file.
        path: PathBuf,
    },
}
