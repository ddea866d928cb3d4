//! IR metrics with the definitions BEIR uses (via `pytrec_eval`, i.e.
//! trec_eval): nDCG@k with linear gain `rel` and discount `log2(rank + 1)`,
//! the ideal ranking built from every judged relevant document of the
//! query; recall@k = relevant retrieved in the top k / relevant judged.
//! Documents judged 0 count as not relevant.

use std::collections::HashMap;

/// Relevance judgements of one query: document id → grade.
pub type Judgements = HashMap<String, u32>;

/// nDCG@k of a ranking (best first, distinct document ids).
pub fn ndcg_at_k(ranked: &[&str], rels: &Judgements, k: usize) -> f64 {
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, d)| f64::from(*rels.get(*d).unwrap_or(&0)) / ((i + 2) as f64).log2())
        .sum();
    let mut ideal: Vec<u32> = rels.values().copied().filter(|&g| g > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, &g)| f64::from(g) / ((i + 2) as f64).log2())
        .sum();
    if idcg == 0.0 { 0.0 } else { dcg / idcg }
}

/// recall@k of a ranking: relevant documents in the top k / all relevant.
pub fn recall_at_k(ranked: &[&str], rels: &Judgements, k: usize) -> f64 {
    let relevant = rels.values().filter(|&&g| g > 0).count();
    if relevant == 0 {
        return 0.0;
    }
    let found = ranked
        .iter()
        .take(k)
        .filter(|d| rels.get(**d).is_some_and(|&g| g > 0))
        .count();
    found as f64 / relevant as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndcg_and_recall_by_hand() {
        let rels: Judgements = [("d2", 1), ("d3", 2), ("d4", 1), ("d5", 0)]
            .into_iter()
            .map(|(d, g)| (d.to_owned(), g))
            .collect();
        let ranked = ["d1", "d2", "d3", "d5"];
        // DCG@3 = 0/log2(2) + 1/log2(3) + 2/log2(4) = 0.630930 + 1 = 1.630930
        // IDCG@3 = 2/log2(2) + 1/log2(3) + 1/log2(4) = 2 + 0.630930 + 0.5
        let expected = 1.630_929_753_571_457 / 3.130_929_753_571_457;
        assert!((ndcg_at_k(&ranked, &rels, 3) - expected).abs() < 1e-12);
        assert!((ndcg_at_k(&ranked, &rels, 3) - 0.520_909).abs() < 1e-6);
        assert_eq!(ndcg_at_k(&["d3", "d2", "d4"], &rels, 3), 1.0);
        assert_eq!(ndcg_at_k(&["d1"], &rels, 10), 0.0);
        assert!((recall_at_k(&ranked, &rels, 3) - 2.0 / 3.0).abs() < 1e-12);
        assert!((recall_at_k(&ranked, &rels, 1)).abs() < 1e-12);
        assert_eq!(recall_at_k(&ranked, &Judgements::new(), 3), 0.0);
    }
}
