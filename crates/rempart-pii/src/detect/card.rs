//! CREDIT_CARD: Luhn (ISO/IEC 7812-1) plus issuer ranges and lengths
//! (Visa, Mastercard incl. 2-series, Amex, Discover, JCB, Diners, Maestro).

use super::{Cand, checksum, context};
use crate::entity::EntityType;
use std::sync::LazyLock;

static RE: LazyLock<context::Dense> = LazyLock::new(|| {
    context::dense(
        r"[0-9]{4}(?:[ \-][0-9]{4}){2,3}(?:[ \-][0-9]{1,3})?|3[47][0-9]{2}[ \-][0-9]{6}[ \-][0-9]{5}|[0-9]{12,19}",
    )
});

/// Issuer identification number ranges and lengths.
fn issuer_ok(d: &str) -> bool {
    let n = d.len();
    let p = |k: usize| d[..k].parse::<u32>().unwrap_or(0);
    match d.as_bytes()[0] {
        b'4' => matches!(n, 13 | 16 | 19),
        b'5' => {
            (51..=55).contains(&p(2)) && n == 16
                || (p(2) == 50 || (56..=59).contains(&p(2))) && (12..=19).contains(&n)
        }
        b'2' => (2221..=2720).contains(&p(4)) && n == 16,
        b'3' => {
            (matches!(p(2), 34 | 37) && n == 15)
                || ((3528..=3589).contains(&p(4)) && (16..=19).contains(&n))
                || (((300..=305).contains(&p(3)) || matches!(p(2), 36 | 38 | 39))
                    && (14..=19).contains(&n))
        }
        b'6' => {
            (p(4) == 6011
                || p(2) == 65
                || (644..=649).contains(&p(3))
                || p(2) == 62
                || p(2) == 67
                || p(2) == 63)
                && (16..=19).contains(&n)
        }
        _ => false,
    }
}

/// `chunks`: the text's [`context::digit_chunks`]. A card number is digits
/// with single spaces or dashes, so it lies inside one chunk, and only
/// chunks with at least 12 digits can hold one.
pub(crate) fn find(text: &str, chunks: &[(usize, usize)], out: &mut Vec<Cand>) {
    for &(cs, ce) in chunks {
        if ce - cs < 12
            || text.as_bytes()[cs..ce]
                .iter()
                .filter(|b| b.is_ascii_digit())
                .count()
                < 12
        {
            continue;
        }
        for (ms, me) in RE.find_iter(&text[cs..ce]) {
            let (s, e) = (cs + ms, cs + me);
            if !context::bounded(text, s, e) || text[..s].ends_with('+') {
                continue;
            }
            let mut buf = [0u8; 24];
            let mut n = 0;
            for b in text[s..e].bytes().filter(u8::is_ascii_digit) {
                if n == buf.len() {
                    break;
                }
                buf[n] = b;
                n += 1;
            }
            let d = std::str::from_utf8(&buf[..n]).unwrap_or("");
            if (12..=19).contains(&n) && issuer_ok(d) && checksum::luhn(d) {
                out.push(Cand::new(EntityType::CreditCard, s, e, 0.95).checked(None));
            }
        }
    }
}

pub(crate) fn warm_up() {
    LazyLock::force(&RE);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(t: &str, out: &mut Vec<Cand>) {
        let mut chunks = Vec::new();
        context::digit_chunks(t, &mut chunks);
        super::find(t, &chunks, out);
    }

    #[test]
    fn cards() {
        let mut c = Vec::new();
        find("Visa 4539 5787 6362 1486, bad 4539 5787 6362 1487", &mut c);
        assert_eq!(c.len(), 1);
        let mut c = Vec::new();
        find("Amex 3782 822463 10005", &mut c);
        assert_eq!(c.len(), 1);
        // Luhn-valid 14-digit SIRET is not a card.
        let mut c = Vec::new();
        find("SIRET 73282932000074", &mut c);
        assert!(c.is_empty());
    }
}
