//! The tree itself: nodes in a slab, children by name under their parent, the ephemeral /
//! container / TTL indexes, the reads, and the primitive changes `apply` is made of (ZooKeeper's
//! `DataTree.createNode`, `deleteNode`, `setData`, `setACL`).

use crate::Zxid;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use corral_jute::codes::{ErrorCode, EventType};
use corral_jute::records::{Acl, Stat};

use crate::digest::{self, DigestLog};
use crate::ephemeral::{self, EphemeralType};
use crate::node::{AclTable, Children, Name, Node, NodeId, NodeStat};
use crate::path;
use crate::quota::QuotaIndex;
use crate::snapshot::SnapshotSlot;

pub(crate) const ROOT: NodeId = 0;
/// How many nodes a fresh tree has (`/`, `/zookeeper`, its `quota` and `config`); in a fresh
/// tree they hold the ids below this.
const INITIAL_NODES: NodeId = 4;

/// The nodes ZooKeeper itself owns; they cannot be deleted.
pub(crate) const ZOOKEEPER: &str = "/zookeeper";
pub(crate) const QUOTA: &str = "/zookeeper/quota";
pub(crate) const CONFIG: &str = "/zookeeper/config";

/// Settings of a [`DataTree`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DataTreeConfig {
    /// ZooKeeper's `zookeeper.extendedTypesEnabled` (default false): allows TTL nodes.
    pub extended_types_enabled: bool,
    /// ZooKeeper's `zookeeper.enforceQuota` (default false): prep fails a create / setData
    /// that would exceed a hard quota (`countHardLimit` / `byteHardLimit`) with
    /// `QuotaExceeded`. See [`crate::quota`].
    pub enforce_quota: bool,
}

/// The znode tree. See the crate documentation.
#[derive(Debug, Clone)]
pub struct DataTree {
    /// The slab. A node changes only through [`DataTree::node_mut`], loses a child only through
    /// [`DataTree::unlink_child`] and goes only through [`DataTree::take_node`]: they run the
    /// hooks of a snapshot in progress first.
    nodes: Vec<Option<Node>>,
    free: Vec<NodeId>,
    live: usize,
    pub(crate) acls: AclTable,
    ephemerals: BTreeMap<i64, BTreeSet<String>>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    data_size: u64,
    pub(crate) last_zxid: Zxid,
    pub(crate) config: DataTreeConfig,
    /// The quota'd paths (derived from `/zookeeper/quota`; see [`crate::quota`]).
    pub(crate) quotas: QuotaIndex,
    /// The highest czxid any node was given (a snapshot's line between the nodes it holds and
    /// the ones created after it began).
    pub(crate) czxid_high: Zxid,
    /// The incremental snapshot in progress, if any (not cloned).
    pub(crate) snapshot: SnapshotSlot,
    /// ZooKeeper's tree digest: the wrapping sum of the node digests (see [`crate::digest`]).
    pub(crate) digest: i64,
    /// The digests recorded after txns (ZooKeeper's `digestLog`, printed by `hash`).
    pub(crate) digest_log: DigestLog,
}

impl Default for DataTree {
    fn default() -> Self {
        DataTree::new()
    }
}

/// The watch triggers of a change, in order.
pub(crate) type Events = Vec<(String, EventType)>;

impl DataTree {
    /// A fresh tree with ZooKeeper's defaults (extended types disabled).
    pub fn new() -> Self {
        DataTree::with_config(DataTreeConfig::default())
    }

    /// A fresh tree holding what ZooKeeper's `DataTree` starts with: `/`, `/zookeeper` and
    /// `/zookeeper/quota` with empty (not null) data, all-zero Stats and `world:anyone` ALL;
    /// `/zookeeper/config` with empty data, `world:anyone` READ and aversion -1 (ZooKeeper sets
    /// its ACL with version -1). Their cversions are 0, so clients see `/` with cversion -1
    /// and `/zookeeper` with cversion -2.
    pub fn with_config(config: DataTreeConfig) -> Self {
        let mut tree = DataTree {
            nodes: Vec::new(),
            free: Vec::new(),
            live: 0,
            acls: AclTable::default(),
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            data_size: 0,
            last_zxid: Zxid::ZERO,
            config,
            quotas: QuotaIndex::default(),
            czxid_high: Zxid::ZERO,
            snapshot: SnapshotSlot::default(),
            digest: 0,
            digest_log: DigestLog::default(),
        };
        let open = tree.acls.intern(&corral_acl::open_acl_unsafe());
        tree.acls.intern(&corral_acl::open_acl_unsafe());
        tree.acls.intern(&corral_acl::open_acl_unsafe());
        let read = tree.acls.intern(&corral_acl::read_acl_unsafe());
        let system = |acl| Node {
            data: Some(Bytes::new()),
            stat: NodeStat::default(),
            acl,
            children: Children::default(),
            digest_prefix: 0,
        };
        let root = tree.insert(system(open));
        let zk = tree.insert(system(open));
        let quota = tree.insert(system(open));
        let mut config_node = system(read);
        config_node.stat.aversion = -1;
        let config_id = tree.insert(config_node);
        tree.node_mut(root).children.insert("zookeeper", zk);
        let zk_node = tree.node_mut(zk);
        zk_node.children.insert("quota", quota);
        zk_node.children.insert("config", config_id);
        // ZooKeeper's size counts the root twice, under "" and "/".
        tree.data_size = ["", "/", ZOOKEEPER, QUOTA, CONFIG]
            .iter()
            .map(|p| path::java_len(p))
            .sum();
        tree.rehash_all();
        tree
    }

    /// The tree's settings.
    pub fn config(&self) -> DataTreeConfig {
        self.config
    }

    fn insert(&mut self, node: Node) -> NodeId {
        let czxid = node.stat.czxid;
        self.czxid_high = self.czxid_high.max(czxid);
        self.snapshot.on_insert(czxid);
        self.live += 1;
        match self.free.pop() {
            Some(id) => {
                self.nodes[id as usize] = Some(node);
                id
            }
            None => {
                self.nodes.push(Some(node));
                NodeId::try_from(self.nodes.len() - 1).unwrap_or(NodeId::MAX)
            }
        }
    }

    pub(crate) fn node(&self, id: NodeId) -> &Node {
        match self.nodes.get(id as usize) {
            Some(Some(n)) => n,
            // Ids are only taken from live children maps; this is unreachable.
            _ => unreachable_node(),
        }
    }

    /// The one way to change a node's content: a snapshot in progress writes the node as it
    /// was first if it still has to (its hook A).
    pub(crate) fn node_mut(&mut self, id: NodeId) -> &mut Node {
        self.snapshot.before_change(id, &self.nodes, &self.acls);
        match self.nodes.get_mut(id as usize) {
            Some(Some(n)) => n,
            _ => unreachable_node(),
        }
    }

    /// Changes the node `id`, whose path is `path`, with the tree digest kept current
    /// (ZooKeeper's `preChange` / `postChange`): its digest before `f` is taken off, its
    /// digest after added. `f` must set `digest_prefix` if it changes the data.
    pub(crate) fn change_node<R>(
        &mut self,
        id: NodeId,
        path: &str,
        f: impl FnOnce(&mut Node) -> R,
    ) -> R {
        let node = self.node_mut(id);
        let before = digest::node_digest(path, node.digest_prefix, &node.stat);
        let out = f(node);
        let after = digest::node_digest(path, node.digest_prefix, &node.stat);
        self.digest = self.digest.wrapping_sub(before).wrapping_add(after);
        out
    }

    /// Removes the child `name` of `parent`; a snapshot in progress writes the edge first if
    /// it still has to (its hook B). The child itself stays in the slab.
    fn unlink_child(&mut self, parent: NodeId, name: &str) -> Option<NodeId> {
        let child = self.node(parent).children.get(name)?;
        let hooked = self
            .snapshot
            .before_unlink(parent, name, child, &self.nodes);
        self.node_mut(parent).children.remove(name, hooked)
    }

    /// Takes a node out of the slab (its slot goes on the free list); a snapshot in progress
    /// writes it first if it still has to (hook A).
    fn take_node(&mut self, id: NodeId) -> Option<Node> {
        self.snapshot.before_change(id, &self.nodes, &self.acls);
        let node = self.nodes.get_mut(id as usize).and_then(Option::take)?;
        self.free.push(id);
        self.live -= 1;
        Some(node)
    }

    /// The slab, read-only, with the snapshot slot (the snapshot writer's view).
    pub(crate) fn snapshot_parts(&mut self) -> (&mut SnapshotSlot, &[Option<Node>], &AclTable) {
        (&mut self.snapshot, &self.nodes, &self.acls)
    }

    /// The slab, read-only.
    pub(crate) fn slab(&self) -> &[Option<Node>] {
        &self.nodes
    }

    /// Resolves a path. `""` is the root, as in ZooKeeper (whose node map aliases it).
    pub(crate) fn lookup(&self, path: &str) -> Option<NodeId> {
        if path.is_empty() || path == "/" {
            return Some(ROOT);
        }
        let rest = path.strip_prefix('/')?;
        let mut id = ROOT;
        for name in rest.split('/') {
            id = self.node(id).children.get(name)?;
        }
        Some(id)
    }

    pub(crate) fn find(&self, path: &str) -> Option<&Node> {
        self.lookup(path).map(|id| self.node(id))
    }

    pub(crate) fn stat_of(&self, node: &Node) -> Stat {
        node.stat(self.config.extended_types_enabled)
    }

    /// The kind of node an owner denotes under this tree's settings.
    pub(crate) fn ephemeral_type(&self, owner: i64) -> EphemeralType {
        EphemeralType::of(owner, self.config.extended_types_enabled)
    }

    // ---- reads ----

    /// A node's data (null stays `None`) and Stat; `NoNode` if absent.
    pub fn get_data(&self, path: &str) -> Result<(Option<Bytes>, Stat), ErrorCode> {
        let n = self.find(path).ok_or(ErrorCode::NoNode)?;
        Ok((n.data.clone(), self.stat_of(n)))
    }

    /// A node's Stat, or `None` if absent (exists).
    pub fn stat(&self, path: &str) -> Option<Stat> {
        self.find(path).map(|n| self.stat_of(n))
    }

    /// A node's child names, sorted, and its Stat; `NoNode` if absent.
    pub fn get_children(&self, path: &str) -> Result<(Vec<String>, Stat), ErrorCode> {
        let n = self.find(path).ok_or(ErrorCode::NoNode)?;
        let names = n.children.iter().map(|(k, _)| k.to_string()).collect();
        Ok((names, self.stat_of(n)))
    }

    /// A node's ACL and Stat; `NoNode` if absent.
    pub fn get_acl(&self, path: &str) -> Result<(Vec<Acl>, Stat), ErrorCode> {
        let n = self.find(path).ok_or(ErrorCode::NoNode)?;
        Ok((self.acls.get(n.acl).to_vec(), self.stat_of(n)))
    }

    /// A node's ACL, for the server's permission checks; `None` if absent.
    pub fn node_acl(&self, path: &str) -> Option<&[Acl]> {
        self.find(path).map(|n| &**self.acls.get(n.acl))
    }

    /// The ACL as shared storage (what prep records hold).
    pub(crate) fn node_acl_arc(&self, path: &str) -> Option<Arc<[Acl]>> {
        self.find(path).map(|n| Arc::clone(self.acls.get(n.acl)))
    }

    /// The persisted Stat and child count of a node (what prep starts from).
    pub(crate) fn node_record(&self, path: &str) -> Option<(NodeStat, i32)> {
        self.find(path)
            .map(|n| (n.stat, crate::node::len_i32(n.children.len())))
    }

    /// The `ephemeralOwner` a node stores (the session, or the container / TTL marker that
    /// [`DataTree::stat`] shows as 0), or `None` if absent: what an export to ZooKeeper's
    /// files writes.
    pub fn stored_ephemeral_owner(&self, path: &str) -> Option<i64> {
        self.find(path).map(|n| n.stat.ephemeral_owner)
    }

    /// The paths of a session's ephemeral nodes, sorted.
    pub fn ephemerals(&self, session_id: i64) -> Vec<String> {
        self.ephemerals
            .get(&session_id)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The sessions owning ephemeral nodes, sorted.
    pub fn sessions_with_ephemerals(&self) -> Vec<i64> {
        self.ephemerals.keys().copied().collect()
    }

    /// The number of descendants of a node, as ZooKeeper's `getAllChildrenNumber`: for `/`
    /// every node but the root (so `/zookeeper` and its children count); `NoNode` if absent.
    pub fn all_children_number(&self, path: &str) -> Result<i32, ErrorCode> {
        let id = self.lookup(path).ok_or(ErrorCode::NoNode)?;
        if path.is_empty() {
            // ZooKeeper counts every key starting with "/": all nodes, the root included.
            return Ok(crate::node::len_i32(self.live));
        }
        let mut count: usize = 0;
        let mut stack = vec![id];
        while let Some(id) = stack.pop() {
            let n = self.node(id);
            count += n.children.len();
            stack.extend(n.children.ids());
        }
        Ok(crate::node::len_i32(count))
    }

    /// ZooKeeper's `zk_znode_count`: the size of its node map, which holds the root twice
    /// (under `""` and `"/"`), so one more than the number of nodes.
    pub fn node_count(&self) -> usize {
        self.live + 1
    }

    /// How many nodes the tree holds (the root once).
    pub(crate) fn live_nodes(&self) -> usize {
        self.live
    }

    /// How many nodes are reachable from `id`, itself included (a check of `live_nodes`).
    pub(crate) fn count_reachable(&self, id: NodeId) -> u64 {
        let mut count = 0;
        let mut stack = vec![id];
        while let Some(id) = stack.pop() {
            count += 1;
            stack.extend(self.node(id).children.ids());
        }
        count
    }

    /// ZooKeeper's `zk_approximate_data_size`: the sum over its node map of path length (in
    /// UTF-16 units) plus data length, the root counted under `""` and `"/"`.
    pub fn approximate_data_size(&self) -> u64 {
        self.data_size
    }

    /// ZooKeeper's `zk_ephemerals_count`: session-owned nodes (not containers or TTL nodes).
    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(BTreeSet::len).sum()
    }

    /// How many distinct ACL lists the nodes share (ZooKeeper's `aclCacheSize`).
    pub fn acl_count(&self) -> usize {
        self.acls.len()
    }

    /// The zxid of the last applied txn.
    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    /// Paths of all container nodes, sorted.
    pub fn containers(&self) -> Vec<String> {
        self.containers.iter().cloned().collect()
    }

    /// Paths of all TTL nodes, sorted.
    pub fn ttl_nodes(&self) -> Vec<String> {
        self.ttls.iter().cloned().collect()
    }

    // ---- the primitive changes ----

    /// ZooKeeper's `DataTree.createNode`. The parent's cversion and pzxid move only when
    /// `parent_cversion` is above its cversion (-1 means "one more than now").
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create_node(
        &mut self,
        path: &str,
        data: Option<&Bytes>,
        acl: &[Acl],
        owner: i64,
        parent_cversion: i32,
        zxid: Zxid,
        time_ms: i64,
        events: &mut Events,
    ) -> Result<Stat, ErrorCode> {
        let Some(slash) = path.rfind('/') else {
            return Err(ErrorCode::NoNode);
        };
        let parent_path = path::parent(path);
        let name = &path[slash + 1..];
        let parent_id = self.lookup(parent_path).ok_or(ErrorCode::NoNode)?;
        if name.is_empty() {
            // Only a corrupt txn gets here: prep validates every created path.
            return Err(ErrorCode::BadArguments);
        }
        if self.node(parent_id).children.contains(name) {
            return Err(ErrorCode::NodeExists);
        }
        // Detach the data from whatever buffer it was decoded from.
        let data = data.map(|d| Bytes::copy_from_slice(d));
        let data_len = data.as_ref().map_or(0, Bytes::len);
        let acl_id = self.acls.intern(acl);
        let digest_prefix = digest::prefix_crc(path, data.as_deref());
        let node = Node {
            data,
            stat: NodeStat::created(zxid, time_ms, owner),
            acl: acl_id,
            children: Children::default(),
            digest_prefix,
        };
        let stat = node.stat(self.config.extended_types_enabled);
        let node_digest = digest::node_digest(path, digest_prefix, &node.stat);
        let id = self.insert(node);
        self.digest = self.digest.wrapping_add(node_digest);
        self.change_node(parent_id, parent_path, |parent| {
            let new_cversion = if parent_cversion == -1 {
                parent.stat.cversion.wrapping_add(1)
            } else {
                parent_cversion
            };
            if new_cversion > parent.stat.cversion {
                parent.stat.cversion = new_cversion;
                parent.stat.pzxid = zxid;
            }
            parent.children.insert(name, id);
        });
        self.data_size += path::java_len(path) + data_len as u64;
        self.index_owner(path, owner);
        self.quota_on_create(path, data_len);
        events.push((path.to_string(), EventType::NodeCreated));
        events.push((parent_path.to_string(), EventType::NodeChildrenChanged));
        Ok(stat)
    }

    /// Adds a new node to the ephemeral, container or TTL index its owner puts it in.
    fn index_owner(&mut self, path: &str, owner: i64) {
        match self.ephemeral_type(owner) {
            EphemeralType::Container => {
                self.containers.insert(path.to_string());
            }
            EphemeralType::Ttl => {
                self.ttls.insert(path.to_string());
            }
            EphemeralType::Normal => {
                self.ephemerals
                    .entry(owner)
                    .or_default()
                    .insert(path.to_string());
            }
            EphemeralType::Void => {}
        }
    }

    // ---- bulk restore (snapshot loading) ----

    /// Makes room for `additional` more nodes.
    pub(crate) fn reserve_nodes(&mut self, additional: usize) {
        self.nodes.reserve(additional);
    }

    /// The node a fresh tree already has as the child `name` of `parent` (`zookeeper` under
    /// `/`, `quota` and `config` under `/zookeeper`), if there is one. Only meaningful on a
    /// tree made by [`DataTree::with_config`] and not changed since except by restoring.
    pub(crate) fn initial_child(&self, parent: NodeId, name: &str) -> Option<NodeId> {
        if parent >= INITIAL_NODES {
            return None;
        }
        let id = self.node(parent).children.get(name)?;
        (id < INITIAL_NODES).then_some(id)
    }

    /// Replaces a node's data, ACL and Stat by restored ones, keeping its children (the
    /// loader's way to restore the nodes a fresh tree already has). `node.acl` carries a
    /// reference taken for it; the old one is released. Its children are ignored.
    pub(crate) fn restore_in_place(&mut self, id: NodeId, node: Node) {
        let new_len = node.data_len() as u64;
        self.czxid_high = self.czxid_high.max(node.stat.czxid);
        let old = self.node_mut(id);
        let old_len = old.data_len() as u64;
        let old_acl = old.acl;
        old.data = node.data;
        old.stat = node.stat;
        old.acl = node.acl;
        self.acls.release(old_acl);
        self.data_size = (self.data_size + new_len).saturating_sub(old_len);
    }

    /// Adds a restored node, for loading a snapshot: no path walk, no events, no quota
    /// bookkeeping (the loader rebuilds the quota index once at the end), the node's Stat
    /// taken as it is. `path` is its full path (for the approximate data size and the
    /// ephemeral, container and TTL indexes); `node.acl` carries a reference taken for it.
    /// The node is not anyone's child until [`DataTree::restore_children`] makes it one.
    pub(crate) fn restore_node(&mut self, path: &str, node: Node) -> NodeId {
        let owner = node.stat.ephemeral_owner;
        self.data_size += path::java_len(path) + node.data_len() as u64;
        let id = self.insert(node);
        if owner != 0 {
            self.index_owner(path, owner);
        }
        id
    }

    /// Makes restored nodes the children of `parent`, for loading a snapshot; `kids` best in
    /// name order (then the map is built in linear time). `false` if a name repeats, or if the
    /// parent already has a child of one of those names (only the nodes a fresh tree has can).
    pub(crate) fn restore_children(&mut self, parent: NodeId, kids: Vec<(Name, NodeId)>) -> bool {
        let children = &mut self.node_mut(parent).children;
        if children.is_empty() {
            let n = kids.len();
            *children = Children::from_sorted(kids);
            return children.len() == n;
        }
        kids.into_iter()
            .all(|(name, id)| children.insert(name.as_str(), id))
    }

    /// ZooKeeper's `DataTree.deleteNode`: the parent's pzxid is raised (never lowered), its
    /// stored cversion is untouched (the client cversion still moves, as numChildren drops).
    pub(crate) fn delete_node(
        &mut self,
        path: &str,
        zxid: Zxid,
        events: &mut Events,
    ) -> Result<(), ErrorCode> {
        if !path.contains('/') {
            return Err(ErrorCode::NoNode);
        }
        let parent_path = path::parent(path);
        let name = path::name(path);
        let parent_id = self.lookup(parent_path).ok_or(ErrorCode::NoNode)?;
        // As ZooKeeper, the pzxid moves even when the child turns out to be missing.
        let child = self.change_node(parent_id, parent_path, |parent| {
            if zxid > parent.stat.pzxid {
                parent.stat.pzxid = zxid;
            }
            parent.children.get(name)
        });
        let id = child.ok_or(ErrorCode::NoNode)?;
        if id == ROOT || !self.node(id).children.is_empty() {
            // Only a corrupt txn gets here: prep refuses both.
            return Err(ErrorCode::NotEmpty);
        }
        self.unlink_child(parent_id, name);
        let Some(node) = self.take_node(id) else {
            return Err(ErrorCode::NoNode);
        };
        self.digest =
            self.digest
                .wrapping_sub(digest::node_digest(path, node.digest_prefix, &node.stat));
        self.acls.release(node.acl);
        self.data_size = self
            .data_size
            .saturating_sub(path::java_len(path) + node.data_len() as u64);
        let owner = node.stat.ephemeral_owner;
        match self.ephemeral_type(owner) {
            EphemeralType::Container => {
                self.containers.remove(path);
            }
            EphemeralType::Ttl => {
                self.ttls.remove(path);
            }
            EphemeralType::Normal => {
                if let Some(set) = self.ephemerals.get_mut(&owner) {
                    set.remove(path);
                    if set.is_empty() {
                        self.ephemerals.remove(&owner);
                    }
                }
            }
            EphemeralType::Void => {}
        }
        self.quota_on_delete(path, node.data_len());
        events.push((path.to_string(), EventType::NodeDeleted));
        events.push((parent_path.to_string(), EventType::NodeChildrenChanged));
        Ok(())
    }

    /// ZooKeeper's `DataTree.setData`: data, mtime, mzxid and the (already incremented)
    /// version.
    pub(crate) fn set_data(
        &mut self,
        path: &str,
        data: Option<&Bytes>,
        version: i32,
        zxid: Zxid,
        time_ms: i64,
        events: &mut Events,
    ) -> Result<Stat, ErrorCode> {
        let id = self.lookup(path).ok_or(ErrorCode::NoNode)?;
        let data = data.map(|d| Bytes::copy_from_slice(d));
        let new_len = data.as_ref().map_or(0, Bytes::len) as u64;
        let old_len = self.change_node(id, path, |node| {
            let old_len = node.data_len() as u64;
            node.digest_prefix = digest::prefix_crc(path, data.as_deref());
            node.data = data;
            node.stat.mtime = time_ms;
            node.stat.mzxid = zxid;
            node.stat.version = version;
            old_len
        });
        let stat = self.stat_of(self.node(id));
        self.data_size = (self.data_size + new_len).saturating_sub(old_len);
        self.quota_on_set_data(path, old_len as usize, new_len as usize);
        events.push((path.to_string(), EventType::NodeDataChanged));
        Ok(stat)
    }

    /// What an ensemble member writes into `/zookeeper/config` when it starts (ZooKeeper's
    /// `ZKDatabase.initConfigInZKDatabase`): its membership, not as a txn (every member writes
    /// its own, the same text). The node's version becomes -1 and its mzxid `config_version`,
    /// as ZooKeeper's `setData` call leaves them; `time_ms` is its mtime.
    pub fn set_ensemble_config(&mut self, data: Bytes, config_version: i64, time_ms: i64) {
        let mut events = Events::new();
        // The node exists in every tree (created with it and never deletable).
        let _ = self.set_data(
            CONFIG,
            Some(&data),
            -1,
            Zxid::from_wire(config_version),
            time_ms,
            &mut events,
        );
    }

    /// ZooKeeper's `DataTree.setACL`: the ACL and the (already incremented) aversion; mzxid
    /// does not move and no watch fires.
    pub(crate) fn set_acl(
        &mut self,
        path: &str,
        acl: &[Acl],
        aversion: i32,
    ) -> Result<Stat, ErrorCode> {
        let id = self.lookup(path).ok_or(ErrorCode::NoNode)?;
        let new_acl = self.acls.intern(acl);
        let old_acl = self.change_node(id, path, |node| {
            node.stat.aversion = aversion;
            std::mem::replace(&mut node.acl, new_acl)
        });
        self.acls.release(old_acl);
        Ok(self.stat_of(self.node(id)))
    }

    // ---- containers and TTL nodes ----

    /// Containers a server should delete (with deleteContainer), as ZooKeeper's
    /// `ContainerManager`: no children, and had a child once (stored cversion > 0).
    pub fn containers_to_reap(&self) -> Vec<String> {
        self.containers_to_reap_at(0, 0)
    }

    /// As [`DataTree::containers_to_reap`], plus containers that never had a child when
    /// `max_never_used_ms` is non-zero and more than that has passed since their mtime
    /// (ZooKeeper's `znode.container.maxNeverUsedIntervalMs`).
    pub fn containers_to_reap_at(&self, now_ms: i64, max_never_used_ms: i64) -> Vec<String> {
        self.containers
            .iter()
            .filter(|p| {
                self.find(p).is_some_and(|n| {
                    n.children.is_empty()
                        && (n.stat.cversion > 0
                            || (max_never_used_ms != 0
                                && now_ms.saturating_sub(n.stat.mtime) > max_never_used_ms))
                })
            })
            .cloned()
            .collect()
    }

    /// TTL nodes a server should delete (with deleteContainer), as ZooKeeper's
    /// `ContainerManager`: no children and more than the TTL has passed since their mtime.
    pub fn expired_ttls(&self, now_ms: i64) -> Vec<String> {
        self.ttls
            .iter()
            .filter(|p| {
                self.find(p).is_some_and(|n| {
                    let owner = n.stat.ephemeral_owner;
                    let ttl = ephemeral::ttl_of(owner);
                    n.children.is_empty()
                        && self.ephemeral_type(owner) == EphemeralType::Ttl
                        && ttl != 0
                        && now_ms.saturating_sub(n.stat.mtime) > ttl
                })
            })
            .cloned()
            .collect()
    }
}

#[cold]
fn unreachable_node() -> ! {
    // A NodeId always names a live slot: ids are handed out by `insert` and removed from
    // their parent before their slot is freed.
    panic!("corral-datatree: dangling node id (internal invariant broken)")
}
