//! An HNSW index (Malkov & Yashunin, arXiv:1603.09320) over cosine
//! similarity with eligibility inside the graph traversal.
//!
//! Filtered search walks the graph through every node (denied ones route
//! too) but only admitted, live nodes enter the result set, and the walk
//! keeps going until `ef` admitted nodes are held — hnswlib's filter
//! semantics. Like Lucene's filtered kNN it switches to an exact scan of
//! the admitted nodes when that is cheaper: when the number admitted (known
//! exactly from per-label-set counts) is below the expected cost of the
//! walk, ef · 2m / selectivity, or when the walk has visited more nodes
//! than are admitted. So a selective filter never
//! collapses recall; it degrades to the exact answer.
//!
//! Deletion tombstones the node: it still routes, is never returned, and
//! its vector is zeroed at once. [`HnswIndex::save`] writes live nodes only,
//! with links to deleted nodes dropped, so no vector or id of a deleted
//! document reaches the file; [`HnswIndex::rebuild`] re-inserts live nodes
//! when tombstones pile up.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bm25::{Hit, SearchResult, TopK};
use crate::dense::{DenseIndex, normalised};
use crate::error::Error;
use crate::labels::Labels;
use crate::persist;

/// File name of the persisted HNSW index inside its directory.
pub const HNSW_FILE: &str = "hnsw.idx";
const MAGIC: &[u8; 8] = b"RMPHNSW\x01";

/// HNSW parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HnswParams {
    /// Links per node above layer 0 (layer 0 keeps `2 m`).
    pub m: usize,
    /// Beam width while inserting.
    pub ef_construction: usize,
    /// Beam width while searching (at least k).
    pub ef_search: usize,
    /// Seed of the level generator (deterministic builds).
    pub seed: u64,
    /// Scan the admitted nodes exactly when that is cheaper than a filtered
    /// walk (default). `false` always walks the graph: for measuring it.
    pub exact_fallback: bool,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            m: 16,
            ef_construction: 100,
            ef_search: 100,
            seed: 0x5eed,
            exact_fallback: true,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
struct Near(f32, u32);
impl Eq for Near {}
impl Ord for Near {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.total_cmp(&o.0).then(self.1.cmp(&o.1))
    }
}
impl PartialOrd for Near {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// The HNSW index.
#[derive(Debug, Serialize, Deserialize)]
pub struct HnswIndex {
    params: HnswParams,
    dim: usize,
    vectors: Vec<f32>,
    /// node → layer → neighbours.
    links: Vec<Vec<Vec<u32>>>,
    ids: Vec<String>,
    documents: Vec<String>,
    labels: Vec<u32>,
    label_set: Vec<Labels>,
    /// Live nodes per label set.
    label_live: Vec<usize>,
    deleted: Vec<bool>,
    live: usize,
    entry: Option<u32>,
    max_level: usize,
    rng: u64,
    /// Live chunk ids (rebuilt on load).
    #[serde(skip)]
    live_ids: std::collections::HashSet<String>,
}

impl HnswIndex {
    /// An empty index of `dim`-dimensional vectors.
    pub fn new(dim: usize, params: HnswParams) -> Result<HnswIndex, Error> {
        if params.m < 2 {
            return Err(Error::InvalidParam {
                name: "m",
                reason: format!("must be >= 2, got {}", params.m),
            });
        }
        if params.ef_construction < params.m || params.ef_search == 0 {
            return Err(Error::InvalidParam {
                name: "ef",
                reason: "ef_construction must be >= m and ef_search > 0".into(),
            });
        }
        Ok(HnswIndex {
            params,
            dim,
            vectors: Vec::new(),
            links: Vec::new(),
            ids: Vec::new(),
            documents: Vec::new(),
            labels: Vec::new(),
            label_set: Vec::new(),
            label_live: Vec::new(),
            deleted: Vec::new(),
            live: 0,
            entry: None,
            max_level: 0,
            rng: params.seed | 1,
            live_ids: Default::default(),
        })
    }

    /// Live vectors.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether there is no live vector.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    fn vec(&self, i: u32) -> &[f32] {
        let s = i as usize * self.dim;
        &self.vectors[s..s + self.dim]
    }

    fn dist(&self, q: &[f32], i: u32) -> f32 {
        1.0 - crate::dense::dot(self.vec(i), q)
    }

    fn random_level(&mut self) -> usize {
        // xorshift64*; deterministic for a given seed.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let u = ((r >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let ml = 1.0 / (self.params.m as f64).ln();
        ((-u.ln() * ml) as usize).min(16)
    }

    fn m_max(&self, level: usize) -> usize {
        if level == 0 {
            self.params.m * 2
        } else {
            self.params.m
        }
    }

    /// Beam search on one layer. Nodes for which `accept` is false route
    /// but do not enter the result. Returns (results ascending by distance,
    /// visited count), or `None` when more than `budget` nodes were visited.
    fn search_layer(
        &self,
        q: &[f32],
        entry: &[u32],
        ef: usize,
        level: usize,
        accept: &mut dyn FnMut(u32) -> bool,
        budget: usize,
    ) -> Option<(Vec<Near>, usize)> {
        let mut visited = std::collections::HashSet::with_capacity(ef * 8);
        let mut cand: BinaryHeap<Reverse<Near>> = BinaryHeap::new();
        let mut res: BinaryHeap<Near> = BinaryHeap::new();
        for &e in entry {
            if visited.insert(e) {
                let d = self.dist(q, e);
                cand.push(Reverse(Near(d, e)));
                if accept(e) {
                    res.push(Near(d, e));
                }
            }
        }
        while let Some(Reverse(c)) = cand.pop() {
            if res.len() >= ef && res.peek().is_some_and(|w| c.0 > w.0) {
                break;
            }
            let Some(neigh) = self.links[c.1 as usize].get(level) else {
                continue;
            };
            for &e in neigh {
                if !visited.insert(e) {
                    continue;
                }
                if visited.len() > budget {
                    return None;
                }
                let d = self.dist(q, e);
                if res.len() < ef || res.peek().is_some_and(|w| d < w.0) {
                    cand.push(Reverse(Near(d, e)));
                    if accept(e) {
                        res.push(Near(d, e));
                        if res.len() > ef {
                            res.pop();
                        }
                    }
                }
            }
        }
        let n = visited.len();
        Some((res.into_sorted_vec(), n))
    }

    /// Malkov & Yashunin's Algorithm 4 (no extension, no kept pruned links).
    fn select(&self, base: &[f32], cands: &[Near], m: usize) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::with_capacity(m);
        for &Near(d, c) in cands {
            if out.len() >= m {
                break;
            }
            let cv = self.vec(c);
            if out.iter().all(|&r| self.dist(cv, r) > d) {
                out.push(c);
            }
        }
        let _ = base;
        out
    }

    /// Adds a chunk's vector (normalised on the way in).
    pub fn add(
        &mut self,
        id: &str,
        document: &str,
        vector: &[f32],
        labels: &Labels,
    ) -> Result<(), Error> {
        if self.live_ids.contains(id) {
            return Err(Error::DuplicateChunk { id: id.to_owned() });
        }
        let v = normalised(id, vector, self.dim)?;
        let l = match self.label_set.iter().position(|x| x == labels) {
            Some(l) => l,
            None => {
                self.label_set.push(labels.clone());
                self.label_live.push(0);
                self.label_set.len() - 1
            }
        };
        self.insert(id.to_owned(), document.to_owned(), &v, l as u32);
        Ok(())
    }

    fn insert(&mut self, id: String, document: String, v: &[f32], label: u32) {
        let node = self.ids.len() as u32;
        let level = self.random_level();
        self.live_ids.insert(id.clone());
        self.vectors.extend_from_slice(v);
        self.links.push(vec![Vec::new(); level + 1]);
        self.ids.push(id);
        self.documents.push(document);
        self.labels.push(label);
        self.label_live[label as usize] += 1;
        self.deleted.push(false);
        self.live += 1;
        let Some(mut ep) = self.entry else {
            self.entry = Some(node);
            self.max_level = level;
            return;
        };
        let all = &mut |_: u32| true;
        for l in (level + 1..=self.max_level).rev() {
            if let Some((r, _)) = self.search_layer(v, &[ep], 1, l, all, usize::MAX) {
                ep = r[0].1;
            }
        }
        let mut eps = vec![ep];
        for l in (0..=level.min(self.max_level)).rev() {
            let Some((w, _)) =
                self.search_layer(v, &eps, self.params.ef_construction, l, all, usize::MAX)
            else {
                break;
            };
            let neigh = self.select(v, &w, self.params.m);
            for &n in &neigh {
                self.links[n as usize][l].push(node);
                if self.links[n as usize][l].len() > self.m_max(l) {
                    let nv = self.vec(n).to_vec();
                    let mut c: Vec<Near> = self.links[n as usize][l]
                        .iter()
                        .map(|&x| Near(self.dist(&nv, x), x))
                        .collect();
                    c.sort();
                    self.links[n as usize][l] = self.select(&nv, &c, self.m_max(l));
                }
            }
            self.links[node as usize][l] = neigh;
            eps = w.iter().map(|n| n.1).collect();
        }
        if level > self.max_level {
            self.max_level = level;
            self.entry = Some(node);
        }
    }

    /// Tombstones every vector of `document` and zeroes its values; returns
    /// how many. Refuses a document with a vector under legal hold.
    pub fn delete_document(&mut self, document: &str) -> Result<usize, Error> {
        let held = (0..self.ids.len()).any(|i| {
            !self.deleted[i]
                && self.documents[i] == document
                && self.label_set[self.labels[i] as usize].legal_hold
        });
        if held {
            return Err(Error::LegalHold {
                document: document.to_owned(),
            });
        }
        let mut n = 0;
        for i in 0..self.ids.len() {
            if !self.deleted[i] && self.documents[i] == document {
                self.deleted[i] = true;
                self.label_live[self.labels[i] as usize] -= 1;
                self.live -= 1;
                self.live_ids.remove(&self.ids[i]);
                n += 1;
                // Keep routing through it by its links, but drop its vector:
                // distance to it becomes 1 (orthogonal).
                let s = i * self.dim;
                self.vectors[s..s + self.dim].fill(0.0);
                self.ids[i].clear();
                self.documents[i].clear();
            }
        }
        Ok(n)
    }

    /// Rebuilds the graph from live nodes (after many deletions).
    pub fn rebuild(&mut self) {
        let mut fresh = HnswIndex::new(self.dim, self.params).expect("params were validated");
        fresh.label_set = self.label_set.clone();
        fresh.label_live = vec![0; self.label_set.len()];
        for i in 0..self.ids.len() {
            if !self.deleted[i] {
                let v = self.vec(i as u32).to_vec();
                fresh.insert(
                    std::mem::take(&mut self.ids[i]),
                    std::mem::take(&mut self.documents[i]),
                    &v,
                    self.labels[i],
                );
            }
        }
        *self = fresh;
    }

    fn exact(
        &self,
        q: &[f32],
        k: usize,
        min_score: f32,
        admitted: &[bool],
    ) -> (Vec<(f32, u32)>, usize, f32) {
        let mut top = TopK::new(k);
        let mut best = f32::NEG_INFINITY;
        let mut n = 0;
        for i in 0..self.ids.len() {
            if self.deleted[i] || !admitted[self.labels[i] as usize] {
                continue;
            }
            n += 1;
            let s = 1.0 - self.dist(q, i as u32);
            best = best.max(s);
            if s >= min_score {
                top.push(s, i as u32);
            }
        }
        (top.into_sorted(), n, best)
    }

    /// Writes live nodes to `dir/hnsw.idx` (atomically). Links to deleted
    /// nodes are dropped and nodes renumbered.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, Error> {
        let mut remap = vec![u32::MAX; self.ids.len()];
        let mut next = 0u32;
        for (i, d) in self.deleted.iter().enumerate() {
            if !d {
                remap[i] = next;
                next += 1;
            }
        }
        let mut out = HnswIndex::new(self.dim, self.params).expect("params were validated");
        out.label_set = self.label_set.clone();
        out.label_live = self.label_live.clone();
        out.rng = self.rng;
        out.live = self.live;
        for i in 0..self.ids.len() {
            if self.deleted[i] {
                continue;
            }
            out.vectors.extend_from_slice(self.vec(i as u32));
            out.links.push(
                self.links[i]
                    .iter()
                    .map(|l| {
                        l.iter()
                            .filter_map(|&n| Some(remap[n as usize]).filter(|&r| r != u32::MAX))
                            .collect()
                    })
                    .collect(),
            );
            out.ids.push(self.ids[i].clone());
            out.documents.push(self.documents[i].clone());
            out.labels.push(self.labels[i]);
            out.deleted.push(false);
        }
        // Entry point: the old one if live, else the live node of highest level.
        out.entry = self
            .entry
            .map(|e| remap[e as usize])
            .filter(|&e| e != u32::MAX)
            .or_else(|| {
                (0..out.links.len())
                    .max_by_key(|&i| out.links[i].len())
                    .map(|i| i as u32)
            });
        out.max_level = out
            .entry
            .map(|e| out.links[e as usize].len() - 1)
            .unwrap_or(0);
        persist::write(dir, HNSW_FILE, MAGIC, &out)
    }

    /// Loads `dir/hnsw.idx` written by [`save`](Self::save).
    pub fn load(dir: &Path) -> Result<HnswIndex, Error> {
        let (mut idx, path): (HnswIndex, _) = persist::read(dir, HNSW_FILE, MAGIC)?;
        let corrupt = |reason: String| persist::corrupt(&path, reason);
        let n = idx.ids.len();
        let consistent = idx.vectors.len() == n * idx.dim
            && idx.links.len() == n
            && idx.documents.len() == n
            && idx.labels.len() == n
            && idx.deleted.len() == n
            && idx
                .labels
                .iter()
                .all(|&l| (l as usize) < idx.label_set.len())
            && idx.label_live.len() == idx.label_set.len()
            && idx
                .links
                .iter()
                .flatten()
                .flatten()
                .all(|&x| (x as usize) < n)
            && idx.entry.is_none_or(|e| (e as usize) < n);
        if !consistent {
            return Err(corrupt("inconsistent sizes or links".into()));
        }
        for (i, id) in idx.ids.iter().enumerate() {
            if !idx.deleted[i] && !idx.live_ids.insert(id.clone()) {
                return Err(corrupt(format!("duplicate chunk id {id:?}")));
            }
        }
        Ok(idx)
    }
}

impl DenseIndex for HnswIndex {
    fn dim(&self) -> usize {
        self.dim
    }

    fn search(
        &self,
        query: &[f32],
        k: usize,
        min_score: f32,
        admits: &dyn Fn(&Labels) -> bool,
    ) -> Result<SearchResult, Error> {
        let q = normalised("query", query, self.dim)?;
        // One predicate call per label set; exact count of admitted nodes.
        let admitted: Vec<bool> = self.label_set.iter().map(admits).collect();
        let eligible: usize = self
            .label_live
            .iter()
            .zip(&admitted)
            .filter(|(_, a)| **a)
            .map(|(n, _)| n)
            .sum();
        let ef = self.params.ef_search.max(k);
        let finish = |ranked: Vec<(f32, u32)>, admitted_n: usize, denied: usize, best: f32| {
            let hits: Vec<Hit> = ranked
                .into_iter()
                .map(|(score, i)| Hit {
                    chunk: self.ids[i as usize].clone(),
                    document: self.documents[i as usize].clone(),
                    score,
                })
                .collect();
            SearchResult::new(hits, admitted_n, denied, best, min_score)
        };
        let exact = || {
            let (r, n, best) = self.exact(&q, k, min_score, &admitted);
            finish(r, n, self.live - eligible, best)
        };
        let Some(mut ep) = self.entry else {
            return Ok(finish(Vec::new(), 0, 0, f32::NEG_INFINITY));
        };
        // A filtered walk visits about ef · 2m / selectivity nodes (one
        // distance each); scanning the admitted nodes costs `eligible`
        // distances. Take the cheaper (Lucene makes the same call).
        let selectivity = eligible as f64 / self.live.max(1) as f64;
        let walk = (ef * self.m_max(0)) as f64 / selectivity.max(1e-9);
        let fallback = self.params.exact_fallback;
        if eligible == 0 || (fallback && (eligible <= ef || eligible as f64 <= walk)) {
            return Ok(exact());
        }
        let all = &mut |_: u32| true;
        for l in (1..=self.max_level).rev() {
            if let Some((r, _)) = self.search_layer(&q, &[ep], 1, l, all, usize::MAX)
                && let Some(n) = r.first()
            {
                ep = n.1;
            }
        }
        let mut denied = 0usize;
        let mut accept = |i: u32| {
            let i = i as usize;
            if self.deleted[i] {
                return false;
            }
            let ok = admitted[self.labels[i] as usize];
            denied += usize::from(!ok);
            ok
        };
        // Walking more nodes than are admitted costs more than scanning them.
        let budget = if fallback { eligible } else { usize::MAX };
        let Some((found, _)) = self.search_layer(&q, &[ep], ef, 0, &mut accept, budget) else {
            return Ok(exact());
        };
        let n = found.len();
        let best = found.first().map_or(f32::NEG_INFINITY, |f| 1.0 - f.0);
        let ranked: Vec<(f32, u32)> = found
            .into_iter()
            .map(|Near(d, i)| (1.0 - d, i))
            .filter(|(s, _)| *s >= min_score)
            .take(k)
            .collect();
        Ok(finish(ranked, n, denied, best))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bm25::Refusal;
    use crate::dense::ExactDenseIndex;

    /// Clustered random vectors (deterministic).
    fn data(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut s = seed;
        let mut r = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        let centres: Vec<Vec<f32>> = (0..20).map(|_| (0..dim).map(|_| r()).collect()).collect();
        (0..n)
            .map(|i| centres[i % 20].iter().map(|c| c + 0.35 * r()).collect())
            .collect()
    }

    fn label(i: usize) -> Labels {
        Labels::tenant("t").with_group(format!("g{}", i % 100))
    }

    #[test]
    fn filtered_recall_matches_exact_and_never_leaks() {
        let dim = 16;
        let vs = data(1200, dim, 7);
        // Smaller than the defaults to keep the debug-build test quick.
        let params = HnswParams {
            m: 8,
            ef_construction: 64,
            ef_search: 50,
            ..Default::default()
        };
        let mut h = HnswIndex::new(dim, params).unwrap();
        let mut walk = HnswIndex::new(
            dim,
            HnswParams {
                exact_fallback: false,
                ..params
            },
        )
        .unwrap();
        let mut e = ExactDenseIndex::new(dim);
        for (i, v) in vs.iter().enumerate() {
            let id = format!("c{i}");
            h.add(&id, &id, v, &label(i)).unwrap();
            walk.add(&id, &id, v, &label(i)).unwrap();
            e.add(&id, &id, v, &label(i)).unwrap();
        }
        let queries = data(30, dim, 99);
        for (h, pct) in [100usize, 50, 10, 1]
            .into_iter()
            .flat_map(|p| [(&h, p), (&walk, p)])
        {
            let admits = |l: &Labels| {
                l.groups
                    .iter()
                    .any(|g| g[1..].parse::<usize>().unwrap() < pct)
            };
            let (mut found, mut total) = (0usize, 0usize);
            for q in &queries {
                let a = h.search(q, 10, -1.0, &admits).unwrap();
                let b = e.search(q, 10, -1.0, &admits).unwrap();
                for hit in &a.hits {
                    let i: usize = hit.chunk[1..].parse().unwrap();
                    assert!(
                        i % 100 < pct,
                        "ineligible {} returned at {pct} %",
                        hit.chunk
                    );
                }
                assert_eq!(a.hits.len(), 10);
                let truth: std::collections::HashSet<_> =
                    b.hits.iter().map(|x| x.chunk.clone()).collect();
                found += a.hits.iter().filter(|x| truth.contains(&x.chunk)).count();
                total += truth.len();
            }
            let recall = found as f64 / total as f64;
            let mode = h.params.exact_fallback;
            assert!(
                recall >= 0.95,
                "recall@10 {recall} at {pct} %, fallback {mode}"
            );
        }
    }

    #[test]
    fn delete_save_load() {
        let dim = 8;
        let vs = data(300, dim, 3);
        let mut h = HnswIndex::new(dim, HnswParams::default()).unwrap();
        for (i, v) in vs.iter().enumerate() {
            h.add(&format!("c{i}"), &format!("doc{}", i / 3), v, &label(i))
                .unwrap();
        }
        let all = |_: &Labels| true;
        let target = h.search(&vs[30], 1, -1.0, &all).unwrap();
        assert_eq!(target.hits[0].document, "doc10");
        assert_eq!(h.delete_document("doc10").unwrap(), 3);
        assert_eq!(h.len(), 297);
        let r = h.search(&vs[30], 20, -1.0, &all).unwrap();
        assert!(r.hits.iter().all(|x| x.document != "doc10"));
        assert_eq!(r.hits.len(), 20);

        let dir = tempfile::tempdir().unwrap();
        let path = h.save(dir.path()).unwrap();
        let bytes = std::fs::read(path).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("doc10"));
        // Neither the raw nor the normalised vector of a deleted chunk.
        let norm = normalised("x", &vs[31], dim).unwrap();
        for v in [&vs[31], &norm] {
            let pat: Vec<u8> = v[..2].iter().flat_map(|x| x.to_le_bytes()).collect();
            assert!(!bytes.windows(pat.len()).any(|w| w == pat.as_slice()));
        }
        let loaded = HnswIndex::load(dir.path()).unwrap();
        assert_eq!(loaded.len(), 297);
        for q in &vs[..20] {
            let a = loaded.search(q, 5, -1.0, &all).unwrap();
            assert!(a.hits.iter().all(|x| x.document != "doc10"));
            assert_eq!(a.hits.len(), 5);
        }
        h.rebuild();
        assert_eq!(h.len(), 297);
        assert_eq!(h.search(&vs[0], 1, -1.0, &all).unwrap().hits[0].chunk, "c0");
        std::fs::write(dir.path().join(HNSW_FILE), b"garbage").unwrap();
        assert!(matches!(
            HnswIndex::load(dir.path()),
            Err(Error::Corrupt { .. })
        ));
    }

    #[test]
    fn refusals_and_bad_input() {
        let mut h = HnswIndex::new(4, HnswParams::default()).unwrap();
        let none = |_: &Labels| false;
        assert_eq!(
            h.search(&[1.0, 0.0, 0.0, 0.0], 3, 0.0, &none)
                .unwrap()
                .refusal,
            Some(Refusal::NoAdmissibleCandidate)
        );
        h.add("a", "d", &[1.0, 0.0, 0.0, 0.0], &label(0)).unwrap();
        let r = h.search(&[1.0, 0.0, 0.0, 0.0], 3, 0.0, &none).unwrap();
        assert_eq!(
            (r.refusal, r.denied),
            (Some(Refusal::NoAdmissibleCandidate), 1)
        );
        let all = |_: &Labels| true;
        let r = h.search(&[0.0, 1.0, 0.0, 0.0], 3, 0.5, &all).unwrap();
        assert!(matches!(r.refusal, Some(Refusal::BelowThreshold { .. })));
        assert!(h.search(&[1.0], 1, 0.0, &all).is_err());
        assert!(h.add("b", "d", &[0.0; 4], &label(0)).is_err());
        assert!(matches!(
            h.add("a", "d", &[0.0, 1.0, 0.0, 0.0], &label(0)),
            Err(Error::DuplicateChunk { .. })
        ));
        assert_eq!(h.delete_document("d").unwrap(), 1);
        h.add(
            "held",
            "h",
            &[0.0, 0.0, 1.0, 0.0],
            &label(0).with_legal_hold(true),
        )
        .unwrap();
        assert!(matches!(
            h.delete_document("h"),
            Err(Error::LegalHold { .. })
        ));
        h.add("a", "d", &[0.0, 1.0, 0.0, 0.0], &label(0)).unwrap();
        assert!(
            HnswIndex::new(
                4,
                HnswParams {
                    m: 1,
                    ..Default::default()
                }
            )
            .is_err()
        );
    }
}
