//! Keys for Rempart: where secrets come from, API-key hashing, and key
//! derivation from a master key held by a key provider.
//!
//! Secrets are never inline in configuration: a [`SecretRef`] names where to
//! read one (`env:NAME`, `file:/path`). Secret values are wrapped in
//! [`secrecy::SecretString`] / zeroised buffers and never appear in `Debug`,
//! `Display` or errors.

mod apikey;
mod master;
mod secret_ref;

// The public interface is:
pub use apikey::{ApiKey, KeyHash, PresentedKey};
pub use master::{MasterKey, Purpose};
pub use secret_ref::SecretRef;

/// Errors of this crate. Messages name files and variables, never secrets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A secret reference is malformed.
    #[error(
        "secret reference `{0}` is not `env:NAME` or `file:PATH` (secrets are never written inline)"
    )]
    BadSecretRef(String),
    /// The environment variable named by a reference is not set.
    #[error("environment variable `{0}` is not set")]
    MissingEnv(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A key file has the wrong size or format.
    #[error("{0}: not a Rempart key file (expected 64 hex characters)")]
    BadKeyFile(std::path::PathBuf),
}
