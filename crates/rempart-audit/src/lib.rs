//! Tamper-evident audit records: one per request, hash-chained, covered by
//! signed Merkle checkpoints, verifiable offline.
//!
//! A record never holds prompt text, document text or a detected value: only
//! ids, counts, hashes and the routing decision. Errors name sequence
//! numbers, audit ids and files, never record contents.
//!
//! This crate does **not** read clocks in its pure parts (reports and
//! checkpoint policy take `now`/periods as arguments), does not serve HTTP and
//! does not manage keys: the caller passes an `ed25519_dalek::SigningKey`
//! obtained from the key provider.
//!
//! # Overview
//!
//! - [`AuditLog`]: the append-only log in a directory. [`AuditLog::append`]
//!   returns an [`AppendReceipt`] once the entry is fsynced (group commit).
//! - Each entry is `{seq, prev_hash, entry_hash, entry}` in a canonical JSON
//!   line ([`entry`] module doc); `entry` is a record or a [`Tombstone`].
//! - Entries are the leaves of an RFC 6962 Merkle tree ([`merkle`]); signed
//!   checkpoints in the C2SP signed-note format ([`note`]) are emitted per
//!   [`CheckpointPolicy`].
//! - [`verify`] checks a directory with the public key alone and names the
//!   first bad entry or checkpoint; [`prove`] / [`check_proof`] give and
//!   check inclusion proofs.
//! - [`report`]: JSONL/CSV export, residency report, GDPR Art. 30 register —
//!   pure functions over records.
//!
//! ```
//! use rempart_audit::{AuditLog, CheckpointPolicy, verify};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
//! let public = key.verifying_key();
//! let log = AuditLog::open(dir.path(), key, CheckpointPolicy { every_records: 2, every_secs: 60 })?;
//! # let record: rempart_audit::AuditRecord = serde_json::from_str(rempart_audit::report::EXAMPLE_RECORD_JSON)?;
//! let receipt = log.append(record)?; // durable on return
//! log.close()?;                      // signs a final checkpoint
//! let report = verify(dir.path(), &public, None)?;
//! assert_eq!(report.checked_to, receipt.seq + 1);
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Nested `if let` kept: let-chains need Rust 1.88, the workspace targets 1.85.
#![allow(clippy::collapsible_if)]

pub mod entry;
mod error;
mod layout;
mod log;
pub mod merkle;
pub mod note;
mod proof;
mod record;
pub mod report;
mod scan;
mod verify;

// The public interface is:
pub use entry::{EntryBody, Hash, StoredEntry, Tombstone};
pub use error::{Error, Failure, Location, Result, VerifyError};
pub use layout::CheckpointRecord;
pub use log::{
    AppendReceipt, AuditLog, CheckpointInfo, CheckpointPolicy, DEFAULT_RETENTION, Options,
    PendingAppend, PruneReport, retention_cutoff,
};
pub use note::Checkpoint;
pub use proof::{
    ConsistencyProof, InclusionProof, ProofError, ProvenEntry, check_consistency, check_proof,
    prove, prove_consistency,
};
pub use record::{AuditRecord, DecisionRecord, Outcome, RejectedCandidate};
pub use verify::{VerifyReport, for_each_entry, read_entries, verify};
