//! PERSON: runs of capitalised words judged by structure and lists.
//!
//! A run of capitalised (or upper-case) words, with particles such as `van
//! der` or `de` inside, is a name when
//! * a title or salutation precedes it (`M.`, `Herr`, `Sig.ra`, `pani`,
//!   `Dear`, `Hola` ...), or a form label (`Nom :`, `Name:`, `Cognome e
//!   nome:`, `t.n.v.`), on the same line or alone on the line above;
//! * it starts the line after a closing (`Cordialement,`, `Viele Grüße`);
//! * it is a chat speaker (`Lauren: ...`) that is a given name or speaks
//!   twice;
//! * it holds a known given name (lists in `data/`, see `NOTICE`), or two
//!   words one of which is a known surname.
//!
//! A run followed by a company form (`GmbH`, `S.A.`, `& Fils`) or preceded
//! by a street type is not a person.

use super::names::{
    CLOSING_SET, CLOSINGS, FastSet, IN_FIRST, IN_LABEL, IN_LAST, IN_PARTICLE, IN_STOP,
    IN_TITLE_LAST, LABEL_SET, LABELS, LISTS, PARTICLES, TITLE_LAST, TITLE_SET, TITLES, WordTable,
};
use super::{Cand, Lang, context};
use crate::entity::EntityType;
use regex::Regex;
use std::sync::LazyLock;

static COMPANY: LazyLock<Regex> = LazyLock::new(|| {
    context::re(
        r"^(?:[ ]*(?:,|&|\+|et|und|and|e|y|en)[ ]+\p{Lu}[\p{L}\-]*)*[ ]*(?:(?i:(?:et|&|und|e|y|and)[ ](?:fils|frères|söhne|figli|hijos|asociados|associés|associati|cie|cía|co|sons|partners))|S\.Coop\.?|S\.C\.P\.?|S\.Com\.?|S\.C\.|e\.V\.|S\.L\.U\.|S\.A\.U\.|&[ ]\p{Lu}|S\.P\.A\.|s\.r\.l\.|s\.p\.a\.|(?:SPA|Spa|spa|srl|sa|sl|bv|nv)(?:[^\p{L}]|$)|S\.A\.S\.|S\.A\.R\.L\.|S\.A\.|S\.L\.N\.E|S\.L\.|S\.p\.A\.|S\.r\.l\.|B\.V\.|N\.V\.|e\.K\.|s\.n\.c\.|s\.r\.o\.|sp\. z o\.o\.|(?:SA|SAS|SARL|SRL|SPRL|SL|SpA|Srl|GmbH|AG|KG|OHG|GbR|GesbR|OG|Ltd|Limited|PLC|LLP|LLC|Inc|BV|NV|VOF|Oy|AB|Lda|SE|Groep|Group|Gruppe|Gruppo|Grupo|Holding|Consulting|Partners|Partner|Associés|Associati|Asociados|Fils|Frères|Söhne|Figli|Hermanos|Co|Compagnie|Immobilien|Bau|Transport|Logistik|Logistics|Surgery|Practice|Clinic|Medical|Health|mbH|eG)(?:[^\p{L}]|$))",
    )
});

static COMPANY_NEAR: LazyLock<Regex> = LazyLock::new(|| {
    context::re(
        r"^(?:[ ]*(?:&|\+|et|und|and|e|y|en)[ ]+\p{Lu}[\p{L}\-]*)*[ ]*(?:(?i:(?:et|&|und|e|y|and)[ ](?:fils|frères|söhne|figli|hijos|asociados|associés|associati|cie|cía|co|sons|partners))|S\.Coop\.?|S\.C\.P\.?|S\.Com\.?|S\.C\.|e\.V\.|S\.L\.U\.|S\.A\.U\.|&[ ]\p{Lu}|S\.P\.A\.|s\.r\.l\.|s\.p\.a\.|(?:SPA|Spa|spa|srl|sa|sl|bv|nv)(?:[^\p{L}]|$)|S\.A\.S\.|S\.A\.R\.L\.|S\.A\.|S\.L\.N\.E|S\.L\.|S\.p\.A\.|S\.r\.l\.|B\.V\.|N\.V\.|e\.K\.|s\.n\.c\.|s\.r\.o\.|sp\. z o\.o\.|(?:SA|SAS|SARL|SRL|SPRL|SL|SpA|Srl|GmbH|AG|KG|OHG|GbR|GesbR|OG|Ltd|Limited|PLC|LLP|LLC|Inc|BV|NV|VOF|Oy|AB|Lda|SE|Groep|Group|Gruppe|Gruppo|Grupo|Holding|Consulting|Partners|Partner|Associés|Associati|Asociados|Fils|Frères|Söhne|Figli|Hermanos|Co|Compagnie|Immobilien|Bau|Transport|Logistik|Logistics|Surgery|Practice|Clinic|Medical|Health|mbH|eG)(?:[^\p{L}]|$))",
    )
});

/// Street types: a run right after one is a street name (`rue Victor
/// Hugo`). (A `match`: it compiles to a length switch and a few compares.)
fn is_street_word(w: &str) -> bool {
    matches!(
        w,
        "rue"
            | "avenue"
            | "boulevard"
            | "bd"
            | "place"
            | "chemin"
            | "allée"
            | "impasse"
            | "quai"
            | "cours"
            | "via"
            | "viale"
            | "piazza"
            | "corso"
            | "largo"
            | "calle"
            | "avenida"
            | "paseo"
            | "plaza"
            | "carrer"
            | "rua"
            | "praça"
            | "ul"
            | "al"
            | "aleja"
            | "plac"
            | "straße"
            | "strasse"
            | "platz"
            | "street"
            | "road"
            | "canale"
            | "vial"
            | "rambla"
            | "ronda"
            | "travesía"
            | "camino"
            | "vicolo"
            | "strada"
            | "piazzale"
    )
}

#[derive(Clone, Copy)]
struct Word {
    s: usize,
    e: usize,
    cap: bool,
    upper: bool,
    /// Every byte is ASCII (letters, `-` and `'`).
    ascii: bool,
    /// Filled once per word by `classify`.
    flags: u8,
}

const STOPW: u8 = 1;
const FIRST: u8 = 2;
const LAST: u8 = 4;
const PARTICLE: u8 = 8;

/// Looks a word up (stop list, given names, surnames, particles): only
/// capitalised words and lower-case words of at most four bytes (the
/// particle test) need it.
#[inline]
fn classify(text: &str, w: &mut Word, lists: bool, buf: &mut String) {
    let len = w.e - w.s;
    if !w.cap && len > 4 {
        return;
    }
    // An ASCII word lower-cases byte by byte: one probe of the packed
    // table answers the stop list, the name lists and the particle test
    // (particles are at most five bytes: a longer word never has the bit;
    // lower-case words of five bytes are not looked up).
    if w.ascii && len <= WordTable::MAX {
        let tb = text.as_bytes();
        let l = &*LISTS;
        let bits = l.table.get(WordTable::key(tb, w.s, len));
        if bits & IN_PARTICLE != 0 {
            w.flags |= PARTICLE;
        }
        if w.cap {
            // `'s` / `'S` stripped for the stop-list test.
            let stop_bits = if len > 2 && tb[w.e - 2] == b'\'' && tb[w.e - 1] | 0x20 == b's' {
                l.table.get(WordTable::key(tb, w.s, len - 2))
            } else {
                bits
            };
            flag_word(w, bits, stop_bits, lists);
        }
        return;
    }
    classify_other(text, w, lists, buf);
}

/// [`classify`] for words with a non-ASCII char or longer than
/// [`WordTable::MAX`]: lower-cased into `buf`, looked up in the map.
#[inline(never)]
fn classify_other(text: &str, w: &mut Word, lists: bool, buf: &mut String) {
    // A lower-case word with a non-ASCII char only needs the particle
    // test, and no particle (ASCII, no `k`) is the lower case of such a
    // word: only U+212A (Kelvin) lower-cases to ASCII (`k`); see the test
    // `only_kelvin_lowercases_to_ascii`.
    if !w.cap && !w.ascii {
        return;
    }
    let len = w.e - w.s;
    // A capitalised word of ASCII and Latin-1 letters lower-cases byte for
    // byte (same length): one probe of the table, which holds every key
    // of up to 16 bytes.
    if w.cap
        && !w.ascii
        && len <= WordTable::MAX
        && let Some(low) = latin1_lower(&text.as_bytes()[w.s..w.e])
    {
        let table = &LISTS.table;
        let bits = table.get(WordTable::pack(&low[..len]));
        let stop_bits = if len > 2 && low[len - 2..len] == *b"'s" {
            table.get(WordTable::pack(&low[..len - 2]))
        } else {
            bits
        };
        flag_word(w, bits, stop_bits, lists);
        return;
    }
    let raw = &text[w.s..w.e];
    if !w.cap && !raw.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
        // Already lower case: only the particle check applies.
        if is_particle(raw) {
            w.flags |= PARTICLE;
        }
        return;
    }
    let lw = lower(raw, buf);
    if len <= 5 && is_particle(lw) {
        w.flags |= PARTICLE;
    }
    if !w.cap {
        return;
    }
    let bare = lw
        .strip_suffix("'s")
        .or_else(|| lw.strip_suffix("’s"))
        .unwrap_or(lw);
    let l = &*LISTS;
    let bits = l.words.get(lw).copied().unwrap_or(0);
    let stop_bits = if bare.len() == lw.len() {
        bits
    } else {
        l.words.get(bare).copied().unwrap_or(0)
    };
    flag_word(w, bits, stop_bits, lists);
}

/// `w` (at most 16 bytes) lower-cased when every char is ASCII or a
/// Latin-1 letter (U+00C0..=U+00FF but `×` and `÷`): an upper-case one
/// (U+00C0..=U+00DE) maps to the char 0x20 above, a lower-case one to
/// itself (as `char::to_lowercase` does; tested).
fn latin1_lower(w: &[u8]) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < w.len() {
        let c = w[i];
        if c < 0x80 {
            out[i] = c.to_ascii_lowercase();
            i += 1;
            continue;
        }
        let d = *w.get(i + 1)?;
        out[i] = 0xc3;
        out[i + 1] = match (c, d) {
            (0xc3, 0x80..=0x9e) if d != 0x97 => d + 0x20,
            (0xc3, 0x9f..=0xbf) if d != 0xb7 => d,
            _ => return None,
        };
        i += 2;
    }
    Some(out)
}

/// Sets a capitalised word's flags from its list bits.
fn flag_word(w: &mut Word, bits: u8, stop_bits: u8, lists: bool) {
    if stop_bits & IN_STOP != 0 {
        w.flags |= STOPW;
    }
    if lists {
        if bits & IN_FIRST != 0 {
            w.flags |= FIRST;
        } else if bits & IN_LAST != 0 {
            w.flags |= LAST;
        }
    }
}

/// `w` is one of [`PARTICLES`] (a `match` compiles to a length switch and
/// a few compares; `PARTICLES.contains` compared against every entry).
fn is_particle(w: &str) -> bool {
    let hit = matches!(
        w,
        "de" | "del"
            | "della"
            | "di"
            | "da"
            | "dal"
            | "dos"
            | "das"
            | "do"
            | "du"
            | "des"
            | "la"
            | "le"
            | "van"
            | "von"
            | "der"
            | "den"
            | "ter"
            | "ten"
            | "zu"
            | "y"
            | "i"
            | "e"
            | "'t"
            | "op"
            | "het"
            | "mac"
            | "af"
    );
    debug_assert_eq!(hit, PARTICLES.contains(&w));
    hit
}

/// The char at byte `j` and its length, ASCII first.
#[inline]
fn char_at(text: &str, j: usize) -> Option<(char, usize)> {
    let b = *text.as_bytes().get(j)?;
    if b < 0x80 {
        return Some((char::from(b), 1));
    }
    text[j..].chars().next().map(|c| (c, c.len_utf8()))
}

/// `c.is_alphabetic()`, with the Latin ranges European text is written in
/// answered without the Unicode tables: every char of U+00C0..=U+024F
/// (Latin-1 letters, Latin Extended-A and -B) is a letter but `×` and `÷`
/// (tested against the tables).
#[inline]
fn alpha(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphabetic()
    } else if ('\u{c0}'..='\u{24f}').contains(&c) {
        c != '×' && c != '÷'
    } else {
        c.is_alphabetic()
    }
}

/// Bit 7 of each byte of the result is set when that byte of `x` is an
/// ASCII letter.
#[inline]
fn letter_bits(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Lower-cased, top bit cleared: ASCII letters are 0x61..=0x7a; the
    // sums stay below 0x100 (no carry between bytes).
    let z = (x | (0x20 * ONES)) & (0x7f * ONES);
    let ge_a = z + 0x1f * ONES;
    let gt_z = z + 0x05 * ONES;
    ge_a & !gt_z & !x & (0x80 * ONES)
}

/// The eight bytes from `i`, little-endian, if there are eight.
#[inline]
fn load8(b: &[u8], i: usize) -> Option<u64> {
    b.get(i..i + 8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
}

/// The first byte from `i` on that is an ASCII letter or not ASCII (or
/// the end), eight bytes at a time.
#[inline]
fn skip_gap(b: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let m = letter_bits(x) | (x & 0x8080_8080_8080_8080);
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && b[i] < 0x80 && !b[i].is_ascii_alphabetic() {
        i += 1;
    }
    i
}

/// Words: runs of letters, with inner hyphens and apostrophes
/// (`Jean-Pierre`, `O'Hora`), each classified (see [`classify`]) as it
/// is found.
#[inline(never)]
fn words(text: &str, out: &mut Vec<Word>, lists: bool, buf: &mut String) {
    const SPACES: u64 = 0x2020_2020_2020_2020;
    let b = text.as_bytes();
    let table = &LISTS.table;
    let mut i = 0;
    while i < b.len() {
        // ASCII bytes that are not letters (spaces, digits, punctuation)
        // start no word: skipped without decoding a char.
        let c0 = b[i];
        if c0 < 0x80 && !c0.is_ascii_alphabetic() {
            i = skip_gap(b, i + 1);
            continue;
        }
        // Most words: one to fifteen ASCII letters, then an ASCII byte
        // that is neither a letter nor a joiner. One or two loads give the
        // word's end, its case and its table key (what the general path
        // below and `classify` find for it; such a word has no `'s`).
        if let Some(x) = load8(b, i) {
            let lx = (!letter_bits(x) & 0x8080_8080_8080_8080).trailing_zeros() / 8;
            let mut key = [0u64; 2];
            let mut lower_bits = 0u64;
            let mut len = lx as usize;
            if lx < 8 {
                let m = (1u64 << (8 * lx)) - 1;
                key[0] = (x | SPACES) & m;
                lower_bits = x & m & SPACES;
            } else if let Some(y) = load8(b, i + 8) {
                let ly = (!letter_bits(y) & 0x8080_8080_8080_8080).trailing_zeros() / 8;
                // Sixteen letters or more: the general path.
                len = 0;
                if ly < 8 {
                    let m = (1u64 << (8 * ly)) - 1;
                    key = [x | SPACES, (y | SPACES) & m];
                    lower_bits = (x & SPACES) | (y & m & SPACES);
                    len = 8 + ly as usize;
                }
            } else {
                len = 0;
            }
            if len > 0 && b[i + len] < 0x80 && !matches!(b[i + len], b'-' | b'\'') {
                let cap = c0.is_ascii_uppercase();
                let mut w = Word {
                    s: i,
                    e: i + len,
                    cap,
                    upper: len >= 2 && lower_bits == 0,
                    ascii: true,
                    flags: 0,
                };
                if cap || len <= 4 {
                    let bits = table.get(key);
                    if bits & IN_PARTICLE != 0 {
                        w.flags |= PARTICLE;
                    }
                    if cap {
                        flag_word(&mut w, bits, bits, lists);
                    }
                }
                out.push(w);
                // The byte after the word is no letter: skipped too.
                i = skip_gap(b, i + len + 1);
                continue;
            }
        }
        let (cap, mut e) = if c0 < 0x80 {
            (c0.is_ascii_uppercase(), i + 1)
        } else {
            let Some((c, len)) = char_at(text, i) else {
                break;
            };
            if !alpha(c) {
                i += len;
                continue;
            }
            (c.is_uppercase(), i + len)
        };
        let mut upper = cap;
        let mut ascii = c0 < 0x80;
        let mut n = 1;
        loop {
            // ASCII letters, the bulk of a word, eight bytes at a time
            // (a lower-case ASCII letter has bit 0x20 set, an upper-case
            // one not); an ASCII byte that is neither a letter nor a
            // joiner ends the word. Both are what the char path below
            // decides for them.
            let from = e;
            let mut bits = 0u64;
            while let Some(chunk) = b.get(e..e + 8) {
                let x = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
                let k = (!letter_bits(x) & 0x8080_8080_8080_8080).trailing_zeros() / 8;
                if k == 8 {
                    bits |= x;
                    e += 8;
                    continue;
                }
                bits |= x & ((1u64 << (8 * k)) - 1);
                e += k as usize;
                break;
            }
            if b.len() - e < 8 {
                while e < b.len() && b[e].is_ascii_alphabetic() {
                    bits |= u64::from(b[e]);
                    e += 1;
                }
            }
            n += e - from;
            upper &= bits & 0x2020_2020_2020_2020 == 0;
            let Some(&d) = b.get(e) else {
                break;
            };
            if d < 0x80 && d != b'-' && d != b'\'' {
                break;
            }
            let Some((d, dl)) = char_at(text, e) else {
                break;
            };
            if alpha(d) {
                upper &= !d.is_lowercase();
                ascii = false;
                n += 1;
                e += dl;
            } else if matches!(d, '-' | '\'' | '’')
                && char_at(text, e + dl).is_some_and(|(x, _)| alpha(x))
            {
                ascii &= d != '’';
                e += dl;
            } else {
                break;
            }
        }
        let mut w = Word {
            s: i,
            e,
            cap,
            upper: upper && n >= 2,
            ascii,
            flags: 0,
        };
        classify(text, &mut w, lists, buf);
        out.push(w);
        i = e;
    }
}

/// `s` in lower case, written into `buf`.
fn lower<'a>(s: &str, buf: &'a mut String) -> &'a str {
    buf.clear();
    if s.is_ascii() {
        buf.push_str(s);
        buf.make_ascii_lowercase();
    } else {
        // Most chars of an accented word are ASCII: only the others go
        // through the Unicode tables (`extend` with `to_lowercase` for
        // every char cost ~50 instructions a char).
        for c in s.chars() {
            if c.is_ascii() {
                buf.push(c.to_ascii_lowercase());
            } else {
                for l in c.to_lowercase() {
                    buf.push(l);
                }
            }
        }
    }
    buf.as_str()
}

/// Ends (after trimming) with `w` preceded by a non-letter.
fn ends_with_word(hay: &str, w: &str) -> bool {
    hay.ends_with(w)
        && hay[..hay.len() - w.len()]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric())
}

/// The longest suffix of `s` that starts at a word boundary and is in
/// `set`.
fn suffix_in(set: &FastSet<&'static str>, s: &str) -> Option<&'static str> {
    // Only suffixes of a key's length are looked up (bit `n` of the mask:
    // some key has `n` bytes; 63 and more share bit 63).
    let lens = if std::ptr::eq(set, &*LABEL_SET) {
        *LABEL_LENS
    } else if std::ptr::eq(set, &*TITLE_SET) {
        *TITLE_LENS
    } else if std::ptr::eq(set, &*CLOSING_SET) {
        *CLOSING_LENS
    } else {
        u64::MAX
    };
    let has_len = |n: usize| (lens >> n.min(63)) & 1 != 0;
    // No key is longer than `MAX_KEY` bytes: longer suffixes need no lookup.
    let mut from = s.len().saturating_sub(*MAX_KEY);
    if s.is_ascii() {
        // The same walk on bytes (an ASCII char is alphanumeric as a byte).
        let b = s.as_bytes();
        let mut prev_alnum = from > 0 && b[from - 1].is_ascii_alphanumeric();
        for (i, &c) in b.iter().enumerate().skip(from) {
            let alnum = c.is_ascii_alphanumeric();
            if !prev_alnum
                && (alnum || c == b'(')
                && has_len(b.len() - i)
                && let Some(hit) = set.get(&s[i..])
            {
                return Some(hit);
            }
            prev_alnum = alnum;
        }
        return None;
    }
    while !s.is_char_boundary(from) {
        from += 1;
    }
    let mut prev_alnum = s[..from]
        .chars()
        .next_back()
        .is_some_and(char::is_alphanumeric);
    for (k, c) in s[from..].char_indices() {
        let i = from + k;
        let alnum = c.is_alphanumeric();
        if !prev_alnum
            && (alnum || c == '(')
            && has_len(s.len() - i)
            && let Some(hit) = set.get(&s[i..])
        {
            return Some(hit);
        }
        prev_alnum = alnum;
    }
    None
}

/// The key lengths of a set as a mask (see [`suffix_in`]).
fn len_mask(set: &FastSet<&'static str>) -> u64 {
    set.iter().fold(0, |m, k| m | 1 << k.len().min(63))
}

static LABEL_LENS: LazyLock<u64> = LazyLock::new(|| len_mask(&LABEL_SET));
static TITLE_LENS: LazyLock<u64> = LazyLock::new(|| len_mask(&TITLE_SET));
static CLOSING_LENS: LazyLock<u64> = LazyLock::new(|| len_mask(&CLOSING_SET));

/// The last `\n` in `text[lo..end]`, eight bytes at a time.
fn last_newline(text: &str, lo: usize, end: usize) -> Option<usize> {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let b = text.as_bytes();
    let mut k = end;
    while k >= lo + 8 {
        let x = load8(b, k - 8).unwrap_or_default() ^ 0x0a0a_0a0a_0a0a_0a0a;
        // Bit 7 of a byte set when that byte of `x` is zero (exact: no
        // carry crosses bytes).
        let zero = !(((x & LOW7) + LOW7) | x) & !LOW7;
        if zero != 0 {
            return Some(k - 8 + (63 - zero.leading_zeros() as usize) / 8);
        }
        k -= 8;
    }
    b[lo..k].iter().rposition(|&c| c == b'\n').map(|p| lo + p)
}

/// `Some(start of the line)` when only whitespace stands between it and
/// `s` (what `context::line_before(text, s).trim().is_empty()` tests),
/// else `None`; on bytes back from `s`, the Unicode test for a non-ASCII
/// char.
fn blank_line_before(text: &str, s: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut k = s;
    while k > 0 {
        match b[k - 1] {
            b'\n' => return Some(k),
            b' ' | b'\t' | b'\r' | 0x0b | 0x0c => k -= 1,
            c if c < 0x80 => return None,
            _ => {
                let line = context::line_before(text, s);
                return line.trim().is_empty().then(|| s - line.len());
            }
        }
    }
    Some(0)
}

/// The cue before a run that starts at `s`: a title/salutation, a label
/// with a colon, on the same line.
fn cue_same_line(text: &str, s: usize, buf: &mut String) -> bool {
    // The line before `s`, or its last 40 bytes when it is longer: the
    // line start is searched for over 41 bytes only.
    let lo = s.saturating_sub(41);
    let window = match last_newline(text, lo, s) {
        Some(k) => &text[k + 1..s],
        None if s <= 40 => &text[..s],
        None => context::before(text, s, 40),
    };
    let t = window.trim_end();
    if let Some(label) = t.strip_suffix(':') {
        let label = label.trim_end();
        // Exact pre-check, as in `strong_title_before`: a label that ends
        // the text before the colon ends with its last alphanumeric run
        // (or with `)`, left to the full check).
        let b = label.as_bytes();
        let mut r = b.len();
        while r > 0 && b[r - 1].is_ascii_alphanumeric() {
            r -= 1;
        }
        if r == b.len() {
            // Every label ends with a letter or `)`.
            if b.last().is_none_or(|&c| c.is_ascii() && c != b')') {
                return false;
            }
        } else if (r == 0 || b[r - 1].is_ascii()) && !LABEL_LAST.maybe(&b[r..]) {
            return false;
        }
        let low = lower(label, buf);
        let low = low
            .strip_suffix("(s)")
            .or_else(|| low.strip_suffix("(n)"))
            .unwrap_or(low);
        return suffix_in(&LABEL_SET, low).is_some();
    }
    let Some(last) = t.chars().next_back() else {
        return false;
    };
    if !last.is_alphabetic() && last != '.' {
        return false;
    }
    // The last two words are enough for every title and inline label.
    let mut cut = t.len();
    let mut words = 0;
    for (i, c) in t.char_indices().rev() {
        if c == ' ' || c == '\n' {
            words += 1;
            if words == 2 {
                break;
            }
        }
        cut = i;
    }
    let tail = &t[cut..];
    let low = lower(tail, buf);
    // (The key found is a suffix of `low`: without one of these
    // endings, it is none of them.)
    if ["t.n.v", "t.n.v.", "ten name van", "facturé à"]
        .iter()
        .any(|l| low.ends_with(l))
        && suffix_in(&LABEL_SET, low)
            .is_some_and(|l| matches!(l, "t.n.v" | "t.n.v." | "ten name van" | "facturé à"))
    {
        return true;
    }
    // A title needs one space between it and the name; one-letter and
    // ambiguous short titles need their dot (`M.`, `D.`, `Fr.`).
    if !window.ends_with([' ', '\u{a0}']) || window.ends_with("  ") {
        return false;
    }
    let dotted = low.ends_with('.');
    let no_dot = low.trim_end_matches('.');
    suffix_in(&TITLE_SET, no_dot)
        .is_some_and(|t| dotted || !matches!(t, "m" | "d" | "hr" | "fr" | "mag" | "ing"))
}

/// The longest key of [`LABEL_SET`], [`TITLE_SET`] and [`CLOSING_SET`].
static MAX_KEY: LazyLock<usize> = LazyLock::new(|| {
    LABEL_SET
        .iter()
        .chain(TITLE_SET.iter())
        .chain(CLOSING_SET.iter())
        .map(|k| k.len())
        .max()
        .unwrap_or(0)
});

/// [`WordGate`] of [`TITLE_LAST`].
static TITLE_LAST_GATE: LazyLock<WordGate> =
    LazyLock::new(|| WordGate::new(TITLE_LAST.iter().map(String::as_str)));

/// Can a same-line cue precede the run at `s` (word index `i`)? A label
/// ends with `:`; a title's last word is in [`TITLE_LAST`].
fn might_have_cue(text: &str, s: usize, i: usize, ws: &[Word], buf: &mut String) -> bool {
    // `text[..s].trim_end_matches([' ', '\u{a0}', '\t']).ends_with(':')`,
    // on bytes.
    let b = text.as_bytes();
    let mut k = s;
    loop {
        if k > 0 && matches!(b[k - 1], b' ' | b'\t') {
            k -= 1;
        } else if k > 1 && b[k - 2..k] == [0xc2, 0xa0] {
            k -= 2;
        } else {
            break;
        }
    }
    if k > 0 && b[k - 1] == b':' {
        return true;
    }
    let Some(prev) = i.checked_sub(1).map(|k| ws[k]) else {
        return false;
    };
    if s - prev.e > 4 {
        return false;
    }
    // An ASCII word lower-cases to ASCII of its length, first and last
    // letters: the gate rules out most words without a lookup.
    let w = &text[prev.s..prev.e];
    if prev.ascii {
        let len = w.len();
        if !TITLE_LAST_GATE.maybe(w.as_bytes()) {
            return false;
        }
        // An ASCII word's lower case is its packed key.
        if len <= WordTable::MAX {
            return LISTS
                .table
                .get(WordTable::key(text.as_bytes(), prev.s, len))
                & IN_TITLE_LAST
                != 0;
        }
    }
    TITLE_LAST.contains(lower(w, buf))
}

/// Only blanks between the start of the line and `s`.
fn at_line_start(text: &str, s: usize) -> bool {
    text[..s]
        .bytes()
        .rev()
        .take_while(|&b| b != b'\n')
        .all(|b| b == b' ' || b == b'\t' || b == b'\r')
}

/// The titles of [`strong_title_before`].
const STRONG_TITLES: &[&str] = &[
    "herr",
    "frau",
    "mme",
    "madame",
    "monsieur",
    "m",
    "mr",
    "mrs",
    "ms",
    "dr",
    "sig",
    "sig.ra",
    "signora",
    "signor",
    "sr",
    "sra",
    "pan",
    "pani",
    "mevrouw",
    "dhr",
    "mevr",
    "dott",
    "meneer",
    "mijnheer",
    "heer",
    "herrn",
    "señor",
    "señora",
    "don",
    "doña",
    "sir",
    "miss",
    "llamo",
    "chiamo",
    "heiße",
    "heet",
    "m'appelle",
    "nazywam się",
    "chamo-me",
];

/// Lengths, first and last letters of a set of ASCII words: a test that
/// rules most other words out in a few instructions, case-insensitively.
pub(crate) struct WordGate {
    /// `bits[len][first]`: a bit per last letter (lengths of 15 and more
    /// share the last row).
    bits: [[u32; 27]; 16],
}

impl WordGate {
    fn slot(b: u8) -> usize {
        if b.is_ascii_alphabetic() {
            usize::from((b | 0x20) - b'a')
        } else {
            26
        }
    }

    /// The gate of `keys` (their ASCII members; non-ASCII keys are the
    /// caller's business).
    pub(crate) fn new<'a>(keys: impl IntoIterator<Item = &'a str>) -> WordGate {
        let mut bits = [[0u32; 27]; 16];
        for k in keys {
            let b = k.as_bytes();
            if k.is_ascii() && !b.is_empty() {
                bits[b.len().min(15)][Self::slot(b[0])] |= 1 << Self::slot(b[b.len() - 1]);
            }
        }
        WordGate { bits }
    }

    /// False when no key equals `w` ASCII-case-insensitively (`w` ASCII).
    pub(crate) fn maybe(&self, w: &[u8]) -> bool {
        match (w.first(), w.last()) {
            (Some(&f), Some(&l)) => {
                self.bits[w.len().min(15)][Self::slot(f)] & (1 << Self::slot(l)) != 0
            }
            _ => false,
        }
    }
}

/// The last alphanumeric run of `k` (`sig.ra` -> `ra`).
fn last_run(k: &str) -> &str {
    k.rsplit(|c: char| !c.is_alphanumeric())
        .find(|w| !w.is_empty())
        .unwrap_or(k)
}

/// [`WordGate`] of the last runs of [`STRONG_TITLES`].
static STRONG_LAST: LazyLock<WordGate> =
    LazyLock::new(|| WordGate::new(STRONG_TITLES.iter().map(|t| last_run(t))));

/// An explicit title (`Herr`, `Mme`, `Mrs`, `Sig.ra` ...) right before `s`.
fn strong_title_before(text: &str, s: usize, buf: &mut String) -> bool {
    // The pre-check below on bytes when the window ends with one space
    // after an ASCII byte that is not whitespace: then `trim_end` takes
    // only that space, the dots go, and the run is the ASCII
    // alphanumeric run before them (within the window). Other cases go
    // the full way.
    let b = text.as_bytes();
    if s >= 2 && b[s - 1] == b' ' {
        let c = b[s - 2];
        if c == b' ' {
            return false;
        }
        if c < 0x80 && !matches!(c, b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
            let mut from = s.saturating_sub(16);
            while !text.is_char_boundary(from) {
                from += 1;
            }
            let mut k = s - 1;
            while k > from && b[k - 1] == b'.' {
                k -= 1;
            }
            let mut r = k;
            while r > from && b[r - 1].is_ascii_alphanumeric() {
                r -= 1;
            }
            if r == k {
                if k == from || b[k - 1].is_ascii() {
                    return false;
                }
            } else if (r == from || b[r - 1].is_ascii()) && !STRONG_LAST.maybe(&b[r..k]) {
                return false;
            }
        }
    } else if s >= 1 && b[s - 1] != b' ' {
        // The window does not end with a space.
        return false;
    }
    let w = context::before(text, s, 16);
    if !w.ends_with(' ') || w.ends_with("  ") {
        return false;
    }
    // Exact pre-check: a title that ends the window (after its dots) ends
    // with the window's last alphanumeric run. When that run is ASCII and
    // starts after an ASCII byte (or at the start), lower-casing leaves it
    // and its left neighbour as they are, so the run, lower-cased, must be
    // the last run of a title; no non-ASCII title can match it.
    let t = w.trim_end().trim_end_matches('.').as_bytes();
    let mut r = t.len();
    while r > 0 && t[r - 1].is_ascii_alphanumeric() {
        r -= 1;
    }
    if r == t.len() {
        // No title ends with a byte that is ASCII and not a letter.
        if t.last().is_none_or(u8::is_ascii) {
            return false;
        }
    } else if (r == 0 || t[r - 1].is_ascii()) && !STRONG_LAST.maybe(&t[r..]) {
        return false;
    }
    let low = lower(w.trim_end(), buf);
    let low = low.trim_end_matches('.');
    // (A title's last byte first: `ends_with` compares with `memcmp`.)
    let last = low.as_bytes().last().copied();
    STRONG_TITLES
        .iter()
        .any(|t| t.as_bytes().last().copied() == last && ends_with_word(low, t))
}

/// Last alphabetic word of every label and closing: a line whose last
/// word is not one of these holds neither (see [`line_cue_possible`]).
static LINE_CUE_LAST: LazyLock<FastSet<&'static str>> = LazyLock::new(|| {
    LABELS
        .iter()
        .chain(CLOSINGS.iter())
        .filter_map(|t| {
            t.rsplit(|c: char| !c.is_alphabetic())
                .find(|w| !w.is_empty())
        })
        .collect()
});

/// Exact pre-check for [`cue_line_above`]: every label or closing the full
/// check can find ends the line (after punctuation) and starts at a word
/// boundary, so its last alphabetic word is the line's. Lines whose tail
/// is not ASCII go to the full check (lower-casing may change them).
fn line_cue_possible(prev: &str, buf: &mut String) -> bool {
    let t = prev.trim();
    let mut end = None;
    let mut start = 0;
    for (i, c) in t.char_indices().rev() {
        if c.is_alphabetic() {
            if end.is_none() {
                end = Some(i + c.len_utf8());
            }
            start = i;
        } else if end.is_some() {
            break;
        } else if !c.is_ascii() {
            return true;
        }
    }
    // No word at all: no key (each has a letter) can match.
    let Some(end) = end else {
        return false;
    };
    let w = &t[start..end];
    if !w.is_ascii() {
        return true;
    }
    LINE_CUE_GATE.maybe(w.as_bytes()) && LINE_CUE_LAST.contains(lower(w, buf))
}

/// [`WordGate`] of [`LINE_CUE_LAST`].
static LINE_CUE_GATE: LazyLock<WordGate> =
    LazyLock::new(|| WordGate::new(LINE_CUE_LAST.iter().copied()));

/// [`WordGate`] of the last alphanumeric runs of [`LABELS`].
static LABEL_LAST: LazyLock<WordGate> =
    LazyLock::new(|| WordGate::new(LABELS.iter().map(|l| last_run(l))));

/// The line above holds only a label, or ends with a closing.
fn cue_line_above(text: &str, s: usize, buf: &mut String) -> bool {
    let Some(line_start) = blank_line_before(text, s) else {
        return false;
    };
    if line_start == 0 {
        return false;
    }
    let prev_end = line_start - 1;
    // Labels and closings are short lines: the line above is searched
    // for its start over 65 bytes only (not found there, it is longer).
    let lo = prev_end.saturating_sub(65);
    let prev_start = match last_newline(text, lo, prev_end) {
        Some(k) => k + 1,
        None if lo == 0 => 0,
        None => return false,
    };
    let prev = &text[prev_start..prev_end];
    if prev.len() > 64 {
        return false;
    }
    if !line_cue_possible(prev, buf) {
        return false;
    }
    let low = lower(prev.trim(), buf);
    let low = low.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ' ');
    let bare = low.trim_end_matches([':', ',', '!', '.']).trim_end();
    let last_part = bare.rsplit('/').next().unwrap_or(bare).trim();
    LABEL_SET.contains(bare)
        || LABEL_SET.contains(last_part)
        || CLOSING_SET.contains(bare)
        || suffix_in(&CLOSING_SET, bare).is_some()
}

/// The text after a run ends the value (a line end, a bracket, a dash, a
/// comma before a capitalised word ...) rather than running on into a
/// sentence.
fn ends_value(after: &str) -> bool {
    after.is_empty()
        || after.starts_with(['\n', '\r', '(', '/', '\t', '“', '"'])
        || after.starts_with("  ")
        || after.starts_with(" (")
        || after.starts_with(" –")
        || after.starts_with(" -")
        || (after.starts_with(", ") && !after[2..].starts_with(|c: char| c.is_lowercase()))
        || after.starts_with(",\n")
        || after.starts_with(",\r")
        || after == ","
        || after.starts_with(':')
}

pub(crate) fn find(text: &str, lang: Option<Lang>, lists: bool, out: &mut Vec<Cand>) {
    let _ = lang;
    let mut ws = Vec::with_capacity(text.len() / 5);
    let mut buf = String::with_capacity(32);
    let mut cue_buf = String::with_capacity(64);
    words(text, &mut ws, lists, &mut buf);
    let namey =
        |w: &Word, _buf: &mut String| -> bool { w.cap && w.e - w.s >= 2 && w.flags & STOPW == 0 };
    let mut i = 0;
    let mut last_end = usize::MAX;
    while i < ws.len() {
        if !namey(&ws[i], &mut buf) {
            // A particle opening a surname (`van Dongen`, `VAN DER HOEVEN`)
            // or a stop word after an explicit title (`Herr Bien`) still
            // starts a run when a cue precedes it.
            let w = ws[i];
            if !w.cap && w.flags & PARTICLE == 0 {
                i += 1;
                continue;
            }
            let particle = w.flags & PARTICLE != 0
                && (!w.cap || w.upper)
                && ws
                    .get(i + 1)
                    .is_some_and(|n| n.cap && &text[w.e..n.s] == " ");
            let titled = w.cap
                && might_have_cue(text, w.s, i, &ws, &mut cue_buf)
                && strong_title_before(text, w.s, &mut cue_buf);
            let cued = (particle || titled)
                && (cue_same_line(text, w.s, &mut cue_buf)
                    || cue_line_above(text, w.s, &mut cue_buf));
            if !cued || !particle && TITLES.contains(&lower(&text[w.s..w.e], &mut buf)) {
                i += 1;
                continue;
            }
        }
        // Grow the run: single spaces (or a hyphen) between words,
        // particles allowed before another name word.
        let mut j = i + 1;
        let mut last = i;
        let tb = text.as_bytes();
        while j < ws.len() && j - i < 6 {
            // The gap is one space.
            if ws[j].s != ws[j - 1].e + 1 || tb[ws[j - 1].e] != b' ' {
                break;
            }
            let w = &ws[j];
            if namey(w, &mut buf) {
                last = j;
                j += 1;
                continue;
            }
            if w.flags & PARTICLE != 0 && (!w.cap || w.upper) {
                j += 1;
                continue;
            }
            break;
        }
        let (s, e) = (ws[i].s, ws[last].e);
        let run = &ws[i..=last];
        let next_i = last + 1;
        let n = run.iter().filter(|w| w.cap).count();
        let (mut nf, mut nl) = (0, 0);
        if lists {
            for w in run.iter().filter(|w| w.cap) {
                if w.flags & FIRST != 0 {
                    nf += 1;
                } else if w.flags & LAST != 0 {
                    nl += 1;
                }
            }
        }
        let all_upper = run.iter().filter(|w| w.cap).all(|w| w.upper);
        let after = &text[e..];
        let speaker = after.starts_with(':') && blank_line_before(text, s).is_some();
        let known = nf + nl;
        // The cue checks are the costly part, and a cue can only change
        // the outcome of a run that some branch below reports: more than
        // four words score 0 either way; without list evidence and without
        // a speaker colon a run scores 0 without a cue, and with one only
        // after a title or when it ends the value (see below).
        let mut title_before = None;
        let cue_matters = n <= 4
            && (known > 0
                || speaker
                || ends_value(after)
                || *title_before.get_or_insert_with(|| strong_title_before(text, s, &mut cue_buf)));
        // `SURNAME, Firstname`: the second part inherits the cue.
        let cue = cue_matters
            && ((last_end != usize::MAX
                && last_end <= s
                && &text[last_end..s] == ", "
                && !text[..last_end]
                    .trim_end_matches(|c: char| c.is_alphabetic())
                    .ends_with(' ')
                && ws[i..=last].len() == 1)
                || (might_have_cue(text, s, i, &ws, &mut buf)
                    && cue_same_line(text, s, &mut cue_buf))
                || (at_line_start(text, s) && cue_line_above(text, s, &mut cue_buf)));
        // A speaker the checks below turn down scores 0 whatever it would
        // have scored: the (costly) second-turn search is only for others.
        let mut vetoed = None;
        let mut score = if cue {
            0.9
        } else if (speaker
            && n <= 3
            && (nf >= 1
                || !*vetoed.get_or_insert_with(|| speaker_vetoed(text, s, e, nf, &mut buf))
                    && repeated_speaker(text, &text[s..e])))
            || (nf >= 1 && n >= 2)
        {
            0.85
        } else if nf >= 1 && !all_upper {
            0.7
        } else if nl >= 1 && n >= 2 && nf + nl >= 2 {
            0.6
        } else {
            0.0
        };
        if n > 4 {
            score = 0.0;
        }
        // Upper-case runs without a cue (headings, institutions) need two
        // known name words.
        if all_upper && !cue && known < 2 {
            score = 0.0;
        }
        // Every check below only turns a score to 0.
        if score == 0.0 {
            i = next_i.max(i + 1);
            continue;
        }
        // Cue only (no list evidence): the run must end the value, not run
        // into a sentence (`Landlord: Will pass it on`).
        // (A salutation or title may be followed by a comma and the
        // sentence: `Hallo Frau Obermeier, anbei ...`.)
        if cue
            && known == 0
            && score > 0.0
            && !title_before.unwrap_or_else(|| strong_title_before(text, s, &mut cue_buf))
            && !ends_value(after)
        {
            score = 0.0;
        }
        // A capitalised given name that opens a sentence and runs into
        // lower-case words is an ordinary word (`Ante cualquier ...`).
        if !cue && !speaker && n == 1 && score > 0.0 {
            let b = context::before(text, s, 3);
            let sentence_start = b.is_empty()
                || b.ends_with(". ")
                || b.ends_with('\n')
                || b.ends_with("? ")
                || b.ends_with("! ");
            let next_lower =
                after.starts_with(' ') && after[1..].starts_with(|c: char| c.is_lowercase());
            if sentence_start && next_lower {
                score = 0.0;
            }
        }
        if speaker
            && !cue
            && score > 0.0
            && *vetoed.get_or_insert_with(|| speaker_vetoed(text, s, e, nf, &mut buf))
        {
            score = 0.0;
        }
        // A run right after a place preposition is a place (`Fait à Nancy`,
        // `En San Sebastián`).
        if score > 0.0 && !cue {
            let b = context::before(text, s, 4);
            let after_number =
                context::before(text, s, 3).starts_with(|c: char| c.is_ascii_digit());
            if b.ends_with("En ")
                || b.ends_with("\nÀ ")
                || b.ends_with(", ") && after_number && after.starts_with('\n') && known < 2
            {
                score = 0.0;
            }
        }
        if score > 0.0 && score < 0.8 && n == 1 {
            let b = context::before(text, s, 8);
            if [" à ", " in ", " en "].iter().any(|p| b.ends_with(p)) {
                score = 0.0;
            }
        }
        let company = if cue { &COMPANY_NEAR } else { &COMPANY };
        // (`COMPANY_NEAR` is `COMPANY` without `,` among the joiners: what
        // it matches, `COMPANY` matches too, so one call decides what
        // `company || COMPANY_NEAR` did.)
        if score > 0.0 && company.is_match(after) {
            score = 0.0;
        }
        if score > 0.0 {
            let before = context::before(text, s, 16).trim_end();
            let prev_word = before
                .rsplit(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or("");
            let pw = lower(prev_word, &mut buf);
            let institution = matches!(
                pw,
                "hospital"
                    | "hôpital"
                    | "clínica"
                    | "clinica"
                    | "clinique"
                    | "klinik"
                    | "ospedale"
                    | "universidad"
                    | "université"
                    | "universität"
                    | "università"
                    | "colegio"
                    | "collège"
                    | "lycée"
                    | "école"
                    | "escuela"
                    | "scuola"
                    | "schule"
                    | "hotel"
                    | "hôtel"
                    | "restaurant"
                    | "farmacia"
                    | "pharmacie"
                    | "apotheke"
                    | "banco"
                    | "banque"
                    | "stiftung"
                    | "fundación"
                    | "fondazione"
                    | "comando"
                    | "ayuntamiento"
                    | "mairie"
                    | "comune"
                    | "gemeente"
                    | "gemeinde"
            );
            if institution || is_street_word(pw) || text[..s].ends_with(['@', '.', '/', '_']) {
                score = 0.0;
            }
        }
        if score > 0.0 && context::bounded(text, s, e) {
            out.push(Cand::new(EntityType::Person, s, e, score));
            last_end = e;
        }
        i = next_i.max(i + 1);
    }
}

fn repeated_speaker(text: &str, name: &str) -> bool {
    let mut count = 0;
    let mut from = 0;
    while let Some(p) = text[from..].find(name) {
        let at = from + p;
        let line_start = at == 0 || text[..at].ends_with('\n');
        if line_start && text[at + name.len()..].starts_with(':') {
            count += 1;
        }
        from = at + name.len();
    }
    count >= 2
}

/// A speaker run `s..e` (no cue) that is not a name: a label used as a
/// speaker (`Landlord: ...` is a role); without a known given name
/// (`nf == 0`), a colon followed by no lower-case word (a value: `BSN:
/// 1234`, `Kenteken: AB-12-C`); a colon followed by a digit, by nothing,
/// or by capitalised words only without punctuation.
fn speaker_vetoed(text: &str, s: usize, e: usize, nf: usize, buf: &mut String) -> bool {
    // The cheap tests first (any one vetoes). A run is words joined by
    // single spaces: an ASCII one lower-cases to its packed key.
    let name = &text[s..e];
    let label = if name.len() <= WordTable::MAX && name.is_ascii() {
        LISTS
            .table
            .get(WordTable::key(text.as_bytes(), s, name.len()))
            & IN_LABEL
            != 0
    } else {
        LABEL_SET.contains(lower(name, buf))
    };
    if label {
        return true;
    }
    let line = text[e + 1..].split('\n').next().unwrap_or("");
    let rest = line.trim();
    if rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_digit()) {
        return true;
    }
    // A chat speaker says something: a lower-case word of three letters
    // or more after the colon.
    if nf == 0 && !has_lower_word(line) {
        return true;
    }
    // (Punctuation first: it rules the two passes out.)
    !rest.contains(['.', '!', '?', ','])
        && rest.split_whitespace().count() >= 2
        && rest
            .split_whitespace()
            .all(|w| !w.starts_with(|c: char| c.is_lowercase()))
}

/// Some run of letters (split at every other char) has three or more,
/// all lower case.
fn has_lower_word(s: &str) -> bool {
    let (mut run, mut all_lower) = (0usize, true);
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // ASCII bytes without decoding a char.
        let (letter, lower_case) = if b[i] < 0x80 {
            i += 1;
            (
                b[i - 1].is_ascii_alphabetic(),
                b[i - 1].is_ascii_lowercase(),
            )
        } else {
            let c = s[i..].chars().next().unwrap_or_default();
            i += c.len_utf8();
            (alpha(c), c.is_lowercase())
        };
        if letter {
            run += 1;
            all_lower &= lower_case;
        } else {
            if run >= 3 && all_lower {
                return true;
            }
            (run, all_lower) = (0, true);
        }
    }
    run >= 3 && all_lower
}

/// Compiles this detector's automata now rather than on first use.
pub(crate) fn warm_up() {
    LazyLock::force(&COMPANY);
    LazyLock::force(&COMPANY_NEAR);
    LazyLock::force(&TITLE_LAST);
    LazyLock::force(&LINE_CUE_LAST);
    LazyLock::force(&MAX_KEY);
    LazyLock::force(&LABEL_LENS);
    LazyLock::force(&TITLE_LENS);
    LazyLock::force(&CLOSING_LENS);
    LazyLock::force(&STRONG_LAST);
    LazyLock::force(&TITLE_LAST_GATE);
    LazyLock::force(&LINE_CUE_GATE);
    LazyLock::force(&LABEL_LAST);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn persons(t: &str) -> Vec<&str> {
        let mut c = Vec::new();
        find(t, None, true, &mut c);
        c.iter().map(|x| &t[x.start..x.end]).collect()
    }

    #[test]
    fn company_near_is_company_without_the_comma() {
        // `find` relies on it: what COMPANY_NEAR matches, COMPANY matches.
        assert_eq!(
            COMPANY.as_str().replacen("(?:,|&|", "(?:&|", 1),
            COMPANY_NEAR.as_str()
        );
    }

    #[test]
    fn word_gates_pass_their_keys() {
        let gate = WordGate::new(["versicherungsnehmerin", "mr", "hallo"]);
        for k in ["VERSICHERUNGSNEHMERIN", "Mr", "hallo"] {
            assert!(gate.maybe(k.as_bytes()), "{k}");
        }
        assert!(!gate.maybe(b"ms"));
        for k in LINE_CUE_LAST.iter().filter(|k| k.is_ascii()) {
            assert!(LINE_CUE_GATE.maybe(k.as_bytes()), "{k}");
        }
        for k in LABELS.iter().map(|l| last_run(l)).filter(|k| k.is_ascii()) {
            assert!(LABEL_LAST.maybe(k.as_bytes()), "{k}");
        }
    }

    #[test]
    fn lower_word_as_split() {
        for t in [
            "Max Mustermann",
            "hi there",
            "OK ja",
            "épée à",
            "AB-cde",
            "Ünd über",
            "x yz",
            "",
        ] {
            let old = t
                .split(|c: char| !c.is_alphabetic())
                .any(|w| w.chars().count() >= 3 && w.chars().all(char::is_lowercase));
            assert_eq!(has_lower_word(t), old, "{t:?}");
        }
    }

    #[test]
    fn last_newline_as_rfind() {
        let t = "ab\ncdéf\n\nghijklmnopq\nrstuvwxyz0123456789\u{a0}x\n";
        for lo in 0..t.len() {
            for end in lo..=t.len() {
                let want = t.as_bytes()[lo..end]
                    .iter()
                    .rposition(|&c| c == b'\n')
                    .map(|p| lo + p);
                assert_eq!(last_newline(t, lo, end), want, "{lo} {end}");
            }
        }
    }

    #[test]
    fn latin1_lower_as_to_lowercase() {
        for c in ('\u{c0}'..='\u{ff}').chain(['a', 'Z', '\'', '-', 'ł', '’']) {
            let w = format!("A{c}b");
            let got = latin1_lower(w.as_bytes()).map(|o| o[..w.len()].to_vec());
            let want = (c.is_ascii() || !matches!(c, '×' | '÷' | 'ł' | '’'))
                .then(|| w.to_lowercase().into_bytes());
            assert_eq!(got, want, "{c:?}");
        }
    }

    #[test]
    fn only_kelvin_lowercases_to_ascii() {
        let to_ascii: Vec<char> = (0x80..=0x10_ffff)
            .filter_map(char::from_u32)
            .filter(|c| c.to_lowercase().any(|l| l.is_ascii()))
            .collect();
        assert_eq!(to_ascii, ['\u{130}', '\u{212a}']);
        // U+0130 lower-cases to `i` + U+0307 (not all ASCII).
        assert!('\u{130}'.to_lowercase().any(|l| !l.is_ascii()));
        assert!(PARTICLES.iter().all(|p| !p.contains('k')));
    }

    #[test]
    fn alpha_is_is_alphabetic() {
        for c in (0..0x800).filter_map(char::from_u32) {
            assert_eq!(alpha(c), c.is_alphabetic(), "{c:?}");
        }
    }

    #[test]
    fn cues_and_structure() {
        // Unknown names: the cue carries them.
        assert_eq!(
            persons("Nom : Xyzabc     Prénom : Qwerty\n"),
            vec!["Xyzabc", "Qwerty"]
        );
        assert_eq!(persons("Sehr geehrte Frau Zorblatt,"), vec!["Zorblatt"]);
        assert_eq!(
            persons("Cordialement,\nQuentin Zorblatt\n"),
            vec!["Quentin Zorblatt"]
        );
        // Company form: not a person.
        assert!(persons("Lebrun Blanchet S.A. vous informe").is_empty());
        assert!(persons("Simon Cohen et Fils").is_empty());
    }
}
