//! The seam for dense (embedding) retrieval, and the exact reference index.
//!
//! An embedding model (e.g. multilingual-e5-small: 384-dim, L2-normalised
//! f32) produces vectors; a [`DenseIndex`] returns the nearest admissible
//! chunks. Implementations must evaluate eligibility while candidates are
//! generated, like [`Bm25Index`](crate::Bm25Index), and report denials.

use std::collections::HashMap;

use crate::bm25::{Hit, SearchResult, TopK};
use crate::error::Error;
use crate::labels::Labels;

/// Dot product with eight independent accumulators, so the compiler can
/// vectorise it (a plain `zip().sum()` is a serial chain of float adds).
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let n = a.len().min(b.len());
    let (ca, cb) = (a[..n].chunks_exact(8), b[..n].chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Nearest-neighbour search with eligibility inside the traversal.
pub trait DenseIndex {
    /// Vector dimension.
    fn dim(&self) -> usize;

    /// The `k` admissible chunks most similar (cosine) to `query`, best
    /// first, with similarity ≥ `min_score`; `denied` counts candidates the
    /// predicate rejected. Errors on a query of the wrong dimension.
    fn search(
        &self,
        query: &[f32],
        k: usize,
        min_score: f32,
        admits: &dyn Fn(&Labels) -> bool,
    ) -> Result<SearchResult, Error>;
}

/// Exact cosine search by scanning every vector: the reference any ANN
/// index is measured against. O(n · dim) per query.
#[derive(Debug, Default)]
pub struct ExactDenseIndex {
    dim: usize,
    vectors: Vec<f32>,
    ids: Vec<String>,
    documents: Vec<String>,
    labels: Vec<u32>,
    label_set: Vec<Labels>,
    label_ids: HashMap<Labels, u32>,
    id_set: std::collections::HashSet<String>,
}

/// `v` scaled to unit length (checked: dimension, finite, non-zero).
pub(crate) fn normalised(id: &str, v: &[f32], dim: usize) -> Result<Vec<f32>, Error> {
    let bad = || Error::BadVector {
        id: id.to_owned(),
        expected: dim,
        got: v.len(),
    };
    if v.len() != dim || v.iter().any(|x| !x.is_finite()) {
        return Err(bad());
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        return Err(bad());
    }
    Ok(v.iter().map(|x| x / norm).collect())
}

impl ExactDenseIndex {
    /// An empty index of vectors of dimension `dim`.
    pub fn new(dim: usize) -> ExactDenseIndex {
        ExactDenseIndex {
            dim,
            ..Default::default()
        }
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds a chunk's vector (normalised on the way in).
    pub fn add(
        &mut self,
        id: &str,
        document: &str,
        vector: &[f32],
        labels: &Labels,
    ) -> Result<(), Error> {
        if !self.id_set.insert(id.to_owned()) {
            return Err(Error::DuplicateChunk { id: id.to_owned() });
        }
        let v = match normalised(id, vector, self.dim) {
            Ok(v) => v,
            Err(e) => {
                self.id_set.remove(id);
                return Err(e);
            }
        };
        let l = crate::labels::intern(&mut self.label_set, &mut self.label_ids, labels);
        self.vectors.extend_from_slice(&v);
        self.ids.push(id.to_owned());
        self.documents.push(document.to_owned());
        self.labels.push(l);
        Ok(())
    }

    /// Removes every vector of `document`; returns how many. Refuses a
    /// document with a vector under legal hold.
    pub fn delete_document(&mut self, document: &str) -> Result<usize, Error> {
        let keep: Vec<bool> = self.documents.iter().map(|d| d != document).collect();
        let removed = keep.iter().filter(|k| !**k).count();
        if removed == 0 {
            return Ok(0);
        }
        if keep
            .iter()
            .zip(&self.labels)
            .any(|(k, l)| !k && self.label_set[*l as usize].legal_hold)
        {
            return Err(Error::LegalHold {
                document: document.to_owned(),
            });
        }
        let dim = self.dim;
        let mut i = 0;
        self.vectors.retain(|_| {
            let k = keep[i / dim];
            i += 1;
            k
        });
        for (id, k) in self.ids.iter().zip(&keep) {
            if !k {
                self.id_set.remove(id);
            }
        }
        let mut it = keep.iter();
        self.ids.retain(|_| *it.next().unwrap_or(&true));
        let mut it = keep.iter();
        self.documents.retain(|_| *it.next().unwrap_or(&true));
        let mut it = keep.iter();
        self.labels.retain(|_| *it.next().unwrap_or(&true));
        Ok(removed)
    }
}

impl DenseIndex for ExactDenseIndex {
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
        let mut label_state = vec![0u8; self.label_set.len()];
        let mut top = TopK::new(k);
        let (mut denied, mut admitted) = (0usize, 0usize);
        let mut best = f32::NEG_INFINITY;
        for (i, v) in self.vectors.chunks_exact(self.dim).enumerate() {
            let l = self.labels[i] as usize;
            if label_state[l] == 0 {
                label_state[l] = if admits(&self.label_set[l]) { 1 } else { 2 };
            }
            if label_state[l] == 2 {
                denied += 1;
                continue;
            }
            admitted += 1;
            let s = dot(v, &q);
            best = best.max(s);
            if s >= min_score {
                top.push(s, i as u32);
            }
        }
        let hits: Vec<Hit> = top
            .into_sorted()
            .into_iter()
            .map(|(score, i)| Hit {
                chunk: self.ids[i as usize].clone(),
                document: self.documents[i as usize].clone(),
                score,
            })
            .collect();
        Ok(SearchResult::new(hits, admitted, denied, best, min_score))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bm25::Refusal;

    #[test]
    fn dot_matches_naive() {
        for n in [0usize, 1, 7, 8, 9, 384, 385] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - naive).abs() < 1e-4, "n = {n}");
        }
    }

    #[test]
    fn exact_search_filters_inside_and_counts_denials() {
        let mut idx = ExactDenseIndex::new(2);
        let a = Labels::tenant("t").with_group("a");
        let b = Labels::tenant("t").with_group("b");
        idx.add("c1", "d1", &[1.0, 0.0], &a).unwrap();
        idx.add("c2", "d2", &[0.9, 0.1], &b).unwrap();
        idx.add("c3", "d3", &[0.0, 1.0], &a).unwrap();
        let only_a = |l: &Labels| l.groups.contains("a");
        let r = idx.search(&[1.0, 0.05], 2, 0.0, &only_a).unwrap();
        let ids: Vec<_> = r.hits.iter().map(|h| h.chunk.as_str()).collect();
        assert_eq!(ids, ["c1", "c3"]);
        assert_eq!((r.denied, r.admitted), (1, 2));
        let r = idx.search(&[1.0, 0.0], 2, 0.5, &only_a).unwrap();
        assert_eq!(r.hits.len(), 1);
        let r = idx
            .search(&[0.0, 1.0], 2, 0.5, &|l: &Labels| l.groups.contains("b"))
            .unwrap();
        assert!(matches!(r.refusal, Some(Refusal::BelowThreshold { .. })));
        assert!(idx.search(&[1.0], 1, 0.0, &only_a).is_err());
        assert!(idx.add("c4", "d4", &[f32::NAN, 1.0], &a).is_err());
        assert!(matches!(
            idx.add("c1", "d1", &[1.0, 0.0], &a),
            Err(Error::DuplicateChunk { .. })
        ));
        assert_eq!(idx.delete_document("d1").unwrap(), 1);
        idx.add("h", "held", &[0.5, 0.5], &a.clone().with_legal_hold(true))
            .unwrap();
        assert!(matches!(
            idx.delete_document("held"),
            Err(Error::LegalHold { .. })
        ));
        let r = idx
            .search(&[1.0, 0.0], 5, -1.0, &|l: &Labels| !l.legal_hold)
            .unwrap();
        let ids: Vec<_> = r.hits.iter().map(|h| h.chunk.as_str()).collect();
        assert_eq!(ids, ["c2", "c3"]);
    }
}
