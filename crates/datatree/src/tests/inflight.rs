//! Prep against changes still in flight (ZooKeeper's outstandingChanges).

use super::*;
use crate::TxnResult;
use corral_jute::codes::CreateMode;

fn created_path(a: &Applied) -> String {
    match &a.result {
        TxnResult::Create { path, .. } => path.clone(),
        other => panic!("not a create: {other:?}"),
    }
}

#[test]
fn child_of_an_in_flight_create() {
    let mut h = Harness::new();
    let (z1, b1) = h.prep(&create("/a", "", 0));
    let (z2, b2) = h.prep(&create("/a/b", "", 0));
    assert!(b1.is_ok() && b2.is_ok());
    assert_eq!(h.pending.len(), 4);
    h.apply(z1, b1);
    h.apply(z2, b2);
    assert!(h.pending.is_empty());
    assert_eq!(h.stat("/a").num_children, 1);
    assert_eq!(h.stat("/a").pzxid, 2);
}

#[test]
fn create_after_in_flight_delete() {
    let mut h = Harness::new();
    h.create("/x", "old");
    let (z1, b1) = h.prep(&delete("/x", -1));
    let (z2, b2) = h.prep(&create("/x", "new", 0));
    assert!(b2.is_ok());
    // And deleting it again before either applies: it exists in flight.
    let (z3, b3) = h.prep(&delete("/x", 0));
    assert!(b3.is_ok());
    let (z4, b4) = h.prep(&delete("/x", -1));
    assert_eq!(b4, Err(ErrorCode::NoNode));
    for (z, b) in [(z1, b1), (z2, b2), (z3, b3), (z4, b4)] {
        h.apply(z, b);
    }
    assert_eq!(h.tree.stat("/x"), None);
    assert!(h.pending.is_empty());
}

#[test]
fn in_flight_sequential_creates_get_consecutive_suffixes() {
    let mut h = Harness::new();
    h.create("/q", "");
    let seq = CreateMode::EphemeralSequential.code();
    let (z1, b1) = h.prep(&create("/q/n", "", seq));
    let (z2, b2) = h.prep(&create("/q/n", "", seq));
    let a1 = h.apply(z1, b1);
    let a2 = h.apply(z2, b2);
    assert_eq!(created_path(&a1), "/q/n0000000000");
    assert_eq!(created_path(&a2), "/q/n0000000001");
    assert_eq!(h.stat("/q").cversion, 2);
}

#[test]
fn in_flight_versions_chain() {
    let mut h = Harness::new();
    h.create("/v", "");
    let (z1, b1) = h.prep(&set("/v", "1", 0));
    let (z2, b2) = h.prep(&set("/v", "2", 1));
    let (z3, b3) = h.prep(&set("/v", "3", 1));
    assert_eq!(b3, Err(ErrorCode::BadVersion));
    let (z4, b4) = h.prep(&check("/v", 2));
    assert!(b4.is_ok());
    for (z, b) in [(z1, b1), (z2, b2), (z3, b3), (z4, b4)] {
        h.apply(z, b);
    }
    assert_eq!(h.stat("/v").version, 2);
}

#[test]
fn delete_sees_in_flight_children() {
    let mut h = Harness::new();
    h.create("/p", "");
    let (_, b1) = h.prep(&create("/p/c", "", 0));
    assert!(b1.is_ok());
    assert_eq!(h.prep(&delete("/p", -1)).1, Err(ErrorCode::NotEmpty));
    // An in-flight ephemeral parent refuses children.
    let (_, b2) = h.prep(&create("/eph", "", CreateMode::Ephemeral.code()));
    assert!(b2.is_ok());
    assert_eq!(
        h.prep(&create("/eph/c", "", 0)).1,
        Err(ErrorCode::NoChildrenForEphemerals)
    );
}

#[test]
fn failed_prep_leaves_pending_alone() {
    let mut h = Harness::new();
    let (_, b) = h.prep(&create("/a", "", 0));
    assert!(b.is_ok());
    let n = h.pending.len();
    assert_eq!(h.prep(&create("/a", "", 0)).1, Err(ErrorCode::NodeExists));
    assert_eq!(h.prep(&create("/zz/a", "", 0)).1, Err(ErrorCode::NoNode));
    assert_eq!(h.pending.len(), n);
}

#[test]
fn rollback_forgets_an_abandoned_txn() {
    let mut h = Harness::new();
    let (z1, b1) = h.prep(&create("/a", "", 0));
    assert!(b1.is_ok());
    h.pending.rollback(z1);
    assert!(h.pending.is_empty());
    assert_eq!(h.prep(&create("/a/b", "", 0)).1, Err(ErrorCode::NoNode));
}

#[test]
fn in_flight_acl_change_governs_later_preps() {
    let mut h = Harness::new();
    h.create("/a", "");
    let (_, b) = h.prep(&set_acl("/a", corral_acl::read_acl_unsafe(), -1));
    assert!(b.is_ok());
    assert_eq!(h.prep(&set("/a", "x", -1)).1, Err(ErrorCode::NoAuth));
}
