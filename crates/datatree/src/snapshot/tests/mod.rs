//! The snapshot tests: round trips, damaged input, version 1 files, incremental snapshots
//! under concurrent writes, and the speed probes.

mod damage;
mod incremental;
mod roundtrip;
mod speed;
mod v1;

use corral_jute::codes::{CreateMode, OpCode};
use corral_jute::records::Acl;
use corral_jute::request::Request;
use proptest::prelude::*;

use crate::tests::{acl_for, create, create_acl, create_op, delete, digest, set, set_acl, Harness};
use crate::{DataTree, DataTreeConfig};

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

/// A version 2 snapshot cut into its parts: the header, each record (tag included), the end
/// record.
pub(super) struct Split {
    pub header: Vec<u8>,
    pub records: Vec<Vec<u8>>,
    pub end: Vec<u8>,
}

/// Magic, version, last zxid, NODE count.
pub(super) const HEADER: usize = 4 + 1 + 8 + 8;

pub(super) fn split(bytes: &[u8]) -> Split {
    use super::{Reader, STAT_BYTES, TAG_ACL, TAG_EDGE, TAG_END, TAG_NODES};
    let mut r = Reader {
        buf: bytes,
        pos: HEADER,
    };
    let mut records = Vec::new();
    loop {
        let start = r.pos;
        let tag = r.u8().unwrap();
        match tag {
            TAG_ACL => {
                r.u32().unwrap();
                r.acl_list().unwrap();
            }
            TAG_NODES => {
                // One record per node (a batch of one), whatever the batches were.
                let len = r.u64().unwrap() as usize;
                let mut bodies = Reader {
                    buf: r.take(len).unwrap(),
                    pos: 0,
                };
                let n = r.u32().unwrap() as usize;
                for entry in r.take(8 * n).unwrap().chunks_exact(8) {
                    let data = i32::from_be_bytes([entry[4], entry[5], entry[6], entry[7]]);
                    let body = bodies.take(4 + STAT_BYTES + data.max(0) as usize).unwrap();
                    let mut rec = vec![TAG_NODES];
                    rec.extend_from_slice(&(body.len() as u64).to_be_bytes());
                    rec.extend_from_slice(body);
                    rec.extend_from_slice(&1u32.to_be_bytes());
                    rec.extend_from_slice(entry);
                    records.push(rec);
                }
                continue;
            }
            TAG_EDGE => {
                r.take(8).unwrap();
                r.str().unwrap();
            }
            TAG_END => {
                r.take(24).unwrap();
                return Split {
                    header: bytes[..HEADER].to_vec(),
                    records,
                    end: bytes[start..r.pos].to_vec(),
                };
            }
            _ => panic!("tag {tag} at {start}"),
        }
        records.push(bytes[start..r.pos].to_vec());
    }
}

impl Split {
    /// The records sorted (the order a snapshot gives them in is free).
    pub fn sorted(&self) -> Vec<Vec<u8>> {
        let mut r = self.records.clone();
        r.sort();
        r
    }

    pub fn join(&self) -> Vec<u8> {
        let mut out = self.header.clone();
        self.records.iter().for_each(|r| out.extend_from_slice(r));
        out.extend_from_slice(&self.end);
        out
    }
}

/// The one-shot snapshot of a tree.
pub(super) fn snapshot(tree: &DataTree) -> Vec<u8> {
    let mut out = Vec::new();
    tree.write_snapshot(&mut out).unwrap();
    out
}

/// Reading `bytes` fails as invalid, for a reason that says `why`.
pub(super) fn refused_bytes(bytes: &[u8], why: &str) {
    match DataTree::read_snapshot(&mut &bytes[..], config()) {
        Err(crate::TreeSnapshotError::Invalid { reason, .. }) => {
            assert!(reason.contains(why), "{reason:?}, expected {why:?}")
        }
        other => panic!("{other:?}, expected {why:?}"),
    }
}

/// A tree with the children `/a`, `/b`, `/c` under the root, written by `write`, and three
/// damaged copies: in each, one of the names (a one-byte string) renamed to another
/// (`b` to `a`, `a` to `c`, `c` to `b`).
pub(super) fn renamed_siblings(write: impl Fn(&DataTree) -> Vec<u8>) -> Vec<Vec<u8>> {
    let mut h = Harness::with_config(config());
    for p in ["/a", "/b", "/c"] {
        h.create(p, "");
    }
    let out = write(&h.tree);
    let at = |n: u8| {
        let pat = [0, 0, 0, 1, n];
        out.windows(5).position(|w| w == pat).unwrap() + 4
    };
    [(b'b', b'a'), (b'a', b'c'), (b'c', b'b')]
        .iter()
        .map(|&(from, to)| {
            let mut bad = out.clone();
            bad[at(from)] = to;
            bad
        })
        .collect()
}

/// Cut at every offset, `bytes` is an error; with any one byte changed, it is an error or a
/// tree that can be written and read back, never a panic.
pub(super) fn damage_everywhere(bytes: &[u8]) {
    for cut in 0..bytes.len() {
        let mut input = &bytes[..cut];
        assert!(
            DataTree::read_snapshot(&mut input, config()).is_err(),
            "cut {cut}"
        );
    }
    for i in 0..bytes.len() {
        let mut b = bytes.to_vec();
        b[i] ^= 0x5a;
        if let Ok(t) = DataTree::read_snapshot(&mut &b[..], config()) {
            round_trip(&t);
        }
    }
}
