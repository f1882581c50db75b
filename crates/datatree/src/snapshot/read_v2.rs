//! The version 2 reader. A first pass reads the records: ACL lists are interned, a batch of
//! NODEs is stepped over after its index (ids, data lengths), EDGEs are kept. Then the links
//! are grouped by parent (a counting sort, unless they come grouped), every node but the root
//! must have exactly one parent, and a depth-first walk from the root builds the tree with
//! fresh dense ids, siblings in name order, decoding each node where it lies in the input.

use crate::Zxid;
use std::cmp::Ordering;

use bytes::Bytes;

use super::{
    invalid, Placer, Reader, TreeSnapshotError, STAT_BYTES, TAG_ACL, TAG_EDGE, TAG_END, TAG_NODES,
};
use crate::node::{AclId, Children, Name, Node, NodeId};
use crate::tree::ROOT;
use crate::{DataTree, DataTreeConfig};

/// A NODE body without its data: ACL slot, Stat.
const BODY_BYTES: usize = 4 + STAT_BYTES;
/// The least a NODE takes: body, id and data length.
const MIN_NODE_BYTES: usize = 8 + BODY_BYTES;
/// The smallest EDGE record: tag, ids, name length, a one-byte name.
const MIN_EDGE_BYTES: usize = 1 + 4 + 4 + 4 + 1;

/// Reads the rest of a version 2 snapshot (after magic and version).
pub(super) fn read(
    r: &mut Reader<'_>,
    config: DataTreeConfig,
) -> Result<DataTree, TreeSnapshotError> {
    let last_zxid = Zxid::from_wire(r.i64()?);
    let count = r.u64()?;
    let mut tree = DataTree::with_config(config);
    let mut rec = Records::read(r, count, &mut tree)?;
    let end = r.pos;
    let acls = IdMap::new(&rec.acl_slots, |&slot| slot, "ACL slot", end)?;
    let nodes = IdMap::new(&rec.nodes, |n| n.id, "node", end)?;
    let root = nodes
        .get(ROOT)
        .ok_or_else(|| invalid(end, "no root (node 0)"))?;
    let first = group(&mut rec.edges, &nodes, rec.nodes.len(), root, end)?;
    let build = Build {
        input: r.buf,
        nodes: &rec.nodes,
        acls: &acls,
        acl_ids: &rec.acl_ids,
        edges: &mut rec.edges,
        first: &first,
        end,
    };
    build.tree(&mut tree, root)?;
    // The references interning took; the nodes hold their own.
    for &id in &rec.acl_ids {
        tree.acls.release(id);
    }
    Ok(Placer::finish(tree, last_zxid))
}

/// A NODE as the first pass finds it.
#[derive(Clone, Copy)]
struct NodeAt {
    /// Where its body is.
    at: usize,
    /// Its file id.
    id: u32,
    /// Its data length (-1: null).
    len: i32,
}

/// What the first pass keeps of the records.
struct Records<'a> {
    /// ACL records: file slot, interned id.
    acl_slots: Vec<u32>,
    acl_ids: Vec<AclId>,
    nodes: Vec<NodeAt>,
    edges: Vec<Edge<'a>>,
}

impl<'a> Records<'a> {
    /// The first pass, to the end record (which must agree with what was read and with the
    /// header's `count` of NODEs). ACL lists are interned into `tree` as they come.
    fn read(
        r: &mut Reader<'a>,
        count: u64,
        tree: &mut DataTree,
    ) -> Result<Records<'a>, TreeSnapshotError> {
        // Room for the announced records, but no more than the input can hold.
        let fit = |min: usize| {
            usize::try_from(count)
                .unwrap_or(usize::MAX)
                .min(r.remaining() / min)
        };
        let mut rec = Records {
            acl_slots: Vec::new(),
            acl_ids: Vec::new(),
            nodes: Vec::with_capacity(fit(MIN_NODE_BYTES)),
            edges: Vec::with_capacity(fit(MIN_EDGE_BYTES)),
        };
        loop {
            let at = r.pos;
            match r.u8()? {
                TAG_ACL => {
                    rec.acl_slots.push(r.u32()?);
                    rec.acl_ids.push(tree.acls.intern(&r.acl_list()?));
                }
                TAG_NODES => rec.nodes(r, at)?,
                TAG_EDGE => {
                    let [parent, child, len] = words(r.take(12)?);
                    let name = r.take(len as usize)?;
                    if name.is_empty() || name.contains(&b'/') {
                        let name = String::from_utf8_lossy(name);
                        return Err(invalid(at, format!("bad node name {name:?}")));
                    }
                    let name = std::str::from_utf8(name)
                        .map_err(|_| invalid(at, "node name is not UTF-8"))?;
                    rec.edges.push(Edge {
                        name,
                        parent,
                        child,
                    });
                }
                TAG_END => {
                    let counts = [r.u64()?, r.u64()?, r.u64()?];
                    let read = [rec.acl_ids.len(), rec.nodes.len(), rec.edges.len()];
                    let read = read.map(|n| n as u64);
                    if counts != read || count != read[1] {
                        return Err(invalid(
                            at,
                            format!(
                                "records read (ACL, NODE, EDGE) {read:?}, the end says \
                                 {counts:?}, the header {count} NODE"
                            ),
                        ));
                    }
                    if read.iter().any(|&n| n >= u64::from(u32::MAX)) {
                        return Err(invalid(at, "too many records"));
                    }
                    return Ok(rec);
                }
                tag => return Err(invalid(at, format!("unknown record tag {tag}"))),
            }
        }
    }

    /// A NODEs record: the bodies are stepped over at once (they are read where the tree is
    /// built); the ids and data lengths behind them are kept with where each body is.
    fn nodes(&mut self, r: &mut Reader<'a>, at: usize) -> Result<(), TreeSnapshotError> {
        let len = usize::try_from(r.u64()?).unwrap_or(usize::MAX);
        let start = r.pos;
        r.take(len)?;
        let n = r.u32()? as usize;
        let index = r.take(n.saturating_mul(8))?;
        let mut body = start;
        for entry in index.chunks_exact(8) {
            let [id, len] = words(entry);
            let data = match len as i32 {
                -1 => 0,
                n if n < 0 => return Err(invalid(at, format!("data length {n}"))),
                n => n as usize,
            };
            self.nodes.push(NodeAt {
                at: body,
                id,
                len: len as i32,
            });
            body = body.saturating_add(BODY_BYTES + data);
        }
        if body != start + len {
            let reason = format!(
                "{len} bytes of NODE bodies, their index adds up to {}",
                body - start
            );
            return Err(invalid(at, reason));
        }
        Ok(())
    }
}

/// Turns the links' file ids into NODE indexes and groups them by parent: a counting sort,
/// unless they come grouped already (as a writer's cursor gives them). Returns where each
/// of the `n` NODEs' group starts (and, last, the end). Every node but the root must have
/// exactly one parent.
fn group(
    edges: &mut Vec<Edge<'_>>,
    nodes: &IdMap,
    n: usize,
    root: u32,
    end: usize,
) -> Result<Vec<u32>, TreeSnapshotError> {
    let mut first = vec![0u32; n + 1];
    let mut has_parent = vec![false; n];
    let mut grouped = true;
    let mut last_parent = 0;
    for e in edges.iter_mut() {
        let (Some(p), Some(c)) = (nodes.get(e.parent), nodes.get(e.child)) else {
            return Err(invalid(
                end,
                format!(
                    "link {:?} from node {} to node {}: no such node",
                    e.name, e.parent, e.child
                ),
            ));
        };
        let seen = &mut has_parent[c as usize];
        if *seen || c == root {
            return Err(invalid(end, format!("node {} has two parents", e.child)));
        }
        *seen = true;
        first[p as usize + 1] += 1;
        grouped &= p >= last_parent;
        last_parent = p;
        (e.parent, e.child) = (p, c);
    }
    for i in 0..n {
        first[i + 1] += first[i];
    }
    if !grouped {
        let mut next = first.clone();
        let mut placed = vec![Edge::default(); edges.len()];
        for e in edges.iter() {
            let slot = &mut next[e.parent as usize];
            placed[*slot as usize] = *e;
            *slot += 1;
        }
        *edges = placed;
    }
    Ok(first)
}

/// Big-endian u32s (the first `W` of `bytes`).
fn words<const W: usize>(bytes: &[u8]) -> [u32; W] {
    let mut out = [0; W];
    for (w, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *w = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    }
    out
}

/// A link as read: parent and child as file ids, then as NODE indexes.
#[derive(Clone, Copy, Default)]
struct Edge<'a> {
    name: &'a str,
    parent: u32,
    child: u32,
}

/// A node whose children are being placed.
struct Frame<'a> {
    /// Its next child and the end of its group in the links.
    next: u32,
    end: u32,
    /// The last child's name.
    prev: Option<&'a str>,
    /// Whether the rest of the group was sorted.
    sorted: bool,
    /// Its id in the new tree.
    id: NodeId,
    /// The path length to return to after it.
    path_len: usize,
    /// The children added so far (not counting the ones a fresh tree has).
    kids: Vec<(Name, NodeId)>,
}

impl Frame<'_> {
    /// NODE `i`, placed as `id`, its path `path_len` long.
    fn new(first: &[u32], i: u32, id: NodeId, path_len: usize) -> Self {
        let (next, end) = (first[i as usize], first[i as usize + 1]);
        Frame {
            next,
            end,
            prev: None,
            sorted: false,
            id,
            path_len,
            kids: Vec::with_capacity((end - next) as usize),
        }
    }
}

/// What the build needs: the input, where each NODE is, the ACL ids, the grouped links.
struct Build<'a, 'b> {
    input: &'a [u8],
    nodes: &'b [NodeAt],
    acls: &'b IdMap,
    acl_ids: &'b [AclId],
    edges: &'b mut [Edge<'a>],
    first: &'b [u32],
    /// Where the records end (for errors).
    end: usize,
}

impl Build<'_, '_> {
    /// Builds depth first: the root in place, then each child after its parent, siblings in
    /// name order. A writer's cursor gives them so; where the walk finds one out of order,
    /// the rest of its group is sorted first (a name twice is found here or by the children
    /// map). Every node must be reached.
    fn tree(self, tree: &mut DataTree, root: u32) -> Result<(), TreeSnapshotError> {
        let (first, end) = (self.first, self.end);
        let n = self.nodes.len();
        let root_node = self.node(tree, root)?;
        tree.reserve_nodes(n.saturating_sub(tree.live_nodes()));
        tree.restore_in_place(ROOT, root_node);
        let mut placer = Placer::default();
        let mut path = String::new();
        let mut placed = 1;
        let mut frames = vec![Frame::new(first, root, ROOT, 0)];
        while let Some(top) = frames.last_mut() {
            if top.next == top.end {
                path.truncate(top.path_len);
                let (id, added) = (top.id, std::mem::take(&mut top.kids));
                frames.pop();
                Placer::close(tree, id, added, &path, end)?;
                continue;
            }
            let i = top.next as usize;
            if let Some(prev) = top.prev {
                let mut order = self.edges[i].name.cmp(prev);
                if order == Ordering::Less && !top.sorted {
                    self.edges[i..top.end as usize].sort_by(|a, b| a.name.cmp(b.name));
                    top.sorted = true;
                    order = self.edges[i].name.cmp(prev);
                }
                if order == Ordering::Equal {
                    let reason = format!("duplicate child {prev:?} under {path:?}");
                    return Err(invalid(end, reason));
                }
            }
            let Edge { name, child, .. } = self.edges[i];
            top.prev = Some(name);
            top.next += 1;
            let before = path.len();
            path.push('/');
            path.push_str(name);
            let node = self.node(tree, child)?;
            let id = placer.place(tree, top.id, name, &path, node, &mut top.kids);
            placed += 1;
            let frame = Frame::new(first, child, id, before);
            if frame.next == frame.end {
                path.truncate(before);
            } else {
                frames.push(frame);
            }
        }
        if placed != n {
            let reason = format!("{} of {n} nodes not reachable from the root", n - placed);
            return Err(invalid(end, reason));
        }
        Ok(())
    }

    /// Decodes NODE `i` (its place checked by the first pass), taking a reference to its ACL.
    fn node(&self, tree: &mut DataTree, i: u32) -> Result<Node, TreeSnapshotError> {
        let NodeAt { at, len, .. } = self.nodes.get(i as usize).copied().unwrap_or(NodeAt {
            at: usize::MAX,
            id: 0,
            len: 0,
        });
        let mut r = Reader {
            buf: self.input,
            pos: at,
        };
        let slot = r.u32()?;
        let stat = r.stat()?;
        let data = r
            .data_bytes(usize::try_from(len).ok())?
            .map(Bytes::copy_from_slice);
        let acl = self
            .acls
            .get(slot)
            .and_then(|a| self.acl_ids.get(a as usize))
            .copied()
            .ok_or_else(|| invalid(at, format!("ACL slot {slot} not defined")))?;
        tree.acls.retain(acl);
        Ok(Node {
            data,
            stat,
            acl,
            children: Children::default(),
            // Set for the whole tree once it is loaded.
            digest_prefix: 0,
        })
    }
}

/// File ids (node ids or ACL slots) to record indexes: nothing to map when record `i` has id
/// `i` (a slab without holes), a table by id when the ids are dense enough (at most four slots
/// per record, or a few thousand), else a sorted list. Never bigger than the records read,
/// whatever the ids.
enum IdMap {
    /// Record `i` has id `i`, for `i` below this.
    Identity(u32),
    /// By id: the record index, or `u32::MAX`.
    Table(Vec<u32>),
    /// (id, record index), sorted by id.
    Sorted(Vec<(u32, u32)>),
}

impl IdMap {
    /// `id_of(records[i])` is the id of record `i`; an id given twice is an error.
    fn new<T>(
        records: &[T],
        id_of: impl Fn(&T) -> u32,
        what: &str,
        at: usize,
    ) -> Result<IdMap, TreeSnapshotError> {
        let repeated = |id: u32| invalid(at, format!("{what} {id} written twice"));
        let ids = || records.iter().map(&id_of);
        if ids().enumerate().all(|(i, id)| id as usize == i) {
            return Ok(IdMap::Identity(records.len() as u32));
        }
        let max = ids().max().map_or(0, |m| m as usize);
        if max < records.len().saturating_mul(4).saturating_add(4096) {
            let mut table = vec![u32::MAX; max + 1];
            for (i, id) in ids().enumerate() {
                let entry = &mut table[id as usize];
                if *entry != u32::MAX {
                    return Err(repeated(id));
                }
                *entry = i as u32;
            }
            return Ok(IdMap::Table(table));
        }
        let mut sorted: Vec<(u32, u32)> = ids().enumerate().map(|(i, id)| (id, i as u32)).collect();
        sorted.sort_unstable();
        if let Some(pair) = sorted.windows(2).find(|p| p[0].0 == p[1].0) {
            return Err(repeated(pair[0].0));
        }
        Ok(IdMap::Sorted(sorted))
    }

    fn get(&self, id: u32) -> Option<u32> {
        match self {
            IdMap::Identity(n) => (id < *n).then_some(id),
            IdMap::Table(t) => t.get(id as usize).copied().filter(|&i| i != u32::MAX),
            IdMap::Sorted(s) => s
                .binary_search_by_key(&id, |&(k, _)| k)
                .ok()
                .map(|at| s[at].1),
        }
    }
}
