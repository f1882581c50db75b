//! Version 1 files still load. `testdata/v1_varied.crtr` was written by the version 1 writer
//! (before version 2 existed) from the tree [`varied`] builds; [`write_v1`] is that writer,
//! kept here to make more version 1 input, and proven the same by the fixture.

use proptest::prelude::*;

use super::*;
use crate::node::{AclId, NodeId};
use crate::snapshot::{put_acl_list, put_bytes, put_data_len, put_len, put_stat};

const GOLDEN: &[u8] = include_bytes!("../testdata/v1_varied.crtr");

/// The version 1 writer: depth first, children in name order, each ACL list where first used.
pub(super) fn write_v1(tree: &DataTree) -> Vec<u8> {
    let mut buf = Vec::new();
    buf.extend_from_slice(b"CRTR");
    buf.push(1);
    buf.extend_from_slice(&tree.last_zxid.0.to_be_bytes());
    buf.extend_from_slice(&(tree.live_nodes() as u64).to_be_bytes());
    // By ACL id: the file's reference, numbered from 0 in order of first use.
    let mut refs: Vec<Option<u32>> = vec![None; tree.acls.slot_count() + 1];
    let mut next_ref = 0;
    let mut node = |buf: &mut Vec<u8>, name: &[u8], id: NodeId| {
        let n = tree.node(id);
        put_bytes(buf, name);
        put_len(buf, n.children.len());
        put_data_len(buf, n.data.as_deref());
        buf.extend_from_slice(n.data.as_deref().unwrap_or_default());
        let slot = &mut refs[AclId::get(n.acl) as usize];
        match *slot {
            Some(r) => buf.extend_from_slice(&r.to_be_bytes()),
            None => {
                *slot = Some(next_ref);
                buf.extend_from_slice(&next_ref.to_be_bytes());
                next_ref += 1;
                put_acl_list(buf, tree.acls.get(n.acl));
            }
        }
        put_stat(buf, &n.stat);
    };
    node(&mut buf, b"", 0);
    let mut iters = vec![tree.node(0).children.iter()];
    while let Some(it) = iters.last_mut() {
        match it.next() {
            Some((name, id)) => {
                node(&mut buf, name.as_bytes(), id);
                let n = tree.node(id);
                if !n.children.is_empty() {
                    iters.push(n.children.iter());
                }
            }
            None => {
                iters.pop();
            }
        }
    }
    buf
}

#[test]
fn the_golden_file_loads_as_the_tree_it_was_written_from() {
    let h = varied();
    assert_eq!(
        write_v1(&h.tree),
        GOLDEN,
        "the kept writer is the version 1 writer"
    );
    let mut input = GOLDEN;
    let back = DataTree::read_snapshot(&mut input, config()).unwrap();
    assert!(input.is_empty());
    assert_same_but_size(&h.tree, &back);
    // Written again (version 2) and read back, it is the same tree.
    let again = round_trip(&back);
    assert_same(&back, &again);
    let mut out = Vec::new();
    back.write_snapshot(&mut out).unwrap();
    assert_eq!(out[4], 2, "written as version 2");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Version 1 and version 2 of the same tree load as the same tree.
    #[test]
    fn version_1_and_2_load_the_same(ops in prop::collection::vec(op(), 1..60)) {
        let mut h = Harness::with_config(config());
        play(&mut h, &ops);
        let mut v1 = write_v1(&h.tree);
        v1.extend_from_slice(b"sessions");
        let mut input = &v1[..];
        let from_v1 = DataTree::read_snapshot(&mut input, config()).unwrap();
        prop_assert_eq!(input, b"sessions");
        let from_v2 = round_trip(&h.tree);
        assert_same(&from_v1, &from_v2);
        // The same slab: every node at the same id.
        for p in all_paths(&from_v1) {
            prop_assert_eq!(from_v1.lookup(&p), from_v2.lookup(&p));
        }
        prop_assert_eq!(from_v1.slab().len(), from_v2.slab().len());
    }
}

#[test]
fn children_out_of_order_or_repeated_are_refused() {
    for bad in renamed_siblings(write_v1) {
        refused_bytes(&bad, "out of order");
    }
}

#[test]
fn damaged_version_1_is_an_error_not_a_panic() {
    damage_everywhere(GOLDEN);
}
