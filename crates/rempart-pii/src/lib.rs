//! Detects personal data in text, pseudonymises it with reversible typed
//! placeholders and re-identifies answers, streaming included.
//!
//! This crate does no I/O: text in, entities or text out.
#![warn(missing_docs)]

mod entity;
mod pseudo;
mod stream;

// The public interface is:
pub use entity::{Entity, EntityType};
pub use pseudo::{
    Error as PseudoError, MAX_PLACEHOLDER_LEN, MAX_PLACEHOLDER_NUMBER, MIN_KNOWN_VALUE_CHARS,
    Mapping, Mode, Placeholder, Pseudonymised, ReidentifyStats, normalise, pseudonymise,
    reidentify, reidentify_json, reidentify_stats, reidentify_with,
};
pub use stream::StreamReidentifier;
