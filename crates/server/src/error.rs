//! The one error type of corral-server.

use std::path::PathBuf;

/// What can stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A config key has a bad value (line 0: the file as a whole).
    #[error("config error at line {line}, key {key}: {message}")]
    Config {
        /// 1-based line number, 0 when no single line is at fault.
        line: usize,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The client port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The AdminServer's address could not be bound (ZooKeeper's standalone server exits
    /// then too: "Unable to start AdminServer").
    #[error("cannot start the AdminServer on {addr} (admin.serverAddress/admin.serverPort; admin.enableServer=false turns it off): {source}")]
    AdminBind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The secure client port's TLS set-up failed (a key or trust store, a setting).
    #[error("secureClientPort: {0}")]
    Tls(#[from] corral_tls::TlsError),
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The data directory could not be opened or recovered (names the file and offset).
    #[error("storage: {0}")]
    Storage(#[from] corral_storage::StorageError),
    /// The loop that owns the server's state ended by itself (a panic): the server stopped.
    /// The ensemble member could not start or stopped (peer transport, quorum storage, a
    /// committed txn that cannot be applied).
    #[error("ensemble: {0}")]
    Ensemble(String),
    #[error("the server's core loop stopped: {0}")]
    CoreStopped(String),
    /// A snapshot or txn on disk could not be understood.
    #[error("cannot recover from {what}: {message}")]
    Recovery {
        /// The snapshot file or txn.
        what: String,
        /// What is wrong with it.
        message: String,
    },
}
