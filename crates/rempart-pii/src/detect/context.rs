//! Context windows and per-language cue words.
//!
//! Cues are matched with one Aho-Corasick automaton per purpose (ASCII case
//! insensitive) over a small window before (or after) a candidate; nothing
//! is allocated per candidate.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use std::sync::LazyLock;

/// Builds a case-insensitive automaton over `words`.
fn automaton(words: &[&str]) -> AhoCorasick {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostLongest)
        // A full DFA: a few hundred KB per automaton, built once, and
        // about twice as fast to scan as the default contiguous NFA.
        .kind(Some(AhoCorasickKind::DFA))
        .build(words)
        .expect("static cue list builds")
}

/// `text[start - n .. start]`, clamped to a char boundary.
pub(crate) fn before(text: &str, start: usize, n: usize) -> &str {
    let mut s = start.saturating_sub(n);
    while !text.is_char_boundary(s) {
        s += 1;
    }
    &text[s..start]
}

/// The part of the current line before `start`.
pub(crate) fn line_before(text: &str, start: usize) -> &str {
    let s = memchr::memrchr(b'\n', &text.as_bytes()[..start]).map_or(0, |i| i + 1);
    &text[s..start]
}

/// No letter or digit touches `start` from the left.
pub(crate) fn left_boundary(text: &str, start: usize) -> bool {
    text[..start]
        .chars()
        .next_back()
        .is_none_or(|c| !c.is_alphanumeric())
}

/// No letter or digit touches `end` from the right.
pub(crate) fn right_boundary(text: &str, end: usize) -> bool {
    text[end..]
        .chars()
        .next()
        .is_none_or(|c| !c.is_alphanumeric())
}

/// Both ends are word boundaries.
pub(crate) fn bounded(text: &str, start: usize, end: usize) -> bool {
    left_boundary(text, start) && right_boundary(text, end)
}

/// Phone cue words (fr, de, es, it, nl, en, pl, pt, sv, da, fi).
pub(crate) static PHONE: LazyLock<Cues> = LazyLock::new(|| {
    Cues::new(&[
        "tél",
        "tel",
        "phone",
        "mobile",
        "portable",
        "fixe",
        "appel",
        "appele",
        "joindre",
        "telefon",
        "handy",
        "mobil",
        "fax",
        "rufnummer",
        "anruf",
        "erreichbar",
        "teléfono",
        "telefono",
        "móvil",
        "movil",
        "llamar",
        "cellulare",
        "cell",
        "chiamare",
        "gsm",
        "bellen",
        "call",
        "ring",
        "text",
        "whatsapp",
        "sms",
        "komórka",
        "komorka",
        "kontakt",
        "contact",
        "contatto",
        "contacto",
        "telemóvel",
        "telemovel",
        "puhelin",
        "switchboard",
        "hotline",
        "linea",
        "línea",
    ])
});

/// National-ID cue words.
pub(crate) static NATIONAL_ID: LazyLock<Cues> = LazyLock::new(|| {
    Cues::new(&[
        "sécurité sociale",
        "securite sociale",
        "sécu",
        "nir",
        "insee",
        "immatriculation",
        "steuer",
        "identifikationsnummer",
        "idnr",
        "id-nr",
        "tin",
        "dni",
        "nie",
        "nif",
        "codice fiscale",
        "c.f.",
        "cf",
        "fiscal",
        "bsn",
        "burgerservice",
        "sofinummer",
        "rijksregister",
        "registre national",
        "national register",
        "insz",
        "niss",
        "pesel",
        "national insurance",
        "nino",
        "ni number",
        "ni no",
        "nhs",
        "cartão de cidadão",
        "cartao de cidadao",
        "cidadão",
        "cc n",
        "personnummer",
        "personnr",
        "henkilötunnus",
        "hetu",
        "cpr",
        "pps",
        "svnr",
        "versicherungsnummer",
        "sozialversicherung",
        "svn",
        "tax id",
        "ssn",
        "identificación",
        "identidad",
        "identité",
        "identity",
        "id number",
        "id no",
        "n° id",
        "numéro national",
        "personal id",
        "id-nr",
        "id nr",
        "id code",
        "documento",
        "document",
        "ausweis",
        "sv-nr",
        "sv-nummer",
        "social security",
    ])
});

/// Birth-date cue words, in each language (form labels included).
pub(crate) static BIRTH: LazyLock<Cues> = LazyLock::new(|| Cues::new(BIRTH_WORDS));

/// The words of [`BIRTH`].
pub(crate) const BIRTH_WORDS: &[&str] = &[
    "né le",
    "née le",
    "né(e) le",
    "ne(e) le",
    "ne le",
    "nee le",
    "né à",
    "née à",
    "naissance",
    "date de naiss",
    "geb.",
    "geb ",
    "geboren",
    "geburtsdatum",
    "geburtstag",
    "geb.-datum",
    "nacido",
    "nacida",
    "nacimiento",
    "f. nac",
    "fecha nac",
    "nato",
    "nata",
    "nascita",
    "data di nasc",
    "geboortedatum",
    "geb. datum",
    "geboren op",
    "born",
    "birth",
    "dob",
    "d.o.b",
    "date of birth",
    "urodzon",
    "urodzenia",
    "ur.",
    "data ur",
    "nascimento",
    "nascido",
    "nascida",
    "född",
    "født",
    "fødselsdato",
    "syntynyt",
    "syntymäaika",
    "°",
    "geb.datum",
    "date naiss",
    "birthday",
    "fecha de nac",
    "data de nasc",
    "geburt",
    "fecha de nac",
    "data de nasc",
];

/// Passport cue words.
pub(crate) static PASSPORT: LazyLock<Cues> = LazyLock::new(|| Cues::new(PASSPORT_WORDS));

/// The words of [`PASSPORT`].
pub(crate) const PASSPORT_WORDS: &[&str] = &[
    "passeport",
    "passport",
    "reisepass",
    "pass-nr",
    "passnummer",
    "pasaporte",
    "passaporto",
    "paspoort",
    "paszport",
    "passaporte",
    "pass nr",
    "pass no",
    "reisepas",
    "pas nr",
    "passi",
    "pas",
];

/// IP cue words.
pub(crate) static IP: LazyLock<Cues> = LazyLock::new(|| {
    Cues::new(&[
        "ip",
        "adresse ip",
        "ip-adresse",
        "dirección ip",
        "indirizzo ip",
        "ip-adres",
        "adres ip",
        "address",
        "adresse",
        "connexion",
        "login",
        "anmeldung",
        "acceso",
        "accesso",
        "inlog",
        "logowanie",
        "server",
        "serveur",
        "host",
        "from",
        "depuis",
        "von",
        "desde",
        "da ",
        "vanaf",
        "z ",
        "gateway",
        "dns",
        "router",
        "vpn",
    ])
});

/// Version cue words: a dotted quad after these is a version, not an IP.
pub(crate) static VERSION: LazyLock<Cues> = LazyLock::new(|| {
    Cues::new(&[
        "version",
        "versión",
        "versione",
        "versie",
        "wersja",
        "versão",
        "v.",
        "build",
        "release",
        "app ",
        "firmware",
        "update",
        "mise à jour",
        "aktualisierung",
        "ver.",
    ])
});

/// Forces the lazily built automata.
pub(crate) fn warm_up() {
    for a in [&PHONE, &NATIONAL_ID, &BIRTH, &PASSPORT, &IP, &VERSION] {
        LazyLock::force(a);
    }
    LazyLock::force(&KEYWORDS);
}

/// A cue list: its words as an [`Overlapping`] table walk. The matches a
/// leftmost-longest, non-overlapping search would give (what the cue
/// checks were written against, with `aho_corasick`) are taken from the
/// overlapping ones: earliest start first, the longest at that start, the
/// next one starting at or after its end. A window's walk costs a few
/// hundred instructions, a call into `aho_corasick` about a thousand.
pub(crate) struct Cues {
    walk: Overlapping<CUE_TABLE>,
    /// The same words for windows with more matches than the walk keeps.
    ac: AhoCorasick,
}

/// Entries of a cue list's table (the national-ID cues need ~24,000).
const CUE_TABLE: usize = 1 << 15;

/// Overlapping matches kept per window (more: `aho_corasick` answers).
const CUE_MAX: usize = 48;

impl Cues {
    fn new(words: &[&str]) -> Cues {
        Cues {
            walk: Overlapping::new(words),
            ac: automaton(words),
        }
    }

    /// The leftmost-longest matches of `window`, in order, into `out`;
    /// `false` when there are more than [`CUE_MAX`] overlapping ones.
    fn matches(&self, window: &str, out: &mut [(u32, u32); CUE_MAX], n: &mut usize) -> bool {
        let mut all = [(0u32, 0u32); CUE_MAX];
        let mut k = 0;
        let mut full = false;
        self.walk.for_each(window, |_, s, e| {
            if k < CUE_MAX {
                all[k] = (s as u32, e as u32);
                k += 1;
            } else {
                full = true;
            }
        });
        if full {
            return false;
        }
        let all = &mut all[..k];
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        *n = 0;
        let mut next = 0;
        for &(s, e) in all.iter() {
            if s < next {
                continue;
            }
            next = e;
            out[*n] = (s, e);
            *n += 1;
        }
        true
    }

    /// Calls `f(start, end)` for each leftmost-longest match of `window`,
    /// in order, until it returns `true`.
    fn each(&self, window: &str, mut f: impl FnMut(usize, usize) -> bool) {
        let mut ms = [(0u32, 0u32); CUE_MAX];
        let mut n = 0;
        if self.matches(window, &mut ms, &mut n) {
            for &(s, e) in &ms[..n] {
                if f(s as usize, e as usize) {
                    return;
                }
            }
        } else {
            for m in self.ac.find_iter(window) {
                if f(m.start(), m.end()) {
                    return;
                }
            }
        }
    }
}

/// A cue match `s..e` of `window` at a word start (and, for cues of at
/// most four bytes, at a word end too, so `pas` does not fire in `pasta`).
fn cue_at_word(window: &str, s: usize, e: usize) -> bool {
    let left = window[..s]
        .chars()
        .next_back()
        .is_none_or(|c| !c.is_alphanumeric());
    let cue_ends_alnum = window[..e]
        .chars()
        .next_back()
        .is_some_and(|c| c.is_alphanumeric());
    let right = e - s > 4
        || !cue_ends_alnum
        || window[e..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric());
    left && right
}

/// Some cue of `cues` occurs in `window` at a word start (and, for cues of
/// at most four bytes, at a word end too, so `pas` does not fire in
/// `pasta`).
pub(crate) fn has_cue(cues: &Cues, window: &str) -> bool {
    let mut hit = false;
    cues.each(window, |s, e| {
        hit = cue_at_word(window, s, e);
        hit
    });
    hit
}

/// `has_cue` over the `n` bytes before `start`.
pub(crate) fn cue_before(cues: &Cues, text: &str, start: usize, n: usize) -> bool {
    has_cue(cues, before(text, start, n))
}

/// Start and end of the last cue of `cues` in `window` that sits at a word
/// start (same rules as [`has_cue`]).
pub(crate) fn last_cue(cues: &Cues, window: &str) -> Option<(usize, usize)> {
    let mut last = None;
    cues.each(window, |s, e| {
        if has_cue(cues, &window[s..e])
            && window[..s]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric())
            && (e - s > 4
                || window[e..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric())
                || !window[..e].ends_with(|c: char| c.is_alphanumeric()))
        {
            last = Some((s, e));
        }
        false
    });
    last
}

/// The reference: [`has_cue`] and [`last_cue`] through `aho_corasick`'s
/// leftmost-longest search (what they were written with).
#[cfg(test)]
fn has_cue_ac(ac: &AhoCorasick, window: &str) -> bool {
    ac.find_iter(window)
        .any(|m| cue_at_word(window, m.start(), m.end()))
}

#[cfg(test)]
fn last_cue_ac(ac: &AhoCorasick, window: &str) -> Option<(usize, usize)> {
    let mut last = None;
    for m in ac.find_iter(window) {
        if has_cue_ac(ac, &window[m.start()..m.end()])
            && window[..m.start()]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric())
            && (m.end() - m.start() > 4
                || window[m.end()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric())
                || !window[..m.end()].ends_with(|c: char| c.is_alphanumeric()))
        {
            last = Some((m.start(), m.end()));
        }
    }
    last
}

/// The first ASCII digit at or after `from`. Eight bytes at a time: most
/// of a text is letters and spaces, and a per-byte loop cost more than
/// every detector that runs on the digits it finds.
pub(crate) fn next_digit(b: &[u8], from: usize) -> Option<usize> {
    const LO: u64 = u64::from_ne_bytes([0x7f; 8]);
    const HI: u64 = u64::from_ne_bytes([0x80; 8]);
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    let mut i = from;
    while i + 8 <= b.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        let x = u64::from_le_bytes(w);
        // "Has a byte between 0x2f and 0x3a, exclusive" (Anderson's bit
        // hacks), exact per byte: no carry crosses a byte boundary.
        let low = x & LO;
        let hit = (ONES * (127 + 0x3a)).wrapping_sub(low) & !x & (low + ONES * (127 - 0x2f)) & HI;
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..].iter().position(u8::is_ascii_digit).map(|p| i + p)
}

/// Digit chunks: every match of `[0-9]+(?:[ .\-/][0-9]+)*`, leftmost
/// first and non-overlapping (what `Regex::find_iter` gives), found with
/// one byte loop. The number-shaped detectors (national IDs, cards, IPv4)
/// look only inside these chunks: each of their patterns is made of digits
/// and a subset of these separators, so every match lies inside one chunk.
pub(crate) fn digit_chunks(text: &str, out: &mut Vec<(usize, usize)>) {
    out.clear();
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(p) = next_digit(b, i) {
        i = p;
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        while i + 1 < b.len()
            && matches!(b[i], b' ' | b'.' | b'-' | b'/')
            && b[i + 1].is_ascii_digit()
        {
            i += 2;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
        out.push((s, i));
    }
}

/// A static pattern compiled to an anchored dense DFA: matches found by
/// walking its table from each candidate start, with no cache to fetch and
/// no lazy state to build (a `regex` call costs ~1,200 instructions, and the
/// number-shaped patterns run on many short slices).
///
/// [`Dense::find_iter`] gives the matches `regex::Regex::find_iter` gives:
/// the leftmost start is the first position where an anchored match
/// exists, and from a given start an anchored leftmost-first DFA ends where
/// the unanchored leftmost-first search ends. (Patterns that can match the
/// empty string are not supported.)
pub(crate) struct Dense {
    /// Byte -> class of the DFA's alphabet.
    class: [u8; 256],
    /// `next[state + class]`: the next state (its index times the number
    /// of classes), with [`DENSE_MATCH`] or [`DENSE_DEAD`] set. The DFA's
    /// transitions copied into a flat table, so the walk does no bounds or
    /// special-state range tests of its own (the library's `next_state`
    /// did).
    next: Vec<u32>,
    /// Whether the end of input after each state (by index) is a match.
    eoi_match: Vec<bool>,
    start: u32,
    stride: usize,
}

/// Flags of a [`Dense`] transition: into a match state (reported one byte
/// late, as the DFA does), or into the dead state.
const DENSE_MATCH: u32 = 1 << 31;
const DENSE_DEAD: u32 = 1 << 30;

impl Dense {
    /// Compiles `pattern` (leftmost-first, as `regex` does).
    pub(crate) fn new(pattern: &str) -> Dense {
        use regex_automata::dfa::{Automaton, StartKind, dense};
        let dfa = dense::Builder::new()
            .configure(dense::DFA::config().start_kind(StartKind::Anchored))
            .build(pattern)
            .expect("static regex");
        let start = dfa
            .start_state(
                &regex_automata::util::start::Config::new().anchored(regex_automata::Anchored::Yes),
            )
            .expect("anchored start state");
        // Byte classes and one byte of each (the end-of-input class aside).
        let classes = dfa.byte_classes();
        let stride = classes.alphabet_len() - 1;
        let mut class = [0u8; 256];
        let mut rep = vec![None; stride];
        for b in 0..=255u8 {
            let c = classes.get(b);
            class[usize::from(b)] = c;
            rep[usize::from(c)].get_or_insert(b);
        }
        // The states reachable from the start, breadth first, numbered.
        let mut ids = vec![start];
        let mut index = std::collections::HashMap::from([(start, 0usize)]);
        let mut at = 0;
        while at < ids.len() {
            let sid = ids[at];
            at += 1;
            for b in rep.iter().flatten() {
                let nx = dfa.next_state(sid, *b);
                if let std::collections::hash_map::Entry::Vacant(v) = index.entry(nx) {
                    v.insert(ids.len());
                    ids.push(nx);
                }
            }
        }
        let mut next = vec![0u32; ids.len() * stride];
        let mut eoi_match = vec![false; ids.len()];
        for (k, &sid) in ids.iter().enumerate() {
            eoi_match[k] = dfa.is_match_state(dfa.next_eoi_state(sid));
            for (c, b) in rep.iter().enumerate() {
                let Some(b) = *b else { continue };
                let nx = dfa.next_state(sid, b);
                let mut e = u32::try_from(index[&nx] * stride).expect("small DFA");
                assert!(e < DENSE_DEAD);
                if dfa.is_match_state(nx) {
                    e |= DENSE_MATCH;
                } else if dfa.is_dead_state(nx) {
                    e |= DENSE_DEAD;
                }
                next[k * stride + c] = e;
            }
        }
        let d = Dense {
            class,
            next,
            eoi_match,
            start: 0,
            stride,
        };
        assert!(
            d.match_at(b"", 0).is_none(),
            "pattern matches the empty string"
        );
        d
    }

    /// The end of the match that starts at `at`, if one does.
    pub(crate) fn match_at(&self, hay: &[u8], at: usize) -> Option<usize> {
        let mut st = self.start;
        let mut end = None;
        for (i, &b) in hay[at..].iter().enumerate() {
            st = self.next[(st & !(DENSE_MATCH | DENSE_DEAD)) as usize
                + usize::from(self.class[usize::from(b)])];
            if st >= DENSE_DEAD {
                if st & DENSE_MATCH != 0 {
                    // Matches are reported one byte late.
                    end = Some(at + i);
                } else {
                    return end;
                }
            }
        }
        let k = (st & !(DENSE_MATCH | DENSE_DEAD)) as usize / self.stride;
        if self.eoi_match[k] {
            end = Some(hay.len());
        }
        end
    }

    /// Leftmost-first, non-overlapping matches as (start, end).
    pub(crate) fn find_iter<'a>(&'a self, hay: &'a str) -> DenseMatches<'a> {
        DenseMatches {
            re: self,
            hay: hay.as_bytes(),
            at: 0,
        }
    }
}

/// The matches of [`Dense::find_iter`].
pub(crate) struct DenseMatches<'a> {
    re: &'a Dense,
    hay: &'a [u8],
    at: usize,
}

impl Iterator for DenseMatches<'_> {
    type Item = (usize, usize);
    fn next(&mut self) -> Option<(usize, usize)> {
        while self.at < self.hay.len() {
            let s = self.at;
            if let Some(e) = self.re.match_at(self.hay, s) {
                self.at = e;
                return Some((s, e));
            }
            self.at += 1;
        }
        None
    }
}

/// Compiles a [`Dense`] pattern.
pub(crate) fn dense(pattern: &str) -> Dense {
    Dense::new(pattern)
}

/// Compiles a static pattern with room for the lazy DFA's cache (the
/// Unicode classes of the address and name patterns need more than the
/// default, or matching falls back to the slow engine).
pub(crate) fn re(pattern: &str) -> regex::Regex {
    regex::RegexBuilder::new(pattern)
        .size_limit(64 << 20)
        .dfa_size_limit(64 << 20)
        .build()
        .expect("static regex")
}

/// Merged byte regions `[cue start, cue end + reach]` after every cue
/// (at a word start): where a value announced by the cue can sit.
/// Detectors that need a cue scan only these regions.
///
/// `cues`: every occurrence of one cue list in the text (overlapping, from
/// [`Keywords`]). The cues kept are those a leftmost-longest,
/// non-overlapping search over the text would give: earliest start first,
/// the longest at that start, the next one starting at or after its end.
pub(crate) fn regions_after(
    cues: &mut [(usize, usize)],
    text: &str,
    reach: usize,
    out: &mut Vec<(usize, usize)>,
) {
    out.clear();
    cues.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut next = 0;
    for &(s, e) in cues.iter() {
        if s < next {
            continue;
        }
        next = e;
        if text[..s]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
        {
            continue;
        }
        let mut e = (e + reach).min(text.len());
        while !text.is_char_boundary(e) {
            e -= 1;
        }
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
}

/// Which list a keyword of [`KEYWORDS`] comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum List {
    /// [`BIRTH_WORDS`].
    Birth,
    /// [`PASSPORT_WORDS`].
    Passport,
    /// A street-type keyword of the given kind (see `address`).
    Street(u8),
}

/// The birth cues, passport cues and street-type keywords, each with its
/// list, in automaton order.
fn keyword_list() -> (Vec<String>, Vec<List>) {
    let mut words: Vec<String> = Vec::new();
    let mut lists = Vec::new();
    for w in BIRTH_WORDS {
        words.push((*w).to_string());
        lists.push(List::Birth);
    }
    for w in PASSPORT_WORDS {
        words.push((*w).to_string());
        lists.push(List::Passport);
    }
    for (w, kind) in super::address::keywords() {
        words.push(w);
        lists.push(List::Street(kind));
    }
    (words, lists)
}

/// The birth cues, passport cues and street-type keywords in one
/// automaton: one overlapping pass over the text finds them all (three
/// passes, one per list, cost about three times as much).
static KEYWORDS: LazyLock<(Overlapping, Vec<List>)> = LazyLock::new(|| {
    let (words, lists) = keyword_list();
    (Overlapping::new(&words), lists)
});

/// An Aho-Corasick automaton for overlapping search, ASCII
/// case-insensitive, that reports what `aho_corasick`'s overlapping
/// search with `MatchKind::Standard` reports, in the same order: at each
/// end position, the patterns of the state reached, its own (by pattern
/// id) and then those of its failure state. Its search is a plain table
/// walk, one lookup per byte (the crate's overlapping iterator cost ~22
/// instructions per byte of text, most of the keyword pass).
pub(crate) struct Overlapping<const N: usize = TABLE> {
    /// Byte -> class (ASCII letters folded; bytes in no pattern: 0).
    class: [u8; 256],
    classes: usize,
    /// `next[state * classes + class]`: the next state, times `classes`,
    /// with [`MATCHING`] set when that state reports patterns. A fixed,
    /// power-of-two size: the walk masks its index instead of checking it.
    next: Box<[u32; N]>,
    /// Patterns reported in each state: `out[out_at[s]..out_at[s + 1]]`.
    out_at: Vec<u32>,
    out: Vec<u32>,
    /// Byte length of each pattern.
    lens: Vec<u32>,
}

/// Flag of a transition into a state that reports patterns.
const MATCHING: u32 = 1 << 31;

/// Entries of [`Overlapping`]'s table (the keyword automaton needs about
/// 100,000).
const TABLE: usize = 1 << 17;

impl<const N: usize> Overlapping<N> {
    pub(crate) fn new<S: AsRef<str>>(patterns: &[S]) -> Overlapping<N> {
        let fold = |b: u8| b.to_ascii_lowercase();
        let mut class = [0u8; 256];
        let mut classes = 1usize;
        for p in patterns {
            for &b in p.as_ref().as_bytes() {
                let f = fold(b);
                if class[usize::from(f)] == 0 {
                    class[usize::from(f)] = u8::try_from(classes).expect("fewer than 256 classes");
                    classes += 1;
                }
            }
        }
        for b in b'A'..=b'Z' {
            class[usize::from(b)] = class[usize::from(b.to_ascii_lowercase())];
        }
        // The trie, on classes: `child[state * classes + class]`, 0 = none.
        let mut child: Vec<u32> = vec![0; classes];
        let mut own: Vec<Vec<u32>> = vec![Vec::new()];
        for (id, p) in patterns.iter().enumerate() {
            let mut st = 0usize;
            for &b in p.as_ref().as_bytes() {
                let c = usize::from(class[usize::from(b)]);
                let nx = child[st * classes + c] as usize;
                st = if nx == 0 {
                    let n = own.len();
                    own.push(Vec::new());
                    child.extend(std::iter::repeat_n(0, classes));
                    child[st * classes + c] = n as u32;
                    n
                } else {
                    nx
                };
            }
            own[st].push(id as u32);
        }
        let states = own.len();
        // Failure links and the full transition table, breadth first; each
        // state reports its own patterns, then its failure state's.
        let mut fail = vec![0usize; states];
        let mut outs: Vec<Vec<u32>> = vec![Vec::new(); states];
        let mut delta = vec![0u32; states * classes];
        let mut queue = std::collections::VecDeque::new();
        outs[0] = own[0].clone();
        for c in 0..classes {
            let nx = child[c] as usize;
            if nx != 0 {
                delta[c] = nx as u32;
                fail[nx] = 0;
                queue.push_back(nx);
            }
        }
        while let Some(st) = queue.pop_front() {
            let mut o = own[st].clone();
            o.extend_from_slice(&outs[fail[st]]);
            outs[st] = o;
            for c in 0..classes {
                let nx = child[st * classes + c] as usize;
                if nx != 0 {
                    fail[nx] = delta[fail[st] * classes + c] as usize;
                    delta[st * classes + c] = nx as u32;
                    queue.push_back(nx);
                } else {
                    delta[st * classes + c] = delta[fail[st] * classes + c];
                }
            }
        }
        assert!(N.is_power_of_two() && N < 1 << 31);
        assert!(delta.len() <= N, "keyword table too large");
        let mut next: Box<[u32; N]> = vec![0; N]
            .into_boxed_slice()
            .try_into()
            .expect("TABLE entries");
        for (n, &t) in next.iter_mut().zip(&delta) {
            let t = t as usize;
            *n = (t * classes) as u32 | if outs[t].is_empty() { 0 } else { MATCHING };
        }
        let mut out_at = vec![0u32];
        let mut out = Vec::new();
        for o in &outs {
            out.extend_from_slice(o);
            out_at.push(out.len() as u32);
        }
        Overlapping {
            class,
            classes,
            next,
            out_at,
            out,
            lens: patterns.iter().map(|p| p.as_ref().len() as u32).collect(),
        }
    }

    /// Calls `f(pattern, start, end)` for every occurrence, by end, in
    /// the order described above.
    pub(crate) fn for_each(&self, text: &str, mut f: impl FnMut(usize, usize, usize)) {
        let b = text.as_bytes();
        let (mut at, mut st) = (0, 0);
        while let Some((end, s)) = self.next_match(b, at, st) {
            let state = s as usize / self.classes;
            for &p in &self.out[self.out_at[state] as usize..self.out_at[state + 1] as usize] {
                f(p as usize, end - self.lens[p as usize] as usize, end);
            }
            (at, st) = (end, s);
        }
    }

    /// From `b[at..]` in state `st`: the end of the next match and the
    /// state there. The walk keeps to registers (a callback inside it made
    /// the compiler reload the tables on every byte).
    #[inline]
    fn next_match(&self, b: &[u8], at: usize, mut st: u32) -> Option<(usize, u32)> {
        let (next, class) = (&*self.next, &self.class);
        // The mask also drops the `MATCHING` flag of the previous entry, so
        // the state is the entry itself; the flag is its sign bit.
        let step =
            |st: u32, c: u8| next[(st as usize + usize::from(class[usize::from(c)])) & (N - 1)];
        let rest = b.get(at..)?;
        // Four bytes per loop turn (one bounds test and counter update for
        // four lookups).
        let mut quads = rest.chunks_exact(4);
        let mut i = at;
        for q in &mut quads {
            for (k, &c) in q.iter().enumerate() {
                st = step(st, c);
                if (st as i32) < 0 {
                    return Some((i + k + 1, st & !MATCHING));
                }
            }
            i += 4;
        }
        for (k, &c) in quads.remainder().iter().enumerate() {
            st = step(st, c);
            if (st as i32) < 0 {
                return Some((i + k + 1, st & !MATCHING));
            }
        }
        None
    }
}

/// Every occurrence of the birth cues, passport cues and street keywords
/// in a text, split by list, each list in the order of an overlapping
/// search (by end).
#[derive(Default)]
pub(crate) struct Keywords {
    /// Birth cues.
    pub birth: Vec<(usize, usize)>,
    /// Passport cues.
    pub passport: Vec<(usize, usize)>,
    /// Street keywords: (start, end, kind).
    pub street: Vec<(usize, usize, u8)>,
}

impl Keywords {
    /// Scans `text` once.
    pub(crate) fn find(text: &str) -> Keywords {
        let (ac, lists) = &*KEYWORDS;
        let mut k = Keywords {
            birth: Vec::with_capacity(8),
            passport: Vec::with_capacity(8),
            street: Vec::with_capacity(text.len() / 32),
        };
        ac.for_each(text, |p, s, e| match lists[p] {
            List::Birth => k.birth.push((s, e)),
            List::Passport => k.passport.push((s, e)),
            List::Street(kind) => k.street.push((s, e, kind)),
        });
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cue checks on the table walk answer what they answered through
    /// `aho_corasick` (random windows over the cue words' letters, with cue
    /// words spliced in, for every list).
    #[test]
    fn cues_match_aho_corasick() {
        let lists: [(&Cues, Vec<&str>); 6] = [
            (&PHONE, vec!["tél", "Tel", "phone", "gsm", "ring", "text"]),
            (
                &NATIONAL_ID,
                vec!["nir", "cc n", "id no", "n° id", "sécu", "tin"],
            ),
            (&BIRTH, BIRTH_WORDS.to_vec()),
            (&PASSPORT, PASSPORT_WORDS.to_vec()),
            (&IP, vec!["ip", "da ", "z ", "from", "adresse ip"]),
            (&VERSION, vec!["v.", "app ", "ver.", "build", "mise à jour"]),
        ];
        let alphabet: Vec<char> = "aeinorstlgdbvpucASEGRTN .°é-:1(".chars().collect();
        let mut rnd = crate::detect::test_rng(0x9e37_79b9_7f4a_7c15);
        for (cues, words) in &lists {
            for round in 0..4000 {
                let mut t = String::new();
                for _ in 0..rnd(if round % 10 == 0 { 400 } else { 70 }) {
                    t.push(alphabet[rnd(alphabet.len())]);
                    if rnd(8) == 0 {
                        t.push_str(words[rnd(words.len())]);
                    }
                }
                assert_eq!(has_cue(cues, &t), has_cue_ac(&cues.ac, &t), "{t:?}");
                assert_eq!(last_cue(cues, &t), last_cue_ac(&cues.ac, &t), "{t:?}");
            }
        }
    }

    /// The keyword automaton reports what `aho_corasick`'s overlapping
    /// search reports, in the same order (also checked on dev.jsonl, the
    /// held-out set and a generated corpus while it was written).
    #[test]
    fn overlapping_matches_aho_corasick() {
        let (words, _) = keyword_list();
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&words)
            .expect("builds");
        let ours = &KEYWORDS.0;
        let mut texts: Vec<String> = vec![
            "Né le 3 mars, GEBOREN op 4 mei; Geburtsdatum: x; DOB d.o.b 1.2.3".into(),
            "12 bis, rue des Acacias; Hauptstraße 4; HAUPTSTRASSE 5; Calle Mayor; Gran Vía 3"
                .into(),
            "Passeport n° 12AB; Reisepass-Nr; pasaporte; pas nr; passi".into(),
            "Flat 2, 7 Mill Lane; 10 Chestnut Close; Am Markt 3; An der Alster 1".into(),
        ];
        // Random strings over the keywords' letters, spaces and a few others.
        let alphabet: Vec<char> = "aeinorstlgdbvpucASEGRT .°ßéñ-/".chars().collect();
        let mut state = 0x853c_49e6_748f_ea9bu64;
        for _ in 0..3000 {
            let mut t = String::new();
            for _ in 0..(state % 60) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                t.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            // Splice keywords in.
            let w = &words[(state % words.len() as u64) as usize];
            let mut mid = t.len() / 2;
            while !t.is_char_boundary(mid) {
                mid -= 1;
            }
            t.insert_str(mid, w);
            texts.push(t);
        }
        for t in &texts {
            let want: Vec<_> = ac
                .find_overlapping_iter(t.as_str())
                .map(|m| (m.pattern().as_usize(), m.start(), m.end()))
                .collect();
            let mut got = Vec::new();
            ours.for_each(t, |p, s, e| got.push((p, s, e)));
            assert_eq!(got, want, "{t:?}");
        }
    }
}
