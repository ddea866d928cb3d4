//! Okapi BM25 over an in-memory inverted index whose terms are keyed hashes,
//! with eligibility evaluated inside the postings traversal.
//!
//! # What is stored
//! Terms are never stored as words: each analysed term becomes
//! `SipHash-1-3(key, term)` (64 bits) with a caller-supplied [`TermKey`]
//! (from the key provider, not from the index file). The index keeps, per
//! chunk, its id, document id, label set, language, length and
//! `(term hash, tf)` pairs; postings are rebuilt from that forward index on
//! load. Deleting a document removes its postings and forward entries, and
//! terms no live chunk uses disappear, so after delete + save the file holds
//! nothing derived from the deleted document's text.
//!
//! # Eligibility inside the traversal
//! [`Bm25Index::search`] walks the postings of each query term; a chunk is
//! checked against the query's predicate the first time it is met (cached
//! per label set), and a denied chunk never accumulates a score, so it can
//! never enter the top-k heap. k admissible hits come back whatever the
//! filter's selectivity, and the count of denied candidates is returned for
//! the audit record.
//!
//! # Statistics are per index
//! idf and average length come from every live chunk of the index, whoever
//! may read it, so scores carry a faint signal about chunks the caller
//! cannot see. Keep one index per tenant (per collection is finer) so that
//! signal never crosses a tenant boundary.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hasher;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use siphasher::sip::SipHasher13;

use crate::analysis::{Analyzer, Lang, guess_lang};
use crate::error::Error;
use crate::labels::{Labels, Principal};
use crate::persist;

/// File name of the persisted index inside its directory.
pub const INDEX_FILE: &str = "bm25.idx";
const MAGIC: &[u8; 8] = b"RMPBM25\x01";

/// The secret key for term hashing. Without it the index file is a bag of
/// 64-bit pseudo-random numbers; with it, a dictionary attack on words is
/// possible, so keep it with the other data keys.
#[derive(Clone)]
pub struct TermKey([u8; 16]);

impl TermKey {
    /// A key from 16 bytes (e.g. derived from the collection's data key).
    pub fn new(bytes: [u8; 16]) -> TermKey {
        TermKey(bytes)
    }
}

impl std::fmt::Debug for TermKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TermKey(<redacted>)")
    }
}

/// BM25 parameters (defaults as Lucene's `BM25Similarity`: k1 = 1.2, b = 0.75).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bm25Params {
    /// Term-frequency saturation.
    pub k1: f32,
    /// Length normalisation.
    pub b: f32,
}

impl Default for Bm25Params {
    fn default() -> Self {
        Bm25Params { k1: 1.2, b: 0.75 }
    }
}

impl Bm25Params {
    fn validate(self) -> Result<Self, Error> {
        if !(self.k1.is_finite() && self.k1 >= 0.0) {
            return Err(Error::InvalidParam {
                name: "k1",
                reason: format!("must be finite and >= 0, got {}", self.k1),
            });
        }
        if !(0.0..=1.0).contains(&self.b) {
            return Err(Error::InvalidParam {
                name: "b",
                reason: format!("must be in [0, 1], got {}", self.b),
            });
        }
        Ok(self)
    }
}

/// A chunk to index.
#[derive(Debug, Clone, Copy)]
pub struct NewChunk<'a> {
    /// Unique chunk id.
    pub id: &'a str,
    /// The document it belongs to (deletion is per document).
    pub document: &'a str,
    /// The text to index (e.g. heading path + chunk text). Not stored.
    pub text: &'a str,
    /// Its language; `None` → guessed by stop-word ratio, else no stemming.
    pub lang: Option<Lang>,
    /// Its labels.
    pub labels: &'a Labels,
}

/// A query.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// The query text.
    pub text: &'a str,
    /// Its language; `None` → guessed, else the index's most common language.
    pub lang: Option<Lang>,
    /// How many hits at most.
    pub k: usize,
    /// Hits scoring below this are not evidence (0 = any matching chunk).
    pub min_score: f32,
}

/// One retrieved chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Chunk id.
    pub chunk: String,
    /// Document id.
    pub document: String,
    /// Score (BM25 here; cosine for dense; RRF after fusion).
    pub score: f32,
}

/// Why there is no evidence: the caller refuses rather than guesses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Refusal {
    /// No admissible chunk matched any query term.
    NoAdmissibleCandidate,
    /// Admissible chunks matched, but the best scored below the threshold.
    BelowThreshold {
        /// Best admissible score.
        best: f32,
        /// The threshold asked for.
        threshold: f32,
    },
}

/// The result of a search: hits or a refusal, and what was denied.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    /// Admissible hits above the threshold, best first (empty iff refused).
    pub hits: Vec<Hit>,
    /// Set when nothing admissible cleared the threshold.
    pub refusal: Option<Refusal>,
    /// Candidates (chunks matching at least one query term, or scanned
    /// vectors for dense search) the predicate denied: for the audit record.
    pub denied: usize,
    /// Admissible candidates scored.
    pub admitted: usize,
}

impl SearchResult {
    /// The result of a search that scored `admitted` admissible candidates
    /// (best score `best`) and kept `hits` at or above `threshold`: the
    /// refusal follows from those (none when there are hits; no admissible
    /// candidate; or all below the threshold).
    pub(crate) fn new(
        hits: Vec<Hit>,
        admitted: usize,
        denied: usize,
        best: f32,
        threshold: f32,
    ) -> SearchResult {
        let refusal = match (hits.is_empty(), admitted) {
            (false, _) => None,
            (true, 0) => Some(Refusal::NoAdmissibleCandidate),
            (true, _) => Some(Refusal::BelowThreshold { best, threshold }),
        };
        SearchResult {
            hits,
            refusal,
            denied,
            admitted,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Posting {
    slot: u32,
    tf: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Slot {
    id: String,
    document: String,
    labels: u32,
    lang: Option<Lang>,
    len: u32,
    /// (term index, tf), term indices resolved through `term_hashes`.
    terms: Vec<(u32, u32)>,
}

/// The in-memory BM25 index.
pub struct Bm25Index {
    key: TermKey,
    params: Bm25Params,
    default_lang: Option<Lang>,
    analyzers: HashMap<Option<Lang>, Analyzer>,
    term_ids: HashMap<u64, u32>,
    term_hashes: Vec<u64>,
    postings: Vec<Vec<Posting>>,
    free_terms: Vec<u32>,
    slots: Vec<Option<Slot>>,
    slot_len: Vec<u32>,
    slot_labels: Vec<u32>,
    labels: Vec<Labels>,
    label_ids: HashMap<Labels, u32>,
    ids: HashMap<String, u32>,
    documents: HashMap<String, Vec<u32>>,
    live: usize,
    total_len: u64,
    lang_counts: HashMap<Option<Lang>, usize>,
}

impl std::fmt::Debug for Bm25Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bm25Index")
            .field("params", &self.params)
            .field("chunks", &self.live)
            .field("terms", &self.term_ids.len())
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    params: Bm25Params,
    default_lang: Option<Lang>,
    key_check: u64,
    labels: Vec<Labels>,
    chunks: Vec<StoredChunk>,
}

#[derive(Serialize, Deserialize)]
struct StoredChunk {
    id: String,
    document: String,
    labels: u32,
    lang: Option<Lang>,
    len: u32,
    terms: Vec<(u64, u32)>,
}

#[derive(PartialEq)]
struct Ranked {
    score: f32,
    slot: u32,
}
impl Eq for Ranked {}
impl Ord for Ranked {
    // "Greater" = better: higher score, then earlier slot.
    fn cmp(&self, o: &Self) -> Ordering {
        self.score
            .total_cmp(&o.score)
            .then_with(|| o.slot.cmp(&self.slot))
    }
}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Keeps the best `k` of a stream of `(score, slot)`; ties by earlier slot.
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<std::cmp::Reverse<Ranked>>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(4096) + 1),
        }
    }
    pub(crate) fn push(&mut self, score: f32, slot: u32) {
        if self.k == 0 {
            return;
        }
        let r = Ranked { score, slot };
        if self.heap.len() < self.k {
            self.heap.push(std::cmp::Reverse(r));
        } else if let Some(worst) = self.heap.peek()
            && r > worst.0
        {
            self.heap.pop();
            self.heap.push(std::cmp::Reverse(r));
        }
    }
    /// Best first.
    pub(crate) fn into_sorted(self) -> Vec<(f32, u32)> {
        let mut v: Vec<Ranked> = self.heap.into_iter().map(|r| r.0).collect();
        v.sort_by(|a, b| b.cmp(a));
        v.into_iter().map(|r| (r.score, r.slot)).collect()
    }
}

impl Bm25Index {
    /// An empty index.
    pub fn new(key: TermKey, params: Bm25Params) -> Result<Bm25Index, Error> {
        Ok(Bm25Index {
            key,
            params: params.validate()?,
            default_lang: None,
            analyzers: HashMap::new(),
            term_ids: HashMap::new(),
            term_hashes: Vec::new(),
            postings: Vec::new(),
            free_terms: Vec::new(),
            slots: Vec::new(),
            slot_len: Vec::new(),
            slot_labels: Vec::new(),
            labels: Vec::new(),
            label_ids: HashMap::new(),
            ids: HashMap::new(),
            documents: HashMap::new(),
            live: 0,
            total_len: 0,
            lang_counts: HashMap::new(),
        })
    }

    /// Sets the language used for chunks and queries whose language is
    /// neither given nor guessable (`None`: no stemming).
    pub fn with_default_lang(mut self, lang: Option<Lang>) -> Bm25Index {
        self.default_lang = lang;
        self
    }

    /// The parameters.
    pub fn params(&self) -> Bm25Params {
        self.params
    }

    /// Number of live chunks.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether the index has no live chunk.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Number of distinct live terms.
    pub fn term_count(&self) -> usize {
        self.term_ids.len()
    }

    /// Whether a document has chunks in the index.
    pub fn contains_document(&self, document: &str) -> bool {
        self.documents.contains_key(document)
    }

    fn hash_term(&self, term: &str) -> u64 {
        let mut h = SipHasher13::new_with_key(&self.key.0);
        h.write(term.as_bytes());
        h.finish()
    }

    fn analyzer(&mut self, lang: Option<Lang>) -> &Analyzer {
        self.analyzers
            .entry(lang)
            .or_insert_with(|| Analyzer::new(lang))
    }

    fn term_freqs(&mut self, text: &str, lang: Option<Lang>) -> (u32, Vec<(u64, u32)>) {
        let key = self.key.clone();
        let analyzer = self.analyzer(lang);
        let mut counts: HashMap<u64, u32> = HashMap::new();
        let mut len = 0u32;
        analyzer.for_each_term(text, |t| {
            let mut h = SipHasher13::new_with_key(&key.0);
            h.write(t.as_bytes());
            *counts.entry(h.finish()).or_default() += 1;
            len += 1;
        });
        let mut v: Vec<(u64, u32)> = counts.into_iter().collect();
        v.sort_unstable();
        (len, v)
    }

    /// The language a chunk will be analysed in: given, guessed, or default.
    pub fn resolve_lang(&self, text: &str, given: Option<Lang>) -> Option<Lang> {
        given.or_else(|| guess_lang(text)).or(self.default_lang)
    }

    /// Adds one chunk. Ids are unique across the index.
    pub fn add(&mut self, chunk: NewChunk<'_>) -> Result<(), Error> {
        if self.ids.contains_key(chunk.id) {
            return Err(Error::DuplicateChunk {
                id: chunk.id.to_owned(),
            });
        }
        let lang = self.resolve_lang(chunk.text, chunk.lang);
        let (len, tfs) = self.term_freqs(chunk.text, lang);
        self.insert(
            chunk.id.to_owned(),
            chunk.document.to_owned(),
            chunk.labels.clone(),
            lang,
            len,
            tfs,
        );
        Ok(())
    }

    fn intern_labels(&mut self, labels: Labels) -> u32 {
        crate::labels::intern(&mut self.labels, &mut self.label_ids, &labels)
    }

    fn insert(
        &mut self,
        id: String,
        document: String,
        labels: Labels,
        lang: Option<Lang>,
        len: u32,
        tfs: Vec<(u64, u32)>,
    ) {
        let slot = self.slots.len() as u32;
        let label_id = self.intern_labels(labels);
        let mut terms = Vec::with_capacity(tfs.len());
        for (hash, tf) in tfs {
            let t = match self.term_ids.get(&hash) {
                Some(&t) => t,
                None => {
                    let t = match self.free_terms.pop() {
                        Some(t) => {
                            self.term_hashes[t as usize] = hash;
                            t
                        }
                        None => {
                            self.term_hashes.push(hash);
                            self.postings.push(Vec::new());
                            (self.term_hashes.len() - 1) as u32
                        }
                    };
                    self.term_ids.insert(hash, t);
                    t
                }
            };
            // Slots only grow, so each postings list stays sorted by slot.
            self.postings[t as usize].push(Posting { slot, tf });
            terms.push((t, tf));
        }
        terms.sort_unstable();
        self.ids.insert(id.clone(), slot);
        self.documents
            .entry(document.clone())
            .or_default()
            .push(slot);
        *self.lang_counts.entry(lang).or_default() += 1;
        self.slots.push(Some(Slot {
            id,
            document,
            labels: label_id,
            lang,
            len,
            terms,
        }));
        self.slot_len.push(len);
        self.slot_labels.push(label_id);
        self.live += 1;
        self.total_len += u64::from(len);
    }

    /// Deletes every chunk of `document` and its postings; returns how many
    /// chunks went. Refuses a document with a chunk under legal hold.
    pub fn delete_document(&mut self, document: &str) -> Result<usize, Error> {
        let Some(slots) = self.documents.get(document) else {
            return Ok(0);
        };
        for &s in slots {
            if let Some(slot) = &self.slots[s as usize]
                && self.labels[slot.labels as usize].legal_hold
            {
                return Err(Error::LegalHold {
                    document: document.to_owned(),
                });
            }
        }
        let slots = self.documents.remove(document).unwrap_or_default();
        for &s in &slots {
            let Some(slot) = self.slots[s as usize].take() else {
                continue;
            };
            for &(t, _) in &slot.terms {
                let list = &mut self.postings[t as usize];
                if let Ok(pos) = list.binary_search_by_key(&s, |p| p.slot) {
                    list.remove(pos);
                }
                if list.is_empty() {
                    let hash = self.term_hashes[t as usize];
                    self.term_ids.remove(&hash);
                    self.term_hashes[t as usize] = 0;
                    self.free_terms.push(t);
                }
            }
            self.ids.remove(&slot.id);
            if let Some(c) = self.lang_counts.get_mut(&slot.lang) {
                *c -= 1;
            }
            self.live -= 1;
            self.total_len -= u64::from(slot.len);
            self.slot_len[s as usize] = 0;
        }
        Ok(slots.len())
    }

    /// Sets or lifts the legal hold on every chunk of `document`; returns
    /// the number of chunks changed.
    pub fn set_legal_hold(&mut self, document: &str, hold: bool) -> usize {
        let slots = self.documents.get(document).cloned().unwrap_or_default();
        for &s in &slots {
            let Some(old) = self.slots[s as usize].as_ref().map(|x| x.labels) else {
                continue;
            };
            let labels = self.labels[old as usize].clone().with_legal_hold(hold);
            let id = self.intern_labels(labels);
            if let Some(slot) = self.slots[s as usize].as_mut() {
                slot.labels = id;
            }
            self.slot_labels[s as usize] = id;
        }
        slots.len()
    }

    fn query_lang(&self, q: &Query<'_>) -> Option<Lang> {
        q.lang.or_else(|| guess_lang(q.text)).or_else(|| {
            self.lang_counts
                .iter()
                .filter(|(_, n)| **n > 0)
                .max_by_key(|(l, n)| (**n, l.map(|l| l.code())))
                .map(|(l, _)| *l)
                .unwrap_or(self.default_lang)
        })
    }

    /// Query terms as (term index, query tf); unknown terms are dropped.
    fn query_terms(&self, q: &Query<'_>) -> Vec<(u32, u32)> {
        let lang = self.query_lang(q);
        let fallback;
        let analyzer = match self.analyzers.get(&lang) {
            Some(a) => a,
            None => {
                fallback = Analyzer::new(lang);
                &fallback
            }
        };
        let mut counts: HashMap<u32, u32> = HashMap::new();
        analyzer.for_each_term(q.text, |t| {
            if let Some(&id) = self.term_ids.get(&self.hash_term(t)) {
                *counts.entry(id).or_default() += 1;
            }
        });
        let mut v: Vec<(u32, u32)> = counts.into_iter().collect();
        v.sort_unstable();
        v
    }

    fn idf(&self, df: usize) -> f32 {
        // Lucene BM25Similarity: ln(1 + (N - df + 0.5) / (df + 0.5)).
        let n = self.live as f64;
        let df = df as f64;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln() as f32
    }

    fn avgdl(&self) -> f32 {
        if self.live == 0 {
            1.0
        } else {
            (self.total_len as f64 / self.live as f64).max(1e-9) as f32
        }
    }

    /// Searches for `query` as `principal`.
    pub fn search(&self, query: &Query<'_>, principal: &Principal) -> SearchResult {
        self.search_with(query, |l| principal.admits(l))
    }

    /// Searches with any eligibility predicate over labels. The predicate is
    /// evaluated while postings are traversed, before a chunk accumulates a
    /// score; denied chunks never reach the top-k heap.
    pub fn search_with(&self, query: &Query<'_>, admits: impl Fn(&Labels) -> bool) -> SearchResult {
        let terms = self.query_terms(query);
        let n = self.slots.len();
        let mut acc = vec![0f32; n];
        // 0 = unseen, 1 = admitted, 2 = denied.
        let mut state = vec![0u8; n];
        let mut label_state = vec![0u8; self.labels.len()];
        let mut touched: Vec<u32> = Vec::new();
        let mut denied = 0usize;
        let avgdl = self.avgdl();
        let Bm25Params { k1, b } = self.params;
        for &(t, qtf) in &terms {
            let list = &self.postings[t as usize];
            let w = self.idf(list.len()) * qtf as f32;
            for p in list {
                let s = p.slot as usize;
                match state[s] {
                    1 => {}
                    2 => continue,
                    _ => {
                        let l = self.slot_labels[s] as usize;
                        if label_state[l] == 0 {
                            label_state[l] = if admits(&self.labels[l]) { 1 } else { 2 };
                        }
                        state[s] = label_state[l];
                        if state[s] == 2 {
                            denied += 1;
                            continue;
                        }
                        touched.push(p.slot);
                    }
                }
                let tf = p.tf as f32;
                let norm = k1 * (1.0 - b + b * self.slot_len[s] as f32 / avgdl);
                acc[s] += w * tf / (tf + norm);
            }
        }
        let mut top = TopK::new(query.k);
        let mut best = f32::NEG_INFINITY;
        for &s in &touched {
            let score = acc[s as usize];
            best = best.max(score);
            if score >= query.min_score {
                top.push(score, s);
            }
        }
        let hits = self.hits(top.into_sorted());
        SearchResult::new(hits, touched.len(), denied, best, query.min_score)
    }

    fn hits(&self, ranked: Vec<(f32, u32)>) -> Vec<Hit> {
        ranked
            .into_iter()
            .filter_map(|(score, s)| {
                self.slots[s as usize].as_ref().map(|slot| Hit {
                    chunk: slot.id.clone(),
                    document: slot.document.clone(),
                    score,
                })
            })
            .collect()
    }

    /// Reference scorer for tests and the quality harness: scores every
    /// live chunk the predicate admits, one by one, with the same
    /// collection statistics, and sorts. O(chunks × query terms).
    pub fn brute_force(&self, query: &Query<'_>, admits: impl Fn(&Labels) -> bool) -> Vec<Hit> {
        let terms = self.query_terms(query);
        let avgdl = self.avgdl();
        let Bm25Params { k1, b } = self.params;
        let mut top = TopK::new(query.k);
        for (s, slot) in self.slots.iter().enumerate() {
            let Some(slot) = slot else { continue };
            if !admits(&self.labels[slot.labels as usize]) {
                continue;
            }
            let mut score = 0f32;
            let mut matched = false;
            for &(t, qtf) in &terms {
                if let Ok(i) = slot.terms.binary_search_by_key(&t, |x| x.0) {
                    let tf = slot.terms[i].1 as f32;
                    let w = self.idf(self.postings[t as usize].len()) * qtf as f32;
                    let norm = k1 * (1.0 - b + b * slot.len as f32 / avgdl);
                    score += w * tf / (tf + norm);
                    matched = true;
                }
            }
            if matched && score >= query.min_score {
                top.push(score, s as u32);
            }
        }
        self.hits(top.into_sorted())
    }

    fn key_check(&self) -> u64 {
        self.hash_term("\u{0}rempart-bm25-key-check")
    }

    /// Writes the index to `dir/bm25.idx` (atomically: temp file, fsync,
    /// rename). Deleted chunks and unused terms are not written.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, Error> {
        let mut label_map: HashMap<u32, u32> = HashMap::new();
        let mut labels = Vec::new();
        let mut chunks = Vec::with_capacity(self.live);
        for slot in self.slots.iter().flatten() {
            let l = *label_map.entry(slot.labels).or_insert_with(|| {
                labels.push(self.labels[slot.labels as usize].clone());
                (labels.len() - 1) as u32
            });
            chunks.push(StoredChunk {
                id: slot.id.clone(),
                document: slot.document.clone(),
                labels: l,
                lang: slot.lang,
                len: slot.len,
                terms: {
                    // Sorted by hash: the file does not depend on the order
                    // terms were first seen (so it is the same as if deleted
                    // documents had never been added).
                    let mut t: Vec<(u64, u32)> = slot
                        .terms
                        .iter()
                        .map(|&(t, tf)| (self.term_hashes[t as usize], tf))
                        .collect();
                    t.sort_unstable();
                    t
                },
            });
        }
        let stored = Stored {
            params: self.params,
            default_lang: self.default_lang,
            key_check: self.key_check(),
            labels,
            chunks,
        };
        persist::write(dir, INDEX_FILE, MAGIC, &stored)
    }

    /// Loads `dir/bm25.idx` written by [`save`](Self::save) with the same key.
    pub fn load(dir: &Path, key: TermKey) -> Result<Bm25Index, Error> {
        let (stored, path): (Stored, _) = persist::read(dir, INDEX_FILE, MAGIC)?;
        let corrupt = |reason: String| persist::corrupt(&path, reason);
        let mut index = Bm25Index::new(key, stored.params)
            .map_err(|e| corrupt(format!("stored parameters: {e}")))?
            .with_default_lang(stored.default_lang);
        if index.key_check() != stored.key_check {
            return Err(Error::WrongKey { path });
        }
        for c in stored.chunks {
            let labels = stored
                .labels
                .get(c.labels as usize)
                .cloned()
                .ok_or_else(|| corrupt(format!("chunk {:?}: label index out of range", c.id)))?;
            if index.ids.contains_key(&c.id) {
                return Err(corrupt(format!("duplicate chunk id {:?}", c.id)));
            }
            index.insert(c.id, c.document, labels, c.lang, c.len, c.terms);
        }
        Ok(index)
    }
}

#[cfg(test)]
#[path = "bm25_tests.rs"]
mod tests;
