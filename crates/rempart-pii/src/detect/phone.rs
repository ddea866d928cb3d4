//! PHONE: international (`+CC`, `00CC`, with an optional `(0)`) and
//! national formats for EU/EEA, UK and CH numbering plans.
//!
//! International numbers are validated against each country code's
//! national significant number lengths (ITU-T E.164 national plans, as in
//! libphonenumber metadata). National numbers need a trunk `0` and a
//! plausible length, or, for plans without a trunk prefix (ES, IT mobiles,
//! PL, PT, DK), a phone cue word or the language hint.

use super::{Cand, Lang, context};
use crate::entity::EntityType;
use std::sync::LazyLock;

static INTL: LazyLock<context::Dense> = LazyLock::new(|| {
    context::dense(r"(?:\+|00)[1-9][0-9]{0,3}(?:[ .\-]?\(0\))?(?:[ .\-/]?\(?[0-9]{1,6}\)?){1,7}")
});
static NATIONAL: LazyLock<context::Dense> = LazyLock::new(|| {
    context::dense(
        r"\(?0[0-9]{1,4}\)?(?:[ .\-/]{0,3}[0-9]{2,8}){1,5}|[1-9][0-9]{1,3}(?:[ .\-][0-9]{2,4}){1,4}|[1-9][0-9]{7,9}",
    )
});

/// (country code, min, max national significant number length).
const PLANS: &[(&str, usize, usize)] = &[
    ("1", 10, 10),
    ("30", 10, 10),
    ("31", 9, 9),
    ("32", 8, 9),
    ("33", 9, 9),
    ("34", 9, 9),
    ("351", 9, 9),
    ("352", 4, 11),
    ("353", 7, 9),
    ("354", 7, 9),
    ("356", 8, 8),
    ("357", 8, 8),
    ("358", 5, 12),
    ("359", 8, 9),
    ("36", 8, 9),
    ("370", 8, 8),
    ("371", 8, 8),
    ("372", 7, 8),
    ("385", 8, 9),
    ("386", 8, 8),
    ("39", 6, 11),
    ("40", 9, 9),
    ("41", 9, 9),
    ("420", 9, 9),
    ("421", 9, 9),
    ("423", 7, 9),
    ("43", 4, 13),
    ("44", 9, 10),
    ("45", 8, 8),
    ("46", 7, 10),
    ("47", 8, 8),
    ("48", 9, 9),
    ("49", 6, 13),
    ("377", 8, 9),
    ("378", 6, 10),
    ("380", 9, 9),
];

fn plan(digits: &str) -> Option<(usize, usize, usize)> {
    (1..=3).find_map(|k| {
        let cc = digits.get(..k)?;
        PLANS.iter().find(|p| p.0 == cc).map(|p| (k, p.1, p.2))
    })
}

/// Byte offsets where each digit of `s` (starting at `base`) ends.
fn digit_ends(s: &str, base: usize, ends: &mut Vec<usize>, digits: &mut String) {
    ends.clear();
    digits.clear();
    for (i, b) in s.bytes().enumerate() {
        if b.is_ascii_digit() {
            digits.push(b as char);
            ends.push(base + i + 1);
        }
    }
}

/// Part of a longer digit sequence (IBAN groups, card groups ...)?
pub(crate) fn inside_digit_run(text: &str, s: usize) -> bool {
    let b = text.as_bytes();
    if s < 2 || !matches!(b[s - 1], b' ' | b'.' | b'-') {
        return false;
    }
    let mut i = s - 1;
    while i > 0 && b[i - 1].is_ascii_alphanumeric() {
        i -= 1;
        if b[i].is_ascii_digit() {
            return true;
        }
    }
    false
}

fn end_ok(text: &str, e: usize) -> bool {
    let rest = &text[e..];
    context::right_boundary(text, e)
        && !rest.starts_with(['%', '€', '$', '£'])
        && !rest.starts_with(" €")
        && !rest.starts_with(" EUR")
        && (!rest.starts_with(['.', ',']) || !rest[1..].starts_with(|c: char| c.is_ascii_digit()))
}

/// A maximal run of the bytes phone numbers are written with
/// (`[+0-9 .\-/()]`): every [`INTL`] and [`NATIONAL`] match lies inside
/// one, so the patterns run only over runs that can hold a match.
struct Run {
    start: usize,
    end: usize,
    digits: usize,
    /// Holds `+` or `00` (an international prefix).
    intl: bool,
}

fn phone_byte(b: u8) -> bool {
    matches!(
        b,
        b'+' | b'0'..=b'9' | b' ' | b'.' | b'-' | b'/' | b'(' | b')'
    )
}

/// The runs that hold a digit, found from each digit outwards. `chunks`:
/// the text's [`context::digit_chunks`]; the first digit after a run is the
/// start of a chunk (a chunk's bytes are all phone bytes, so a chunk that
/// starts inside a run ends inside it).
fn runs(text: &str, chunks: &[(usize, usize)], out: &mut Vec<Run>) {
    let b = text.as_bytes();
    let mut i = 0;
    for &(first, _) in chunks {
        if first < i {
            continue;
        }
        let mut start = first;
        while start > i && phone_byte(b[start - 1]) {
            start -= 1;
        }
        let mut end = first;
        let (mut digits, mut intl) = (0, false);
        while end < b.len() && phone_byte(b[end]) {
            match b[end] {
                b'0'..=b'9' => {
                    digits += 1;
                    intl |= b[end] == b'0' && end > start && b[end - 1] == b'0';
                }
                b'+' => intl = true,
                _ => {}
            }
            end += 1;
        }
        intl |= b[start..first].contains(&b'+');
        out.push(Run {
            start,
            end,
            digits,
            intl,
        });
        i = end;
    }
}

pub(crate) fn find(text: &str, lang: Option<Lang>, chunks: &[(usize, usize)], out: &mut Vec<Cand>) {
    let mut ends = Vec::with_capacity(20);
    let mut digits = String::with_capacity(20);
    let mut intl: Vec<(usize, usize)> = Vec::new();
    let mut rs = Vec::with_capacity(text.len() / 64);
    runs(text, chunks, &mut rs);
    // An international number has a country code and at least four
    // digits of national number (the shortest plan in `PLANS`).
    for r in rs.iter().filter(|r| r.intl && r.digits >= 5) {
        for (ms, me) in INTL.find_iter(&text[r.start..r.end]) {
            let m_end = r.start + me;
            let s = r.start + ms;
            if !context::left_boundary(text, s) || inside_digit_run(text, s) {
                continue;
            }
            let raw = &text[s..m_end];
            let body = raw
                .strip_prefix('+')
                .or_else(|| raw.strip_prefix("00"))
                .unwrap_or(raw);
            let base = m_end - body.len();
            digit_ends(body, base, &mut ends, &mut digits);
            let Some((cc, min, max)) = plan(&digits) else {
                continue;
            };
            // A "(0)" trunk after the country code is not part of the NSN.
            let trunk = usize::from(raw.contains("(0)"));
            let mut best = None;
            for n in (min..=max).rev() {
                let k = cc + trunk + n;
                if k <= ends.len() && end_ok(text, ends[k - 1]) {
                    best = Some(ends[k - 1]);
                    break;
                }
            }
            if let Some(e) = best {
                let mut e = e;
                if text[s..e].ends_with(')') {
                    e -= 1;
                }
                out.push(Cand::new(EntityType::Phone, s, e, 0.95));
                intl.push((s, e));
            }
        }
    }
    // Every national number accepted below has at least eight digits; a
    // shorter run can only hold rejected matches.
    for r in rs.iter().filter(|r| r.digits >= 8) {
        for (ms, me) in NATIONAL.find_iter(&text[r.start..r.end]) {
            let (s, e0) = (r.start + ms, r.start + me);
            if intl.iter().any(|&(a, b)| s < b && e0 > a)
                || !context::left_boundary(text, s)
                || inside_digit_run(text, s)
            {
                continue;
            }
            if text[..s].ends_with(['+', '/', '.', ',']) {
                continue;
            }
            digit_ends(&text[s..e0], s, &mut ends, &mut digits);
            let mut e = e0;
            while text[s..e].ends_with([' ', '.', '-', '/', '(']) {
                e -= 1;
            }
            if !end_ok(text, e) {
                continue;
            }
            let n = digits.len();
            let raw = &text[s..e];
            // Dates and times are never phones.
            let date_like = n <= 8 && raw.split(['.', '/', '-']).count() == 3;
            // Every accepted number has one of these lengths: the cue
            // search (an automaton over the 45 bytes before) only for them.
            if date_like || !(8..=12).contains(&n) {
                continue;
            }
            let cue = context::cue_before(&context::PHONE, text, s, 45);
            let trunk = digits.starts_with('0') && !digits.starts_with("00");
            let grouped = raw.contains([' ', '-', '.', '/']);
            // Plans without a trunk prefix (PL, ES, PT, DK) never start with 0;
            // dots as separators are a French/Belgian habit.
            let no_trunk_plan = matches!(lang, Some(Lang::Pl | Lang::Es | Lang::Pt | Lang::Da));
            let dotted = raw.contains('.') && !matches!(lang, Some(Lang::Fr) | None);
            let ok = if trunk {
                (9..=12).contains(&n)
                    && (cue || (!no_trunk_plan && !dotted && (grouped || n >= 10)))
            } else {
                let shape = match lang {
                    Some(Lang::Es) => {
                        n == 9 && matches!(digits.as_bytes()[0], b'6' | b'7' | b'8' | b'9')
                    }
                    Some(Lang::It) => (9..=10).contains(&n) && digits.starts_with('3'),
                    Some(Lang::Pl) => n == 9 && grouped,
                    Some(Lang::Pt) => n == 9 && matches!(digits.as_bytes()[0], b'2' | b'9'),
                    Some(Lang::Da) => n == 8 && grouped,
                    _ => false,
                };
                (8..=10).contains(&n) && (cue || (shape && grouped))
            };
            if ok {
                let score = if cue { 0.9 } else { 0.75 };
                out.push(Cand::new(EntityType::Phone, s, e, score));
            }
        }
    }
}

/// Compiles this detector's automata now rather than on first use.
pub(crate) fn warm_up() {
    LazyLock::force(&INTL);
    LazyLock::force(&NATIONAL);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phones(t: &str, lang: Option<Lang>) -> Vec<&str> {
        let mut c = Vec::new();
        let mut chunks = Vec::new();
        context::digit_chunks(t, &mut chunks);
        find(t, lang, &chunks, &mut c);
        c.iter().map(|x| &t[x.start..x.end]).collect()
    }

    #[test]
    fn formats() {
        assert_eq!(
            phones("Tél. : 06 12 34 56 78", Some(Lang::Fr)),
            vec!["06 12 34 56 78"]
        );
        assert_eq!(
            phones("ruf an: +49 (0)30 1234567.", None),
            vec!["+49 (0)30 1234567"]
        );
        assert_eq!(phones("+4917318327331", None), vec!["+4917318327331"]);
        assert_eq!(
            phones("móvil 668 40 12 56", Some(Lang::Es)),
            vec!["668 40 12 56"]
        );
        assert!(phones("le 12/05/2024 pour 283,27 €", Some(Lang::Fr)).is_empty());
    }
}
