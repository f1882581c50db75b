//! The production disk: corral-storage's txn log, snapshots and epoch files, written in
//! one order by its [`QuorumWriter`] thread, and read back at start and for DIFFs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use corral_storage::{
    EpochFiles, LogView, QuorumFiles, QuorumOp, QuorumWriter, SnapshotStore, StorageConfig, TxnLog,
    ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE,
};
use corral_zab::{Entry, LogSource, Persist, Persisted, ZabError, Zxid};

use crate::traits::DiskIo;
use crate::RuntimeError;

/// What a data directory held at start.
pub struct OnDisk {
    /// Epochs and the snapshot's zxid, for the engine.
    pub persisted: Persisted,
    /// The log, for the engine to read.
    pub log: StorageLog,
    /// The newest valid snapshot's payload (restore the state machine from it), if any.
    pub snapshot: Option<Bytes>,
    /// The writer, to hand to [`StorageDisk::new`].
    pub files: QuorumFiles,
}

fn storage(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Storage(e.to_string())
}

/// Opens (creating) a data directory: recovers the log (cutting a torn tail), finds the
/// newest valid snapshot and reads the epoch files. A missing `currentEpoch` is the epoch
/// of the last logged zxid and a missing `acceptedEpoch` the current one, as ZooKeeper's
/// `QuorumPeer.loadDataBase` decides.
pub fn open(config: &StorageConfig) -> Result<OnDisk, RuntimeError> {
    let log = TxnLog::open(config.log_config()).map_err(storage)?;
    let snapshots =
        SnapshotStore::open_with(config.snap_dir(), Arc::clone(&config.disk)).map_err(storage)?;
    let epochs = EpochFiles::open(config.snap_dir(), Arc::clone(&config.disk)).map_err(storage)?;
    let snapshot = snapshots.latest_valid().map_err(storage)?;
    let snap_zxid = snapshot.as_ref().map_or(Zxid::ZERO, |s| s.zxid);
    let last = log.last_zxid().unwrap_or(Zxid::ZERO).max(snap_zxid);
    let current = match epochs.read(CURRENT_EPOCH_FILE).map_err(storage)? {
        Some(e) => e,
        None => last.epoch(),
    };
    let accepted = epochs
        .read(ACCEPTED_EPOCH_FILE)
        .map_err(storage)?
        .unwrap_or(current);
    let source = StorageLog {
        view: log.view(),
        start: Arc::new(AtomicU64::new(snap_zxid.0)),
        last,
    };
    Ok(OnDisk {
        persisted: Persisted {
            accepted_epoch: accepted,
            current_epoch: current,
            snapshot: snap_zxid,
        },
        log: source,
        snapshot: snapshot.map(|s| s.payload),
        files: QuorumFiles {
            log,
            snapshots,
            epochs,
        },
    })
}

/// The engine's reads of the on-disk log. Clones share the start point, which moves up
/// when a local snapshot lets older segments go ([`StorageLog::compact_to`]).
#[derive(Debug, Clone)]
pub struct StorageLog {
    view: LogView,
    start: Arc<AtomicU64>,
    last: Zxid,
}

impl StorageLog {
    fn start_zxid(&self) -> Zxid {
        Zxid(self.start.load(Ordering::SeqCst))
    }

    /// A snapshot at `zxid` is durable: records up to it may be purged. Moves the start
    /// first, so the engine never reads where segments are going away.
    pub fn compact_to(&self, zxid: Zxid) {
        self.start.fetch_max(zxid.0, Ordering::SeqCst);
    }

    /// The log's read handle.
    pub fn view(&self) -> &LogView {
        &self.view
    }
}

impl LogSource for StorageLog {
    fn start(&self) -> Zxid {
        self.start_zxid()
    }

    fn last(&self) -> Zxid {
        self.last
    }

    fn entries(&self, after: Zxid, upto: Zxid, max: usize) -> Result<Vec<Entry>, ZabError> {
        let start = self.start_zxid();
        if after < start {
            // The start moved up meanwhile (a local snapshot): those records may be gone.
            return Err(ZabError::Storage(format!(
                "log records after {after:?} requested, the log starts after {start:?}"
            )));
        }
        let mut out = Vec::new();
        for record in self.view.read_from(after) {
            let (zxid, payload) = record.map_err(|e| ZabError::Storage(e.to_string()))?;
            if zxid > upto || out.len() >= max {
                break;
            }
            out.push(Entry { zxid, payload });
        }
        Ok(out)
    }

    fn floor(&self, zxid: Zxid) -> Result<Option<Zxid>, ZabError> {
        let start = self.start_zxid();
        if zxid < start {
            return Ok(None);
        }
        // A seek by segment name (corral-storage's LogView::floor): one segment read, not
        // the log from its start.
        let held = self
            .view
            .floor(zxid)
            .map_err(|e| ZabError::Storage(e.to_string()))?;
        Ok(Some(held.filter(|z| *z > start).unwrap_or(start)))
    }
}

/// Told of every fsync of log appends, on the writer's thread.
pub type OnSync = Box<dyn FnMut(corral_storage::SyncStats) + Send>;

/// The [`DiskIo`] on corral-storage: operations go to the [`QuorumWriter`] thread, which
/// reports durability through `on_durable` (no lock taken).
pub struct StorageDisk {
    writer: QuorumWriter,
    failed: Option<Box<dyn FnMut(String) + Send>>,
}

impl StorageDisk {
    /// Starts the writer thread on `files`; `on_durable` gets every durable tag, or the
    /// error that stopped the writer.
    pub fn new(
        files: QuorumFiles,
        on_durable: impl FnMut(Result<u64, String>) + Send + Clone + 'static,
    ) -> Result<StorageDisk, RuntimeError> {
        StorageDisk::with_observer(files, on_durable, None)
    }

    /// [`StorageDisk::new`], with `on_sync` told of every fsync of log appends (see
    /// [`QuorumWriter::spawn_observed`]).
    pub fn with_observer(
        files: QuorumFiles,
        on_durable: impl FnMut(Result<u64, String>) + Send + Clone + 'static,
        on_sync: Option<OnSync>,
    ) -> Result<StorageDisk, RuntimeError> {
        let mut report = on_durable.clone();
        let report = move |r: Result<u64, corral_storage::StorageError>| {
            report(r.map_err(|e| e.to_string()))
        };
        let writer = match on_sync {
            Some(on_sync) => QuorumWriter::spawn_observed(files, report, on_sync),
            None => QuorumWriter::spawn(files, report),
        }
        .map_err(storage)?;
        let mut fail = on_durable;
        Ok(StorageDisk {
            writer,
            failed: Some(Box::new(move |e| fail(Err(e)))),
        })
    }
}

/// The storage operation of a [`Persist`].
pub fn quorum_op(op: Persist) -> QuorumOp {
    match op {
        Persist::Append(e) => QuorumOp::Append {
            zxid: e.zxid,
            payload: e.payload,
        },
        Persist::Truncate { to } => QuorumOp::Truncate { zxid: to },
        Persist::SnapshotChunk { zxid, offset, data } => {
            QuorumOp::SnapshotChunk { zxid, offset, data }
        }
        Persist::InstallSnapshot { zxid } => QuorumOp::InstallSnapshot { zxid },
        Persist::AcceptedEpoch(e) => QuorumOp::AcceptedEpoch(e),
        Persist::CurrentEpoch(e) => QuorumOp::CurrentEpoch(e),
    }
}

impl DiskIo for StorageDisk {
    fn submit(&mut self, tag: u64, ops: Vec<Persist>) {
        let ops = ops.into_iter().map(quorum_op).collect();
        if let Err(e) = self.writer.submit(tag, ops) {
            if let Some(mut f) = self.failed.take() {
                f(e.to_string());
            }
        }
    }
}
