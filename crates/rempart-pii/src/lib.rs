//! Detects personal data in text, pseudonymises it with reversible typed
//! placeholders and re-identifies answers, streaming included.
//!
//! This crate does no I/O: text in, entities or text out.
#![warn(missing_docs)]

mod entity;

// The public interface is:
pub use entity::{Entity, EntityType};
