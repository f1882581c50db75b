//! The version 1 reader: nodes depth first, each with its name and child count, children in
//! increasing name order. A single pass builds the tree in place.

use crate::Zxid;
use bytes::Bytes;

use super::{invalid, Placer, Reader, TreeSnapshotError, STAT_BYTES};
use crate::node::{AclId, AclTable, Children, Name, Node, NodeId};
use crate::tree::ROOT;
use crate::{DataTree, DataTreeConfig};

/// Reads the rest of a version 1 snapshot (after magic and version).
pub(super) fn read(
    r: &mut Reader<'_>,
    config: DataTreeConfig,
) -> Result<DataTree, TreeSnapshotError> {
    let last_zxid = Zxid::from_wire(r.i64()?);
    let count = r.u64()?;
    let mut tree = DataTree::with_config(config);
    // Room for the announced nodes, but no more than the input can hold.
    let fit = r.remaining() / MIN_NODE_BYTES;
    tree.reserve_nodes(usize::try_from(count).unwrap_or(usize::MAX).min(fit));
    // The snapshot's ACL references -> the tree's ACL ids.
    let mut acls: Vec<AclId> = Vec::new();
    let mut placer = Placer::default();
    let mut path = String::new();
    let mut read: u64 = 0;
    // The open levels, innermost last.
    let mut frames: Vec<Frame<'_>> = Vec::new();
    loop {
        let at = r.pos;
        let rec = node(r, &mut acls, &mut tree.acls)?;
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
            // Set for the whole tree once it is loaded.
            digest_prefix: 0,
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
                placer.place(&mut tree, frame.id, rec.name, &path, node, &mut frame.kids)
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
            Placer::close(&mut tree, top.id, kids, &path, r.pos)?;
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
    Ok(Placer::finish(tree, last_zxid))
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
    stat: crate::node::NodeStat,
}

/// The smallest node record: name and child count, data length, ACL reference, the Stat.
const MIN_NODE_BYTES: usize = 4 + 4 + 4 + 4 + STAT_BYTES;

/// Reads one node record. Its ACL is interned in `table` when the record defines it (`acls`
/// maps the snapshot's references to the ids), and a reference is taken for the node either
/// way.
fn node<'a>(
    r: &mut Reader<'a>,
    acls: &mut Vec<AclId>,
    table: &mut AclTable,
) -> Result<NodeRecord<'a>, TreeSnapshotError> {
    let name = r.str()?;
    let children = r.u32()?;
    let data = r.data()?.map(Bytes::copy_from_slice);
    let at = r.pos;
    let acl_ref = r.u32()? as usize;
    let acl = match acls.get(acl_ref) {
        Some(&id) => {
            table.retain(id);
            id
        }
        None if acl_ref == acls.len() => {
            let id = table.intern(&r.acl_list()?);
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
    let stat = r.stat()?;
    Ok(NodeRecord {
        name,
        children,
        data,
        acl,
        stat,
    })
}
