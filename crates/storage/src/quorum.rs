//! [`QuorumWriter`]: a ZAB server's one ordered stream of durable effects across the txn
//! log, the epoch files and received snapshots, on a background thread.
//!
//! A ZAB engine hands its storage operations out in order and may promise something to
//! its peers only once everything before it is durable. Those operations touch different
//! files, each with its own durability, so the order is kept here, by one thread:
//!
//! - log appends are written and fsynced in groups (group commit);
//! - an epoch file, a truncation or a snapshot installation first makes every append
//!   before it durable, then happens itself, durably: an `acceptedEpoch` or `currentEpoch`
//!   on disk never refers to a history the log does not hold;
//! - a batch is reported durable (by its tag) only when every operation in it and before
//!   it is, through a callback that takes no lock (hand the tag to your loop).
//!
//! Installing a received snapshot: chunks are written to a temp file as they come
//! ([`QuorumOp::SnapshotChunk`]); [`QuorumOp::InstallSnapshot`] fsyncs it, renames it into
//! place (directory fsynced), then removes the log records above its zxid. A crash before
//! the rename leaves the old snapshot and log (the temp file is removed at the next open);
//! after it, recovery starts from the new snapshot and replays only records above it.

use crate::Zxid;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use bytes::Bytes;

use crate::{
    EpochFiles, LogView, SnapshotStore, SnapshotWriter, StorageError, SyncStats, TxnLog, TxnWait,
    ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE,
};

/// One durable effect, in the order the engine asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuorumOp {
    /// Append a record to the txn log.
    Append {
        /// Its zxid (above the last one).
        zxid: Zxid,
        /// Its payload.
        payload: Bytes,
    },
    /// Remove every log record above `zxid` (ZAB TRUNC) and any snapshot newer than it.
    Truncate {
        /// The last zxid kept.
        zxid: Zxid,
    },
    /// Bytes of a snapshot being received; offset 0 starts a new one.
    SnapshotChunk {
        /// The snapshot's zxid.
        zxid: Zxid,
        /// Where the bytes go.
        offset: u64,
        /// The bytes.
        data: Bytes,
    },
    /// The received snapshot of `zxid` is complete: install it (see the module docs).
    InstallSnapshot {
        /// Its zxid.
        zxid: Zxid,
    },
    /// Store the accepted epoch.
    AcceptedEpoch(u32),
    /// Store the current epoch.
    CurrentEpoch(u32),
}

/// What a ZAB server keeps on disk, handed to the writer thread.
#[derive(Debug)]
pub struct QuorumFiles {
    /// The txn log (recovered).
    pub log: TxnLog,
    /// The snapshot directory.
    pub snapshots: SnapshotStore,
    /// The epoch files.
    pub epochs: EpochFiles,
}

struct Batch {
    tag: u64,
    ops: Vec<QuorumOp>,
    /// When it was submitted.
    queued_at: Instant,
}

/// The handle of the writer thread ([`QuorumWriter::spawn`]).
///
/// # To ensure correctness
/// - Submit batches in the order their operations must take effect; tags must increase.
/// - Promise nothing a batch holds (an ACK, an epoch) before `on_durable(Ok(t))` with
///   `t >= its tag`.
/// - After an error the writer is failed for good: `on_durable(Err(..))` is called once
///   and nothing more is written. Stop, and restart from the disk.
#[derive(Debug)]
pub struct QuorumWriter {
    tx: Option<Sender<Batch>>,
    view: LogView,
    thread: Option<JoinHandle<()>>,
    /// Appends submitted and not taken by the thread yet.
    queued: Arc<AtomicUsize>,
}

/// Reports each fsync of the log's appends (see [`QuorumWriter::spawn_observed`]).
type OnSync = Box<dyn FnMut(SyncStats) + Send>;

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Batch({}, {} ops)", self.tag, self.ops.len())
    }
}

impl QuorumWriter {
    /// Moves `files` to a new thread. `on_durable` runs on it, after each group of batches
    /// is durable, with the highest tag of the group; keep it short.
    pub fn spawn<F>(files: QuorumFiles, on_durable: F) -> Result<QuorumWriter, StorageError>
    where
        F: FnMut(Result<u64, StorageError>) + Send + 'static,
    {
        QuorumWriter::spawn_with(files, on_durable, None)
    }

    /// [`QuorumWriter::spawn`], and `on_sync` hears of every fsync that made log appends
    /// durable, as [`LogWriter::spawn_observed`](crate::LogWriter::spawn_observed) reports
    /// it: the appends it covered, how long it took, and per append its wait in the queue
    /// (submitted to taken), from then to durable, and the appends queued when it was taken.
    pub fn spawn_observed<F, S>(
        files: QuorumFiles,
        on_durable: F,
        on_sync: S,
    ) -> Result<QuorumWriter, StorageError>
    where
        F: FnMut(Result<u64, StorageError>) + Send + 'static,
        S: FnMut(SyncStats) + Send + 'static,
    {
        QuorumWriter::spawn_with(files, on_durable, Some(Box::new(on_sync)))
    }

    fn spawn_with<F>(
        files: QuorumFiles,
        on_durable: F,
        on_sync: Option<OnSync>,
    ) -> Result<QuorumWriter, StorageError>
    where
        F: FnMut(Result<u64, StorageError>) + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let view = files.log.view();
        let queued = Arc::new(AtomicUsize::new(0));
        let state = State {
            files,
            dirty: false,
            receiving: None,
            on_sync,
            taken: Vec::new(),
            queued: Arc::clone(&queued),
        };
        let thread = std::thread::Builder::new()
            .name("corral-quorum-writer".into())
            .spawn(move || run(state, rx, on_durable))
            .map_err(|e| StorageError::io("spawn quorum writer thread", "", e))?;
        Ok(QuorumWriter {
            tx: Some(tx),
            view,
            thread: Some(thread),
            queued,
        })
    }

    /// Queues a batch of operations under `tag`.
    pub fn submit(&self, tag: u64, ops: Vec<QuorumOp>) -> Result<(), StorageError> {
        let tx = self.tx.as_ref().ok_or(StorageError::WriterStopped)?;
        let appends = ops
            .iter()
            .filter(|op| matches!(op, QuorumOp::Append { .. }))
            .count();
        self.queued.fetch_add(appends, Ordering::Relaxed);
        tx.send(Batch {
            tag,
            ops,
            queued_at: Instant::now(),
        })
        .map_err(|_| StorageError::WriterStopped)
    }

    /// A read handle on the log (DIFFs, recovery reads), valid while the thread writes.
    pub fn view(&self) -> LogView {
        self.view.clone()
    }
}

impl Drop for QuorumWriter {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The snapshot being received.
struct Reception {
    zxid: Zxid,
    written: u64,
    writer: SnapshotWriter,
}

struct State {
    files: QuorumFiles,
    /// Appends not yet fsynced.
    dirty: bool,
    receiving: Option<Reception>,
    on_sync: Option<OnSync>,
    /// Observed: per append not yet fsynced, when it was submitted and taken, and the
    /// appends queued when it was taken.
    taken: Vec<(Instant, Instant, usize)>,
    queued: Arc<AtomicUsize>,
}

impl State {
    fn sync_log(&mut self) -> Result<(), StorageError> {
        if self.dirty {
            let started = Instant::now();
            self.files.log.sync()?;
            self.dirty = false;
            if let Some(on_sync) = self.on_sync.as_mut() {
                let done = Instant::now();
                let waits = self
                    .taken
                    .drain(..)
                    .map(|(queued_at, taken, queue_len)| TxnWait {
                        queue_len,
                        queued: taken.saturating_duration_since(queued_at),
                        flushed: done.saturating_duration_since(taken),
                    })
                    .collect::<Vec<_>>();
                on_sync(SyncStats {
                    txns: waits.len() as u64,
                    fsync: done.saturating_duration_since(started),
                    waits,
                });
            }
        }
        Ok(())
    }

    fn apply(&mut self, op: QuorumOp, queued_at: Instant) -> Result<(), StorageError> {
        match op {
            QuorumOp::Append { zxid, payload } => {
                let queue_len = self.queued.fetch_sub(1, Ordering::Relaxed);
                if self.on_sync.is_some() {
                    self.taken.push((queued_at, Instant::now(), queue_len));
                }
                self.files.log.append(zxid, &payload)?;
                self.dirty = true;
            }
            QuorumOp::Truncate { zxid } => {
                self.sync_log()?;
                self.files.log.truncate(zxid)?;
                self.files.snapshots.remove_after(zxid)?;
            }
            QuorumOp::SnapshotChunk { zxid, offset, data } => {
                if offset == 0 {
                    self.receiving = Some(Reception {
                        zxid,
                        written: 0,
                        writer: self.files.snapshots.begin(zxid)?,
                    });
                }
                let r = self
                    .receiving
                    .as_mut()
                    .filter(|r| r.zxid == zxid && r.written == offset)
                    .ok_or_else(|| StorageError::SnapshotReception {
                        zxid,
                        reason: format!("chunk at offset {offset} out of order"),
                    })?;
                r.writer
                    .write_all(&data)
                    .map_err(|e| StorageError::io("write", "received snapshot", e))?;
                r.written += data.len() as u64;
            }
            QuorumOp::InstallSnapshot { zxid } => {
                let r = self
                    .receiving
                    .take()
                    .filter(|r| r.zxid == zxid)
                    .ok_or_else(|| StorageError::SnapshotReception {
                        zxid,
                        reason: "installed but not received".into(),
                    })?;
                self.sync_log()?;
                r.writer.finish()?;
                self.files.log.truncate(zxid)?;
                self.files.snapshots.remove_after(zxid)?;
            }
            QuorumOp::AcceptedEpoch(e) => {
                self.sync_log()?;
                self.files.epochs.write(ACCEPTED_EPOCH_FILE, e)?;
            }
            QuorumOp::CurrentEpoch(e) => {
                self.sync_log()?;
                self.files.epochs.write(CURRENT_EPOCH_FILE, e)?;
            }
        }
        Ok(())
    }
}

fn run<F>(mut state: State, rx: Receiver<Batch>, mut on_durable: F)
where
    F: FnMut(Result<u64, StorageError>),
{
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        let mut last_tag = None;
        let mut result = Ok(());
        while let Some(batch) = next.take() {
            for op in batch.ops {
                result = state.apply(op, batch.queued_at);
                if result.is_err() {
                    break;
                }
            }
            if result.is_err() {
                break;
            }
            last_tag = Some(batch.tag);
            next = rx.try_recv().ok();
        }
        let result = result.and_then(|()| state.sync_log());
        match (result, last_tag) {
            (Err(e), _) => {
                tracing::error!(error = %e, "quorum writer failed; it writes nothing more");
                on_durable(Err(e));
                return;
            }
            (Ok(()), Some(tag)) => on_durable(Ok(tag)),
            (Ok(()), None) => {}
        }
    }
}
