//! The values the client API hands out: session states, watch events and the watch handles,
//! create options, multi ops and their results.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use corral_jute::codes::{CreateMode, EventType, KeeperState};
use corral_jute::records::{Acl, Id, Stat};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::error::{Error, Result};

/// Where the session stands, as `Watcher.Event.KeeperState` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionState {
    /// Not connected yet (only before the first connection is made).
    Connecting,
    /// Connected; requests flow.
    SyncConnected,
    /// The connection was lost; the client is trying the servers again with the same session.
    /// Requests made now wait for the next connection attempt.
    Disconnected,
    /// The server expired the session: its ephemerals and watches are gone. Terminal.
    Expired,
    /// `addauth` was refused; the server closed the connection. Terminal, as in ZooKeeper.
    AuthFailed,
    /// The client closed the session (or every handle was dropped). Terminal.
    Closed,
}

impl SessionState {
    /// Whether no further state can follow.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SessionState::Expired | SessionState::AuthFailed | SessionState::Closed
        )
    }

    /// The error a request gets once the session is in this terminal state.
    pub(crate) fn terminal_error(self) -> Error {
        match self {
            SessionState::Expired => Error::SessionExpired,
            SessionState::AuthFailed => Error::AuthFailed,
            _ => Error::Closed,
        }
    }
}

/// A stream of session state changes, in the order they happened.
///
/// Created by [`crate::Client::state_stream`]; it sees the changes after its creation. If the
/// reader falls more than 256 changes behind, the oldest are skipped.
#[derive(Debug)]
pub struct StateStream {
    pub(crate) rx: broadcast::Receiver<SessionState>,
    pub(crate) ended: bool,
}

impl StateStream {
    /// The next state change, or `None` after a terminal state (`Expired`, `AuthFailed`,
    /// `Closed`) was returned.
    pub async fn next(&mut self) -> Option<SessionState> {
        if self.ended {
            return None;
        }
        loop {
            match self.rx.recv().await {
                Ok(s) => {
                    self.ended = s.is_terminal();
                    return Some(s);
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// A watch notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedEvent {
    /// What happened.
    pub event_type: EventType,
    /// The session state when it was sent (`SyncConnected` for node events).
    pub state: KeeperState,
    /// The node it is about, relative to the chroot.
    pub path: String,
}

/// A one-shot watch left by a read (`exists_w`, `get_data_w`, `get_children_w`, ...).
///
/// Await it for the event. It resolves with an error if the session expires
/// ([`Error::SessionExpired`]) or the client is closed ([`Error::Closed`]) first. The watch
/// survives reconnections: the client re-registers it with `setWatches2`. Dropping it does not
/// remove the server's watch (use [`crate::Client::remove_watches`] for that).
#[derive(Debug)]
pub struct Watch {
    pub(crate) rx: oneshot::Receiver<Result<WatchedEvent>>,
}

impl Future for Watch {
    type Output = Result<WatchedEvent>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx).poll(cx).map(|r| match r {
            Ok(v) => v,
            Err(_) => Err(Error::Closed),
        })
    }
}

impl Watch {
    /// The event if it already arrived, without waiting.
    pub fn try_event(&mut self) -> Option<Result<WatchedEvent>> {
        match self.rx.try_recv() {
            Ok(v) => Some(v),
            Err(oneshot::error::TryRecvError::Empty) => None,
            Err(oneshot::error::TryRecvError::Closed) => Some(Err(Error::Closed)),
        }
    }
}

/// The events of a persistent (or persistent recursive) watch set by
/// [`crate::Client::add_watch`].
///
/// The stream ends (`None`) when the watch is removed, the session expires or the client is
/// closed. A removal first delivers a `PersistentWatchRemoved` event.
#[derive(Debug)]
pub struct PersistentWatch {
    pub(crate) rx: mpsc::UnboundedReceiver<WatchedEvent>,
}

impl PersistentWatch {
    /// The next event, in the order the server sent them.
    pub async fn next(&mut self) -> Option<WatchedEvent> {
        self.rx.recv().await
    }

    /// The next event if one already arrived.
    pub fn try_next(&mut self) -> Option<WatchedEvent> {
        self.rx.try_recv().ok()
    }
}

/// The ACL `world:anyone` with every permission (`ZooDefs.Ids.OPEN_ACL_UNSAFE`).
pub fn open_acl_unsafe() -> Vec<Acl> {
    vec![Acl {
        perms: corral_jute::codes::perms::ALL,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }]
}

/// The ACL `world:anyone` read-only (`ZooDefs.Ids.READ_ACL_UNSAFE`).
pub fn read_acl_unsafe() -> Vec<Acl> {
    vec![Acl {
        perms: corral_jute::codes::perms::READ,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }]
}

/// Every permission for the session's authenticated identities (`ZooDefs.Ids.CREATOR_ALL_ACL`).
pub fn creator_all_acl() -> Vec<Acl> {
    vec![Acl {
        perms: corral_jute::codes::perms::ALL,
        id: Id {
            scheme: "auth".into(),
            id: String::new(),
        },
    }]
}

/// How to create a node: mode, ACL and (for TTL modes) the time to live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOptions {
    /// The create mode.
    pub mode: CreateMode,
    /// The new node's ACL (default: [`open_acl_unsafe`]).
    pub acl: Vec<Acl>,
    /// Time to live in ms; required by the TTL modes, refused by the others.
    pub ttl_ms: Option<i64>,
}

impl CreateOptions {
    /// Options for `mode` with the open ACL and no TTL.
    pub fn new(mode: CreateMode) -> CreateOptions {
        CreateOptions {
            mode,
            acl: open_acl_unsafe(),
            ttl_ms: None,
        }
    }

    /// With this ACL.
    pub fn acl(mut self, acl: Vec<Acl>) -> CreateOptions {
        self.acl = acl;
        self
    }

    /// With this TTL (ms), for the TTL modes.
    pub fn ttl_ms(mut self, ttl: i64) -> CreateOptions {
        self.ttl_ms = Some(ttl);
        self
    }
}

/// One write op of a [`crate::Client::multi`] transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Create a node.
    Create {
        /// Path.
        path: String,
        /// Data.
        data: Bytes,
        /// Mode, ACL, TTL.
        options: CreateOptions,
    },
    /// Delete a node (`None` = any version).
    Delete {
        /// Path.
        path: String,
        /// Expected version.
        version: Option<i32>,
    },
    /// Set a node's data.
    SetData {
        /// Path.
        path: String,
        /// Data.
        data: Bytes,
        /// Expected version.
        version: Option<i32>,
    },
    /// Check a node's version without changing it.
    Check {
        /// Path.
        path: String,
        /// Expected version.
        version: Option<i32>,
    },
}

impl Op {
    /// A create op with the open ACL.
    pub fn create(path: &str, data: impl Into<Bytes>, mode: CreateMode) -> Op {
        Op::Create {
            path: path.into(),
            data: data.into(),
            options: CreateOptions::new(mode),
        }
    }
    /// A delete op.
    pub fn delete(path: &str, version: Option<i32>) -> Op {
        Op::Delete {
            path: path.into(),
            version,
        }
    }
    /// A setData op.
    pub fn set_data(path: &str, data: impl Into<Bytes>, version: Option<i32>) -> Op {
        Op::SetData {
            path: path.into(),
            data: data.into(),
            version,
        }
    }
    /// A version check op.
    pub fn check(path: &str, version: Option<i32>) -> Op {
        Op::Check {
            path: path.into(),
            version,
        }
    }
}

/// The result of one op of a successful multi.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// The created path (relative to the chroot) and its Stat (when the server sent one).
    Create(String, Option<Stat>),
    /// Deleted.
    Delete,
    /// The new Stat.
    SetData(Stat),
    /// The check passed.
    Check,
}

/// One read of a [`crate::Client::multi_read`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOp {
    /// getData (no watch).
    GetData(String),
    /// getChildren (no watch).
    GetChildren(String),
}

/// The result of one read of a multiRead; each read succeeds or fails on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadResult {
    /// The data and Stat.
    Data(Bytes, Stat),
    /// The child names.
    Children(Vec<String>),
    /// This read failed.
    Error(Error),
}
