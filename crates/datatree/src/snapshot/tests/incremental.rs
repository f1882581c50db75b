//! Incremental snapshots under concurrent writes: the bytes decode to exactly the tree as it
//! was at `begin_snapshot`, record for record, whatever the writes in between do.

use crate::Zxid;
use corral_jute::codes::ErrorCode;
use proptest::prelude::*;

use super::*;
use crate::{SnapshotProgress, TreeSnapshotError};

/// Something the server does while a snapshot runs.
#[derive(Debug, Clone)]
enum Act {
    /// A write on the small shared path set (creates of every kind, delete, setData, setACL).
    Write(Op),
    /// Create (or delete) child `c{n}` of the big directory `/f{d}`.
    Fan(u8, u8, bool),
    /// A quota change on `/a` or `/f0`: see [`quota_request`].
    Quota(u8, bool),
    /// A multi of a few writes.
    Multi(Vec<Op>),
    /// closeSession of session 0x100 + n (its ephemerals go).
    Close(u8),
    /// Delete a path, then create it again.
    Recreate(String),
    /// A snapshot step with this budget.
    Step(usize),
}

fn fan_path(d: u8, n: u8) -> String {
    format!("/f{d}/c{n:03}")
}

/// Quota nodes as zkCli's setquota / delquota make them, on `/a` (`f0` false) or `/f0`.
fn quota_request(kind: u8, f0: bool) -> Request {
    let q = if f0 {
        "/zookeeper/quota/f0"
    } else {
        "/zookeeper/quota/a"
    };
    match kind {
        0 => create(q, "", 0),
        1 => create(&format!("{q}/zookeeper_limits"), "count=50,bytes=-1", 0),
        2 => create(&format!("{q}/zookeeper_stats"), "count=0,bytes=0", 0),
        3 => set(&format!("{q}/zookeeper_limits"), "count=9,bytes=99", -1),
        4 => delete(&format!("{q}/zookeeper_stats"), -1),
        5 => delete(&format!("{q}/zookeeper_limits"), -1),
        _ => delete(q, -1),
    }
}

fn act() -> impl Strategy<Value = Act> {
    let fan = (0u8..2, 0u8..120, any::<bool>()).prop_map(|(d, n, c)| Act::Fan(d, n, c));
    prop_oneof![
        6 => op().prop_map(Act::Write),
        4 => fan,
        1 => (0u8..7, any::<bool>()).prop_map(|(k, f)| Act::Quota(k, f)),
        1 => prop::collection::vec(op(), 1..4).prop_map(Act::Multi),
        1 => (0u8..3).prop_map(Act::Close),
        1 => prop::sample::select(paths()).prop_map(Act::Recreate),
        8 => (1usize..=5).prop_map(Act::Step),
    ]
}

/// Does `a` (a step is skipped here: `run` takes those).
fn write(h: &mut Harness, a: &Act) {
    h.auth = vec![digest("u")];
    match a {
        Act::Write(op) => play(h, std::slice::from_ref(op)),
        Act::Fan(d, n, true) => {
            let _ = h.write(&create(&fan_path(*d, *n), "fan", 0));
        }
        Act::Fan(d, n, false) => {
            let _ = h.write(&delete(&fan_path(*d, *n), -1));
        }
        Act::Quota(k, f0) => {
            let _ = h.write(&quota_request(*k, *f0));
        }
        Act::Multi(ops) => {
            let _ = h.write(&Request::Multi(ops.iter().map(request).collect()));
        }
        Act::Close(s) => {
            h.session = 0x100 + i64::from(*s);
            let _ = h.write(&Request::CloseSession);
        }
        Act::Recreate(p) => {
            let _ = h.write(&delete(p, -1));
            let _ = h.write(&create(p, "again", 0));
        }
        Act::Step(_) => {}
    }
}

/// A tree: the shared ops, the big directories with `fan` children each, a quota on `/a`
/// and on `/f0` (`quota`), and more quota nodes (`more`).
fn build(ops: &[Op], fan: (u8, u8), quota: (bool, bool), more: &[(u8, bool)]) -> Harness {
    let mut h = Harness::with_config(config());
    play(&mut h, ops);
    for (d, size) in [(0, fan.0), (1, fan.1)] {
        h.create(&format!("/f{d}"), "");
        for n in 0..size {
            h.create(&fan_path(d, n), "fan");
        }
    }
    for (on, f0) in [(quota.0, false), (quota.1, true)] {
        for k in (0..3).filter(|_| on) {
            let _ = h.write(&quota_request(k, f0));
        }
    }
    for &(k, f0) in more {
        let _ = h.write(&quota_request(k, f0));
    }
    h
}

/// Begins a snapshot, does `acts` (steps included), then steps with `budgets` (cycled) to the
/// end. The snapshot's bytes and the tree as it was at the start.
fn run(h: &mut Harness, acts: &[Act], budgets: &[usize]) -> (Vec<u8>, DataTree) {
    let z0 = h.tree.begin_snapshot().unwrap();
    let expected = h.tree.clone();
    assert!(!expected.snapshot_in_progress(), "a clone has no snapshot");
    assert_eq!(z0, expected.last_zxid());
    let mut out = Vec::new();
    let mut done = false;
    for a in acts {
        match a {
            Act::Step(budget) if !done => {
                done = h.tree.snapshot_step(*budget, &mut out).unwrap() == SnapshotProgress::Done;
            }
            _ => write(h, a),
        }
    }
    // Each step makes progress: a broken cursor fails here instead of looping.
    for (steps, &budget) in budgets.iter().cycle().enumerate() {
        if done {
            break;
        }
        assert!(steps < 100_000, "the snapshot does not end");
        done = h.tree.snapshot_step(budget, &mut out).unwrap() == SnapshotProgress::Done;
    }
    assert!(!h.tree.snapshot_in_progress());
    (out, expected)
}

/// The snapshot is the tree as it was: the same records as a one-shot snapshot of it (node
/// ids and ACL slots included), and a load answers every query as the tree did.
fn check(bytes: &[u8], expected: &DataTree) {
    let (got, want) = (split(bytes), split(&snapshot(expected)));
    assert_eq!(got.header, want.header);
    assert_eq!(got.end, want.end, "record counts");
    assert!(got.sorted() == want.sorted(), "the records differ");
    let mut input = bytes;
    let back = DataTree::read_snapshot(&mut input, config()).unwrap();
    assert!(input.is_empty());
    assert_same(&back, &round_trip(expected));
    // And directly against the tree at the start; only the data of quota stats nodes can
    // differ, as a load recomputes it.
    let paths = all_paths(expected);
    assert_eq!(paths, all_paths(&back));
    for p in &paths {
        assert_eq!(expected.node_record(p), back.node_record(p), "{p}");
        assert_eq!(expected.get_acl(p), back.get_acl(p), "{p}");
        assert_eq!(expected.get_children(p), back.get_children(p), "{p}");
        if !p.ends_with("/zookeeper_stats") {
            assert_eq!(expected.get_data(p), back.get_data(p), "{p}");
        }
    }
    for s in expected.sessions_with_ephemerals() {
        assert_eq!(expected.ephemerals(s), back.ephemerals(s));
    }
    assert_eq!(
        expected.sessions_with_ephemerals(),
        back.sessions_with_ephemerals()
    );
    assert_eq!(expected.containers(), back.containers());
    assert_eq!(expected.ttl_nodes(), back.ttl_nodes());
    assert_eq!(expected.last_zxid(), back.last_zxid());
    assert_eq!(expected.node_count(), back.node_count());
    assert_eq!(expected.acl_count(), back.acl_count());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_snapshot_is_the_tree_at_its_start(
        ops in prop::collection::vec(op(), 0..40),
        fan in (0u8..120, 0u8..40),
        quota in (any::<bool>(), any::<bool>()),
        more in prop::collection::vec((0u8..7, any::<bool>()), 0..3),
        acts in prop::collection::vec(act(), 0..150),
        budgets in prop::collection::vec(1usize..=5, 1..8),
    ) {
        let mut h = build(&ops, fan, quota, &more);
        let (bytes, expected) = run(&mut h, &acts, &budgets);
        check(&bytes, &expected);
    }
}

/// A big directory spread over many steps, its children going and coming on both sides of
/// the sub-cursor.
#[test]
fn a_big_directory_changing_under_the_cursor() {
    let mut h = build(&[], (120, 30), (false, true), &[]);
    let mut acts = Vec::new();
    for round in 0..60u8 {
        acts.push(Act::Step(3));
        let n = ((u16::from(round) * 7) % 120) as u8;
        acts.push(Act::Fan(0, n, false));
        acts.push(Act::Fan(0, (n + 1) % 120, false));
        acts.push(Act::Fan(0, n, true));
        acts.push(Act::Fan(1, round % 40, round % 3 == 0));
    }
    let (bytes, expected) = run(&mut h, &acts, &[2]);
    check(&bytes, &expected);
}

#[test]
fn one_at_a_time_and_abort() {
    let mut h = build(&[], (3, 0), (false, false), &[]);
    assert_eq!(
        h.tree.snapshot_step(10, &mut Vec::new()),
        Err(TreeSnapshotError::NotInProgress)
    );
    let z0 = h.tree.begin_snapshot().unwrap();
    assert!(h.tree.snapshot_in_progress());
    assert_eq!(
        h.tree.begin_snapshot(),
        Err(TreeSnapshotError::AlreadyInProgress)
    );
    let mut out = Vec::new();
    assert_eq!(
        h.tree.snapshot_step(1, &mut out),
        Ok(SnapshotProgress::More)
    );
    h.create("/later", "x");
    h.tree.abort_snapshot();
    assert!(!h.tree.snapshot_in_progress());
    h.tree.abort_snapshot();
    // Begun again, it is the tree now, `/later` included.
    let (bytes, expected) = run(&mut h, &[Act::Fan(0, 1, false)], &[4]);
    check(&bytes, &expected);
    let back = DataTree::read_snapshot(&mut &bytes[..], config()).unwrap();
    assert!(back.stat("/later").is_some());
    assert!(back.last_zxid() > z0);
}

/// Without writes, any budget gives the one-shot snapshot's records (batched and ordered as
/// the budget has it).
#[test]
fn steps_without_writes_give_the_one_shot_records() {
    let mut h = build(&[], (50, 5), (true, false), &[]);
    for budget in [1, 2, 7, 1000] {
        let (bytes, expected) = run(&mut h, &[], &[budget]);
        let (got, want) = (split(&bytes), split(&snapshot(&expected)));
        assert!(got.sorted() == want.sorted(), "budget {budget}");
        assert_eq!((got.header, got.end), (want.header, want.end));
    }
}

/// A create at or below the snapshot's line (a txn applied out of order) would make a node
/// the cursor takes for an old one: the snapshot is abandoned instead.
#[test]
fn a_create_out_of_zxid_order_interrupts() {
    let mut h = build(&[], (3, 0), (false, false), &[]);
    let z0 = h.tree.begin_snapshot().unwrap();
    h.zxid = z0.0 - 2;
    h.create("/old-zxid", "");
    let err = h.tree.snapshot_step(1000, &mut Vec::new()).unwrap_err();
    assert_eq!(
        err,
        TreeSnapshotError::Interrupted {
            czxid: Zxid(z0.0 - 1),
            line: z0
        }
    );
    assert!(!h.tree.snapshot_in_progress());
    // Other writes at or below the line change nothing of that (hook A covers them).
    let mut h = build(&[], (3, 0), (false, false), &[]);
    let z0 = h.tree.begin_snapshot().unwrap();
    let expected = h.tree.clone();
    h.zxid = z0.0 - 3;
    h.write(&set("/f0/c001", "older", -1)).unwrap();
    let mut out = Vec::new();
    while h.tree.snapshot_step(2, &mut out).unwrap() == SnapshotProgress::More {}
    check(&out, &expected);
}

/// Nodes made without a txn (a czxid above the last zxid) are in the snapshot too: the line
/// is the highest czxid, not only the last zxid.
#[test]
fn nodes_above_the_last_zxid_are_kept() {
    let mut t = DataTree::with_config(config());
    let mut ev = Vec::new();
    for (i, p) in ["/x", "/x/y", "/z"].iter().enumerate() {
        t.create_node(
            p,
            None,
            &corral_acl::open_acl_unsafe(),
            0,
            -1,
            Zxid(10 + i as u64),
            5,
            &mut ev,
        )
        .unwrap();
    }
    assert_eq!(t.last_zxid(), Zxid(0));
    let expected = t.clone();
    t.begin_snapshot().unwrap();
    let mut h = Harness::with_config(config());
    h.tree = t;
    h.zxid = 20;
    h.write(&delete("/x/y", -1)).unwrap();
    let mut out = Vec::new();
    while h.tree.snapshot_step(1, &mut out).unwrap() == SnapshotProgress::More {}
    check(&out, &expected);
}

#[test]
fn writes_fail_the_same_while_a_snapshot_runs() {
    // The hooks only write: every result is what it would be without a snapshot.
    let mut a = build(&[], (5, 0), (false, false), &[]);
    let mut b = build(&[], (5, 0), (false, false), &[]);
    a.tree.begin_snapshot().unwrap();
    for req in [
        delete("/f0", -1),
        create("/f0/c001", "", 0),
        set("/f0/c002", "v", 3),
        delete("/f0/c003", 0),
        delete("/nothing", -1),
    ] {
        assert_eq!(a.write(&req), b.write(&req), "{req:?}");
    }
    assert_eq!(a.write(&delete("/f0", -1)).err(), Some(ErrorCode::NotEmpty));
}
