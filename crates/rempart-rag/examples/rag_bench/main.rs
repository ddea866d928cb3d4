//! Retrieval quality, permission suite and speed of `rempart-rag`'s BM25,
//! dense (multilingual-e5-small, exact cosine) and hybrid (RRF) retrieval.
//!
//! Reads BEIR-layout data sets at run time (never copied into the repo):
//!
//! ```text
//! export REMPART_E5_MODEL="$(scripts/fetch-e5.sh)"
//! cargo run --release -p rempart-rag --example rag_bench -- DATASETS_DIR \
//!     [--cache DIR] [--threads N] [--no-dense] [--skip-100k] [--only scifact,piaf,xquad]
//! ```
//!
//! `DATASETS_DIR` (or `REMPART_DATASETS`) holds `beir-scifact/`,
//! `piaf-fr/beir-piaf-v1.1/` and `xquad/beir-de/`. Prints Markdown tables.
//! The dense and hybrid parts embed every corpus document and query with the
//! model at `REMPART_E5_MODEL` (`--threads`, default 2), caching the vectors
//! under `--cache DIR` when given (see `embed_cache.rs`); `--no-dense` skips
//! them.

mod embed_cache;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rempart_embed::InputKind;
use rempart_rag::eval::{Judgements, ndcg_at_k, recall_at_k};
use rempart_rag::{
    Bm25Index, Bm25Params, ChunkerConfig, DenseIndex, ExactDenseIndex, Hit, HybridQuery, Labels,
    Lang, NewChunk, Principal, Query, RRF_K, TermKey, chunk, guess_lang, hybrid, parse_plain,
};
use serde_json::Value;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

struct Dataset {
    name: &'static str,
    dir: PathBuf,
    expected_lang: Lang,
    docs: Vec<(String, String)>,
    /// The queries judged in `qrels/test.tsv`.
    queries: Vec<(String, String)>,
    qrels: HashMap<String, Judgements>,
    /// Every query of `queries.jsonl`, in file order (what gets embedded).
    all_queries: Vec<(String, String)>,
}

fn read_jsonl(path: &Path) -> Res<Vec<Value>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(n, l)| {
            serde_json::from_str(l)
                .map_err(|e| format!("{}:{}: bad JSON: {e}", path.display(), n + 1).into())
        })
        .collect()
}

fn load(dir: &Path, name: &'static str, expected_lang: Lang) -> Res<Dataset> {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    // BEIR's BM25 indexes title and text; we index them as one field.
    let docs = read_jsonl(&dir.join("corpus.jsonl"))?
        .iter()
        .map(|d| {
            let title = s(d, "title");
            let text = s(d, "text");
            let body = if title.is_empty() {
                text
            } else {
                format!("{title} {text}")
            };
            (s(d, "_id"), body)
        })
        .collect();
    let qrels = read_qrels(&dir.join("qrels/test.tsv"))?;
    let all_queries: Vec<(String, String)> = read_jsonl(&dir.join("queries.jsonl"))?
        .iter()
        .map(|q| (s(q, "_id"), s(q, "text")))
        .collect();
    let queries = all_queries
        .iter()
        .filter(|(id, _)| qrels.contains_key(id))
        .cloned()
        .collect();
    Ok(Dataset {
        name,
        dir: dir.to_owned(),
        expected_lang,
        docs,
        queries,
        qrels,
        all_queries,
    })
}

/// A BEIR qrels file: query id → judgements.
fn read_qrels(tsv: &Path) -> Res<HashMap<String, Judgements>> {
    let mut qrels: HashMap<String, Judgements> = HashMap::new();
    let text =
        std::fs::read_to_string(tsv).map_err(|e| format!("cannot read {}: {e}", tsv.display()))?;
    for (n, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let [q, d, g] = f[..] else {
            return Err(format!("{}:{}: expected 3 columns", tsv.display(), n + 1).into());
        };
        qrels
            .entry(q.to_owned())
            .or_default()
            .insert(d.to_owned(), g.trim().parse()?);
    }
    Ok(qrels)
}

fn key() -> TermKey {
    TermKey::new(*b"rempart-bench-k1")
}

fn thread_cpu() -> f64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Builds an index of `docs` (one chunk per document), language guessed.
fn build(docs: &[(String, String)], labels: impl Fn(&str) -> Labels) -> Res<(Bm25Index, f64, f64)> {
    let mut idx = Bm25Index::new(key(), Bm25Params::default())?;
    let (w0, c0) = (Instant::now(), thread_cpu());
    for (id, text) in docs {
        idx.add(NewChunk {
            id,
            document: id,
            text,
            lang: None,
            labels: &labels(id),
        })?;
    }
    Ok((idx, w0.elapsed().as_secs_f64(), thread_cpu() - c0))
}

fn ranked(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.document.as_str()).collect()
}

/// Mean nDCG@10, recall@10 and recall@100 over a query set.
#[derive(Default, Clone, Copy)]
struct Metrics {
    ndcg10: f64,
    r10: f64,
    r100: f64,
    n: usize,
}

impl Metrics {
    fn add(&mut self, run: &[&str], rels: &Judgements) {
        self.ndcg10 += ndcg_at_k(run, rels, 10);
        self.r10 += recall_at_k(run, rels, 10);
        self.r100 += recall_at_k(run, rels, 100);
        self.n += 1;
    }
    fn mean(self) -> (f64, f64, f64) {
        let n = self.n.max(1) as f64;
        (self.ndcg10 / n, self.r10 / n, self.r100 / n)
    }
}

fn quality(ds: &Dataset) -> Res<(Bm25Index, Metrics)> {
    let (idx, wall, cpu) = build(&ds.docs, |_| Labels::tenant("t"))?;
    let bytes: usize = ds.docs.iter().map(|(_, t)| t.len()).sum();
    let guessed_ok = ds
        .docs
        .iter()
        .filter(|(_, t)| guess_lang(t) == Some(ds.expected_lang))
        .count();
    let p = Principal::new("t");
    let mut m = Metrics::default();
    let (mut lat_cpu, mut lat_wall) = (Vec::new(), Vec::new());
    for (qid, text) in &ds.queries {
        let q = Query {
            text,
            lang: None,
            k: 100,
            min_score: 0.0,
        };
        let (w0, c0) = (Instant::now(), thread_cpu());
        let r = idx.search(&q, &p);
        lat_cpu.push((thread_cpu() - c0) * 1e6);
        lat_wall.push(w0.elapsed().as_secs_f64() * 1e6);
        m.add(&ranked(&r.hits), &ds.qrels[qid]);
    }
    let (ndcg, r10, r100) = m.mean();
    println!(
        "| {} | {} | {} | {:.4} | {:.4} | {:.4} | {:.1} % | {:.0} | {:.1} | {:.0} / {:.0} | {:.0} / {:.0} |",
        ds.name,
        ds.docs.len(),
        ds.queries.len(),
        ndcg,
        r10,
        r100,
        100.0 * guessed_ok as f64 / ds.docs.len() as f64,
        ds.docs.len() as f64 / cpu,
        bytes as f64 / cpu / 1e6,
        pct(&mut lat_cpu, 0.5),
        pct(&mut lat_cpu, 0.95),
        pct(&mut lat_wall, 0.5),
        pct(&mut lat_wall, 0.95),
    );
    let _ = wall;
    Ok((idx, m))
}

/// Depth of each list before fusion, and of the evaluated rankings.
const DEPTH: usize = 100;

/// The vectors of a data set's documents (in `docs` order) and queries.
struct Vectors {
    docs: Vec<Vec<f32>>,
    queries: HashMap<String, Vec<f32>>,
}

fn embed_dataset(ds: &Dataset, e: &embed_cache::Embedder) -> Res<Vectors> {
    let m = e.model();
    let texts: Vec<&str> = ds.docs.iter().map(|(_, t)| t.as_str()).collect();
    let lens: Vec<usize> = texts
        .iter()
        .map(|t| m.tokenize(t, InputKind::Passage).len())
        .collect();
    let docs = e.embed(
        &format!("{} corpus", ds.name),
        &ds.dir.join("corpus.jsonl"),
        &texts,
        InputKind::Passage,
    )?;
    let qtexts: Vec<&str> = ds.all_queries.iter().map(|(_, t)| t.as_str()).collect();
    let qlens: usize = qtexts
        .iter()
        .map(|t| m.tokenize(t, InputKind::Query).len())
        .sum();
    let queries = e.embed(
        &format!("{} queries", ds.name),
        &ds.dir.join("queries.jsonl"),
        &qtexts,
        InputKind::Query,
    )?;
    println!(
        "- {}: {} passages, {:.0} tokens on average, {} truncated at {} — {}; {} queries, {:.1} tokens on average — {}",
        ds.name,
        texts.len(),
        lens.iter().sum::<usize>() as f64 / lens.len().max(1) as f64,
        lens.iter().filter(|&&l| l >= m.max_tokens()).count(),
        m.max_tokens(),
        docs.how,
        qtexts.len(),
        qlens as f64 / qtexts.len().max(1) as f64,
        queries.how,
    );
    Ok(Vectors {
        docs: docs.vectors,
        queries: ds
            .all_queries
            .iter()
            .map(|(id, _)| id.clone())
            .zip(queries.vectors)
            .collect(),
    })
}

fn dense_index(ds: &Dataset, v: &Vectors, labels: impl Fn(&str) -> Labels) -> Res<ExactDenseIndex> {
    let dim = v.docs.first().map_or(384, Vec::len);
    let mut idx = ExactDenseIndex::new(dim);
    for ((id, _), vec) in ds.docs.iter().zip(&v.docs) {
        idx.add(id, id, vec, &labels(id))?;
    }
    Ok(idx)
}

fn hybrid_query<'a>(text: &'a str, vector: &'a [f32]) -> HybridQuery<'a> {
    HybridQuery {
        lexical: Query {
            text,
            lang: None,
            k: DEPTH,
            min_score: 0.0,
        },
        vector,
        min_cosine: -1.0,
        k: DEPTH,
    }
}

/// BM25, dense and hybrid over `queries` judged by `qrels`.
fn three_ways(
    queries: &[(String, String)],
    qrels: &HashMap<String, Judgements>,
    bm25: &Bm25Index,
    dense: &ExactDenseIndex,
    v: &Vectors,
) -> Res<[Metrics; 3]> {
    let p = Principal::new("t");
    let mut m = [Metrics::default(); 3];
    for (qid, text) in queries {
        let Some(rels) = qrels.get(qid) else { continue };
        let qv = &v.queries[qid];
        let l = bm25.search(
            &Query {
                text,
                lang: None,
                k: DEPTH,
                min_score: 0.0,
            },
            &p,
        );
        let d = dense.search(qv, DEPTH, -1.0, &|l| p.admits(l))?;
        let h = hybrid(bm25, dense, &hybrid_query(text, qv), &p)?;
        for (m, hits) in m.iter_mut().zip([&l.hits, &d.hits, &h.hits]) {
            m.add(&ranked(hits), rels);
        }
    }
    Ok(m)
}

fn dense_quality(ds: &Dataset, bm25: &Bm25Index, v: &Vectors) -> Res<()> {
    let dense = dense_index(ds, v, |_| Labels::tenant("t"))?;
    let m = three_ways(&ds.queries, &ds.qrels, bm25, &dense, v)?;
    print_three(ds.name, ds.queries.len(), &m);
    Ok(())
}

fn print_three(name: &str, queries: usize, m: &[Metrics; 3]) {
    let names = [
        "BM25".to_string(),
        "dense (e5-small, exact cosine)".to_string(),
        format!("hybrid (RRF k = {RRF_K}, {DEPTH} + {DEPTH})"),
    ];
    let base = m[0].mean().0;
    for (label, m) in names.iter().zip(m) {
        let (ndcg, r10, r100) = m.mean();
        println!(
            "| {name} | {queries} | {label} | {ndcg:.4} | {r10:.4} | {r100:.4} | {:+.4} |",
            ndcg - base
        );
    }
}

/// Stable bucket 0..100 of a document id (FNV-1a), for ACL labels.
fn bucket(id: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in id.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h % 100
}

fn acl_labels(id: &str) -> Labels {
    Labels::tenant("t").with_group(format!("g{}", bucket(id)))
}

/// The ground truth of eligibility, computed from the document id alone
/// (not from the index's stored labels).
fn truly_eligible(id: &str, pct: u32) -> bool {
    bucket(id) < pct
}

fn permission_suite(ds: &Dataset) -> Res<()> {
    let (full, _, _) = build(&ds.docs, acl_labels)?;
    for pct_sel in [1u32, 10, 50] {
        let principal =
            (0..pct_sel).fold(Principal::new("t"), |p, g| p.with_group(format!("g{g}")));
        let eligible_docs: Vec<(String, String)> = ds
            .docs
            .iter()
            .filter(|(id, _)| truly_eligible(id, pct_sel))
            .cloned()
            .collect();
        // Reference: an unfiltered search over an index of the eligible subset.
        let (subset, _, _) = build(&eligible_docs, acl_labels)?;
        let (mut leaked, mut denied) = (0usize, 0usize);
        let (mut found, mut found_ref, mut overlap10, mut ref10) = (0usize, 0usize, 0usize, 0usize);
        let (mut ndcg_f, mut ndcg_r) = (0.0, 0.0);
        let mut post_filter_returned = 0usize;
        let mut full_k = 0usize;
        let mut lat = Vec::new();
        let mut evaluated = 0usize;
        let mut identical = 0usize;
        for (qid, text) in &ds.queries {
            let q = Query {
                text,
                lang: None,
                k: 100,
                min_score: 0.0,
            };
            let c0 = thread_cpu();
            let r = full.search(&q, &principal);
            lat.push((thread_cpu() - c0) * 1e6);
            denied += r.denied;
            leaked += r
                .hits
                .iter()
                .filter(|h| !truly_eligible(&h.document, pct_sel))
                .count();
            let reference = subset.search_with(&q, |_| true);
            // Same collection statistics, every eligible chunk scored one by one.
            let brute = full.brute_force(&q, |l| principal.admits(l));
            identical += usize::from(ranked(&brute) == ranked(&r.hits));
            let rels: Judgements = ds.qrels[qid]
                .iter()
                .filter(|(d, g)| **g > 0 && truly_eligible(d, pct_sel))
                .map(|(d, g)| (d.clone(), *g))
                .collect();
            let run = ranked(&r.hits);
            let run_ref = ranked(&reference.hits);
            let ref_set: HashSet<&str> = run_ref.iter().take(10).copied().collect();
            overlap10 += run.iter().take(10).filter(|d| ref_set.contains(*d)).count();
            ref10 += ref_set.len();
            // Post-filtering an unfiltered top 10 (what we do not do).
            let top10 = full.search_with(&Query { k: 10, ..q }, |_| true);
            post_filter_returned += top10
                .hits
                .iter()
                .filter(|h| truly_eligible(&h.document, pct_sel))
                .count();
            full_k += r.hits.len().min(10);
            if rels.is_empty() {
                continue;
            }
            evaluated += 1;
            found += run.iter().filter(|d| rels.contains_key(**d)).count();
            found_ref += run_ref.iter().filter(|d| rels.contains_key(**d)).count();
            ndcg_f += ndcg_at_k(&run, &rels, 10);
            ndcg_r += ndcg_at_k(&run_ref, &rels, 10);
        }
        let nq = ds.queries.len() as f64;
        let ev = evaluated.max(1) as f64;
        println!(
            "| {pct_sel} % | {} | {} | **{leaked}** | {denied} | {identical}/{} | {found}/{found_ref} = {:.1} % | {:.1} % | {:.4} / {:.4} | {:.2} | {:.2} | {:.0} / {:.0} |",
            eligible_docs.len(),
            evaluated,
            ds.queries.len(),
            if found_ref == 0 {
                f64::NAN
            } else {
                100.0 * found as f64 / found_ref as f64
            },
            100.0 * overlap10 as f64 / ref10.max(1) as f64,
            ndcg_f / ev,
            ndcg_r / ev,
            full_k as f64 / nq,
            post_filter_returned as f64 / nq,
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.95),
        );
    }
    Ok(())
}

/// Eligibility inside both retrievers of the hybrid search: the same ACL
/// labels on the BM25 and the dense index, the fused top 100 checked against
/// the ground truth recomputed from the document id.
fn permission_suite_hybrid(ds: &Dataset, v: &Vectors) -> Res<()> {
    let (bm25, _, _) = build(&ds.docs, acl_labels)?;
    let dense = dense_index(ds, v, acl_labels)?;
    for pct_sel in [1u32, 10, 50] {
        let principal =
            (0..pct_sel).fold(Principal::new("t"), |p, g| p.with_group(format!("g{g}")));
        let (mut leaked_dense, mut leaked_hybrid) = (0usize, 0usize);
        let (mut denied_l, mut denied_d, mut top10) = (0usize, 0usize, 0usize);
        let (mut m_bm25, mut m_hybrid) = (Metrics::default(), Metrics::default());
        let mut lat = Vec::new();
        for (qid, text) in &ds.queries {
            let qv = &v.queries[qid];
            let d = dense.search(qv, DEPTH, -1.0, &|l| principal.admits(l))?;
            leaked_dense += d
                .hits
                .iter()
                .filter(|h| !truly_eligible(&h.document, pct_sel))
                .count();
            let c0 = thread_cpu();
            let h = hybrid(&bm25, &dense, &hybrid_query(text, qv), &principal)?;
            lat.push((thread_cpu() - c0) * 1e6);
            leaked_hybrid += h
                .hits
                .iter()
                .filter(|h| !truly_eligible(&h.document, pct_sel))
                .count();
            denied_l += h.denied_lexical;
            denied_d += h.denied_dense;
            top10 += h.hits.len().min(10);
            let rels: Judgements = ds.qrels[qid]
                .iter()
                .filter(|(d, g)| **g > 0 && truly_eligible(d, pct_sel))
                .map(|(d, g)| (d.clone(), *g))
                .collect();
            if rels.is_empty() {
                continue;
            }
            let l = bm25.search(&hybrid_query(text, qv).lexical, &principal);
            m_bm25.add(&ranked(&l.hits), &rels);
            m_hybrid.add(&ranked(&h.hits), &rels);
        }
        println!(
            "| {pct_sel} % | {} | **{leaked_dense}** | **{leaked_hybrid}** | {denied_l} / {denied_d} | {:.2} | {} | {:.4} / {:.4} | {:.0} / {:.0} |",
            ds.queries.len(),
            top10 as f64 / ds.queries.len() as f64,
            m_hybrid.n,
            m_bm25.mean().0,
            m_hybrid.mean().0,
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.95),
        );
    }
    Ok(())
}

/// Query latency at ≥ 100k chunks: SciFact abstracts cut by the chunker
/// (400 chars), the set replicated under distinct ids until 100k chunks.
fn latency_100k(ds: &Dataset) -> Res<()> {
    let cfg = ChunkerConfig {
        max_chars: 400,
        overlap_chars: 60,
    };
    let mut base: Vec<String> = Vec::new();
    for (_, text) in &ds.docs {
        for c in chunk(&parse_plain(text), cfg)? {
            base.push(c.index_text());
        }
    }
    let mut idx = Bm25Index::new(key(), Bm25Params::default())?.with_default_lang(Some(Lang::En));
    let (mut n, mut rep) = (0usize, 0usize);
    let c0 = thread_cpu();
    while n < 100_000 {
        for (i, text) in base.iter().enumerate() {
            let id = format!("r{rep}-{i}");
            idx.add(NewChunk {
                id: &id,
                document: &id,
                text,
                lang: Some(Lang::En),
                labels: &acl_labels(&id),
            })?;
            n += 1;
        }
        rep += 1;
    }
    let index_cpu = thread_cpu() - c0;
    let mut rows = Vec::new();
    for pct_sel in [100u32, 10, 1] {
        let principal =
            (0..pct_sel).fold(Principal::new("t"), |p, g| p.with_group(format!("g{g}")));
        let (mut cpu, mut wall) = (Vec::new(), Vec::new());
        let mut short = 0usize;
        for (_, text) in &ds.queries {
            let q = Query {
                text,
                lang: Some(Lang::En),
                k: 10,
                min_score: 0.0,
            };
            let (w0, c0) = (Instant::now(), thread_cpu());
            let r = idx.search(&q, &principal);
            cpu.push((thread_cpu() - c0) * 1e6);
            wall.push(w0.elapsed().as_secs_f64() * 1e6);
            short += usize::from(r.hits.len() < 10);
        }
        rows.push(format!(
            "| {n} ({} base chunks × {rep}) | {pct_sel} % | {:.0} / {:.0} | {:.0} / {:.0} | {short} |",
            base.len(),
            pct(&mut cpu, 0.5),
            pct(&mut cpu, 0.95),
            pct(&mut wall, 0.5),
            pct(&mut wall, 0.95),
        ));
    }
    println!(
        "\nIndexing {n} chunks: {:.0} chunks/s (thread CPU)\n",
        n as f64 / index_cpu
    );
    println!(
        "| chunks | eligible | query µs p50 / p95 (CPU) | wall p50 / p95 | queries with < 10 hits |"
    );
    println!("|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut root: Option<PathBuf> = None;
    let (mut cache, mut threads, mut dense) = (None, 2usize, true);
    let mut only: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--skip-100k" => {}
            "--no-dense" => dense = false,
            "--cache" => cache = Some(PathBuf::from(it.next().ok_or("--cache DIR")?)),
            "--threads" => threads = it.next().ok_or("--threads N")?.parse()?,
            "--only" => only = Some(it.next().ok_or("--only scifact,piaf,xquad")?.clone()),
            _ if a.starts_with("--") => return Err(format!("unknown option {a}").into()),
            _ => root = Some(a.into()),
        }
    }
    let root: PathBuf = root
        .or_else(|| std::env::var("REMPART_DATASETS").ok().map(PathBuf::from))
        .ok_or(
            "usage: rag_bench DATASETS_DIR [--cache DIR] [--threads N] [--no-dense] [--skip-100k] \
             [--only scifact,piaf,xquad] (or set REMPART_DATASETS)",
        )?;
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|x| x == name))
    };
    let embedder = if dense {
        let model = std::env::var_os("REMPART_E5_MODEL").ok_or(
            "REMPART_E5_MODEL is not set: run `export REMPART_E5_MODEL=\"$(scripts/fetch-e5.sh)\"` \
             (or pass --no-dense)",
        )?;
        Some(embed_cache::Embedder::new(
            Path::new(&model),
            threads,
            cache,
        )?)
    } else {
        None
    };
    let mut sets: Vec<Dataset> = Vec::new();
    for (key, dir, name, lang) in [
        ("scifact", "beir-scifact", "SciFact (test)", Lang::En),
        ("piaf", "piaf-fr/beir-piaf-v1.1", "PIAF v1.1 (fr)", Lang::Fr),
        ("xquad", "xquad/beir-de", "XQuAD (de)", Lang::De),
    ] {
        if wanted(key) {
            sets.push(load(&root.join(dir), name, lang)?);
        }
    }
    // The permission suite, the train-split check and the 100k part use SciFact.
    let scifact = sets.iter().position(|d| d.name.starts_with("SciFact"));

    println!("## Quality (BM25 k1 = 1.2, b = 0.75, language guessed per chunk and query)\n");
    println!(
        "| data set | docs | queries | nDCG@10 | R@10 | R@100 | docs guessed in its language | index docs/s (CPU) | index MB/s | query µs p50 / p95 (CPU) | wall p50 / p95 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut bm25 = Vec::new();
    for ds in &sets {
        bm25.push(quality(ds)?.0);
    }

    let mut vectors = Vec::new();
    if let Some(e) = &embedder {
        println!("\n## Dense and hybrid\n");
        println!(
            "Embeddings (multilingual-e5-small, `passage: ` + title + text, `query: ` + text):\n"
        );
        for ds in &sets {
            vectors.push(embed_dataset(ds, e)?);
        }
        println!("\n| data set | queries | retriever | nDCG@10 | R@10 | R@100 | nDCG@10 − BM25 |");
        println!("|---|---|---|---|---|---|---|");
        for ((ds, idx), v) in sets.iter().zip(&bm25).zip(&vectors) {
            dense_quality(ds, idx, v)?;
        }
        // Not tuning: the same fixed settings on SciFact's train split.
        if let Some(i) = scifact {
            let sf = &sets[i];
            let train = read_qrels(&sf.dir.join("qrels/train.tsv"))?;
            let train_queries: Vec<(String, String)> = sf
                .all_queries
                .iter()
                .filter(|(id, _)| train.contains_key(id))
                .cloned()
                .collect();
            let dense = dense_index(sf, &vectors[i], |_| Labels::tenant("t"))?;
            let m = three_ways(&train_queries, &train, &bm25[i], &dense, &vectors[i])?;
            print_three("SciFact (train)", train_queries.len(), &m);
        }
    }
    let Some(i) = scifact else { return Ok(()) };
    let scifact = &sets[i];

    println!("\n## Permission suite (SciFact test, top 100, ACL group per document)\n");
    println!(
        "| eligible | eligible docs | queries with an eligible relevant doc | ineligible returned | denied candidates (sum) | top 100 identical to brute force over the eligible subset | eligible relevant found: filtered / unfiltered-over-subset | top-10 overlap with subset search | nDCG@10 filtered / subset | mean hits in top 10 (filtered) | mean hits in top 10 if post-filtered | query µs p50 / p95 (CPU) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    permission_suite(scifact)?;
    if let Some(v) = vectors.get(i) {
        println!("\n### Hybrid, eligibility inside both retrievers (SciFact test, top 100)\n");
        println!(
            "| eligible | queries | ineligible returned: dense | ineligible returned: hybrid | denied candidates BM25 / dense (sum) | mean hits in top 10 (hybrid) | queries with an eligible relevant doc | nDCG@10 over eligible: BM25 / hybrid | hybrid query µs p50 / p95 (CPU, embedding excluded) |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        permission_suite_hybrid(scifact, v)?;
    }

    if !args.iter().any(|a| a == "--skip-100k") {
        latency_100k(scifact)?;
    }
    Ok(())
}
