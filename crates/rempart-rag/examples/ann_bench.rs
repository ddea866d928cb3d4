//! HNSW vs exact dense search with eligibility on, on synthetic vectors.
//!
//! ```text
//! cargo run --release -p rempart-rag --example ann_bench -- [N] [DIM]
//! ```
//!
//! N (default 100000) L2-normalised DIM-dimensional (default 384, the size
//! of multilingual-e5-small) vectors drawn around 1,000 random centres, so
//! the data has neighbourhoods; 200 queries from the same distribution.
//! These are not text embeddings: the numbers say how the index behaves
//! (recall against the exact answer, latency, filter cost), not retrieval
//! quality. ACL: group = i mod 100; the principal holds s % of the groups.

use std::collections::HashSet;

use rempart_rag::{DenseIndex, ExactDenseIndex, HnswIndex, HnswParams, Labels};

fn thread_cpu() -> f64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("usage: ann_bench [N] [DIM]: {e}"))?;
    let n = args.first().copied().unwrap_or(100_000);
    let dim = args.get(1).copied().unwrap_or(384);
    let mut s = 42u64;
    let mut r = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    };
    let centres: Vec<Vec<f32>> = (0..1000).map(|_| (0..dim).map(|_| r()).collect()).collect();
    let mut point = |c: usize| -> Vec<f32> { centres[c].iter().map(|x| x + 0.25 * r()).collect() };
    let labels: Vec<Labels> = (0..100)
        .map(|g| Labels::tenant("t").with_group(format!("g{g}")))
        .collect();

    let params = HnswParams::default();
    let mut h = HnswIndex::new(dim, params)?;
    // The same graph (same seed, same inserts) without the exact fallback.
    let mut walk = HnswIndex::new(
        dim,
        HnswParams {
            exact_fallback: false,
            ..params
        },
    )?;
    let mut e = ExactDenseIndex::new(dim);
    let c0 = thread_cpu();
    let vs: Vec<Vec<f32>> = (0..n).map(|i| point(i % 1000)).collect();
    let mut build = 0.0;
    for (i, v) in vs.iter().enumerate() {
        let id = format!("c{i}");
        let t = thread_cpu();
        h.add(&id, &id, v, &labels[i % 100])?;
        build += thread_cpu() - t;
        walk.add(&id, &id, v, &labels[i % 100])?;
        e.add(&id, &id, v, &labels[i % 100])?;
    }
    let _ = c0;
    let queries: Vec<Vec<f32>> = (0..200).map(|i| point((i * 7) % 1000)).collect();
    println!(
        "{n} vectors × {dim} dims, HNSW m = {}, ef_construction = {}, ef_search = {}: build {:.1} s CPU ({:.0} vectors/s)\n",
        params.m,
        params.ef_construction,
        params.ef_search,
        build,
        n as f64 / build
    );
    println!(
        "| eligible | HNSW recall@10 vs exact | HNSW µs p50 / p95 (CPU) | graph walk only: recall@10 | µs p50 / p95 | exact µs p50 / p95 (CPU) | ineligible returned (both) | mean denied (HNSW) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for sel in [100usize, 50, 10, 1] {
        let admits = |l: &Labels| {
            l.groups
                .iter()
                .any(|g| g[1..].parse::<usize>().is_ok_and(|x| x < sel))
        };
        let (mut th, mut te, mut tw) = (Vec::new(), Vec::new(), Vec::new());
        let (mut found, mut total, mut leaked, mut denied) = (0usize, 0usize, 0usize, 0usize);
        let mut found_walk = 0usize;
        for q in &queries {
            let t = thread_cpu();
            let a = h.search(q, 10, -1.0, &admits)?;
            th.push((thread_cpu() - t) * 1e6);
            let t = thread_cpu();
            let w = walk.search(q, 10, -1.0, &admits)?;
            tw.push((thread_cpu() - t) * 1e6);
            let t = thread_cpu();
            let b = e.search(q, 10, -1.0, &admits)?;
            te.push((thread_cpu() - t) * 1e6);
            let truth: HashSet<&str> = b.hits.iter().map(|x| x.chunk.as_str()).collect();
            found += a
                .hits
                .iter()
                .filter(|x| truth.contains(x.chunk.as_str()))
                .count();
            found_walk += w
                .hits
                .iter()
                .filter(|x| truth.contains(x.chunk.as_str()))
                .count();
            total += truth.len();
            leaked += a
                .hits
                .iter()
                .chain(&w.hits)
                .filter(|x| {
                    x.chunk[1..]
                        .parse::<usize>()
                        .map_or(true, |i| i % 100 >= sel)
                })
                .count();
            denied += a.denied;
        }
        println!(
            "| {sel} % | {:.3} | {:.0} / {:.0} | {:.3} | {:.0} / {:.0} | {:.0} / {:.0} | {leaked} | {:.0} |",
            found as f64 / total as f64,
            pct(&mut th, 0.5),
            pct(&mut th, 0.95),
            found_walk as f64 / total as f64,
            pct(&mut tw, 0.5),
            pct(&mut tw, 0.95),
            pct(&mut te, 0.5),
            pct(&mut te, 0.95),
            denied as f64 / queries.len() as f64,
        );
    }
    Ok(())
}
