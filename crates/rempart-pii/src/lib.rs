//! Detects personal data in text, pseudonymises it with reversible typed
//! placeholders and re-identifies answers, streaming included.
//!
//! This crate does no I/O: text in, entities or text out.
//!
//! # Detection
//!
//! Build one [`Detector`] and share it; [`Detector::detect`] returns
//! non-overlapping [`Entity`] values sorted by start, with byte offsets:
//!
//! ```
//! use rempart_pii::{Detector, EntityType, Lang};
//!
//! let d = Detector::new();
//! let text = "IBAN DE89 3704 0044 0532 0130 00, geb. 19.06.1975";
//! let found: Vec<_> = d.detect(text, Some(Lang::De)).into_iter().map(|e| e.kind).collect();
//! assert_eq!(found, [EntityType::Iban, EntityType::DateOfBirth]);
//! ```
//!
//! [`scan_line`] is the `rempart pii scan` JSONL line format (char offsets);
//! [`sensitivity`] classifies a text as ordinary personal data or GDPR
//! Art. 9 special-category data.
#![warn(missing_docs)]

mod detect;
mod entity;
mod pseudo;
mod stream;

// The public interface is:
pub use detect::{
    Detector, DetectorConfig, Lang, NerBackend, ScanError, Sensitivity, UnknownLang,
    byte_to_char_offsets, has_special_category_cue, scan_line, sensitivity,
};
pub use entity::{Entity, EntityType};
pub use pseudo::{
    Error as PseudoError, MAX_PLACEHOLDER_LEN, MAX_PLACEHOLDER_NUMBER, MIN_KNOWN_VALUE_CHARS,
    Mapping, Mode, Placeholder, Pseudonymised, ReidentifyStats, normalise, pseudonymise,
    reidentify, reidentify_json, reidentify_stats, reidentify_with,
};
pub use stream::StreamReidentifier;
