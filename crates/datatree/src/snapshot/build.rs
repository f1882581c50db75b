//! [`TreeSnapshotBuilder`]: a tree snapshot (version 2) written from nodes handed over one by
//! one, for a caller whose tree is not a [`crate::DataTree`] (`corral import` turns Apache
//! ZooKeeper's tree into Corral's with it). The format stays this module's alone.

use crate::Zxid;
use std::collections::HashMap;

use corral_jute::records::Acl;

use super::write::Batch;
use super::{
    put_acl_list, put_bytes, TreeSnapshotError, TAG_ACL, TAG_EDGE, TAG_END, TREE_SNAPSHOT_MAGIC,
    TREE_SNAPSHOT_VERSION,
};
use crate::node::NodeStat;

/// Nodes per NODEs record.
const BATCH: u32 = 4096;

/// Builds a tree snapshot that [`crate::DataTree::read_snapshot`] loads, from nodes given in
/// pre-order: the root (`/`) first, then every node after its parent. Each node carries its
/// stored Stat (the stored `cversion`: children ever created) and its ACL list; equal lists
/// are written once.
///
/// ```
/// use corral_datatree::{DataTree, DataTreeConfig, NodeStat, TreeSnapshotBuilder, Zxid};
/// use corral_jute::records::{Acl, Id};
///
/// let open = [Acl { perms: 31, id: Id { scheme: "world".into(), id: "anyone".into() } }];
/// let mut b = TreeSnapshotBuilder::new(Zxid(7), 3);
/// b.node("/", None, &open, &NodeStat::default())?;
/// b.node("/app", Some(b"v1"), &open, &NodeStat::created(Zxid(5), 1_700_000_000_000, 0))?;
/// b.node("/app/x", None, &open, &NodeStat::created(Zxid(7), 1_700_000_000_001, 0))?;
/// let bytes = b.finish()?;
/// let tree = DataTree::read_snapshot(&mut &bytes[..], DataTreeConfig::default())?;
/// assert_eq!(tree.get_data("/app").map(|(d, s)| (d, s.czxid)).ok(), Some((Some("v1".into()), 5)));
/// assert_eq!(tree.last_zxid(), Zxid(7));
/// # Ok::<(), corral_datatree::TreeSnapshotError>(())
/// ```
pub struct TreeSnapshotBuilder {
    out: Vec<u8>,
    /// ACL records and EDGEs, held back while a NODEs record is open.
    side: Vec<u8>,
    batch: Batch,
    in_batch: u32,
    /// ACL slots by the list's encoding.
    slots: HashMap<Vec<u8>, u32>,
    /// The path and id of the last node given and each of its ancestors.
    ancestors: Vec<(String, u32)>,
    nodes: u64,
    edges: u64,
    expected: u64,
}

fn refuse(reason: impl Into<String>) -> TreeSnapshotError {
    TreeSnapshotError::Invalid {
        offset: 0,
        reason: reason.into(),
    }
}

impl TreeSnapshotBuilder {
    /// A snapshot of `node_count` nodes (the root included) at `last_zxid`.
    pub fn new(last_zxid: Zxid, node_count: u64) -> TreeSnapshotBuilder {
        let mut out = Vec::with_capacity(64 + node_count.min(1 << 20) as usize * 128);
        out.extend_from_slice(&TREE_SNAPSHOT_MAGIC);
        out.push(TREE_SNAPSHOT_VERSION);
        out.extend_from_slice(&last_zxid.0.to_be_bytes());
        out.extend_from_slice(&node_count.to_be_bytes());
        TreeSnapshotBuilder {
            out,
            side: Vec::new(),
            batch: Batch::default(),
            in_batch: 0,
            slots: HashMap::new(),
            ancestors: Vec::new(),
            nodes: 0,
            edges: 0,
            expected: node_count,
        }
    }

    /// Adds the node at `path` (`/` first; its parent given before it).
    pub fn node(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        stat: &NodeStat,
    ) -> Result<(), TreeSnapshotError> {
        if data.is_some_and(|d| d.len() > i32::MAX as usize) {
            return Err(refuse(format!("{path}: data over 2 GiB")));
        }
        let id = u32::try_from(self.nodes).map_err(|_| refuse("over 2^32 nodes"))?;
        if self.nodes == 0 {
            if path != "/" {
                return Err(refuse(format!("the first node is {path:?}, not the root")));
            }
        } else {
            let (parent, name) = match path.rfind('/') {
                Some(0) => ("/", &path[1..]),
                Some(slash) => (&path[..slash], &path[slash + 1..]),
                None => return Err(refuse(format!("{path:?} does not start with /"))),
            };
            if name.is_empty() {
                return Err(refuse(format!("{path:?} has an empty name")));
            }
            let Some(at) = self.ancestors.iter().rposition(|(p, _)| p == parent) else {
                return Err(refuse(format!(
                    "the parent of {path:?} does not come before it"
                )));
            };
            self.ancestors.truncate(at + 1);
            let parent_id = self.ancestors[at].1;
            self.side.push(TAG_EDGE);
            self.side.extend_from_slice(&parent_id.to_be_bytes());
            self.side.extend_from_slice(&id.to_be_bytes());
            put_bytes(&mut self.side, name.as_bytes());
            self.edges += 1;
        }
        // ACL lists by their encoding (what the record holds).
        let mut key = Vec::with_capacity(32);
        put_acl_list(&mut key, acl);
        let next_slot = self.slots.len() as u32;
        let slot = match self.slots.get(&key) {
            Some(&slot) => slot,
            None => {
                self.side.push(TAG_ACL);
                self.side.extend_from_slice(&next_slot.to_be_bytes());
                self.side.extend_from_slice(&key);
                self.slots.insert(key, next_slot);
                next_slot
            }
        };
        self.batch.add(&mut self.out, id, slot, stat, data);
        self.in_batch += 1;
        if self.in_batch == BATCH {
            self.flush();
        }
        self.nodes += 1;
        self.ancestors.push((path.to_string(), id));
        Ok(())
    }

    /// Closes the open NODEs record and appends what was held back.
    fn flush(&mut self) {
        self.batch.close(&mut self.out);
        self.in_batch = 0;
        self.out.append(&mut self.side);
    }

    /// The snapshot's bytes; refuses when fewer or more nodes came than announced.
    pub fn finish(mut self) -> Result<Vec<u8>, TreeSnapshotError> {
        if self.nodes != self.expected {
            return Err(refuse(format!(
                "{} nodes given, {} announced",
                self.nodes, self.expected
            )));
        }
        self.flush();
        self.out.push(TAG_END);
        for n in [self.slots.len() as u64, self.nodes, self.edges] {
            self.out.extend_from_slice(&n.to_be_bytes());
        }
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DataTree, DataTreeConfig};
    use corral_jute::records::Id;

    fn acl(scheme: &str, id: &str, perms: i32) -> Vec<Acl> {
        vec![Acl {
            perms,
            id: Id {
                scheme: scheme.into(),
                id: id.into(),
            },
        }]
    }

    /// More nodes than a batch, shared and distinct ACLs, stored Stats, siblings out of name
    /// order: read back exactly.
    #[test]
    fn a_built_snapshot_reads_back_node_for_node() {
        let open = acl("world", "anyone", 31);
        let ip = acl("ip", "127.0.0.1", 3);
        let n = BATCH as usize + 10;
        let mut b = TreeSnapshotBuilder::new(Zxid(99), 3 + n as u64);
        b.node("/", None, &open, &NodeStat::default())
            .expect("root");
        let mut parent = NodeStat::created(Zxid(2), 10, 0);
        parent.cversion = n as i32 + 5;
        b.node("/p", Some(b"parent"), &ip, &parent).expect("p");
        for i in (0..n).rev() {
            let mut s = NodeStat::created(Zxid(3 + i as u64), 20, if i == 1 { 0x55 } else { 0 });
            s.version = i as i32 % 7;
            let a = if i % 2 == 0 { &open } else { &ip };
            b.node(
                &format!("/p/c{i:05}"),
                Some(format!("{i}").as_bytes()),
                a,
                &s,
            )
            .expect("child");
        }
        b.node("/q", None, &open, &NodeStat::created(Zxid(90), 30, 0))
            .expect("q");
        let bytes = b.finish().expect("finish");
        let config = DataTreeConfig::default();
        let tree = DataTree::read_snapshot(&mut &bytes[..], config).expect("read");
        assert_eq!(tree.last_zxid(), Zxid(99));
        let (data, stat) = tree.get_data("/p").expect("p");
        assert_eq!(data.as_deref(), Some(&b"parent"[..]));
        assert_eq!(
            (stat.num_children, stat.cversion),
            (n as i32, 2 * (n as i32 + 5) - n as i32)
        );
        assert_eq!(tree.get_acl("/p").expect("acl").0, ip);
        for i in [0, 1, n - 1] {
            let path = format!("/p/c{i:05}");
            let (data, stat) = tree.get_data(&path).expect("child");
            assert_eq!(data.as_deref(), Some(format!("{i}").as_bytes()));
            assert_eq!((stat.czxid, stat.version), (3 + i as i64, i as i32 % 7));
            let want = if i % 2 == 0 { &open } else { &ip };
            assert_eq!(&tree.get_acl(&path).expect("acl").0, want);
        }
        assert_eq!(
            tree.get_data("/p/c00001").expect("c1").1.ephemeral_owner,
            0x55
        );
        assert!(tree.get_data("/q").is_ok());
    }

    #[test]
    fn nodes_out_of_order_or_miscounted_are_refused() {
        let open = acl("world", "anyone", 31);
        let stat = NodeStat::default();
        let mut b = TreeSnapshotBuilder::new(Zxid(1), 2);
        assert!(b.node("/a", None, &open, &stat).is_err(), "root first");
        b.node("/", None, &open, &stat).expect("root");
        assert!(b.node("/a/b", None, &open, &stat).is_err(), "parent first");
        assert!(b.node("relative", None, &open, &stat).is_err());
        b.node("/a", None, &open, &stat).expect("a");
        assert!(b.finish().is_ok());
        let mut short = TreeSnapshotBuilder::new(Zxid(1), 3);
        short.node("/", None, &open, &stat).expect("root");
        assert!(short.finish().is_err());
    }
}
