//! Errors of this crate. `Display` never contains record contents: only
//! paths, sequence numbers, audit ids and the kind of problem.

use std::path::PathBuf;

/// An error of the audit log (opening, appending, proving, pruning).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file-system operation failed.
    #[error("audit log I/O error during {op} on {path}: {source}")]
    Io {
        /// What was being done (`open`, `fsync`, ...).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The log on disk failed verification (on open, or while proving).
    #[error("audit log failed verification: {0}")]
    Corrupt(#[from] VerifyError),
    /// A previous write or fsync failed: the log refuses further appends
    /// (an fsync is never retried: the kernel may have dropped the pages).
    #[error("audit log is poisoned by an earlier write failure; reopen it")]
    Poisoned,
    /// The writer thread is gone (the log was closed).
    #[error("audit log is closed")]
    Closed,
    /// A record could not be encoded (should not happen for valid records).
    #[error("audit record {id} could not be encoded canonically")]
    Encode {
        /// Audit id of the record.
        id: String,
    },
    /// No entry with this audit id or sequence number is retained.
    #[error("no retained audit entry {0}")]
    NotFound(String),
    /// No signed checkpoint covers the entry yet.
    #[error("no signed checkpoint covers entry seq {seq} yet")]
    NotCheckpointed {
        /// Sequence number of the entry.
        seq: u64,
    },
    /// The proof needs a hash of a pruned range that the anchor does not hold.
    #[error("inclusion proof unavailable: part of the tree was pruned")]
    Pruned,
    /// Another process holds this log open for writing (one writer per log:
    /// two would fork the hash chain).
    #[error("audit log {0} is open for writing by another process (a running gateway?)")]
    Locked(PathBuf),
    /// An invalid argument (bad period, bad range, bad timestamp).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Crate result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}

/// Where verification failed: the first bad place, as precisely as known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{failure} ({location})")]
pub struct VerifyError {
    /// What is wrong.
    pub failure: Failure,
    /// Where.
    pub location: Location,
}

/// The place of a verification failure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// An entry: the sequence number expected at this position, the audit id
    /// when the line could be parsed, and file and 1-based line number.
    Entry {
        /// Sequence number expected at this position of the log.
        seq: u64,
        /// Audit id of the entry, when readable.
        id: Option<String>,
        /// Segment file.
        file: PathBuf,
        /// 1-based line number in the segment file.
        line: u64,
    },
    /// A checkpoint: its 0-based index in the checkpoints file, and its tree
    /// size when readable.
    Checkpoint {
        /// 0-based index in the checkpoints file.
        index: usize,
        /// Tree size the checkpoint claims, when readable.
        size: Option<u64>,
    },
    /// The retention anchor file.
    Anchor,
    /// The log as a whole (layout, directory).
    Log,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Entry {
                seq,
                id,
                file,
                line,
            } => {
                write!(f, "entry seq {seq}")?;
                if let Some(id) = id {
                    write!(f, " id {id}")?;
                }
                write!(f, " at {}:{line}", file.display())
            }
            Location::Checkpoint { index, size } => {
                write!(f, "checkpoint #{index}")?;
                if let Some(size) = size {
                    write!(f, " (tree size {size})")?;
                }
                Ok(())
            }
            Location::Anchor => f.write_str("retention anchor"),
            Location::Log => f.write_str("log directory"),
        }
    }
}

/// What verification found wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// The line is not a well-formed entry (bad JSON, missing field, bad hex).
    #[error("malformed entry")]
    Malformed,
    /// The line parses but is not in canonical form (re-encoding differs).
    #[error("entry is not canonically encoded")]
    NonCanonical,
    /// The stored entry hash is not the hash of the entry's contents.
    #[error("entry hash mismatch (contents altered)")]
    HashMismatch,
    /// The entry's `prev_hash` is not the previous entry's hash.
    #[error("hash chain broken (prev_hash does not match the previous entry)")]
    ChainBreak,
    /// The entry's sequence number is not the expected one: an entry was
    /// deleted (found > expected), or reordered/duplicated/inserted.
    #[error("sequence error: expected seq {expected}, found {found}")]
    Sequence {
        /// The expected sequence number.
        expected: u64,
        /// The sequence number found.
        found: u64,
    },
    /// The final line is incomplete (a crash during a write that was never
    /// acknowledged; opening the log for writing removes it), or a line in
    /// the middle lost its newline.
    #[error("incomplete final line")]
    TornTail,
    /// A signed checkpoint covers more entries than the log holds.
    #[error(
        "log truncated: a signed checkpoint covers {checkpoint_size} entries, the log holds {log_size}"
    )]
    Truncated {
        /// Tree size of the checkpoint.
        checkpoint_size: u64,
        /// Entries present.
        log_size: u64,
    },
    /// The Merkle root recomputed from the entries differs from the signed
    /// root: entries up to this checkpoint were rewritten.
    #[error("checkpoint root does not match the entries (log rewritten before this checkpoint)")]
    RootMismatch,
    /// The checkpoint note is malformed (C2SP signed-note / tlog-checkpoint).
    #[error("malformed checkpoint note")]
    CheckpointMalformed,
    /// No valid signature by the expected key (forged, wrong key, or edited).
    #[error("checkpoint signature invalid or made by another key")]
    BadSignature,
    /// Checkpoint tree sizes go backwards, or its origin differs.
    #[error("checkpoint out of order or for another origin")]
    CheckpointOrder,
    /// The frontier stored beside a checkpoint does not hash to its root.
    #[error("stored Merkle frontier does not match the signed root")]
    FrontierMismatch,
    /// A segment file is missing or misnamed.
    #[error("segment layout error: {0}")]
    Layout(String),
    /// An I/O error while reading.
    #[error("I/O error while reading: {0}")]
    Io(String),
}
