//! multi: atomic, ops see earlier ops, failed multi results as DataTree.processTxn gives them.

use super::*;
use crate::TxnResult;
use corral_jute::codes::{CreateMode, EventType};
use corral_jute::request::OpResult;

fn multi(ops: Vec<Request>) -> Request {
    Request::Multi(ops)
}

#[test]
fn successful_multi_applies_every_op_in_order() {
    let mut h = Harness::new();
    let req = multi(vec![
        create("/m", "", 0),
        create_op(OpCode::Create2, "/m/c", "x", 0, None),
        set("/m", "data", 0),
        check("/m", 1),
        delete("/m/c", 0),
        create_op(
            OpCode::CreateContainer,
            "/m/k",
            "",
            CreateMode::Container.code(),
            None,
        ),
    ]);
    let applied = h.write(&req).unwrap();
    let m = h.stat("/m");
    let TxnResult::Multi(results) = &applied.result else {
        panic!("{applied:?}")
    };
    assert_eq!(results.len(), 6);
    assert_eq!(results[0], OpResult::Create("/m".into()));
    let OpResult::Create2(p, s) = &results[1] else {
        panic!("{results:?}")
    };
    assert_eq!((p.as_str(), s.czxid, s.data_length), ("/m/c", 1, 1));
    let OpResult::SetData(s) = &results[2] else {
        panic!("{results:?}")
    };
    assert_eq!((s.version, s.data_length, s.mzxid), (1, 4, 1));
    assert_eq!(results[3], OpResult::Check);
    assert_eq!(results[4], OpResult::Delete);
    assert!(matches!(&results[5], OpResult::Create2(p, _) if p == "/m/k"));
    assert_eq!(applied.result.error_code(), ErrorCode::Ok);
    // All ops share the zxid.
    assert_eq!((m.czxid, m.mzxid, m.pzxid, m.version), (1, 1, 1, 1));
    assert_eq!(m.num_children, 1);
    assert_eq!(h.tree.stat("/m/c"), None);
    let ev = |p: &str, e| (p.to_string(), e);
    assert_eq!(
        applied.events,
        vec![
            ev("/m", EventType::NodeCreated),
            ev("/", EventType::NodeChildrenChanged),
            ev("/m/c", EventType::NodeCreated),
            ev("/m", EventType::NodeChildrenChanged),
            ev("/m", EventType::NodeDataChanged),
            ev("/m/c", EventType::NodeDeleted),
            ev("/m", EventType::NodeChildrenChanged),
            ev("/m/k", EventType::NodeCreated),
            ev("/m", EventType::NodeChildrenChanged),
        ]
    );
    assert!(h.pending.is_empty());
}

#[test]
fn failed_multi_changes_nothing_and_reports_per_op() {
    let mut h = Harness::new();
    h.create("/keep", "");
    let before = h.tree.clone();
    let req = multi(vec![
        create("/x", "", 0),
        set("/keep", "changed", -1),
        set("/nope", "", -1),
        create("/y", "", 0),
    ]);
    let (zxid, body) = h.prep(&req);
    assert_eq!(
        body,
        Ok(TxnBody::Multi(vec![
            TxnBody::Error(ErrorCode::Ok),
            TxnBody::Error(ErrorCode::Ok),
            TxnBody::Error(ErrorCode::NoNode),
            TxnBody::Error(ErrorCode::RuntimeInconsistency),
        ]))
    );
    assert!(h.pending.is_empty(), "the multi's records are rolled back");
    let applied = h.apply(zxid, body);
    assert_eq!(
        applied.result,
        TxnResult::Multi(vec![
            OpResult::Error(0),
            OpResult::Error(0),
            OpResult::Error(-101),
            OpResult::Error(-2),
        ])
    );
    assert_eq!(applied.result.error_code(), ErrorCode::Ok);
    assert!(applied.events.is_empty());
    assert_eq!(h.tree.stat("/x"), None);
    assert_eq!(h.tree.get_data("/keep"), before.get_data("/keep"));
    assert_eq!(h.tree.stat("/"), before.stat("/"));
    assert_eq!(h.tree.last_zxid(), zxid);
}

#[test]
fn failing_first_op() {
    let mut h = Harness::new();
    let r = h
        .write(&multi(vec![delete("/nope", -1), create("/a", "", 0)]))
        .unwrap();
    assert_eq!(
        r.result,
        TxnResult::Multi(vec![OpResult::Error(-101), OpResult::Error(-2)])
    );
}

#[test]
fn later_ops_see_earlier_ones() {
    let mut h = Harness::new();
    // create then delete in one multi; then a version check failing on the set's result.
    let r = h
        .write(&multi(vec![create("/t", "", 0), delete("/t", 0)]))
        .unwrap();
    assert!(
        matches!(r.result, TxnResult::Multi(ref v) if v == &[OpResult::Create("/t".into()), OpResult::Delete])
    );
    assert_eq!(h.tree.stat("/t"), None);
    h.create("/v", "");
    let r = h
        .write(&multi(vec![set("/v", "a", 0), check("/v", 0)]))
        .unwrap();
    assert_eq!(
        r.result,
        TxnResult::Multi(vec![OpResult::Error(0), OpResult::Error(-103)])
    );
    assert_eq!(h.stat("/v").version, 0);
}

#[test]
fn failed_multi_keeps_earlier_in_flight_changes() {
    let mut h = Harness::new();
    let (z1, b1) = h.prep(&create("/a", "", 0));
    assert!(b1.is_ok());
    let (_, m) = h.prep(&multi(vec![set("/a", "x", -1), create("/nope/x", "", 0)]));
    assert!(matches!(m, Ok(TxnBody::Multi(ref v)) if v[1] == TxnBody::Error(ErrorCode::NoNode)));
    // /a is still in flight (created, version 0).
    let (_, b3) = h.prep(&set("/a", "y", 0));
    assert!(b3.is_ok());
    h.apply(z1, b1);
}

#[test]
fn failed_multi_does_not_consume_sequence_numbers() {
    let mut h = Harness::new();
    h.create("/q", "");
    let seq = CreateMode::PersistentSequential.code();
    let r = h
        .write(&multi(vec![create("/q/n", "", seq), delete("/nope", -1)]))
        .unwrap();
    assert!(matches!(r.result, TxnResult::Multi(_)));
    let a = h.write(&create("/q/n", "", seq)).unwrap();
    assert!(matches!(a.result, TxnResult::Create { ref path, .. } if path == "/q/n0000000000"));
}

#[test]
fn multi_with_a_non_multi_op_is_a_marshalling_error() {
    let mut h = Harness::new();
    let bad = multi(vec![create("/a", "", 0), set_acl("/a", open(), -1)]);
    assert_eq!(h.prep(&bad).1, Err(ErrorCode::MarshallingError));
    assert!(h.pending.is_empty());
    let empty = h.write(&multi(vec![])).unwrap();
    assert_eq!(empty.result, TxnResult::Multi(vec![]));
}
