//! Offline verification of a log directory with the public key alone.

use std::path::Path;

use ed25519_dalek::VerifyingKey;

use crate::Checkpoint;
use crate::entry::EntryBody;
use crate::error::{Error, Failure, Location, VerifyError};
use crate::layout::{self, Resume};
use crate::scan::{Scan, ScanEnd};

/// What an honest log's verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// The log's origin (from its checkpoints), if it has any.
    pub origin: Option<String>,
    /// First retained sequence number (0, or the retention anchor's size).
    pub first_seq: u64,
    /// First sequence number checked.
    pub checked_from: u64,
    /// One past the last sequence number checked.
    pub checked_to: u64,
    /// Checkpoints whose signature was checked (all of them).
    pub checkpoints_total: usize,
    /// Checkpoints whose root was recomputed from the entries.
    pub checkpoints_checked: usize,
    /// Tree size of the newest signed checkpoint.
    pub latest_checkpoint: Option<u64>,
    /// Entries after the newest checkpoint: protected by the hash chain only
    /// until the next checkpoint signs them.
    pub unsigned_tail: u64,
}

pub(crate) fn flatten(e: Error) -> VerifyError {
    match e {
        Error::Corrupt(v) => v,
        Error::Io { source, .. } => VerifyError {
            failure: Failure::Io(source.kind().to_string()),
            location: Location::Log,
        },
        other => VerifyError {
            failure: Failure::Layout(other.to_string()),
            location: Location::Log,
        },
    }
}

/// Everything a scan needs, loaded and signature-checked.
pub(crate) struct Loaded {
    pub segments: Vec<u64>,
    pub checkpoints: Vec<(Checkpoint, Resume)>,
    pub anchor: Option<Resume>,
}

impl Loaded {
    pub(crate) fn load(dir: &Path, key: &VerifyingKey) -> Result<Loaded, VerifyError> {
        let checkpoints = layout::load_checkpoints(dir, key).map_err(flatten)?;
        let anchor = match layout::read_anchor(dir).map_err(flatten)? {
            None => None,
            Some(rec) => {
                let (cp, resume) = rec.check(key, Location::Anchor)?;
                // The anchor's signed root must agree with the log's own
                // checkpoint of the same size.
                if let Some((same, _)) = checkpoints.iter().find(|(c, _)| c.size() == cp.size()) {
                    if same.root() != cp.root() || same.origin() != cp.origin() {
                        return Err(VerifyError {
                            failure: Failure::RootMismatch,
                            location: Location::Anchor,
                        });
                    }
                }
                Some(resume)
            }
        };
        let mut segments = layout::list_segments(dir).map_err(flatten)?;
        if let Some(a) = &anchor {
            segments.retain(|&s| s >= a.segment);
        }
        Ok(Loaded {
            segments,
            checkpoints,
            anchor,
        })
    }

    /// Where a full scan starts: the anchor, or the genesis.
    pub(crate) fn origin_resume(&self) -> Resume {
        self.anchor.clone().unwrap_or_else(|| Resume::genesis(0))
    }

    pub(crate) fn scan<'a>(
        &'a self,
        dir: &'a Path,
        stop_at: Option<u64>,
        allow_torn: bool,
    ) -> Scan<'a> {
        Scan {
            dir,
            segments: &self.segments,
            checkpoints: &self.checkpoints,
            stop_at,
            allow_torn,
        }
    }
}

/// Verifies a log directory with only the public key.
///
/// Checks, in this order: every checkpoint's C2SP signature, origin and
/// increasing size; the retention anchor; then every entry from the anchor
/// (or seq 0) — canonical encoding, sequence, entry hash, hash chain — and
/// recomputes the RFC 6962 root at each checkpoint's size. A checkpoint
/// larger than the log is a truncation. The error names the first bad place.
///
/// With `range = Some((from, to))` (inclusive sequence numbers), the scan
/// starts at the newest checkpoint at or before `from` (its stored frontier
/// is checked against its signed root) and stops at the first checkpoint
/// covering `to`, or at the end.
pub fn verify(
    dir: &Path,
    public_key: &VerifyingKey,
    range: Option<(u64, u64)>,
) -> Result<VerifyReport, VerifyError> {
    let loaded = Loaded::load(dir, public_key)?;
    let base = loaded.origin_resume();
    let (start, stop) = match range {
        None => (base.clone(), None),
        Some((from, to)) => {
            if from > to {
                return Err(VerifyError {
                    failure: Failure::Layout("empty range".into()),
                    location: Location::Log,
                });
            }
            let start = loaded
                .checkpoints
                .iter()
                .rev()
                .map(|(_, r)| r)
                .find(|r| r.size <= from && r.size >= base.size)
                .cloned()
                .unwrap_or_else(|| base.clone());
            (start, Some(to.saturating_add(1)))
        }
    };
    let end: ScanEnd = loaded.scan(dir, stop, false).run(&start, |_| {})?;
    let latest = loaded.checkpoints.last().map(|(c, _)| c.size());
    Ok(VerifyReport {
        origin: loaded
            .checkpoints
            .first()
            .map(|(c, _)| c.origin().to_string()),
        first_seq: base.size,
        checked_from: start.size,
        checked_to: end.next_seq,
        checkpoints_total: loaded.checkpoints.len(),
        checkpoints_checked: end.checkpoints_checked,
        latest_checkpoint: latest,
        unsigned_tail: if end.stopped {
            0
        } else {
            end.next_seq - latest.unwrap_or(0).max(base.size).min(end.next_seq)
        },
    })
}

/// Streams every retained entry to `visit`, verifying the whole log as it
/// goes (same checks as [`verify`]); for export and reports over large logs.
/// On a verification error, the entries before the bad one were visited.
pub fn for_each_entry(
    dir: &Path,
    public_key: &VerifyingKey,
    mut visit: impl FnMut(u64, &EntryBody),
) -> Result<(), VerifyError> {
    let loaded = Loaded::load(dir, public_key)?;
    loaded
        .scan(dir, None, false)
        .run(&loaded.origin_resume(), |p| {
            visit(p.stored.seq, &p.stored.entry)
        })?;
    Ok(())
}

/// Reads every retained entry, verifying the whole log as it goes (same
/// checks as [`verify`]); for export and reports.
pub fn read_entries(
    dir: &Path,
    public_key: &VerifyingKey,
) -> Result<Vec<(u64, EntryBody)>, VerifyError> {
    let mut out = Vec::new();
    for_each_entry(dir, public_key, |seq, e| out.push((seq, e.clone())))?;
    Ok(out)
}
