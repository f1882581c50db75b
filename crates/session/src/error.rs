//! The crate's single error type.

use crate::SessionId;

/// Everything that can go wrong in this crate.
///
/// The three reconnect failures ([`UnknownSession`](SessionError::UnknownSession),
/// [`Expired`](SessionError::Expired), [`BadPassword`](SessionError::BadPassword)) are kept apart
/// for logging and metrics; ZooKeeper answers all three the same way on the wire (see
/// [`SessionTable::revalidate`](crate::SessionTable::revalidate)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// `tick_time_ms` is 0; buckets need a positive interval.
    #[error("tickTime must be positive")]
    ZeroTickTime,
    /// The configured (or defaulted) minimum session timeout exceeds the maximum.
    #[error("minSessionTimeout {min_ms} ms is larger than maxSessionTimeout {max_ms} ms")]
    MinTimeoutAboveMax {
        /// Effective minimum, ms.
        min_ms: u32,
        /// Effective maximum, ms.
        max_ms: u32,
    },
    /// A timeout does not fit the wire's signed 32-bit `timeOut` field.
    #[error("session timeout {timeout_ms} ms does not fit in a signed 32-bit integer")]
    TimeoutOutOfRange {
        /// The offending value, ms.
        timeout_ms: u32,
    },
    /// Server id 255 would make session ids whose top byte is `0xff`, which ZooKeeper reads as
    /// TTL-node owners (`EphemeralType.MAX_EXTENDED_SERVER_ID` is 254).
    #[error("server id {0} is reserved (must be at most 254)")]
    ReservedServerId(u8),
    /// No such session in the table (never created here, or already closed and removed).
    #[error("unknown session {0}")]
    UnknownSession(SessionId),
    /// The session exists but is closing (expired or being closed) and cannot be used.
    #[error("session {0} has expired")]
    Expired(SessionId),
    /// The session's client is connected through another server now (ZooKeeper's
    /// `SessionMovedException`): a request from its old connection.
    #[error("session {0} moved to another server")]
    Moved(SessionId),
    /// The password presented on reconnect is not the session's password.
    #[error("wrong password for session {0}")]
    BadPassword(SessionId),
}
