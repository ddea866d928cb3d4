//! The append-only log on disk, with group commit.
//!
//! # Durability contract
//!
//! [`AuditLog::append`] returns only after the entry's bytes are written and
//! `fdatasync`ed. Appends are queued to one writer thread; it takes every
//! append waiting in its queue (up to [`Options::max_batch`]), writes them in
//! one `write`, syncs once, then answers all of them: concurrent appenders
//! share one fsync (group commit). A failed write or fsync poisons the log:
//! every pending and later append fails ([`Error::Poisoned`]); an fsync is
//! never retried, because after a failure the kernel may have dropped the
//! dirty pages.
//!
//! With [`Options::fsync`] off there is nothing to share: each appender
//! chains, hashes and `write`s its entry on its own thread under the
//! writer's lock (no hand-off to the writer thread and back, two thread
//! wake-ups fewer per append). The writer thread then only signs
//! checkpoints — syncing the entries they cover first — when an append
//! makes one due or its time comes.
//!
//! # Crash recovery
//!
//! Because nothing is acknowledged before its fsync, a final line without its
//! `\n` after a crash belongs to an append that was never acknowledged (the
//! process died between `write` and the end of `fsync`). [`AuditLog::open`]
//! truncates such a fragment away, and only that: any other anomaly —
//! a complete line that fails a check, a missing entry a checkpoint covers —
//! is tampering or media corruption and makes `open` fail with
//! [`Error::Corrupt`]. (This assumes the file system persists appended data
//! as a prefix, as ext4/xfs do for `O_APPEND` data followed by `fdatasync`.)
//! On open, the tail from the newest checkpoint to the end is verified; run
//! [`crate::verify`] for the whole log.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ed25519_dalek::{SigningKey, VerifyingKey};
use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::AuditRecord;
use crate::entry::{EntryBody, Hash, Tombstone, encode_body, write_line};
use crate::error::{Error, Result, io};
use crate::layout::{self, CheckpointRecord, Resume};
use crate::merkle::Frontier;
use crate::note;
use crate::verify::{Loaded, flatten};

/// Default retention: 184 days, at least six calendar months (EU AI Act
/// Art. 19(1) and Art. 26(6): logs kept for at least six months).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(184 * 24 * 3600);

/// Pure: the prune cutoff for a retention period at `now`
/// (`now - retention`); pass it to [`AuditLog::prune_before`].
pub fn retention_cutoff(now: OffsetDateTime, retention: Duration) -> OffsetDateTime {
    now - retention
}

/// When to sign a checkpoint: after `every_records` new entries, or
/// `every_secs` seconds after the oldest unsigned entry, whichever first.
/// The writer checks after each group commit, so under load a checkpoint
/// may cover a whole batch more than `every_records`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// Entries between checkpoints (at least 1).
    pub every_records: u64,
    /// Seconds between checkpoints while entries are pending.
    pub every_secs: u64,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        CheckpointPolicy {
            every_records: 1000,
            every_secs: 10,
        }
    }
}

impl CheckpointPolicy {
    /// Pure: is a checkpoint due with `pending` unsigned entries, `elapsed`
    /// since the last checkpoint (or since the first unsigned entry)?
    pub fn is_due(&self, pending: u64, elapsed: Duration) -> bool {
        pending > 0
            && (pending >= self.every_records.max(1) || elapsed.as_secs() >= self.every_secs)
    }
}

/// Options of [`AuditLog::open_with`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Origin line of checkpoints (C2SP: a unique, URL-like log name).
    pub origin: String,
    /// When to checkpoint.
    pub checkpoint: CheckpointPolicy,
    /// A new segment starts at the first checkpoint after this many entries
    /// in the current one (segments are the unit of pruning).
    pub segment_records: u64,
    /// Most appends per group commit.
    pub max_batch: usize,
    /// `true`: every group commit is fsynced before its appenders are
    /// answered (survives power loss). `false`: entries are written to the
    /// OS before the answer (they survive a crash of the process, SIGKILL
    /// included) and fsynced when a checkpoint is signed, so a power loss
    /// can lose at most the entries since the last checkpoint — which that
    /// checkpoint's absence then shows.
    pub fsync: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            origin: "rempart/audit".into(),
            checkpoint: CheckpointPolicy::default(),
            segment_records: 1_000_000,
            max_batch: 4096,
            fsync: true,
        }
    }
}

/// Proof of a durable append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendReceipt {
    /// Sequence number (= Merkle leaf index).
    pub seq: u64,
    /// Audit id of the entry.
    pub id: String,
    /// Entry hash.
    pub entry_hash: Hash,
}

/// A checkpoint just signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// Tree size.
    pub size: u64,
    /// The C2SP note.
    pub note: String,
}

/// What pruning removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PruneReport {
    /// Segments deleted.
    pub segments_removed: usize,
    /// First sequence number still retained.
    pub first_retained_seq: u64,
}

/// An append in flight: `wait()` blocks; `.await` works on any runtime.
#[derive(Debug)]
pub struct PendingAppend(Pending);

#[derive(Debug)]
enum Pending {
    /// Queued to the writer thread (group commit with fsync).
    Queued(oneshot::Receiver<Result<AppendReceipt>>),
    /// Already written by the appender's own thread (`fsync = false`), or
    /// refused; `None` once taken.
    Done(Option<Result<AppendReceipt>>),
}

impl PendingAppend {
    fn done(r: Result<AppendReceipt>) -> PendingAppend {
        PendingAppend(Pending::Done(Some(r)))
    }

    /// Blocks until durable. Do not call on an async runtime thread (use
    /// `.await`, or `spawn_blocking`).
    pub fn wait(self) -> Result<AppendReceipt> {
        match self.0 {
            Pending::Queued(rx) => rx.blocking_recv().unwrap_or(Err(Error::Closed)),
            Pending::Done(r) => r.unwrap_or(Err(Error::Closed)),
        }
    }
}

impl std::future::Future for PendingAppend {
    type Output = Result<AppendReceipt>;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match &mut self.0 {
            Pending::Queued(rx) => std::pin::Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or(Err(Error::Closed))),
            Pending::Done(r) => std::task::Poll::Ready(r.take().unwrap_or(Err(Error::Closed))),
        }
    }
}

enum Cmd {
    Append {
        id: String,
        body: Vec<u8>,
        reply: oneshot::Sender<Result<AppendReceipt>>,
    },
    Checkpoint {
        reply: oneshot::Sender<Result<Option<CheckpointInfo>>>,
    },
    Prune {
        cutoff: OffsetDateTime,
        reply: oneshot::Sender<Result<PruneReport>>,
    },
    /// An inline append made a checkpoint due, or started the unsigned
    /// period whose deadline the writer thread must now watch.
    Tick,
}

/// The append-only audit log of one directory. `Send + Sync`: share it in an
/// `Arc`. Dropping it waits for queued appends and stops the writer thread
/// without signing; [`AuditLog::close`] signs a final checkpoint first.
#[derive(Debug)]
pub struct AuditLog {
    tx: Option<mpsc::Sender<Cmd>>,
    writer: Option<JoinHandle<()>>,
    /// The writer's state: locked by the writer thread for each group
    /// commit, checkpoint and prune, and by appenders themselves when
    /// `fsync` is off (a `write` to the page cache needs no group commit,
    /// and doing it on the caller's thread saves two thread wake-ups per
    /// append).
    state: Arc<Mutex<Writer>>,
    inline: bool,
    dir: PathBuf,
    public_key: VerifyingKey,
    /// Held for the log's lifetime: an exclusive advisory lock on `LOCK`.
    _lock: File,
}

// === impl AuditLog ===

impl AuditLog {
    /// Opens (or creates) the log in `dir` with default options.
    pub fn open(
        dir: impl AsRef<Path>,
        signing_key: SigningKey,
        policy: CheckpointPolicy,
    ) -> Result<AuditLog> {
        Self::open_with(
            dir,
            signing_key,
            Options {
                checkpoint: policy,
                ..Options::default()
            },
        )
    }

    /// Opens (or creates) the log: verifies the tail from the newest
    /// checkpoint, removes a torn unacknowledged final line, starts the writer.
    pub fn open_with(
        dir: impl AsRef<Path>,
        signing_key: SigningKey,
        options: Options,
    ) -> Result<AuditLog> {
        let dir = dir.as_ref().to_path_buf();
        let sdir = layout::segments_dir(&dir);
        fs::create_dir_all(&sdir).map_err(io("create_dir", &sdir))?;
        layout::sync_dir(&dir)?;
        let lock = lock_dir(&dir)?;
        let public_key = signing_key.verifying_key();
        // A torn checkpoint line was never relied upon: drop it.
        let (_, torn) = layout::read_checkpoint_lines(&dir)?;
        let cp_path = dir.join(layout::CHECKPOINTS);
        if torn > 0 {
            let len = fs::metadata(&cp_path).map_err(io("stat", &cp_path))?.len();
            truncate(&cp_path, len - torn)?;
        }
        let loaded = Loaded::load(&dir, &public_key)?;
        let base = loaded.origin_resume();
        let tail_start = loaded
            .checkpoints
            .last()
            .map(|(_, r)| r.clone())
            // At equal size, the anchor (it points into a retained segment).
            .filter(|r| r.size > base.size)
            .unwrap_or_else(|| base.clone());
        let tail = if seam_ok(&dir, &tail_start) {
            loaded.scan(&dir, None, true).run(&tail_start, |_| {})
        } else {
            Err(crate::VerifyError {
                failure: crate::Failure::ChainBreak,
                location: crate::Location::Log,
            })
        };
        let end = match tail {
            Ok(end) => end,
            // The resume point itself may be off; a full scan names the place.
            Err(_) => loaded
                .scan(&dir, None, true)
                .run(&base, |_| {})
                .map_err(Error::Corrupt)?,
        };
        if let Some((seg, offset)) = end.torn {
            truncate(&layout::segment_path(&dir, seg), offset)?;
        }
        let (segment, seg_len, seg_lines) = match end.last_segment {
            Some(s) => s,
            None => {
                let seg = base.segment.max(base.size);
                File::create(layout::segment_path(&dir, seg)).map_err(io("create", &sdir))?;
                layout::sync_dir(&sdir)?;
                (seg, 0, 0)
            }
        };
        let seg_path = layout::segment_path(&dir, segment);
        let file = OpenOptions::new()
            .append(true)
            .open(&seg_path)
            .map_err(io("open", &seg_path))?;
        let cp_file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&cp_path)
            .map_err(io("open", &cp_path))?;
        layout::sync_dir(&dir)?;
        let last_cp = loaded.checkpoints.last().map_or(0, |(c, _)| c.size());
        let writer = Writer {
            dir: dir.clone(),
            key: signing_key,
            options,
            file,
            segment,
            seg_len,
            seg_lines,
            seq: end.next_seq,
            prev: end.prev_hash,
            frontier: end.frontier,
            last_cp_size: last_cp,
            oldest_unsigned: (end.next_seq > last_cp).then(Instant::now),
            cp_file,
            poisoned: false,
            buf: Vec::with_capacity(1 << 20),
        };
        let inline = !writer.options.fsync;
        let state = Arc::new(Mutex::new(writer));
        let (tx, rx) = mpsc::channel();
        let shared = state.clone();
        let handle = std::thread::Builder::new()
            .name("rempart-audit-writer".into())
            .spawn(move || Writer::run(&shared, rx))
            .map_err(io("spawn", &dir))?;
        Ok(AuditLog {
            tx: Some(tx),
            writer: Some(handle),
            state,
            inline,
            dir,
            public_key,
            _lock: lock,
        })
    }

    /// Appends a record; returns once it is durable (blocking). Safe from
    /// `tokio::task::spawn_blocking`; on a runtime thread use [`Self::submit`].
    pub fn append(&self, record: AuditRecord) -> Result<AppendReceipt> {
        self.submit(record).wait()
    }

    /// Queues a record; the returned handle resolves once it is durable.
    pub fn submit(&self, record: AuditRecord) -> PendingAppend {
        self.submit_body(EntryBody::Record(record))
    }

    /// Appends an erasure tombstone (blocking, durable on return).
    pub fn append_tombstone(&self, tombstone: Tombstone) -> Result<AppendReceipt> {
        self.submit_tombstone(tombstone).wait()
    }

    /// Queues an erasure tombstone; the handle resolves once it is durable.
    pub fn submit_tombstone(&self, tombstone: Tombstone) -> PendingAppend {
        self.submit_body(EntryBody::Tombstone(tombstone))
    }

    fn submit_body(&self, body: EntryBody) -> PendingAppend {
        let id = body.id().to_string();
        // Encode on the caller's thread: the writer only hashes and writes.
        let Ok(bytes) = encode_body(&body) else {
            return PendingAppend::done(Err(Error::Encode { id }));
        };
        if self.inline {
            return PendingAppend::done(self.append_inline(id, &bytes));
        }
        let (reply, rx) = oneshot::channel();
        match self.send(Cmd::Append {
            id,
            body: bytes,
            reply,
        }) {
            Ok(()) => PendingAppend(Pending::Queued(rx)),
            Err(e) => PendingAppend::done(Err(e)),
        }
    }

    /// `fsync = false`: hash, chain and `write` the entry on this thread;
    /// checkpoints stay with the writer thread (signing and their fsync are
    /// off the request path), woken only when one becomes due or the first
    /// unsigned entry starts the checkpoint clock.
    fn append_inline(&self, id: String, body: &[u8]) -> Result<AppendReceipt> {
        if self.tx.is_none() {
            return Err(Error::Closed);
        }
        let (receipt, wake) = {
            let mut w = self.state.lock().map_err(|_| Error::Poisoned)?;
            let first_unsigned = w.oldest_unsigned.is_none();
            let receipt = w.stage(id, body)?;
            w.flush()?;
            (receipt, first_unsigned || w.checkpoint_due())
        };
        if wake {
            let _ = self.send(Cmd::Tick);
        }
        Ok(receipt)
    }

    /// Signs a checkpoint now if entries are unsigned; returns it.
    pub fn checkpoint(&self) -> Result<Option<CheckpointInfo>> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Checkpoint { reply })?;
        rx.blocking_recv().unwrap_or(Err(Error::Closed))
    }

    /// Deletes whole segments whose entries are all older than `cutoff`
    /// (never the active segment), after writing a retention anchor: the
    /// signed checkpoint at the first retained entry, with its Merkle
    /// frontier and chain hash, so what remains still verifies.
    pub fn prune_before(&self, cutoff: OffsetDateTime) -> Result<PruneReport> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Prune { cutoff, reply })?;
        rx.blocking_recv().unwrap_or(Err(Error::Closed))
    }

    /// Signs a final checkpoint and stops the writer.
    pub fn close(mut self) -> Result<()> {
        let r = self.checkpoint().map(|_| ());
        self.shutdown();
        r
    }

    /// The public key that verifies this log's checkpoints.
    pub fn public_key(&self) -> VerifyingKey {
        self.public_key
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn send(&self, cmd: Cmd) -> Result<()> {
        self.tx
            .as_ref()
            .ok_or(Error::Closed)?
            .send(cmd)
            .map_err(|_| Error::Closed)
    }

    fn shutdown(&mut self) {
        self.tx.take();
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Takes the single-writer lock of a log directory (released when the file
/// is closed, including when the process dies).
fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join("LOCK");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io("open", &path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(Error::Locked(dir.to_path_buf())),
        Err(fs::TryLockError::Error(e)) => Err(io("lock", &path)(e)),
    }
}

/// The entry just before a checkpoint's resume offset must be entry
/// `size - 1` with the checkpoint's `prev_hash`, intact: so the tail check
/// on open also catches a rewritten or truncated last checkpointed entry.
fn seam_ok(dir: &Path, r: &Resume) -> bool {
    use std::io::{Read as _, Seek as _, SeekFrom};
    if r.size == 0 || r.offset == 0 {
        return true;
    }
    let path = layout::segment_path(dir, r.segment);
    let Ok(mut f) = File::open(&path) else {
        return false;
    };
    let from = r.offset.saturating_sub(1 << 20);
    let mut buf = vec![0u8; (r.offset - from) as usize];
    if f.seek(SeekFrom::Start(from)).is_err()
        || f.read_exact(&mut buf).is_err()
        || buf.last() != Some(&b'\n')
    {
        return false;
    }
    buf.pop();
    let start = match buf.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None if from == 0 => 0,
        None => return false,
    };
    crate::entry::parse_line(&buf[start..]).is_ok_and(|p| {
        p.stored.seq + 1 == r.size && p.computed_hash == p.entry_hash && p.entry_hash == r.prev_hash
    })
}

fn truncate(path: &Path, len: u64) -> Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io("open", path))?;
    f.set_len(len).map_err(io("truncate", path))?;
    f.sync_all().map_err(io("fsync", path))
}

// === impl Writer ===

struct Writer {
    dir: PathBuf,
    key: SigningKey,
    options: Options,
    file: File,
    segment: u64,
    seg_len: u64,
    seg_lines: u64,
    seq: u64,
    prev: Hash,
    frontier: Frontier,
    last_cp_size: u64,
    oldest_unsigned: Option<Instant>,
    cp_file: File,
    poisoned: bool,
    buf: Vec<u8>,
}

// Never the signing key.
impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("segment", &self.segment)
            .field("seq", &self.seq)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

type Replies = Vec<(oneshot::Sender<Result<AppendReceipt>>, AppendReceipt)>;

impl Writer {
    fn run(shared: &Mutex<Writer>, rx: mpsc::Receiver<Cmd>) {
        let lock = || {
            shared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let mut batch: Vec<Cmd> = Vec::new();
        loop {
            let timeout = {
                let w = lock();
                match w.oldest_unsigned {
                    // A poisoned log signs nothing: do not spin on a due checkpoint.
                    Some(t) if !w.poisoned => Duration::from_secs(w.options.checkpoint.every_secs)
                        .saturating_sub(t.elapsed()),
                    _ => Duration::from_secs(3600),
                }
            };
            match rx.recv_timeout(timeout) {
                Ok(cmd) => batch.push(cmd),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    lock().maybe_checkpoint();
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            let max_batch = lock().options.max_batch;
            while batch.len() < max_batch {
                match rx.try_recv() {
                    Ok(cmd) => batch.push(cmd),
                    Err(_) => break,
                }
            }
            let mut w = lock();
            let mut replies: Replies = Vec::with_capacity(batch.len());
            for cmd in batch.drain(..) {
                match cmd {
                    Cmd::Append { id, body, reply } => match w.stage(id, &body) {
                        Ok(receipt) => replies.push((reply, receipt)),
                        Err(e) => {
                            let _ = reply.send(Err(e));
                        }
                    },
                    Cmd::Checkpoint { reply } => {
                        w.commit(&mut replies);
                        let _ = reply.send(w.sign_checkpoint());
                    }
                    Cmd::Prune { cutoff, reply } => {
                        w.commit(&mut replies);
                        let _ = reply.send(w.prune(cutoff));
                    }
                    Cmd::Tick => {}
                }
            }
            w.commit(&mut replies);
            w.maybe_checkpoint();
        }
    }

    /// Chains and hashes one entry into the write buffer.
    fn stage(&mut self, id: String, body: &[u8]) -> Result<AppendReceipt> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        let hash = write_line(&mut self.buf, self.seq, &self.prev, body);
        self.frontier.push(&hash);
        self.prev = hash;
        let receipt = AppendReceipt {
            seq: self.seq,
            id,
            entry_hash: hash,
        };
        self.seq += 1;
        self.seg_lines += 1;
        self.oldest_unsigned.get_or_insert_with(Instant::now);
        Ok(receipt)
    }

    /// Writes (and, with `fsync`, syncs) the buffered lines. A failure
    /// poisons the log.
    fn flush(&mut self) -> Result<()> {
        let path = || layout::segment_path(&self.dir, self.segment);
        let mut result = self.file.write_all(&self.buf).map_err(io("write", path()));
        if result.is_ok() && self.options.fsync {
            result = self.file.sync_data().map_err(io("fsync", path()));
        }
        self.seg_len += self.buf.len() as u64;
        self.buf.clear();
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    /// Writes and syncs the buffered lines, then answers their appenders.
    fn commit(&mut self, replies: &mut Replies) {
        if replies.is_empty() {
            return;
        }
        match self.flush() {
            Ok(()) => {
                for (reply, receipt) in replies.drain(..) {
                    let _ = reply.send(Ok(receipt));
                }
            }
            Err(e) => {
                let mut first = Some(e);
                for (reply, _) in replies.drain(..) {
                    let _ = reply.send(Err(first.take().unwrap_or(Error::Poisoned)));
                }
            }
        }
    }

    fn checkpoint_due(&self) -> bool {
        let pending = self.seq - self.last_cp_size;
        let elapsed = self.oldest_unsigned.map_or(Duration::ZERO, |t| t.elapsed());
        !self.poisoned && self.options.checkpoint.is_due(pending, elapsed)
    }

    fn maybe_checkpoint(&mut self) {
        if self.checkpoint_due() {
            let _ = self.sign_checkpoint();
        }
    }

    fn sign_checkpoint(&mut self) -> Result<Option<CheckpointInfo>> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        if self.seq == self.last_cp_size {
            return Ok(None);
        }
        let note = note::sign(
            &self.options.origin,
            self.seq,
            &self.frontier.root(),
            &self.key,
        );
        let rec = CheckpointRecord::new(
            note.clone(),
            &self.prev,
            &self.frontier,
            self.segment,
            self.seg_len,
            self.seg_lines,
        );
        let mut line =
            serde_json::to_vec(&rec).map_err(|_| Error::InvalidArgument("checkpoint".into()))?;
        line.push(b'\n');
        let cp_path = self.dir.join(layout::CHECKPOINTS);
        if !self.options.fsync {
            // Entries were only written; make them durable before a
            // checkpoint vouches for them.
            let seg = layout::segment_path(&self.dir, self.segment);
            if let Err(e) = self.file.sync_data().map_err(io("fsync", seg)) {
                self.poisoned = true;
                return Err(e);
            }
        }
        let r = self
            .cp_file
            .write_all(&line)
            .map_err(io("write", &cp_path))
            // Checkpoints are always fsynced (they are few).
            .and_then(|()| self.cp_file.sync_data().map_err(io("fsync", &cp_path)));
        if let Err(e) = r {
            self.poisoned = true;
            return Err(e);
        }
        self.last_cp_size = self.seq;
        self.oldest_unsigned = None;
        if self.seg_lines >= self.options.segment_records {
            self.roll()?;
        }
        Ok(Some(CheckpointInfo {
            size: self.seq,
            note,
        }))
    }

    /// Starts a new segment; only right after a checkpoint, so every segment
    /// boundary has a signed checkpoint (the anchor of a later prune).
    fn roll(&mut self) -> Result<()> {
        let path = layout::segment_path(&self.dir, self.seq);
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io("create", &path));
        let file =
            file.and_then(|f| layout::sync_dir(&layout::segments_dir(&self.dir)).map(|()| f));
        match file {
            Ok(f) => {
                self.file = f;
                self.segment = self.seq;
                self.seg_len = 0;
                self.seg_lines = 0;
                Ok(())
            }
            Err(e) => {
                self.poisoned = true;
                Err(e)
            }
        }
    }

    fn prune(&mut self, cutoff: OffsetDateTime) -> Result<PruneReport> {
        let public = self.key.verifying_key();
        let loaded = Loaded::load(&self.dir, &public).map_err(Error::Corrupt)?;
        let mut report = PruneReport {
            segments_removed: 0,
            first_retained_seq: loaded.origin_resume().size,
        };
        let closed: Vec<u64> = loaded
            .segments
            .iter()
            .copied()
            .filter(|&s| s != self.segment)
            .collect();
        let mut drop_until: Option<(usize, Resume)> = None;
        for (i, &seg) in closed.iter().enumerate() {
            let next = loaded
                .segments
                .get(loaded.segments.iter().position(|&s| s == seg).unwrap_or(0) + 1)
                .copied();
            let Some(next) = next else { break };
            if !segment_older_than(&layout::segment_path(&self.dir, seg), cutoff)? {
                break;
            }
            // The checkpoint at the boundary (segments roll only there).
            let Some((_, r)) = loaded.checkpoints.iter().find(|(c, _)| c.size() == next) else {
                break;
            };
            drop_until = Some((i, r.clone()));
        }
        let Some((last, resume)) = drop_until else {
            return Ok(report);
        };
        let (lines, _) = layout::read_checkpoint_lines(&self.dir)?;
        let rec = lines
            .iter()
            .filter_map(|l| serde_json::from_slice::<CheckpointRecord>(l).ok())
            .find(|r| {
                r.prev_hash == hex::encode(resume.prev_hash)
                    && crate::Checkpoint::open(&r.note, &public)
                        .is_ok_and(|c| c.size() == resume.size)
            })
            .ok_or_else(|| Error::InvalidArgument("no checkpoint at segment boundary".into()))?;
        let anchor = CheckpointRecord {
            segment: resume.size,
            offset: 0,
            line: 0,
            ..rec
        };
        layout::write_anchor(&self.dir, &anchor)
            .map_err(flatten)
            .map_err(Error::Corrupt)?;
        for &seg in &closed[..=last] {
            let p = layout::segment_path(&self.dir, seg);
            fs::remove_file(&p).map_err(io("remove", &p))?;
            report.segments_removed += 1;
        }
        layout::sync_dir(&layout::segments_dir(&self.dir))?;
        report.first_retained_seq = resume.size;
        Ok(report)
    }
}

/// Whether every entry of a segment is older than `cutoff`.
fn segment_older_than(path: &Path, cutoff: OffsetDateTime) -> Result<bool> {
    let data = fs::read(path).map_err(io("read", path))?;
    for line in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let Ok(e) = serde_json::from_slice::<crate::StoredEntry>(line) else {
            return Ok(false);
        };
        let ts = match &e.entry {
            EntryBody::Record(r) => &r.ts,
            EntryBody::Tombstone(t) => &t.ts,
        };
        match OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339) {
            Ok(t) if t < cutoff => {}
            _ => return Ok(false),
        }
    }
    Ok(true)
}
