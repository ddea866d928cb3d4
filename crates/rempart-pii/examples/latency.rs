//! Inspection cost of a ~2 KB prompt: p50/p99/max of `Detector::detect`
//! plus the special-category cue search (the gateway's inspection) over many varied 2 KB texts (built from JSONL documents on stdin, or
//! from a file given as the first argument), after a warm-up.
//!
//! ```sh
//! cargo run --release -p rempart-pii --example latency -- ../shared/pii-dev/dev.jsonl [iterations]
//! ```
//! Each prompt is a window of ~2,048 bytes cut (on char boundaries) from
//! the documents laid end to end, so each one mixes several documents.
use std::io::Read;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut raw = String::new();
    match args.next() {
        Some(p) if p != "-" => raw = std::fs::read_to_string(&p).expect("readable input"),
        _ => {
            std::io::stdin()
                .read_to_string(&mut raw)
                .expect("UTF-8 input");
        }
    }
    let iters: usize = args.next().map_or(10_000, |s| s.parse().expect("a count"));
    // Texts laid end to end (JSONL `text` fields, or the raw input).
    let mut all = String::new();
    for line in raw.lines() {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) if v.get("text").and_then(|t| t.as_str()).is_some() => {
                all.push_str(v["text"].as_str().unwrap_or_default());
                all.push_str("\n\n");
            }
            _ => {
                all.push_str(line);
                all.push('\n');
            }
        }
    }
    assert!(all.len() > 4096, "need more than 4 KB of text");
    // Windows of ~2 KB at varied offsets (a stride that is not a divisor).
    let mut prompts: Vec<&str> = Vec::new();
    let mut at = 0usize;
    while prompts.len() < 1000 {
        let mut s = at % (all.len() - 2048);
        while !all.is_char_boundary(s) {
            s += 1;
        }
        let mut e = s + 2048;
        while !all.is_char_boundary(e) {
            e -= 1;
        }
        prompts.push(&all[s..e]);
        at += 1531;
    }
    let detector = rempart_pii::Detector::new();
    // Warm up the lazy DFA caches (a long-lived gateway is warm).
    for p in &prompts {
        std::hint::black_box(detector.detect(p, None));
    }
    let mut wall: Vec<u64> = Vec::with_capacity(iters);
    let mut cpu: Vec<u64> = Vec::with_capacity(iters);
    let mut ents = 0usize;
    for i in 0..iters {
        let p = prompts[(i * 7) % prompts.len()];
        let c0 = thread_cpu_ns();
        let t = Instant::now();
        // What the gateway runs on each text: entities and the Art. 9 cues.
        let e = detector.detect(std::hint::black_box(p), None);
        std::hint::black_box(rempart_pii::has_special_category_cue(p));
        wall.push(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
        cpu.push(thread_cpu_ns().saturating_sub(c0));
        ents += e.len();
    }
    // Wall clock includes preemption on a loaded machine; the thread's CPU
    // time is the cost of the inspection itself.
    let stats = |v: &mut Vec<u64>| {
        v.sort_unstable();
        let q = |f: f64| v[((v.len() as f64 * f) as usize).min(v.len() - 1)] as f64 / 1000.0;
        let mean = v.iter().sum::<u64>() as f64 / v.len() as f64 / 1000.0;
        format!(
            "{{\"mean_us\": {mean:.1}, \"p50_us\": {:.1}, \"p90_us\": {:.1}, \"p99_us\": {:.1}, \"max_us\": {:.1}}}",
            q(0.50),
            q(0.90),
            q(0.99),
            q(1.0)
        )
    };
    println!(
        "{{\"prompt_bytes\": 2048, \"iterations\": {iters}, \"entities_per_prompt\": {:.1}, \"cpu\": {}, \"wall\": {}}}",
        ents as f64 / iters as f64,
        stats(&mut cpu),
        stats(&mut wall)
    );
}

/// This thread's CPU time (user + system), in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap_or(0)
}
