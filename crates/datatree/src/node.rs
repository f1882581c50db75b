//! A znode as stored: its persisted Stat fields, data, ACL reference and children; and the
//! table that shares identical ACLs between nodes (ZooKeeper's `ReferenceCountedACLCache`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use corral_jute::io::Jute;
use corral_jute::records::{Acl, Stat};

use crate::ephemeral::EphemeralType;

/// Index of a node in the tree's slab.
pub(crate) type NodeId = u32;
/// Index of an ACL in the [`AclTable`].
pub(crate) type AclId = u32;

/// The Stat fields a node stores (ZooKeeper's `StatPersisted`). `cversion` here counts the
/// children ever created; clients see `2 * cversion - numChildren` (creates plus deletes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct NodeStat {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub pzxid: i64,
    pub ephemeral_owner: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
}

impl NodeStat {
    /// The Stat of a node created at `zxid` / `time_ms` (ZooKeeper's `DataTree.createStat`).
    pub fn created(zxid: i64, time_ms: i64, ephemeral_owner: i64) -> NodeStat {
        NodeStat {
            czxid: zxid,
            mzxid: zxid,
            ctime: time_ms,
            mtime: time_ms,
            pzxid: zxid,
            ephemeral_owner,
            version: 0,
            cversion: 0,
            aversion: 0,
        }
    }

    /// The Stat a client sees (ZooKeeper's `DataNode.copyStat`): the client cversion counts
    /// creates and deletes, and the ephemeral owner shows only for session-owned nodes
    /// (containers and TTL nodes show 0).
    pub fn to_stat(self, data_length: i32, num_children: i32, extended: bool) -> Stat {
        let owner = match EphemeralType::of(self.ephemeral_owner, extended) {
            EphemeralType::Normal => self.ephemeral_owner,
            _ => 0,
        };
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: self.aversion,
            ephemeral_owner: owner,
            data_length,
            num_children,
            pzxid: self.pzxid,
        }
    }
}

/// A length as the i32 ZooKeeper puts in a Stat.
pub(crate) fn len_i32(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

/// One znode.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub data: Option<Bytes>,
    pub stat: NodeStat,
    pub acl: AclId,
    pub children: BTreeMap<Box<str>, NodeId>,
}

impl Node {
    pub fn data_len(&self) -> usize {
        self.data.as_ref().map_or(0, Bytes::len)
    }

    pub fn stat(&self, extended: bool) -> Stat {
        self.stat.to_stat(
            len_i32(self.data_len()),
            len_i32(self.children.len()),
            extended,
        )
    }
}

#[derive(Debug, Clone)]
struct AclSlot {
    acl: Arc<[Acl]>,
    key: Bytes,
    refs: u32,
}

/// Identical ACL lists stored once, reference counted.
#[derive(Debug, Clone, Default)]
pub(crate) struct AclTable {
    slots: Vec<AclSlot>,
    free: Vec<AclId>,
    index: HashMap<Bytes, AclId>,
}

impl AclTable {
    /// Takes a reference to `acl`, storing it if it is new.
    pub fn intern(&mut self, acl: &[Acl]) -> AclId {
        let key = acl.to_vec().to_bytes();
        if let Some(&id) = self.index.get(&key) {
            if let Some(slot) = self.slots.get_mut(id as usize) {
                slot.refs += 1;
            }
            return id;
        }
        let slot = AclSlot {
            acl: Arc::from(acl),
            key: key.clone(),
            refs: 1,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = slot;
                id
            }
            None => {
                self.slots.push(slot);
                AclId::try_from(self.slots.len() - 1).unwrap_or(AclId::MAX)
            }
        };
        self.index.insert(key, id);
        id
    }

    /// Drops a reference taken by [`AclTable::intern`].
    pub fn release(&mut self, id: AclId) {
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return;
        };
        slot.refs = slot.refs.saturating_sub(1);
        if slot.refs == 0 {
            self.index.remove(&slot.key);
            slot.acl = Arc::from(Vec::new());
            slot.key = Bytes::new();
            self.free.push(id);
        }
    }

    /// The ACL list of an id.
    pub fn get(&self, id: AclId) -> &Arc<[Acl]> {
        // Ids only come from `intern`, so the slot exists; an empty list is the safe fallback.
        static EMPTY: std::sync::OnceLock<Arc<[Acl]>> = std::sync::OnceLock::new();
        match self.slots.get(id as usize) {
            Some(slot) => &slot.acl,
            None => EMPTY.get_or_init(|| Arc::from(Vec::new())),
        }
    }

    /// How many distinct ACL lists are stored.
    pub fn len(&self) -> usize {
        self.index.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_cversion_counts_creates_and_deletes() {
        let mut s = NodeStat::created(5, 7, 0);
        s.cversion = 3; // three children created
        assert_eq!(s.to_stat(0, 1, false).cversion, 5); // two of them deleted since
        assert_eq!(NodeStat::default().to_stat(0, 1, false).cversion, -1);
    }

    #[test]
    fn container_and_ttl_owners_are_hidden() {
        let s = NodeStat::created(1, 1, i64::MIN);
        assert_eq!(s.to_stat(0, 0, false).ephemeral_owner, 0);
        let ttl = crate::ephemeral::ttl_owner(100).unwrap_or(0);
        let s = NodeStat::created(1, 1, ttl);
        assert_eq!(s.to_stat(0, 0, true).ephemeral_owner, 0);
        let s = NodeStat::created(1, 1, 42);
        assert_eq!(s.to_stat(0, 0, true).ephemeral_owner, 42);
    }

    #[test]
    fn acl_table_shares_and_frees() {
        let mut t = AclTable::default();
        let a = corral_acl::open_acl_unsafe();
        let b = corral_acl::read_acl_unsafe();
        let ia = t.intern(&a);
        let ia2 = t.intern(&a);
        let ib = t.intern(&b);
        assert_eq!(ia, ia2);
        assert_ne!(ia, ib);
        assert_eq!(t.len(), 2);
        assert_eq!(&**t.get(ia), a.as_slice());
        t.release(ia);
        assert_eq!(t.len(), 2);
        t.release(ia);
        assert_eq!(t.len(), 1);
        let ic = t.intern(&corral_acl::creator_all_acl());
        assert_eq!(ic, ia, "a freed slot is reused");
    }
}

#[cfg(test)]
mod size_probe {
    #[test]
    fn node_stays_small() {
        // data 32 + persisted stat 64 + acl 4 + children 24, plus the slab's Option tag.
        assert!(std::mem::size_of::<Option<super::Node>>() <= 136);
    }
}
