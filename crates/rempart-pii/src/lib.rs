//! Detects personal data in text, pseudonymises it with reversible typed
//! placeholders and re-identifies answers, streaming included.
//!
//! This crate does no I/O: text in, entities or text out.
#![warn(missing_docs)]

mod detect;
mod entity;

// The public interface is:
pub use detect::{
    Detector, DetectorConfig, Lang, NerBackend, ScanError, Sensitivity, byte_to_char_offsets,
    scan_line, sensitivity,
};
pub use entity::{Entity, EntityType};
