//! Measure load time, RSS, prompt and generation speed of the embedded engine.
//!
//! ```sh
//! cargo run --release -p rempart-engine --features embedded --example bench -- MODEL.gguf [THREADS]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use rempart_engine::{Engine, EngineOptions, GenParams, Message};

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().expect("usage: bench MODEL.gguf [THREADS]"));
    let threads = args.next().map_or(0, |t| t.parse().expect("threads"));
    println!("rss before load: {:.0} MiB", rss_mib());
    let t = Instant::now();
    let engine = Engine::load(
        &path,
        EngineOptions {
            threads,
            ..EngineOptions::default()
        },
    )
    .unwrap();
    println!(
        "load: {:.2} s, rss after load: {:.0} MiB",
        t.elapsed().as_secs_f64(),
        rss_mib()
    );
    println!("provenance: {:?}", engine.provenance());
    let msgs = vec![Message {
        role: "user".into(),
        content: "Write a detailed essay about the history of the city of Paris.".into(),
    }];
    let params = GenParams {
        max_tokens: 128,
        ..GenParams::default()
    };
    for round in 0..2 {
        let t = Instant::now();
        let mut first = None;
        let c = engine
            .chat(&msgs, &params, &mut |_| {
                first.get_or_insert_with(|| t.elapsed());
                true
            })
            .unwrap();
        let total = t.elapsed().as_secs_f64();
        let ttft = first.map_or(total, |d| d.as_secs_f64());
        let gen_s = total - ttft;
        println!(
            "round {round}: prompt {} tok, completion {} tok, ttft {:.3} s, generation {:.1} tok/s, total {:.2} s, rss {:.0} MiB",
            c.prompt_tokens,
            c.completion_tokens,
            ttft,
            f64::from(c.completion_tokens.saturating_sub(1)) / gen_s.max(1e-9),
            total,
            rss_mib()
        );
    }
    let texts: Vec<String> = (0..16)
        .map(|i| format!("Sentence number {i} about a cat on a mat."))
        .collect();
    let t = Instant::now();
    let (_, tokens) = engine.embed(&texts).unwrap();
    let s = t.elapsed().as_secs_f64();
    println!(
        "embed: 16 texts, {tokens} tokens in {s:.3} s ({:.0} tok/s), rss {:.0} MiB",
        f64::from(tokens) / s,
        rss_mib()
    );
}
