//! NATIONAL_ID: national identifiers with published check digits.
//!
//! Digit-only schemes are found in "digit chunks" (digits separated by
//! single spaces, dots, dashes or slashes): each scheme lists the groupings
//! it is written in (`2 3 3 3` for a Steuer-ID, `6-4` for a CPR ...), and a
//! window of groups that matches one is checked with the scheme's
//! validator. Alphanumeric schemes (DNI, NIE, codice fiscale, NINO, PT CC,
//! HETU, PPS, NIR with 2A/2B) have their own patterns. Weak checksums (BSN
//! 1/11, CPR none) need a cue word or the language hint.

use super::{Cand, Lang, checksum as ck, context};
use crate::entity::EntityType;
use regex::Regex;
use std::sync::LazyLock;

static ALNUM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?P<cf>[A-Za-z]{6}[0-9LMNPQRSTUV]{2}[A-Za-z][0-9LMNPQRSTUV]{2}[A-Za-z][0-9LMNPQRSTUV]{3}[A-Za-z])",
        r"|(?P<nir>[1-478] ?[0-9]{2} ?[0-9]{2} ?2[ABab] ?[0-9]{3} ?[0-9]{3} ?[0-9]{2})",
        r"|(?P<dni>[0-9]{8}[ \-]?[A-Za-z]|[0-9]{2}\.[0-9]{3}\.[0-9]{3}[ \-]?[A-Za-z])",
        r"|(?P<nie>[XYZxyz][ \-]?[0-9]{7}[ \-]?[A-Za-z])",
        r"|(?P<nino>[A-Za-z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-Da-d])",
        r"|(?P<ptcc>[0-9]{8} ?[0-9] ?[A-Za-z]{2} ?[0-9])",
        r"|(?P<hetu>[0-9]{6}[\-+A-FU-Y][0-9]{3}[0-9A-Ya-y])",
        r"|(?P<pps>[0-9]{7}[A-Wa-w][ABHWTXabhwtx]?)",
    ))
    .expect("static regex")
});

/// (subtype, groupings) for digit-only schemes.
const DIGIT_SCHEMES: &[(&str, &[&[usize]])] = &[
    (
        "FR_NIR",
        &[&[15], &[1, 2, 2, 2, 3, 3, 2], &[13, 2], &[1, 2, 2, 5, 3, 2]],
    ),
    ("DE_IDNR", &[&[11], &[2, 3, 3, 3]]),
    ("PL_PESEL", &[&[11]]),
    ("BE_NRN", &[&[11], &[2, 2, 2, 3, 2], &[6, 3, 2]]),
    ("NL_BSN", &[&[9], &[4, 2, 3], &[3, 3, 3]]),
    ("UK_NHS", &[&[10], &[3, 3, 4]]),
    ("AT_SVNR", &[&[10], &[4, 6]]),
    ("DK_CPR", &[&[10], &[6, 4]]),
    ("SE_PNR", &[&[6, 4], &[8, 4], &[12], &[10]]),
];

/// A subtype and one of its groupings.
type Grouping = (&'static str, &'static [usize]);

/// The (subtype, grouping) pairs of [`DIGIT_SCHEMES`], in their order,
/// by the length of the grouping's first group: a group is checked only
/// against the groupings that can start with it.
static BY_FIRST: LazyLock<Vec<Vec<Grouping>>> = LazyLock::new(|| {
    let mut by: Vec<Vec<Grouping>> = Vec::new();
    for &(sub, shapes) in DIGIT_SCHEMES {
        for &shape in shapes {
            if by.len() <= shape[0] {
                by.resize(shape[0] + 1, Vec::new());
            }
            by[shape[0]].push((sub, shape));
        }
    }
    by
});

/// The fewest digits any grouping in [`DIGIT_SCHEMES`] holds.
const MIN_SCHEME_DIGITS: usize = {
    let mut min = usize::MAX;
    let mut i = 0;
    while i < DIGIT_SCHEMES.len() {
        let shapes = DIGIT_SCHEMES[i].1;
        let mut j = 0;
        while j < shapes.len() {
            let mut sum = 0;
            let mut k = 0;
            while k < shapes[j].len() {
                sum += shapes[j][k];
                k += 1;
            }
            if sum < min {
                min = sum;
            }
            j += 1;
        }
        i += 1;
    }
    min
};

fn lang_fits(sub: &str, lang: Option<Lang>) -> bool {
    matches!(
        (sub, lang),
        ("DE_IDNR" | "AT_SVNR", Some(Lang::De))
            | ("PL_PESEL", Some(Lang::Pl))
            | ("BE_NRN", Some(Lang::Fr | Lang::Nl))
            | ("NL_BSN", Some(Lang::Nl))
            | ("UK_NHS", Some(Lang::En))
            | ("SE_PNR", Some(Lang::Sv))
            | ("DK_CPR", Some(Lang::Da))
            | ("FR_NIR", Some(Lang::Fr))
    )
}

/// Specific cue words per scheme (lower case, ASCII-insensitive match).
fn scheme_cue(sub: &str, window: &str) -> bool {
    let w = window.to_ascii_lowercase();
    let any = |xs: &[&str]| xs.iter().any(|x| w.contains(x));
    match sub {
        "FR_NIR" => any(&["sécu", "secu", "nir", "immatriculation", "insee", "social"]),
        "DE_IDNR" => any(&["steuer", "idnr", "id-nr", "identifikationsnummer", "tin"]),
        "PL_PESEL" => any(&["pesel"]),
        "BE_NRN" => any(&[
            "registre",
            "rijksregister",
            "nrn",
            "insz",
            "niss",
            "national",
        ]),
        "NL_BSN" => any(&["bsn", "burgerservice", "sofi"]),
        "UK_NHS" => any(&["nhs"]),
        "AT_SVNR" => any(&[
            "versicherungsnummer",
            "svnr",
            "sv-nr",
            "sozialversicherung",
            "svn",
        ]),
        "DK_CPR" => any(&["cpr", "personnummer"]),
        "SE_PNR" => any(&["personnummer", "personnr", "pnr"]),
        _ => false,
    }
}

fn validate(sub: &str, d: &str) -> bool {
    match sub {
        "FR_NIR" => ck::fr_nir(d),
        "DE_IDNR" => ck::de_idnr(d),
        "PL_PESEL" => ck::pl_pesel(d),
        "BE_NRN" => ck::be_nrn(d),
        "NL_BSN" => ck::nl_bsn(d),
        "UK_NHS" => ck::uk_nhs(d) && !d.starts_with('0'),
        "AT_SVNR" => ck::at_svnr(d),
        "DK_CPR" => ck::dk_cpr(d).is_some(),
        "SE_PNR" => ck::se_pnr(if d.len() == 12 { &d[2..] } else { d }),
        _ => false,
    }
}

/// How much a scheme's check alone is worth without context.
fn strong(sub: &str) -> bool {
    matches!(sub, "FR_NIR" | "BE_NRN" | "DE_IDNR" | "PL_PESEL")
}

/// Also collects, in `near`, merged windows around every digit run: the
/// alphanumeric schemes all carry digits, so their pattern runs only there.
/// Each window says whether one of its chunks has the digits an
/// alphanumeric scheme needs (see [`alnum_possible`]).
fn digit_chunks(
    text: &str,
    lang: Option<Lang>,
    chunks: &[(usize, usize)],
    out: &mut Vec<Cand>,
    near: &mut Vec<(usize, usize, bool)>,
) {
    let mut groups: Vec<(usize, usize)> = Vec::with_capacity(16);
    let mut buf = String::with_capacity(24);
    for &(m_start, m_end) in chunks {
        let chunk = &text[m_start..m_end];
        let mut ws = m_start.saturating_sub(10);
        while !text.is_char_boundary(ws) {
            ws += 1;
        }
        let mut we = (m_end + 12).min(text.len());
        while !text.is_char_boundary(we) {
            we -= 1;
        }
        let digits_ok = chunk_alnum_digits(chunk.as_bytes());
        match near.last_mut() {
            Some(last) if ws <= last.1 => {
                last.1 = last.1.max(we);
                last.2 |= digits_ok;
            }
            _ => near.push((ws, we, digits_ok)),
        }
        if !context::left_boundary(text, m_start) || text[..m_start].ends_with('+') {
            continue;
        }
        // Fewer digits than the shortest grouping of any scheme: nothing
        // to check (most chunks: years, amounts, house numbers, dates).
        if chunk.bytes().filter(u8::is_ascii_digit).count() < MIN_SCHEME_DIGITS {
            continue;
        }
        groups.clear();
        let base = m_start;
        let bytes = chunk.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let st = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            groups.push((base + st, base + i));
            i += 1;
        }
        // A dotted quad is an IPv4 address; digits after `+CC` or
        // `+CC (0)` are a phone number.
        if groups.len() == 4
            && chunk.bytes().filter(|&b| b == b'.').count() == 3
            && groups.iter().all(|g| g.1 - g.0 <= 3)
        {
            continue;
        }
        let head = context::before(text, m_start, 10).trim_end();
        let head = head.strip_suffix("(0)").unwrap_or(head).trim_end();
        let cc = head.trim_end_matches(|c: char| c.is_ascii_digit());
        if cc.ends_with('+') && head.len() - cc.len() <= 3 && head.len() > cc.len()
            || cc.ends_with("00") && head.len() - cc.len() <= 3
        {
            continue;
        }
        let window = context::before(text, m_start, 70);
        let mut generic: Option<bool> = None;
        let mut generic_cue =
            || *generic.get_or_insert_with(|| context::has_cue(&context::NATIONAL_ID, window));
        for gi in 0..groups.len() {
            if gi > 0 && groups[gi].0 - groups[gi - 1].1 != 1 {
                continue;
            }
            let first = groups[gi].1 - groups[gi].0;
            let Some(fitting) = BY_FIRST.get(first) else {
                continue;
            };
            for &(sub, shape) in fitting {
                if gi + shape.len() > groups.len() {
                    continue;
                }
                let fits = shape
                    .iter()
                    .enumerate()
                    .all(|(k, &len)| groups[gi + k].1 - groups[gi + k].0 == len);
                if !fits {
                    continue;
                }
                let (s, e) = (groups[gi].0, groups[gi + shape.len() - 1].1);
                // The window must be the whole chunk or stop at a group
                // boundary that is not a thousands-style continuation.
                if !context::right_boundary(text, e) {
                    continue;
                }
                buf.clear();
                for g in &groups[gi..gi + shape.len()] {
                    buf.push_str(&text[g.0..g.1]);
                }
                if !validate(sub, &buf) {
                    continue;
                }
                let cue = scheme_cue(sub, window);
                let weak = matches!(sub, "NL_BSN" | "DK_CPR" | "SE_PNR" | "UK_NHS" | "AT_SVNR");
                let dashed = shape.len() == 2 && text[groups[gi].1..].starts_with('-');
                let ok = cue
                    || lang_fits(sub, lang)
                    || (strong(sub) && generic_cue())
                    || (!weak && strong(sub) && shape.len() > 1)
                    || (generic_cue()
                        && (dashed || buf.len() == 12)
                        && matches!(sub, "SE_PNR" | "DK_CPR"));
                if !ok {
                    continue;
                }
                let score = if cue {
                    0.98
                } else if generic_cue() {
                    0.9
                } else {
                    0.8
                };
                out.push(Cand::new(EntityType::NationalId, s, e, score).checked(Some(sub)));
            }
        }
    }
}

fn compact_upper(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn alnum(text: &str, lang: Option<Lang>, out: &mut Vec<Cand>, near: &[(usize, usize, bool)]) {
    for &(ws, we, digits_ok) in near {
        if digits_ok || cf_head(&text.as_bytes()[ws..we]) {
            alnum_in(text, ws, we, lang, out);
        }
    }
}

/// Can [`ALNUM`] match in a window at all? Each of its schemes needs one
/// of: six digits in a row with at most single spaces between them (NINO's
/// pairs, the NIR's head before `2A`, and the longer runs of DNI, NIE,
/// PT CC, HETU, PPS), the dotted DNI `12.345.678`, or the codice fiscale's
/// six letters followed by two of `[0-9LMNPQRSTUV]`. Most windows (years,
/// amounts, dates, house numbers) have none, and the regex call costs
/// thousands of instructions even when it finds nothing.
///
/// The digit conditions lie inside one digit chunk (every digit of a window
/// belongs to a chunk wholly inside it, and a chunk is maximal: the byte
/// before it is no digit and no space after a digit), so they are decided
/// per chunk by [`chunk_alnum_digits`]; the letters by [`cf_head`].
#[cfg(test)]
fn alnum_possible(w: &[u8]) -> bool {
    let cf_tail = |b: u8| b.is_ascii_digit() || matches!(b, b'L'..=b'N' | b'P'..=b'V');
    let (mut digits, mut letters) = (0usize, 0usize);
    for (i, &b) in w.iter().enumerate() {
        if b.is_ascii_digit() {
            digits += 1;
            if digits >= 6 {
                return true;
            }
        } else if !(b == b' ' && digits > 0 && w.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            digits = 0;
        }
        // `letters`: ASCII letters right before `b`.
        if letters >= 6 && cf_tail(b) && w.get(i + 1).is_some_and(|&n| cf_tail(n)) {
            return true;
        }
        if b.is_ascii_alphabetic() {
            letters += 1;
        } else {
            letters = 0;
        }
        if b == b'.'
            && i >= 2
            && w[i - 2..i].iter().all(u8::is_ascii_digit)
            && w.len() >= i + 8
            && w[i + 1..i + 4].iter().all(u8::is_ascii_digit)
            && w[i + 4] == b'.'
            && w[i + 5..i + 8].iter().all(u8::is_ascii_digit)
        {
            return true;
        }
    }
    false
}

/// The digit conditions of [`alnum_possible`] in one digit chunk (digit
/// groups joined by single ` .-/`): six digits in groups joined by spaces,
/// or `dd.ddd.ddd` (two or more digits, a dot, exactly three, a dot, three
/// or more).
fn chunk_alnum_digits(chunk: &[u8]) -> bool {
    // (length, separator after it) of each group, scanned left to right.
    let (mut run, mut prev, mut prev2) = (0usize, (0usize, 0u8), (0usize, 0u8));
    let mut i = 0;
    while i < chunk.len() {
        let st = i;
        while i < chunk.len() && chunk[i].is_ascii_digit() {
            i += 1;
        }
        let len = i - st;
        let sep = chunk.get(i).copied().unwrap_or(0);
        run += len;
        if run >= 6 {
            return true;
        }
        if prev2.1 == b'.' && prev.1 == b'.' && prev2.0 >= 2 && prev.0 == 3 && len >= 3 {
            return true;
        }
        if sep != b' ' {
            run = 0;
        }
        prev2 = prev;
        prev = (len, sep);
        i += 1;
    }
    false
}

/// The letter condition of [`alnum_possible`]: six ASCII letters followed
/// by two of `[0-9LMNPQRSTUV]` (a codice fiscale's head).
fn cf_head(w: &[u8]) -> bool {
    let cf_tail = |b: u8| b.is_ascii_digit() || matches!(b, b'L'..=b'N' | b'P'..=b'V');
    let mut letters = 0usize;
    for (i, &b) in w.iter().enumerate() {
        if letters >= 6 && cf_tail(b) && w.get(i + 1).is_some_and(|&n| cf_tail(n)) {
            return true;
        }
        if b.is_ascii_alphabetic() {
            letters += 1;
        } else {
            letters = 0;
        }
    }
    false
}

fn alnum_in(text: &str, ws: usize, we: usize, lang: Option<Lang>, out: &mut Vec<Cand>) {
    let _ = lang;
    for m in ALNUM.find_iter(&text[ws..we]) {
        let (s, e) = (ws + m.start(), ws + m.end());
        if !context::bounded(text, s, e) {
            continue;
        }
        let raw = m.as_str();
        let v = compact_upper(raw);
        let upper = raw == raw.to_ascii_uppercase();
        let cased = upper || raw == raw.to_ascii_lowercase();
        // Each validator checks its own length and alphabet, so the first
        // that accepts names the scheme (no capture groups needed).
        let sub = if cased && ck::it_cf(&v) {
            "IT_CF"
        } else if ck::fr_nir(&v) {
            "FR_NIR"
        } else if ck::es_dni(&v) {
            "ES_DNI"
        } else if ck::es_nie(&v) {
            "ES_NIE"
        } else if upper && ck::uk_nino(&v) {
            "UK_NINO"
        } else if ck::pt_cc(&v) {
            "PT_CC"
        } else if ck::fi_hetu(&raw.to_ascii_uppercase()) {
            "FI_HETU"
        } else if ck::ie_pps(&v) {
            "IE_PPS"
        } else {
            continue;
        };
        let cue = context::cue_before(&context::NATIONAL_ID, text, s, 60);
        let score = if cue { 0.98 } else { 0.9 };
        out.push(Cand::new(EntityType::NationalId, s, e, score).checked(Some(sub)));
    }
}

/// `chunks`: the text's [`context::digit_chunks`].
pub(crate) fn find(text: &str, lang: Option<Lang>, chunks: &[(usize, usize)], out: &mut Vec<Cand>) {
    let mut near = Vec::with_capacity(chunks.len());
    digit_chunks(text, lang, chunks, out, &mut near);
    alnum(text, lang, out, &near);
}

/// Compiles this detector's automata now rather than on first use.
pub(crate) fn warm_up() {
    LazyLock::force(&ALNUM);
    LazyLock::force(&BY_FIRST);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subs(t: &str, lang: Option<Lang>) -> Vec<(&'static str, String)> {
        let mut c = Vec::new();
        let mut chunks = Vec::new();
        context::digit_chunks(t, &mut chunks);
        find(t, lang, &chunks, &mut c);
        c.iter()
            .map(|x| (x.subtype.unwrap(), t[x.start..x.end].to_string()))
            .collect()
    }

    #[test]
    fn alnum_gate_per_chunk() {
        // The per-chunk digit test and the letter scan decide what the
        // whole-window scan decides.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let alphabet = b"0123456789 .-/aAbLMSTVxZ";
        for _ in 0..20_000 {
            let mut w = Vec::new();
            for _ in 0..(state % 24) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                w.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            let t = std::str::from_utf8(&w).unwrap();
            let mut chunks = Vec::new();
            context::digit_chunks(t, &mut chunks);
            let split = chunks.iter().any(|&(s, e)| chunk_alnum_digits(&w[s..e])) || cf_head(&w);
            assert_eq!(alnum_possible(&w), split, "{t:?}");
        }
    }

    #[test]
    fn formatted_ids_in_context() {
        let r = subs(
            "N° de sécurité sociale : 1 84 12 76 451 089 46",
            Some(Lang::Fr),
        );
        assert!(r.iter().any(|(s, _)| *s == "FR_NIR"), "{r:?}");
        let r = subs("DNI 12345678-Z y NIE X1234567L", Some(Lang::Es));
        assert_eq!(r.len(), 2);
        let r = subs("BSN: 111222333", Some(Lang::Nl));
        assert_eq!(r, vec![("NL_BSN", "111222333".to_string())]);
        // Wrong check digit: nothing.
        assert!(subs("BSN: 111222334", Some(Lang::Nl)).is_empty());
        assert!(subs("DNI 12345678A", Some(Lang::Es)).is_empty());
    }
}
