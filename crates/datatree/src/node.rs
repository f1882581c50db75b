//! A znode as stored: its persisted Stat fields, data, ACL reference and children; and the
//! table that shares identical ACLs between nodes (ZooKeeper's `ReferenceCountedACLCache`).

use crate::Zxid;
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::num::NonZeroU32;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use corral_jute::io::Jute;
use corral_jute::records::{Acl, Stat};

use crate::ephemeral::EphemeralType;
use crate::snapshot::Unlinked;

/// Index of a node in the tree's slab.
pub(crate) type NodeId = u32;
/// An ACL in the [`AclTable`]: its slot index plus one (never zero, so an `Option<Node>`
/// needs no tag of its own).
pub(crate) type AclId = NonZeroU32;

/// The Stat fields a node stores (ZooKeeper's `StatPersisted`). `cversion` here counts the
/// children ever created; clients see `2 * cversion - numChildren` (creates plus deletes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeStat {
    /// The zxid that created the node.
    pub czxid: Zxid,
    /// The zxid that last changed its data.
    pub mzxid: Zxid,
    /// When it was created (ms).
    pub ctime: i64,
    /// When its data last changed (ms).
    pub mtime: i64,
    /// The zxid that last changed its children.
    pub pzxid: Zxid,
    /// Its owner: a session, or a container / TTL mark, or 0.
    pub ephemeral_owner: i64,
    /// Its data version.
    pub version: i32,
    /// Children ever created under it (ZooKeeper's stored cversion).
    pub cversion: i32,
    /// Its ACL version.
    pub aversion: i32,
}

impl NodeStat {
    /// The Stat of a node created at `zxid` / `time_ms` (ZooKeeper's `DataTree.createStat`).
    pub fn created(zxid: Zxid, time_ms: i64, ephemeral_owner: i64) -> NodeStat {
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
            czxid: self.czxid.to_wire(),
            mzxid: self.mzxid.to_wire(),
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: self.aversion,
            ephemeral_owner: owner,
            data_length,
            num_children,
            pzxid: self.pzxid.to_wire(),
        }
    }
}

/// A length as the i32 ZooKeeper puts in a Stat.
pub(crate) fn len_i32(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

/// The longest name stored inline in a [`Name`].
const INLINE_NAME: usize = 22;

/// A child's name (one path component): up to 22 bytes inline, longer ones on the heap. Most
/// names are short, so most nodes need no allocation for their name. Ordered by bytes, as
/// `str` is.
#[derive(Clone)]
pub(crate) struct Name(NameRepr);

#[derive(Clone)]
enum NameRepr {
    Inline { len: u8, bytes: [u8; INLINE_NAME] },
    Heap(Box<str>),
}

impl Name {
    pub fn new(s: &str) -> Name {
        let len = s.len();
        if len <= INLINE_NAME {
            let mut bytes = [0u8; INLINE_NAME];
            bytes[..len].copy_from_slice(s.as_bytes());
            Name(NameRepr::Inline {
                len: len as u8,
                bytes,
            })
        } else {
            Name(NameRepr::Heap(s.into()))
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            NameRepr::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            NameRepr::Heap(s) => s.as_bytes(),
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Made from a `&str`, so always UTF-8.
            NameRepr::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            NameRepr::Heap(s) => s,
        }
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Name {}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Borrow<[u8]> for Name {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A node's children by name, in name order. Most nodes have none, so the map is boxed and
/// absent until the first child (8 bytes per node instead of 24).
#[derive(Debug, Clone, Default)]
// The box is the point: 8 bytes in every node instead of a 24-byte map header.
#[allow(clippy::box_collection)]
pub(crate) struct Children(Option<Box<BTreeMap<Name, NodeId>>>);

impl Children {
    /// Children from `(name, id)` pairs, built bottom up with full B-tree nodes: linear time
    /// when the names come in increasing order, a sort first otherwise. Of a repeated name one
    /// pair is kept (a caller that must refuse repeats compares the lengths).
    pub fn from_sorted(kids: Vec<(Name, NodeId)>) -> Children {
        if kids.is_empty() {
            return Children(None);
        }
        Children(Some(Box::new(kids.into_iter().collect())))
    }

    pub fn get(&self, name: &str) -> Option<NodeId> {
        self.0.as_ref()?.get(name.as_bytes()).copied()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Adds a child; `false`, changing nothing, if there is one of that name already.
    pub fn insert(&mut self, name: &str, id: NodeId) -> bool {
        let map = self.0.get_or_insert_with(Box::default);
        if map.contains_key(name.as_bytes()) {
            return false;
        }
        map.insert(Name::new(name), id);
        true
    }

    /// Removes a child, freeing the map with the last one. Only the tree's unlink (which runs
    /// the snapshot hook first) can make the [`Unlinked`] this takes.
    pub fn remove(&mut self, name: &str, _hooked: Unlinked) -> Option<NodeId> {
        let map = self.0.as_mut()?;
        let id = map.remove(name.as_bytes());
        if map.is_empty() {
            self.0 = None;
        }
        id
    }

    /// `(name, id)` in name order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Name, NodeId)> + '_ {
        self.0
            .iter()
            .flat_map(|m| m.iter())
            .map(|(name, &id)| (name, id))
    }

    /// `(name, id)` in name order, from the first name above `after` (all with `None`).
    pub fn iter_after(&self, after: Option<&Name>) -> impl Iterator<Item = (&Name, NodeId)> + '_ {
        let from = match after {
            Some(name) => Bound::Excluded(name.as_bytes()),
            None => Bound::Unbounded,
        };
        let range = self
            .0
            .as_ref()
            .map(|m| m.range::<[u8], _>((from, Bound::Unbounded)));
        range.into_iter().flatten().map(|(name, &id)| (name, id))
    }

    /// The ids, in name order.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.iter().map(|(_, id)| id)
    }
}

/// One znode.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub data: Option<Bytes>,
    pub stat: NodeStat,
    pub acl: AclId,
    pub children: Children,
    /// The CRC-32 of the node's path and data, where its digest starts (a cache kept by the
    /// tree: see [`crate::digest`]).
    pub digest_prefix: u32,
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
            self.retain(id);
            return id;
        }
        let slot = AclSlot {
            acl: Arc::from(acl),
            key: key.clone(),
            refs: 1,
        };
        let id = match self.free.pop() {
            Some(id) => {
                if let Some(s) = self.slots.get_mut(slot_index(id)) {
                    *s = slot;
                }
                id
            }
            None => {
                self.slots.push(slot);
                let n = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
                AclId::new(n).unwrap_or(AclId::MAX)
            }
        };
        self.index.insert(key, id);
        id
    }

    /// Takes one more reference to a stored list (what [`AclTable::intern`] does for a list it
    /// has, without encoding it): the snapshot loader interns each list once and then takes a
    /// reference per node. An unknown id is ignored.
    pub fn retain(&mut self, id: AclId) {
        if let Some(slot) = self.slots.get_mut(slot_index(id)) {
            slot.refs = slot.refs.saturating_add(1);
        }
    }

    /// How many slots (live or free) the table has: every id is at most this.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Drops a reference taken by [`AclTable::intern`].
    pub fn release(&mut self, id: AclId) {
        let Some(slot) = self.slots.get_mut(slot_index(id)) else {
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
        match self.slots.get(slot_index(id)) {
            Some(slot) => &slot.acl,
            None => EMPTY.get_or_init(|| Arc::from(Vec::new())),
        }
    }

    /// How many distinct ACL lists are stored.
    pub fn len(&self) -> usize {
        self.index.len()
    }
}

/// The slot of an ACL id.
fn slot_index(id: AclId) -> usize {
    id.get() as usize - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_cversion_counts_creates_and_deletes() {
        let mut s = NodeStat::created(Zxid(5), 7, 0);
        s.cversion = 3; // three children created
        assert_eq!(s.to_stat(0, 1, false).cversion, 5); // two of them deleted since
        assert_eq!(NodeStat::default().to_stat(0, 1, false).cversion, -1);
    }

    #[test]
    fn container_and_ttl_owners_are_hidden() {
        let s = NodeStat::created(Zxid(1), 1, i64::MIN);
        assert_eq!(s.to_stat(0, 0, false).ephemeral_owner, 0);
        let ttl = crate::ephemeral::ttl_owner(100).unwrap_or(0);
        let s = NodeStat::created(Zxid(1), 1, ttl);
        assert_eq!(s.to_stat(0, 0, true).ephemeral_owner, 0);
        let s = NodeStat::created(Zxid(1), 1, 42);
        assert_eq!(s.to_stat(0, 0, true).ephemeral_owner, 42);
    }

    proptest::proptest! {
        #[test]
        fn names_order_and_read_back_as_strings(a in "\\PC{0,30}", b in "[a-c\u{e9}]{0,30}") {
            let (na, nb) = (Name::new(&a), Name::new(&b));
            proptest::prop_assert_eq!(na.as_str(), a.as_str());
            proptest::prop_assert_eq!(nb.as_str(), b.as_str());
            proptest::prop_assert_eq!(na.cmp(&nb), a.cmp(&b));
            proptest::prop_assert_eq!(na == nb, a == b);
        }
    }

    #[test]
    fn children_map_comes_and_goes() {
        let mut c = Children::default();
        assert!(c.is_empty());
        assert!(c.insert("b", 2));
        assert!(c.insert("a-name-longer-than-twenty-two-bytes", 1));
        assert!(!c.insert("b", 3), "a name is not replaced");
        assert_eq!(c.get("b"), Some(2));
        assert_eq!(c.len(), 2);
        let names: Vec<_> = c.iter().map(|(n, id)| (n.to_string(), id)).collect();
        assert_eq!(
            names,
            vec![
                ("a-name-longer-than-twenty-two-bytes".to_string(), 1),
                ("b".to_string(), 2)
            ]
        );
        let after: Vec<_> = c
            .iter_after(Some(&Name::new("a")))
            .map(|(_, id)| id)
            .collect();
        assert_eq!(after, vec![1, 2]);
        let after: Vec<_> = c
            .iter_after(Some(&Name::new("b")))
            .map(|(_, id)| id)
            .collect();
        assert!(after.is_empty());
        assert_eq!(c.iter_after(None).count(), 2);
        assert_eq!(c.remove("b", Unlinked::for_test()), Some(2));
        assert_eq!(c.remove("b", Unlinked::for_test()), None);
        let long = "a-name-longer-than-twenty-two-bytes";
        assert_eq!(c.remove(long, Unlinked::for_test()), Some(1));
        assert!(
            c.is_empty() && c.0.is_none(),
            "the map goes with the last child"
        );
        let built = Children::from_sorted(vec![(Name::new("x"), 7), (Name::new("y"), 8)]);
        assert_eq!(built.ids().collect::<Vec<_>>(), vec![7, 8]);
        assert!(Children::from_sorted(Vec::new()).is_empty());
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
        // data 32 + persisted stat 60 + digest prefix 4 + acl 4 + children 8; the slab's
        // Option lives in the ACL id's niche.
        assert!(std::mem::size_of::<Option<super::Node>>() <= 112);
        // The key of a child entry: 22 bytes inline, a length and a tag.
        assert!(std::mem::size_of::<super::Name>() <= 24);
    }
}
