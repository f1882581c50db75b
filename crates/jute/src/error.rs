//! The one error type of corral-jute.

/// Everything that can go wrong decoding ZooKeeper's wire format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JuteError {
    /// The input ended before the record did.
    #[error("unexpected end of input: needed {needed} more bytes at offset {offset}")]
    UnexpectedEof {
        /// Where the read started.
        offset: usize,
        /// How many bytes were missing.
        needed: usize,
    },
    /// A length prefix was negative (other than -1 for null) or larger than the input.
    #[error("invalid length {len} at offset {offset}")]
    InvalidLength {
        /// The length read.
        len: i32,
        /// Where it was read.
        offset: usize,
    },
    /// A string was not UTF-8.
    #[error("string at offset {offset} is not valid UTF-8")]
    InvalidUtf8 {
        /// Where the string started.
        offset: usize,
    },
    /// A frame's length prefix exceeds jute.maxbuffer (or is negative).
    #[error("frame length {len} is outside 0..={max} (jute.maxbuffer)")]
    FrameTooLarge {
        /// The announced length.
        len: i64,
        /// The configured maximum.
        max: usize,
    },
    /// Bytes were left over after a record that must fill its frame.
    #[error("{0} trailing bytes after the record")]
    TrailingBytes(usize),
    /// An op code ZooKeeper does not define.
    #[error("unknown op code {0}")]
    UnknownOpCode(i32),
    /// An error code ZooKeeper does not define.
    #[error("unknown error code {0}")]
    UnknownErrorCode(i32),
    /// A watch event type ZooKeeper does not define.
    #[error("unknown event type {0}")]
    UnknownEventType(i32),
    /// A keeper state ZooKeeper does not define.
    #[error("unknown keeper state {0}")]
    UnknownKeeperState(i32),
    /// A create mode (flags) ZooKeeper does not define.
    #[error("unknown create mode {0}")]
    UnknownCreateMode(i32),
    /// A watcher type ZooKeeper does not define.
    #[error("unknown watcher type {0}")]
    UnknownWatcherType(i32),
    /// An addWatch mode ZooKeeper does not define.
    #[error("unknown addWatch mode {0}")]
    UnknownAddWatchMode(i32),
    /// An op that may not appear inside a multi.
    #[error("op code {0} is not allowed inside a multi")]
    InvalidMultiOp(i32),
}
