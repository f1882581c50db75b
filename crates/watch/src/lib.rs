//! # corral-watch: the server-side watch registry
//!
//! [`WatchRegistry`] is the table a ZooKeeper server keeps of which watcher (a connection or
//! session id, any `W: Copy + Eq + Ord + Hash`) watches which path, and which watchers a
//! change must notify. It follows Apache ZooKeeper's server (`WatchManager`, and the way
//! `DataTree` calls it): two tables, *data* watches (left by `getData` and by `exists`, even on
//! a node that does not exist) and *child* watches (left by `getChildren`), plus the persistent
//! kinds of `addWatch`.
//!
//! What it is not: it sends nothing, it does not know connections, sessions, ACLs or the tree,
//! and it has no clock, lock or I/O. [`WatchRegistry::trigger`] only answers "who must be told"
//! and forgets the one-shot watches that fired; building and queueing the notification is the
//! caller's job.
//!
//! ## Which event reaches which watch
//!
//! The caller reports each change as ZooKeeper's `DataTree` does, one [`trigger`] call per
//! (path, event):
//!
//! | change        | calls                                                                 |
//! |---------------|-----------------------------------------------------------------------|
//! | create `/p/n` | `trigger("/p/n", NodeCreated)`, then `trigger("/p", NodeChildrenChanged)` |
//! | delete `/p/n` | `trigger("/p/n", NodeDeleted)`, then `trigger("/p", NodeChildrenChanged)` |
//! | setData `/p/n`| `trigger("/p/n", NodeDataChanged)`                                    |
//!
//! (the parent of a top-level node is `/`). Within one call:
//!
//! * `NodeCreated`, `NodeDataChanged`: the data table — [`WatchKind::Data`],
//!   [`WatchKind::Persistent`] and [`WatchKind::PersistentRecursive`] watches on the path, and
//!   `PersistentRecursive` watches on every ancestor of it.
//! * `NodeChildrenChanged`: the child table — [`WatchKind::Child`] and `Persistent` watches on
//!   the path only. A `PersistentRecursive` watch never receives it.
//! * `NodeDeleted`: both tables on the path, plus `PersistentRecursive` watches on ancestors;
//!   a watcher with several matching watches is returned **once**.
//! * Any other event type matches nothing.
//!
//! `Data` and `Child` watches are one-shot: those that fire are removed (including a child
//! watch whose watcher was already notified through its data watch on delete). Persistent
//! watches stay until removed. The result is sorted by `W` and has no duplicates.
//!
//! ## What the caller must do
//!
//! The registry is a plain `&mut self` structure; its answers are only as ordered as its calls.
//! ZooKeeper's guarantee "a client sees a watch event before any later read result of that
//! node" holds if the caller:
//!
//! 1. registers a watch ([`add`]) atomically with the read that leaves it, against the same
//!    tree state (no change may be applied between the read and the registration);
//! 2. calls [`trigger`] for each change in commit (zxid) order, atomically with applying that
//!    change to the tree;
//! 3. queues each notification on the watcher's connection before the reply to any request
//!    that reads the tree after that change;
//! 4. filters notifications by the READ permission of the changed node (ZooKeeper 3.9 checks
//!    the znode ACL per notification), and calls [`remove_watcher`] when a connection closes.
//!
//! ```
//! use corral_jute::codes::EventType;
//! use corral_watch::{WatchKind, WatchRegistry};
//!
//! let mut watches: WatchRegistry<u64> = WatchRegistry::new();
//! watches.add("/app", WatchKind::Data, 7); // getData("/app", watch = true) by session 7
//! watches.add("/app", WatchKind::Child, 7); // getChildren("/app", watch = true)
//! watches.add("/app", WatchKind::Data, 9);
//!
//! // setData("/app") notifies both data watchers, once.
//! assert_eq!(watches.trigger("/app", EventType::NodeDataChanged), vec![7, 9]);
//! assert!(watches.trigger("/app", EventType::NodeDataChanged).is_empty());
//!
//! // delete("/app"): session 7 still has its child watch.
//! assert_eq!(watches.trigger("/app", EventType::NodeDeleted), vec![7]);
//! assert_eq!(watches.summary(corral_watch::WatchScope::All).watches, 0);
//! ```
//!
//! [`trigger`]: WatchRegistry::trigger
//! [`add`]: WatchRegistry::add
//! [`remove_watcher`]: WatchRegistry::remove_watcher
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod registry;
mod set;

#[cfg(test)]
mod model_tests;

use corral_jute::codes::{AddWatchMode, ErrorCode, WatcherType};
use std::fmt;

pub use registry::WatchRegistry;

/// The kind of a watch, as a client leaves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WatchKind {
    /// One-shot data watch (`getData`, or `exists` whether or not the node exists): fires on
    /// `NodeCreated`, `NodeDataChanged` and `NodeDeleted` of its path.
    Data,
    /// One-shot child watch (`getChildren`): fires on `NodeChildrenChanged` and `NodeDeleted`
    /// of its path.
    Child,
    /// Persistent watch (`addWatch` mode 0): fires on `NodeCreated`, `NodeDataChanged`,
    /// `NodeChildrenChanged` and `NodeDeleted` of its path, and stays.
    Persistent,
    /// Persistent recursive watch (`addWatch` mode 1): fires on `NodeCreated`,
    /// `NodeDataChanged` and `NodeDeleted` of its path and of every descendant (never on
    /// `NodeChildrenChanged`), and stays.
    PersistentRecursive,
}

impl WatchKind {
    /// Every kind, in declaration order.
    pub const ALL: [WatchKind; 4] = [
        WatchKind::Data,
        WatchKind::Child,
        WatchKind::Persistent,
        WatchKind::PersistentRecursive,
    ];

    /// Whether a watch of this kind stays after it fires.
    pub const fn is_persistent(self) -> bool {
        matches!(self, WatchKind::Persistent | WatchKind::PersistentRecursive)
    }
}

impl From<AddWatchMode> for WatchKind {
    fn from(mode: AddWatchMode) -> Self {
        match mode {
            AddWatchMode::Persistent => WatchKind::Persistent,
            AddWatchMode::PersistentRecursive => WatchKind::PersistentRecursive,
        }
    }
}

/// Which watches [`WatchRegistry::contains`] and [`WatchRegistry::remove`] look at, as the
/// `type` of ZooKeeper's checkWatches and removeWatches requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WatchFilter {
    /// Watches of one kind.
    Kind(WatchKind),
    /// Watches of any kind.
    Any,
}

impl WatchFilter {
    /// The name ZooKeeper gives this type (`Watcher.WatcherType`), as in its error messages.
    pub const fn name(self) -> &'static str {
        match self {
            WatchFilter::Kind(WatchKind::Data) => "Data",
            WatchFilter::Kind(WatchKind::Child) => "Children",
            WatchFilter::Kind(WatchKind::Persistent) => "Persistent",
            WatchFilter::Kind(WatchKind::PersistentRecursive) => "PersistentRecursive",
            WatchFilter::Any => "Any",
        }
    }
}

impl fmt::Display for WatchFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<WatchKind> for WatchFilter {
    fn from(kind: WatchKind) -> Self {
        WatchFilter::Kind(kind)
    }
}

impl From<WatcherType> for WatchFilter {
    fn from(t: WatcherType) -> Self {
        match t {
            WatcherType::Children => WatchFilter::Kind(WatchKind::Child),
            WatcherType::Data => WatchFilter::Kind(WatchKind::Data),
            WatcherType::Persistent => WatchFilter::Kind(WatchKind::Persistent),
            WatcherType::PersistentRecursive => WatchFilter::Kind(WatchKind::PersistentRecursive),
            WatcherType::Any => WatchFilter::Any,
        }
    }
}

/// Which of the two server tables a count or dump covers.
///
/// ZooKeeper's `wchs`, `wchc` and `wchp` (and the admin `watch_summary`, `watches`,
/// `watches_by_path`) report the **data** table only: use [`WatchScope::Data`] to match them
/// byte for byte. Its `mntr` `zk_watch_count` is data plus child:
/// `summary(WatchScope::All).watches`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchScope {
    /// The data table: `Data`, `Persistent` and `PersistentRecursive` watches.
    Data,
    /// The child table: `Child` and `Persistent` watches.
    Child,
    /// Both tables.
    All,
}

/// Watch counts, as `wchs` prints them ("`watchers` connections watching `paths` paths,
/// Total watches: `watches`").
///
/// One deliberate difference: ZooKeeper's `WatchManager` keeps a connection in its
/// watcher -> paths table after its last watch fired (until it closes or removes a watch), so
/// its `wchs` may count, and `wchc` list, connections that watch nothing; here a watcher
/// counts only while it has a watch in scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct WatchSummary {
    /// Watchers with at least one watch in scope.
    pub watchers: usize,
    /// Paths with at least one watch in scope.
    pub paths: usize,
    /// (path, watcher) pairs per table: several kinds on one path in one table count once;
    /// with [`WatchScope::All`] the two tables add up, so a `Persistent` watch counts twice,
    /// as in ZooKeeper's `DataTree.getWatchCount`.
    pub watches: usize,
}

/// Errors of the watch registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// checkWatches / removeWatches found no matching watch (ZooKeeper's
    /// `NoWatcherException`).
    #[error("no such watcher for {path} (type: {filter})")]
    NoWatcher {
        /// The path asked about.
        path: String,
        /// The watch type asked about.
        filter: WatchFilter,
    },
}

impl WatchError {
    /// The ZooKeeper error code to reply with.
    pub const fn code(&self) -> ErrorCode {
        match self {
            WatchError::NoWatcher { .. } => ErrorCode::NoWatcher,
        }
    }
}
