//! Tampering with real files is detected and located; an honest log verifies.

mod common;

use common::*;
use rempart_audit::{Failure, Location, verify};

/// 30 entries, checkpoints every 7, segments of ≥ 10 entries.
fn honest() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), 7, 10);
    for i in 0..30 {
        assert_eq!(log.append(record(i)).unwrap().seq, i);
    }
    log.close().unwrap();
    dir
}

fn entry_seq(loc: &Location) -> u64 {
    match loc {
        Location::Entry { seq, .. } => *seq,
        other => panic!("expected an entry location, got {other}"),
    }
}

#[test]
fn honest_log_verifies() {
    let dir = honest();
    let r = verify(dir.path(), &key().verifying_key(), None).unwrap();
    assert_eq!((r.checked_from, r.checked_to, r.unsigned_tail), (0, 30, 0));
    assert_eq!(r.latest_checkpoint, Some(30));
    assert!(r.checkpoints_checked >= 5);
    // Reopening and appending keeps it honest.
    let log = open(dir.path(), 7, 10);
    assert_eq!(log.append(record(30)).unwrap().seq, 30);
    drop(log);
    verify(dir.path(), &key().verifying_key(), None).unwrap();
}

#[test]
fn wrong_key_is_rejected() {
    let dir = honest();
    let e = verify(dir.path(), &other_key().verifying_key(), None).unwrap_err();
    assert_eq!(e.failure, Failure::BadSignature);
}

#[test]
fn every_single_byte_change_is_detected_at_its_entry() {
    // Small and with one checkpoint: each verify is slow in debug builds.
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), 1000, 4);
    for i in 0..10 {
        log.append(record(i)).unwrap();
    }
    log.close().unwrap();
    let segs = segments(dir.path());
    let mut seq = 0u64;
    let mut tried = 0;
    for (path, lines) in &segs {
        let original = lines.concat();
        let mut start = 0;
        for line in lines {
            // Every byte of some lines, a spread of bytes of the others;
            // always the first and the last (the newline).
            let step = if seq % 10 == 3 { 1 } else { 23 };
            let positions: Vec<usize> = (0..line.len())
                .step_by(step)
                .chain([line.len() - 1])
                .collect();
            for pos in positions {
                // One delta per byte on the every-byte line, two elsewhere.
                let deltas: &[u8] = if step == 1 {
                    &[[0x01u8, 0x20][pos % 2]]
                } else {
                    &[0x01, 0x20]
                };
                for &delta in deltas {
                    let mut t = original.clone();
                    t[start + pos] ^= delta;
                    std::fs::write(path, &t).unwrap();
                    let e = verify(dir.path(), &key().verifying_key(), None).expect_err(&format!(
                        "byte {pos} of seq {seq} flipped by {delta:#x} went unnoticed"
                    ));
                    assert_eq!(entry_seq(&e.location), seq, "seq {seq} byte {pos}: {e}");
                    // Errors name places, never contents (purpose, tenant, model, hashes).
                    let msg = e.to_string();
                    for content in ["support", "acme", "OVHcloud", "chat-default", "m-1"] {
                        assert!(!msg.contains(content), "{msg}");
                    }
                    tried += 1;
                }
            }
            start += line.len();
            seq += 1;
        }
        std::fs::write(path, &original).unwrap();
    }
    verify(dir.path(), &key().verifying_key(), None).unwrap();
    assert!(tried > 1000, "{tried}");
}

fn tampered(f: impl FnOnce(&mut Vec<Vec<u8>>)) -> (tempfile::TempDir, rempart_audit::VerifyError) {
    let dir = honest();
    let mut segs = segments(dir.path());
    // Work on the concatenation, then write back with the same file split.
    let sizes: Vec<usize> = segs.iter().map(|s| s.1.len()).collect();
    let mut all: Vec<Vec<u8>> = segs.iter().flat_map(|s| s.1.clone()).collect();
    f(&mut all);
    let mut it = all.into_iter();
    let n = segs.len();
    for (i, s) in segs.iter_mut().enumerate() {
        s.1 = if i + 1 == n {
            it.by_ref().collect()
        } else {
            it.by_ref().take(sizes[i]).collect()
        };
    }
    write_segments(&segs);
    let e = verify(dir.path(), &key().verifying_key(), None).unwrap_err();
    (dir, e)
}

#[test]
fn deleted_entry() {
    let (_d, e) = tampered(|l| {
        l.remove(12);
    });
    assert_eq!(
        e.failure,
        Failure::Sequence {
            expected: 12,
            found: 13
        }
    );
    assert_eq!(entry_seq(&e.location), 12);
    assert!(e.to_string().contains("seq 12"), "{e}");
}

#[test]
fn reordered_entries() {
    let (_d, e) = tampered(|l| l.swap(4, 5));
    assert_eq!(
        e.failure,
        Failure::Sequence {
            expected: 4,
            found: 5
        }
    );
}

#[test]
fn inserted_entry_copy() {
    let (_d, e) = tampered(|l| {
        let c = l[3].clone();
        l.insert(8, c);
    });
    assert_eq!(
        e.failure,
        Failure::Sequence {
            expected: 8,
            found: 3
        }
    );
}

#[test]
fn truncated_log_vs_signed_checkpoint() {
    let (_d, e) = tampered(|l| l.truncate(25));
    assert_eq!(
        e.failure,
        Failure::Truncated {
            checkpoint_size: 28,
            log_size: 25
        }
    );
    assert!(matches!(
        e.location,
        Location::Checkpoint { size: Some(28), .. }
    ));
}

#[test]
fn rewritten_log_is_caught_by_the_checkpoint_root() {
    // An attacker who rewrites a record and recomputes the whole chain after it.
    let dir = honest();
    let mut entries: Vec<rempart_audit::StoredEntry> = segments(dir.path())
        .iter()
        .flat_map(|s| {
            s.1.iter()
                .map(|l| serde_json::from_slice(&l[..l.len() - 1]).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    if let rempart_audit::EntryBody::Record(r) = &mut entries[9].entry {
        r.tokens_out = 1;
    }
    let mut prev = [0u8; 32];
    let mut lines = Vec::new();
    for e in &entries {
        let body = serde_json::to_vec(&e.entry).unwrap();
        let h = rempart_audit::entry::entry_hash(e.seq, &prev, &body);
        let mut s = serde_json::to_vec(&rempart_audit::StoredEntry {
            prev_hash: hex::encode(prev),
            entry_hash: hex::encode(h),
            ..e.clone()
        })
        .unwrap();
        s.push(b'\n');
        lines.push(s);
        prev = h;
    }
    let mut segs = segments(dir.path());
    let mut it = lines.into_iter();
    for s in &mut segs {
        let n = s.1.len();
        s.1 = it.by_ref().take(n).collect();
    }
    write_segments(&segs);
    let e = verify(dir.path(), &key().verifying_key(), None).unwrap_err();
    assert_eq!(e.failure, Failure::RootMismatch);
    assert!(
        matches!(e.location, Location::Checkpoint { size: Some(14), .. }),
        "{e}"
    );
}

fn edit_checkpoints(
    f: impl FnOnce(&mut Vec<rempart_audit::CheckpointRecord>),
) -> rempart_audit::VerifyError {
    let dir = honest();
    let p = dir.path().join("checkpoints.jsonl");
    let mut cps: Vec<rempart_audit::CheckpointRecord> = std::fs::read_to_string(&p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    f(&mut cps);
    let text: String = cps
        .iter()
        .map(|c| serde_json::to_string(c).unwrap() + "\n")
        .collect();
    std::fs::write(&p, text).unwrap();
    verify(dir.path(), &key().verifying_key(), None).unwrap_err()
}

#[test]
fn forged_checkpoint_other_key() {
    let e = edit_checkpoints(|c| {
        let cp = rempart_audit::Checkpoint::open(&c[1].note, &key().verifying_key()).unwrap();
        c[1].note = rempart_audit::note::sign(cp.origin(), cp.size(), cp.root(), &other_key());
    });
    assert_eq!(e.failure, Failure::BadSignature);
    assert_eq!(
        e.location,
        Location::Checkpoint {
            index: 1,
            size: None
        }
    );
}

#[test]
fn forged_checkpoint_edited_size_or_root() {
    let e = edit_checkpoints(|c| c[2].note = c[2].note.replacen("\n21\n", "\n20\n", 1));
    assert_eq!(e.failure, Failure::BadSignature);
    let e = edit_checkpoints(|c| {
        let body_end = c[2].note.find("\n\n").unwrap();
        let mut lines: Vec<String> = c[2].note[..body_end].lines().map(String::from).collect();
        lines[2] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
        c[2].note = format!("{}{}", lines.join("\n"), &c[2].note[body_end..]);
    });
    assert_eq!(e.failure, Failure::BadSignature);
    // A validly signed checkpoint for a root the entries do not have.
    let e = edit_checkpoints(|c| {
        c[2].note = rempart_audit::note::sign("rempart/audit", 21, &[1; 32], &key());
    });
    assert_eq!(e.failure, Failure::FrontierMismatch);
    // Deleting a checkpoint in the middle is harmless; reordering is not.
    let e = edit_checkpoints(|c| c.swap(0, 1));
    assert_eq!(e.failure, Failure::CheckpointOrder);
}

#[test]
fn deleted_segment_file() {
    let dir = honest();
    let segs = segments(dir.path());
    assert!(segs.len() >= 3, "{}", segs.len());
    std::fs::remove_file(&segs[1].0).unwrap();
    let e = verify(dir.path(), &key().verifying_key(), None).unwrap_err();
    assert!(matches!(e.failure, Failure::Sequence { .. }), "{e}");
}

#[test]
fn range_verification_starts_at_a_checkpoint() {
    let dir = honest();
    let r = verify(dir.path(), &key().verifying_key(), Some((15, 17))).unwrap();
    assert_eq!((r.checked_from, r.checked_to), (14, 21));
    // A tamper outside the range is not seen by a range check, inside it is.
    let mut segs = segments(dir.path());
    let n0 = segs[0].1.len();
    segs[0].1[2][40] ^= 1;
    let idx = 16 - n0;
    segs[1].1[idx][40] ^= 1;
    write_segments(&segs);
    let e = verify(dir.path(), &key().verifying_key(), Some((15, 17))).unwrap_err();
    assert_eq!(entry_seq(&e.location), 16);
    let e = verify(dir.path(), &key().verifying_key(), None).unwrap_err();
    assert_eq!(entry_seq(&e.location), 2);
}

/// Records of the document endpoints carry fields added after the first
/// version: a log mixing them with records in the first version's encoding
/// (what every earlier log holds, byte for byte) verifies, and spelling a
/// later field out at its default, or dropping it, is caught.
#[test]
fn later_fields_mix_with_first_version_records() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), 1000, 100);
    log.append(record(0)).unwrap();
    let mut doc = record(1);
    doc.endpoint = "ingest".into();
    doc.documents = vec!["0190c5a0-0000-7000-8000-0000000000d1".into()];
    doc.document_chunks = 3;
    log.append(doc).unwrap();
    log.append(record(2)).unwrap();
    log.close().unwrap();
    verify(dir.path(), &key().verifying_key(), None).unwrap();
    let segs = segments(dir.path());
    let lines = &segs[0].1;
    let text = |i: usize| String::from_utf8(lines[i].clone()).unwrap();
    assert!(
        text(0).ends_with("\"output_hash\":null}}}\n"),
        "{}",
        text(0)
    );
    assert!(
        text(1).ends_with(
            "\"output_hash\":null,\"documents\":[\"0190c5a0-0000-7000-8000-0000000000d1\"],\"document_chunks\":3}}}\n"
        ),
        "{}",
        text(1)
    );

    for (i, from, to) in [
        (
            0,
            "\"output_hash\":null}",
            "\"output_hash\":null,\"documents\":[]}",
        ),
        (1, ",\"document_chunks\":3", ""),
        (
            1,
            ",\"document_chunks\":3",
            ",\"document_chunks\":3,\"linked_subjects\":0",
        ),
    ] {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), copy.path());
        let mut segs = segments(copy.path());
        let line = String::from_utf8(segs[0].1[i].clone()).unwrap();
        assert!(line.contains(from), "{line}");
        segs[0].1[i] = line.replacen(from, to, 1).into_bytes();
        write_segments(&segs);
        let e = verify(copy.path(), &key().verifying_key(), None).unwrap_err();
        assert_eq!(entry_seq(&e.location), i as u64, "{from} -> {to}: {e}");
    }
}
