//! [`LogWriter`]: the background thread that appends and group-commits.

use crate::Zxid;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::view::LogView;
use crate::{StorageError, TxnLog};

/// At most this many payload bytes are appended between two fsyncs (a bigger queue takes
/// several rounds).
const BATCH_BYTES: usize = 16 << 20;

type Reply<T> = SyncSender<Result<T, StorageError>>;

enum Cmd {
    /// A txn, and when it was queued.
    Append(Zxid, Bytes, Instant),
    Sync(Reply<Option<Zxid>>),
    Truncate(Zxid, Reply<()>),
    Roll(Reply<()>),
    Shutdown,
}

/// Spawns the writer thread of a [`TxnLog`]: group commit for many concurrent writes.
///
/// The thread waits for work, takes everything queued (up to 16 MiB of payload), appends
/// it, fsyncs once, then calls `on_durable(Ok(highest durable zxid))`. Every zxid up to that
/// one is durable. `on_durable` runs on the writer thread: keep it short (hand the zxid to
/// the server's loop through a channel).
///
/// # To ensure correctness
/// - Append in zxid order from one place (the channel keeps the order of the calls).
/// - Acknowledge a write only when an `on_durable(Ok(z))` with `z >= its zxid` arrived.
/// - After any error the writer is failed for good: `on_durable(Err(..))` is called, queued
///   and later appends are refused and never reported durable. The server must stop
///   serving writes (ZooKeeper exits) and restart; recovery keeps what reached the disk.
#[derive(Debug)]
pub struct LogWriter;

/// One group commit of the writer thread, for the server's metrics (ZooKeeper's fsynctime,
/// and its SyncRequestProcessor's batch size and queue and flush times).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStats {
    /// Txns appended and made durable by this fsync.
    pub txns: u64,
    /// How long the fsync took.
    pub fsync: Duration,
    /// Per txn, in order: how long it waited in the queue before the writer took it, and
    /// from then until the fsync that made it durable ended.
    pub waits: Vec<TxnWait>,
}

/// How long one txn waited in the writer (see [`SyncStats::waits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnWait {
    /// Txns queued for the writer when it took this one (this one included).
    pub queue_len: usize,
    /// Queued to taken by the writer.
    pub queued: Duration,
    /// Taken to durable.
    pub flushed: Duration,
}

impl LogWriter {
    /// Moves `log` to a new thread and returns the handle to feed it.
    pub fn spawn<F>(log: TxnLog, on_durable: F) -> Result<LogWriterHandle, StorageError>
    where
        F: FnMut(Result<Zxid, StorageError>) + Send + 'static,
    {
        LogWriter::spawn_with(log, on_durable, None::<fn(SyncStats)>)
    }

    /// As [`LogWriter::spawn`]; `on_sync` is also told of every successful group commit
    /// (on the writer thread, before `on_durable`: keep it short too).
    pub fn spawn_observed<F, S>(
        log: TxnLog,
        on_durable: F,
        on_sync: S,
    ) -> Result<LogWriterHandle, StorageError>
    where
        F: FnMut(Result<Zxid, StorageError>) + Send + 'static,
        S: FnMut(SyncStats) + Send + 'static,
    {
        LogWriter::spawn_with(log, on_durable, Some(on_sync))
    }

    fn spawn_with<F, S>(
        log: TxnLog,
        on_durable: F,
        on_sync: Option<S>,
    ) -> Result<LogWriterHandle, StorageError>
    where
        F: FnMut(Result<Zxid, StorageError>) + Send + 'static,
        S: FnMut(SyncStats) + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let view = log.view();
        let failed = Arc::new(Failed::default());
        let state = Arc::clone(&failed);
        let queued = Arc::new(AtomicUsize::new(0));
        let taken = Arc::clone(&queued);
        let thread = std::thread::Builder::new()
            .name("corral-log-writer".into())
            .spawn(move || run(log, rx, on_durable, on_sync, &state, &taken))
            .map_err(|e| StorageError::io("spawn writer thread", "", e))?;
        Ok(LogWriterHandle {
            tx,
            view,
            failed,
            queued,
            thread: Some(thread),
        })
    }
}

#[derive(Debug, Default)]
struct Failed {
    flag: AtomicBool,
    cause: Mutex<Option<String>>,
}

impl Failed {
    fn set(&self, e: &StorageError) {
        self.cause.lock().get_or_insert_with(|| e.to_string());
        self.flag.store(true, Ordering::SeqCst);
    }

    fn error(&self) -> Option<StorageError> {
        if !self.flag.load(Ordering::SeqCst) {
            return None;
        }
        Some(StorageError::Failed {
            cause: self.cause.lock().clone().unwrap_or_default(),
        })
    }
}

fn run<F, S>(
    mut log: TxnLog,
    rx: Receiver<Cmd>,
    mut on_durable: F,
    mut on_sync: Option<S>,
    failed: &Failed,
    queued: &AtomicUsize,
) -> TxnLog
where
    F: FnMut(Result<Zxid, StorageError>),
    S: FnMut(SyncStats),
{
    let observed = on_sync.is_some();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        let mut appended = 0u64;
        // When each txn of the batch was queued and taken, and how many were queued then
        // (observers only).
        let mut times: Vec<(Instant, Instant, usize)> = Vec::new();
        let mut bytes = 0;
        let mut error = None;
        let mut control = None;
        while let Some(cmd) = next.take() {
            match cmd {
                Cmd::Append(zxid, payload, queued_at) => {
                    appended += 1;
                    let queue_len = queued.fetch_sub(1, Ordering::Relaxed);
                    if observed {
                        times.push((queued_at, Instant::now(), queue_len));
                    }
                    bytes += payload.len();
                    if error.is_none() {
                        if let Some(e) = failed.error() {
                            error = Some(e);
                        } else if let Err(e) = log.append(zxid, &payload) {
                            failed.set(&e);
                            error = Some(e);
                        }
                    }
                    if bytes < BATCH_BYTES {
                        next = rx.try_recv().ok();
                    }
                }
                other => control = Some(other),
            }
        }
        if appended > 0 {
            let result = match error {
                Some(e) => Err(e),
                None => failed.error().map_or_else(
                    || {
                        let started = Instant::now();
                        let synced = log.sync();
                        if let (Ok(_), Some(on_sync)) = (&synced, on_sync.as_mut()) {
                            let done = Instant::now();
                            let waits = times
                                .iter()
                                .map(|&(queued_at, taken, queue_len)| TxnWait {
                                    queue_len,
                                    queued: taken.saturating_duration_since(queued_at),
                                    flushed: done.saturating_duration_since(taken),
                                })
                                .collect();
                            on_sync(SyncStats {
                                txns: appended,
                                fsync: done.saturating_duration_since(started),
                                waits,
                            });
                        }
                        synced
                    },
                    Err,
                ),
            };
            match result {
                Ok(zxid) => on_durable(Ok(zxid.unwrap_or(Zxid::ZERO))),
                Err(e) => {
                    failed.set(&e);
                    on_durable(Err(e));
                }
            }
        }
        match control {
            None => {}
            Some(Cmd::Sync(reply)) => {
                let r = match failed.error() {
                    Some(e) => Err(e),
                    None => log.sync(),
                };
                let _ = reply.send(r);
            }
            Some(Cmd::Truncate(zxid, reply)) => {
                let r = failed.error().map_or_else(|| log.truncate(zxid), Err);
                if let Err(e) = &r {
                    failed.set(e);
                }
                let _ = reply.send(r);
            }
            Some(Cmd::Roll(reply)) => {
                let r = failed.error().map_or_else(|| log.roll(), Err);
                if let Err(e) = &r {
                    failed.set(e);
                }
                let _ = reply.send(r);
            }
            Some(Cmd::Shutdown) | Some(Cmd::Append(..)) => break,
        }
    }
    if failed.error().is_none() {
        if let Err(e) = log.sync() {
            tracing::error!(error = %e, "txn log: final sync failed");
        }
    }
    log
}

/// The handle of a [`LogWriter`] thread. `Send + Sync`: share it with `Arc`. Dropping it
/// stops the thread after it has synced what was queued.
#[derive(Debug)]
pub struct LogWriterHandle {
    tx: Sender<Cmd>,
    view: LogView,
    failed: Arc<Failed>,
    /// Appends sent and not taken by the thread yet.
    queued: Arc<AtomicUsize>,
    thread: Option<JoinHandle<TxnLog>>,
}

impl LogWriterHandle {
    /// Queues a record and returns at once. Durability is reported through `on_durable`.
    /// Fails at once when the writer has failed (sticky) or stopped.
    pub fn append(&self, zxid: Zxid, payload: Bytes) -> Result<(), StorageError> {
        if let Some(e) = self.failed.error() {
            return Err(e);
        }
        self.queued.fetch_add(1, Ordering::Relaxed);
        self.tx
            .send(Cmd::Append(zxid, payload, Instant::now()))
            .map_err(|_| {
                self.queued.fetch_sub(1, Ordering::Relaxed);
                StorageError::WriterStopped
            })
    }

    fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Cmd) -> Result<T, StorageError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.tx
            .send(make(reply))
            .map_err(|_| StorageError::WriterStopped)?;
        answer.recv().map_err(|_| StorageError::WriterStopped)?
    }

    /// Waits until everything queued before is durable; returns the highest durable zxid.
    pub fn sync(&self) -> Result<Option<Zxid>, StorageError> {
        self.call(Cmd::Sync)
    }

    /// ZAB's TRUNC: after the queued appends, removes every record above `zxid`
    /// ([`TxnLog::truncate`]). Blocks until done.
    pub fn truncate(&self, zxid: Zxid) -> Result<(), StorageError> {
        self.call(|r| Cmd::Truncate(zxid, r))
    }

    /// Starts a new segment at the next append ([`TxnLog::roll`]). Blocks until done.
    pub fn roll(&self) -> Result<(), StorageError> {
        self.call(Cmd::Roll)
    }

    /// The read view (DIFF reads, purge), usable from any thread.
    pub fn view(&self) -> LogView {
        self.view.clone()
    }

    /// The highest durable zxid.
    pub fn durable_zxid(&self) -> Option<Zxid> {
        self.view.durable_zxid()
    }

    /// The sticky failure, if any.
    pub fn failure(&self) -> Option<StorageError> {
        self.failed.error()
    }

    /// Stops the thread after it synced what was queued, and gives the log back.
    pub fn shutdown(mut self) -> Result<TxnLog, StorageError> {
        let _ = self.tx.send(Cmd::Shutdown);
        let thread = self.thread.take().ok_or(StorageError::WriterStopped)?;
        thread.join().map_err(|_| StorageError::WriterStopped)
    }
}

impl Drop for LogWriterHandle {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.tx.send(Cmd::Shutdown);
            let _ = thread.join();
        }
    }
}
