//! Tree snapshots: every node (name, data, ACL, the full persisted Stat including the stored
//! cversion, ephemeral owner) and the last zxid, in one compact sequential format that loads
//! without re-validating paths.
//!
//! ```text
//! snapshot = magic "CRTR" | version u8 = 1 | last zxid i64 | node count u64 | node*
//! node     = name (u32 length + UTF-8; empty for the root) | child count u32
//!          | data (i32 length, -1 for null, + bytes)
//!          | acl ref u32 [ acl list, when ref is the next new index:
//!                          u32 count, then per entry perms i32 | scheme str | id str ]
//!          | czxid i64 | mzxid i64 | ctime i64 | mtime i64 | pzxid i64 | ephemeral owner i64
//!          | version i32 | cversion i32 (stored: children created) | aversion i32
//! ```
//! Big-endian. Nodes are written depth first, a parent before its children, children in
//! strictly increasing (bytewise) name order, which the reader checks; each ACL list is written
//! once, where it is first used. Sessions are not part of the
//! tree: the server writes them next to it (after [`DataTree::write_snapshot`]'s bytes) and
//! reads them from what [`DataTree::read_snapshot`] leaves in its input.
//!
//! Loading rebuilds the ephemeral, container and TTL indexes from the owners under the
//! *loading* server's [`DataTreeConfig`], and the quota index with
//! [`DataTree::rebuild_quota_index`] (which, as ZooKeeper's `setupQuota` at load, recomputes
//! the `zookeeper_stats` nodes' data).
//!
//! Loading is a single pass that builds the tree in place: each node goes into the slab with
//! its Stat as read, the ACL list it refers to is interned once per snapshot, and a parent's
//! children map is built in one go from the sorted names once its last child is read. No
//! path is looked up, no event made, no quota bookkeeping done per node.

use std::io::{self, Write};

use bytes::Bytes;
use corral_jute::records::{Acl, Id};

use crate::node::{AclId, AclTable, Children, Name, Node, NodeId, NodeStat};
use crate::tree::ROOT;
use crate::{DataTree, DataTreeConfig};

/// The first four bytes of a tree snapshot.
pub const TREE_SNAPSHOT_MAGIC: [u8; 4] = *b"CRTR";
/// The tree snapshot format version this build writes and reads.
pub const TREE_SNAPSHOT_VERSION: u8 = 1;

/// Why a tree snapshot could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TreeSnapshotError {
    /// The input is not a tree snapshot.
    #[error("not a tree snapshot (magic {0:02x?})")]
    BadMagic([u8; 4]),
    /// A format version this build does not read.
    #[error("unknown tree snapshot version {0}")]
    UnknownVersion(u8),
    /// The input ended early.
    #[error("tree snapshot truncated at offset {offset}")]
    Truncated {
        /// Where more bytes were needed.
        offset: usize,
    },
    /// The bytes decode but do not describe a tree.
    #[error("invalid tree snapshot at offset {offset}: {reason}")]
    Invalid {
        /// Where the offending item starts.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
}

/// An ACL id not written yet.
const NO_REF: u32 = u32::MAX;

/// The references the snapshot being written gives the tree's ACL ids: 0, 1, ... in order of
/// first use.
struct AclRefs {
    /// By ACL id: its reference, or NO_REF.
    refs: Vec<u32>,
    next: u32,
}

impl AclRefs {
    /// The reference of an ACL id, and whether it is new (its list must be written).
    fn get(&mut self, id: AclId) -> (u32, bool) {
        let slot = id.get() as usize;
        if slot >= self.refs.len() {
            // Ids come from the table, so this does not happen; stay correct if it did.
            self.refs.resize(slot + 1, NO_REF);
        }
        match self.refs[slot] {
            NO_REF => {
                let r = self.next;
                self.next += 1;
                self.refs[slot] = r;
                (r, true)
            }
            r => (r, false),
        }
    }
}

/// Flush the node buffer to the writer past this size.
const CHUNK: usize = 64 << 10;

impl DataTree {
    /// Writes the whole tree and its last zxid to `out` (see the module docs for the format).
    /// The tree must not change meanwhile (the caller holds it, or writes a clone).
    pub fn write_snapshot(&self, out: &mut impl Write) -> io::Result<()> {
        let mut buf = Vec::with_capacity(CHUNK + 1024);
        buf.extend_from_slice(&TREE_SNAPSHOT_MAGIC);
        buf.push(TREE_SNAPSHOT_VERSION);
        buf.extend_from_slice(&self.last_zxid.to_be_bytes());
        let Some(root) = self.lookup("/") else {
            return Err(io::Error::other("tree without a root"));
        };
        // The count first, so the reader can check it got everything: every live node is
        // reachable from the root.
        let count = self.live_nodes() as u64;
        debug_assert_eq!(count, self.count_reachable(root));
        buf.extend_from_slice(&count.to_be_bytes());

        let mut acl_refs = AclRefs {
            refs: vec![NO_REF; self.acls.slot_count() + 1],
            next: 0,
        };
        self.write_node(&mut buf, b"", root, &mut acl_refs);
        // Depth first: a stack of children iterators.
        let mut iters = vec![self.node(root).children.iter()];
        while let Some(it) = iters.last_mut() {
            match it.next() {
                Some((name, id)) => {
                    self.write_node(&mut buf, name.as_bytes(), id, &mut acl_refs);
                    if buf.len() >= CHUNK {
                        out.write_all(&buf)?;
                        buf.clear();
                    }
                    let node = self.node(id);
                    if !node.children.is_empty() {
                        iters.push(node.children.iter());
                    }
                }
                None => {
                    iters.pop();
                }
            }
        }
        out.write_all(&buf)
    }

    fn write_node(&self, buf: &mut Vec<u8>, name: &[u8], id: NodeId, acl_refs: &mut AclRefs) {
        let node = self.node(id);
        put_bytes(buf, name);
        put_len(buf, node.children.len());
        match &node.data {
            None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(d) => {
                put_len(buf, d.len());
                buf.extend_from_slice(d);
            }
        }
        let (r, new) = acl_refs.get(node.acl);
        buf.extend_from_slice(&r.to_be_bytes());
        if new {
            let acl = self.acls.get(node.acl);
            put_len(buf, acl.len());
            for a in acl.iter() {
                buf.extend_from_slice(&a.perms.to_be_bytes());
                put_bytes(buf, a.id.scheme.as_bytes());
                put_bytes(buf, a.id.id.as_bytes());
            }
        }
        let s = &node.stat;
        for v in [
            s.czxid,
            s.mzxid,
            s.ctime,
            s.mtime,
            s.pzxid,
            s.ephemeral_owner,
        ] {
            buf.extend_from_slice(&v.to_be_bytes());
        }
        for v in [s.version, s.cversion, s.aversion] {
            buf.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// Reads a tree written by [`DataTree::write_snapshot`] from the front of `input`, which
    /// is advanced past it (the server's sessions can follow). `config` is the loading
    /// server's (it decides which owners are TTL nodes).
    ///
    /// Nodes go straight into place ([`DataTree::restore_child`]: no path walk, no events,
    /// no quota bookkeeping), each ACL list is interned once, and the quota index is rebuilt
    /// at the end. Damaged input is an error, never a panic.
    pub fn read_snapshot(
        input: &mut &[u8],
        config: DataTreeConfig,
    ) -> Result<DataTree, TreeSnapshotError> {
        let mut r = Reader { buf: input, pos: 0 };
        let magic: [u8; 4] = r.array()?;
        if magic != TREE_SNAPSHOT_MAGIC {
            return Err(TreeSnapshotError::BadMagic(magic));
        }
        let version = r.array::<1>()?[0];
        if version != TREE_SNAPSHOT_VERSION {
            return Err(TreeSnapshotError::UnknownVersion(version));
        }
        let last_zxid = r.i64()?;
        let count = r.u64()?;
        let mut tree = DataTree::with_config(config);
        // Room for the announced nodes, but no more than the input can hold.
        let fit = r.remaining() / MIN_NODE_BYTES;
        tree.reserve_nodes(usize::try_from(count).unwrap_or(usize::MAX).min(fit));
        // The snapshot's ACL references -> the tree's ACL ids.
        let mut acls: Vec<AclId> = Vec::new();
        // Which of the nodes a fresh tree has (by id) were restored already: those come from
        // the snapshot into place, once (the root is always the first record).
        let mut restored = [false; 4];
        let mut path = String::new();
        let mut read: u64 = 0;
        // The open levels, innermost last.
        let mut frames: Vec<Frame<'_>> = Vec::new();
        loop {
            let at = r.pos;
            let rec = r.node(&mut acls, &mut tree.acls)?;
            read += 1;
            if read > count {
                return Err(invalid(
                    at,
                    format!("more nodes than the {count} announced"),
                ));
            }
            let before = path.len();
            let node = Node {
                data: rec.data,
                stat: rec.stat,
                acl: rec.acl,
                children: Children::default(),
            };
            let id = match frames.last_mut() {
                None if rec.name.is_empty() => {
                    tree.restore_in_place(ROOT, node);
                    ROOT
                }
                Some(frame) if !rec.name.is_empty() && !rec.name.contains('/') => {
                    // Children come in strictly increasing name order: no duplicates.
                    if frame
                        .last
                        .is_some_and(|last| last.as_bytes() >= rec.name.as_bytes())
                    {
                        return Err(invalid(
                            at,
                            format!("child {:?} out of order or repeated", rec.name),
                        ));
                    }
                    frame.last = Some(rec.name);
                    frame.left -= 1;
                    path.push('/');
                    path.push_str(rec.name);
                    let initial = tree
                        .initial_child(frame.id, rec.name)
                        .filter(|&id| restored.get(id as usize) == Some(&false));
                    match initial {
                        Some(id) => {
                            restored[id as usize] = true;
                            tree.restore_in_place(id, node);
                            id
                        }
                        None => {
                            let id = tree.restore_node(&path, node);
                            frame.kids.push((Name::new(rec.name), id));
                            id
                        }
                    }
                }
                _ => return Err(invalid(at, format!("bad node name {:?}", rec.name))),
            };
            if rec.children > 0 {
                // Room for the announced children, but no more than the input can hold.
                let fit = (rec.children as usize).min(r.remaining() / MIN_NODE_BYTES);
                frames.push(Frame {
                    left: rec.children,
                    path_len: before,
                    id,
                    last: None,
                    kids: Vec::with_capacity(fit),
                });
                continue;
            }
            path.truncate(before);
            // Close every level this node finished.
            while let Some(top) = frames.last_mut() {
                if top.left > 0 {
                    break;
                }
                path.truncate(top.path_len);
                let kids = std::mem::take(&mut top.kids);
                if !tree.restore_children(top.id, kids) {
                    return Err(invalid(r.pos, format!("duplicate child under {path:?}")));
                }
                frames.pop();
            }
            if frames.is_empty() {
                break;
            }
        }
        if read != count {
            return Err(invalid(
                r.pos,
                format!("{read} nodes read, the header says {count}"),
            ));
        }
        tree.last_zxid = last_zxid;
        tree.rebuild_quota_index();
        *input = &input[r.pos..];
        Ok(tree)
    }
}

fn invalid(offset: usize, reason: impl Into<String>) -> TreeSnapshotError {
    TreeSnapshotError::Invalid {
        offset,
        reason: reason.into(),
    }
}

fn put_len(buf: &mut Vec<u8>, len: usize) {
    buf.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
}

fn put_bytes(buf: &mut Vec<u8>, s: &[u8]) {
    put_len(buf, s.len());
    buf.extend_from_slice(s);
}

/// A node whose children are being read.
struct Frame<'a> {
    /// Children still to read.
    left: u32,
    /// The path length to return to after them.
    path_len: usize,
    id: NodeId,
    /// The last child's name.
    last: Option<&'a str>,
    /// The children read so far (not counting the ones a fresh tree has).
    kids: Vec<(Name, NodeId)>,
}

struct NodeRecord<'a> {
    name: &'a str,
    children: u32,
    data: Option<Bytes>,
    acl: AclId,
    stat: NodeStat,
}

/// The smallest node record: name and child count, data length, ACL reference, six i64 and
/// three i32 Stat fields.
const MIN_NODE_BYTES: usize = 4 + 4 + 4 + 4 + 6 * 8 + 3 * 4;

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TreeSnapshotError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(TreeSnapshotError::Truncated {
                offset: self.buf.len(),
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], TreeSnapshotError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u32(&mut self) -> Result<u32, TreeSnapshotError> {
        self.array().map(u32::from_be_bytes)
    }

    fn i32(&mut self) -> Result<i32, TreeSnapshotError> {
        self.array().map(i32::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64, TreeSnapshotError> {
        self.array().map(u64::from_be_bytes)
    }

    fn i64(&mut self) -> Result<i64, TreeSnapshotError> {
        self.array().map(i64::from_be_bytes)
    }

    fn str(&mut self) -> Result<&'a str, TreeSnapshotError> {
        let at = self.pos;
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|_| invalid(at, "string is not UTF-8"))
    }

    /// Reads one node record. Its ACL is interned in `table` when the record defines it
    /// (`acls` maps the snapshot's references to the ids), and a reference is taken for the
    /// node either way.
    fn node(
        &mut self,
        acls: &mut Vec<AclId>,
        table: &mut AclTable,
    ) -> Result<NodeRecord<'a>, TreeSnapshotError> {
        let name = self.str()?;
        let children = self.u32()?;
        let at = self.pos;
        let data = match self.i32()? {
            -1 => None,
            n if n < 0 => return Err(invalid(at, format!("data length {n}"))),
            n => Some(Bytes::copy_from_slice(self.take(n as usize)?)),
        };
        let at = self.pos;
        let acl_ref = self.u32()? as usize;
        let acl = match acls.get(acl_ref) {
            Some(&id) => {
                table.retain(id);
                id
            }
            None if acl_ref == acls.len() => {
                let n = self.u32()? as usize;
                // Each entry takes at least 12 bytes: no more room than the input can fill.
                let mut list = Vec::with_capacity(n.min(self.remaining() / 12));
                for _ in 0..n {
                    let perms = self.i32()?;
                    let scheme = self.str()?.to_string();
                    let id = self.str()?.to_string();
                    list.push(Acl {
                        perms,
                        id: Id { scheme, id },
                    });
                }
                let id = table.intern(&list);
                acls.push(id);
                id
            }
            None => {
                return Err(invalid(
                    at,
                    format!("ACL reference {acl_ref} before its definition"),
                ))
            }
        };
        let mut z = [0i64; 6];
        for v in &mut z {
            *v = self.i64()?;
        }
        let stat = NodeStat {
            czxid: z[0],
            mzxid: z[1],
            ctime: z[2],
            mtime: z[3],
            pzxid: z[4],
            ephemeral_owner: z[5],
            version: self.i32()?,
            cversion: self.i32()?,
            aversion: self.i32()?,
        };
        Ok(NodeRecord {
            name,
            children,
            data,
            acl,
            stat,
        })
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use corral_jute::codes::{CreateMode, ErrorCode, OpCode};
    use corral_jute::request::Request;
    use proptest::prelude::*;

    use super::*;
    use crate::tests::{
        acl_for, create, create_acl, create_op, delete, digest, set, set_acl, Harness,
    };
    use crate::TxnResult;

    fn config() -> DataTreeConfig {
        DataTreeConfig {
            extended_types_enabled: true,
            ..DataTreeConfig::default()
        }
    }

    fn round_trip(tree: &DataTree) -> DataTree {
        let mut out = Vec::new();
        tree.write_snapshot(&mut out).unwrap();
        out.extend_from_slice(b"sessions");
        let mut input = &out[..];
        let back = DataTree::read_snapshot(&mut input, tree.config()).unwrap();
        assert_eq!(input, b"sessions", "the input is left just after the tree");
        back
    }

    fn all_paths(t: &DataTree) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec!["/".to_string()];
        while let Some(p) = stack.pop() {
            if let Ok((kids, _)) = t.get_children(&p) {
                for k in kids {
                    stack.push(if p == "/" {
                        format!("/{k}")
                    } else {
                        format!("{p}/{k}")
                    });
                }
            }
            out.push(p);
        }
        out.sort();
        out
    }

    /// Every query answers the same.
    fn assert_same(a: &DataTree, b: &DataTree) {
        assert_same_but_size(a, b);
        assert_eq!(a.approximate_data_size(), b.approximate_data_size());
    }

    /// As `assert_same`, but the approximate data size may differ: as in ZooKeeper, a load
    /// counts the current data of `zookeeper_stats` nodes, which quota bookkeeping rewrote
    /// in place without updating the size.
    fn assert_same_but_size(a: &DataTree, b: &DataTree) {
        let paths = all_paths(a);
        assert_eq!(paths, all_paths(b));
        for p in &paths {
            assert_eq!(a.get_data(p), b.get_data(p), "{p}");
            assert_eq!(a.get_children(p), b.get_children(p), "{p}");
            assert_eq!(a.get_acl(p), b.get_acl(p), "{p}");
            assert_eq!(a.node_record(p), b.node_record(p), "{p}");
            assert_eq!(a.all_children_number(p), b.all_children_number(p), "{p}");
        }
        assert_eq!(a.node_count(), b.node_count());
        assert_eq!(a.ephemeral_count(), b.ephemeral_count());
        assert_eq!(a.sessions_with_ephemerals(), b.sessions_with_ephemerals());
        for s in a.sessions_with_ephemerals() {
            assert_eq!(a.ephemerals(s), b.ephemerals(s));
        }
        assert_eq!(a.containers(), b.containers());
        assert_eq!(a.ttl_nodes(), b.ttl_nodes());
        assert_eq!(a.acl_count(), b.acl_count());
        assert_eq!(a.last_zxid(), b.last_zxid());
        assert_eq!(a.quota_paths(), b.quota_paths());
        assert_eq!(a.containers_to_reap(), b.containers_to_reap());
        assert_eq!(a.expired_ttls(i64::MAX / 2), b.expired_ttls(i64::MAX / 2));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Create(String, u8, u8, u8),
        Delete(String),
        Set(String, Vec<u8>),
        SetAcl(String, u8),
    }

    fn paths() -> Vec<String> {
        let mut out = Vec::new();
        for a in ["a", "b", "c"] {
            out.push(format!("/{a}"));
            for b in ["x", "y"] {
                out.push(format!("/{a}/{b}"));
                out.push(format!("/{a}/{b}/z"));
            }
        }
        out
    }

    fn op() -> impl Strategy<Value = Op> {
        let p = prop::sample::select(paths());
        prop_oneof![
            4 => (p.clone(), 0u8..6, 0u8..3, 0u8..3).prop_map(|(p, m, a, s)| Op::Create(p, m, a, s)),
            1 => p.clone().prop_map(Op::Delete),
            2 => (p.clone(), prop::collection::vec(any::<u8>(), 0..8)).prop_map(|(p, d)| Op::Set(p, d)),
            1 => (p, 0u8..3).prop_map(|(p, a)| Op::SetAcl(p, a)),
        ]
    }

    fn acl(n: u8) -> Vec<Acl> {
        match n {
            0 => corral_acl::open_acl_unsafe(),
            1 => corral_acl::read_acl_unsafe(),
            _ => acl_for(31, digest("u")),
        }
    }

    fn request(op: &Op) -> Request {
        match op {
            Op::Create(p, mode, a, _) => {
                let mut r = match mode {
                    0 => create(p, "d", 0),
                    1 => create(p, "eph", CreateMode::Ephemeral.code()),
                    2 => create(p, "", CreateMode::PersistentSequential.code()),
                    3 => create_op(
                        OpCode::CreateContainer,
                        p,
                        "",
                        CreateMode::Container.code(),
                        None,
                    ),
                    4 => create_op(
                        OpCode::CreateTtl,
                        p,
                        "t",
                        CreateMode::PersistentWithTtl.code(),
                        Some(500),
                    ),
                    _ => create(p, "", CreateMode::EphemeralSequential.code()),
                };
                if let Request::Create { req, .. } = &mut r {
                    req.acl = acl(*a);
                    if *a == 2 {
                        // A null data buffer.
                        req.data = None;
                    }
                }
                r
            }
            Op::Delete(p) => delete(p, -1),
            Op::Set(p, d) => set(p, &String::from_utf8_lossy(d), -1),
            Op::SetAcl(p, a) => set_acl(p, acl(*a), -1),
        }
    }

    fn play(h: &mut Harness, ops: &[Op]) {
        h.auth = vec![digest("u")];
        for op in ops {
            if let Op::Create(_, _, _, s) = op {
                h.session = 0x100 + i64::from(*s);
            }
            let _ = h.write(&request(op));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        #[test]
        fn a_restored_tree_answers_every_query_identically(
            ops in prop::collection::vec(op(), 1..60),
            more in prop::collection::vec(op(), 0..30),
        ) {
            let mut h = Harness::with_config(config());
            play(&mut h, &ops);
            let back = round_trip(&h.tree);
            assert_same(&h.tree, &back);
            // And goes on the same way under further changes.
            let mut h2 = Harness::with_config(config());
            h2.tree = back;
            h2.zxid = h.zxid;
            h2.time = h.time;
            play(&mut h, &more);
            play(&mut h2, &more);
            assert_same(&h.tree, &h2.tree);
        }
    }

    #[test]
    fn system_nodes_quotas_and_acls_survive() {
        let mut h = Harness::with_config(config());
        h.create("/app", "x");
        h.create("/app/1", "hello");
        h.write(&create("/zookeeper/quota/app", "", 0)).unwrap();
        h.write(&create(
            "/zookeeper/quota/app/zookeeper_limits",
            "count=10,bytes=100",
            0,
        ))
        .unwrap();
        h.write(&create(
            "/zookeeper/quota/app/zookeeper_stats",
            "count=0,bytes=0",
            0,
        ))
        .unwrap();
        h.create("/app/2", "more");
        h.write(&set_acl("/", corral_acl::read_acl_unsafe(), -1))
            .unwrap();
        h.write(&set("/zookeeper", "zk data", -1)).unwrap();
        let back = round_trip(&h.tree);
        assert_same_but_size(&h.tree, &back);
        // A second round trip is exact.
        assert_same(&back, &round_trip(&back));
        assert_eq!(back.quota_paths(), vec!["/app".to_string()]);
        let stats = back
            .get_data("/zookeeper/quota/app/zookeeper_stats")
            .unwrap()
            .0;
        assert_eq!(
            stats.as_deref(),
            h.tree
                .get_data("/zookeeper/quota/app/zookeeper_stats")
                .unwrap()
                .0
                .as_deref()
        );
    }

    const EPH: i32 = CreateMode::Ephemeral.code();
    const SEQ: i32 = CreateMode::PersistentSequential.code();

    /// A tree with something of every kind: sequential children with gaps, ephemerals of
    /// several sessions, containers (used and never used), a TTL node, shared and distinct
    /// ACLs, null data, moved versions, a quota, long and non-ASCII names, a deep chain.
    fn varied() -> Harness {
        let mut h = Harness::with_config(config());
        h.auth = vec![digest("u")];
        h.create("/app", "x");
        for _ in 0..5 {
            h.write(&create("/app/s-", "", SEQ)).unwrap();
        }
        h.write(&delete("/app/s-0000000001", -1)).unwrap();
        h.write(&delete("/app/s-0000000004", -1)).unwrap();
        h.session = 0x200;
        h.write(&create("/app/e1", "e", EPH)).unwrap();
        h.write(&create("/e-", "", CreateMode::EphemeralSequential.code()))
            .unwrap();
        h.session = 0x300;
        h.write(&create("/app/e3", "e", EPH)).unwrap();
        h.session = 0x100;
        let container = |p: &str| {
            create_op(
                OpCode::CreateContainer,
                p,
                "",
                CreateMode::Container.code(),
                None,
            )
        };
        h.write(&container("/c1")).unwrap();
        h.create("/c1/k", "");
        h.write(&delete("/c1/k", -1)).unwrap();
        h.write(&container("/c2")).unwrap();
        h.write(&container("/c3")).unwrap();
        h.create("/c3/k", "");
        h.write(&create_op(
            OpCode::CreateTtl,
            "/t",
            "t",
            CreateMode::PersistentWithTtl.code(),
            Some(500),
        ))
        .unwrap();
        h.write(&create_acl("/ro", corral_acl::read_acl_unsafe(), 0))
            .unwrap();
        h.write(&create_acl("/secret", acl_for(31, digest("u")), 0))
            .unwrap();
        h.write(&set("/app", "y", -1)).unwrap();
        h.write(&set("/app", "yy", -1)).unwrap();
        h.write(&set_acl("/app", acl(0), -1)).unwrap();
        h.write(&create("/zookeeper/quota/app", "", 0)).unwrap();
        h.write(&create(
            "/zookeeper/quota/app/zookeeper_limits",
            "count=100,bytes=1000",
            0,
        ))
        .unwrap();
        h.write(&create(
            "/zookeeper/quota/app/zookeeper_stats",
            "count=0,bytes=0",
            0,
        ))
        .unwrap();
        h.create("/app/after-quota", "abc");
        h.create("/app/a-name-longer-than-twenty-two-bytes", "long");
        h.create("/\u{fc}n\u{ef}c\u{f8}d\u{e9}", "utf-16 counts");
        let mut deep = String::new();
        for i in 0..40 {
            deep.push_str(&format!("/d{i}"));
            h.create(&deep, "");
        }
        h
    }

    /// What ZooKeeper's approximate data size adds up for a tree read back from its nodes:
    /// every path (UTF-16 units) and its data, `/` included.
    fn size_from_reads(t: &DataTree) -> u64 {
        all_paths(t)
            .iter()
            .map(|p| {
                let data = t.get_data(p).unwrap().0.map_or(0, |d| d.len());
                (p.encode_utf16().count() + data) as u64
            })
            .sum()
    }

    #[test]
    fn a_loaded_tree_matches_node_by_node_and_goes_on_the_same() {
        let mut h = varied();
        let back = round_trip(&h.tree);
        // Node by node.
        let paths = all_paths(&h.tree);
        assert!(paths.len() > 60, "{}", paths.len());
        for p in &paths {
            assert_eq!(h.tree.get_data(p), back.get_data(p), "{p}");
            assert_eq!(h.tree.stat(p), back.stat(p), "{p}");
            assert_eq!(h.tree.get_children(p), back.get_children(p), "{p}");
            assert_eq!(h.tree.get_acl(p), back.get_acl(p), "{p}");
        }
        assert_eq!(h.tree.node_count(), back.node_count());
        assert_eq!(back.approximate_data_size(), size_from_reads(&back));
        // As in ZooKeeper, the running tree still counts the stats node's data as created
        // ("count=0,bytes=0"), the loaded one its current data; otherwise the sizes agree.
        let stats = "/zookeeper/quota/app/zookeeper_stats";
        let stats_now = back.get_data(stats).unwrap().0.map_or(0, |d| d.len()) as u64;
        assert_eq!(h.tree.get_data(stats), back.get_data(stats));
        assert_eq!(
            h.tree.approximate_data_size() + stats_now - 15,
            back.approximate_data_size()
        );
        for s in [0x100, 0x200, 0x300] {
            assert_eq!(h.tree.ephemerals(s), back.ephemerals(s), "session {s:#x}");
        }
        assert_eq!(back.ephemerals(0x200).len(), 2);
        assert_eq!(back.containers(), vec!["/c1", "/c2", "/c3"]);
        assert_eq!(back.containers_to_reap(), vec!["/c1"]);
        assert_eq!(back.ttl_nodes(), vec!["/t"]);
        assert_eq!(back.expired_ttls(i64::MAX / 2), vec!["/t"]);
        assert_eq!(back.quota_paths(), vec!["/app"]);
        assert_same_but_size(&h.tree, &back);

        // Further writes answer the same on both.
        let (app, _) = back.node_record("/app").unwrap();
        let mut h2 = Harness::with_config(config());
        h2.tree = back;
        h2.zxid = h.zxid;
        h2.time = h.time;
        h2.auth = h.auth.clone();
        let more = [
            create("/app/s-", "", SEQ),
            create("/app/e1/child", "", 0),
            create("/app/e1", "", 0),
            set("/app", "zzz", 2),
            set("/app", "zzz", 2),
            set_acl("/c2", acl(1), 0),
            delete("/c3/k", -1),
            create("/app/over", "0123456789", 0),
            delete("/secret", -1),
            create("/ro/child", "", 0),
            Request::CloseSession,
            create("/app/s-", "", SEQ),
        ];
        let mut results = Vec::new();
        for (i, req) in more.iter().enumerate() {
            if i == 10 {
                h.session = 0x200;
                h2.session = 0x200;
            }
            let a = h.write(req);
            let b = h2.write(req);
            assert_eq!(a, b, "request {i}: {req:?}");
            results.push(b.map(|a| a.result));
        }
        // Sequence suffixes go on from the stored cversion (children ever created).
        let seq = |n: i32| {
            Ok(TxnResult::Create {
                path: format!("/app/s-{n:010}"),
                stat: h2.tree.stat(&format!("/app/s-{n:010}")).unwrap(),
            })
        };
        assert_eq!(results[0], seq(app.cversion));
        assert_eq!(results[11], seq(app.cversion + 2));
        assert_eq!(results[1], Err(ErrorCode::NoChildrenForEphemerals));
        assert_eq!(results[2], Err(ErrorCode::NodeExists));
        assert_eq!(results[4], Err(ErrorCode::BadVersion));
        assert_eq!(results[9], Err(ErrorCode::NoAuth));
        assert!(h2.tree.ephemerals(0x200).is_empty());
        assert_eq!(h2.tree.containers_to_reap(), vec!["/c1", "/c3"]);
        assert_same_but_size(&h.tree, &h2.tree);
    }

    #[test]
    fn children_out_of_order_or_repeated_are_refused() {
        let mut h = Harness::with_config(config());
        h.create("/a", "");
        h.create("/b", "");
        h.create("/c", "");
        let mut out = Vec::new();
        h.tree.write_snapshot(&mut out).unwrap();
        let name = |n: u8| {
            let pat = [0, 0, 0, 1, n];
            out.windows(5).position(|w| w == pat).unwrap() + 4
        };
        let (a, b, c) = (name(b'a'), name(b'b'), name(b'c'));
        for (at, to) in [(b, b'a'), (a, b'c'), (c, b'b')] {
            let mut bad = out.clone();
            bad[at] = to;
            let err = DataTree::read_snapshot(&mut &bad[..], config()).unwrap_err();
            assert!(
                matches!(&err, TreeSnapshotError::Invalid { reason, .. } if reason.contains("out of order")),
                "{err}"
            );
        }
    }

    #[test]
    fn an_empty_tree_round_trips() {
        let t = DataTree::new();
        assert_same(&t, &round_trip(&t));
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        let mut h = Harness::with_config(config());
        play(
            &mut h,
            &[
                Op::Create("/a".into(), 0, 2, 0),
                Op::Create("/a/x".into(), 1, 0, 1),
            ],
        );
        let mut out = Vec::new();
        h.tree.write_snapshot(&mut out).unwrap();
        for cut in 0..out.len() {
            let mut input = &out[..cut];
            assert!(
                DataTree::read_snapshot(&mut input, config()).is_err(),
                "cut {cut}"
            );
        }
        let mut bad = out.clone();
        bad[0] = b'X';
        assert!(matches!(
            DataTree::read_snapshot(&mut &bad[..], config()),
            Err(TreeSnapshotError::BadMagic(_))
        ));
        let mut bad = out.clone();
        bad[4] = 9;
        assert_eq!(
            DataTree::read_snapshot(&mut &bad[..], config()).err(),
            Some(TreeSnapshotError::UnknownVersion(9))
        );
        // Every single-byte change either fails cleanly or yields some tree.
        for i in 0..out.len() {
            let mut b = out.clone();
            b[i] ^= 0x5a;
            let _ = DataTree::read_snapshot(&mut &b[..], config());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Snapshots come from disk: a truncated or bit-flipped one is an error or some tree,
        /// never a panic, and a tree it yields works (reads, writes, a further round trip).
        #[test]
        fn damaged_snapshots_never_panic(
            ops in prop::collection::vec(op(), 1..40),
            cut in any::<prop::sample::Index>(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 0..4),
            truncate in any::<bool>(),
        ) {
            let mut h = Harness::with_config(config());
            play(&mut h, &ops);
            let mut out = Vec::new();
            h.tree.write_snapshot(&mut out).unwrap();
            let mut bad = out.clone();
            for (at, bit) in &flips {
                let i = at.index(bad.len());
                bad[i] ^= 1 << bit;
            }
            if truncate {
                bad.truncate(cut.index(bad.len()));
            }
            let result = DataTree::read_snapshot(&mut &bad[..], config());
            if truncate {
                prop_assert!(result.is_err(), "a truncated snapshot loaded");
            }
            if let Ok(t) = result {
                let paths = all_paths(&t);
                prop_assert_eq!(paths.len() + 1, t.node_count());
                for p in &paths {
                    let _ = (t.get_data(p), t.get_acl(p), t.all_children_number(p));
                }
                let again = round_trip(&t);
                assert_same_but_size(&t, &again);
                let mut h2 = Harness::with_config(config());
                h2.tree = t;
                play(&mut h2, &ops);
            }
        }
    }

    /// `cargo test -p corral-datatree --release -- --ignored snapshot_speed --nocapture`
    #[test]
    #[ignore]
    fn snapshot_speed() {
        let mut t = DataTree::new();
        let acl = corral_acl::open_acl_unsafe();
        let data = Bytes::from(vec![b'x'; 100]);
        let mut ev = Vec::new();
        let mut zxid = 0;
        let rss_start = rss_bytes();
        let build = std::time::Instant::now();
        for i in 0..1000 {
            zxid += 1;
            let p = format!("/n{i:04}");
            t.create_node(&p, Some(&data), &acl, 0, -1, zxid, zxid, &mut ev)
                .unwrap();
            for j in 0..999 {
                zxid += 1;
                let c = format!("{p}/c{j:04}");
                t.create_node(&c, Some(&data), &acl, 0, -1, zxid, zxid, &mut ev)
                    .unwrap();
                ev.clear();
            }
        }
        println!("built by create_node in {:?}", build.elapsed());
        if let (Some(a), Some(b)) = (rss_start, rss_bytes()) {
            println!(
                "built tree: {} bytes of RSS per node",
                b.saturating_sub(a) / t.node_count() as u64
            );
        }
        let mut out = Vec::with_capacity(200 << 20);
        let (start, cpu) = (std::time::Instant::now(), cpu_time());
        t.write_snapshot(&mut out).unwrap();
        let wrote = start.elapsed();
        let wrote_cpu = cpu_time().zip(cpu).map(|(b, a)| b.saturating_sub(a));
        let rss_before = rss_bytes();
        let (start, cpu) = (std::time::Instant::now(), cpu_time());
        let back = DataTree::read_snapshot(&mut &out[..], DataTreeConfig::default()).unwrap();
        let read = start.elapsed();
        let read_cpu = cpu_time().zip(cpu).map(|(b, a)| b.saturating_sub(a));
        let rss_after = rss_bytes();
        for _ in 0..std::env::var("PROBE_READS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
        {
            let (start, cpu) = (std::time::Instant::now(), cpu_time());
            drop(DataTree::read_snapshot(&mut &out[..], DataTreeConfig::default()).unwrap());
            let cpu = cpu_time().zip(cpu).map(|(b, a)| b.saturating_sub(a));
            println!("read again {:?} (cpu {cpu:?})", start.elapsed());
        }
        assert_eq!(back.node_count(), t.node_count());
        assert_eq!(back.approximate_data_size(), t.approximate_data_size());
        println!(
            "{} nodes, {} bytes: write {wrote:?} (cpu {wrote_cpu:?}), read {read:?} (cpu {read_cpu:?})",
            t.node_count(),
            out.len()
        );
        if let (Some(a), Some(b)) = (rss_before, rss_after) {
            println!(
                "loaded tree: {} bytes of RSS per node",
                b.saturating_sub(a) / t.node_count() as u64
            );
        }
    }

    /// CPU time this thread has run (Linux), for the speed probe: on a busy machine wall
    /// time says little.
    fn cpu_time() -> Option<std::time::Duration> {
        let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
        Some(std::time::Duration::from_nanos(ns))
    }

    /// The process's resident set size (Linux), for the speed probe.
    fn rss_bytes() -> Option<u64> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        Some(pages * 4096)
    }
}
