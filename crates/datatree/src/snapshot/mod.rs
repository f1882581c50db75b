//! Tree snapshots: every node (data, ACL, the full persisted Stat including the stored
//! cversion and the ephemeral owner), every parent-child link and the last zxid, in a compact
//! format that loads without re-validating paths. Written whole ([`DataTree::write_snapshot`])
//! or a few records at a time while the tree goes on changing ([`DataTree::begin_snapshot`],
//! then [`DataTree::snapshot_step`] until it says [`SnapshotProgress::Done`]); both write
//! version 2. [`DataTree::read_snapshot`] reads version 2 and version 1.
//!
//! # Format, version 2
//!
//! ```text
//! snapshot = magic "CRTR" | version u8 = 2 | last zxid i64 | node count u64 | record* | end
//! record   = tag u8 = 1 | ACL  : slot u32 | acl list
//!          | tag u8 = 2 | NODEs: bodies' length u64
//!                               | n * (acl slot u32 | czxid i64 | mzxid i64 | ctime i64
//!                                      | mtime i64 | pzxid i64 | ephemeral owner i64
//!                                      | version i32 | cversion i32 (stored: children
//!                                        created) | aversion i32 | data bytes)
//!                               | n u32 | n * (id u32 | data length i32, -1 for null)
//!          | tag u8 = 3 | EDGE : parent id u32 | child id u32 | name str
//! end      = tag u8 = 0 | ACL records u64 | nodes u64 | EDGE records u64
//! acl list = u32 count, then per entry perms i32 | scheme str | id str
//! str      = u32 length + UTF-8
//! ```
//! Big-endian. Ids are the writing tree's slab indexes (any u32; node 0 is the root), ACL
//! slots its ACL table's ids. A node says "node `id` had this content", an EDGE "`parent` had
//! the child `name`, which was `child`". Records come in any order, and each node, edge and
//! ACL slot comes once. Nodes come in batches (a step's worth), their bodies first and behind
//! them the index (ids, data lengths): the reader's first pass steps over all the bodies of a
//! batch at once instead of walking from node to node through memory, and the writer writes
//! the bodies straight out, filling in their length at the end.
//!
//! The reader checks the counts of the header and of the end record, that every edge joins
//! two nodes, that every node but the root has exactly one parent, that no name repeats under
//! a parent and that every node is reachable from the root (so there is no cycle). It then
//! builds the tree depth first with fresh dense ids, siblings in name order: the same slab a
//! version 1 load of the same tree gives.
//!
//! # Consistency of an incremental snapshot
//!
//! [`DataTree::begin_snapshot`] notes the line Z (the highest czxid given so far, at least
//! the last zxid) and the slab's length; each step moves a cursor along the slab, writing each
//! node with czxid <= Z that it meets and then its links to children with czxid <= Z, in name
//! order (a sub-cursor remembers the last name, so a huge directory spreads over many steps).
//! Nodes created later have a czxid above Z, so the cursor skips them, even in a reused slot
//! (a create at or below Z, which only txns applied out of zxid order make, ends the snapshot
//! with [`TreeSnapshotError::Interrupted`]). What the cursor reads of a node is what it was at
//! the start: the tree cannot change or remove a node without first running hook A (in
//! `node_mut` and in the removal), which writes the node if it still has to be written, and
//! then as it still is, this being its first change. Likewise a child cannot be unlinked
//! without hook B, which writes the link unless the cursor has passed it. So every node and
//! link of the tree at the start is written exactly once, with its content at the start, and
//! nothing else is. ACL lists are written on first use, by slot: a node not written yet still
//! holds its reference to the ACL it had at the start, so that slot was not freed and reused.
//!
//! Costs: `begin_snapshot` allocates a zeroed bit per slab slot; a step writes what the hooks
//! queued since the last one plus about its budget of records; a hook writes at most one
//! record (and the ACL list the first time it is used). With no snapshot in progress a change
//! costs a branch.
//!
//! # Format, version 1 (read only)
//!
//! ```text
//! snapshot = magic "CRTR" | version u8 = 1 | last zxid i64 | node count u64 | node*
//! node     = name (u32 length + UTF-8; empty for the root) | child count u32
//!          | data (i32 length, -1 for null, + bytes)
//!          | acl ref u32 [ acl list, when ref is the next new index ]
//!          | czxid i64 | mzxid i64 | ctime i64 | mtime i64 | pzxid i64 | ephemeral owner i64
//!          | version i32 | cversion i32 (stored: children created) | aversion i32
//! ```
//! Nodes depth first, a parent before its children, children in strictly increasing
//! (bytewise) name order, which the reader checks; each ACL list written where first used.
//!
//! # Loading
//!
//! Sessions are not part of the tree: the server writes them after the tree's bytes and
//! reads them from what [`DataTree::read_snapshot`] leaves in its input. Loading rebuilds the
//! ephemeral, container and TTL indexes from the owners under the *loading* server's
//! [`DataTreeConfig`], and the quota index with [`DataTree::rebuild_quota_index`] (which, as
//! ZooKeeper's `setupQuota` at load, recomputes the `zookeeper_stats` nodes' data). Each node
//! goes into the slab with its Stat as read, each ACL list is interned once, and a parent's
//! children map is built in one go from sorted names. No path is looked up, no event made, no
//! quota bookkeeping done per node. Damaged input is an error, never a panic, and no length
//! read from the input allocates more than the input could fill.

use crate::Zxid;
use corral_jute::records::{Acl, Id};

use crate::node::{Name, Node, NodeId};
use crate::{DataTree, DataTreeConfig};

mod build;
mod read_v1;
mod read_v2;
mod write;

pub use build::TreeSnapshotBuilder;

#[cfg(test)]
mod tests;

pub(crate) use write::{SnapshotSlot, Unlinked};

/// The first four bytes of a tree snapshot.
pub const TREE_SNAPSHOT_MAGIC: [u8; 4] = *b"CRTR";
/// The tree snapshot format version this build writes (it also reads version 1).
pub const TREE_SNAPSHOT_VERSION: u8 = 2;

/// Record tags of version 2.
const TAG_END: u8 = 0;
const TAG_ACL: u8 = 1;
const TAG_NODES: u8 = 2;
const TAG_EDGE: u8 = 3;

/// Why a tree snapshot could not be read or written.
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
    /// [`DataTree::begin_snapshot`] while a snapshot is in progress.
    #[error("a snapshot of this tree is already in progress")]
    AlreadyInProgress,
    /// [`DataTree::snapshot_step`] without a snapshot in progress.
    #[error("no snapshot of this tree is in progress")]
    NotInProgress,
    /// A node was created with a czxid at or below the snapshot's line while it ran (only a
    /// txn applied out of zxid order does that); the snapshot was abandoned and its bytes
    /// must be thrown away.
    #[error("snapshot abandoned: a node was created with czxid {czxid}, not above {line}")]
    Interrupted {
        /// The new node's czxid.
        czxid: Zxid,
        /// The snapshot's line (the highest czxid when it began).
        line: Zxid,
    },
}

/// What [`DataTree::snapshot_step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotProgress {
    /// More steps are needed.
    More,
    /// The snapshot is complete (its end record was the last thing written); the tree no
    /// longer has one in progress.
    Done,
}

impl DataTree {
    /// Reads a tree written by [`DataTree::write_snapshot`] or the incremental steps (version
    /// 2) or by an older Corral (version 1) from the front of `input`, which is advanced past
    /// it (the server's sessions can follow). `config` is the loading server's (it decides
    /// which owners are TTL nodes). Damaged input is an error, never a panic.
    pub fn read_snapshot(
        input: &mut &[u8],
        config: DataTreeConfig,
    ) -> Result<DataTree, TreeSnapshotError> {
        let mut r = Reader { buf: input, pos: 0 };
        let magic: [u8; 4] = r.array()?;
        if magic != TREE_SNAPSHOT_MAGIC {
            return Err(TreeSnapshotError::BadMagic(magic));
        }
        let tree = match r.u8()? {
            1 => read_v1::read(&mut r, config)?,
            2 => read_v2::read(&mut r, config)?,
            v => return Err(TreeSnapshotError::UnknownVersion(v)),
        };
        // The digest is not in the file: it is recomputed, as ZooKeeper's load does.
        let mut tree = tree;
        tree.rehash_all();
        *input = &input[r.pos..];
        Ok(tree)
    }
}

/// Puts restored nodes into a fresh tree (both readers): the nodes such a tree already has
/// (`/zookeeper`, its `quota` and `config`) are restored in place, once; the others are added.
#[derive(Default)]
struct Placer {
    /// Which of the fresh tree's nodes (by id) were restored already.
    restored: [bool; 4],
}

impl Placer {
    /// Places `node`, the child `name` of the placed node `parent`, whose full path is
    /// `path`. A node added (not restored in place) is pushed to `kids`, which
    /// [`Placer::close`] makes the parent's children.
    fn place(
        &mut self,
        tree: &mut DataTree,
        parent: NodeId,
        name: &str,
        path: &str,
        node: Node,
        kids: &mut Vec<(Name, NodeId)>,
    ) -> NodeId {
        let initial = tree
            .initial_child(parent, name)
            .filter(|&id| self.restored.get(id as usize) == Some(&false));
        match initial {
            Some(id) => {
                if let Some(done) = self.restored.get_mut(id as usize) {
                    *done = true;
                }
                tree.restore_in_place(id, node);
                id
            }
            None => {
                let id = tree.restore_node(path, node);
                kids.push((Name::new(name), id));
                id
            }
        }
    }

    /// Gives `parent` (at `path`) its added children, in strictly increasing name order.
    fn close(
        tree: &mut DataTree,
        parent: NodeId,
        kids: Vec<(Name, NodeId)>,
        path: &str,
        at: usize,
    ) -> Result<(), TreeSnapshotError> {
        if tree.restore_children(parent, kids) {
            Ok(())
        } else {
            Err(invalid(at, format!("duplicate child under {path:?}")))
        }
    }

    /// The last zxid, and the quota index rebuilt (after the data size is complete).
    fn finish(mut tree: DataTree, last_zxid: Zxid) -> DataTree {
        tree.last_zxid = last_zxid;
        tree.rebuild_quota_index();
        tree
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

/// A data length, -1 for null (the bytes go elsewhere).
fn put_data_len(buf: &mut Vec<u8>, data: Option<&[u8]>) {
    match data {
        None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
        Some(d) => put_len(buf, d.len()),
    }
}

fn put_acl_list(buf: &mut Vec<u8>, acl: &[Acl]) {
    put_len(buf, acl.len());
    for a in acl {
        buf.extend_from_slice(&a.perms.to_be_bytes());
        put_bytes(buf, a.id.scheme.as_bytes());
        put_bytes(buf, a.id.id.as_bytes());
    }
}

/// A cursor over the input; every read checks the length first.
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

    fn u8(&mut self) -> Result<u8, TreeSnapshotError> {
        self.array::<1>().map(|[b]| b)
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

    /// A data length: `None` for -1 (null); another negative length is an error.
    fn data_len(&mut self) -> Result<Option<usize>, TreeSnapshotError> {
        let at = self.pos;
        match self.i32()? {
            -1 => Ok(None),
            n if n < 0 => Err(invalid(at, format!("data length {n}"))),
            n => Ok(Some(n as usize)),
        }
    }

    /// Data bytes of a length read by [`Reader::data_len`].
    fn data_bytes(&mut self, len: Option<usize>) -> Result<Option<&'a [u8]>, TreeSnapshotError> {
        len.map(|n| self.take(n)).transpose()
    }

    /// Data: a length, then the bytes.
    fn data(&mut self) -> Result<Option<&'a [u8]>, TreeSnapshotError> {
        let len = self.data_len()?;
        self.data_bytes(len)
    }

    /// An ACL list (count, then the entries).
    fn acl_list(&mut self) -> Result<Vec<Acl>, TreeSnapshotError> {
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
        Ok(list)
    }

    /// The persisted Stat fields, in the order both versions store them.
    fn stat(&mut self) -> Result<crate::node::NodeStat, TreeSnapshotError> {
        let b: [u8; STAT_BYTES] = self.array()?;
        let long = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i * 8..i * 8 + 8]);
            i64::from_be_bytes(a)
        };
        let int = |i: usize| {
            let mut a = [0u8; 4];
            a.copy_from_slice(&b[48 + i * 4..52 + i * 4]);
            i32::from_be_bytes(a)
        };
        Ok(crate::node::NodeStat {
            czxid: Zxid::from_wire(long(0)),
            mzxid: Zxid::from_wire(long(1)),
            ctime: long(2),
            mtime: long(3),
            pzxid: Zxid::from_wire(long(4)),
            ephemeral_owner: long(5),
            version: int(0),
            cversion: int(1),
            aversion: int(2),
        })
    }
}

/// Six i64 and three i32 Stat fields.
const STAT_BYTES: usize = 6 * 8 + 3 * 4;

fn put_stat(buf: &mut Vec<u8>, s: &crate::node::NodeStat) {
    for v in [
        s.czxid.to_wire(),
        s.mzxid.to_wire(),
        s.ctime,
        s.mtime,
        s.pzxid.to_wire(),
        s.ephemeral_owner,
    ] {
        buf.extend_from_slice(&v.to_be_bytes());
    }
    for v in [s.version, s.cversion, s.aversion] {
        buf.extend_from_slice(&v.to_be_bytes());
    }
}
