//! Snapshots taken while writes keep coming are exact: every snapshot file the server wrote
//! holds the tree and the sessions exactly as replaying the log up to its zxid makes them.
//!
//! Four sessions write concurrently (creates, then setData and deletes) with a small
//! snapCount, so dozens of snapshots are taken, each serialised in many steps with batches of
//! writes applied between them. Recovery alone would not catch a wrong snapshot (replaying
//! the log after it repairs most damage), so each file is compared on its own.

mod support;

use std::collections::BTreeMap;

use bytes::Bytes;
use corral_datatree::{DataTree, DataTreeConfig, Txn, Zxid};
use corral_jute::codes::OpCode;
use corral_jute::io::Jute;
use corral_jute::records::{DeleteRequest, SetDataRequest};
use corral_server::durability::{parse_snapshot_payload, replay_txn};
use corral_storage::{read_snapshot_file, Storage, StorageConfig};
use support::{fresh_dir, start_in, RawClient};

const WRITERS: usize = 4;
const CREATES: usize = 300;

async fn writer(addr: std::net::SocketAddr, w: usize) {
    let mut c = RawClient::connect(addr).await;
    let top = format!("/w{w}");
    assert_eq!(c.create(1, &top, b"", 0).await.map(|h| h.err), Some(0));
    let mut xid = 2;
    for i in 0..CREATES {
        let h = c.create(xid, &format!("{top}/n{i}"), b"first", 0).await;
        assert_eq!(h.map(|h| h.err), Some(0));
        xid += 1;
    }
    for i in 0..CREATES {
        let path = format!("{top}/n{i}");
        let (h, _) = if i % 3 == 0 {
            c.request(xid, OpCode::Delete, |o| {
                DeleteRequest { path, version: -1 }.write(o)
            })
            .await
        } else {
            c.request(xid, OpCode::SetData, |o| {
                SetDataRequest {
                    path,
                    data: Some(Bytes::from(format!("second {i}"))),
                    version: -1,
                }
                .write(o)
            })
            .await
        };
        assert_eq!(h.err, 0);
        xid += 1;
    }
}

/// Everything a client can read of a tree, path by path.
fn dump(tree: &DataTree) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec!["/".to_string()];
    while let Some(path) = stack.pop() {
        let (data, stat) = tree.get_data(&path).expect("listed node exists");
        let (acl, _) = tree.get_acl(&path).expect("listed node exists");
        let (children, _) = tree.get_children(&path).expect("listed node exists");
        out.push(format!("{path} {data:?} {stat:?} {acl:?} {children:?}"));
        for child in children {
            stack.push(if path == "/" {
                format!("/{child}")
            } else {
                format!("{path}/{child}")
            });
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_snapshot_taken_under_writes_is_the_state_at_its_zxid() {
    let dir = fresh_dir("snapshots");
    let server = start_in(&dir, "snapCount=100\n", None).await;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(writer(server.addr, w)))
        .collect();
    for t in tasks {
        t.await.expect("writer finished");
    }
    server.stop().await;

    let storage = Storage::open(&StorageConfig::new(dir.clone())).expect("storage opens");
    let snapshots: BTreeMap<Zxid, _> = storage
        .snapshots
        .list()
        .expect("snapshots listed")
        .into_iter()
        .collect();
    assert!(
        snapshots.len() >= 10,
        "a snapCount of 100 over ~2,400 txns takes many snapshots, not {}",
        snapshots.len()
    );

    let config = DataTreeConfig::default();
    let mut tree = DataTree::with_config(config);
    let mut sessions: BTreeMap<i64, i32> = BTreeMap::new();
    let mut checked = 0;
    let mut check = |zxid: Zxid, tree: &DataTree, sessions: &BTreeMap<i64, i32>| {
        if let Some(path) = snapshots.get(&zxid) {
            let snap = read_snapshot_file(path).expect("snapshot readable");
            let (snap_tree, snap_sessions) =
                parse_snapshot_payload(&snap.payload, config).expect("snapshot parses");
            assert_eq!(snap_tree.last_zxid(), zxid);
            assert_eq!(
                dump(&snap_tree),
                dump(tree),
                "snapshot 0x{zxid:x} differs from the log replayed to its zxid"
            );
            assert_eq!(&snap_sessions, sessions, "sessions of snapshot 0x{zxid:x}");
            // The digest is recomputed on load: the replayed tree's, kept incrementally.
            assert_eq!(snap_tree.digest(), tree.digest(), "digest of 0x{zxid:x}");
            checked += 1;
        }
    };
    check(Zxid::ZERO, &tree, &sessions);
    for record in storage.log.read_from(Zxid::ZERO) {
        let (zxid, payload) = record.expect("log readable");
        let txn = Txn::decode(&payload).expect("txn decodes");
        replay_txn(&mut tree, &mut sessions, &txn);
        check(zxid, &tree, &sessions);
    }
    assert_eq!(
        checked,
        snapshots.len(),
        "every snapshot's zxid is in the log"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
