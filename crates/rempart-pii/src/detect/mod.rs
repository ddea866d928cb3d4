//! Personal-data detection: pattern + checksum + context detectors.
//!
//! Brief overview: build one [`Detector`] (it compiles its automata once;
//! share it across threads), call [`Detector::detect`] on a text with an
//! optional [`Lang`] hint, get non-overlapping [`Entity`] values sorted by
//! start, with **byte** offsets on char boundaries.
//!
//! What it does not do: no I/O, no clock, no randomness; no model is loaded.
//! PERSON rests on name lists, titles, form labels and structure; a model can
//! be plugged in through [`NerBackend`].
//!
//! How it decides: every detector proposes candidates with a score; a value
//! whose checksum validates (IBAN, card, national IDs, MRZ) outranks one that
//! does not; overlaps are then resolved by "validated, then longer, then
//! higher score". A look-alike that fails its checksum is never reported as
//! that type.

mod address;
mod card;
pub(crate) mod checksum;
mod context;
mod date;
mod email;
mod iban;
mod ip;
mod lang;
mod names;
mod national_id;
mod passport;
mod person;
mod phone;
mod scan;
mod sensitivity;

pub use lang::{Lang, UnknownLang};
pub use scan::{ScanError, byte_to_char_offsets, scan_line};
pub use sensitivity::{Sensitivity, has_special_category_cue, sensitivity};

use crate::entity::{Entity, EntityType};

/// A pluggable named-entity recogniser (e.g. a future local model). It adds
/// PERSON (or other) candidates; the detector resolves overlaps as usual.
pub trait NerBackend: Send + Sync {
    /// Appends candidate entities (byte offsets on char boundaries) for
    /// `text` to `out`.
    fn entities(&self, text: &str, lang: Option<Lang>, out: &mut Vec<Entity>);
}

/// What the detector looks for.
#[derive(Debug, Clone)]
pub struct DetectorConfig {
    /// Enabled entity types (all by default).
    pub types: Vec<EntityType>,
    /// Entities scoring below this are dropped (default 0.0).
    pub min_score: f32,
    /// Language assumed when `detect` is called without one.
    pub default_lang: Option<Lang>,
    /// Use the built-in first-name/surname lists for PERSON (default true).
    /// Off, PERSON rests on titles, labels and structure only.
    pub name_lists: bool,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            types: EntityType::ALL.to_vec(),
            min_score: 0.0,
            default_lang: None,
            name_lists: true,
        }
    }
}

/// A candidate before overlap resolution.
#[derive(Debug, Clone)]
pub(crate) struct Cand {
    pub kind: EntityType,
    pub subtype: Option<&'static str>,
    pub start: usize,
    pub end: usize,
    pub score: f32,
    /// A checksum (or MRZ check digit) validated this value.
    pub validated: bool,
}

impl Cand {
    pub(crate) fn new(kind: EntityType, start: usize, end: usize, score: f32) -> Self {
        Cand {
            kind,
            subtype: None,
            start,
            end,
            score,
            validated: false,
        }
    }
    pub(crate) fn checked(mut self, sub: Option<&'static str>) -> Self {
        self.validated = true;
        self.subtype = sub;
        self
    }
}

/// The detector: compiled once, then `detect` is pure and thread-safe.
pub struct Detector {
    config: DetectorConfig,
    enabled: [bool; 10],
    ner: Option<Box<dyn NerBackend>>,
}

impl Default for Detector {
    fn default() -> Self {
        Detector::new()
    }
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("config", &self.config)
            .field("ner", &self.ner.is_some())
            .finish()
    }
}

fn type_index(t: EntityType) -> usize {
    EntityType::ALL.iter().position(|&x| x == t).unwrap_or(0)
}

impl Detector {
    /// A detector for every type, no score threshold.
    pub fn new() -> Self {
        Detector::with_config(DetectorConfig::default())
    }

    /// A detector with the given configuration.
    pub fn with_config(config: DetectorConfig) -> Self {
        let mut enabled = [false; 10];
        for t in &config.types {
            enabled[type_index(*t)] = true;
        }
        // Build the lazily compiled automata now, not on the first request.
        context::warm_up();
        names::warm_up();
        for f in [
            address::warm_up,
            card::warm_up,
            date::warm_up,
            email::warm_up,
            iban::warm_up,
            ip::warm_up,
            national_id::warm_up,
            passport::warm_up,
            person::warm_up,
            phone::warm_up,
        ] {
            f();
        }
        Detector {
            config,
            enabled,
            ner: None,
        }
    }

    /// Adds a named-entity backend whose candidates join the rule-based ones.
    pub fn with_ner(mut self, ner: Box<dyn NerBackend>) -> Self {
        self.ner = Some(ner);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    fn on(&self, t: EntityType) -> bool {
        self.enabled[type_index(t)]
    }

    /// Detects personal data in `text`. Entities are non-overlapping, sorted
    /// by start, with byte offsets on char boundaries.
    pub fn detect(&self, text: &str, lang: Option<Lang>) -> Vec<Entity> {
        let lang = lang.or(self.config.default_lang);
        let mut c: Vec<Cand> = Vec::with_capacity(32);
        // Detectors of disabled types are skipped, except those whose
        // validated values must still win overlaps against other types.
        use EntityType as T;
        // Digit chunks, found once, shared by the number-shaped detectors.
        let mut chunks = Vec::with_capacity(64);
        context::digit_chunks(text, &mut chunks);
        email::find(text, &mut c);
        iban::find(text, &chunks, &mut c);
        card::find(text, &chunks, &mut c);
        national_id::find(text, lang, &chunks, &mut c);
        // Birth cues, passport cues and street keywords: one automaton pass.
        let mut keywords = if self.on(T::Passport)
            || self.on(T::Person)
            || self.on(T::DateOfBirth)
            || self.on(T::Address)
        {
            context::Keywords::find(text)
        } else {
            context::Keywords::default()
        };
        if self.on(T::Passport) || self.on(T::Person) || self.on(T::DateOfBirth) {
            passport::find(text, lang, &mut keywords.passport, &mut c);
        }
        if self.on(T::IpAddress) {
            ip::find(text, &chunks, &mut c);
        }
        if self.on(T::Phone) {
            phone::find(text, lang, &chunks, &mut c);
        }
        if self.on(T::DateOfBirth) {
            date::find(text, lang, &mut keywords.birth, &mut c);
        }
        if self.on(T::Address) || self.on(T::Person) {
            address::find(text, lang, &keywords.street, &mut c);
        }
        if self.on(T::Person) {
            person::find(text, lang, self.config.name_lists, &mut c);
        }
        if let Some(ner) = &self.ner {
            let mut extra = Vec::new();
            ner.entities(text, lang, &mut extra);
            c.extend(
                extra
                    .into_iter()
                    .filter(|e| {
                        e.start < e.end
                            && e.end <= text.len()
                            && text.is_char_boundary(e.start)
                            && text.is_char_boundary(e.end)
                    })
                    .map(|e| Cand {
                        kind: e.kind,
                        subtype: e.subtype,
                        start: e.start,
                        end: e.end,
                        score: e.score,
                        validated: false,
                    }),
            );
        }
        c.retain(|x| self.on(x.kind) && x.score >= self.config.min_score && x.start < x.end);
        resolve(c)
    }
}

/// Overlap resolution: validated first, then longer, then higher score, then
/// earlier; greedy, so the result never overlaps. Sorted by start.
fn resolve(mut c: Vec<Cand>) -> Vec<Entity> {
    c.sort_by(|a, b| {
        b.validated
            .cmp(&a.validated)
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(b.score.total_cmp(&a.score))
            .then(a.start.cmp(&b.start))
    });
    let mut kept: Vec<Cand> = Vec::with_capacity(c.len());
    for x in c {
        if kept.iter().all(|k| x.end <= k.start || x.start >= k.end) {
            kept.push(x);
        }
    }
    kept.sort_by_key(|k| k.start);
    kept.into_iter()
        .map(|k| Entity {
            kind: k.kind,
            subtype: k.subtype,
            start: k.start,
            end: k.end,
            score: k.score.clamp(0.0, 1.0),
        })
        .collect()
}

#[cfg(test)]
mod tests;

/// Tests' deterministic random numbers below `n` (xorshift64 from `seed`).
#[cfg(test)]
pub(crate) fn test_rng(seed: u64) -> impl FnMut(usize) -> usize {
    let mut state = seed;
    move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    }
}
