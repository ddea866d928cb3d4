//! Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009).

use std::collections::HashMap;

use crate::bm25::{Bm25Index, Hit, Query, Refusal};
use crate::dense::DenseIndex;
use crate::error::Error;
use crate::labels::Principal;

/// The constant of the RRF paper.
pub const RRF_K: f32 = 60.0;

/// Fuses ranked lists: score(d) = Σ over lists of 1 / (k + rank), rank
/// 1-based. Each list must already be eligibility-filtered (fusion adds no
/// chunk that no list returned). Ties: earlier best rank, then chunk id.
pub fn rrf(lists: &[&[Hit]], k: f32, limit: usize) -> Vec<Hit> {
    let mut fused: HashMap<&str, (f32, usize, &Hit)> = HashMap::new();
    for list in lists {
        for (r, hit) in list.iter().enumerate() {
            let e = fused.entry(hit.chunk.as_str()).or_insert((0.0, r, hit));
            e.0 += 1.0 / (k + (r + 1) as f32);
            e.1 = e.1.min(r);
        }
    }
    let mut v: Vec<(f32, usize, &Hit)> = fused.into_values().collect();
    v.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(a.1.cmp(&b.1))
            .then_with(|| a.2.chunk.cmp(&b.2.chunk))
    });
    v.into_iter()
        .take(limit)
        .map(|(score, _, h)| Hit {
            chunk: h.chunk.clone(),
            document: h.document.clone(),
            score,
        })
        .collect()
}

/// A hybrid query: the same question as text (BM25) and as a vector.
#[derive(Debug, Clone, Copy)]
pub struct HybridQuery<'a> {
    /// Lexical side; its `k` is the depth of each list before fusion and
    /// its `min_score` the BM25 evidence threshold.
    pub lexical: Query<'a>,
    /// The query embedding.
    pub vector: &'a [f32],
    /// Cosine evidence threshold for the dense side.
    pub min_cosine: f32,
    /// Hits after fusion.
    pub k: usize,
}

/// Fused hits, or a refusal when neither side found admissible evidence
/// above its threshold; denials per side for the audit record.
#[derive(Debug, Clone, PartialEq)]
pub struct HybridResult {
    /// RRF-fused admissible hits, best first.
    pub hits: Vec<Hit>,
    /// Set when both sides refused (the lexical side's reason).
    pub refusal: Option<Refusal>,
    /// Candidates the predicate denied in the BM25 traversal.
    pub denied_lexical: usize,
    /// Candidates the predicate denied in the dense search.
    pub denied_dense: usize,
}

/// BM25 and dense search, each with eligibility inside, fused by RRF.
pub fn hybrid(
    lexical: &Bm25Index,
    dense: &dyn DenseIndex,
    query: &HybridQuery<'_>,
    principal: &Principal,
) -> Result<HybridResult, Error> {
    let l = lexical.search(&query.lexical, principal);
    let d = dense.search(query.vector, query.lexical.k, query.min_cosine, &|labels| {
        principal.admits(labels)
    })?;
    let hits = rrf(&[&l.hits, &d.hits], RRF_K, query.k);
    Ok(HybridResult {
        refusal: if hits.is_empty() { l.refusal } else { None },
        hits,
        denied_lexical: l.denied,
        denied_dense: d.denied,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Lang;
    use crate::bm25::{Bm25Params, NewChunk, TermKey};
    use crate::dense::ExactDenseIndex;
    use crate::labels::Labels;

    #[test]
    fn hybrid_fuses_eligible_lists_only() {
        let mut bm = Bm25Index::new(TermKey::new([1; 16]), Bm25Params::default()).unwrap();
        let mut dn = ExactDenseIndex::new(2);
        let hr = Labels::tenant("t").with_group("hr");
        let open = Labels::tenant("t");
        for (id, text, v, l) in [
            ("a", "salary review process", [1.0, 0.0], &hr),
            ("b", "salary bands", [0.9, 0.1], &open),
            ("c", "parking rules", [0.8, 0.2], &open),
        ] {
            bm.add(NewChunk {
                id,
                document: id,
                text,
                lang: Some(Lang::En),
                labels: l,
            })
            .unwrap();
            dn.add(id, id, &v, l).unwrap();
        }
        let q = HybridQuery {
            lexical: Query {
                text: "salary",
                lang: Some(Lang::En),
                k: 10,
                min_score: 0.0,
            },
            vector: &[1.0, 0.0],
            min_cosine: 0.0,
            k: 10,
        };
        let r = hybrid(&bm, &dn, &q, &Principal::new("t")).unwrap();
        let ids: Vec<_> = r.hits.iter().map(|h| h.chunk.as_str()).collect();
        // b: lexical #1 + dense #1; c: dense #2 only.
        assert_eq!(ids, ["b", "c"]);
        assert_eq!((r.denied_lexical, r.denied_dense), (1, 1));
        let r = hybrid(&bm, &dn, &q, &Principal::new("other")).unwrap();
        assert!(r.hits.is_empty());
        assert_eq!(r.refusal, Some(Refusal::NoAdmissibleCandidate));
    }

    fn hits(ids: &[&str]) -> Vec<Hit> {
        ids.iter()
            .map(|i| Hit {
                chunk: (*i).into(),
                document: (*i).into(),
                score: 0.0,
            })
            .collect()
    }

    #[test]
    fn rrf_by_hand() {
        let a = hits(&["x", "y", "z"]);
        let b = hits(&["y", "w"]);
        let f = rrf(&[&a, &b], RRF_K, 10);
        let ids: Vec<_> = f.iter().map(|h| h.chunk.as_str()).collect();
        // y: 1/62 + 1/61; x: 1/61; w: 1/62; z: 1/63.
        assert_eq!(ids, ["y", "x", "w", "z"]);
        assert!((f[0].score - (1.0 / 62.0 + 1.0 / 61.0)).abs() < 1e-7);
        assert_eq!(rrf(&[&a, &b], RRF_K, 2).len(), 2);
    }
}
