//! Audit append throughput: group commit (fsync) vs a no-fsync baseline and
//! vs one appender (one fsync per append), in one run, same machine.
//!
//! ```text
//! cargo run --release -p rempart-audit --example append_bench -- [APPENDS] [THREADS] [DIR]
//! ```
//!
//! DIR defaults to a temporary directory (use one on the disk the gateway's
//! data directory lives on).

use std::sync::Arc;
use std::time::Instant;

use rempart_audit::{AuditLog, AuditRecord, CheckpointPolicy, Options};

fn record(i: u64) -> AuditRecord {
    let mut r: AuditRecord =
        serde_json::from_str(rempart_audit::report::EXAMPLE_RECORD_JSON).unwrap();
    r.id = format!("0190c5a0-0000-7000-8000-{i:012}");
    r.tokens_in = i;
    r
}

fn run(dir: &std::path::Path, appends: u64, threads: u64, fsync: bool) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let options = Options {
        checkpoint: CheckpointPolicy {
            every_records: 1000,
            every_secs: 10,
        },
        fsync,
        ..Options::default()
    };
    let log = Arc::new(AuditLog::open_with(dir, key, options).unwrap());
    let start = Instant::now();
    let per = appends / threads;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..per {
                    log.append(record(t * per + i)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    Arc::try_unwrap(log).unwrap().close().unwrap();
    (per * threads) as f64 / secs
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let appends: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let threads: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(256);
    let tmp = tempfile::tempdir().unwrap();
    let base = args
        .get(3)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let line = serde_json::to_vec(&record(0)).unwrap().len();
    println!("record ~{line} bytes canonical; {appends} appends; {threads} appender threads");
    let nosync = run(&base.join("nosync"), appends, threads, false);
    println!("no-fsync baseline        : {nosync:>10.0} appends/s");
    let group = run(&base.join("group"), appends, threads, true);
    println!(
        "group commit (fsync)     : {group:>10.0} appends/s  ({:.2} of baseline)",
        group / nosync
    );
    let single_n = (appends / 50).max(200);
    let single = run(&base.join("single"), single_n, 1, true);
    println!("one appender (fsync each): {single:>10.0} appends/s  ({single_n} appends)");
    // Verify what was written, as a sanity check and to time verification.
    let start = Instant::now();
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key();
    let r = rempart_audit::verify(&base.join("group"), &key, None).unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "verify group log         : {:>10.0} entries/s  ({} entries, {} checkpoints)",
        r.checked_to as f64 / secs,
        r.checked_to,
        r.checkpoints_checked
    );
}
