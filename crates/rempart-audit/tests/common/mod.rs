//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use rempart_audit::{AuditLog, AuditRecord, CheckpointPolicy, Options};

pub fn key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

pub fn other_key() -> SigningKey {
    SigningKey::from_bytes(&[43; 32])
}

pub fn record(i: u64) -> AuditRecord {
    let mut r: AuditRecord =
        serde_json::from_str(rempart_audit::report::EXAMPLE_RECORD_JSON).unwrap();
    r.id = format!("0190c5a0-0000-7000-8000-{i:012}");
    r.tokens_in = i;
    r
}

pub fn options(every_records: u64, segment_records: u64) -> Options {
    Options {
        checkpoint: CheckpointPolicy {
            every_records,
            every_secs: 3600,
        },
        segment_records,
        ..Options::default()
    }
}

pub fn open(dir: &Path, every_records: u64, segment_records: u64) -> AuditLog {
    AuditLog::open_with(dir, key(), options(every_records, segment_records)).unwrap()
}

/// [`open`] with `fsync` chosen: `false` appends on the caller's thread
/// (written, not synced, before the receipt).
#[allow(dead_code)]
pub fn open_fsync(dir: &Path, every_records: u64, segment_records: u64, fsync: bool) -> AuditLog {
    let options = Options {
        fsync,
        ..options(every_records, segment_records)
    };
    AuditLog::open_with(dir, key(), options).unwrap()
}

/// Segment files in order, with their lines (each with its `\n`).
pub fn segments(dir: &Path) -> Vec<(PathBuf, Vec<Vec<u8>>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).unwrap();
            let lines = data
                .split_inclusive(|&b| b == b'\n')
                .map(<[u8]>::to_vec)
                .collect();
            (p, lines)
        })
        .collect()
}

pub fn write_segments(segs: &[(PathBuf, Vec<Vec<u8>>)]) {
    for (p, lines) in segs {
        std::fs::write(p, lines.concat()).unwrap();
    }
}

/// Copies a directory tree (flat two levels) for a fresh tamper.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("segments")).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
    for e in std::fs::read_dir(from.join("segments")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join("segments").join(e.file_name())).unwrap();
    }
}
