//! Language-aware text analysis: Unicode word segmentation (UAX #29),
//! apostrophe splitting (French/Italian elision, English possessive),
//! lower-casing, stop words, Snowball stemming, then accent folding.
//!
//! Order matters: the Snowball French and German stemmers expect accents and
//! umlauts, so folding (NFD, drop combining marks, `ß` → `ss`) happens after
//! stemming. Stop words are matched on the lower-cased, unfolded word and on
//! its folded form, so "à" and "a" both go.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

/// A language the analyser knows: stop words and a Snowball stemmer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Lang {
    // The order is `Lang::ALL`'s; `index()` relies on it.
    /// English (Snowball "english", i.e. Porter2).
    En,
    /// French.
    Fr,
    /// German.
    De,
    /// Spanish.
    Es,
    /// Italian.
    It,
    /// Dutch.
    Nl,
}

impl Lang {
    /// Every supported language.
    pub const ALL: [Lang; 6] = [Lang::En, Lang::Fr, Lang::De, Lang::Es, Lang::It, Lang::Nl];

    /// ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::De => "de",
            Lang::Es => "es",
            Lang::It => "it",
            Lang::Nl => "nl",
        }
    }

    /// Parses an ISO 639-1 code (case-insensitive).
    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(code))
    }

    fn algorithm(self) -> Algorithm {
        match self {
            Lang::En => Algorithm::English,
            Lang::Fr => Algorithm::French,
            Lang::De => Algorithm::German,
            Lang::Es => Algorithm::Spanish,
            Lang::It => Algorithm::Italian,
            Lang::Nl => Algorithm::Dutch,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn is_stop_word(self, word: &str) -> bool {
        STOP_SETS[self.index()].contains(word)
    }

    fn stop_words(self) -> &'static [&'static str] {
        match self {
            Lang::En => STOP_EN,
            Lang::Fr => STOP_FR,
            Lang::De => STOP_DE,
            Lang::Es => STOP_ES,
            Lang::It => STOP_IT,
            Lang::Nl => STOP_NL,
        }
    }
}

/// Stop-word sets, indexed by `Lang as usize`.
static STOP_SETS: LazyLock<[HashSet<&'static str>; 6]> =
    LazyLock::new(|| Lang::ALL.map(|l| l.stop_words().iter().copied().collect()));

/// For language guessing: word → bit set of the languages listing it.
static STOP_LANGS: LazyLock<HashMap<&'static str, u8>> = LazyLock::new(|| {
    let mut m = HashMap::new();
    for l in Lang::ALL {
        for w in l.stop_words() {
            // One-letter pieces are shared noise across languages.
            if w.chars().count() > 1 {
                *m.entry(*w).or_insert(0u8) |= 1 << l.index();
            }
        }
    }
    m
});

// Lucene's EnglishAnalyzer default set (ENGLISH_STOP_WORDS_SET), plus the
// possessive "s" left by apostrophe splitting.
const STOP_EN: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with", "s",
];
// Short function-word lists (a subset of the Snowball lists), plus elided
// forms left by apostrophe splitting (l', d', qu', ...).
const STOP_FR: &[&str] = &[
    "au", "aux", "avec", "ce", "ces", "dans", "de", "des", "du", "elle", "en", "et", "eux", "il",
    "ils", "je", "la", "le", "les", "leur", "lui", "ma", "mais", "me", "même", "mes", "moi", "mon",
    "ne", "nos", "notre", "nous", "on", "ou", "par", "pas", "pour", "qu", "que", "qui", "sa", "se",
    "ses", "son", "sur", "ta", "te", "tes", "toi", "ton", "tu", "un", "une", "vos", "votre",
    "vous", "c", "d", "j", "l", "à", "m", "n", "s", "t", "y", "été", "est", "sont", "était", "a",
    "ont", "cette", "cet", "quel", "quelle", "quels", "quelles", "lors", "dont",
];
const STOP_DE: &[&str] = &[
    "aber", "als", "am", "an", "auch", "auf", "aus", "bei", "bin", "bis", "das", "dass", "dem",
    "den", "der", "des", "die", "doch", "du", "durch", "ein", "eine", "einem", "einen", "einer",
    "eines", "er", "es", "für", "hat", "hatte", "ich", "ihr", "im", "in", "ist", "ja", "kann",
    "mit", "nach", "nicht", "noch", "nur", "oder", "sich", "sie", "sind", "so", "um", "und", "uns",
    "von", "vor", "war", "waren", "was", "welche", "welcher", "welches", "wer", "wie", "wir",
    "wird", "wurde", "wurden", "zu", "zum", "zur", "über", "vom", "beim",
];
const STOP_ES: &[&str] = &[
    "a", "al", "como", "con", "de", "del", "el", "en", "es", "esta", "este", "fue", "ha", "la",
    "las", "le", "les", "lo", "los", "más", "no", "o", "para", "pero", "por", "que", "qué", "se",
    "sin", "su", "sus", "un", "una", "uno", "y", "ya", "son", "entre", "cuál", "cuándo", "dónde",
];
const STOP_IT: &[&str] = &[
    "a", "ad", "al", "alla", "alle", "che", "chi", "con", "da", "dal", "dalla", "dei", "del",
    "della", "delle", "di", "e", "è", "gli", "ha", "i", "il", "in", "l", "la", "le", "lo", "ma",
    "nel", "nella", "non", "o", "per", "più", "quale", "si", "sono", "su", "sua", "suo", "un",
    "una", "uno", "c", "d", "dell", "all", "nell", "sull", "dall", "quando", "come",
];
const STOP_NL: &[&str] = &[
    "aan", "al", "als", "bij", "dat", "de", "den", "der", "die", "dit", "door", "een", "en", "er",
    "het", "hij", "in", "is", "je", "maar", "met", "naar", "niet", "of", "om", "ook", "op", "te",
    "tot", "uit", "van", "voor", "was", "wat", "werd", "wie", "wij", "ze", "zich", "zijn", "s",
    "t", "welke", "wanneer",
];

/// Guesses the language of a text by stop-word ratio: the language whose
/// (own, distinctive) stop words cover the most word tokens among the first
/// 400 words wins; `None` if no list reaches 5 % of the words (too short,
/// another language, or code/numbers).
///
/// Cheap and good for paragraphs; unreliable for a three-word query, where
/// callers should pass the language they know.
pub fn guess_lang(text: &str) -> Option<Lang> {
    let mut counts = [0usize; 6];
    let mut total = 0usize;
    for word in text.unicode_words().take(400) {
        let w = word.to_lowercase();
        for piece in w.split(['\'', '’']) {
            if piece.is_empty() {
                continue;
            }
            total += 1;
            if let Some(&mask) = STOP_LANGS.get(piece) {
                for (i, c) in counts.iter_mut().enumerate() {
                    *c += usize::from(mask >> i & 1);
                }
            }
        }
    }
    let (best, &n) = counts
        .iter()
        .enumerate()
        .max_by_key(|&(i, n)| (*n, usize::MAX - i))?;
    if total == 0 || n * 20 < total {
        return None;
    }
    Some(Lang::ALL[best])
}

/// Folds accents: NFD, drop combining marks, `ß` → `ss`, `æ`/`œ` → `ae`/`oe`.
pub fn fold(s: &str) -> String {
    if s.is_ascii() {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.nfd() {
        match c {
            '\u{300}'..='\u{36f}' => {}
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            _ => out.push(c),
        }
    }
    out
}

/// Turns text into index terms for one language (or none: lower-case and
/// fold only). Build one per language and reuse it.
pub struct Analyzer {
    lang: Option<Lang>,
    stemmer: Option<Stemmer>,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("lang", &self.lang)
            .finish()
    }
}

impl Analyzer {
    /// An analyser for `lang`; `None` means no stop words and no stemming.
    pub fn new(lang: Option<Lang>) -> Analyzer {
        Analyzer {
            lang,
            stemmer: lang.map(|l| Stemmer::create(l.algorithm())),
        }
    }

    /// The language this analyser was built for.
    pub fn lang(&self) -> Option<Lang> {
        self.lang
    }

    /// Calls `emit` with each term of `text`, in order.
    pub fn for_each_term(&self, text: &str, mut emit: impl FnMut(&str)) {
        let is_stop = |w: &str| self.lang.is_some_and(|l| l.is_stop_word(w));
        let mut lower = String::new();
        for word in text.unicode_words() {
            lower.clear();
            if word.is_ascii() {
                lower.push_str(word);
                lower.make_ascii_lowercase();
            } else {
                lower.extend(word.chars().flat_map(char::to_lowercase));
            }
            for piece in lower.split(['\'', '’']) {
                if piece.is_empty() || is_stop(piece) {
                    continue;
                }
                let stemmed = match &self.stemmer {
                    Some(s) => s.stem(piece),
                    None => std::borrow::Cow::Borrowed(piece),
                };
                let folded = fold(&stemmed);
                if folded.is_empty() || is_stop(&folded) {
                    continue;
                }
                emit(&folded);
            }
        }
    }

    /// The terms of `text`, in order (convenience for tests and tools).
    pub fn terms(&self, text: &str) -> Vec<String> {
        let mut v = Vec::new();
        self.for_each_term(text, |t| v.push(t.to_owned()));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_elision_stop_words_stemming_and_folding() {
        let a = Analyzer::new(Some(Lang::Fr));
        assert_eq!(
            a.terms("L'école des enfants éligibles"),
            ["écol", "enfant", "eligibl"].map(fold)
        );
        // Same stem for singular and plural, with and without accents.
        assert_eq!(a.terms("hôpitaux"), a.terms("hôpital"));
    }

    #[test]
    fn german_stemming_before_folding() {
        let a = Analyzer::new(Some(Lang::De));
        assert_eq!(a.terms("Die Häuser"), a.terms("das Haus"));
        assert_eq!(a.terms("Straße"), ["strass"]);
    }

    #[test]
    fn english_matches_lucene_style() {
        let a = Analyzer::new(Some(Lang::En));
        assert_eq!(
            a.terms("The patient's running tests"),
            ["patient", "run", "test"]
        );
    }

    #[test]
    fn no_language_lowercases_and_folds_only() {
        let a = Analyzer::new(None);
        assert_eq!(a.terms("Élan Vital, 42"), ["elan", "vital", "42"]);
    }

    #[test]
    fn guesses_languages_by_stop_words() {
        assert_eq!(
            guess_lang("Le chat est sur la table et il dort dans la cuisine."),
            Some(Lang::Fr)
        );
        assert_eq!(
            guess_lang("Der Hund ist nicht im Haus, er ist mit den Kindern draußen."),
            Some(Lang::De)
        );
        assert_eq!(
            guess_lang("The dog is not in the house, it is with the children."),
            Some(Lang::En)
        );
        assert_eq!(
            guess_lang("De hond is niet in het huis, hij is met de kinderen buiten."),
            Some(Lang::Nl)
        );
        assert_eq!(guess_lang("12345 67890"), None);
    }
}
