//! The JSONL line format of `rempart pii scan` (DESIGN.md, "PII scan CLI").
//!
//! Input line: `{"id", "text", "lang"?}`. Output line: `{"id", "entities":
//! [{"type", "subtype"?, "start", "end", "score"}]}` with offsets counted in
//! Unicode scalar values (Python `str` indices), end exclusive.

use super::{Detector, Lang};
use crate::entity::Entity;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Why a JSONL line could not be scanned. The message names the problem and
/// a position, never the text or a detected value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScanError {
    /// The line is not valid JSON (position in the line, 1-based column).
    Json {
        /// Column of the error.
        column: usize,
    },
    /// The line is JSON but not an object with a string `text` and an
    /// `id`.
    Shape {
        /// The field that is missing or has the wrong type.
        field: &'static str,
    },
}

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScanError::Json { column } => write!(f, "invalid JSON at column {column}"),
            ScanError::Shape { field } => {
                write!(f, "field `{field}` is missing or has the wrong type")
            }
        }
    }
}

impl std::error::Error for ScanError {}

#[derive(Deserialize)]
struct Line<'a> {
    id: Option<serde_json::Value>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    lang: Option<Cow<'a, str>>,
}

#[derive(Serialize)]
struct OutEntity {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subtype: Option<&'static str>,
    start: usize,
    end: usize,
    score: f32,
}

#[derive(Serialize)]
struct Out<'a> {
    id: &'a serde_json::Value,
    entities: Vec<OutEntity>,
}

/// Converts byte offsets of `entities` (sorted by start, on char
/// boundaries of `text`) to char offsets, in place, in one pass.
pub fn byte_to_char_offsets(text: &str, entities: &mut [Entity]) {
    let mut points: Vec<(usize, usize, bool)> = Vec::with_capacity(entities.len() * 2);
    for (i, e) in entities.iter().enumerate() {
        points.push((e.start, i, true));
        points.push((e.end, i, false));
    }
    points.sort_unstable();
    let mut chars = 0usize;
    let mut pos = 0usize;
    for (byte, i, is_start) in points {
        let byte = byte.min(text.len());
        if byte > pos {
            chars += text[pos..byte].chars().count();
            pos = byte;
        }
        if is_start {
            entities[i].start = chars;
        } else {
            entities[i].end = chars;
        }
    }
}

/// Scans one JSONL input line and returns the output line (without a
/// trailing newline). An unknown `lang` is treated as absent.
pub fn scan_line(detector: &Detector, line: &str) -> Result<String, ScanError> {
    let parsed: Line<'_> = serde_json::from_str(line).map_err(|e| {
        if e.is_data() {
            ScanError::Shape { field: "text" }
        } else {
            ScanError::Json { column: e.column() }
        }
    })?;
    let id = parsed.id.ok_or(ScanError::Shape { field: "id" })?;
    let text = parsed.text.ok_or(ScanError::Shape { field: "text" })?;
    let lang = parsed.lang.as_deref().and_then(Lang::from_code);
    let mut ents = detector.detect(&text, lang);
    byte_to_char_offsets(&text, &mut ents);
    let out = Out {
        id: &id,
        entities: ents
            .iter()
            .map(|e| OutEntity {
                kind: e.kind.as_str(),
                subtype: e.subtype,
                start: e.start,
                end: e.end,
                score: (e.score * 1000.0).round() / 1000.0,
            })
            .collect(),
    };
    serde_json::to_string(&out).map_err(|_| ScanError::Shape { field: "id" })
}
