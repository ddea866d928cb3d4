//! Reads JSONL `{"id","text","lang"?}` on stdin, writes one JSONL result
//! line per input line on stdout (the `rempart pii scan` format). Prints
//! throughput to stderr.
use std::io::{BufRead, Write};

fn main() {
    // `REMPART_PII_TYPES=EMAIL,IBAN` restricts the detector (profiling);
    // `REMPART_PII_NO_LISTS=1` turns the name lists off (ablation).
    let mut config = rempart_pii::DetectorConfig::default();
    if let Ok(list) = std::env::var("REMPART_PII_TYPES") {
        config.types = rempart_pii::EntityType::ALL
            .into_iter()
            .filter(|t| list.split(',').any(|x| x == t.as_str()))
            .collect();
    }
    if std::env::var_os("REMPART_PII_NO_LISTS").is_some() {
        config.name_lists = false;
    }
    let detector = rempart_pii::Detector::with_config(config);
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let lines: Vec<String> = stdin.lock().lines().map_while(Result::ok).collect();
    let t0 = std::time::Instant::now();
    let mut bytes = 0usize;
    let mut results = Vec::with_capacity(lines.len());
    for line in &lines {
        if line.trim().is_empty() {
            continue;
        }
        bytes += line.len();
        match rempart_pii::scan_line(&detector, line) {
            Ok(s) => results.push(s),
            Err(e) => eprintln!("skipped a line: {e}"),
        }
    }
    let dt = t0.elapsed().as_secs_f64();
    for r in results {
        let _ = writeln!(out, "{r}");
    }
    eprintln!(
        "{} docs, {:.2} MB in {:.3} s: {:.1} MB/s, {:.0} docs/s",
        lines.len(),
        bytes as f64 / 1e6,
        dt,
        bytes as f64 / 1e6 / dt,
        lines.len() as f64 / dt
    );
}
