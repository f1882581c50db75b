//! # corral-zkdata: Apache ZooKeeper's own dataDir files, read and written in Rust
//!
//! What it is: a reader and writer for the files an Apache ZooKeeper server (3.4 to 3.9)
//! keeps in its `dataDir` and `dataLogDir`, and the data tree they describe:
//!
//! - **snapshots** ([`read_snapshot`], [`write_snapshot`]): `version-2/snapshot.<zxid>`,
//!   plain, `.gz` or `.snappy` (snappy-java's stream), with the Adler-32 seals checked, the
//!   sessions, the ACL cache, every node with its `StatPersisted`, and the 3.6+ digest;
//! - **txn logs** ([`read_log`]): `version-2/log.<zxid>`, each record's Adler-32 checked,
//!   every txn type ZooKeeper writes decoded ([`Txn`]: create, create2, createContainer,
//!   createTTL, delete, deleteContainer, setData, reconfig, setACL, check, multi,
//!   createSession, closeSession, error) with its 3.6+ [`TxnDigest`]; [`walk_log`] for
//!   the records unchecked, [`recover_log`] (`TxnLogToolkit --recover`: bad Adler-32s
//!   recomputed into `<log>.fixed`) and [`chop_log`] (`TxnLogToolkit --chop`: the records up
//!   to a zxid into `<log>.chopped<zxid>`);
//! - **the tree** ([`DataTree`]): `DataTree.processTxn`'s rules, including the ones that
//!   make a fuzzy snapshot exact when its log is replayed, and ZooKeeper's tree digest;
//! - **a restart** ([`load`]): the newest valid snapshot, the logs after it, the digests
//!   compared, as ZooKeeper's `FileTxnSnapLog.restore` does (stricter: see [`datadir`]).
//!
//! A damaged file is a [`ZkDataError::Corrupt`] naming the file and the offset; nothing is
//! skipped silently.
//!
//! What it is not: no server, no client, no watches, no quorum files (`acceptedEpoch`,
//! `currentEpoch`); the quota `zookeeper_stats` nodes are taken as stored (a server
//! recomputes them at load, as ZooKeeper does). It depends on no other Corral crate.
//!
//! ## Example
//! ```
//! use std::collections::BTreeMap;
//! use corral_zkdata::{load, read_snapshot, write_snapshot, Acl, Compression, DataTree,
//!     LoadOptions, StatPersisted};
//!
//! let dir = std::env::temp_dir().join(format!("zkdata-doc-{}", std::process::id()));
//! let mut tree = DataTree::new();
//! let stat = StatPersisted::created(5, 1_700_000_000_000, 0);
//! tree.insert_node("/app", Some(b"hello".to_vec()), Some(&Acl::open_unsafe()), stat)?;
//! tree.last_processed_zxid = 5;
//! let sessions = BTreeMap::from([(0x100_i64, 30_000)]);
//! let file = write_snapshot(&dir.join("version-2"), &tree, &sessions, Compression::Gzip)?;
//! assert!(file.ends_with("snapshot.5.gz"));
//!
//! let snap = read_snapshot(&file)?;
//! assert_eq!(snap.tree.get("/app").and_then(|n| n.data.clone()), Some(b"hello".to_vec()));
//! assert_eq!(snap.digest.map(|d| d.digest), Some(tree.digest()));
//!
//! let loaded = load(&dir, &dir, LoadOptions::default())?;
//! assert_eq!((loaded.sessions.len(), loaded.tree.len()), (1, 2));
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod datadir;
mod error;
mod jute;
mod path_hash;
pub mod records;
pub mod snapshot;
mod stream;
pub mod tree;
pub mod txnlog;

#[cfg(test)]
mod tests;

pub use datadir::{load, LoadOptions, Loaded};
pub use error::ZkDataError;
pub use records::{Acl, StatPersisted, Txn, TxnDigest, TxnEntry, TxnHeader};
pub use snapshot::{encode_snapshot, read_snapshot, write_snapshot, Snapshot, ZxidDigest};
pub use stream::{adler32, Compression};
pub use tree::{DataNode, DataTree};
pub use txnlog::{
    chop_log, encode_log, read_log, recover_log, walk_log, ChoppedLog, CrcFix, LogEnd, LogHeader,
    RawRecord, RecoveredLog,
};
