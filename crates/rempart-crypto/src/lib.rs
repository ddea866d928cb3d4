//! Keys for Rempart: where secrets come from, API-key hashing, key
//! derivation from a master key, envelope encryption of personal data,
//! key providers (a local key file, the environment, OpenBao/Vault transit)
//! and blind indexes to search encrypted values.
//!
//! - [`envelope`]: [`seal`]/[`open`] one value with a [`DataKey`], bound to
//!   its tenant, table, column and row ([`Aad`]).
//! - [`kms`]: a [`KeyProvider`] wraps data keys under a key-encryption key
//!   it keeps (and rotates); a [`WrappedKey`] is what the store keeps.
//! - [`blind`]: keyed, truncated hashes of normalised values (e-mail, phone,
//!   IBAN, national id, name), compound indexes, name-prefix tokens and the
//!   planner that chooses how many bits to keep.
//!
//! This crate does no storage: the store keeps the bytes it returns.
//!
//! Secrets are never inline in configuration: a [`SecretRef`] names where to
//! read one (`env:NAME`, `file:/path`). Secret values are wrapped in
//! [`secrecy::SecretString`] / zeroised buffers and never appear in `Debug`,
//! `Display` or errors.

mod apikey;
pub mod blind;
pub mod envelope;
pub mod kms;
mod master;
mod secret_ref;

// The public interface is:
pub use apikey::{ApiKey, KeyHash, PresentedKey};
pub use envelope::{Aad, DataKey, open, seal};
pub use kms::{KeyProvider, KeysConfig, WrappedKey};
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
    /// A ciphertext is malformed (empty, too short, unknown version).
    #[error("cannot decrypt: {0}")]
    BadCiphertext(String),
    /// A ciphertext does not authenticate: wrong key, wrong place
    /// (tenant/table/column/row or wrapping context) or tampered bytes.
    #[error(
        "cannot decrypt: the ciphertext does not authenticate under this key and context (wrong key, wrong tenant/table/column/row, or tampered)"
    )]
    Decrypt,
    /// A wrapped key's text is malformed.
    #[error("malformed wrapped key: {0}")]
    BadWrappedKey(String),
    /// A wrapped key was made by another provider.
    #[error("wrapped key is from the `{found}` key provider, this one is `{expected}`")]
    WrongProvider {
        /// This provider.
        expected: &'static str,
        /// The wrapped key's provider.
        found: String,
    },
    /// A wrapped key names a key-encryption key version this provider does
    /// not hold (retired, or from another keyring).
    #[error("{provider} key provider has no key-encryption key version v{version}")]
    UnknownKekVersion {
        /// The provider.
        provider: &'static str,
        /// The version asked for.
        version: u32,
    },
    /// A key (from a key file or a secret reference) is not 32 bytes in hex
    /// or base64. Names where it came from, never the value.
    #[error("{0}: not a 256-bit key (expected 64 hex characters or 32 bytes in base64)")]
    BadKey(String),
    /// The key configuration is invalid.
    #[error("key provider configuration: {0}")]
    BadConfig(String),
    /// The operation is not available with this provider.
    #[error("{0}")]
    Unsupported(String),
    /// A KMS (OpenBao/Vault transit) call failed. Names the address and the
    /// HTTP status; never the token or key material.
    #[error("key provider {address}: {message}")]
    Kms {
        /// The KMS address.
        address: String,
        /// The HTTP status, when there was a response.
        status: Option<u16>,
        /// What went wrong.
        message: String,
    },
    /// A value to index cannot be normalised (names the kind and the reason,
    /// never the value: it is personal data).
    #[error("{kind}: {reason}")]
    BadValue {
        /// What kind of value (e-mail, phone, ...).
        kind: &'static str,
        /// Why it was refused.
        reason: String,
    },
}
