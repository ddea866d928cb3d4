//! IBAN: ISO 13616 mod-97 plus each country's length and BBAN structure
//! (SWIFT IBAN Registry), compact or in groups of four.

use super::{Cand, checksum, context};
use crate::entity::EntityType;
use regex::Regex;
use std::sync::LazyLock;

static RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Z]{2}[0-9]{2}(?:[ \u{a0}]?[A-Za-z0-9]){10,30}").expect("static regex")
});

/// BBAN structure per country (SWIFT IBAN Registry notation: `n` digits,
/// `a` upper-case letters, `c` alphanumerics). EU/EEA, UK, CH and
/// neighbours.
const BBAN: &[(&str, &str)] = &[
    ("AD", "8n12c"),
    ("AT", "16n"),
    ("BE", "12n"),
    ("BG", "4a6n8c"),
    ("CH", "5n12c"),
    ("CY", "8n16c"),
    ("CZ", "20n"),
    ("DE", "18n"),
    ("DK", "14n"),
    ("EE", "16n"),
    ("ES", "20n"),
    ("FI", "14n"),
    ("FO", "14n"),
    ("FR", "10n11c2n"),
    ("GB", "4a14n"),
    ("GI", "4a15c"),
    ("GL", "14n"),
    ("GR", "7n16c"),
    ("HR", "17n"),
    ("HU", "24n"),
    ("IE", "4a14n"),
    ("IS", "22n"),
    ("IT", "1a10n12c"),
    ("LI", "5n12c"),
    ("LT", "16n"),
    ("LU", "3n13c"),
    ("LV", "4a13c"),
    ("MC", "10n11c2n"),
    ("MT", "4a5n18c"),
    ("NL", "4a10n"),
    ("NO", "11n"),
    ("PL", "24n"),
    ("PT", "21n"),
    ("RO", "4a16c"),
    ("SE", "20n"),
    ("SI", "15n"),
    ("SK", "20n"),
    ("SM", "1a10n12c"),
    ("VA", "18n"),
    ("RS", "18n"),
    ("ME", "18n"),
    ("MK", "3n10c2n"),
    ("AL", "8n16c"),
    ("BA", "16n"),
    ("UA", "6n19c"),
    ("TR", "5n1n16c"),
    ("MD", "20c"),
    ("XK", "16n"),
];

fn structure(cc: &str) -> Option<&'static str> {
    BBAN.iter().find(|(c, _)| *c == cc).map(|(_, s)| *s)
}

/// Checks `bban` against a registry structure string like `4a14n`.
fn matches_structure(bban: &[u8], spec: &str) -> bool {
    let mut i = 0usize;
    let mut n = 0usize;
    for ch in spec.bytes() {
        if ch.is_ascii_digit() {
            n = n * 10 + usize::from(ch - b'0');
            continue;
        }
        for _ in 0..n {
            let Some(&b) = bban.get(i) else { return false };
            let ok = match ch {
                b'n' => b.is_ascii_digit(),
                b'a' => b.is_ascii_uppercase(),
                _ => b.is_ascii_alphanumeric(),
            };
            if !ok {
                return false;
            }
            i += 1;
        }
        n = 0;
    }
    i == bban.len()
}

fn spec_len(spec: &str) -> usize {
    let mut total = 0;
    let mut n = 0;
    for ch in spec.bytes() {
        if ch.is_ascii_digit() {
            n = n * 10 + usize::from(ch - b'0');
        } else {
            total += n;
            n = 0;
        }
    }
    total
}

/// Validates a compact IBAN (upper case, no spaces).
pub fn is_valid_iban(iban: &str) -> bool {
    let b = iban.as_bytes();
    if b.len() < 15 || !iban.is_ascii() {
        return false;
    }
    let Some(spec) = structure(&iban[..2]) else {
        return false;
    };
    b.len() == 4 + spec_len(spec) && matches_structure(&b[4..], spec) && checksum::iban_mod97(iban)
}

/// [`RE`] anchored (as a dense DFA: one table walk per candidate).
static ANCHORED: LazyLock<context::Dense> = LazyLock::new(|| context::dense(RE.as_str()));

/// `chunks`: the text's [`context::digit_chunks`]. Every IBAN starts with
/// two upper-case letters right before a digit chunk of at least two
/// digits; trying the anchored pattern at those places, earliest first and
/// past the previous match, gives exactly the matches of a whole-text
/// search (which is leftmost-first), without scanning the rest.
pub(crate) fn find(text: &str, chunks: &[(usize, usize)], out: &mut Vec<Cand>) {
    let b = text.as_bytes();
    let mut next = 0;
    for &(cs, ce) in chunks {
        if cs < 2
            || cs - 2 < next
            || ce - cs < 2
            || !b[cs + 1].is_ascii_digit()
            || !b[cs - 2].is_ascii_uppercase()
            || !b[cs - 1].is_ascii_uppercase()
        {
            continue;
        }
        let s = cs - 2;
        let Some(m_end) = ANCHORED.match_at(b, s) else {
            continue;
        };
        next = m_end;
        if !context::left_boundary(text, s) {
            continue;
        }
        let Some(spec) = structure(&text[s..s + 2]) else {
            continue;
        };
        let want = 4 + spec_len(spec);
        let mut buf = [0u8; 40];
        let mut n = 0usize;
        let mut end = s;
        for (i, ch) in text[s..m_end].char_indices() {
            if ch == ' ' || ch == '\u{a0}' {
                continue;
            }
            buf[n] = (ch as u8).to_ascii_uppercase();
            n += 1;
            end = s + i + ch.len_utf8();
            if n == want {
                break;
            }
        }
        if n != want || !context::right_boundary(text, end) {
            continue;
        }
        let compact = std::str::from_utf8(&buf[..n]).unwrap_or("");
        if is_valid_iban(compact) {
            out.push(Cand::new(EntityType::Iban, s, end, 0.99).checked(None));
        }
    }
}

/// Compiles this detector's automata now rather than on first use.
pub(crate) fn warm_up() {
    LazyLock::force(&RE);
    LazyLock::force(&ANCHORED);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_invalid() {
        assert!(is_valid_iban("DE89370400440532013000"));
        assert!(is_valid_iban("GB82WEST12345698765432"));
        assert!(is_valid_iban("FR1420041010050500013M02606"));
        assert!(!is_valid_iban("DE89370400440532013001"));
        // right checksum shape but wrong length for NL
        assert!(!is_valid_iban("NL91ABNA04171643001"));
    }

    #[test]
    fn spaced_form_in_text() {
        let t = "IBAN: DE89 3704 0044 0532 0130 00 BIC COBADEFFXXX";
        let mut c = Vec::new();
        let mut chunks = Vec::new();
        context::digit_chunks(t, &mut chunks);
        find(t, &chunks, &mut c);
        assert_eq!(c.len(), 1);
        assert_eq!(&t[c[0].start..c[0].end], "DE89 3704 0044 0532 0130 00");
    }
}
