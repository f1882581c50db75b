//! # corral-datatree: the znode tree
//!
//! What it is: ZooKeeper's data model. [`DataTree`] holds the znodes (data, ACL, the Stat
//! fields, children), the index of each session's ephemeral nodes and of container and TTL
//! nodes, and answers the reads (`get_data`, `stat`, `get_children`, `get_acl`, ...). Writes
//! go in two steps, as in ZooKeeper:
//!
//! 1. **prep** ([`DataTree::prep`], ZooKeeper's `PrepRequestProcessor`): the leader checks a
//!    request (paths, ACLs, versions, existence, in ZooKeeper's order) against the tree *plus
//!    the changes still in flight* ([`Pending`]) and decides a [`TxnBody`], or fails with an
//!    [`ErrorCode`](corral_jute::codes::ErrorCode). Sequence suffixes, the parent's next cversion and the new versions are
//!    decided here.
//! 2. **apply** ([`DataTree::apply`], ZooKeeper's `DataTree.processTxn`): every server applies
//!    the committed [`Txn`] in zxid order; it returns the writer's [`TxnResult`] and the watch
//!    triggers in ZooKeeper's order.
//!
//! Stat semantics follow ZooKeeper exactly: a create sets czxid = mzxid = pzxid = zxid and
//! ctime = mtime = the txn's time, and moves the parent's cversion and pzxid; a delete raises
//! the parent's pzxid; setData moves version, mzxid, mtime; setACL moves only aversion. The
//! cversion a client sees counts creates *and* deletes of children (ZooKeeper stores the
//! creates and reports `2 * cversion - numChildren`), and the ephemeral owner it sees is 0
//! for containers and TTL nodes.
//!
//! For the server that drives it:
//! - per write: `prep` with the next zxid; `Ok(body)` or `Err(code)` becomes
//!   `TxnBody::Error(code)` (a failed write still takes its zxid); log; `apply`;
//!   then [`Pending::applied`] with that zxid. A txn prepped but never logged is
//!   [`Pending::rollback`]ed (newest first).
//! - replies: a single create answers `path` for `OpCode::Create` and `path` + `stat` for
//!   create2 / createContainer / createTTL; a multi's [`TxnResult::Multi`] is already the
//!   `MultiResponse` results, and its reply header err is 0 even when it failed
//!   ([`TxnResult::error_code`] gives the header code of any result).
//! - reads check permissions with [`DataTree::node_acl`] and `corral_acl::check`.
//! - session expiry: [`DataTree::prep_close_session`]; containers and TTL nodes:
//!   [`DataTree::containers_to_reap`] and [`DataTree::expired_ttls`], each deleted with a
//!   deleteContainer request (which prep re-checks).
//!
//! - snapshots: [`DataTree::write_snapshot`] writes the whole tree at once (for a small tree,
//!   or a clone); for a big one, [`DataTree::begin_snapshot`] under the server's lock, then
//!   [`DataTree::snapshot_step`] with a small budget under the lock, the bytes written out
//!   without it, until [`SnapshotProgress::Done`]. Txns go on being applied between the steps
//!   (the tree writes what a change would overwrite first), and the bytes decode to exactly
//!   the tree as it was at `begin_snapshot`. [`DataTree::read_snapshot`] loads either, and the
//!   version 1 files of older builds. The format and the consistency argument: [`snapshot`].
//!
//! - the tree digest: [`DataTree::digest`] is Apache ZooKeeper's (3.6+ `DigestCalculator`,
//!   version 2: a wrapping sum of a CRC-32 per node over path, data and Stat, nodes under
//!   `/zookeeper/` left out), kept current by every change and recomputed when a snapshot is
//!   loaded, so servers (and ZooKeeper's own files) can be compared by one number;
//!   [`DataTree::digest_log`] is the history ZooKeeper's `hash` four-letter word prints (the
//!   digest after every txn whose zxid is a multiple of 128, the newest 1024). See [`digest`].
//!
//! ```
//! use corral_datatree::{DataTree, DataTreeConfig, SnapshotProgress, Txn, TxnBody, Zxid};
//!
//! let mut tree = DataTree::new();
//! let zxid = tree.begin_snapshot()?;
//! let mut bytes = Vec::new();
//! let mut next_zxid = Zxid(zxid.0 + 1);
//! while tree.snapshot_step(2, &mut bytes)? == SnapshotProgress::More {
//!     // Between steps the server writes `bytes` out and applies more txns.
//!     let body = TxnBody::Create {
//!         op: corral_jute::codes::OpCode::Create,
//!         path: format!("/n{next_zxid}"),
//!         data: None,
//!         acl: corral_acl::open_acl_unsafe(),
//!         ephemeral_owner: 0,
//!         parent_cversion: -1,
//!     };
//!     tree.apply(&Txn { zxid: next_zxid, time_ms: 0, session_id: 1, cxid: 1, body });
//!     next_zxid = Zxid(next_zxid.0 + 1);
//! }
//! let at_begin = DataTree::read_snapshot(&mut &bytes[..], DataTreeConfig::default())?;
//! assert_eq!((at_begin.last_zxid(), at_begin.node_count()), (zxid, DataTree::new().node_count()));
//! assert!(tree.node_count() > at_begin.node_count());
//! # Ok::<(), corral_datatree::TreeSnapshotError>(())
//! ```
//!
//! What it is not: no I/O, clock or randomness (zxids and times come from the caller), no
//! watch registry (apply returns the triggers; corral-watch decides who fires), no sessions
//! table (corral-session). Quotas: the `zookeeper_stats` of quota'd subtrees are kept
//! current, and hard limits fail writes only when `DataTreeConfig::enforce_quota` is set (as
//! ZooKeeper's `zookeeper.enforceQuota`).
//!
//! ```
//! use corral_datatree::{DataTree, Pending, PrepContext, Txn, TxnResult, Zxid};
//! use corral_jute::codes::{EventType, OpCode};
//! use corral_jute::records::CreateRequest;
//! use corral_jute::request::Request;
//!
//! let mut tree = DataTree::new();
//! let mut pending = Pending::new();
//! let req = Request::Create {
//!     op: OpCode::Create,
//!     req: CreateRequest {
//!         path: "/app".into(),
//!         data: Some("hello".into()),
//!         acl: corral_acl::open_acl_unsafe(),
//!         flags: 0,
//!     },
//!     ttl: None,
//! };
//!
//! // The leader decides the change ...
//! let ctx = PrepContext { session_id: 0x42, zxid: Zxid(1), time_ms: 1_700_000_000_000, auth_ids: &[],
//!     providers: corral_acl::Providers::BUILT_IN };
//! let body = tree.prep(&mut pending, &ctx, &req)?;
//!
//! // ... logs it, and every server applies it.
//! let txn = Txn { zxid: ctx.zxid, time_ms: ctx.time_ms, session_id: ctx.session_id, cxid: 1, body };
//! let applied = tree.apply(&txn);
//! pending.applied(txn.zxid);
//!
//! let TxnResult::Create { path, stat } = applied.result else { panic!("create failed") };
//! assert_eq!((path.as_str(), stat.czxid, stat.version), ("/app", 1, 0));
//! assert_eq!(
//!     applied.events,
//!     vec![
//!         ("/app".to_string(), EventType::NodeCreated),
//!         ("/".to_string(), EventType::NodeChildrenChanged),
//!     ]
//! );
//! assert_eq!(tree.get_data("/app")?.0.as_deref(), Some(&b"hello"[..]));
//!
//! // The digest moved with the change, exactly as a recompute over the whole tree says.
//! assert_eq!(tree.digest(), tree.recompute_digest());
//! assert_ne!(tree.digest(), DataTree::new().digest());
//! # Ok::<(), corral_jute::codes::ErrorCode>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod apply;
pub mod digest;
pub mod ephemeral;
mod node;
pub mod path;
mod pending;
mod prep;
pub mod quota;
pub mod snapshot;
mod tree;
mod txn;

#[cfg(test)]
mod tests;

pub use corral_zxid::Zxid;
pub use digest::ZxidDigest;
pub use node::NodeStat;
pub use pending::Pending;
pub use prep::PrepContext;
pub use snapshot::{
    SnapshotProgress, TreeSnapshotBuilder, TreeSnapshotError, TREE_SNAPSHOT_MAGIC,
    TREE_SNAPSHOT_VERSION,
};
pub use tree::{DataTree, DataTreeConfig};
pub use txn::{Applied, Txn, TxnBody, TxnResult, FORMAT_VERSION};

/// The crate's own failures (ZooKeeper outcomes are [`corral_jute::codes::ErrorCode`] values).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DataTreeError {
    /// An encoded txn ended early (or announced more items than it holds).
    #[error("encoded txn truncated at offset {offset}")]
    Truncated {
        /// Where the read failed.
        offset: usize,
    },
    /// An encoded txn had bytes after its end.
    #[error("{0} trailing bytes after the encoded txn")]
    TrailingBytes(usize),
    /// An encoded txn starts with a format version this build does not know.
    #[error("unknown txn format version {0}")]
    UnknownVersion(u8),
    /// An encoded txn item has an unknown tag (or a multi inside a multi).
    #[error("unknown txn tag {tag} at offset {offset}")]
    UnknownTag {
        /// The tag.
        tag: u8,
        /// Where it was read.
        offset: usize,
    },
    /// A string was not UTF-8.
    #[error("string at offset {offset} is not valid UTF-8")]
    InvalidUtf8 {
        /// Where the string started.
        offset: usize,
    },
    /// A data length was negative (other than -1 for null).
    #[error("invalid data length {len} at offset {offset}")]
    InvalidLength {
        /// The length read.
        len: i32,
        /// Where it was read.
        offset: usize,
    },
    /// An error code ZooKeeper does not define.
    #[error("unknown error code {0}")]
    UnknownErrorCode(i32),
    /// A create txn whose op is not one of the create ops.
    #[error("op code {0} is not a create op")]
    InvalidCreateOp(i32),
}
