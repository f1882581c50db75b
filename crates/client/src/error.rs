//! The one error type of corral-client.

use corral_jute::codes::ErrorCode;

/// Everything a client call can fail with.
///
/// Server answers keep ZooKeeper's numbers: [`Error::Api`] carries the
/// [`ErrorCode`] (`NoNode`, `NodeExists`, `BadVersion`, ...). The connection-level codes have
/// their own variants so that callers can match them directly: [`Error::ConnectionLoss`] (the
/// outcome of the request is unknown; the session may still be alive) and
/// [`Error::SessionExpired`] (the session and its ephemerals are gone).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a ZooKeeper error code.
    #[error("server error {code:?} ({})", .code.message())]
    Api {
        /// The code, as `KeeperException.Code`.
        code: ErrorCode,
    },
    /// One op of a `multi` failed, so none was applied.
    #[error("multi op #{index} failed with {code:?} ({})", .code.message())]
    MultiFailed {
        /// Index of the first failing op.
        index: usize,
        /// Its error code.
        code: ErrorCode,
    },
    /// The connection was lost before the reply arrived (the request may or may not have
    /// been applied), or no server could be reached.
    #[error("connection loss")]
    ConnectionLoss,
    /// The server expired the session.
    #[error("session expired")]
    SessionExpired,
    /// Authentication (`addauth`) failed; the session is unusable, as in ZooKeeper's client.
    #[error("authentication failed")]
    AuthFailed,
    /// The client was closed (or every handle dropped).
    #[error("client closed")]
    Closed,
    /// The server sent something that does not follow the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A caller-supplied argument is invalid (bad path, bad connect string, missing TTL...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A bounded wait of a recipe or of connecting ran out.
    #[error("timed out: {0}")]
    Timeout(&'static str),
}

impl Error {
    /// Maps a non-zero ZooKeeper error code to the error a caller sees.
    pub fn from_code(code: ErrorCode) -> Error {
        match code {
            ErrorCode::ConnectionLoss => Error::ConnectionLoss,
            ErrorCode::SessionExpired => Error::SessionExpired,
            code => Error::Api { code },
        }
    }

    /// Maps a raw wire code; an unknown number is a protocol error.
    pub(crate) fn from_raw(code: i32) -> Error {
        match ErrorCode::from_code(code) {
            Ok(c) => Error::from_code(c),
            Err(_) => Error::Protocol(format!("unknown error code {code}")),
        }
    }

    /// The ZooKeeper error code behind this error, if there is one (connection-level errors
    /// map to their codes too).
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Api { code } | Error::MultiFailed { code, .. } => Some(*code),
            Error::ConnectionLoss => Some(ErrorCode::ConnectionLoss),
            Error::SessionExpired => Some(ErrorCode::SessionExpired),
            Error::AuthFailed => Some(ErrorCode::AuthFailed),
            _ => None,
        }
    }

    /// Whether this error is the given ZooKeeper code.
    pub fn is(&self, code: ErrorCode) -> bool {
        self.code() == Some(code)
    }
}

impl From<corral_jute::JuteError> for Error {
    fn from(e: corral_jute::JuteError) -> Error {
        Error::Protocol(e.to_string())
    }
}

/// The result type of corral-client.
pub type Result<T, E = Error> = std::result::Result<T, E>;
