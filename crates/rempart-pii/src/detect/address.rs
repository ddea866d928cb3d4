//! ADDRESS: a street line (street type + name + house number, in each
//! country's order), extended over flat/floor details and the postcode +
//! city (same line or following lines, UK and Irish postcodes included).
//!
//! Street types are the generic words of each language — `rue`, `via`,
//! `calle`, `ul.`, `Road` before or after the name, `-straße`, `-weg`,
//! `-straat`, `-laan`, `-gade`, `-vägen` as suffixes — never a list of
//! street names, so unseen streets are found the same way.

use super::{Cand, Lang, context};
use crate::entity::EntityType;
use regex::Regex;
use std::sync::LazyLock;

/// A capitalised (or upper-case) word of a name.
const CW: &str = r"\p{Lu}[\p{L}\p{M}'’\.\-]*";
/// A house number: `12`, `12a`, `12 bis`, `24/5/7`, `2-4`.
const NUM: &str =
    r"[0-9]{1,4}[a-zA-Z]?(?:[ ](?i-u:bis|ter|quater))?(?:[/\-][0-9]{1,3}[a-zA-Z]?){0,2}";

/// A house number written before the street (1–3 digits, `bis`/`ter`).
const NUM_HEAD: &str = r"[0-9]{1,3}[a-zA-Z]?(?:[ ](?i-u:bis|ter|quater))?";

const PREFIX_TYPES: &str = r"rue|avenue|av\.|av|c\.|vial|canale|boulevard|bd|bld|blvd|place|chemin|allée|impasse|quai|route|cours|square|passage|voie|chaussée|rond-point|faubourg|sentier|promenade|esplanade|parvis|cité|hameau|calle|c/|avenida|avda\.|avd\.|paseo|plaza|pza\.|camino|carretera|ctra\.|ronda|travesía|travesia|glorieta|rambla|carrer|gran vía|gran via|vía|via|viale|piazza|piazzale|corso|largo|vicolo|contrada|strada|borgo|lungomare|lungotevere|stretto|salita|incrocio|rotonda|rua|travessa|praça|praca|estrada|alameda|calçada|beco|callejón|cuesta|pasaje|pasadizo|urbanización|acceso|cañada|ul\.|ulica|al\.|aleja|os\.|osiedle|pl\.|plac|rynek";

const SUFFIX_TYPES: &str = r"straße|strasse|str\.|weg|allee|platz|gasse|ring|damm|ufer|steig|pfad|chaussee|markt|graben|kamp|wall|stieg|gürtel|kai|zeile|steg|hof|berg|brücke|feld|garten|anger|aue|winkel|hain|heide|bogen|straat|laan|plein|gracht|kade|singel|dijk|steeg|dreef|pad|baan|lei|boulevard|dreve|gade|vej|allé|vænget|vænge|plads|stræde|torv|vang|gatan|vägen|väg|gata|gränd|torget|stigen|backen|allén|katu|tie|kuja|polku|väylä|kaari|rinne|tori|raitti";

const EN_TYPES: &str = r"street|st\.|road|rd\.|lane|avenue|ave\.|close|drive|way|gardens|crescent|place|court|terrace|grove|hill|park|square|row|mews|walk|view|rise|green|parade|quay|wharf|villas|boulevard|circus|gate|yard|fields|meadows|vale|wynd|brae|end|lawn|heights|side|common|orchard|passage|chase|croft|approach|embankment";

/// Case-insensitive alternation that keeps the lazy DFA small: ASCII words
/// under `(?i-u:)` (no Unicode case folding), the few non-ASCII words in
/// their lower, Capitalised and UPPER forms.
fn ci(list: &str) -> String {
    let mut ascii = Vec::new();
    let mut other = Vec::new();
    for w in list.split('|') {
        if w.is_ascii() {
            ascii.push(w.to_string());
        } else {
            let mut cap = String::new();
            let mut chars = w.chars();
            if let Some(f) = chars.next() {
                cap.extend(f.to_uppercase());
                cap.push_str(chars.as_str());
            }
            other.push(w.to_string());
            other.push(cap);
            other.push(w.to_uppercase());
        }
    }
    let mut out = format!("(?:(?i-u:{})", ascii.join("|"));
    for o in other {
        out.push('|');
        out.push_str(&o);
    }
    out.push(')');
    out
}

/// The street patterns: type before the name, type as a suffix (and German
/// `Am`/`An der` forms), English number + name + type. Three automata, not
/// one: their alternation would multiply the lazy DFA's states.
static STREET: LazyLock<[Regex; 3]> = LazyLock::new(|| {
    let part = format!(
        r"(?:{}[ ]|(?i-u:d|l|dell|all|sull)['’])",
        ci(
            "de|del|de la|de las|de los|des|du|la|le|les|della|delle|dello|dei|degli|di|da|dal|dalla|do|dos|das|e|y|i|van|van de|van der|der|den|het|am|an|im|auf|zum|zur|of|the|sur|en|aux|au|à|sous|lès|on|upon"
        )
    );
    let (prefix_types, suffix_types, en_types) = (ci(PREFIX_TYPES), ci(SUFFIX_TYPES), ci(EN_TYPES));
    let prefix = format!(
        r"(?:{NUM_HEAD}(?:[ ]?,)?[ ])?(?-u:\b){prefix_types}(?:[ ]{part}*{CW})+(?:,?[ ]{NUM})?"
    );
    let suffix = format!(
        r"(?:(?:Am|Im|An der|An den|Auf der|Auf dem|Zum|Zur|In der|In den|Unter den|Hinter der|Alte|Neue)[ ]{CW}|(?:{CW}[ ])?(?:\p{{Lu}}[\p{{L}}\-]*)?{suffix_types}(?:[ ](?:op|naar|auf|am|an der|bei)[ ]{CW})?|(?:Gran|GRAN|gran)[ ](?:V[ií]a|V[IÍ]A|v[ií]a),?)[ ]{NUM}"
    );
    let english = format!(
        r"(?:(?i-u:flat|apartment|apt\.?|unit|suite)[ ][0-9]{{1,4}}[A-Za-z]?,[ ])?[0-9]{{1,4}}[A-Za-z]?,?[ ](?:{CW}[ ])+{en_types}"
    );
    [
        context::re(&format!("^(?:{prefix})")),
        context::re(&format!("^(?:{suffix})")),
        context::re(&format!("^(?:{english})")),
    ]
});

const SEP: &str = r"^(?:,[ ]?|[ ]*\r?\n[ \t]*|[ ]{1,3}|[ ]?[–-][ ]?)";
const CITY: &str = r"(?:'s-|'t[ ]|(?:St|Ste|Sta|S)\.[ ]?)?\p{Lu}[\p{L}\p{M}'’\-]*(?:[ ](?:\p{Lu}[\p{L}\p{M}'’\-]*|am|an|im|upon|on|sur|en|le|la|de|del|di|der|bei|ob|in|\([\p{L}]+\)))*";
const UKPC: &str =
    r"(?:[A-Z]{1,2}[0-9][A-Z0-9]?[ ][0-9][A-Z]{2}|[AC-FHKNPRTV-Y][0-9]{2}[0-9W]?[ ][A-Z0-9]{4})";

static EXTRA: LazyLock<Regex> = LazyLock::new(|| {
    context::re(&format!(
        r"{SEP}(?:[0-9]{{1,2}}\.?[ºo°ª]\.?[ ]?(?:(?i-u:[A-Z])(?:[^\p{{L}}]|$)|(?i-u:izda\.?|dcha\.?|izq\.?|dto\.?|esq\.?|frente|centro))|(?i-u:piso)[ ][0-9]+(?:,[ ](?i-u:puerta)[ ][0-9]+)?|(?i-u:puerta)[ ][0-9]+|(?i-u:int\.|interno)[ ]?[0-9]+|(?i-u:scala)[ ][A-Z]|(?i-u:bte|bus)[ ][0-9]+|(?:boîte|Boîte)[ ][0-9]+|[0-9]\.[ ](?i-u:th|tv|mf)\.|(?i-u:st\.)|(?i-u:lgh)[ ][0-9]+|[A-C][ ][0-9]{{1,3}}|(?:(?i-u:appt?\.?|apt\.?|flat|apartment)|[bB][âÂ]t\.?|[bB]âtiment|[éÉ]tage)[ ][0-9A-Z]{{1,4}})"
    ))
});

static POSTCITY: LazyLock<Regex> = LazyLock::new(|| {
    context::re(&format!(
        r"{SEP}(?:[A-Z]{{1,2}}-)?(?:[0-9]{{4}}[ ][A-Z]{{2}}|[0-9]{{5}}|[0-9]{{4}}-[0-9]{{3}}|[0-9]{{2}}-[0-9]{{3}}|[0-9]{{3}}[ ][0-9]{{2}}|[0-9]{{4}})[ ]{{1,2}}{CITY}"
    ))
});

static UKTAIL: LazyLock<Regex> = LazyLock::new(|| {
    context::re(&format!(
        r"{SEP}(?:{CITY}(?:,[ ]?|[ ]*\r?\n[ \t]*|[ ]))?(?:(?i-u:co\.)[ ]{CITY}(?:,[ ]?|[ ]*\r?\n[ \t]*|[ ]))?{UKPC}"
    ))
});

static LEADING: LazyLock<Regex> = LazyLock::new(|| {
    context::re(
        r"(?:(?:(?i-u:flat|apartment|apt|unit|appt|app)|[bB][âÂ]t|[bB]âtiment)\.?[ ][0-9A-Z]{1,4}|(?:[rR]ésidence|RÉSIDENCE|(?i-u:residenza|residencia))(?:[ ]\p{L}+){1,3}),[ ]$",
    )
});

/// Extends a street line over extras and the postcode/city.
fn extend(text: &str, mut end: usize) -> (usize, bool) {
    let mut with_city = false;
    for _ in 0..4 {
        let rest = &text[end..];
        if let Some(m) = POSTCITY.find(rest) {
            end += m.end();
            with_city = true;
            break;
        }
        if let Some(m) = UKTAIL
            .find(rest)
            .filter(|m| context::right_boundary(text, end + m.end()))
        {
            end += m.end();
            with_city = true;
            break;
        }
        match EXTRA.find(rest) {
            Some(m) => {
                let mut e = end + m.end();
                while !text.is_char_boundary(e)
                    || text[..e].ends_with(|c: char| !c.is_alphanumeric() && c != '.')
                {
                    e -= 1;
                }
                if e <= end {
                    break;
                }
                end = e;
            }
            None => break,
        }
    }
    (end, with_city)
}

/// Street-type keywords and their kinds: the prefilter that decides where
/// the (costly) street pattern runs. Kind 0: before the name (`rue`,
/// `via`), 1: a suffix (`-straße`), 2: English type after the name, 3:
/// German prefix. They are searched (ASCII case-insensitively, overlapping)
/// in the same pass as the birth and passport cues: `context::Keywords`.
pub(crate) fn keywords() -> Vec<(String, u8)> {
    let mut words: Vec<String> = Vec::new();
    let mut kinds = Vec::new();
    for (kind, list) in [(0u8, PREFIX_TYPES), (1, SUFFIX_TYPES), (2, EN_TYPES)] {
        for w in list.split('|') {
            let w = w.replace('\\', "");
            let w = w.trim_end_matches('.').to_string();
            if w.len() < 2 {
                continue;
            }
            if !w.is_ascii() {
                words.push(w.to_uppercase());
                kinds.push(kind);
            }
            words.push(w);
            kinds.push(kind);
        }
    }
    words.push("c.".to_string());
    kinds.push(0);
    for w in [
        "am",
        "im",
        "an der",
        "an den",
        "auf der",
        "auf dem",
        "zum",
        "zur",
        "in der",
        "in den",
        "unter den",
        "hinter der",
        "alte",
        "neue",
        "gran v",
    ] {
        words.push(w.to_string());
        kinds.push(3);
    }
    words.into_iter().zip(kinds).collect()
}

fn is_letter_at(text: &str, i: usize) -> bool {
    text[i..].chars().next().is_some_and(char::is_alphabetic)
}

fn letter_before(text: &str, i: usize) -> bool {
    text[..i]
        .chars()
        .next_back()
        .is_some_and(char::is_alphabetic)
}

/// Plausible street keywords: a prefix type at a word start, a suffix type
/// at a word end followed by a number, an English type as a whole word.
/// Each gives the pattern to try (0 prefix, 1 suffix, 2 English) and the
/// keyword's span. `found`: every keyword occurrence, by end.
fn hits(text: &str, found: &[(usize, usize, u8)], out: &mut Vec<(usize, usize, usize)>) {
    let b = text.as_bytes();
    for &(s, e, kind) in found {
        if !text.is_char_boundary(s) || !text.is_char_boundary(e) {
            continue;
        }
        let word_start = !letter_before(text, s);
        let word_end = !is_letter_at(text, e);
        let rest = &b[e..];
        let num_after = |r: &[u8]| {
            let r = r.strip_prefix(b".").unwrap_or(r);
            let r = r.strip_prefix(b",").unwrap_or(r);
            r.first() == Some(&b' ') && r.get(1).is_some_and(u8::is_ascii_digit)
        };
        let ok = match kind {
            0 => word_start && (word_end || text[..e].ends_with(['.', '/'])),
            3 => word_start,
            1 => word_end && (num_after(rest) || rest.first() == Some(&b' ')),
            _ => word_start && word_end,
        };
        if !ok {
            continue;
        }
        let lo = s.saturating_sub(16);
        let hi = (e + 70).min(b.len());
        if context::next_digit(&b[..hi], lo).is_none() {
            continue;
        }
        let slot = match kind {
            0 => 0,
            2 => 2,
            _ => 1,
        };
        out.push((slot, s, e));
    }
}

/// Start of the word that ends at or contains byte `i` (letters, digits,
/// hyphens, apostrophes, dots).
fn word_start(text: &str, i: usize) -> usize {
    let mut s = i;
    for (j, c) in text[..i].char_indices().rev() {
        if c.is_alphanumeric() || matches!(c, '-' | '\'' | '’' | '.') {
            s = j;
        } else {
            break;
        }
    }
    s
}

/// Where a street line that has its keyword at `s..e` may start, earliest
/// first: the anchored pattern is tried from each (an anchored search keeps
/// the lazy DFA small; an unanchored one over Unicode name classes does not).
fn starts(text: &str, slot: usize, s: usize, out: &mut Vec<usize>) {
    out.clear();
    let b = text.as_bytes();
    // Up to `n` previous space-separated words.
    let back = |from: usize, n: usize, out: &mut Vec<usize>| {
        let mut at = from;
        for _ in 0..n {
            let mut p = at;
            while p > 0 && matches!(b[p - 1], b' ' | b',') && at - p < 2 {
                p -= 1;
            }
            if p == at || p == 0 {
                break;
            }
            let w = word_start(text, p);
            if w == p {
                break;
            }
            out.push(w);
            at = w;
        }
    };
    match slot {
        0 => {
            // `12 bis, rue ...`, `1, chemin ...`
            back(s, 3, out);
            out.retain(|&p| b[p].is_ascii_digit());
            out.truncate(1);
            out.push(s);
        }
        1 => {
            let w = word_start(text, s);
            back(w, 2, out);
            out.reverse();
            out.push(w);
            out.push(s);
        }
        _ => {
            // `Flat 7, 10 Chestnut Close`: words back to the house number,
            // and the flat before it.
            back(s, 8, out);
            out.reverse();
        }
    }
    out.sort_unstable();
    out.dedup();
}

/// `keywords`: the text's street keywords (`context::Keywords::street`).
pub(crate) fn find(
    text: &str,
    lang: Option<Lang>,
    keywords: &[(usize, usize, u8)],
    out: &mut Vec<Cand>,
) {
    let _ = lang;
    let mut found = Vec::new();
    hits(text, keywords, &mut found);
    let mut cands = Vec::with_capacity(8);
    let mut done = 0usize;
    for (slot, ks, ke) in found {
        if ke <= done {
            continue;
        }
        starts(text, slot, ks, &mut cands);
        for &st in &cands {
            if st < done {
                continue;
            }
            let limit = (st + 240).min(text.len());
            let mut limit = limit;
            while !text.is_char_boundary(limit) {
                limit -= 1;
            }
            let Some(m) = STREET[slot].find(&text[st..limit]) else {
                continue;
            };
            // The match must cover the keyword.
            if st + m.end() < ke {
                continue;
            }
            if let Some(end) = street(text, st, st + m.end(), out) {
                done = end;
                break;
            }
        }
    }
}

/// Judges one street-pattern match and, if it is an address, pushes it
/// with its extension; returns the end.
fn street(text: &str, s: usize, e: usize, out: &mut Vec<Cand>) -> Option<usize> {
    let (mut s, mut e) = (s, e);
    {
        let street = &text[s..e];
        if !street.bytes().any(|b| b.is_ascii_digit()) {
            return None;
        }
        // Trim a house-number look-ahead char the regex had to consume.
        while e > s && !text[..e].ends_with(|c: char| c.is_alphanumeric() || c == '.') {
            e -= 1;
        }
        if text[..e].ends_with('.') && !street.trim_end().ends_with(|c: char| c.is_ascii_digit()) {
            // keep abbreviations such as `St.` only
        }
        if !context::left_boundary(text, s) {
            return None;
        }
        // `2024-11-07 via ...`: the tail of a date, not a house number.
        if text[..s].ends_with(['-', '/', '.']) && text[..s].len() >= 2 {
            let p = text.as_bytes()[s - 2];
            if p.is_ascii_digit() {
                return None;
            }
        }
        // A street-like name in quotes is a product or listing title.
        if text[..s].ends_with(['"', '\'', '„', '“', '«', '‚', '‘']) {
            return None;
        }
        // A trailing "number" that runs on (a postcode, `2.0`) is not the
        // house number: cut back to before it.
        let runs_on = |e: usize| {
            !context::right_boundary(text, e)
                || (text[e..].starts_with(['.', ','])
                    && text[e + 1..].starts_with(|c: char| c.is_ascii_digit()))
        };
        if runs_on(e) {
            let cut = text[s..e]
                .trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '/' || c == '-');
            let cut = cut.trim_end_matches([' ', ',']);
            e = s + cut.len();
            if e <= s || runs_on(e) || !text[s..e].starts_with(|c: char| c.is_ascii_digit()) {
                return None;
            }
        }
        // No house number after a prefix type and no number before: not an
        // address ("la rue Victor Hugo").
        if !text[s..e].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '.')
            && !text[s..e].starts_with(|c: char| c.is_ascii_digit())
        {
            return None;
        }
        if let Some(lm) = LEADING.find(context::line_before(text, s)) {
            s -= lm.end() - lm.start();
        }
        let (end, with_city) = extend(text, e);
        let has_num = text[s..end].bytes().any(|b| b.is_ascii_digit());
        if !has_num {
            return None;
        }
        e = end;
        // A sentence's full stop after the city is not part of it (but
        // keep abbreviations such as `St.`).
        if text[..e].ends_with('.') {
            let word = text[s..e - 1]
                .rsplit(|c: char| !c.is_alphabetic())
                .next()
                .unwrap_or("");
            if word.chars().count() >= 4 {
                e -= 1;
            }
        }
        let score = if with_city { 0.95 } else { 0.8 };
        out.push(Cand::new(EntityType::Address, s, e, score));
        Some(e)
    }
}

/// Compiles this detector's automata now rather than on first use.
pub(crate) fn warm_up() {
    LazyLock::force(&STREET);
    LazyLock::force(&EXTRA);
    LazyLock::force(&POSTCITY);
    LazyLock::force(&UKTAIL);
    LazyLock::force(&LEADING);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(t: &str) -> Vec<&str> {
        let mut c = Vec::new();
        let k = context::Keywords::find(t);
        find(t, None, &k.street, &mut c);
        c.iter().map(|x| &t[x.start..x.end]).collect()
    }

    #[test]
    fn street_lines_and_cities() {
        assert_eq!(
            addrs("Adresse : 12 bis, rue des Acacias, 69003 Lyon."),
            vec!["12 bis, rue des Acacias, 69003 Lyon"]
        );
        assert_eq!(
            addrs("Anschrift: Lindenstraße 4a\n10115 Berlin\nTel"),
            vec!["Lindenstraße 4a\n10115 Berlin"]
        );
        assert_eq!(
            addrs("Dirección: Calle Mayor, 5, 2º B, 28013 Madrid"),
            vec!["Calle Mayor, 5, 2º B, 28013 Madrid"]
        );
        assert_eq!(
            addrs("Adres: Dorpsstraat 9, 1234 AB Ergens"),
            vec!["Dorpsstraat 9, 1234 AB Ergens"]
        );
        assert_eq!(
            addrs("Flat 2, 7 Mill Lane, Leeds LS6 2AB"),
            vec!["Flat 2, 7 Mill Lane, Leeds LS6 2AB"]
        );
        assert_eq!(
            addrs("ul. Polna 3/4, 00-950 Warszawa"),
            vec!["ul. Polna 3/4, 00-950 Warszawa"]
        );
        assert!(addrs("Kreuzung Bahnhofstraße / Lindenweg").is_empty());
    }
}
