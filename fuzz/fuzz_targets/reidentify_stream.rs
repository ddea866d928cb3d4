//! The streaming re-identifier against the whole-text one, and the
//! pseudonymise → reidentify round trip.
//!
//! * A mapping is built from the input's `values` (and from what the
//!   detector finds in `text`); `text` is pseudonymised.
//! * Round trip: `reidentify(pseudonymised) == text` whenever every value
//!   is written the same way throughout (the documented condition).
//! * Streaming: for the pseudonymised text and for the raw text (which may
//!   hold placeholder look-alikes), in both modes, feeding the chunks given
//!   by `cuts` (on char boundaries for `feed`, anywhere for `feed_bytes`)
//!   yields exactly `reidentify_with` of the whole text (of its lossy UTF-8
//!   decoding for `feed_bytes`).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rempart_pii::{
    Detector, Entity, EntityType, Mapping, Mode, StreamReidentifier, normalise, pseudonymise,
    reidentify, reidentify_with,
};
use std::collections::HashMap;
use std::sync::LazyLock;

static DETECTOR: LazyLock<Detector> = LazyLock::new(Detector::new);

#[derive(Debug, Arbitrary)]
struct Input {
    /// Values issued into the mapping first: (type selector, value).
    values: Vec<(u8, String)>,
    text: String,
    /// Cut points (taken modulo the length).
    cuts: Vec<u16>,
    /// Extra raw bytes appended for `feed_bytes` (may break UTF-8).
    tail: Vec<u8>,
}

fn chunks_at(len: usize, cuts: &[u16], ok: impl Fn(usize) -> bool) -> Vec<usize> {
    let mut at: Vec<usize> = cuts
        .iter()
        .map(|&c| {
            if len == 0 {
                0
            } else {
                usize::from(c) % (len + 1)
            }
        })
        .filter(|&c| ok(c))
        .collect();
    at.push(0);
    at.push(len);
    at.sort_unstable();
    at.dedup();
    at
}

fn stream_text(m: &Mapping, mode: Mode, text: &str, cuts: &[u16]) -> String {
    let at = chunks_at(text.len(), cuts, |c| text.is_char_boundary(c));
    let mut re = StreamReidentifier::with_mode(m, mode);
    let mut out = String::new();
    for w in at.windows(2) {
        re.feed(&text[w[0]..w[1]], &mut out);
    }
    re.finish(&mut out);
    out
}

fn stream_bytes(m: &Mapping, mode: Mode, bytes: &[u8], cuts: &[u16]) -> String {
    let at = chunks_at(bytes.len(), cuts, |_| true);
    let mut re = StreamReidentifier::with_mode(m, mode);
    let mut out = String::new();
    for w in at.windows(2) {
        re.feed_bytes(&bytes[w[0]..w[1]], &mut out);
    }
    re.finish(&mut out);
    out
}

fuzz_target!(|inp: Input| {
    let mut m = Mapping::new();
    for (sel, v) in inp.values.iter().take(8) {
        if v.is_empty() {
            continue;
        }
        let kind = EntityType::ALL[usize::from(*sel) % EntityType::ALL.len()];
        let e = Entity {
            kind,
            subtype: None,
            start: 0,
            end: v.len(),
            score: 1.0,
        };
        if pseudonymise(v, &[e], &mut m, |_| true).is_err() {
            return; // mapping full: the caller refuses; nothing to check
        }
    }
    let text = &inp.text;
    let mut ents = DETECTOR.detect(text, None);
    if let Ok(known) = m.find_known(text) {
        ents.extend(known);
    }
    let Ok(p) = pseudonymise(text, &ents, &mut m, |_| true) else {
        return;
    };
    let sent = p.text();

    // Round trip, under its documented condition: each value is written
    // one way only (and no two selected spans overlap).
    let mut seen: HashMap<(EntityType, String), &str> = HashMap::new();
    let mut one_form = true;
    let mut sorted = ents.clone();
    sorted.sort_by_key(|e| (e.start, e.end));
    for w in sorted.windows(2) {
        if w[1].start < w[0].end {
            one_form = false;
        }
    }
    for e in &sorted {
        let raw = &text[e.start..e.end];
        let key = (e.kind, normalise(e.kind, raw));
        if let Some(prev) = seen.insert(key, raw)
            && prev != raw
        {
            one_form = false;
        }
    }
    // Values issued from `values` may share a normalised form with text.
    if !inp.values.is_empty() {
        for (sel, v) in inp.values.iter().take(8) {
            let kind = EntityType::ALL[usize::from(*sel) % EntityType::ALL.len()];
            if let Some(prev) = seen.get(&(kind, normalise(kind, v)))
                && *prev != v.as_str()
            {
                one_form = false;
            }
        }
    }
    if one_form {
        assert_eq!(reidentify(sent, &m), *text, "round trip");
    }

    for mode in [Mode::Text, Mode::JsonString] {
        for t in [sent, text.as_str()] {
            let whole = reidentify_with(t, &m, mode);
            assert_eq!(stream_text(&m, mode, t, &inp.cuts), whole, "feed");
        }
        let mut bytes = text.as_bytes().to_vec();
        bytes.extend_from_slice(&inp.tail);
        let whole = reidentify_with(&String::from_utf8_lossy(&bytes), &m, mode);
        assert_eq!(
            stream_bytes(&m, mode, &bytes, &inp.cuts),
            whole,
            "feed_bytes"
        );
    }
});
