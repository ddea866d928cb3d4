//! The one loop that reads a log: used by `open` (tail), `verify` (all or a
//! range), `prove` (leaf hashes) and `read_entries` (export).

use std::fs::File;
use std::io::{BufRead as _, BufReader, Seek as _, SeekFrom};
use std::path::Path;

use crate::Checkpoint;
use crate::entry::{Hash, LineError, ParsedLine, parse_line, sniff_id};
use crate::error::{Failure, Location, VerifyError};
use crate::layout::{Resume, segment_path};
use crate::merkle::Frontier;

/// Where a scan ended.
#[derive(Debug, Clone)]
pub(crate) struct ScanEnd {
    /// Sequence number the next entry gets.
    pub next_seq: u64,
    /// Entry hash of the last entry.
    pub prev_hash: Hash,
    /// Merkle frontier over all entries so far.
    pub frontier: Frontier,
    /// Last segment read, its length up to the last whole line, and lines.
    pub last_segment: Option<(u64, u64, u64)>,
    /// A torn final fragment: (segment, offset where it starts).
    pub torn: Option<(u64, u64)>,
    /// Checkpoints whose root was compared with the entries.
    pub checkpoints_checked: usize,
    /// Whether the scan stopped early (`stop_at`).
    pub stopped: bool,
}

pub(crate) struct Scan<'a> {
    pub dir: &'a Path,
    pub segments: &'a [u64],
    pub checkpoints: &'a [(Checkpoint, Resume)],
    /// Stop once this many entries are checked, at the next checkpoint.
    pub stop_at: Option<u64>,
    /// Torn final fragment: stop there (open) instead of failing (verify).
    pub allow_torn: bool,
}

impl Scan<'_> {
    /// Reads from `start` to the end (or `stop_at`), checking every line.
    pub(crate) fn run(
        &self,
        start: &Resume,
        mut visit: impl FnMut(&ParsedLine),
    ) -> Result<ScanEnd, VerifyError> {
        let mut seq = start.size;
        let mut prev = start.prev_hash;
        let mut frontier = start.frontier.clone();
        let mut checked = 0;
        // A range scan stops at the first checkpoint at or past `stop_at`, so
        // the range is covered by a signed root; with none, it reads to the end.
        let stop_size = self.stop_at.and_then(|s| {
            self.checkpoints
                .iter()
                .map(|(c, _)| c.size())
                .find(|&c| c >= s)
        });
        // Checkpoints at or before the start can only be compared at equality.
        let start_size = seq;
        let mut cps = self
            .checkpoints
            .iter()
            .enumerate()
            .skip_while(|(_, (c, _))| c.size() < start_size)
            .peekable();
        let compare = |index: usize, cp: &Checkpoint, f: &Frontier| -> Result<(), VerifyError> {
            if f.root() != *cp.root() {
                return Err(VerifyError {
                    failure: Failure::RootMismatch,
                    location: Location::Checkpoint {
                        index,
                        size: Some(cp.size()),
                    },
                });
            }
            Ok(())
        };
        if let Some((i, (cp, _))) = cps.peek() {
            if cp.size() == seq {
                compare(*i, cp, &frontier)?;
                checked += 1;
                cps.next();
            }
        }
        let mut end = ScanEnd {
            next_seq: seq,
            prev_hash: prev,
            frontier: frontier.clone(),
            last_segment: None,
            torn: None,
            checkpoints_checked: 0,
            stopped: false,
        };
        let first = if self.segments.is_empty() && start.size == 0 {
            None
        } else {
            Some(
                self.segments
                    .binary_search(&start.segment)
                    .map_err(|_| VerifyError {
                        failure: Failure::Layout(format!(
                            "segment {:020}.log missing",
                            start.segment
                        )),
                        location: Location::Log,
                    })?,
            )
        };
        if let Some(first) = first {
            'segments: for (si, &seg) in self.segments.iter().enumerate().skip(first) {
                let path = segment_path(self.dir, seg);
                let ioerr = |e: std::io::Error| VerifyError {
                    failure: Failure::Io(e.kind().to_string()),
                    location: Location::Log,
                };
                let mut file = File::open(&path).map_err(ioerr)?;
                let (mut offset, mut line_no) = if si == first {
                    (start.offset, start.line)
                } else {
                    (0, 0)
                };
                let len = file.metadata().map_err(ioerr)?.len();
                if offset > len {
                    return Err(VerifyError {
                        failure: Failure::Layout(format!(
                            "segment {seg:020}.log shorter than a checkpoint says"
                        )),
                        location: Location::Log,
                    });
                }
                file.seek(SeekFrom::Start(offset)).map_err(ioerr)?;
                let mut reader = BufReader::with_capacity(1 << 20, file);
                let mut buf = Vec::with_capacity(4096);
                loop {
                    if stop_size.is_some_and(|s| seq >= s) {
                        end.stopped = true;
                        end.last_segment = Some((seg, offset, line_no));
                        break 'segments;
                    }
                    buf.clear();
                    let n = reader.read_until(b'\n', &mut buf).map_err(ioerr)?;
                    if n == 0 {
                        end.last_segment = Some((seg, offset, line_no));
                        break;
                    }
                    line_no += 1;
                    let loc = |id: Option<String>| Location::Entry {
                        seq,
                        id,
                        file: path.clone(),
                        line: line_no,
                    };
                    if buf.last() != Some(&b'\n') {
                        let is_last = si + 1 == self.segments.len();
                        if is_last && self.allow_torn {
                            end.torn = Some((seg, offset));
                            end.last_segment = Some((seg, offset, line_no - 1));
                            break 'segments;
                        }
                        return Err(VerifyError {
                            failure: Failure::TornTail,
                            location: loc(sniff_id(&buf)),
                        });
                    }
                    let line = &buf[..buf.len() - 1];
                    let parsed = parse_line(line).map_err(|e| VerifyError {
                        failure: match e {
                            LineError::Malformed => Failure::Malformed,
                            LineError::NonCanonical => Failure::NonCanonical,
                        },
                        location: loc(sniff_id(line)),
                    })?;
                    let id = || Some(parsed.stored.entry.id().to_string());
                    if parsed.stored.seq != seq {
                        return Err(VerifyError {
                            failure: Failure::Sequence {
                                expected: seq,
                                found: parsed.stored.seq,
                            },
                            location: loc(id()),
                        });
                    }
                    if parsed.computed_hash != parsed.entry_hash {
                        return Err(VerifyError {
                            failure: Failure::HashMismatch,
                            location: loc(id()),
                        });
                    }
                    if parsed.prev_hash != prev {
                        return Err(VerifyError {
                            failure: Failure::ChainBreak,
                            location: loc(id()),
                        });
                    }
                    frontier.push(&parsed.entry_hash);
                    prev = parsed.entry_hash;
                    seq += 1;
                    offset += n as u64;
                    visit(&parsed);
                    if let Some((i, (cp, _))) = cps.peek() {
                        if cp.size() == seq {
                            compare(*i, cp, &frontier)?;
                            checked += 1;
                            cps.next();
                        }
                    }
                }
            }
        }
        if let Some((index, (cp, _))) = cps.peek() {
            if !end.stopped {
                return Err(VerifyError {
                    failure: Failure::Truncated {
                        checkpoint_size: cp.size(),
                        log_size: seq,
                    },
                    location: Location::Checkpoint {
                        index: *index,
                        size: Some(cp.size()),
                    },
                });
            }
        }
        end.next_seq = seq;
        end.prev_hash = prev;
        end.frontier = frontier;
        end.checkpoints_checked = checked;
        Ok(end)
    }
}
