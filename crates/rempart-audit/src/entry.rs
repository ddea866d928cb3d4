//! The log entry envelope, its canonical encoding and its hash.
//!
//! # Canonical encoding
//!
//! An entry is stored as one line of JSON, terminated by `\n`:
//!
//! ```text
//! {"seq":7,"prev_hash":"<64 hex>","entry_hash":"<64 hex>","entry":{"kind":"record","body":{...}}}
//! ```
//!
//! The bytes are exactly what `serde_json` produces for [`StoredEntry`]:
//! fields in declaration order (the order of [`AuditRecord`](crate::AuditRecord)'s
//! fields, which must never be reordered), no whitespace, maps as
//! `BTreeMap` (sorted keys), integers only (costs are micro-euros, no floats),
//! `null` for absent options, strings with serde_json's minimal escaping
//! (`"` `\\` and control characters; non-ASCII as raw UTF-8). A verifier
//! decodes each line and re-encodes it: any other spelling of the same
//! values (whitespace, key order, escapes, extra or missing fields) is
//! rejected as [`Failure::NonCanonical`](crate::Failure::NonCanonical).
//!
//! # Entry hash (the hash chain)
//!
//! ```text
//! entry_hash = SHA-256( "rempart-audit/entry/v1" || 0x00 || seq (u64 big-endian)
//!                       || prev_hash (32 bytes) || canonical(entry) )
//! ```
//!
//! where `canonical(entry)` is the `{"kind":..,"body":..}` object's bytes and
//! `prev_hash` of entry 0 is 32 zero bytes. The domain-separation prefix keeps
//! entry hashes distinct from RFC 6962 leaf and node hashes. The entry hash is
//! also the Merkle leaf input (see [`crate::merkle`]).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::record::AuditRecord;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// `prev_hash` of the first entry of a log.
pub const GENESIS_PREV_HASH: Hash = [0u8; 32];

const ENTRY_DOMAIN: &[u8] = b"rempart-audit/entry/v1\0";

/// What an entry holds: an audit record, or an erasure tombstone.
// Tombstones are rare and small; boxing records would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "body", rename_all = "snake_case")]
pub enum EntryBody {
    /// One request's audit record.
    Record(AuditRecord),
    /// An erasure tombstone (GDPR Art. 17): states that the subject data
    /// linked to an earlier record was erased. It never removes the earlier
    /// entry (that would break the chain); it records the erasure.
    Tombstone(Tombstone),
}

impl EntryBody {
    /// The audit id of this entry (a record's id or a tombstone's own id).
    pub fn id(&self) -> &str {
        match self {
            EntryBody::Record(r) => &r.id,
            EntryBody::Tombstone(t) => &t.id,
        }
    }

    /// The record, if this entry is one.
    pub fn as_record(&self) -> Option<&AuditRecord> {
        match self {
            EntryBody::Record(r) => Some(r),
            EntryBody::Tombstone(_) => None,
        }
    }
}

/// An erasure tombstone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    /// The tombstone's own audit id (UUIDv7).
    pub id: String,
    /// RFC 3339 UTC timestamp of the erasure.
    pub ts: String,
    /// Audit id of the record whose subject data was erased.
    pub erases: String,
    /// Machine-readable reason (`gdpr_art17_request`, ...).
    pub reason: String,
}

/// One line of a segment file, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredEntry {
    /// Position in the log, from 0, without gaps.
    pub seq: u64,
    /// Hex entry hash of the previous entry (zeros for seq 0).
    pub prev_hash: String,
    /// Hex entry hash of this entry.
    pub entry_hash: String,
    /// The contents.
    pub entry: EntryBody,
}

/// Canonical bytes of an entry body (see the module doc).
pub(crate) fn encode_body(body: &EntryBody) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(body)
}

/// The entry hash over already-canonical body bytes.
pub fn entry_hash(seq: u64, prev_hash: &Hash, body_bytes: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(ENTRY_DOMAIN);
    h.update(seq.to_be_bytes());
    h.update(prev_hash);
    h.update(body_bytes);
    h.finalize().into()
}

/// Appends the canonical line (with `\n`) of an entry to `out`; returns its hash.
pub(crate) fn write_line(out: &mut Vec<u8>, seq: u64, prev_hash: &Hash, body_bytes: &[u8]) -> Hash {
    let hash = entry_hash(seq, prev_hash, body_bytes);
    out.extend_from_slice(b"{\"seq\":");
    out.extend_from_slice(seq.to_string().as_bytes());
    out.extend_from_slice(b",\"prev_hash\":\"");
    out.extend_from_slice(hex::encode(prev_hash).as_bytes());
    out.extend_from_slice(b"\",\"entry_hash\":\"");
    out.extend_from_slice(hex::encode(hash).as_bytes());
    out.extend_from_slice(b"\",\"entry\":");
    out.extend_from_slice(body_bytes);
    out.extend_from_slice(b"}\n");
    hash
}

/// Parses a 64-hex-digit hash.
pub(crate) fn parse_hash(s: &str) -> Option<Hash> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    // Canonical hex is lower-case.
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    Some(out)
}

/// A line that decoded and re-encoded canonically, with its hashes.
pub(crate) struct ParsedLine {
    pub stored: StoredEntry,
    pub prev_hash: Hash,
    pub entry_hash: Hash,
    /// Hash recomputed from the contents.
    pub computed_hash: Hash,
}

/// Why a line could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineError {
    Malformed,
    NonCanonical,
}

/// Decodes a line (without its `\n`), checks it is canonical, recomputes its hash.
pub(crate) fn parse_line(line: &[u8]) -> Result<ParsedLine, LineError> {
    let stored: StoredEntry = serde_json::from_slice(line).map_err(|_| LineError::Malformed)?;
    let prev_hash = parse_hash(&stored.prev_hash).ok_or(LineError::Malformed)?;
    let entry_hash_v = parse_hash(&stored.entry_hash).ok_or(LineError::Malformed)?;
    let body = encode_body(&stored.entry).map_err(|_| LineError::Malformed)?;
    let computed_hash = entry_hash(stored.seq, &prev_hash, &body);
    let mut canonical = Vec::with_capacity(line.len() + 1);
    canonical.extend_from_slice(b"{\"seq\":");
    canonical.extend_from_slice(stored.seq.to_string().as_bytes());
    canonical.extend_from_slice(b",\"prev_hash\":\"");
    canonical.extend_from_slice(stored.prev_hash.as_bytes());
    canonical.extend_from_slice(b"\",\"entry_hash\":\"");
    canonical.extend_from_slice(stored.entry_hash.as_bytes());
    canonical.extend_from_slice(b"\",\"entry\":");
    canonical.extend_from_slice(&body);
    canonical.push(b'}');
    if canonical != line {
        return Err(LineError::NonCanonical);
    }
    Ok(ParsedLine {
        stored,
        prev_hash,
        entry_hash: entry_hash_v,
        computed_hash,
    })
}

/// Best-effort audit id of an unparseable line (for error messages only).
pub(crate) fn sniff_id(line: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(line).ok()?;
    let start = s.find("\"body\":{\"id\":\"")? + "\"body\":{\"id\":\"".len();
    let rest = &s[start..];
    let end = rest.find('"')?;
    let id = &rest[..end];
    // Ids are UUIDs: only echo something that looks like one.
    (id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .then(|| id.to_string())
}
