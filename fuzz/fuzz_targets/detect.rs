//! Arbitrary UTF-8 (lossily decoded from the fuzzer's bytes) through
//! `Detector::detect` with every language hint: no panic, and the spans are
//! sorted, non-overlapping, non-empty, in bounds and on char boundaries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rempart_pii::{Detector, Lang};
use std::sync::LazyLock;

static DETECTOR: LazyLock<Detector> = LazyLock::new(Detector::new);

const LANGS: [Option<&str>; 12] = [
    None,
    Some("fr"),
    Some("de"),
    Some("es"),
    Some("it"),
    Some("nl"),
    Some("en"),
    Some("pl"),
    Some("pt"),
    Some("sv"),
    Some("da"),
    Some("fi"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let lang =
        LANGS[usize::from(sel) % LANGS.len()].map(|c| Lang::from_code(c).expect("known code"));
    let ents = DETECTOR.detect(&text, lang);
    let mut prev_end = 0;
    for e in &ents {
        assert!(e.start < e.end, "empty span {}..{}", e.start, e.end);
        assert!(e.end <= text.len(), "span past the end");
        assert!(
            text.is_char_boundary(e.start) && text.is_char_boundary(e.end),
            "not on a char boundary"
        );
        assert!(e.start >= prev_end, "unsorted or overlapping spans");
        assert!((0.0..=1.0).contains(&e.score), "score out of range");
        prev_end = e.end;
    }
    // The scan line format too (JSON in, JSON out).
    let line = serde_json_line(&text, sel);
    let _ = rempart_pii::scan_line(&DETECTOR, &line);
});

/// `{"id":"f","text":…}` with the text JSON-escaped by hand (the fuzz crate
/// keeps its dependencies to the crate under test).
fn serde_json_line(text: &str, sel: u8) -> String {
    let mut s = String::with_capacity(text.len() + 32);
    s.push_str("{\"id\":\"f\",");
    if sel & 1 == 1 {
        s.push_str("\"lang\":\"de\",");
    }
    s.push_str("\"text\":\"");
    for c in text.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if (c as u32) < 0x20 => s.push_str(&format!("\\u{:04x}", c as u32)),
            c => s.push(c),
        }
    }
    s.push_str("\"}");
    s
}
