//! Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009).

use std::collections::HashMap;

use crate::bm25::Hit;

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

#[cfg(test)]
mod tests {
    use super::*;

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
