//! Retrieval quality on a BEIR dataset: nDCG@10, recall@10 (and MRR@10) with
//! exact cosine search over the whole corpus.
//!
//! ```sh
//! export REMPART_E5_MODEL="$(scripts/fetch-e5.sh)"
//! cargo run --release -p rempart-embed --example beir -- \
//!     /work/shared/datasets/xquad/beir-de [--threads 2] [--max-queries N]
//! ```
//!
//! Reads `corpus.jsonl`, `queries.jsonl` and `qrels/test.tsv` at run time.
//! Passages are embedded as `passage: {title} {text}`, queries as `query: {text}`.
//! `--max-queries N` evaluates an evenly spaced sample of N of the judged queries
//! (sorted by id), to bound the run time on large query sets; the output says so.
//! `--max-docs N` keeps only the first N corpus passages and the queries whose
//! relevant passages are all among them: a smaller (easier) task, for a quick
//! number on a slow machine; the output says so.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use rempart_embed::{E5Model, InputKind};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .expect("usage: beir DATASET_DIR [--threads N] [--max-queries N]"),
    );
    let (mut threads, mut max_queries, mut max_docs) = (2usize, usize::MAX, usize::MAX);
    while let Some(a) = args.next() {
        let v: usize = args.next().and_then(|v| v.parse().ok()).expect("a number");
        match a.as_str() {
            "--threads" => threads = v,
            "--max-queries" => max_queries = v,
            "--max-docs" => max_docs = v,
            _ => panic!("unknown option {a}"),
        }
    }
    let model = E5Model::load(std::env::var_os("REMPART_E5_MODEL").expect("set REMPART_E5_MODEL"))
        .expect("load model")
        .with_threads(threads);

    let mut corpus = common::read_jsonl(&dir.join("corpus.jsonl"));
    let full_corpus = corpus.len();
    corpus.truncate(max_docs);
    let queries = common::read_jsonl(&dir.join("queries.jsonl"));
    let mut qrels = common::read_qrels(&dir.join("qrels/test.tsv"));
    if corpus.len() < full_corpus {
        let kept: std::collections::HashSet<&str> = corpus.iter().map(|d| d.id.as_str()).collect();
        qrels.retain(|_, rel| rel.keys().all(|d| kept.contains(d.as_str())));
    }
    let mut judged: Vec<&common::Doc> = queries
        .iter()
        .filter(|q| qrels.contains_key(&q.id))
        .collect();
    judged.sort_by(|a, b| a.id.cmp(&b.id));
    let total_judged = judged.len();
    if judged.len() > max_queries {
        let step = judged.len() as f64 / max_queries as f64;
        judged = (0..max_queries)
            .map(|i| judged[(i as f64 * step) as usize])
            .collect();
    }

    let passages: Vec<String> = corpus.iter().map(common::Doc::passage).collect();
    let lens: Vec<usize> = passages
        .iter()
        .map(|p| model.tokenize(p, InputKind::Passage).len())
        .collect();
    let truncated = lens.iter().filter(|&&l| l == model.max_tokens()).count();
    let t = Instant::now();
    let refs: Vec<&str> = passages.iter().map(String::as_str).collect();
    let docs = model.embed(&refs, InputKind::Passage);
    let t_docs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let qtexts: Vec<&str> = judged.iter().map(|q| q.text.as_str()).collect();
    let qvecs = model.embed(&qtexts, InputKind::Query);
    let t_queries = t.elapsed().as_secs_f64();

    let id_of: Vec<&str> = corpus.iter().map(|d| d.id.as_str()).collect();
    let (mut ndcg, mut recall, mut mrr) = (0f64, 0f64, 0f64);
    for (q, qv) in judged.iter().zip(&qvecs) {
        let rel: &HashMap<String, u32> = &qrels[&q.id];
        let mut scored: Vec<(f32, usize)> = docs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.iter().zip(qv).map(|(a, b)| a * b).sum::<f32>(), i))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let top: Vec<&str> = scored.iter().take(10).map(|&(_, i)| id_of[i]).collect();
        let gain = |r: u32| f64::from(r);
        let dcg: f64 = top
            .iter()
            .enumerate()
            .map(|(k, d)| gain(*rel.get(*d).unwrap_or(&0)) / (k as f64 + 2.0).log2())
            .sum();
        let mut ideal: Vec<u32> = rel.values().copied().collect();
        ideal.sort_unstable_by(|a, b| b.cmp(a));
        let idcg: f64 = ideal
            .iter()
            .take(10)
            .enumerate()
            .map(|(k, &r)| gain(r) / (k as f64 + 2.0).log2())
            .sum();
        ndcg += dcg / idcg;
        recall += top.iter().filter(|d| rel.contains_key(**d)).count() as f64 / rel.len() as f64;
        mrr += top
            .iter()
            .position(|d| rel.contains_key(*d))
            .map_or(0.0, |k| 1.0 / (k as f64 + 1.0));
    }
    let n = judged.len() as f64;
    println!("dataset: {}", dir.display());
    println!(
        "corpus: {} passages (of {full_corpus}), {:.0} tokens on average, {truncated} truncated at {} tokens; embedded in {t_docs:.0} s ({threads} threads)",
        corpus.len(),
        lens.iter().sum::<usize>() as f64 / lens.len() as f64,
        model.max_tokens()
    );
    println!(
        "queries: {} evaluated of {total_judged} judged; embedded in {t_queries:.0} s",
        judged.len()
    );
    println!(
        "nDCG@10 {:.4}  recall@10 {:.4}  MRR@10 {:.4}",
        ndcg / n,
        recall / n,
        mrr / n
    );
}
