//! The writer: time-based checkpoints, the awaitable append, concurrency.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use rempart_audit::{AuditLog, CheckpointPolicy, Options, verify};

fn checkpoint_lines(dir: &std::path::Path) -> usize {
    std::fs::read_to_string(dir.join("checkpoints.jsonl")).map_or(0, |s| s.lines().count())
}

#[test]
fn policy_is_pure_and_due_by_count_or_time() {
    let p = CheckpointPolicy {
        every_records: 10,
        every_secs: 5,
    };
    assert!(!p.is_due(0, Duration::from_secs(100)));
    assert!(!p.is_due(9, Duration::from_secs(4)));
    assert!(p.is_due(10, Duration::ZERO));
    assert!(p.is_due(1, Duration::from_secs(5)));
}

#[test]
fn checkpoint_after_every_secs_while_idle() {
    for fsync in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            checkpoint: CheckpointPolicy {
                every_records: 1000,
                every_secs: 1,
            },
            fsync,
            ..Options::default()
        };
        let log = AuditLog::open_with(dir.path(), key(), options).unwrap();
        log.append(record(0)).unwrap();
        assert_eq!(checkpoint_lines(dir.path()), 0);
        std::thread::sleep(Duration::from_millis(2500));
        assert_eq!(
            checkpoint_lines(dir.path()),
            1,
            "idle writer signs after every_secs (fsync {fsync})"
        );
        // A second unsigned period after a signed one is watched too.
        log.append(record(1)).unwrap();
        std::thread::sleep(Duration::from_millis(2500));
        assert_eq!(checkpoint_lines(dir.path()), 2, "fsync {fsync}");
        drop(log);
        assert_eq!(
            verify(dir.path(), &key().verifying_key(), None)
                .unwrap()
                .unsigned_tail,
            0
        );
    }
}

#[test]
fn count_checkpoints_without_fsync_are_signed_off_the_appenders_thread() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_fsync(dir.path(), 10, 1000, false);
    let wait_for = |n: usize| {
        let t = std::time::Instant::now();
        while checkpoint_lines(dir.path()) < n && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        checkpoint_lines(dir.path())
    };
    // The append that makes a checkpoint due wakes the writer thread, which
    // signs it; wait for it rather than for a fixed time.
    for i in 0..10 {
        assert_eq!(log.append(record(i)).unwrap().seq, i);
    }
    assert_eq!(wait_for(1), 1);
    for i in 10..25 {
        assert_eq!(log.append(record(i)).unwrap().seq, i);
    }
    assert_eq!(wait_for(2), 2);
    // Every acknowledged entry is already in the file (written, not synced).
    let lines: usize = segments(dir.path()).iter().map(|(_, l)| l.len()).sum();
    assert_eq!(lines, 25);
    log.close().unwrap();
    let r = verify(dir.path(), &key().verifying_key(), None).unwrap();
    assert_eq!((r.checked_to, r.unsigned_tail), (25, 0));
}

#[test]
fn submit_is_a_future() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), 1000, 1000);
    let mut fut = std::pin::pin!(log.submit(record(0)));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let receipt = loop {
        if let std::task::Poll::Ready(r) = fut.as_mut().poll(&mut cx) {
            break r.unwrap();
        }
        std::thread::yield_now();
    };
    assert_eq!((receipt.seq, receipt.id), (0, record(0).id));
}

#[test]
fn concurrent_appenders_get_contiguous_unique_seqs() {
    for fsync in [true, false] {
        concurrent_appenders(fsync);
    }
}

fn concurrent_appenders(fsync: bool) {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(open_fsync(dir.path(), 37, 100, fsync));
    let handles: Vec<_> = (0..16u64)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                (0..50)
                    .map(|i| log.append(record(t * 1000 + i)).unwrap().seq)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..800).collect::<Vec<_>>());
    Arc::try_unwrap(log).unwrap().close().unwrap();
    let r = verify(dir.path(), &key().verifying_key(), None).unwrap();
    assert_eq!((r.checked_to, r.unsigned_tail), (800, 0));
    assert!(segments(dir.path()).len() >= 2);
}

#[test]
fn default_retention_is_at_least_six_months() {
    use time::format_description::well_known::Rfc3339;
    assert!(rempart_audit::DEFAULT_RETENTION >= Duration::from_secs(184 * 24 * 3600));
    let now = time::OffsetDateTime::parse("2026-11-22T00:00:00Z", &Rfc3339).unwrap();
    let cutoff = rempart_audit::retention_cutoff(now, rempart_audit::DEFAULT_RETENTION);
    // Every record of the last six calendar months is kept.
    assert!(cutoff <= time::OffsetDateTime::parse("2026-05-22T00:00:00Z", &Rfc3339).unwrap());
}

#[test]
fn one_writer_per_log_directory() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path(), key(), CheckpointPolicy::default()).unwrap();
    log.append(record(0)).unwrap();
    // A second writer would fork the chain: refused, naming the directory.
    let err = AuditLog::open(dir.path(), key(), CheckpointPolicy::default()).unwrap_err();
    assert!(
        matches!(err, rempart_audit::Error::Locked(ref d) if d == dir.path()),
        "{err}"
    );
    assert!(err.to_string().contains("another process"), "{err}");
    // Readers are not writers: verification works while the log is open.
    verify(dir.path(), &key().verifying_key(), None).unwrap();
    drop(log);
    // Released on drop (and by the kernel when a process dies).
    let log = AuditLog::open(dir.path(), key(), CheckpointPolicy::default()).unwrap();
    log.append(record(1)).unwrap();
}
