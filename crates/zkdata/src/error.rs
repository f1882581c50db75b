//! The crate's one error type.

use std::io;
use std::path::PathBuf;

/// Everything corral-zkdata can fail with. A damaged file names the file and the offset of
/// the damage; for a compressed snapshot the offset is in the decompressed stream (the one
/// ZooKeeper's Adler-32 covers), and the reason says so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ZkDataError {
    /// An I/O call failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`"open"`, `"read"`, `"write"`, ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A file's bytes are not what ZooKeeper writes (bad magic, bad checksum, truncated,
    /// an impossible length, an unknown txn type).
    #[error("{path}: offset {offset}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the damage starts.
        offset: u64,
        /// What is wrong there.
        reason: String,
    },
    /// The files are each readable but do not make one history: a gap in the zxids, no
    /// snapshot for the log, a digest that does not match the replayed tree.
    #[error("{0}")]
    Inconsistent(String),
}

impl ZkDataError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        ZkDataError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(
        path: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        ZkDataError::Corrupt {
            path: path.into(),
            offset,
            reason: reason.into(),
        }
    }
}

/// A decoding failure inside a buffer, before the file is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError {
    /// Offset in the buffer being decoded.
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
}

impl DecodeError {
    pub(crate) fn at(offset: u64, reason: impl Into<String>) -> Self {
        DecodeError {
            offset,
            reason: reason.into(),
        }
    }

    /// The error for `path`, with `base` added to the offset.
    pub(crate) fn in_file(self, path: impl Into<PathBuf>, base: u64) -> ZkDataError {
        ZkDataError::corrupt(path, base + self.offset, self.reason)
    }
}
