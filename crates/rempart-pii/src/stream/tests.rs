//! Tests of the streaming re-identifier.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::entity::{Entity, EntityType};
use crate::pseudo::{pseudonymise, reidentify_stats, reidentify_with};

fn mapping() -> Mapping {
    let mut m = Mapping::new();
    let values = [
        (EntityType::Person, "Alice \"Al\" Martin"),
        (EntityType::Person, "Zoë Ångström"),
        (EntityType::Email, "a\\b@example.fr"),
        (EntityType::DateOfBirth, "1 janvier 1980"),
        (EntityType::Person, "[[PERSON_9]]"),
    ];
    for (kind, v) in values {
        let e = Entity {
            kind,
            subtype: None,
            start: 0,
            end: v.len(),
            score: 1.0,
        };
        pseudonymise(v, &[e], &mut m, |_| true).unwrap();
    }
    m
}

fn run(re: &mut StreamReidentifier<&Mapping>, chunks: &[&str]) -> Vec<String> {
    let mut sent = Vec::new();
    for c in chunks {
        let mut out = String::new();
        re.feed(c, &mut out);
        sent.push(out);
    }
    let mut out = String::new();
    re.finish(&mut out);
    sent.push(out);
    sent
}

#[test]
fn split_placeholder_is_restored_with_minimal_hold_back() {
    let m = mapping();
    let mut re = StreamReidentifier::new(&m);
    let sent = run(&mut re, &["Hi [", "[per", "son 1", " ]", "]", ", bye"]);
    assert_eq!(
        sent,
        ["Hi ", "", "", "", "Alice \"Al\" Martin", ", bye", ""]
    );
}

#[test]
fn text_that_cannot_be_a_placeholder_is_not_held() {
    let m = mapping();
    let mut re = StreamReidentifier::new(&m);
    let mut out = String::new();
    re.feed("a [[link]] [x] [[Pe", &mut out);
    assert_eq!(out, "a [[link]] [x] ");
    assert_eq!(re.held_back(), 4);
    out.clear();
    re.feed("ter]]", &mut out);
    assert_eq!(out, "[[Peter]]");
    assert_eq!(re.held_back(), 0);
}

#[test]
fn unfinished_placeholder_is_flushed_at_the_end() {
    let m = mapping();
    let mut re = StreamReidentifier::new(&m);
    assert_eq!(run(&mut re, &["x [[PERSON_1"]), ["x ", "[[PERSON_1"]);
    // Reusable after finish.
    assert_eq!(run(&mut re, &["[[PERSON_2]]"]), ["Zoë Ångström", ""]);
}

#[test]
fn json_mode_escapes() {
    let m = mapping();
    let mut re = StreamReidentifier::with_mode(&m, Mode::JsonString);
    let sent = run(
        &mut re,
        &["{\"to\": \"[[EMA", "IL_1]]\", \"n\": \"[[PERSON_1]]\"}"],
    );
    let doc: String = sent.concat();
    let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(v["to"], "a\\b@example.fr");
    assert_eq!(v["n"], "Alice \"Al\" Martin");
}

#[test]
fn holds_mapping_by_arc_or_value() {
    let m = Arc::new(mapping());
    let mut re = StreamReidentifier::new(Arc::clone(&m));
    let mut out = String::new();
    re.feed("[[PERSON_2]]", &mut out);
    re.finish(&mut out);
    assert_eq!(out, "Zoë Ångström");
    let mut re = StreamReidentifier::new(mapping());
    out.clear();
    re.feed("[[PERSON_2]]", &mut out);
    assert_eq!(out, "Zoë Ångström");
}

#[test]
fn bytes_split_inside_characters() {
    let m = mapping();
    let text = "Zoë [[PERSON_2]] 漢🙂";
    let bytes = text.as_bytes();
    for cut in 0..=bytes.len() {
        let mut re = StreamReidentifier::new(&m);
        let mut out = String::new();
        re.feed_bytes(&bytes[..cut], &mut out);
        re.feed_bytes(&bytes[cut..], &mut out);
        re.finish(&mut out);
        assert_eq!(out, "Zoë Zoë Ångström 漢🙂", "cut at {cut}");
    }
}

#[test]
fn invalid_utf8_becomes_replacement_characters() {
    let m = mapping();
    let bytes: &[u8] = b"a\xF0\x9F\x99b\xFF[[PERSON_2]]\xE6";
    let mut re = StreamReidentifier::new(&m);
    let mut out = String::new();
    re.feed_bytes(bytes, &mut out);
    re.finish(&mut out);
    assert_eq!(out, "a\u{FFFD}b\u{FFFD}Zoë Ångström\u{FFFD}");
}

#[test]
fn counts_restored_and_unknown() {
    let m = mapping();
    let mut re = StreamReidentifier::new(&m);
    let sent = run(
        &mut re,
        &["[[PERSON_1]] [[PERS", "ON_7]] [[EMAIL_1]] [[x]]"],
    );
    assert_eq!(
        sent.concat(),
        "Alice \"Al\" Martin [[PERSON_7]] a\\b@example.fr [[x]]"
    );
    assert_eq!(
        re.stats(),
        ReidentifyStats {
            restored: 2,
            unknown: 1
        }
    );
}

#[test]
fn feed_after_incomplete_bytes_replaces_them() {
    let m = mapping();
    let mut re = StreamReidentifier::new(&m);
    let mut out = String::new();
    re.feed_bytes(b"a\xC3", &mut out);
    re.feed("b", &mut out);
    re.finish(&mut out);
    assert_eq!(out, "a\u{FFFD}b");
}

/// Every cut into two and three chunks of a tricky text.
#[test]
fn exhaustive_small_cuts() {
    let m = mapping();
    let t = "é[[[Person 1]]x[[EMAIL_1[[ date of birth 1 ]]]]🙂[[PERSON_2";
    let b = t.as_bytes();
    for mode in [Mode::Text, Mode::JsonString] {
        let want = reidentify_with(t, &m, mode);
        for i in 0..=b.len() {
            for j in i..=b.len() {
                let mut re = StreamReidentifier::with_mode(&m, mode);
                let mut got = String::new();
                re.feed_bytes(&b[..i], &mut got);
                re.feed_bytes(&b[i..j], &mut got);
                re.feed_bytes(&b[j..], &mut got);
                re.finish(&mut got);
                assert_eq!(got, want, "cuts {i} {j}");
            }
        }
    }
}

#[test]
fn debug_shows_no_text() {
    let m = mapping();
    let mut re = StreamReidentifier::new(&m);
    let mut out = String::new();
    re.feed("Secret [[PERS", &mut out);
    let shown = format!("{re:?}");
    assert!(!shown.contains("Secret") && !shown.contains("PERS") && !shown.contains("Alice"));
}

// === properties ===

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "\\PC{0,6}",
        2 => "[\\[\\] a-zA-Z_0-9-]{0,8}",
        2 => proptest::sample::select(vec![
            "[[PERSON_1]]", "[[person 2]]", "[[ PERSON-3 ]]", "[[PERSON_4]]", "[[EMAIL1]]",
            "[[Date of Birth 1]]", "[[EMAIL_1", "[[", "[", "]]", "[[[PERSON_1]]]",
            "[[  D_A_T_E_O_F_B_I_R_T_H_1  ]]",
        ]).prop_map(str::to_owned),
        1 => Just("é漢🙂\"\\".to_owned()),
    ]
}

fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(piece(), 0..16).prop_map(|v| v.concat())
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Text), Just(Mode::JsonString)]
}

/// Cuts `len` into chunks at the given (sorted, deduplicated) points.
fn cuts(len: usize, mut points: Vec<usize>) -> Vec<(usize, usize)> {
    points.retain(|&p| p <= len);
    points.push(0);
    points.push(len);
    points.sort_unstable();
    points.dedup();
    points.windows(2).map(|w| (w[0], w[1])).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Every split of the stream gives the non-streaming result.
    #[test]
    fn any_split_str(
        t in text(),
        points in proptest::collection::vec(0usize..200, 0..24),
        mode in mode(),
    ) {
        let m = mapping();
        let want = reidentify_with(&t, &m, mode);
        // Cut points rounded down to char boundaries (the &str API).
        let points = points
            .into_iter()
            .map(|mut p| {
                p = p.min(t.len());
                while !t.is_char_boundary(p) {
                    p -= 1;
                }
                p
            })
            .collect();
        let mut re = StreamReidentifier::with_mode(&m, mode);
        let mut got = String::new();
        let mut out = String::new();
        for (a, b) in cuts(t.len(), points) {
            re.feed(&t[a..b], &mut out);
            prop_assert!(re.held_back() < MAX_PLACEHOLDER_LEN);
            got.push_str(&out);
            out.clear();
        }
        re.finish(&mut out);
        got.push_str(&out);
        prop_assert_eq!(got, want);
        prop_assert_eq!(re.stats(), reidentify_stats(&t, &m, mode).1);
    }

    /// Every split of the byte stream, inside characters too, gives the
    /// non-streaming result of the lossy decoding.
    #[test]
    fn any_split_bytes(
        t in text(),
        junk in proptest::collection::vec((0usize..200, any::<u8>()), 0..3),
        points in proptest::collection::vec(0usize..200, 0..24),
        mode in mode(),
    ) {
        let m = mapping();
        let mut bytes = t.into_bytes();
        for (at, b) in junk {
            let at = at.min(bytes.len());
            bytes.insert(at, b);
        }
        let want = reidentify_with(&String::from_utf8_lossy(&bytes), &m, mode);
        let mut re = StreamReidentifier::with_mode(&m, mode);
        let mut got = String::new();
        for (a, b) in cuts(bytes.len(), points) {
            re.feed_bytes(&bytes[a..b], &mut got);
            prop_assert!(re.held_back() < MAX_PLACEHOLDER_LEN + 4);
        }
        re.finish(&mut got);
        prop_assert_eq!(got, want);
        let lossy = String::from_utf8_lossy(&bytes);
        prop_assert_eq!(re.take_stats(), reidentify_stats(&lossy, &m, mode).1);
        prop_assert_eq!(re.stats(), ReidentifyStats::default());
    }

    /// Byte-at-a-time and char-at-a-time feeding.
    #[test]
    fn one_at_a_time(t in text(), mode in mode()) {
        let m = mapping();
        let want = reidentify_with(&t, &m, mode);
        let mut re = StreamReidentifier::with_mode(&m, mode);
        let mut got = String::new();
        for b in t.as_bytes() {
            re.feed_bytes(std::slice::from_ref(b), &mut got);
        }
        re.finish(&mut got);
        prop_assert_eq!(&got, &want);
        let mut got = String::new();
        let mut buf = [0u8; 4];
        for c in t.chars() {
            re.feed(c.encode_utf8(&mut buf), &mut got);
        }
        re.finish(&mut got);
        prop_assert_eq!(got, want);
    }
}
