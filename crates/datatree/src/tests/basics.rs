//! Stat values, sequence names and reads, as ZooKeeper's DataTree / DataNode produce them.

use super::*;
use crate::Zxid;
use corral_jute::codes::{CreateMode, EventType};
use corral_jute::records::Stat;

#[test]
fn fresh_tree_is_zookeepers() {
    let t = DataTree::new();
    let zero = Stat::default();
    // Stored cversion 0 with children: clients see 2*0 - numChildren.
    assert_eq!(
        t.stat("/"),
        Some(Stat {
            cversion: -1,
            num_children: 1,
            ..zero.clone()
        })
    );
    assert_eq!(
        t.stat("/zookeeper"),
        Some(Stat {
            cversion: -2,
            num_children: 2,
            ..zero.clone()
        })
    );
    assert_eq!(t.stat("/zookeeper/quota"), Some(zero.clone()));
    assert_eq!(
        t.stat("/zookeeper/config"),
        Some(Stat {
            aversion: -1,
            ..zero.clone()
        })
    );
    for p in ["/", "/zookeeper", "/zookeeper/quota"] {
        assert_eq!(t.node_acl(p), Some(open().as_slice()), "{p}");
        assert_eq!(t.get_data(p).map(|d| d.0), Ok(Some(Bytes::new())), "{p}");
    }
    assert_eq!(
        t.node_acl("/zookeeper/config"),
        Some(corral_acl::read_acl_unsafe().as_slice())
    );
    assert_eq!(
        t.get_children("/").map(|c| c.0),
        Ok(vec!["zookeeper".to_string()])
    );
    assert_eq!(
        t.get_children("/zookeeper").map(|c| c.0),
        Ok(vec!["config".to_string(), "quota".to_string()])
    );
    // ZooKeeper's node map holds the root under "" and "/".
    assert_eq!(t.node_count(), 5);
    assert_eq!(t.approximate_data_size(), 1 + 10 + 16 + 17);
    assert_eq!(t.all_children_number("/"), Ok(3));
    assert_eq!(t.all_children_number("/zookeeper"), Ok(2));
    assert_eq!(t.ephemeral_count(), 0);
    assert_eq!(t.last_zxid(), Zxid(0));
    assert_eq!(t.acl_count(), 2);
}

#[test]
fn create_sets_node_and_parent_stat() {
    let mut h = Harness::new();
    h.create("/a", "xyz");
    let a = h.stat("/a");
    assert_eq!(
        a,
        Stat {
            czxid: 1,
            mzxid: 1,
            ctime: h.time,
            mtime: h.time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: 0,
            data_length: 3,
            num_children: 0,
            pzxid: 1,
        }
    );
    let root = h.stat("/");
    assert_eq!((root.cversion, root.num_children, root.pzxid), (0, 2, 1));
    let applied = h.create("/a/b", "");
    assert_eq!(
        applied.events,
        vec![
            ("/a/b".to_string(), EventType::NodeCreated),
            ("/a".to_string(), EventType::NodeChildrenChanged)
        ]
    );
    let a = h.stat("/a");
    assert_eq!((a.cversion, a.num_children, a.pzxid, a.mzxid), (1, 1, 2, 1));
    assert_eq!(h.tree.last_zxid(), Zxid(2));
}

#[test]
fn create2_result_carries_the_stat() {
    let mut h = Harness::new();
    let applied = h
        .write(&create_op(OpCode::Create2, "/a", "d", 0, None))
        .unwrap();
    assert_eq!(
        applied.result,
        crate::TxnResult::Create {
            path: "/a".into(),
            stat: h.stat("/a")
        }
    );
}

#[test]
fn ephemeral_owner_and_index() {
    let mut h = Harness::new();
    h.write(&create("/e", "", CreateMode::Ephemeral.code()))
        .unwrap();
    assert_eq!(h.stat("/e").ephemeral_owner, 0x100);
    assert_eq!(h.tree.ephemerals(0x100), vec!["/e".to_string()]);
    assert_eq!(h.tree.ephemeral_count(), 1);
    h.write(&delete("/e", -1)).unwrap();
    assert!(h.tree.ephemerals(0x100).is_empty());
    assert_eq!(h.tree.ephemeral_count(), 0);
}

#[test]
fn delete_raises_parent_pzxid_and_client_cversion() {
    let mut h = Harness::new();
    h.create("/a", "");
    h.create("/a/b", "");
    h.create("/a/c", "");
    let before = h.stat("/a");
    assert_eq!((before.cversion, before.num_children), (2, 2));
    let applied = h.write(&delete("/a/b", 0)).unwrap();
    assert_eq!(
        applied.events,
        vec![
            ("/a/b".to_string(), EventType::NodeDeleted),
            ("/a".to_string(), EventType::NodeChildrenChanged)
        ]
    );
    assert_eq!(applied.result, crate::TxnResult::Delete);
    let a = h.stat("/a");
    // Stored cversion stays 2; the client sees 2*2 - 1 = 3: one more change.
    assert_eq!((a.cversion, a.num_children, a.pzxid), (3, 1, 4));
    assert_eq!(a.mzxid, before.mzxid);
    assert_eq!(h.tree.stat("/a/b"), None);
    assert_eq!(h.tree.get_data("/a/b"), Err(ErrorCode::NoNode));
}

#[test]
fn set_data_moves_version_mzxid_mtime_only() {
    let mut h = Harness::new();
    h.create("/a", "x");
    let before = h.stat("/a");
    let applied = h.write(&set("/a", "hello", 0)).unwrap();
    let after = h.stat("/a");
    assert_eq!(applied.result, crate::TxnResult::SetData(after.clone()));
    assert_eq!(
        applied.events,
        vec![("/a".to_string(), EventType::NodeDataChanged)]
    );
    assert_eq!(
        after,
        Stat {
            mzxid: 2,
            mtime: h.time,
            version: 1,
            data_length: 5,
            ..before
        }
    );
    assert_eq!(
        h.tree.get_data("/a").unwrap().0.as_deref(),
        Some(&b"hello"[..])
    );
    h.write(&set("/a", "again", -1)).unwrap();
    assert_eq!(h.stat("/a").version, 2);
}

#[test]
fn set_acl_moves_only_aversion_and_fires_nothing() {
    let mut h = Harness::new();
    h.create("/a", "x");
    let before = h.stat("/a");
    let new_acl = corral_acl::read_acl_unsafe();
    let applied = h.write(&set_acl("/a", new_acl.clone(), 0)).unwrap();
    let after = h.stat("/a");
    assert_eq!(applied.result, crate::TxnResult::SetAcl(after.clone()));
    assert!(applied.events.is_empty());
    assert_eq!(
        after,
        Stat {
            aversion: 1,
            ..before
        }
    );
    assert_eq!(h.tree.get_acl("/a"), Ok((new_acl, after)));
    assert_eq!(h.tree.last_zxid(), Zxid(2));
}

#[test]
fn null_data_stays_null() {
    let mut h = Harness::new();
    h.write(&create_acl("/n", open(), 0)).unwrap();
    assert_eq!(h.tree.get_data("/n").unwrap().0, None);
    assert_eq!(h.stat("/n").data_length, 0);
    h.create("/e", "");
    assert_eq!(h.tree.get_data("/e").unwrap().0, Some(Bytes::new()));
}

#[test]
fn sequential_suffix_is_parent_create_count() {
    let mut h = Harness::new();
    h.create("/q", "");
    let seq = CreateMode::PersistentSequential.code();
    let a = h.write(&create("/q/n-", "", seq)).unwrap();
    assert!(
        matches!(a.result, crate::TxnResult::Create { ref path, .. } if path == "/q/n-0000000000")
    );
    h.write(&create("/q/n-", "", seq)).unwrap();
    h.create("/q/plain", "");
    h.write(&delete("/q/n-0000000000", -1)).unwrap();
    // Deletes do not move the stored cversion: three creates so far.
    let c = h.write(&create("/q/n-", "", seq)).unwrap();
    assert!(
        matches!(c.result, crate::TxnResult::Create { ref path, .. } if path == "/q/n-0000000003")
    );
    // A sequential name directly under the root.
    let r = h.write(&create("/", "", seq)).unwrap();
    assert!(matches!(r.result, crate::TxnResult::Create { ref path, .. } if path == "/0000000001"));
    assert_eq!(
        h.tree.get_children("/q").unwrap().0,
        vec!["n-0000000001", "n-0000000003", "plain"]
    );
}

#[test]
fn children_are_sorted_and_counted() {
    let mut h = Harness::new();
    for p in ["/b", "/a", "/c", "/a/x", "/a/x/y"] {
        h.create(p, "");
    }
    assert_eq!(
        h.tree.get_children("/").unwrap().0,
        vec!["a", "b", "c", "zookeeper"]
    );
    assert_eq!(h.tree.all_children_number("/a"), Ok(2));
    assert_eq!(h.tree.all_children_number("/"), Ok(8));
    assert_eq!(h.tree.all_children_number("/nope"), Err(ErrorCode::NoNode));
    assert_eq!(h.tree.get_children("/nope"), Err(ErrorCode::NoNode));
    assert_eq!(h.tree.node_count(), 10);
}

#[test]
fn approximate_data_size_tracks_paths_and_data() {
    let mut h = Harness::new();
    let base = h.tree.approximate_data_size();
    h.create("/abc", "12345");
    assert_eq!(h.tree.approximate_data_size(), base + 4 + 5);
    h.write(&set("/abc", "12", -1)).unwrap();
    assert_eq!(h.tree.approximate_data_size(), base + 4 + 2);
    h.write(&delete("/abc", -1)).unwrap();
    assert_eq!(h.tree.approximate_data_size(), base);
}

#[test]
fn failed_write_only_advances_last_zxid() {
    let mut h = Harness::new();
    let before = h.tree.stat("/");
    assert_eq!(h.write(&delete("/nope", -1)).err(), Some(ErrorCode::NoNode));
    assert_eq!(h.tree.last_zxid(), Zxid(1));
    assert_eq!(h.tree.stat("/"), before);
    let applied = h
        .tree
        .apply(&h.txn(Zxid(5), TxnBody::Error(ErrorCode::BadVersion)));
    assert_eq!(
        applied.result,
        crate::TxnResult::Error(ErrorCode::BadVersion)
    );
    assert_eq!(applied.result.error_code(), ErrorCode::BadVersion);
    assert!(applied.events.is_empty());
    assert_eq!(h.tree.last_zxid(), Zxid(5));
}

#[test]
fn acls_are_shared() {
    let mut h = Harness::new();
    for i in 0..10 {
        h.create(&format!("/n{i}"), "");
    }
    assert_eq!(h.tree.acl_count(), 2);
    h.auth = vec![digest("alice")];
    h.write(&create_acl("/mine", corral_acl::creator_all_acl(), 0))
        .unwrap();
    assert_eq!(h.tree.acl_count(), 3);
    h.write(&delete("/mine", -1)).unwrap();
    assert_eq!(h.tree.acl_count(), 2);
}

/// Zxids order as unsigned numbers: a txn of epoch 2^31 (negative as ZooKeeper's long) comes
/// after epoch 1's, so it moves the tree's last zxid and its parent's pzxid, and prep forgets
/// it once applied. Compared as i64 (before corral-zxid), none of the three happened.
#[test]
fn epochs_past_the_sign_bit_move_last_zxid_and_pzxid() {
    let mut h = Harness::new();
    h.zxid = Zxid::new(1, 4).0;
    h.create("/app", "");
    h.create("/app/a", "");
    assert_eq!(h.tree.last_zxid(), Zxid::new(1, 6));
    h.zxid = Zxid::new(0x8000_0000, 0).0;
    h.write(&delete("/app/a", -1)).unwrap();
    let late = Zxid::new(0x8000_0000, 1);
    assert!(late.to_wire() < 0, "ZooKeeper's long is negative here");
    assert_eq!(h.tree.last_zxid(), late);
    assert_eq!(h.stat("/app").pzxid, late.to_wire());
    h.create("/app/b", "");
    assert_eq!(h.stat("/app/b").czxid, Zxid::new(0x8000_0000, 2).to_wire());
    assert!(h.pending.is_empty(), "applied txns are no longer pending");
}
