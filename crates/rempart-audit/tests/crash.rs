//! Crash safety: a child process appends under load and is killed with
//! SIGKILL; every acknowledged entry survives, the chain verifies. Also a
//! simulated torn final write.
#![allow(clippy::collapsible_if)]

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::*;
use rempart_audit::verify;

const CHILD_ENV: &str = "REMPART_AUDIT_CRASH_CHILD_DIR";
const FSYNC_ENV: &str = "REMPART_AUDIT_CRASH_CHILD_FSYNC";

/// In the child: 8 threads append forever, printing each acknowledged id.
#[test]
fn crash_child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let fsync = std::env::var(FSYNC_ENV).as_deref() != Ok("0");
    let log = Arc::new(open_fsync(std::path::Path::new(&dir), 50, 200, fsync));
    let out = Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let (log, out) = (log.clone(), out.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    let r = log.append(record(t * 1_000_000 + i)).unwrap();
                    let mut o = out.lock().unwrap();
                    writeln!(o, "ACK {} {}", r.seq, r.id).unwrap();
                    o.flush().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

#[test]
fn sigkill_under_load_loses_nothing_acknowledged() {
    // With fsync (group commit on the writer thread) and without (each
    // appender writes on its own thread): a SIGKILL loses nothing either way.
    for fsync in ["1", "0"] {
        sigkill_under_load(fsync);
    }
}

fn sigkill_under_load(fsync: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .env(FSYNC_ENV, fsync)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut acked = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while acked.len() < 1500 {
        let line = lines.next().expect("child died early").unwrap();
        if let Some(rest) = line.strip_prefix("ACK ") {
            let (seq, id) = rest.split_once(' ').unwrap();
            acked.push((seq.parse::<u64>().unwrap(), id.to_string()));
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Read what the child printed before it died: acknowledged too.
    for line in lines.map_while(Result::ok) {
        if let Some(rest) = line.strip_prefix("ACK ") {
            if let Some((seq, id)) = rest.split_once(' ') {
                if let Ok(seq) = seq.parse::<u64>() {
                    acked.push((seq, id.to_string()));
                }
            }
        }
    }
    // Reopen: recovers (verifies the tail, drops a torn line if any).
    let log = open(dir.path(), 50, 200);
    let next = log.append(record(999_999_999)).unwrap();
    log.close().unwrap();
    let report = verify(dir.path(), &key().verifying_key(), None).unwrap();
    assert_eq!(report.checked_to, next.seq + 1);
    let entries = rempart_audit::read_entries(dir.path(), &key().verifying_key()).unwrap();
    for (seq, id) in &acked {
        let (s, e) = &entries[*seq as usize];
        assert_eq!(
            (s, e.id()),
            (seq, id.as_str()),
            "acknowledged entry missing"
        );
    }
}

#[test]
fn torn_final_line_is_dropped_on_open_and_only_then() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), 4, 100);
    for i in 0..10 {
        log.append(record(i)).unwrap();
    }
    drop(log);
    let segs = segments(dir.path());
    let (path, lines) = segs.last().unwrap();
    // A crash mid-write: half of an 11th line, no newline.
    let mut torn = lines.concat();
    let half = lines[9].len() / 2;
    torn.extend_from_slice(&lines[9][..half]);
    std::fs::write(path, &torn).unwrap();
    let e = verify(dir.path(), &key().verifying_key(), None).unwrap_err();
    assert_eq!(e.failure, rempart_audit::Failure::TornTail);
    let log = open(dir.path(), 4, 100);
    assert_eq!(log.append(record(10)).unwrap().seq, 10);
    log.close().unwrap();
    verify(dir.path(), &key().verifying_key(), None).unwrap();
    // A complete but altered last line is tampering: open refuses.
    let segs = segments(dir.path());
    let (path, lines) = segs.last().unwrap();
    let mut data = lines.concat();
    let n = data.len();
    data[n - 10] ^= 1;
    std::fs::write(path, &data).unwrap();
    let e = rempart_audit::AuditLog::open_with(dir.path(), key(), options(4, 100)).unwrap_err();
    assert!(matches!(e, rempart_audit::Error::Corrupt(_)), "{e}");
}
