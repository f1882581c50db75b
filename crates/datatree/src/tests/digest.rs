//! The tree digest (ZooKeeper's DigestCalculator version 2): kept incrementally, always equal
//! to a recompute from scratch, restored with a snapshot, recorded every 128th zxid.

use crate::Zxid;
use proptest::prelude::*;

use super::*;
use crate::digest::{ZxidDigest, DIGEST_LOG_INTERVAL, DIGEST_LOG_LIMIT};
use crate::{SnapshotProgress, TxnResult};
use corral_jute::codes::CreateMode;

/// The digest kept incrementally is the digest computed from scratch.
fn assert_exact(h: &Harness, what: &str) {
    assert_eq!(h.tree.digest(), h.tree.recompute_digest(), "after {what}");
}

fn extended() -> Harness {
    Harness::with_config(DataTreeConfig {
        extended_types_enabled: true,
        ..DataTreeConfig::default()
    })
}

fn close_session(h: &mut Harness) -> Applied {
    let txn = prep_close_session(h);
    let applied = h.tree.apply(&txn);
    h.pending.applied(txn.zxid);
    applied
}

/// The closeSession txn of the harness's session, with the next zxid (not applied).
fn prep_close_session(h: &mut Harness) -> Txn {
    let (zxid, body) = h.prep_close();
    h.txn(zxid, body)
}

#[test]
fn a_fresh_tree_counts_the_root_and_zookeeper_only() {
    // zlib.crc32(b"" + bytes(60)) + zlib.crc32(b"/zookeeper" + bytes(60)): the root and
    // /zookeeper have empty data and all-zero Stats; /zookeeper/quota and /zookeeper/config
    // are under /zookeeper/ and count 0.
    let tree = DataTree::new();
    assert_eq!(tree.digest(), 68_323_592 + 1_303_661_912);
    assert_eq!(tree.recompute_digest(), tree.digest());
    assert!(tree.digest_log().is_empty());
}

#[test]
fn zookeepers_own_digests_of_a_timeless_history() {
    // Apache ZooKeeper 3.8.0's `hash` after a fresh server saw setACL on "/" three times
    // (0x80: 2337538853) and five times (0x100: 2621053343), the other txns being sessions
    // and failed writes (interop/test_digest.py, phase 1).
    let mut h = Harness::new();
    for (times, zookeeper) in [(3, 2_337_538_853_i64), (2, 2_621_053_343)] {
        for _ in 0..times {
            h.write(&set_acl("/", open(), -1)).unwrap();
        }
        assert_eq!(h.tree.digest(), zookeeper);
    }
}

#[test]
fn every_kind_of_change_keeps_the_digest_exact() {
    let mut h = extended();
    let mut last = h.tree.digest();
    let mut step = |h: &mut Harness, what: &str, changes: bool| {
        assert_exact(h, what);
        assert_eq!(
            h.tree.digest() != last,
            changes,
            "{what} changes the digest"
        );
        last = h.tree.digest();
    };
    h.create("/app", "hello");
    step(&mut h, "create", true);
    h.create("/app/child", "");
    step(&mut h, "create under a parent with data", true);
    h.write(&create("/app/eph", "e", CreateMode::Ephemeral.code()))
        .unwrap();
    step(&mut h, "ephemeral", true);
    h.write(&create(
        "/app/seq-",
        "",
        CreateMode::PersistentSequential.code(),
    ))
    .unwrap();
    step(&mut h, "sequential", true);
    h.write(&create_op(
        OpCode::CreateContainer,
        "/box",
        "",
        CreateMode::Container.code(),
        None,
    ))
    .unwrap();
    step(&mut h, "container", true);
    h.write(&create_op(
        OpCode::CreateTtl,
        "/ttl",
        "t",
        CreateMode::PersistentWithTtl.code(),
        Some(5_000),
    ))
    .unwrap();
    step(&mut h, "TTL node", true);
    h.write(&set("/app", "bigger data", 0)).unwrap();
    step(&mut h, "setData", true);
    h.write(&set("/", "root data", -1)).unwrap();
    step(&mut h, "setData on the root", true);
    h.write(&set_acl("/ttl", corral_acl::read_acl_unsafe(), 0))
        .unwrap();
    step(&mut h, "setACL", true);
    h.write(&delete("/app/child", -1)).unwrap();
    step(&mut h, "delete", true);
    assert_eq!(h.write(&delete("/nope", -1)).err(), Some(ErrorCode::NoNode));
    step(&mut h, "a failed delete", false);
    assert_eq!(
        h.write(&create("/app", "", 0)).err(),
        Some(ErrorCode::NodeExists)
    );
    step(&mut h, "a failed create", false);
    let failed = Request::Multi(vec![create("/m", "", 0), delete("/nope", -1)]);
    h.write(&failed).unwrap();
    step(&mut h, "a failed multi", false);
    let ok = Request::Multi(vec![
        create("/m", "", 0),
        create("/m/a", "x", 0),
        set("/m", "y", 0),
        delete("/m/a", 0),
    ]);
    h.write(&ok).unwrap();
    step(&mut h, "a multi", true);
    let res = close_session(&mut h);
    assert_eq!(res.result, TxnResult::Session);
    step(&mut h, "closeSession deleting an ephemeral", true);
    assert!(h.tree.stat("/app/eph").is_none());
    // Quota nodes live under /zookeeper/: setting a quota leaves the digest alone, and the
    // stats a create under the quota'd path rewrites are outside it too.
    for p in ["/zookeeper/quota/m", "/zookeeper/quota/m/zookeeper_limits"] {
        h.write(&create(p, "count=5,bytes=-1", 0)).unwrap();
    }
    h.write(&create(
        "/zookeeper/quota/m/zookeeper_stats",
        "count=0,bytes=0",
        0,
    ))
    .unwrap();
    step(&mut h, "setquota", false);
    h.create("/m/q", "abc");
    step(&mut h, "a create under a quota", true);
    assert_eq!(h.tree.quota_paths(), vec!["/m".to_string()]);
}

#[test]
fn the_acl_is_not_hashed_but_its_version_is() {
    let build = |acl: Vec<Acl>| {
        let mut h = Harness::new();
        h.create("/a", "x");
        let before = h.tree.digest();
        h.write(&set_acl("/a", acl, 0)).unwrap();
        assert_ne!(h.tree.digest(), before, "setACL moves aversion");
        h.tree.digest()
    };
    assert_eq!(
        build(corral_acl::read_acl_unsafe()),
        build(corral_acl::open_acl_unsafe())
    );
}

#[test]
fn the_stored_stat_is_hashed_not_the_one_clients_see() {
    // A container shows ephemeralOwner 0 and a client cversion counting deletes too; the
    // digest hashes the stored owner (the container marker) and the stored cversion.
    let mut a = Harness::new();
    a.write(&create_op(
        OpCode::CreateContainer,
        "/k",
        "",
        CreateMode::Container.code(),
        None,
    ))
    .unwrap();
    let mut b = Harness::new();
    b.create("/k", "");
    assert_eq!(a.stat("/k"), b.stat("/k"));
    assert_ne!(a.tree.digest(), b.tree.digest());
}

#[test]
fn a_snapshot_restores_the_digest() {
    let mut h = extended();
    h.create("/a", "one");
    h.create("/a/b", "two");
    h.write(&create("/e", "", CreateMode::Ephemeral.code()))
        .unwrap();
    h.write(&set("/", "root", -1)).unwrap();
    h.write(&set_acl("/a/b", corral_acl::read_acl_unsafe(), -1))
        .unwrap();
    let mut bytes = Vec::new();
    h.tree.write_snapshot(&mut bytes).unwrap();
    let loaded = DataTree::read_snapshot(&mut &bytes[..], h.tree.config()).unwrap();
    assert_eq!(loaded.digest(), h.tree.digest());
    assert_eq!(loaded.recompute_digest(), loaded.digest());
}

#[test]
fn an_incremental_snapshot_restores_the_digest_at_its_start() {
    let mut h = Harness::new();
    for i in 0..20 {
        h.create(&format!("/n{i}"), "data");
    }
    let at_begin = h.tree.digest();
    h.tree.begin_snapshot().unwrap();
    let mut bytes = Vec::new();
    let mut i = 0;
    while h.tree.snapshot_step(3, &mut bytes).unwrap() == SnapshotProgress::More {
        // Changes between the steps: the file still holds the tree at its start.
        if i < 10 {
            h.write(&set(&format!("/n{i}"), "changed", -1)).unwrap();
            h.write(&delete(&format!("/n{}", 19 - i), -1)).unwrap();
        }
        h.create(&format!("/new{i}"), "x");
        i += 1;
    }
    assert!(i > 0);
    assert_exact(&h, "changes during a snapshot");
    let loaded = DataTree::read_snapshot(&mut &bytes[..], h.tree.config()).unwrap();
    assert_eq!(loaded.digest(), at_begin);
    assert_eq!(loaded.recompute_digest(), at_begin);
}

#[test]
fn the_digest_is_recorded_after_every_128th_txn_whatever_it_is() {
    let mut h = Harness::new();
    let mut expected = Vec::new();
    while h.zxid < 3 * DIGEST_LOG_INTERVAL {
        // Creates, failures, multis and session txns each take one zxid.
        let next = h.zxid + 1;
        match next % 4 {
            0 => {
                h.create(&format!("/n{next}"), "x");
            }
            1 => {
                let _ = h.write(&delete("/missing", -1));
            }
            2 => {
                let multi = Request::Multi(vec![
                    create(&format!("/m{next}"), "", 0),
                    set(&format!("/m{next}"), "y", 0),
                ]);
                h.write(&multi).unwrap();
            }
            _ => {
                close_session(&mut h);
            }
        }
        assert_eq!(h.zxid, next);
        if next.is_multiple_of(DIGEST_LOG_INTERVAL) {
            expected.push(ZxidDigest {
                zxid: Zxid(next),
                digest: h.tree.digest(),
            });
        }
    }
    assert_eq!(expected.len(), 3);
    assert_eq!(h.tree.digest_log(), expected);
}

#[test]
fn the_digest_log_keeps_the_newest_1024() {
    let mut tree = DataTree::new();
    let n = (DIGEST_LOG_LIMIT as u64 + 3) * DIGEST_LOG_INTERVAL;
    for zxid in 1..=n {
        let txn = Txn {
            zxid: Zxid(zxid),
            time_ms: 0,
            session_id: 1,
            cxid: 0,
            body: TxnBody::Error(ErrorCode::NoNode),
        };
        tree.apply(&txn);
    }
    let log = tree.digest_log();
    assert_eq!(log.len(), DIGEST_LOG_LIMIT);
    assert_eq!(log[0].zxid, Zxid(4 * DIGEST_LOG_INTERVAL));
    assert_eq!(log[DIGEST_LOG_LIMIT - 1].zxid, Zxid(n));
}

/// A step of a random history.
#[derive(Debug, Clone)]
pub(super) enum Op {
    Create(String, i32),
    Delete(String),
    Set(String, Vec<u8>),
    SetAcl(String, bool),
    Multi(Vec<Op>),
    Close,
    Switch,
}

fn path() -> impl Strategy<Value = String> {
    let names = prop::sample::select(vec!["a", "b", "c"]);
    prop::collection::vec(names, 1..4).prop_map(|v| format!("/{}", v.join("/")))
}

fn single() -> impl Strategy<Value = Op> {
    let mode = prop::sample::select(vec![
        CreateMode::Persistent.code(),
        CreateMode::Ephemeral.code(),
        CreateMode::PersistentSequential.code(),
        CreateMode::Container.code(),
    ]);
    prop_oneof![
        4 => (path(), mode).prop_map(|(p, m)| Op::Create(p, m)),
        2 => path().prop_map(Op::Delete),
        3 => (path(), prop::collection::vec(any::<u8>(), 0..40)).prop_map(|(p, d)| Op::Set(p, d)),
        1 => (path(), any::<bool>()).prop_map(|(p, r)| Op::SetAcl(p, r)),
    ]
}

pub(super) fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => single(),
        2 => prop::collection::vec(single(), 1..4).prop_map(Op::Multi),
        1 => Just(Op::Close),
        1 => Just(Op::Switch),
    ]
}

fn request(op: &Op) -> Request {
    match op {
        Op::Create(p, mode) if *mode == CreateMode::Container.code() => {
            create_op(OpCode::CreateContainer, p, "c", *mode, None)
        }
        Op::Create(p, mode) => create(p, "data", *mode),
        Op::Delete(p) => delete(p, -1),
        Op::Set(p, d) => Request::SetData(SetDataRequest {
            path: p.clone(),
            data: Some(Bytes::copy_from_slice(d)),
            version: -1,
        }),
        Op::SetAcl(p, read) => set_acl(
            p,
            if *read {
                corral_acl::read_acl_unsafe()
            } else {
                open()
            },
            -1,
        ),
        Op::Multi(ops) => Request::Multi(ops.iter().map(request).collect()),
        Op::Close | Op::Switch => Request::Multi(Vec::new()),
    }
}

/// The txn the harness's server makes of `op` with the next zxid (prepped, not applied), or
/// `None` for a switch of session.
pub(super) fn next_txn(h: &mut Harness, op: &Op) -> Option<Txn> {
    match op {
        Op::Close => Some(prep_close_session(h)),
        Op::Switch => {
            h.session = if h.session == 0x100 { 0x200 } else { 0x100 };
            None
        }
        op => {
            let (zxid, body) = h.prep(&request(op));
            Some(h.txn(zxid, body.unwrap_or_else(TxnBody::Error)))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any history of creates (every mode), deletes, setData, setACL, multis and closed
    /// sessions, failures included: the digest is always the recomputed one, and a snapshot
    /// gives it back.
    #[test]
    fn random_histories_keep_the_digest_exact(ops in prop::collection::vec(op(), 1..60)) {
        let mut h = Harness::new();
        for op in &ops {
            if let Some(txn) = next_txn(&mut h, op) {
                h.tree.apply(&txn);
                h.pending.applied(txn.zxid);
            }
            prop_assert_eq!(h.tree.digest(), h.tree.recompute_digest(), "after {:?}", op);
        }
        let mut bytes = Vec::new();
        h.tree.write_snapshot(&mut bytes).unwrap();
        let loaded = DataTree::read_snapshot(&mut &bytes[..], h.tree.config()).unwrap();
        prop_assert_eq!(loaded.digest(), h.tree.digest());
    }
}
