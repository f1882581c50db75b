//! # corral-client: an async Rust client for ZooKeeper's wire protocol
//!
//! A tokio client for Corral and Apache ZooKeeper (3.5+): one session per [`Client`], every op
//! of the client protocol, one-shot and persistent watches, and the usual recipes (locks,
//! leader election, barriers, queue, counter, service discovery, tree cache) in
//! [`recipes`].
//!
//! How it works, as ZooKeeper's `ClientCnxn` does it:
//! - A connect string names several servers and an optional chroot
//!   (`host1:2181,host2:2181/app`). The client tries them in turn and keeps one TCP connection.
//! - One connection task owns the socket. Requests from any number of tasks are pipelined on
//!   it (an xid -> reply map); replies and watch events are handled in arrival order, so a
//!   watch event is delivered before the reply of any later request, as the protocol promises.
//! - The task pings at a third of the negotiated session timeout and gives a connection up
//!   after two thirds without a byte. It then reconnects (to the next server) with the same
//!   session id and password, re-sends `addauth` credentials and re-registers the watches with
//!   `setWatches2` (with the last zxid seen, so changes missed meanwhile fire).
//! - [`Client::state_stream`] reports `SyncConnected`, `Disconnected`, `Expired`,
//!   `AuthFailed` and `Closed`. Only the server decides that a session expired.
//! - Errors are one enum, [`Error`]: server codes as [`ErrorCode`], plus `ConnectionLoss`
//!   (outcome unknown), `SessionExpired`, `Closed`, `Protocol`. Nothing a server sends makes
//!   the client panic: bad frames end the connection.
//!
//! What it is not: no SASL/Kerberos, no TLS, no read-only mode; watches are
//! futures and streams rather than callback objects.
//!
//! ```no_run
//! use corral_client::{Client, CreateMode};
//!
//! # async fn demo() -> corral_client::Result<()> {
//! let zk = Client::connect("127.0.0.1:2181/demo").await?;
//! if zk.exists("/").await?.is_none() {
//!     // The chroot itself is created through a client without it.
//!     Client::connect("127.0.0.1:2181").await?.create("/demo", "", CreateMode::Persistent).await?;
//! }
//! zk.create("/config", "v1", CreateMode::Persistent).await?;
//! let (data, stat, watch) = zk.get_data_w("/config").await?;
//! assert_eq!((&data[..], stat.version), (&b"v1"[..], 0));
//! zk.set_data("/config", "v2", Some(stat.version)).await?;
//! let event = watch.await?; // NodeDataChanged for /config
//! println!("{:?} {}", event.event_type, event.path);
//! zk.close().await
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod conn;
pub mod connect_string;
mod error;
mod ops;
pub mod recipes;
mod types;
mod watches;

pub use client::{Client, ClientBuilder};
pub use corral_jute::codes::{
    perms, AddWatchMode, CreateMode, ErrorCode, EventType, KeeperState, WatcherType,
};
pub use corral_jute::records::{Acl, ClientInfo, Id, Stat};
pub use error::{Error, Result};
pub use types::{
    creator_all_acl, open_acl_unsafe, read_acl_unsafe, CreateOptions, Op, OpResult,
    PersistentWatch, ReadOp, ReadResult, SessionState, StateStream, Watch, WatchedEvent,
};
