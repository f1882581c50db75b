//! The crate's one error type.

use crate::Zxid;
use std::io;
use std::path::PathBuf;

/// Everything corral-storage can fail with. Variants about a file name it, and the offset in
/// it where that applies, so an operator can find the damage.
///
/// Disk errors (`Io`) and corruption are fatal to the server: a write that failed is never
/// reported durable, and after a failed write or fsync the log is [`StorageError::Failed`]
/// for good (see [`crate::TxnLog`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// An I/O call failed (ENOSPC and EIO on write or fsync included).
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`"write"`, `"fsync"`, `"open"`, ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Data that cannot be a torn tail is damaged: recovery refuses to guess.
    #[error("corrupt txn log {path} at offset {offset}: {reason}")]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Where the first bad byte range starts.
        offset: u64,
        /// What is wrong there.
        reason: String,
    },
    /// A file header has the wrong magic or an unknown version.
    #[error("bad header in {path}: {reason}")]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A snapshot file is truncated, damaged or not a snapshot.
    #[error("invalid snapshot {path}: {reason}")]
    InvalidSnapshot {
        /// The file.
        path: PathBuf,
        /// What is wrong (and at which offset).
        reason: String,
    },
    /// An append whose zxid is not above the last logged one (the log never holds holes or
    /// reorderings).
    #[error("zxid {zxid:#x} does not follow the last logged zxid {last:#x}")]
    ZxidOrder {
        /// The rejected zxid.
        zxid: Zxid,
        /// The last zxid in the log.
        last: Zxid,
    },
    /// A payload larger than [`crate::MAX_PAYLOAD`].
    #[error("payload of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The log failed a write or fsync earlier and accepts nothing more (sticky): the server
    /// must stop serving writes and restart, which recovers from what is on disk.
    #[error("txn log is failed after an earlier error ({cause}); restart to recover")]
    Failed {
        /// The first error, as text.
        cause: String,
    },
    /// The log holds records but no snapshot is valid: replaying the log onto an empty
    /// tree would be wrong (ZooKeeper refuses too).
    #[error("no valid snapshot in {dir} but the txn log starts at zxid {first_log_zxid:#x}")]
    SnapshotMissing {
        /// The snapshot directory.
        dir: PathBuf,
        /// The first zxid in the log.
        first_log_zxid: Zxid,
    },
    /// An `acceptedEpoch` / `currentEpoch` file that is not one decimal number.
    #[error("{path}: found {found:?}, expected an epoch number")]
    InvalidEpochFile {
        /// The file.
        path: PathBuf,
        /// What it holds (its start).
        found: String,
    },
    /// A received snapshot's chunks did not arrive in order, or an install named a
    /// snapshot that was not received.
    #[error("received snapshot {zxid:#x}: {reason}")]
    SnapshotReception {
        /// The snapshot's zxid.
        zxid: Zxid,
        /// What went wrong.
        reason: String,
    },
    /// The background writer thread is gone (shut down, or panicked).
    #[error("the txn log writer thread has stopped")]
    WriterStopped,
    /// An operator's cut of the log ([`crate::plan_cut`]) that would not be safe or does
    /// not fit the files: nothing was changed.
    #[error("cannot cut the txn log: {reason}")]
    CutRefused {
        /// Why.
        reason: String,
    },
    /// A configuration value is out of range.
    #[error("invalid storage setting {key}: {reason}")]
    Config {
        /// The zoo.cfg-style key.
        key: &'static str,
        /// Why.
        reason: String,
    },
}

impl StorageError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StorageError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// True for errors that mean the data on disk (or the disk) cannot be trusted: the
    /// server should stop rather than go on (everything except order/size misuse and config).
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            StorageError::ZxidOrder { .. }
                | StorageError::TooLarge { .. }
                | StorageError::Config { .. }
                | StorageError::CutRefused { .. }
        )
    }
}
