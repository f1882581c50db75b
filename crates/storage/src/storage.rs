//! [`Storage`]: ZooKeeper's `dataDir` / `dataLogDir` layout, opened together, and the
//! restart sequence (newest valid snapshot, then the log after it).

use std::path::PathBuf;
use std::sync::Arc;

use crate::disk::{self, Disk};
use crate::Zxid;
use crate::{LogConfig, LogIter, Snapshot, SnapshotStore, StorageError, TxnLog};

/// The subdirectory ZooKeeper (and Corral) keeps its files in, under both directories.
pub const VERSION_DIR: &str = "version-2";

/// Where and how to store, with zoo.cfg's names.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// `dataDir`: snapshots go to `dataDir/version-2`.
    pub data_dir: PathBuf,
    /// `dataLogDir`: the txn log goes to `dataLogDir/version-2` (default: `dataDir`).
    pub data_log_dir: Option<PathBuf>,
    /// `preAllocSize` in bytes (zoo.cfg gives KiB; default 64 MiB).
    pub pre_alloc_size: u64,
    /// `snapCount`: records per log segment (default 100,000).
    pub snap_count: u64,
    /// `forceSync` (default true).
    pub force_sync: bool,
    /// The disk (fault injection in tests).
    pub disk: Arc<dyn Disk>,
}

impl StorageConfig {
    /// Defaults for a `dataDir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        StorageConfig {
            data_dir: data_dir.into(),
            data_log_dir: None,
            pre_alloc_size: 64 << 20,
            snap_count: 100_000,
            force_sync: true,
            disk: disk::real(),
        }
    }

    /// `dataDir/version-2`.
    pub fn snap_dir(&self) -> PathBuf {
        self.data_dir.join(VERSION_DIR)
    }

    /// `dataLogDir/version-2` (or `dataDir/version-2`).
    pub fn log_dir(&self) -> PathBuf {
        self.data_log_dir
            .as_ref()
            .unwrap_or(&self.data_dir)
            .join(VERSION_DIR)
    }

    /// The log's settings.
    pub fn log_config(&self) -> LogConfig {
        LogConfig {
            dir: self.log_dir(),
            pre_alloc_size: self.pre_alloc_size,
            segment_txns: self.snap_count,
            force_sync: self.force_sync,
            disk: Arc::clone(&self.disk),
        }
    }
}

/// A server's storage: the txn log and the snapshots.
#[derive(Debug)]
pub struct Storage {
    /// The txn log (hand it to [`crate::LogWriter::spawn`] once recovered).
    pub log: TxnLog,
    /// The snapshots.
    pub snapshots: SnapshotStore,
}

/// What a restart replays: the newest valid snapshot, then the log records after it.
#[derive(Debug)]
pub struct Recovered {
    /// The snapshot to load (`None`: start from an empty tree).
    pub snapshot: Option<Snapshot>,
    /// The records to apply after it, in zxid order; an `Err` item means corruption in the
    /// range replayed: refuse to start.
    pub txns: LogIter,
}

impl Storage {
    /// Opens both directories (creating them), repairing the log's torn tail.
    pub fn open(config: &StorageConfig) -> Result<Storage, StorageError> {
        let log = TxnLog::open(config.log_config())?;
        let snapshots = SnapshotStore::open_with(config.snap_dir(), Arc::clone(&config.disk))?;
        Ok(Storage { log, snapshots })
    }

    /// ZooKeeper's `FileTxnSnapLog.restore`: the newest valid snapshot and the log after its
    /// zxid. As ZooKeeper, refuses when the log has records but no snapshot is valid (a
    /// server writes a snapshot of the empty tree, zxid 0, when it first starts).
    pub fn recover(&self) -> Result<Recovered, StorageError> {
        let snapshot = self.snapshots.latest_valid()?;
        let view = self.log.view();
        let from = match &snapshot {
            Some(s) => s.zxid,
            None => {
                if let Some(first) = view.first_zxid() {
                    return Err(StorageError::SnapshotMissing {
                        dir: self.snapshots.dir().into(),
                        first_log_zxid: first,
                    });
                }
                Zxid::ZERO
            }
        };
        if view.first_zxid().is_some() && !view.covers(from) {
            tracing::warn!(
                snapshot_zxid = format_args!("{from:#x}"),
                log_first_zxid = format_args!("{:#x}", view.first_zxid().unwrap_or_default()),
                "the txn log starts after the snapshot; any txns in between are not on disk"
            );
        }
        Ok(Recovered {
            snapshot,
            txns: view.read_from(from),
        })
    }
}
