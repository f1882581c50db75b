//! Damaged input: an error, never a panic. Version 2 streams built record by record check
//! each rule of the reader.

use crate::Zxid;
use proptest::prelude::*;

use super::*;
use crate::node::NodeStat;
use crate::snapshot::{
    put_acl_list, put_bytes, write::Batch, TAG_ACL, TAG_EDGE, TAG_END, TAG_NODES,
};
use crate::TreeSnapshotError;

/// A version 2 stream made by hand.
#[derive(Default)]
struct Stream {
    body: Vec<u8>,
    counts: [u64; 3],
}

impl Stream {
    fn acl(mut self, slot: u32) -> Self {
        self.body.push(TAG_ACL);
        self.body.extend_from_slice(&slot.to_be_bytes());
        put_acl_list(&mut self.body, &corral_acl::open_acl_unsafe());
        self.counts[0] += 1;
        self
    }

    fn node(mut self, id: u32, acl: u32) -> Self {
        let data = bytes::Bytes::from_static(b"d");
        let mut batch = Batch::default();
        let stat = NodeStat::created(Zxid(1), 1, 0);
        batch.add(&mut self.body, id, acl, &stat, Some(&data[..]));
        batch.close(&mut self.body);
        self.counts[1] += 1;
        self
    }

    fn edge(mut self, parent: u32, child: u32, name: &str) -> Self {
        self.body.push(TAG_EDGE);
        self.body.extend_from_slice(&parent.to_be_bytes());
        self.body.extend_from_slice(&child.to_be_bytes());
        put_bytes(&mut self.body, name.as_bytes());
        self.counts[2] += 1;
        self
    }

    /// Header, records, an end record with the right counts.
    fn bytes(&self) -> Vec<u8> {
        self.bytes_counting(self.counts)
    }

    fn bytes_counting(&self, counts: [u64; 3]) -> Vec<u8> {
        let mut out = b"CRTR\x02".to_vec();
        out.extend_from_slice(&9i64.to_be_bytes());
        out.extend_from_slice(&counts[1].to_be_bytes());
        out.extend_from_slice(&self.body);
        out.push(TAG_END);
        counts
            .iter()
            .for_each(|c| out.extend_from_slice(&c.to_be_bytes()));
        out
    }

    fn read(&self) -> Result<DataTree, TreeSnapshotError> {
        DataTree::read_snapshot(&mut &self.bytes()[..], config())
    }
}

/// A root with children `a` (1) and `b` (2), `b` with the child `c` (3).
fn small() -> Stream {
    Stream::default()
        .acl(1)
        .node(0, 1)
        .node(1, 1)
        .node(2, 1)
        .node(3, 1)
        .edge(0, 1, "a")
        .edge(0, 2, "b")
        .edge(2, 3, "c")
}

fn refused(s: &Stream, why: &str) {
    refused_bytes(&s.bytes(), why);
}

#[test]
fn a_stream_by_hand_loads() {
    let t = small().read().unwrap();
    assert_eq!(
        all_paths(&t),
        [
            "/",
            "/a",
            "/b",
            "/b/c",
            "/zookeeper",
            "/zookeeper/config",
            "/zookeeper/quota"
        ]
    );
    assert_eq!(t.last_zxid(), Zxid(9));
    assert_eq!(t.get_data("/b/c").unwrap().0.as_deref(), Some(&b"d"[..]));
    // Records in any order, ids as sparse as they come (the sorted id map).
    let sparse = Stream::default()
        .edge(4_000_000_000, 7, "x")
        .node(7, 1)
        .edge(0, 4_000_000_000, "b")
        .node(4_000_000_000, 1)
        .node(0, 1)
        .acl(1);
    let t = sparse.read().unwrap();
    assert_eq!(t.get_children("/b").unwrap().0, vec!["x".to_string()]);
}

#[test]
fn each_rule_of_the_reader_is_checked() {
    refused(&small().node(4, 1).edge(0, 4, "a"), "duplicate child");
    refused(&small().node(2, 1), "node 2 written twice");
    refused(&small().acl(1), "ACL slot 1 written twice");
    refused(&small().edge(1, 3, "d"), "node 3 has two parents");
    refused(&small().edge(1, 0, "r"), "node 0 has two parents");
    refused(&small().edge(1, 9, "d"), "no such node");
    refused(&small().edge(9, 3, "d"), "no such node");
    refused(&small().edge(1, 3, "").edge(1, 2, "x/y"), "bad node name");
    // 4 and 5 point at each other and hang off nothing.
    refused(
        &small()
            .node(4, 1)
            .node(5, 1)
            .edge(4, 5, "x")
            .edge(5, 4, "y"),
        "2 of 6 nodes not reachable",
    );
    refused(&small().node(4, 1), "1 of 5 nodes not reachable");
    refused(&Stream::default().acl(1).node(1, 1), "no root");
    refused(
        &small().node(4, 2).edge(3, 4, "e"),
        "ACL slot 2 not defined",
    );
    let s = small();
    let mut wrong = s.counts;
    wrong[2] += 1;
    refused_bytes(&s.bytes_counting(wrong), "the end says");
    let mut bad = s.bytes();
    bad.insert(HEADER, 7);
    refused_bytes(&bad, "unknown record tag 7");
}

#[test]
fn huge_lengths_allocate_nothing() {
    // Lengths and counts far beyond the input, with little or nothing behind them.
    let mut s = small().bytes();
    s.truncate(s.len() - 25);
    let with = |tail: &[&[u8]]| {
        let mut b = s.clone();
        tail.iter().for_each(|t| b.extend_from_slice(t));
        b
    };
    let truncated = |b: Vec<u8>| {
        let r = DataTree::read_snapshot(&mut &b[..], config());
        assert!(
            matches!(r, Err(TreeSnapshotError::Truncated { .. })),
            "{r:?}"
        );
    };
    let nodes = [TAG_NODES];
    truncated(with(&[&nodes, &u64::MAX.to_be_bytes()]));
    let body = [0u8; 64];
    let one_body = 64u64.to_be_bytes();
    truncated(with(&[&nodes, &one_body, &body, &u32::MAX.to_be_bytes()]));
    let index = [&7u32.to_be_bytes()[..], &i32::MAX.to_be_bytes()].concat();
    let bad = with(&[&nodes, &one_body, &body, &1u32.to_be_bytes(), &index]);
    refused_bytes(&bad, "their index adds up");
    truncated(with(&[&[TAG_ACL], &[0, 0, 0, 5, 0x7f, 0xff, 0xff, 0xff]]));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The reader does not depend on the order of the records (the incremental writer's
    /// hooks put them anywhere).
    #[test]
    fn records_in_any_order_load_the_same(
        ops in prop::collection::vec(op(), 1..50),
        seed in any::<u64>(),
    ) {
        let mut h = Harness::with_config(config());
        play(&mut h, &ops);
        let bytes = snapshot(&h.tree);
        let mut parts = split(&bytes);
        // A Fisher-Yates shuffle from a small LCG, reproducible from the seed.
        let mut x = seed | 1;
        for i in (1..parts.records.len()).rev() {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            parts.records.swap(i, (x >> 33) as usize % (i + 1));
        }
        let back = DataTree::read_snapshot(&mut &parts.join()[..], config()).unwrap();
        assert_same(&back, &round_trip(&h.tree));
    }
}

#[test]
fn repeated_names_are_refused() {
    for bad in renamed_siblings(snapshot) {
        refused_bytes(&bad, "duplicate child");
    }
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
    let out = snapshot(&h.tree);
    damage_everywhere(&out);
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
