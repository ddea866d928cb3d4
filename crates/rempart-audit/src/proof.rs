//! Inclusion proofs any third party can check with the public key alone.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::Checkpoint;
use crate::entry::{Hash, StoredEntry, parse_line};
use crate::error::{Error, Result};
use crate::merkle::{PartialTree, leaf_hash, verify_inclusion};
use crate::verify::Loaded;

/// Proof that one entry is leaf `seq` of the tree a signed checkpoint commits
/// to: the canonical entry line, its RFC 6962 §2.1.1 audit path, and the
/// checkpoint note. Serialize it as JSON to hand it over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// Format version (1).
    pub version: u32,
    /// The canonical entry line (without `\n`), exactly as stored.
    pub entry: String,
    /// Leaf index (= sequence number).
    pub leaf_index: u64,
    /// Tree size of the checkpoint the path leads to.
    pub tree_size: u64,
    /// Base64 audit path, bottom-up.
    pub audit_path: Vec<String>,
    /// The C2SP checkpoint note of that tree size.
    pub checkpoint: String,
}

/// What a valid proof established.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProvenEntry {
    /// The entry, decoded.
    pub entry: StoredEntry,
    /// The checkpoint it is included in.
    pub checkpoint: Checkpoint,
}

/// Why a proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The checkpoint note is malformed or not signed by the key.
    #[error("checkpoint rejected: {0}")]
    Checkpoint(crate::Failure),
    /// The proof is for another tree size than the checkpoint.
    #[error("proof is for tree size {proof}, checkpoint has {checkpoint}")]
    SizeMismatch {
        /// Size in the proof.
        proof: u64,
        /// Size in the checkpoint.
        checkpoint: u64,
    },
    /// The entry line is not a canonical entry, or its hash is wrong, or its
    /// seq differs from the leaf index.
    #[error("entry in the proof is invalid")]
    BadEntry,
    /// The audit path does not lead to the checkpoint's root.
    #[error("audit path does not lead to the checkpoint root")]
    PathMismatch,
    /// The proof document is malformed.
    #[error("malformed proof")]
    Malformed,
}

/// Builds an inclusion proof for the entry with this audit id (or decimal
/// sequence number), against the newest checkpoint that covers it. The log
/// is verified while reading.
pub fn prove(dir: &Path, public_key: &VerifyingKey, id_or_seq: &str) -> Result<InclusionProof> {
    let loaded = Loaded::load(dir, public_key)?;
    let base = loaded.origin_resume();
    let want_seq: Option<u64> = id_or_seq.parse().ok();
    let mut leaves: Vec<Hash> = Vec::new();
    let mut found: Option<(u64, String)> = None;
    let mut line = Vec::new();
    loaded.scan(dir, None, false).run(&base, |p| {
        leaves.push(leaf_hash(&p.entry_hash));
        if found.is_none() && (want_seq == Some(p.stored.seq) || p.stored.entry.id() == id_or_seq) {
            line.clear();
            crate::entry::write_line(
                &mut line,
                p.stored.seq,
                &p.prev_hash,
                &crate::entry::encode_body(&p.stored.entry).expect("decoded entries re-encode"),
            );
            line.pop();
            found = Some((
                p.stored.seq,
                String::from_utf8(line.clone()).expect("JSON is UTF-8"),
            ));
        }
    })?;
    let (seq, entry) = found.ok_or_else(|| Error::NotFound(id_or_seq.to_string()))?;
    let (cp_index, cp) = loaded
        .checkpoints
        .iter()
        .enumerate()
        .rev()
        .find(|(_, (c, _))| c.size() > seq)
        .map(|(i, (c, _))| (i, c))
        .ok_or(Error::NotCheckpointed { seq })?;
    let tree = PartialTree {
        prefix: &base.frontier,
        leaves: &leaves,
    };
    let path = tree.path(seq, cp.size()).ok_or(Error::Pruned)?;
    let (lines, _) = crate::layout::read_checkpoint_lines(dir)?;
    let rec: crate::layout::CheckpointRecord = serde_json::from_slice(&lines[cp_index])
        .map_err(|_| Error::InvalidArgument("checkpoint".into()))?;
    Ok(InclusionProof {
        version: 1,
        entry,
        leaf_index: seq,
        tree_size: cp.size(),
        audit_path: path.iter().map(|h| B64.encode(h)).collect(),
        checkpoint: rec.note,
    })
}

/// Checks an inclusion proof against a checkpoint note with only the public
/// key: the note's signature (C2SP signed-note), the entry's canonical form
/// and hash, and the RFC 6962 audit path up to the signed root.
///
/// `checkpoint_note` is the checkpoint the verifier trusts (e.g. one it
/// fetched or witnessed); pass `&proof.checkpoint` to use the one inside.
pub fn check_proof(
    proof: &InclusionProof,
    checkpoint_note: &str,
    public_key: &VerifyingKey,
) -> Result<ProvenEntry, ProofError> {
    if proof.version != 1 {
        return Err(ProofError::Malformed);
    }
    let cp = Checkpoint::open(checkpoint_note, public_key).map_err(ProofError::Checkpoint)?;
    if cp.size() != proof.tree_size {
        return Err(ProofError::SizeMismatch {
            proof: proof.tree_size,
            checkpoint: cp.size(),
        });
    }
    let parsed = parse_line(proof.entry.as_bytes()).map_err(|_| ProofError::BadEntry)?;
    if parsed.computed_hash != parsed.entry_hash || parsed.stored.seq != proof.leaf_index {
        return Err(ProofError::BadEntry);
    }
    let path: Vec<Hash> = proof
        .audit_path
        .iter()
        .map(|s| B64.decode(s).ok().and_then(|v| Hash::try_from(v).ok()))
        .collect::<Option<_>>()
        .ok_or(ProofError::Malformed)?;
    if !verify_inclusion(
        proof.leaf_index,
        cp.size(),
        &leaf_hash(&parsed.entry_hash),
        &path,
        cp.root(),
    ) {
        return Err(ProofError::PathMismatch);
    }
    Ok(ProvenEntry {
        entry: parsed.stored,
        checkpoint: cp,
    })
}

/// Proof that the tree of `old_size` entries is a prefix of the tree of
/// `new_size` entries (RFC 6962 §2.1.2): the log was only appended to
/// between two checkpoints. Serialize it as JSON to hand it over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// Format version (1).
    pub version: u32,
    /// Size of the older tree.
    pub old_size: u64,
    /// Size of the newer tree.
    pub new_size: u64,
    /// Base64 consistency path.
    pub path: Vec<String>,
}

/// Builds a consistency proof between two tree sizes of the log (both at
/// most the log's size; after pruning, sizes inside the pruned prefix may be
/// unprovable: [`Error::Pruned`]). The log is verified while reading.
pub fn prove_consistency(
    dir: &Path,
    public_key: &VerifyingKey,
    old_size: u64,
    new_size: u64,
) -> Result<ConsistencyProof> {
    if old_size > new_size {
        return Err(Error::InvalidArgument("old_size > new_size".into()));
    }
    let loaded = Loaded::load(dir, public_key)?;
    let base = loaded.origin_resume();
    let mut leaves: Vec<Hash> = Vec::new();
    loaded
        .scan(dir, None, false)
        .run(&base, |p| leaves.push(leaf_hash(&p.entry_hash)))?;
    if new_size > base.size + leaves.len() as u64 {
        return Err(Error::NotFound(format!("tree size {new_size}")));
    }
    let tree = PartialTree {
        prefix: &base.frontier,
        leaves: &leaves,
    };
    let path = tree.consistency(old_size, new_size).ok_or(Error::Pruned)?;
    Ok(ConsistencyProof {
        version: 1,
        old_size,
        new_size,
        path: path.iter().map(|h| B64.encode(h)).collect(),
    })
}

/// Checks a consistency proof between two signed checkpoint notes with only
/// the public key (RFC 9162 §2.1.4.2).
pub fn check_consistency(
    proof: &ConsistencyProof,
    old_note: &str,
    new_note: &str,
    public_key: &VerifyingKey,
) -> Result<(), ProofError> {
    if proof.version != 1 {
        return Err(ProofError::Malformed);
    }
    let old = Checkpoint::open(old_note, public_key).map_err(ProofError::Checkpoint)?;
    let new = Checkpoint::open(new_note, public_key).map_err(ProofError::Checkpoint)?;
    if old.size() != proof.old_size || new.size() != proof.new_size {
        return Err(ProofError::SizeMismatch {
            proof: proof.new_size,
            checkpoint: new.size(),
        });
    }
    if old.origin() != new.origin() {
        return Err(ProofError::Malformed);
    }
    let path: Vec<Hash> = proof
        .path
        .iter()
        .map(|s| B64.decode(s).ok().and_then(|v| Hash::try_from(v).ok()))
        .collect::<Option<_>>()
        .ok_or(ProofError::Malformed)?;
    if crate::merkle::verify_consistency(old.size(), new.size(), old.root(), new.root(), &path) {
        Ok(())
    } else {
        Err(ProofError::PathMismatch)
    }
}
