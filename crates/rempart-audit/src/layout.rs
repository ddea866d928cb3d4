//! The directory layout of a log, and the small files beside the segments.
//!
//! ```text
//! <dir>/segments/<first seq, 20 digits>.log   entries, one canonical line each
//! <dir>/checkpoints.jsonl                     one CheckpointRecord per line
//! <dir>/LOCK                                  empty; a writer holds an exclusive lock on it
//! <dir>/anchor.json                           retention anchor (after pruning)
//! ```

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::entry::{Hash, parse_hash};
use crate::error::{Error, Failure, Location, Result, VerifyError, io};
use crate::merkle::Frontier;

pub(crate) const SEGMENTS: &str = "segments";
pub(crate) const CHECKPOINTS: &str = "checkpoints.jsonl";
pub(crate) const ANCHOR: &str = "anchor.json";

/// One line of `checkpoints.jsonl`: the signed note plus the unsigned state
/// needed to resume at that point. The state is never trusted on its own:
/// the frontier must hash to the signed root, and `prev_hash` is the entry
/// hash of leaf `size - 1`, so a wrong one breaks the next checkpoint's root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointRecord {
    /// The C2SP signed note.
    pub note: String,
    /// Hex entry hash of entry `size - 1` (zeros for size 0).
    pub prev_hash: String,
    /// Hex Merkle frontier of the tree of `size` leaves.
    pub frontier: Vec<String>,
    /// Name (first seq) of the segment where entry `size` will start.
    pub segment: u64,
    /// Byte offset of entry `size` in that segment.
    pub offset: u64,
    /// Lines before `offset` in that segment.
    pub line: u64,
}

/// Resume state decoded from a [`CheckpointRecord`].
#[derive(Debug, Clone)]
pub(crate) struct Resume {
    pub size: u64,
    pub prev_hash: Hash,
    pub frontier: Frontier,
    pub segment: u64,
    pub offset: u64,
    pub line: u64,
}

impl Resume {
    pub(crate) fn genesis(first_segment: u64) -> Resume {
        Resume {
            size: 0,
            prev_hash: crate::entry::GENESIS_PREV_HASH,
            frontier: Frontier::new(),
            segment: first_segment,
            offset: 0,
            line: 0,
        }
    }
}

impl CheckpointRecord {
    pub(crate) fn new(
        note: String,
        prev_hash: &Hash,
        frontier: &Frontier,
        segment: u64,
        offset: u64,
        line: u64,
    ) -> Self {
        CheckpointRecord {
            note,
            prev_hash: hex::encode(prev_hash),
            frontier: frontier.nodes().iter().map(hex::encode).collect(),
            segment,
            offset,
            line,
        }
    }

    /// Checks the signature and the stored state against the signed root.
    pub(crate) fn check(
        &self,
        key: &ed25519_dalek::VerifyingKey,
        location: Location,
    ) -> Result<(crate::Checkpoint, Resume), VerifyError> {
        let fail = |failure| VerifyError {
            failure,
            location: location.clone(),
        };
        let cp = crate::Checkpoint::open(&self.note, key).map_err(fail)?;
        let nodes: Option<Vec<Hash>> = self.frontier.iter().map(|h| parse_hash(h)).collect();
        let frontier = nodes
            .and_then(|n| Frontier::from_parts(cp.size(), n))
            .ok_or_else(|| fail(Failure::FrontierMismatch))?;
        if frontier.root() != *cp.root() {
            return Err(fail(Failure::FrontierMismatch));
        }
        let prev_hash = parse_hash(&self.prev_hash).ok_or_else(|| fail(Failure::Malformed))?;
        let resume = Resume {
            size: cp.size(),
            prev_hash,
            frontier,
            segment: self.segment,
            offset: self.offset,
            line: self.line,
        };
        Ok((cp, resume))
    }
}

pub(crate) fn segments_dir(dir: &Path) -> PathBuf {
    dir.join(SEGMENTS)
}

pub(crate) fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    segments_dir(dir).join(format!("{first_seq:020}.log"))
}

/// Segment names (first seqs), ascending.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u64>> {
    let sdir = segments_dir(dir);
    let mut out = Vec::new();
    for e in fs::read_dir(&sdir).map_err(io("read_dir", &sdir))? {
        let e = e.map_err(io("read_dir", &sdir))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        let Some(stem) = name.strip_suffix(".log") else {
            continue;
        };
        if stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()) {
            out.push(stem.parse().expect("20 digits fit in u64 here"));
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Raw lines of `checkpoints.jsonl`; a final line without `\n` (a write torn
/// by a crash, never acknowledged) is left out and its length returned.
pub(crate) fn read_checkpoint_lines(dir: &Path) -> Result<(Vec<Vec<u8>>, u64)> {
    let path = dir.join(CHECKPOINTS);
    let data = match fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(io("read", &path)(e)),
    };
    let mut lines: Vec<Vec<u8>> = data
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    let mut torn = 0;
    if lines.last().is_some_and(|l| !l.ends_with(b"\n")) {
        torn = lines.pop().map_or(0, |l| l.len() as u64);
    }
    for l in &mut lines {
        l.pop();
    }
    Ok((lines, torn))
}

/// Parses and checks every checkpoint: signatures, origin, increasing sizes.
pub(crate) fn load_checkpoints(
    dir: &Path,
    key: &ed25519_dalek::VerifyingKey,
) -> Result<Vec<(crate::Checkpoint, Resume)>> {
    let (lines, _torn) = read_checkpoint_lines(dir)?;
    let mut out: Vec<(crate::Checkpoint, Resume)> = Vec::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        let rec: CheckpointRecord = serde_json::from_slice(line).map_err(|_| VerifyError {
            failure: Failure::CheckpointMalformed,
            location: Location::Checkpoint { index, size: None },
        })?;
        let loc = Location::Checkpoint { index, size: None };
        let (cp, resume) = rec.check(key, loc)?;
        if let Some((prev, _)) = out.last() {
            if cp.size() <= prev.size() || cp.origin() != prev.origin() {
                return Err(VerifyError {
                    failure: Failure::CheckpointOrder,
                    location: Location::Checkpoint {
                        index,
                        size: Some(cp.size()),
                    },
                }
                .into());
            }
        }
        out.push((cp, resume));
    }
    Ok(out)
}

/// The retention anchor: the checkpoint at the prune point.
pub(crate) fn read_anchor(dir: &Path) -> Result<Option<CheckpointRecord>> {
    let path = dir.join(ANCHOR);
    match fs::read(&path) {
        Ok(d) => serde_json::from_slice(&d).map(Some).map_err(|_| {
            VerifyError {
                failure: Failure::Malformed,
                location: Location::Anchor,
            }
            .into()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("read", &path)(e)),
    }
}

/// Writes the anchor atomically (temp file, fsync, rename, fsync dir).
pub(crate) fn write_anchor(dir: &Path, rec: &CheckpointRecord) -> Result<()> {
    let tmp = dir.join("anchor.json.tmp");
    let path = dir.join(ANCHOR);
    let mut f = fs::File::create(&tmp).map_err(io("create", &tmp))?;
    let bytes = serde_json::to_vec(rec).map_err(|_| Error::InvalidArgument("anchor".into()))?;
    f.write_all(&bytes).map_err(io("write", &tmp))?;
    f.sync_all().map_err(io("fsync", &tmp))?;
    fs::rename(&tmp, &path).map_err(io("rename", &path))?;
    sync_dir(dir)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("fsync", dir))
}
