//! Streaming re-identification: a small state machine the gateway drives
//! with the pieces of an answer as they arrive.
//!
//! ```
//! use rempart_pii::{Entity, EntityType, Mapping, StreamReidentifier, pseudonymise};
//!
//! let mut mapping = Mapping::new();
//! let e = Entity { kind: EntityType::Person, subtype: None, start: 0, end: 5, score: 1.0 };
//! pseudonymise("Alice", &[e], &mut mapping, |_| true)?;
//!
//! let mut re = StreamReidentifier::new(&mapping);
//! let mut sent = Vec::new();
//! let mut out = String::new();
//! for chunk in ["Hello [[PER", "SON", "_1]]", "!"] {
//!     re.feed(chunk, &mut out);
//!     sent.push(std::mem::take(&mut out)); // to the client
//! }
//! re.finish(&mut out);
//! sent.push(out);
//! assert_eq!(sent, ["Hello ", "", "Alice", "!", ""]);
//! # Ok::<(), rempart_pii::PseudoError>(())
//! ```
//!
//! Contract: for any way of cutting a text into chunks, the concatenation
//! of what `feed` and `finish` write equals [`reidentify_with`] of the
//! whole text (for [`feed_bytes`](StreamReidentifier::feed_bytes): of its
//! lossy UTF-8 decoding, as `String::from_utf8_lossy`).
//!
//! Latency: text is written as soon as it cannot be part of a placeholder.
//! Only a suffix that could still become one is held back — it starts with
//! `[` and is shorter than [`MAX_PLACEHOLDER_LEN`] bytes — plus, for
//! `feed_bytes`, at most 3 bytes of an incomplete UTF-8 character.
//!
//! Allocation: `feed` writes into the caller's `out`; the internal buffer
//! is bounded (under `2 * MAX_PLACEHOLDER_LEN + 4` bytes, allocated once)
//! and reused.
//!
//! One reidentifier per stream of text: in an OpenAI stream, one for each
//! choice's `delta.content` (mode [`Mode::Text`]) and one for each tool
//! call's `function.arguments` (mode [`Mode::JsonString`]), fed with the
//! decoded string of each SSE event.

use std::fmt;

#[cfg(doc)]
use crate::pseudo::reidentify_with;
use crate::pseudo::{MAX_PLACEHOLDER_LEN, Mapping, Mode, ReidentifyStats, reidentify_into};

/// Re-identifies a stream of text chunk by chunk (see the module docs).
///
/// `M` is how the mapping is held: `&Mapping`, `Arc<Mapping>`, or an owned
/// `Mapping`.
pub struct StreamReidentifier<M> {
    mapping: M,
    mode: Mode,
    /// Held-back text: a possible placeholder prefix (< MAX_PLACEHOLDER_LEN
    /// bytes when idle), or scratch space while a chunk is processed.
    held: String,
    /// Bytes of an incomplete UTF-8 character (for `feed_bytes`).
    utf8: [u8; 4],
    utf8_len: usize,
    stats: ReidentifyStats,
}

impl<M: AsRef<Mapping>> StreamReidentifier<M> {
    /// A re-identifier for plain text ([`Mode::Text`]).
    pub fn new(mapping: M) -> Self {
        Self::with_mode(mapping, Mode::Text)
    }

    /// A re-identifier with an explicit mode ([`Mode::JsonString`] for
    /// tool-call arguments and JSON-mode output).
    pub fn with_mode(mapping: M, mode: Mode) -> Self {
        StreamReidentifier {
            mapping,
            mode,
            held: String::with_capacity(MAX_PLACEHOLDER_LEN * 2),
            utf8: [0; 4],
            utf8_len: 0,
            stats: ReidentifyStats::default(),
        }
    }

    /// Counts so far: placeholders restored, and placeholder-looking tokens
    /// the mapping did not issue. They survive [`finish`](Self::finish);
    /// [`take_stats`](Self::take_stats) resets them.
    pub fn stats(&self) -> ReidentifyStats {
        self.stats
    }

    /// Returns the counts and resets them.
    pub fn take_stats(&mut self) -> ReidentifyStats {
        std::mem::take(&mut self.stats)
    }

    /// Number of bytes currently held back (for tests and metrics).
    pub fn held_back(&self) -> usize {
        self.held.len() + self.utf8_len
    }

    /// Feeds the next piece of text; appends to `out` what can already be
    /// written.
    pub fn feed(&mut self, chunk: &str, out: &mut String) {
        if self.utf8_len > 0 {
            // Text after an incomplete byte sequence: that sequence was
            // invalid; decode it as `from_utf8_lossy` would.
            self.utf8_len = 0;
            self.feed_str("\u{FFFD}", out);
        }
        self.feed_str(chunk, out);
    }

    /// Feeds the next bytes of a UTF-8 stream (as SSE delivers them); a
    /// character split across calls is held until complete. Invalid bytes
    /// become U+FFFD as in `String::from_utf8_lossy`.
    pub fn feed_bytes(&mut self, mut chunk: &[u8], out: &mut String) {
        // Complete a character started in an earlier call, byte by byte.
        while self.utf8_len > 0 {
            let Some((&b, rest)) = chunk.split_first() else {
                return;
            };
            self.utf8[self.utf8_len] = b;
            self.utf8_len += 1;
            match std::str::from_utf8(&self.utf8[..self.utf8_len]) {
                Ok(_) => {
                    let mut buf = [0u8; 4];
                    let n = self.utf8_len;
                    buf[..n].copy_from_slice(&self.utf8[..n]);
                    self.utf8_len = 0;
                    let s = std::str::from_utf8(&buf[..n]).expect("checked above");
                    self.feed_str(s, out);
                    chunk = rest;
                }
                Err(e) if e.error_len().is_some() => {
                    // The held bytes were a valid prefix; the new byte does
                    // not continue it. One U+FFFD for the prefix, then the
                    // new byte is read afresh.
                    self.utf8_len = 0;
                    self.feed_str("\u{FFFD}", out);
                }
                Err(_) => chunk = rest,
            }
        }
        loop {
            match std::str::from_utf8(chunk) {
                Ok(s) => {
                    self.feed_str(s, out);
                    return;
                }
                Err(e) => {
                    let (valid, rest) = chunk.split_at(e.valid_up_to());
                    let valid = std::str::from_utf8(valid).expect("valid up to here");
                    self.feed_str(valid, out);
                    match e.error_len() {
                        Some(n) => {
                            self.feed_str("\u{FFFD}", out);
                            chunk = &rest[n..];
                        }
                        None => {
                            // An incomplete character at the end (< 4 bytes).
                            self.utf8[..rest.len()].copy_from_slice(rest);
                            self.utf8_len = rest.len();
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Ends the stream: writes whatever was held back (an unfinished
    /// placeholder stays as it is; an unfinished UTF-8 character becomes
    /// U+FFFD). The re-identifier can then be reused for a new stream.
    pub fn finish(&mut self, out: &mut String) {
        if self.utf8_len > 0 {
            self.utf8_len = 0;
            self.held.push('\u{FFFD}');
        }
        reidentify_into(
            &self.held,
            self.mapping.as_ref(),
            self.mode,
            true,
            out,
            &mut self.stats,
        );
        self.held.clear();
    }

    fn feed_str(&mut self, chunk: &str, out: &mut String) {
        let mapping = self.mapping.as_ref();
        let mut rest = chunk;
        // Something is held: resolve it with as little of the chunk as
        // needed (a placeholder is at most MAX_PLACEHOLDER_LEN bytes).
        while !self.held.is_empty() && !rest.is_empty() {
            let mut take = MAX_PLACEHOLDER_LEN.min(rest.len());
            while !rest.is_char_boundary(take) {
                take += 1;
            }
            let held_len = self.held.len();
            self.held.push_str(&rest[..take]);
            match reidentify_into(&self.held, mapping, self.mode, false, out, &mut self.stats) {
                None => {
                    self.held.clear();
                    rest = &rest[take..];
                }
                Some(p) if p >= held_len => {
                    // The held part is decided; a new candidate starts in
                    // the chunk: go on from there, in place.
                    self.held.clear();
                    rest = &rest[p - held_len..];
                }
                Some(p) => {
                    // Still undecided: the chunk was too short.
                    self.held.drain(..p);
                    rest = &rest[take..];
                }
            }
        }
        // Nothing held: scan the rest of the chunk in place.
        if let Some(p) = reidentify_into(rest, mapping, self.mode, false, out, &mut self.stats) {
            self.held.push_str(&rest[p..]);
        }
    }
}

impl<M> fmt::Debug for StreamReidentifier<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamReidentifier")
            .field("mode", &self.mode)
            .field("held_back", &(self.held.len() + self.utf8_len))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
