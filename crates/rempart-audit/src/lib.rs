//! Tamper-evident audit records: one per request, hash-chained, covered by
//! signed Merkle checkpoints, verifiable offline.
//!
//! A record never holds prompt text, document text or a detected value: only
//! ids, counts, hashes and the routing decision.

mod record;

// The public interface is:
pub use record::{AuditRecord, DecisionRecord, Outcome, RejectedCandidate};
