//! Pseudonymisation with typed, numbered, reversible placeholders, and
//! re-identification of whole answers.
//!
//! ```
//! use rempart_pii::{Entity, EntityType, Mapping, pseudonymise, reidentify};
//!
//! let text = "Write to Alice Martin, alice@example.fr.";
//! let entities = [
//!     Entity { kind: EntityType::Person, subtype: None, start: 9, end: 21, score: 0.9 },
//!     Entity { kind: EntityType::Email, subtype: None, start: 23, end: 39, score: 1.0 },
//! ];
//! let mut mapping = Mapping::new();
//! let out = pseudonymise(text, &entities, &mut mapping, |_| true)?;
//! assert_eq!(out.text(), "Write to [[PERSON_1]], [[EMAIL_1]].");
//!
//! let answer = "Dear [[Person 1]], I wrote to [[EMAIL_1]].";
//! assert_eq!(reidentify(answer, &mapping), "Dear Alice Martin, I wrote to alice@example.fr.");
//! # Ok::<(), rempart_pii::PseudoError>(())
//! ```
//!
//! Guarantees (property-tested in `pseudo/tests.rs`):
//! - `reidentify(pseudonymise(x).text()) == x` when each value is written
//!   the same way throughout (otherwise each occurrence comes back in the
//!   form first seen, see [`Mapping`]);
//! - the user's own placeholder-looking tokens survive the round trip
//!   unchanged: before sending, each of them is itself replaced by a
//!   placeholder standing for that literal text, so the outgoing text holds
//!   no token that the mapping did not issue;
//! - a selected entity's value does not appear in the outgoing text (unless
//!   it also occurs outside any selected span).
//!
//! # Driving it from the gateway
//!
//! 1. Load the conversation's [`Mapping`] (decrypt, then serde), or
//!    [`Mapping::new`].
//! 2. For each text part of each message, after JSON decoding: entities =
//!    detector's + [`Mapping::find_known`]; then [`pseudonymise`] with the
//!    tier's `select` (e.g. `|e| e.kind.is_direct_identifier()` for
//!    `eu_sovereign`). Any `Err` means refuse the request, never forward.
//!    Sum [`Pseudonymised::replaced`] for the `X-Rempart-Pii` header.
//! 3. Non-streaming answer: [`reidentify`] on `message.content`;
//!    [`reidentify_json`] on `tool_calls[].function.arguments` and on the
//!    content when `response_format` asks for JSON. Streaming: one
//!    [`StreamReidentifier`](crate::StreamReidentifier) per choice's
//!    content and per tool call's arguments, fed with the decoded delta
//!    strings, `finish` at the end of the stream (or of the choice).
//! 4. Persist the mapping again (serde, then encrypt): it may have grown.

mod mapping;
mod placeholder;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use crate::entity::{Entity, EntityType};

pub use mapping::{MIN_KNOWN_VALUE_CHARS, Mapping, normalise};
pub use placeholder::{MAX_PLACEHOLDER_LEN, MAX_PLACEHOLDER_NUMBER, Placeholder};
pub(crate) use placeholder::{Scan, for_each_token, scan};

/// Errors of the pseudonymiser. `Display` names types and offsets, never a
/// value or any text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An entity span is not inside the text, is empty or reversed, or does
    /// not fall on character boundaries (a detector bug: refuse the request).
    #[error("entity span {start}..{end} is not a valid span of the {len}-byte text")]
    InvalidSpan {
        /// Start byte offset.
        start: usize,
        /// End byte offset.
        end: usize,
        /// Length of the text in bytes.
        len: usize,
    },
    /// The mapping already holds [`MAX_PLACEHOLDER_NUMBER`] values of this
    /// type.
    #[error("no placeholder left for type {}", kind.as_str())]
    PlaceholdersExhausted {
        /// The type.
        kind: EntityType,
    },
    /// The mapping holds too many values to search them in a text.
    #[error("too many known values to search")]
    KnownValuesTooLarge,
    /// A persisted mapping could not be loaded.
    #[error("invalid persisted mapping: {reason}")]
    InvalidMapping {
        /// What is wrong (no value).
        reason: &'static str,
    },
}

/// Text ready to leave Rempart: every selected entity replaced by its
/// placeholder. Built only by [`pseudonymise`].
///
/// `Debug` shows the length and counts, not the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Pseudonymised {
    text: String,
    replaced: BTreeMap<EntityType, usize>,
    escaped: usize,
}

impl Pseudonymised {
    /// The outgoing text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The outgoing text, by value.
    pub fn into_text(self) -> String {
        self.text
    }

    /// Number of entity occurrences replaced, per type (for the
    /// `X-Rempart-Pii` summary and the audit record: counts, not values).
    pub fn replaced(&self) -> &BTreeMap<EntityType, usize> {
        &self.replaced
    }

    /// Number of placeholder-looking tokens of the original text that were
    /// themselves replaced so they cannot be confused with ours.
    pub fn escaped(&self) -> usize {
        self.escaped
    }
}

impl fmt::Debug for Pseudonymised {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pseudonymised")
            .field("text_len", &self.text.len())
            .field("replaced", &self.replaced)
            .field("escaped", &self.escaped)
            .finish()
    }
}

/// Replaces the entities for which `select` returns `true` by their
/// placeholders, issuing new ones in `mapping` as needed.
///
/// `entities` may come in any order. Overlapping selected spans are merged
/// into one placeholder (of the type covering more bytes; on a tie, the
/// one that starts first), so nothing selected leaks. Tokens of `text` that
/// read as placeholders (see [`Placeholder`]) are replaced too, each by a
/// placeholder standing for its literal text, and come back unchanged.
///
/// Fails — and the caller must then refuse, not forward — when a span is
/// invalid or the mapping is full. On error `mapping` may hold new entries
/// that the text never used; that is harmless.
pub fn pseudonymise(
    text: &str,
    entities: &[Entity],
    mapping: &mut Mapping,
    select: impl Fn(&Entity) -> bool,
) -> Result<Pseudonymised, Error> {
    let mut spans: Vec<(usize, usize, EntityType)> = Vec::new();
    for e in entities.iter().filter(|e| select(e)) {
        if e.start >= e.end
            || e.end > text.len()
            || !text.is_char_boundary(e.start)
            || !text.is_char_boundary(e.end)
        {
            return Err(Error::InvalidSpan {
                start: e.start,
                end: e.end,
                len: text.len(),
            });
        }
        spans.push((e.start, e.end, e.kind));
    }
    spans.sort_by_key(|&(s, e, _)| (s, std::cmp::Reverse(e)));
    let merged = merge_overlaps(&spans);

    let mut out = Pseudonymised {
        text: String::with_capacity(text.len() + 16 * merged.len()),
        replaced: BTreeMap::new(),
        escaped: 0,
    };
    let mut pos = 0;
    for &(start, end, kind) in &merged {
        escape_literal_tokens(&text[pos..start], mapping, &mut out)?;
        let ph = mapping.issue(kind, &text[start..end], false)?;
        push_placeholder(&mut out.text, ph);
        *out.replaced.entry(kind).or_default() += 1;
        pos = end;
    }
    escape_literal_tokens(&text[pos..], mapping, &mut out)?;
    Ok(out)
}

/// Merges overlapping spans (sorted by start, longest first).
fn merge_overlaps(spans: &[(usize, usize, EntityType)]) -> Vec<(usize, usize, EntityType)> {
    let mut merged: Vec<(usize, usize, EntityType)> = Vec::with_capacity(spans.len());
    // Per merged span, the length of the longest member (to pick its type).
    let mut longest: Vec<usize> = Vec::with_capacity(spans.len());
    for &(s, e, k) in spans {
        match merged.last_mut() {
            Some(last) if s < last.1 => {
                last.1 = last.1.max(e);
                let l = longest.last_mut().expect("same length as merged");
                if e - s > *l {
                    *l = e - s;
                    last.2 = k;
                }
            }
            _ => {
                merged.push((s, e, k));
                longest.push(e - s);
            }
        }
    }
    merged
}

/// Copies `gap` to `out`, replacing each placeholder-looking token by a
/// placeholder for its literal text.
fn escape_literal_tokens(
    gap: &str,
    mapping: &mut Mapping,
    out: &mut Pseudonymised,
) -> Result<(), Error> {
    let mut last = 0;
    let mut result = Ok(());
    for_each_token(gap, |start, len, found| {
        if result.is_err() {
            return false;
        }
        match mapping.issue(found.kind, &gap[start..start + len], true) {
            Ok(ph) => {
                out.text.push_str(&gap[last..start]);
                push_placeholder(&mut out.text, ph);
                out.escaped += 1;
                last = start + len;
                true
            }
            Err(e) => {
                result = Err(e);
                false
            }
        }
    });
    result?;
    out.text.push_str(&gap[last..]);
    Ok(())
}

fn push_placeholder(out: &mut String, ph: Placeholder) {
    use std::fmt::Write;
    write!(out, "{ph}").expect("writing to a String does not fail");
}

/// How a restored value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// As is: the text is plain text (a message's `content` after JSON
    /// decoding).
    #[default]
    Text,
    /// JSON-escaped as string content (`"` → `\"`, `\` → `\\`, control
    /// characters → `\n`, `\u001f`…): the text is JSON, or a piece of it,
    /// whose placeholders sit inside string literals — tool-call
    /// `arguments`, JSON-mode output.
    JsonString,
}

/// Replaces every placeholder that `mapping` issued (in any accepted form)
/// by its value. Anything else, including placeholder-looking tokens the
/// mapping did not issue, is left as is. Restored values are not scanned
/// again.
pub fn reidentify(text: &str, mapping: &Mapping) -> String {
    reidentify_with(text, mapping, Mode::Text)
}

/// [`reidentify`] for JSON text: restored values are JSON-string-escaped,
/// so `{"name": "[[PERSON_1]]"}` stays valid JSON when the name holds a
/// `"` or a `\`.
pub fn reidentify_json(text: &str, mapping: &Mapping) -> String {
    reidentify_with(text, mapping, Mode::JsonString)
}

/// [`reidentify`] with an explicit [`Mode`].
pub fn reidentify_with(text: &str, mapping: &Mapping, mode: Mode) -> String {
    reidentify_stats(text, mapping, mode).0
}

/// [`reidentify_with`], also counting what was restored and what looked
/// like a placeholder but was not issued (model drift, or the user's own
/// text).
pub fn reidentify_stats(text: &str, mapping: &Mapping, mode: Mode) -> (String, ReidentifyStats) {
    let mut out = String::with_capacity(text.len());
    let mut stats = ReidentifyStats::default();
    let held = reidentify_into(text, mapping, mode, true, &mut out, &mut stats);
    debug_assert!(held.is_none());
    (out, stats)
}

/// Counts of a re-identification (no values: safe to log and audit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReidentifyStats {
    /// Placeholders replaced by their value.
    pub restored: usize,
    /// Tokens read as placeholders that the mapping did not issue, left as
    /// they are.
    pub unknown: usize,
}

/// Re-identifies `text` into `out`. When `at_end` is false, stops before
/// the first position that could still start a placeholder and returns it
/// (the caller holds that suffix back; nothing from there on was counted).
pub(crate) fn reidentify_into(
    text: &str,
    mapping: &Mapping,
    mode: Mode,
    at_end: bool,
    out: &mut String,
    stats: &mut ReidentifyStats,
) -> Option<usize> {
    let mut last = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(off) = bytes[i..].iter().position(|&b| b == b'[') {
        let p = i + off;
        match scan(&bytes[p..]) {
            Scan::Match { len, placeholder } => match mapping.value_of(placeholder) {
                Some(value) => {
                    out.push_str(&text[last..p]);
                    push_value(out, value, mode);
                    stats.restored += 1;
                    i = p + len;
                    last = i;
                }
                None => {
                    stats.unknown += 1;
                    i = p + 1;
                }
            },
            Scan::NoMatch => i = p + 1,
            Scan::NeedMore if at_end => i = p + 1,
            Scan::NeedMore => {
                out.push_str(&text[last..p]);
                return Some(p);
            }
        }
    }
    out.push_str(&text[last..]);
    None
}

fn push_value(out: &mut String, value: &str, mode: Mode) {
    match mode {
        Mode::Text => out.push_str(value),
        Mode::JsonString => json_escape_into(out, value),
    }
}

/// Appends `s` escaped as JSON string content (RFC 8259 §7).
fn json_escape_into(out: &mut String, s: &str) {
    use std::fmt::Write;
    let mut last = 0;
    for (i, c) in s.char_indices() {
        let esc = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\u{08}' => "\\b",
            '\u{0c}' => "\\f",
            c if (c as u32) < 0x20 => "",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        if esc.is_empty() {
            write!(out, "\\u{:04x}", c as u32).expect("writing to a String does not fail");
        } else {
            out.push_str(esc);
        }
        last = i + c.len_utf8();
    }
    out.push_str(&s[last..]);
}
