//! `extract` never panics, whatever the bytes: random input, and random
//! input behind each format's signature so every parser sees it.

mod support;

use proptest::prelude::*;
use rempart_ingest::extract;

const PREFIXES: [&[u8]; 8] = [
    b"",
    b"%PDF-1.4\n",
    b"PK\x03\x04",
    b"<!DOCTYPE html><html><body>",
    b"From: a@example.org\r\nTo: b@example.org\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n",
    b"\x89PNG\r\n\x1a\n",
    b"# Title\n\n| a |\n|---|\n",
    b"\xFF\xFE",
];

const HINTS: [Option<&str>; 5] = [
    None,
    Some("x.md"),
    Some("x.html"),
    Some("x.eml"),
    Some("x.docx"),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_arbitrary_bytes(
        prefix in 0..PREFIXES.len(),
        hint in 0..HINTS.len(),
        body in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = PREFIXES[prefix].to_vec();
        bytes.extend_from_slice(&body);
        if let Ok(e) = extract(&bytes, HINTS[hint]) {
            support::check_provenance(&e);
        }
    }

    #[test]
    fn never_panics_on_mutated_real_files(
        which in 0..3usize,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = match which {
            0 => support::pdf(&[support::PageContent::Text(&["Bonjour", "", "Monde"])]),
            1 => support::docx(&support::p(Some("Heading1"), false, "Titre"), None),
            _ => include_bytes!("fixtures/policy.html").to_vec(),
        };
        for (i, b) in flips {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        let keep = cut.index(bytes.len()) + 1;
        bytes.truncate(keep.max(bytes.len() / 2));
        if let Ok(e) = extract(&bytes, None) {
            support::check_provenance(&e);
        }
    }
}
