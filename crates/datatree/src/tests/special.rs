//! Containers and TTL nodes (EphemeralType, ContainerManager).

use super::*;
use crate::TxnResult;
use corral_jute::codes::CreateMode;

const CONTAINER: i32 = CreateMode::Container.code();
const TTL: i32 = CreateMode::PersistentWithTtl.code();

fn container(path: &str) -> Request {
    create_op(OpCode::CreateContainer, path, "", CONTAINER, None)
}

#[test]
fn container_lifecycle() {
    let mut h = Harness::new();
    let a = h.write(&container("/c")).unwrap();
    assert!(matches!(a.result, TxnResult::Create { ref stat, .. } if stat.ephemeral_owner == 0));
    assert_eq!(h.tree.containers(), vec!["/c".to_string()]);
    // Empty but never used: kept.
    assert!(h.tree.containers_to_reap().is_empty());
    // Children are allowed under a container.
    h.create("/c/x", "");
    assert!(h.tree.containers_to_reap().is_empty());
    h.write(&delete("/c/x", -1)).unwrap();
    assert_eq!(h.tree.containers_to_reap(), vec!["/c".to_string()]);
    h.write(&delete_container("/c")).unwrap();
    assert!(h.tree.containers().is_empty());
    assert_eq!(h.tree.stat("/c"), None);
}

#[test]
fn never_used_containers_after_the_interval() {
    let mut h = Harness::new();
    h.write(&container("/c")).unwrap();
    let mtime = h.stat("/c").mtime;
    assert!(h.tree.containers_to_reap_at(mtime + 100, 100).is_empty());
    assert_eq!(
        h.tree.containers_to_reap_at(mtime + 101, 100),
        vec!["/c".to_string()]
    );
    assert!(h.tree.containers_to_reap_at(mtime + 1000, 0).is_empty());
}

#[test]
fn delete_container_checks() {
    let mut h = Harness::new();
    h.write(&container("/c")).unwrap();
    h.create("/c/x", "");
    h.create("/p", "");
    h.write(&create("/e", "", CreateMode::Ephemeral.code()))
        .unwrap();
    assert_eq!(
        h.write(&delete_container("/zookeeper")).err(),
        Some(ErrorCode::BadArguments)
    );
    assert_eq!(
        h.write(&delete_container("/missing")).err(),
        Some(ErrorCode::NoNode)
    );
    assert_eq!(
        h.write(&delete_container("/c")).err(),
        Some(ErrorCode::NotEmpty)
    );
    assert_eq!(
        h.write(&delete_container("/e")).err(),
        Some(ErrorCode::BadVersion)
    );
    // ZooKeeper refuses only session ephemerals: a persistent node goes (no ACL check).
    assert!(h.write(&delete_container("/p")).is_ok());
}

#[test]
fn container_flag_on_a_plain_create_makes_a_persistent_node() {
    // ZooKeeper's txn for OpCode.create carries only "ephemeral", so the applied node is
    // persistent; clients send createContainer for containers.
    let mut h = Harness::new();
    h.write(&create("/c", "", CONTAINER)).unwrap();
    assert!(h.tree.containers().is_empty());
}

#[test]
fn ttl_nodes() {
    let mut h = Harness::with_config(DataTreeConfig {
        extended_types_enabled: true,
        ..DataTreeConfig::default()
    });
    let a = h
        .write(&create_op(OpCode::CreateTtl, "/t", "", TTL, Some(500)))
        .unwrap();
    let TxnResult::Create { stat, .. } = a.result else {
        panic!("{a:?}")
    };
    assert_eq!(stat.ephemeral_owner, 0);
    assert_eq!(h.tree.ttl_nodes(), vec!["/t".to_string()]);
    assert_eq!(h.tree.ephemeral_count(), 0);
    let mtime = stat.mtime;
    assert!(h.tree.expired_ttls(mtime + 500).is_empty());
    assert_eq!(h.tree.expired_ttls(mtime + 501), vec!["/t".to_string()]);
    // A TTL node may have children; then it is not expired.
    h.create("/t/c", "");
    assert!(h.tree.expired_ttls(mtime + 10_000).is_empty());
    h.write(&delete("/t/c", -1)).unwrap();
    // A data change restarts the clock (mtime).
    h.write(&set("/t", "x", -1)).unwrap();
    let mtime2 = h.stat("/t").mtime;
    assert!(h.tree.expired_ttls(mtime2 + 500).is_empty());
    h.write(&delete_container("/t")).unwrap();
    assert!(h.tree.ttl_nodes().is_empty());
    // Sequential TTL names.
    let seq_ttl = CreateMode::PersistentSequentialWithTtl.code();
    let a = h
        .write(&create_op(OpCode::CreateTtl, "/s", "", seq_ttl, Some(5)))
        .unwrap();
    assert!(matches!(a.result, TxnResult::Create { ref path, .. } if path == "/s0000000001"));
}
