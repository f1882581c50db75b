//! Writing version 2: the cursor over the slab that both the incremental snapshot and the
//! one-shot [`DataTree::write_snapshot`] run, and the hooks that keep an incremental snapshot
//! consistent while the tree changes (see the module docs for the argument).

use crate::Zxid;
use std::fmt;
use std::io::{self, Write};

use super::{
    put_acl_list, put_bytes, put_data_len, put_stat, SnapshotProgress, TreeSnapshotError, TAG_ACL,
    TAG_EDGE, TAG_END, TAG_NODES, TREE_SNAPSHOT_MAGIC, TREE_SNAPSHOT_VERSION,
};

use crate::node::{AclTable, Name, Node, NodeId, NodeStat};
use crate::DataTree;

/// The tree's field holding the snapshot in progress, if any. A clone of the tree has none.
#[derive(Default)]
pub(crate) struct SnapshotSlot(Option<Box<Incremental>>);

impl Clone for SnapshotSlot {
    fn clone(&self) -> Self {
        SnapshotSlot(None)
    }
}

impl fmt::Debug for SnapshotSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("no snapshot in progress"),
            Some(s) => write!(
                f,
                "snapshot in progress (slot {} of {})",
                s.cursor, s.start_len
            ),
        }
    }
}

/// Proof that hook B ran for a child about to be unlinked: `Children::remove` takes one, and
/// only [`SnapshotSlot::before_unlink`] makes them.
pub(crate) struct Unlinked(());

impl Unlinked {
    /// For the children map's own tests.
    #[cfg(test)]
    pub(crate) fn for_test() -> Unlinked {
        Unlinked(())
    }
}

impl SnapshotSlot {
    /// Hook A: node `id` is about to change or go. If a snapshot in progress still has to
    /// write it, it writes it now, as it still is.
    #[inline]
    pub(crate) fn before_change(&mut self, id: NodeId, nodes: &[Option<Node>], acls: &AclTable) {
        if let Some(s) = self.0.as_deref_mut() {
            s.before_change(id, nodes, acls);
        }
    }

    /// Hook B: `child`, the child `name` of `parent`, is about to be unlinked. If a snapshot
    /// in progress still has to write that link, it writes it now.
    #[inline]
    pub(crate) fn before_unlink(
        &mut self,
        parent: NodeId,
        name: &str,
        child: NodeId,
        nodes: &[Option<Node>],
    ) -> Unlinked {
        if let Some(s) = self.0.as_deref_mut() {
            s.before_unlink(parent, name, child, nodes);
        }
        Unlinked(())
    }

    /// A node with `czxid` was put in the slab.
    #[inline]
    pub(crate) fn on_insert(&mut self, czxid: Zxid) {
        if let Some(s) = self.0.as_deref_mut() {
            if czxid <= s.line && s.interrupted.is_none() {
                s.interrupted = Some(czxid);
            }
        }
    }
}

/// A snapshot in progress.
struct Incremental {
    /// Every node in the tree at the start has a czxid up to this, every later one above it.
    line: Zxid,
    /// The slab's length at the start: no slot at or above it held a node then.
    start_len: usize,
    /// The slot being written; the ones below are done.
    cursor: usize,
    /// The last child name visited under the node at the cursor (`None`: none yet).
    sub: Option<Name>,
    /// Per slot below `start_len`: its NODE record is written.
    written: Vec<u64>,
    records: Records,
    /// What the hooks wrote since the last step (the header first).
    pending: Vec<u8>,
    /// The czxid of a node created at or below the line while running.
    interrupted: Option<Zxid>,
}

/// Encodes the records and counts them.
struct Records {
    /// Per ACL id: its list is written.
    acl_written: Vec<u64>,
    /// The NODEs record being written.
    batch: Batch,
    /// ACL and EDGE records held back while a NODEs record is open.
    side: Vec<u8>,
    acls: u64,
    nodes: u64,
    edges: u64,
}

/// A NODEs record being written: the bodies go straight to the output, behind a length
/// filled in at the end, and the index (ids, data lengths) follows them.
#[derive(Default)]
pub(super) struct Batch {
    /// Where the body length goes in the output, once the record is open.
    start: Option<usize>,
    count: u32,
    index: Vec<u8>,
}

impl Batch {
    /// Appends a NODE to `out`, opening the record there if it is not open yet (nothing else
    /// may be written to `out` until [`Batch::close`]).
    pub(super) fn add(
        &mut self,
        out: &mut Vec<u8>,
        id: u32,
        acl: u32,
        stat: &NodeStat,
        data: Option<&[u8]>,
    ) {
        if self.start.is_none() {
            out.push(TAG_NODES);
            self.start = Some(out.len());
            out.extend_from_slice(&0u64.to_be_bytes());
        }
        self.count += 1;
        put_u32(&mut self.index, id);
        put_data_len(&mut self.index, data);
        put_u32(out, acl);
        put_stat(out, stat);
        if let Some(d) = data {
            out.extend_from_slice(d);
        }
    }

    /// Ends the open record, if any: its body length, then its index.
    pub(super) fn close(&mut self, out: &mut Vec<u8>) {
        let Some(start) = self.start.take() else {
            return;
        };
        let len = (out.len() - start - 8) as u64;
        if let Some(field) = out.get_mut(start..start + 8) {
            field.copy_from_slice(&len.to_be_bytes());
        }
        put_u32(out, self.count);
        out.extend_from_slice(&self.index);
        self.count = 0;
        self.index.clear();
    }
}

fn bit(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
}

fn set_bit(bits: &mut Vec<u64>, i: usize) {
    if bits.len() <= i / 64 {
        bits.resize(i / 64 + 1, 0);
    }
    bits[i / 64] |= 1 << (i % 64);
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

impl Records {
    /// NODE `id`, into the open NODEs record in `out`; the ACL record of its list, the first
    /// time that is used, aside.
    fn node(&mut self, id: usize, node: &Node, acls: &AclTable, out: &mut Vec<u8>) {
        let acl = node.acl.get() as usize;
        if !bit(&self.acl_written, acl) {
            set_bit(&mut self.acl_written, acl);
            self.side.push(TAG_ACL);
            put_u32(&mut self.side, node.acl.get());
            put_acl_list(&mut self.side, acls.get(node.acl));
            self.acls += 1;
        }
        let (acl, data) = (node.acl.get(), node.data.as_deref());
        self.batch.add(out, id_u32(id), acl, &node.stat, data);
        self.nodes += 1;
    }

    /// An EDGE, aside.
    fn edge(&mut self, parent: usize, name: &[u8], child: NodeId) {
        self.side.push(TAG_EDGE);
        put_u32(&mut self.side, id_u32(parent));
        put_u32(&mut self.side, child);
        put_bytes(&mut self.side, name);
        self.edges += 1;
    }

    /// Closes the NODEs record and appends what was set aside: `out` is whole records.
    fn flush(&mut self, out: &mut Vec<u8>) {
        self.batch.close(out);
        out.append(&mut self.side);
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        self.flush(out);
        out.push(TAG_END);
        for n in [self.acls, self.nodes, self.edges] {
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

/// Slab indexes are `NodeId`s.
fn id_u32(id: usize) -> u32 {
    u32::try_from(id).unwrap_or(u32::MAX)
}

impl Incremental {
    /// The state at the start, the header pending.
    fn new(tree: &DataTree, line: Zxid) -> Incremental {
        let start_len = tree.slab().len();
        let mut pending = Vec::with_capacity(64);
        pending.extend_from_slice(&TREE_SNAPSHOT_MAGIC);
        pending.push(TREE_SNAPSHOT_VERSION);
        pending.extend_from_slice(&tree.last_zxid.0.to_be_bytes());
        pending.extend_from_slice(&(tree.live_nodes() as u64).to_be_bytes());
        Incremental {
            line,
            start_len,
            cursor: 0,
            sub: None,
            written: vec![0; start_len.div_ceil(64)],
            records: Records {
                acl_written: vec![0; (tree.acls.slot_count() + 1).div_ceil(64)],
                batch: Batch::default(),
                side: Vec::new(),
                acls: 0,
                nodes: 0,
                edges: 0,
            },
            pending,
            interrupted: None,
        }
    }

    /// The node in slot `id` if the tree had it at the start (one created since has a czxid
    /// above the line, also in a slot freed and reused).
    fn old_node<'n>(&self, nodes: &'n [Option<Node>], id: usize) -> Option<&'n Node> {
        match nodes.get(id) {
            Some(Some(n)) if id < self.start_len && n.stat.czxid <= self.line => Some(n),
            _ => None,
        }
    }

    fn before_change(&mut self, id: NodeId, nodes: &[Option<Node>], acls: &AclTable) {
        let id = id as usize;
        if self.interrupted.is_some() || bit(&self.written, id) {
            return;
        }
        if let Some(node) = self.old_node(nodes, id) {
            set_bit(&mut self.written, id);
            self.records.node(id, node, acls, &mut self.pending);
            self.records.flush(&mut self.pending);
        }
    }

    fn before_unlink(&mut self, parent: NodeId, name: &str, child: NodeId, nodes: &[Option<Node>]) {
        let parent = parent as usize;
        let passed = parent < self.cursor
            || (parent == self.cursor
                && self
                    .sub
                    .as_ref()
                    .is_some_and(|s| name.as_bytes() <= s.as_bytes()));
        // A child that was in the tree at the start has a parent that was too.
        if self.interrupted.is_some() || passed || self.old_node(nodes, child as usize).is_none() {
            return;
        }
        self.records.edge(parent, name.as_bytes(), child);
        self.records.flush(&mut self.pending);
    }

    /// Appends what the hooks wrote, then goes on from the cursor for `budget` units (a
    /// record or a slot or child skipped is one unit, at least one per step). True when the
    /// end record is written.
    fn step(
        &mut self,
        nodes: &[Option<Node>],
        acls: &AclTable,
        budget: usize,
        out: &mut Vec<u8>,
    ) -> bool {
        out.append(&mut self.pending);
        let mut left = budget.max(1);
        while self.cursor < self.start_len {
            if left == 0 {
                self.records.flush(out);
                return false;
            }
            let id = self.cursor;
            let Some(node) = self.old_node(nodes, id) else {
                left -= 1;
                self.cursor += 1;
                continue;
            };
            if !bit(&self.written, id) {
                set_bit(&mut self.written, id);
                self.records.node(id, node, acls, out);
                left -= 1;
            }
            let after = self.sub.take();
            let mut kids = node.children.iter_after(after.as_ref());
            let mut last: Option<&Name> = None;
            loop {
                if left == 0 {
                    self.sub = last.cloned().or(after);
                    self.records.flush(out);
                    return false;
                }
                let Some((name, child)) = kids.next() else {
                    break;
                };
                if self.old_node(nodes, child as usize).is_some() {
                    self.records.edge(id, name.as_bytes(), child);
                }
                left -= 1;
                last = Some(name);
            }
            self.cursor += 1;
        }
        self.records.end(out);
        true
    }
}

/// Flush the one-shot writer's buffer past this size.
const CHUNK: usize = 64 << 10;

impl DataTree {
    /// Starts an incremental snapshot of the tree as it is now; returns its last zxid (the
    /// snapshot's zxid). Then call [`DataTree::snapshot_step`] until it says
    /// [`SnapshotProgress::Done`], applying txns in between as usual: the bytes the steps give
    /// decode to exactly the tree as it is now. Costs O(1) plus a zeroed bit per slab slot.
    ///
    /// `AlreadyInProgress` if one is (see [`DataTree::abort_snapshot`]).
    pub fn begin_snapshot(&mut self) -> Result<Zxid, TreeSnapshotError> {
        if self.snapshot.0.is_some() {
            return Err(TreeSnapshotError::AlreadyInProgress);
        }
        let line = self.last_zxid.max(self.czxid_high);
        let start = Incremental::new(self, line);
        self.snapshot.0 = Some(Box::new(start));
        Ok(self.last_zxid)
    }

    /// Appends the next part of the snapshot in progress to `out`: what the changes since the
    /// last step had to write first, then about `budget` more records (a slot or child
    /// skipped counts as one too). On `Done` the end record was appended and the snapshot is
    /// over.
    ///
    /// `NotInProgress` without [`DataTree::begin_snapshot`]; `Interrupted` (the snapshot is
    /// dropped, its bytes are worthless) if a txn created a node with a zxid at or below the
    /// snapshot's since it began (only applying txns out of zxid order does that).
    pub fn snapshot_step(
        &mut self,
        budget: usize,
        out: &mut Vec<u8>,
    ) -> Result<SnapshotProgress, TreeSnapshotError> {
        let (slot, nodes, acls) = self.snapshot_parts();
        let Some(s) = slot.0.as_deref_mut() else {
            return Err(TreeSnapshotError::NotInProgress);
        };
        if let Some(czxid) = s.interrupted {
            let line = s.line;
            slot.0 = None;
            return Err(TreeSnapshotError::Interrupted { czxid, line });
        }
        if s.step(nodes, acls, budget, out) {
            slot.0 = None;
            return Ok(SnapshotProgress::Done);
        }
        Ok(SnapshotProgress::More)
    }

    /// Drops the snapshot in progress, if any (its bytes so far are worthless).
    pub fn abort_snapshot(&mut self) {
        self.snapshot.0 = None;
    }

    /// Whether a snapshot is in progress.
    pub fn snapshot_in_progress(&self) -> bool {
        self.snapshot.0.is_some()
    }

    /// Writes the whole tree and its last zxid to `out` at once, in the same format as the
    /// incremental steps (see the module docs). The tree cannot change meanwhile (`&self`).
    pub fn write_snapshot(&self, out: &mut impl Write) -> io::Result<()> {
        // Every live node is reachable from the root.
        debug_assert_eq!(
            self.live_nodes() as u64,
            self.count_reachable(crate::tree::ROOT)
        );
        // Every node is in it, whatever its czxid.
        let mut all = Incremental::new(self, Zxid(u64::MAX));
        let mut buf = Vec::with_capacity(2 * CHUNK);
        loop {
            let done = all.step(self.slab(), &self.acls, 512, &mut buf);
            if done || buf.len() >= CHUNK {
                out.write_all(&buf)?;
                buf.clear();
            }
            if done {
                return Ok(());
            }
        }
    }
}
