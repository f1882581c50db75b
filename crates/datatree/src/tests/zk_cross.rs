//! The digest against corral-zkdata's, an independent model of ZooKeeper's own tree
//! (`DataTree.processTxn` and `DigestCalculator` as ZooKeeper's files show them): the same
//! txns applied to both trees give the same digest after every txn.

use proptest::prelude::*;

use super::digest::{next_txn, op, Op};
use super::*;
use crate::ephemeral::{self, EphemeralType};
use corral_zkdata::records::op as zk_op;
use corral_zkdata::{DataTree as ZkTree, StatPersisted, TxnEntry, TxnHeader};

/// ZooKeeper's fresh tree as its snapshot holds it: the root, `/zookeeper` and its `quota`
/// and `config` nodes (empty data, all-zero Stats but config's aversion).
fn zk_fresh_tree() -> ZkTree {
    let mut zk = ZkTree::new();
    let open = corral_zkdata::Acl::open_unsafe();
    for (path, aversion) in [
        ("/zookeeper", 0),
        ("/zookeeper/quota", 0),
        ("/zookeeper/config", -1),
    ] {
        let stat = StatPersisted {
            aversion,
            ..StatPersisted::default()
        };
        zk.insert_node(path, Some(Vec::new()), Some(&open), stat)
            .unwrap();
    }
    zk
}

fn zk_acl(acl: &[Acl]) -> Option<Vec<corral_zkdata::Acl>> {
    Some(
        acl.iter()
            .map(|a| corral_zkdata::Acl {
                perms: a.perms,
                scheme: a.id.scheme.clone(),
                id: a.id.id.clone(),
            })
            .collect(),
    )
}

fn zk_data(data: &Option<Bytes>) -> Option<Vec<u8>> {
    data.as_ref().map(|d| d.to_vec())
}

/// A Corral txn body as ZooKeeper logs it.
fn zk_txn(body: &TxnBody, session: i64) -> corral_zkdata::Txn {
    use corral_zkdata::Txn as Z;
    match body {
        TxnBody::Create {
            path,
            data,
            acl,
            ephemeral_owner,
            parent_cversion,
            op,
        } => {
            let (path, data, acl, parent_cversion) =
                (path.clone(), zk_data(data), zk_acl(acl), *parent_cversion);
            match EphemeralType::of(*ephemeral_owner, true) {
                EphemeralType::Container => Z::CreateContainer {
                    path,
                    data,
                    acl,
                    parent_cversion,
                },
                EphemeralType::Ttl => Z::CreateTtl {
                    path,
                    data,
                    acl,
                    parent_cversion,
                    ttl: ephemeral::ttl_of(*ephemeral_owner),
                },
                _ => Z::Create {
                    op: if *op == OpCode::Create {
                        zk_op::CREATE
                    } else {
                        zk_op::CREATE2
                    },
                    path,
                    data,
                    acl,
                    ephemeral: *ephemeral_owner != 0 && *ephemeral_owner == session,
                    parent_cversion,
                },
            }
        }
        TxnBody::Delete { path } => Z::Delete {
            op: zk_op::DELETE,
            path: path.clone(),
        },
        TxnBody::SetData {
            path,
            data,
            version,
        } => Z::SetData {
            op: zk_op::SET_DATA,
            path: path.clone(),
            data: zk_data(data),
            version: *version,
        },
        TxnBody::SetAcl { path, acl, version } => Z::SetAcl {
            path: path.clone(),
            acl: zk_acl(acl),
            version: *version,
        },
        TxnBody::Check { path, version } => Z::Check {
            path: path.clone(),
            version: *version,
        },
        TxnBody::Error(code) => Z::Error { err: code.code() },
        TxnBody::Multi(ops) => Z::Multi(ops.iter().map(|b| zk_txn(b, session)).collect()),
        TxnBody::CreateSession { timeout_ms } => Z::CreateSession {
            timeout: *timeout_ms,
        },
        TxnBody::CloseSession { ephemerals } => Z::CloseSession {
            paths_to_delete: Some(ephemerals.clone()),
        },
    }
}

fn zk_entry(txn: &Txn) -> TxnEntry {
    let body = zk_txn(&txn.body, txn.session_id);
    TxnEntry {
        header: TxnHeader {
            client_id: txn.session_id,
            cxid: txn.cxid,
            zxid: txn.zxid.to_wire(),
            time: txn.time_ms,
            op: body.op(),
        },
        txn: body,
        digest: None,
    }
}

#[test]
fn a_fresh_tree_has_zookeepers_digest() {
    assert_eq!(DataTree::new().digest(), zk_fresh_tree().digest());
}

#[test]
fn a_known_history_has_zookeepers_digest_after_every_txn() {
    let mut h = Harness::new();
    let mut zk = zk_fresh_tree();
    let ops = [
        Op::Create("/a".into(), 0),
        Op::Create("/a/b".into(), 1),
        Op::Create("/a/c".into(), 2),
        Op::Create(
            "/k".into(),
            corral_jute::codes::CreateMode::Container.code(),
        ),
        Op::Create("/k/x".into(), 0),
        Op::Set("/a".into(), b"data".to_vec()),
        Op::Set("/a/b".into(), Vec::new()),
        Op::SetAcl("/a".into(), true),
        Op::Delete("/k/x".into()),
        Op::Delete("/missing".into()),
        Op::Multi(vec![
            Op::Create("/m".into(), 0),
            Op::Set("/m".into(), vec![1]),
        ]),
        Op::Multi(vec![
            Op::Create("/n".into(), 0),
            Op::Delete("/missing".into()),
        ]),
        Op::Close,
    ];
    for op in &ops {
        let txn = next_txn(&mut h, op).unwrap();
        h.tree.apply(&txn);
        h.pending.applied(txn.zxid);
        let processed = zk.process(&zk_entry(&txn));
        assert_eq!(h.tree.digest(), zk.digest(), "after {op:?} ({processed:?})");
    }
    assert!(
        h.tree.stat("/a/b").is_none(),
        "the ephemeral went with its session"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_histories_have_zookeepers_digest(ops in prop::collection::vec(op(), 1..60)) {
        let mut h = Harness::new();
        let mut zk = zk_fresh_tree();
        for op in &ops {
            if let Some(txn) = next_txn(&mut h, op) {
                h.tree.apply(&txn);
                h.pending.applied(txn.zxid);
                zk.process(&zk_entry(&txn));
                prop_assert_eq!(h.tree.digest(), zk.digest(), "after {:?}", op);
            }
        }
    }
}
