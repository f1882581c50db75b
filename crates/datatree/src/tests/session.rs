//! closeSession: which ephemerals go (tree + in flight), and what applying it does.

use super::*;
use crate::TxnResult;
use crate::Zxid;
use corral_jute::codes::{CreateMode, EventType};

const EPH: i32 = CreateMode::Ephemeral.code();

fn close(h: &mut Harness) -> (Zxid, TxnBody) {
    h.prep_close()
}

#[test]
fn close_session_deletes_its_ephemerals_with_events() {
    let mut h = Harness::new();
    h.create("/app", "");
    h.write(&create("/app/z", "", EPH)).unwrap();
    h.write(&create("/b", "", EPH)).unwrap();
    h.session = 0x200;
    h.write(&create("/app/other", "", EPH)).unwrap();
    h.session = 0x100;
    let (zxid, body) = close(&mut h);
    assert_eq!(
        body,
        TxnBody::CloseSession {
            ephemerals: vec!["/app/z".into(), "/b".into()]
        }
    );
    let applied = h.apply(zxid, Ok(body));
    assert_eq!(applied.result, TxnResult::Session);
    let ev = |p: &str, e| (p.to_string(), e);
    assert_eq!(
        applied.events,
        vec![
            ev("/app/z", EventType::NodeDeleted),
            ev("/app", EventType::NodeChildrenChanged),
            ev("/b", EventType::NodeDeleted),
            ev("/", EventType::NodeChildrenChanged),
        ]
    );
    assert!(h.tree.ephemerals(0x100).is_empty());
    assert_eq!(h.tree.ephemerals(0x200), vec!["/app/other".to_string()]);
    assert_eq!(h.stat("/app").pzxid, zxid.to_wire());
    assert_eq!(h.tree.sessions_with_ephemerals(), vec![0x200]);
    assert!(h.pending.is_empty());
}

#[test]
fn close_session_counts_in_flight_changes() {
    let mut h = Harness::new();
    h.write(&create("/gone", "", EPH)).unwrap();
    h.write(&create("/stays", "", EPH)).unwrap();
    // In flight: a delete of /gone and a create of /new, both by this session.
    let (z1, b1) = h.prep(&delete("/gone", -1));
    let (z2, b2) = h.prep(&create("/new", "", EPH));
    let (z3, b3) = close(&mut h);
    assert_eq!(
        b3,
        TxnBody::CloseSession {
            ephemerals: vec!["/new".into(), "/stays".into()]
        }
    );
    // The closing session's nodes are deleted in flight.
    assert_eq!(h.prep(&set("/stays", "", -1)).1, Err(ErrorCode::NoNode));
    h.apply(z1, b1);
    h.apply(z2, b2);
    h.apply(z3, Ok(b3));
    for p in ["/gone", "/stays", "/new"] {
        assert_eq!(h.tree.stat(p), None, "{p}");
    }
    assert_eq!(h.tree.ephemeral_count(), 0);
}

#[test]
fn close_session_via_prep_and_unlisted_ephemerals() {
    let mut h = Harness::new();
    h.write(&create("/a", "", EPH)).unwrap();
    let (z, body) = h.prep(&Request::CloseSession);
    assert_eq!(
        body,
        Ok(TxnBody::CloseSession {
            ephemerals: vec!["/a".into()]
        })
    );
    // A txn listing nothing still removes what the session owns (ZooKeeper's killSession).
    h.pending.rollback(z);
    let applied = h.apply(z, Ok(TxnBody::CloseSession { ephemerals: vec![] }));
    assert_eq!(applied.events.len(), 2);
    assert_eq!(h.tree.stat("/a"), None);
    // Listed paths that are gone are skipped.
    let applied = h.apply(
        Zxid(z.0 + 1),
        Ok(TxnBody::CloseSession {
            ephemerals: vec!["/missing".into()],
        }),
    );
    assert!(applied.events.is_empty());
}

#[test]
fn create_session_changes_nothing() {
    let mut h = Harness::new();
    let before = h.tree.stat("/");
    let applied = h.apply(Zxid(1), Ok(TxnBody::CreateSession { timeout_ms: 30_000 }));
    assert_eq!(applied.result, TxnResult::Session);
    assert!(applied.events.is_empty());
    assert_eq!(h.tree.stat("/"), before);
    assert_eq!(h.tree.last_zxid(), Zxid(1));
}
