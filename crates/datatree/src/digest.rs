//! The tree digest: Apache ZooKeeper's (3.6+) `DigestCalculator`, version 2, kept current as
//! txns are applied, and the history of digests the `hash` four-letter word prints.
//!
//! Facts (ZooKeeper 3.8 `DigestCalculator`, `NodeHashMapImpl`, `AdHash`, `DataTree`):
//! - a node's digest is the CRC-32 (java.util.zip.CRC32, the IEEE polynomial) of its path
//!   (`""` for the root, which ZooKeeper also names `"/"`), its data (nothing for null) and
//!   60 bytes of its stored Stat, big-endian: czxid, mzxid, pzxid, ctime, mtime (8 bytes
//!   each), version, cversion, aversion (4 each), ephemeralOwner (8). The stored cversion
//!   (creates only) and the stored ephemeralOwner (container and TTL markers included) are
//!   hashed, not what a client sees; the ACL is not hashed, so a setACL changes the digest
//!   through aversion only;
//! - nodes whose path starts with `/zookeeper/` count 0 (quota nodes are kept locally);
//!   `/zookeeper` itself counts;
//! - the tree digest is the wrapping 64-bit sum of the node digests, subtracting a node's old
//!   digest and adding its new one on every change (a create also changes the parent's
//!   cversion and pzxid, a delete the parent's pzxid);
//! - after every txn (not each op of a multi) whose zxid is a multiple of 128
//!   (`DIGEST_LOG_INTERVAL`) the pair (zxid, digest) is appended to a history of at most
//!   1024 entries (`DIGEST_LOG_LIMIT`), the oldest dropped first. Session and failed txns
//!   count. The history lives in memory: after a restart it holds what the replayed log
//!   added.
//!
//! The cost per change: a node keeps the CRC-32 of its path and data
//! (`prefix_crc`); its digest is that CRC continued over the 60 Stat bytes, so a change
//! to the Stat alone (the parent of a create or delete, a setACL) hashes 2 x 60 bytes, and
//! only a create or setData hashes the path and data.

use crate::Zxid;
use std::collections::VecDeque;

use crate::node::{NodeId, NodeStat};
use crate::tree::{DataTree, ROOT};

/// ZooKeeper's `DigestCalculator.DIGEST_VERSION`.
pub const DIGEST_VERSION: i32 = 2;

/// ZooKeeper's `DataTree.DIGEST_LOG_INTERVAL`: a digest is recorded after each txn whose
/// zxid is a multiple of this.
pub const DIGEST_LOG_INTERVAL: u64 = 128;

/// ZooKeeper's `DataTree.DIGEST_LOG_LIMIT`: how many digests the history keeps.
pub const DIGEST_LOG_LIMIT: usize = 1024;

/// ZooKeeper's `ZooDefs.ZOOKEEPER_NODE_SUBTREE`: nodes under it are outside the digest.
const EXCLUDED_SUBTREE: &str = "/zookeeper/";

/// The tree digest after the txn `zxid` (ZooKeeper's `DataTree.ZxidDigest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZxidDigest {
    /// The txn's zxid.
    pub zxid: Zxid,
    /// The tree digest once it was applied (ZooKeeper's `long`).
    pub digest: i64,
}

/// Whether a node at `path` is outside the digest (counts 0).
pub(crate) fn excluded(path: &str) -> bool {
    path.starts_with(EXCLUDED_SUBTREE)
}

/// The CRC-32 of a node's path (`"/"` hashed as `""`) and data: the start of its digest.
pub(crate) fn prefix_crc(path: &str, data: Option<&[u8]>) -> u32 {
    let path = if path == "/" { "" } else { path };
    let mut crc = crc32fast::Hasher::new();
    crc.update(path.as_bytes());
    if let Some(data) = data {
        crc.update(data);
    }
    crc.finalize()
}

/// A node's digest from its [`prefix_crc`] and Stat; 0 for a node outside the digest.
pub(crate) fn node_digest(path: &str, prefix: u32, stat: &NodeStat) -> i64 {
    if excluded(path) {
        return 0;
    }
    stat_digest(prefix, stat)
}

/// The [`prefix_crc`] continued over the 60 Stat bytes.
fn stat_digest(prefix: u32, stat: &NodeStat) -> i64 {
    let mut b = [0u8; 60];
    let longs = [
        stat.czxid.to_wire(),
        stat.mzxid.to_wire(),
        stat.pzxid.to_wire(),
        stat.ctime,
        stat.mtime,
    ];
    for (chunk, v) in b[..40].chunks_exact_mut(8).zip(longs) {
        chunk.copy_from_slice(&v.to_be_bytes());
    }
    let ints = [stat.version, stat.cversion, stat.aversion];
    for (chunk, v) in b[40..52].chunks_exact_mut(4).zip(ints) {
        chunk.copy_from_slice(&v.to_be_bytes());
    }
    b[52..].copy_from_slice(&stat.ephemeral_owner.to_be_bytes());
    let mut crc = crc32fast::Hasher::new_with_initial(prefix);
    crc.update(&b);
    i64::from(crc.finalize())
}

/// The history of digests ZooKeeper keeps for `hash` (its `DataTree.digestLog`).
#[derive(Debug, Clone, Default)]
pub(crate) struct DigestLog {
    entries: VecDeque<ZxidDigest>,
}

impl DigestLog {
    /// Records the digest after the txn `zxid` if the zxid is one ZooKeeper records.
    pub fn after_txn(&mut self, zxid: Zxid, digest: i64) {
        if !zxid.0.is_multiple_of(DIGEST_LOG_INTERVAL) {
            return;
        }
        self.entries.push_back(ZxidDigest { zxid, digest });
        if self.entries.len() > DIGEST_LOG_LIMIT {
            self.entries.pop_front();
        }
    }

    /// The recorded digests, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = ZxidDigest> + '_ {
        self.entries.iter().copied()
    }
}

impl DataTree {
    /// The tree digest (ZooKeeper's `DataTree.getTreeDigest`), kept current as txns are
    /// applied; equal to [`DataTree::recompute_digest`].
    pub fn digest(&self) -> i64 {
        self.digest
    }

    /// The digests recorded after txns, oldest first (ZooKeeper's `getDigestLog`, what the
    /// `hash` four-letter word prints as `{zxid:x}: {digest}` lines): one after each txn whose
    /// zxid is a multiple of [`DIGEST_LOG_INTERVAL`], at most [`DIGEST_LOG_LIMIT`].
    pub fn digest_log(&self) -> Vec<ZxidDigest> {
        self.digest_log.entries().collect()
    }

    /// The tree digest computed from scratch over every node (O(nodes and data bytes)): a
    /// check of [`DataTree::digest`], which is kept incrementally.
    pub fn recompute_digest(&self) -> i64 {
        let mut sum = 0i64;
        self.walk(|_, _, digest| {
            sum = sum.wrapping_add(digest);
        });
        sum
    }

    /// Sets every node's digest prefix and the tree digest from scratch (a fresh or a loaded
    /// tree).
    pub(crate) fn rehash_all(&mut self) {
        let mut prefixes = Vec::with_capacity(self.live_nodes());
        let mut sum = 0i64;
        self.walk(|id, prefix, digest| {
            prefixes.push((id, prefix));
            sum = sum.wrapping_add(digest);
        });
        for (id, prefix) in prefixes {
            self.node_mut(id).digest_prefix = prefix;
        }
        self.digest = sum;
    }

    /// Every node with its [`prefix_crc`] and its digest, both computed afresh. No path is
    /// built: a child's path CRC continues its parent's over `/name`, and the nodes under
    /// `/zookeeper/` are known by their ancestor.
    fn walk(&self, mut f: impl FnMut(NodeId, u32, i64)) {
        /// A node to visit: its id, the CRC of its path, and where it is.
        struct Visit {
            id: NodeId,
            path_crc: u32,
            place: Place,
        }
        #[derive(Clone, Copy, PartialEq)]
        enum Place {
            Root,
            Zookeeper,
            UnderZookeeper,
            Other,
        }
        let mut stack = vec![Visit {
            id: ROOT,
            path_crc: 0, // the root's path is "" for the digest
            place: Place::Root,
        }];
        while let Some(Visit {
            id,
            path_crc,
            place,
        }) = stack.pop()
        {
            let node = self.node(id);
            let mut crc = crc32fast::Hasher::new_with_initial(path_crc);
            if let Some(data) = &node.data {
                crc.update(data);
            }
            let prefix = crc.finalize();
            let digest = if place == Place::UnderZookeeper {
                0
            } else {
                stat_digest(prefix, &node.stat)
            };
            f(id, prefix, digest);
            for (name, child) in node.children.iter() {
                let mut crc = crc32fast::Hasher::new_with_initial(path_crc);
                crc.update(b"/");
                crc.update(name.as_bytes());
                let place = match place {
                    Place::Root if name.as_str() == "zookeeper" => Place::Zookeeper,
                    Place::Zookeeper | Place::UnderZookeeper => Place::UnderZookeeper,
                    _ => Place::Other,
                };
                stack.push(Visit {
                    id: child,
                    path_crc: crc.finalize(),
                    place,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat() -> NodeStat {
        NodeStat {
            czxid: Zxid(0x1_0000_0002),
            mzxid: Zxid(0x1_0000_0003),
            ctime: 1_700_000_000_000,
            mtime: 1_700_000_000_500,
            pzxid: Zxid(0x1_0000_0002),
            ephemeral_owner: 0x0100_0000_0000_0001,
            version: 1,
            cversion: 0,
            aversion: 0,
        }
    }

    #[test]
    fn a_node_digest_is_the_crc32_of_path_data_and_the_60_stat_bytes() {
        // The 60 bytes laid out by hand, in DigestCalculator's order.
        let s = stat();
        let mut whole = b"/app".to_vec();
        whole.extend_from_slice(b"hello");
        for v in [
            s.czxid.to_wire(),
            s.mzxid.to_wire(),
            s.pzxid.to_wire(),
            s.ctime,
            s.mtime,
        ] {
            whole.extend_from_slice(&v.to_be_bytes());
        }
        for v in [s.version, s.cversion, s.aversion] {
            whole.extend_from_slice(&v.to_be_bytes());
        }
        whole.extend_from_slice(&s.ephemeral_owner.to_be_bytes());
        assert_eq!(whole.len(), 4 + 5 + 60);
        let expected = i64::from(crc32fast::hash(&whole));
        let prefix = prefix_crc("/app", Some(b"hello"));
        assert_eq!(node_digest("/app", prefix, &s), expected);
    }

    #[test]
    fn the_root_hashes_as_the_empty_path_and_null_data_as_no_bytes() {
        let s = NodeStat::default();
        assert_eq!(prefix_crc("/", None), prefix_crc("", Some(b"")));
        assert_eq!(
            node_digest("/", prefix_crc("/", None), &s),
            i64::from(crc32fast::hash(&[0u8; 60]))
        );
    }

    #[test]
    fn only_nodes_under_the_zookeeper_subtree_are_excluded() {
        let s = NodeStat::default();
        assert_eq!(node_digest("/zookeeper/quota", 0, &s), 0);
        assert_ne!(
            node_digest("/zookeeper", prefix_crc("/zookeeper", None), &s),
            0
        );
        assert_ne!(
            node_digest("/zookeeperx", prefix_crc("/zookeeperx", None), &s),
            0
        );
    }

    #[test]
    fn the_log_keeps_multiples_of_128_and_at_most_1024() {
        let mut log = DigestLog::default();
        for zxid in 1..=(128 * 1030) {
            log.after_txn(Zxid(zxid), zxid as i64 * 2);
        }
        let all: Vec<ZxidDigest> = log.entries().collect();
        assert_eq!(all.len(), DIGEST_LOG_LIMIT);
        assert_eq!(
            all.first(),
            Some(&ZxidDigest {
                zxid: Zxid(128 * 7),
                digest: 128 * 14
            })
        );
        assert_eq!(all.last().map(|z| z.zxid), Some(Zxid(128 * 1030)));
        // An epoch's high bits do not change which counters are recorded.
        let mut log = DigestLog::default();
        log.after_txn(Zxid((5 << 32) | 0x80), 1);
        log.after_txn(Zxid((5 << 32) | 0x81), 2);
        assert_eq!(log.entries().count(), 1);
    }
}
