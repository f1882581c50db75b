//! [`DataTree`]: ZooKeeper's tree as its files describe it, and `DataTree.processTxn`'s
//! effect on it, including what replaying a fuzzy snapshot needs.
//!
//! Facts (ZooKeeper 3.8, `DataTree`, `NodeHashMapImpl`, `DigestCalculator`,
//! `ReferenceCountedACLCache`):
//! - nodes are keyed by path, the root by `""` (`"/"` names it too);
//! - a create whose node exists fails with NodeExists but still replaces that node's ACL, and
//!   a top-level `create` (op 1, not create2) that fails so moves the parent's cversion and
//!   pzxid to the txn's when its parentCVersion is higher (the fuzzy-snapshot fix-up);
//!   otherwise a create moves the parent's cversion (and pzxid) only upwards;
//! - a delete raises the parent's pzxid only when the zxid is higher, removing a child that
//!   is not there is no error until the node itself is found missing;
//! - setData sets data, version, mzxid and mtime; setACL sets the ACL and aversion;
//! - a multi with an error sub-txn applies none (the others become errors);
//! - closeSession deletes the paths its txn lists, then any other ephemeral of the session;
//! - the digest is the wrapping sum over nodes not under `/zookeeper/` of a CRC-32 of the
//!   path (`""` for the root), the data and the 60 bytes czxid, mzxid, pzxid, ctime, mtime,
//!   version, cversion, aversion, ephemeralOwner (digest version 2).
//!
//! The `zookeeper_stats` quota nodes are not kept current here: ZooKeeper recomputes them
//! when it loads a snapshot (`setupQuota`), and so does Corral; they are outside the digest.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::path_hash::PathState;
use crate::records::{op, Acl, StatPersisted, Txn, TxnEntry};

/// ZooKeeper's digest calculator version this crate computes.
pub const DIGEST_VERSION: i32 = 2;

/// `ReferenceCountedACLCache.OPEN_UNSAFE_ACL_ID`: a node whose ACL was null.
pub const OPEN_UNSAFE_ACL_ID: i64 = -1;

/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`.
pub const CONTAINER_EPHEMERAL_OWNER: i64 = i64::MIN;

/// The owner ZooKeeper stores for a TTL node (`EphemeralType.TTL.toEphemeralOwner`).
pub fn ttl_ephemeral_owner(ttl: i64) -> i64 {
    (0xff00_0000_0000_0000_u64 as i64) | (ttl & 0x0000_00ff_ffff_ffff)
}

/// Whether an owner is a session (not 0, not a container, not an extended type).
pub fn is_session_owner(owner: i64) -> bool {
    owner != 0
        && owner != CONTAINER_EPHEMERAL_OWNER
        && owner & (0xff00_0000_0000_0000_u64 as i64) != (0xff00_0000_0000_0000_u64 as i64)
}

/// ZooKeeper's error codes this module produces.
const NO_NODE: i32 = -101;
const NODE_EXISTS: i32 = -110;
const RUNTIME_INCONSISTENCY: i32 = -2;

/// One znode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataNode {
    /// Its data (`None`: null).
    pub data: Option<Vec<u8>>,
    /// Its ACL reference into the tree's ACL cache.
    pub acl: i64,
    /// Its stored Stat.
    pub stat: StatPersisted,
    /// Its children's names, sorted.
    pub children: BTreeSet<String>,
}

/// The shared ACL lists (`ReferenceCountedACLCache`): each distinct list once, by a long.
#[derive(Debug, Clone, Default)]
pub struct AclCache {
    by_id: BTreeMap<i64, Vec<Acl>>,
    by_list: HashMap<Vec<Acl>, i64>,
    next: i64,
}

impl AclCache {
    /// The list a reference names (`convertLong`); `None` if unknown.
    pub fn get(&self, id: i64) -> Option<Vec<Acl>> {
        if id == OPEN_UNSAFE_ACL_ID {
            return Some(Acl::open_unsafe());
        }
        self.by_id.get(&id).cloned()
    }

    /// Whether a reference names a list (without copying it, as [`AclCache::get`] does).
    pub fn contains(&self, id: i64) -> bool {
        id == OPEN_UNSAFE_ACL_ID || self.by_id.contains_key(&id)
    }

    /// The reference for a list, adding it if new (`convertAcls`).
    pub fn intern(&mut self, acl: Option<&[Acl]>) -> i64 {
        let Some(acl) = acl else {
            return OPEN_UNSAFE_ACL_ID;
        };
        if let Some(&id) = self.by_list.get(acl) {
            return id;
        }
        self.next += 1;
        let id = self.next;
        self.by_id.insert(id, acl.to_vec());
        self.by_list.insert(acl.to_vec(), id);
        id
    }

    /// Adds a list under a given reference (a snapshot's ACL map).
    pub fn insert(&mut self, id: i64, acl: Vec<Acl>) {
        self.next = self.next.max(id);
        self.by_list.insert(acl.clone(), id);
        self.by_id.insert(id, acl);
    }

    /// Makes sure new lists get references above `id` (a node of a fuzzy snapshot can name
    /// a list the snapshot's ACL map, written before it, lacks).
    pub(crate) fn reserve(&mut self, id: i64) {
        self.next = self.next.max(id);
    }

    /// The lists by reference.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &[Acl])> + '_ {
        self.by_id.iter().map(|(&id, acl)| (id, acl.as_slice()))
    }

    /// Keeps only the references in `used` (`purgeUnused`).
    pub fn retain_used(&mut self, used: &BTreeSet<i64>) {
        self.by_id.retain(|id, _| used.contains(id));
        self.by_list.retain(|_, id| used.contains(id));
    }
}

/// What replaying one txn did, for a caller that wants to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Processed {
    /// ZooKeeper's `rc.err`: 0, or the first failure (failures are expected while a fuzzy
    /// snapshot's txns are replayed).
    pub err: i32,
}

/// ZooKeeper's data tree: nodes by path, the ACL cache, the ephemerals index and the
/// running digest.
#[derive(Debug, Clone)]
pub struct DataTree {
    nodes: HashMap<String, DataNode, PathState>,
    /// The ACL lists.
    pub acls: AclCache,
    ephemerals: HashMap<i64, BTreeSet<String>>,
    digest: i64,
    /// The zxid of the last txn processed (or the snapshot's).
    pub last_processed_zxid: i64,
}

impl Default for DataTree {
    fn default() -> Self {
        DataTree::new()
    }
}

/// The root's key for a path ("/" and "" are the root).
fn key(path: &str) -> &str {
    if path == "/" {
        ""
    } else {
        path
    }
}

fn split(path: &str) -> Option<(&str, &str)> {
    let slash = path.rfind('/')?;
    Some((&path[..slash], &path[slash + 1..]))
}

/// ZooKeeper's digest of one node (`DigestCalculator.calculateDigest`, version 2).
pub fn node_digest(path: &str, data: Option<&[u8]>, stat: &StatPersisted) -> i64 {
    if path.starts_with("/zookeeper/") {
        return 0;
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(key(path).as_bytes());
    if let Some(d) = data {
        crc.update(d);
    }
    let mut b = [0u8; 60];
    for (i, v) in [stat.czxid, stat.mzxid, stat.pzxid, stat.ctime, stat.mtime]
        .into_iter()
        .enumerate()
    {
        b[i * 8..i * 8 + 8].copy_from_slice(&v.to_be_bytes());
    }
    for (i, v) in [stat.version, stat.cversion, stat.aversion]
        .into_iter()
        .enumerate()
    {
        b[40 + i * 4..44 + i * 4].copy_from_slice(&v.to_be_bytes());
    }
    b[52..].copy_from_slice(&stat.ephemeral_owner.to_be_bytes());
    crc.update(&b);
    i64::from(crc.finalize())
}

impl DataTree {
    /// A tree with only the root (no `/zookeeper`: a snapshot brings its own).
    pub fn new() -> Self {
        let mut tree = DataTree {
            nodes: HashMap::default(),
            acls: AclCache::default(),
            ephemerals: HashMap::new(),
            digest: 0,
            last_processed_zxid: 0,
        };
        tree.put(
            "",
            DataNode {
                data: None,
                acl: OPEN_UNSAFE_ACL_ID,
                stat: StatPersisted::default(),
                children: BTreeSet::new(),
            },
        );
        tree
    }

    /// An empty tree, to be filled with [`DataTree::insert_loaded`] in pre-order.
    pub(crate) fn empty() -> Self {
        DataTree {
            nodes: HashMap::default(),
            acls: AclCache::default(),
            ephemerals: HashMap::new(),
            digest: 0,
            last_processed_zxid: 0,
        }
    }

    /// The node at `path` (`""` or `"/"`: the root).
    pub fn get(&self, path: &str) -> Option<&DataNode> {
        self.nodes.get(key(path))
    }

    /// Every node with its key (`""` for the root), in no particular order: the cheapest walk
    /// when the order does not matter.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &DataNode)> + '_ {
        self.nodes.iter().map(|(path, node)| (path.as_str(), node))
    }

    /// How many nodes (the root once).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the tree has no node at all (not even a root).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The tree's digest (`DataTree.getTreeDigest`).
    pub fn digest(&self) -> i64 {
        self.digest
    }

    /// Sessions owning ephemeral nodes, and the nodes, sorted.
    pub fn ephemerals(&self) -> BTreeMap<i64, BTreeSet<String>> {
        self.ephemerals
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    /// Every path in pre-order (a parent before its children, siblings in name order;
    /// the root as `""`).
    pub fn paths_preorder(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let _ = self.visit_preorder(|path, _| {
            out.push(path.to_string());
            Ok::<(), ()>(())
        });
        out
    }

    /// Calls `f` with every path (`""` for the root) in pre-order, children by name, as
    /// [`DataTree::paths_preorder`] lists them, and its node: `None` for a child name whose
    /// node is missing (a tree that is not consistent; the caller decides). One map lookup
    /// per node and one path buffer for the whole walk. Stops at the first error `f` returns.
    pub fn visit_preorder<E>(
        &self,
        mut f: impl FnMut(&str, Option<&DataNode>) -> Result<(), E>,
    ) -> Result<(), E> {
        let Some(root) = self.nodes.get("") else {
            return Ok(());
        };
        f("", Some(root))?;
        let mut path = String::new();
        // Per level: the length of the parent's path, and the parent's children left.
        let mut stack = vec![(0, root.children.iter())];
        while let Some((parent_len, children)) = stack.last_mut() {
            let parent_len = *parent_len;
            let Some(name) = children.next() else {
                stack.pop();
                continue;
            };
            path.truncate(parent_len);
            path.push('/');
            path.push_str(name);
            let node = self.nodes.get(path.as_str());
            f(&path, node)?;
            if let Some(node) = node {
                stack.push((path.len(), node.children.iter()));
            }
        }
        Ok(())
    }

    fn put(&mut self, path: &str, node: DataNode) {
        self.digest = self
            .digest
            .wrapping_add(node_digest(path, node.data.as_deref(), &node.stat));
        if let Some(old) = self.nodes.insert(path.to_string(), node) {
            self.digest =
                self.digest
                    .wrapping_sub(node_digest(path, old.data.as_deref(), &old.stat));
        }
    }

    /// Changes a node's Stat or data with the digest kept current (ZooKeeper's
    /// `preChange` / `postChange`).
    fn change(&mut self, path: &str, f: impl FnOnce(&mut DataNode)) -> bool {
        let path = key(path);
        let Some(node) = self.nodes.get_mut(path) else {
            return false;
        };
        let before = node_digest(path, node.data.as_deref(), &node.stat);
        f(node);
        let after = node_digest(path, node.data.as_deref(), &node.stat);
        self.digest = self.digest.wrapping_sub(before).wrapping_add(after);
        true
    }

    fn index_owner(&mut self, path: &str, owner: i64) {
        if is_session_owner(owner) {
            self.ephemerals
                .entry(owner)
                .or_default()
                .insert(path.to_string());
        }
    }

    /// Adds a node read from a snapshot (pre-order: its parent is there already).
    pub(crate) fn insert_loaded(&mut self, path: &str, node: DataNode) -> Result<(), String> {
        if !path.is_empty() {
            let (parent, name) = split(path).ok_or_else(|| format!("bad path {path:?}"))?;
            let p = self.nodes.get_mut(parent).ok_or_else(|| {
                format!("Invalid Datatree, unable to find parent {parent:?} of path {path:?}")
            })?;
            p.children.insert(name.to_string());
        } else if !self.nodes.is_empty() {
            return Err("a second root".into());
        }
        self.index_owner(path, node.stat.ephemeral_owner);
        self.put(path, node);
        Ok(())
    }

    /// Adds a node with its Stat as given (to build a tree from another store). The parent
    /// must exist; its Stat is not touched.
    pub fn insert_node(
        &mut self,
        path: &str,
        data: Option<Vec<u8>>,
        acl: Option<&[Acl]>,
        stat: StatPersisted,
    ) -> Result<(), String> {
        let acl = self.acls.intern(acl);
        let node = DataNode {
            data,
            acl,
            stat,
            children: BTreeSet::new(),
        };
        if key(path).is_empty() {
            let children = self.nodes.get("").map(|n| n.children.clone());
            let node = DataNode {
                children: children.unwrap_or_default(),
                ..node
            };
            self.put("", node);
            return Ok(());
        }
        if self.nodes.contains_key(path) {
            return Err(format!("{path} exists"));
        }
        self.insert_loaded(path, node)
    }

    /// `DataTree.processTxn` for a whole log entry (not a sub-txn), then the last
    /// processed zxid.
    pub fn process(&mut self, entry: &TxnEntry) -> Processed {
        let h = &entry.header;
        let err = self.process_txn(h.op, &entry.txn, h.client_id, h.zxid, h.time);
        if h.zxid > self.last_processed_zxid {
            self.last_processed_zxid = h.zxid;
        }
        Processed { err }
    }

    fn process_txn(&mut self, op_code: i32, txn: &Txn, session: i64, zxid: i64, time: i64) -> i32 {
        let err = match txn {
            Txn::Create {
                path,
                data,
                acl,
                ephemeral,
                parent_cversion,
                ..
            } => {
                let owner = if *ephemeral { session } else { 0 };
                let at = (zxid, time);
                self.create_node(path, data, acl.as_deref(), owner, *parent_cversion, at)
            }
            Txn::CreateContainer {
                path,
                data,
                acl,
                parent_cversion,
            } => self.create_node(
                path,
                data,
                acl.as_deref(),
                CONTAINER_EPHEMERAL_OWNER,
                *parent_cversion,
                (zxid, time),
            ),
            Txn::CreateTtl {
                path,
                data,
                acl,
                parent_cversion,
                ttl,
            } => self.create_node(
                path,
                data,
                acl.as_deref(),
                ttl_ephemeral_owner(*ttl),
                *parent_cversion,
                (zxid, time),
            ),
            Txn::Delete { path, .. } => self.delete_node(path, zxid),
            Txn::SetData {
                path,
                data,
                version,
                ..
            } => {
                let done = self.change(path, |n| {
                    n.data = data.clone();
                    n.stat.mtime = time;
                    n.stat.mzxid = zxid;
                    n.stat.version = *version;
                });
                if done {
                    0
                } else {
                    NO_NODE
                }
            }
            Txn::SetAcl { path, acl, version } => {
                let id = self.acls.intern(acl.as_deref());
                let done = self.change(path, |n| {
                    n.stat.aversion = *version;
                    n.acl = id;
                });
                if done {
                    0
                } else {
                    NO_NODE
                }
            }
            Txn::CloseSession { paths_to_delete } => {
                let local = self.ephemerals.remove(&session).unwrap_or_default();
                let listed = paths_to_delete.as_deref().unwrap_or(&[]);
                for p in listed {
                    self.delete_node(p, zxid);
                }
                for p in local.iter().filter(|p| !listed.contains(p)) {
                    self.delete_node(p, zxid);
                }
                0
            }
            Txn::Error { err } => *err,
            Txn::CreateSession { .. } | Txn::Check { .. } => 0,
            Txn::Multi(subs) => {
                let failed = subs.iter().any(|s| matches!(s, Txn::Error { .. }));
                let mut rc = 0;
                let mut post_failed = false;
                for sub in subs {
                    let sub = match sub {
                        Txn::Error { .. } => {
                            post_failed = true;
                            sub.clone()
                        }
                        _ if failed => Txn::Error {
                            err: if post_failed {
                                RUNTIME_INCONSISTENCY
                            } else {
                                0
                            },
                        },
                        _ => sub.clone(),
                    };
                    let e = self.process_txn(sub.op(), &sub, session, zxid, time);
                    if e != 0 && rc == 0 {
                        rc = e;
                    }
                }
                rc
            }
        };
        // The fuzzy-snapshot fix-up: a create (op 1 only) that found its node moves the
        // parent's cversion and pzxid up to the txn's.
        if op_code == op::CREATE && err == NODE_EXISTS {
            if let Txn::Create {
                path,
                parent_cversion,
                ..
            } = txn
            {
                if let Some((parent, _)) = split(path) {
                    self.set_cversion_pzxid(parent, *parent_cversion, zxid);
                }
            }
        }
        err
    }

    fn set_cversion_pzxid(&mut self, path: &str, cversion: i32, zxid: i64) {
        let path = path.strip_suffix('/').unwrap_or(path);
        let Some(node) = self.nodes.get(key(path)) else {
            return;
        };
        let new = if cversion == -1 {
            node.stat.cversion.wrapping_add(1)
        } else {
            cversion
        };
        if new > node.stat.cversion {
            self.change(path, |n| {
                n.stat.cversion = new;
                n.stat.pzxid = zxid;
            });
        }
    }

    fn create_node(
        &mut self,
        path: &str,
        data: &Option<Vec<u8>>,
        acl: Option<&[Acl]>,
        owner: i64,
        parent_cversion: i32,
        (zxid, time): (i64, i64),
    ) -> i32 {
        let Some((parent, name)) = split(path) else {
            return NO_NODE;
        };
        if !self.nodes.contains_key(parent) {
            return NO_NODE;
        }
        let acl_id = self.acls.intern(acl);
        if let Some(existing) = self.nodes.get_mut(path) {
            existing.acl = acl_id;
            return NODE_EXISTS;
        }
        self.change(parent, |p| {
            let cv = if parent_cversion == -1 {
                p.stat.cversion.wrapping_add(1)
            } else {
                parent_cversion
            };
            if cv > p.stat.cversion {
                p.stat.cversion = cv;
                p.stat.pzxid = zxid;
            }
            p.children.insert(name.to_string());
        });
        self.index_owner(path, owner);
        self.put(
            path,
            DataNode {
                data: data.clone(),
                acl: acl_id,
                stat: StatPersisted::created(zxid, time, owner),
                children: BTreeSet::new(),
            },
        );
        0
    }

    fn delete_node(&mut self, path: &str, zxid: i64) -> i32 {
        let Some((parent, name)) = split(path) else {
            return NO_NODE;
        };
        let had_parent = self.change(parent, |p| {
            p.children.remove(name);
            if zxid > p.stat.pzxid {
                p.stat.pzxid = zxid;
            }
        });
        if !had_parent {
            return NO_NODE;
        }
        let Some(node) = self.nodes.remove(path) else {
            return NO_NODE;
        };
        self.digest = self
            .digest
            .wrapping_sub(node_digest(path, node.data.as_deref(), &node.stat));
        let owner = node.stat.ephemeral_owner;
        if is_session_owner(owner) {
            if let Some(set) = self.ephemerals.get_mut(&owner) {
                set.remove(path);
            }
        }
        0
    }

    /// Drops ACL lists no node uses (`purgeUnused` after a load).
    pub fn purge_unused_acls(&mut self) {
        let used: BTreeSet<i64> = self.nodes.values().map(|n| n.acl).collect();
        self.acls.retain_used(&used);
    }
}
