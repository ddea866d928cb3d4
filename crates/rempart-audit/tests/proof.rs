//! Inclusion proofs round-trip with only the public key; retention pruning
//! keeps what remains verifiable and provable.

mod common;

use common::*;
use rempart_audit::{Error, Failure, ProofError, check_proof, prove, verify};

#[test]
fn inclusion_proof_round_trip_and_rejections() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), 8, 1000);
    for i in 0..21 {
        log.append(record(i)).unwrap();
    }
    // Entry 20 is not covered by a checkpoint yet.
    let id20 = record(20).id;
    assert!(matches!(
        prove(dir.path(), &key().verifying_key(), &id20),
        Err(Error::NotCheckpointed { seq: 20 })
    ));
    log.close().unwrap(); // checkpoints at 8, 16, 21
    let pk = key().verifying_key();
    let notes: Vec<String> = std::fs::read_to_string(dir.path().join("checkpoints.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<rempart_audit::CheckpointRecord>(l)
                .unwrap()
                .note
        })
        .collect();
    assert_eq!(notes.len(), 3);
    for i in 0..21 {
        let id = record(i).id;
        let proof = prove(dir.path(), &pk, &id).unwrap();
        assert_eq!((proof.leaf_index, proof.tree_size), (i, 21));
        // Through JSON, as a third party would receive it.
        let proof: rempart_audit::InclusionProof =
            serde_json::from_str(&serde_json::to_string(&proof).unwrap()).unwrap();
        let ok = check_proof(&proof, &notes[2], &pk).unwrap();
        assert_eq!(ok.entry.seq, i);
        assert_eq!(ok.entry.entry.id(), id);
        // Wrong key.
        assert_eq!(
            check_proof(&proof, &notes[2], &other_key().verifying_key()).unwrap_err(),
            ProofError::Checkpoint(Failure::BadSignature)
        );
        // Wrong checkpoint (another tree size).
        assert!(matches!(
            check_proof(&proof, &notes[1], &pk),
            Err(ProofError::SizeMismatch { .. })
        ));
        // Claiming another leaf index, or a tampered entry, or path.
        let mut p = proof.clone();
        p.leaf_index = (i + 1) % 21;
        assert!(check_proof(&p, &notes[2], &pk).is_err());
        let mut p = proof.clone();
        p.entry = p
            .entry
            .replacen("\"tokens_out\":20", "\"tokens_out\":21", 1);
        assert_eq!(
            check_proof(&p, &notes[2], &pk).unwrap_err(),
            ProofError::BadEntry
        );
        let mut p = proof.clone();
        p.audit_path[0] = p.audit_path[1].clone();
        assert_eq!(
            check_proof(&p, &notes[2], &pk).unwrap_err(),
            ProofError::PathMismatch
        );
    }
    // A checkpoint note signed by another key for the same tree is rejected.
    let proof = prove(dir.path(), &pk, "3").unwrap();
    let cp = rempart_audit::Checkpoint::open(&notes[2], &pk).unwrap();
    let forged = rempart_audit::note::sign(cp.origin(), cp.size(), cp.root(), &other_key());
    assert!(check_proof(&proof, &forged, &pk).is_err());
    assert!(matches!(
        prove(dir.path(), &pk, "no-such-id"),
        Err(Error::NotFound(_))
    ));
}

fn june() -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        "2026-06-01T00:00:00Z",
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

fn dated(i: u64, month: u8) -> rempart_audit::AuditRecord {
    let mut r = record(i);
    r.ts = format!("2026-{month:02}-01T00:00:{:02}Z", i % 60);
    r
}

#[test]
fn pruning_old_segments_keeps_the_rest_verifiable() {
    let dir = tempfile::tempdir().unwrap();
    let pk = key().verifying_key();
    let log = open(dir.path(), 5, 5);
    for i in 0..12 {
        log.append(dated(i, 1)).unwrap();
    }
    for i in 12..23 {
        log.append(dated(i, 9)).unwrap();
    }
    log.checkpoint().unwrap();
    let cutoff = june();
    let report = log.prune_before(cutoff).unwrap();
    // Segments [0,5) and [5,10) are all January; [10,15) mixes months.
    assert_eq!(report.segments_removed, 2);
    assert_eq!(report.first_retained_seq, 10);
    // The log goes on, and everything retained verifies and is provable.
    for i in 23..30 {
        log.append(dated(i, 10)).unwrap();
    }
    log.close().unwrap();
    let r = verify(dir.path(), &pk, None).unwrap();
    assert_eq!((r.first_seq, r.checked_from, r.checked_to), (10, 10, 30));
    for i in 10..30 {
        let p = prove(dir.path(), &pk, &record(i).id).unwrap();
        check_proof(&p, &p.checkpoint.clone(), &pk).unwrap();
    }
    assert!(matches!(
        prove(dir.path(), &pk, &record(3).id),
        Err(Error::NotFound(_))
    ));
    // Reopen works from the anchor, and tampering in the retained part is found.
    let log = open(dir.path(), 5, 5);
    log.append(dated(30, 11)).unwrap();
    drop(log);
    let segs = segments(dir.path());
    let mut data = std::fs::read(&segs[0].0).unwrap();
    data[30] ^= 1;
    std::fs::write(&segs[0].0, data).unwrap();
    let e = verify(dir.path(), &pk, None).unwrap_err();
    assert!(
        matches!(e.location, rempart_audit::Location::Entry { seq: 10, .. }),
        "{e}"
    );
}

#[test]
fn forged_anchor_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let pk = key().verifying_key();
    let log = open(dir.path(), 5, 5);
    for i in 0..12 {
        log.append(dated(i, 1)).unwrap();
    }
    log.prune_before(june()).unwrap();
    drop(log);
    verify(dir.path(), &pk, None).unwrap();
    let p = dir.path().join("anchor.json");
    let mut a: rempart_audit::CheckpointRecord =
        serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    a.note = rempart_audit::note::sign("rempart/audit", 10, &[3; 32], &other_key());
    std::fs::write(&p, serde_json::to_vec(&a).unwrap()).unwrap();
    let e = verify(dir.path(), &pk, None).unwrap_err();
    assert_eq!(
        (e.failure, e.location),
        (Failure::BadSignature, rempart_audit::Location::Anchor)
    );
}

#[test]
fn tombstones_are_entries_too() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), 100, 100);
    log.append(record(0)).unwrap();
    let t = rempart_audit::Tombstone {
        id: "0190c5a0-0000-7000-8000-ffffffffffff".into(),
        ts: "2026-11-02T00:00:00Z".into(),
        erases: record(0).id,
        reason: "gdpr_art17_request".into(),
    };
    assert_eq!(log.append_tombstone(t.clone()).unwrap().seq, 1);
    log.close().unwrap();
    let entries = rempart_audit::read_entries(dir.path(), &key().verifying_key()).unwrap();
    assert_eq!(entries[1], (1, rempart_audit::EntryBody::Tombstone(t)));
}

#[test]
fn consistency_between_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let pk = key().verifying_key();
    let log = open(dir.path(), 6, 1000);
    for i in 0..20 {
        log.append(record(i)).unwrap();
    }
    log.close().unwrap(); // 6, 12, 18, 20
    let notes: Vec<String> = std::fs::read_to_string(dir.path().join("checkpoints.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<rempart_audit::CheckpointRecord>(l)
                .unwrap()
                .note
        })
        .collect();
    let sizes = [6u64, 12, 18, 20];
    for i in 0..4 {
        for j in i..4 {
            let p = rempart_audit::prove_consistency(dir.path(), &pk, sizes[i], sizes[j]).unwrap();
            rempart_audit::check_consistency(&p, &notes[i], &notes[j], &pk).unwrap();
            if i != j {
                // Swapped notes, or another key, fail.
                assert!(rempart_audit::check_consistency(&p, &notes[j], &notes[i], &pk).is_err());
                assert!(
                    rempart_audit::check_consistency(
                        &p,
                        &notes[i],
                        &notes[j],
                        &other_key().verifying_key()
                    )
                    .is_err()
                );
            }
        }
    }
    // A forked log (same first 12 entries, different after) is not consistent.
    let fork = tempfile::tempdir().unwrap();
    let log = open(fork.path(), 6, 1000);
    for i in 0..20 {
        log.append(record(if i < 12 { i } else { i + 100 }))
            .unwrap();
    }
    log.close().unwrap();
    let fork_notes: Vec<String> = std::fs::read_to_string(fork.path().join("checkpoints.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<rempart_audit::CheckpointRecord>(l)
                .unwrap()
                .note
        })
        .collect();
    let p = rempart_audit::prove_consistency(fork.path(), &pk, 12, 20).unwrap();
    rempart_audit::check_consistency(&p, &fork_notes[1], &fork_notes[3], &pk).unwrap();
    assert_eq!(
        rempart_audit::check_consistency(&p, &notes[1], &fork_notes[3], &pk),
        Ok(()),
        "same prefix: consistent"
    );
    let p = rempart_audit::prove_consistency(fork.path(), &pk, 18, 20).unwrap();
    assert!(rempart_audit::check_consistency(&p, &notes[2], &fork_notes[3], &pk).is_err());
}
