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
//! Big-endian. Nodes are written depth first, a parent before its children, children in name
//! order; each ACL list is written once, where it is first used. Sessions are not part of the
//! tree: the server writes them next to it (after [`DataTree::write_snapshot`]'s bytes) and
//! reads them from what [`DataTree::read_snapshot`] leaves in its input.
//!
//! Loading rebuilds the ephemeral, container and TTL indexes from the owners under the
//! *loading* server's [`DataTreeConfig`], and the quota index with
//! [`DataTree::rebuild_quota_index`] (which, as ZooKeeper's `setupQuota` at load, recomputes
//! the `zookeeper_stats` nodes' data).

use std::collections::HashMap;
use std::io::{self, Write};

use bytes::Bytes;
use corral_jute::records::{Acl, Id};

use crate::node::{AclId, NodeId, NodeStat};
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
        // Count first, so the reader can check it got everything.
        let mut count: u64 = 0;
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            count += 1;
            stack.extend(self.node(id).children.values().copied());
        }
        buf.extend_from_slice(&count.to_be_bytes());

        let mut acl_refs: HashMap<AclId, u32> = HashMap::new();
        self.write_node(&mut buf, "", root, &mut acl_refs);
        // Depth first: a stack of children iterators.
        let mut iters = vec![self.node(root).children.iter()];
        while let Some(it) = iters.last_mut() {
            match it.next() {
                Some((name, &id)) => {
                    self.write_node(&mut buf, name, id, &mut acl_refs);
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

    fn write_node(
        &self,
        buf: &mut Vec<u8>,
        name: &str,
        id: NodeId,
        acl_refs: &mut HashMap<AclId, u32>,
    ) {
        let node = self.node(id);
        put_str(buf, name);
        put_len(buf, node.children.len());
        match &node.data {
            None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(d) => {
                put_len(buf, d.len());
                buf.extend_from_slice(d);
            }
        }
        let next = u32::try_from(acl_refs.len()).unwrap_or(u32::MAX);
        let r = *acl_refs.entry(node.acl).or_insert(next);
        buf.extend_from_slice(&r.to_be_bytes());
        if r == next {
            let acl = self.acls.get(node.acl);
            put_len(buf, acl.len());
            for a in acl.iter() {
                buf.extend_from_slice(&a.perms.to_be_bytes());
                put_str(buf, &a.id.scheme);
                put_str(buf, &a.id.id);
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
        let mut acls: Vec<Vec<Acl>> = Vec::new();
        let mut path = String::new();
        let mut events = Vec::new();
        let mut read: u64 = 0;
        // Per open level: children still to read, the path length to return to after them,
        // and the parent's id.
        let mut frames: Vec<(u32, usize, NodeId)> = Vec::new();
        loop {
            let at = r.pos;
            let rec = r.node(&mut acls)?;
            read += 1;
            let before = path.len();
            let parent = frames.last().map(|f| f.2);
            if parent.is_none() != rec.name.is_empty() || rec.name.contains('/') {
                return Err(invalid(at, format!("bad node name {:?}", rec.name)));
            }
            if parent.is_some() {
                path.push('/');
                path.push_str(rec.name);
            }
            let p = if path.is_empty() { "/" } else { path.as_str() };
            let acl = &acls[rec.acl];
            events.clear();
            // Only the nodes every tree starts with exist already.
            let existing = match p == "/" || p.starts_with(crate::tree::ZOOKEEPER) {
                true => tree.lookup(p),
                false => None,
            };
            let id = match (existing, parent) {
                (Some(id), _) => {
                    tree.set_data(p, rec.data.as_ref(), 0, 0, 0, &mut events)
                        .and_then(|_| tree.set_acl(p, acl, 0))
                        .map_err(|e| invalid(at, format!("cannot restore {p}: {e:?}")))?;
                    id
                }
                (None, Some(parent)) => {
                    let s = &rec.stat;
                    // i32::MIN: leave the parent's Stat alone (it was restored exactly).
                    tree.create_node(
                        p,
                        rec.data.as_ref(),
                        acl,
                        s.ephemeral_owner,
                        i32::MIN,
                        s.czxid,
                        s.ctime,
                        &mut events,
                    )
                    .map_err(|e| invalid(at, format!("cannot restore {p}: {e:?}")))?;
                    match tree.node(parent).children.get(rec.name) {
                        Some(&id) => id,
                        None => return Err(invalid(at, format!("{p} missing after restore"))),
                    }
                }
                (None, None) => return Err(invalid(at, "the tree has no root")),
            };
            tree.node_mut(id).stat = rec.stat;
            if rec.children > 0 {
                frames.push((rec.children, before, id));
            } else {
                path.truncate(before);
                // Close every level this node finished.
                while let Some(top) = frames.last_mut() {
                    top.0 -= 1;
                    if top.0 > 0 {
                        break;
                    }
                    path.truncate(top.1);
                    frames.pop();
                }
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

fn put_str(buf: &mut Vec<u8>, s: &str) {
    put_len(buf, s.len());
    buf.extend_from_slice(s.as_bytes());
}

struct NodeRecord<'a> {
    name: &'a str,
    children: u32,
    data: Option<Bytes>,
    acl: usize,
    stat: NodeStat,
}

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

    fn node(&mut self, acls: &mut Vec<Vec<Acl>>) -> Result<NodeRecord<'a>, TreeSnapshotError> {
        let name = self.str()?;
        let children = self.u32()?;
        let at = self.pos;
        let data = match self.i32()? {
            -1 => None,
            n if n < 0 => return Err(invalid(at, format!("data length {n}"))),
            n => Some(Bytes::copy_from_slice(self.take(n as usize)?)),
        };
        let at = self.pos;
        let acl = self.u32()? as usize;
        if acl == acls.len() {
            let n = self.u32()? as usize;
            let mut list = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                let perms = self.i32()?;
                let scheme = self.str()?.to_string();
                let id = self.str()?.to_string();
                list.push(Acl {
                    perms,
                    id: Id { scheme, id },
                });
            }
            acls.push(list);
        } else if acl > acls.len() {
            return Err(invalid(
                at,
                format!("ACL reference {acl} before its definition"),
            ));
        }
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
    use corral_jute::codes::{CreateMode, OpCode};
    use corral_jute::request::Request;
    use proptest::prelude::*;

    use super::*;
    use crate::tests::{acl_for, create, create_op, delete, digest, set, set_acl, Harness};

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

    /// `cargo test -p corral-datatree --release -- --ignored snapshot_speed --nocapture`
    #[test]
    #[ignore]
    fn snapshot_speed() {
        let mut t = DataTree::new();
        let acl = corral_acl::open_acl_unsafe();
        let data = Bytes::from(vec![b'x'; 100]);
        let mut ev = Vec::new();
        let mut zxid = 0;
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
        let start = std::time::Instant::now();
        let mut out = Vec::new();
        t.write_snapshot(&mut out).unwrap();
        let wrote = start.elapsed();
        let start = std::time::Instant::now();
        let back = DataTree::read_snapshot(&mut &out[..], DataTreeConfig::default()).unwrap();
        let read = start.elapsed();
        assert_eq!(back.node_count(), t.node_count());
        println!(
            "{} nodes, {} bytes: write {wrote:?}, read {read:?}",
            t.node_count(),
            out.len()
        );
    }
}
