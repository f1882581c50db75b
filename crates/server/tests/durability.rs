//! Durability through the server: acknowledged writes and sessions survive a restart, a disk
//! that fails an fsync never gets a write acknowledged, and a TRUNC rebuilds the state from
//! snapshot + log as ZooKeeper's learner does.

mod support;

use std::sync::Arc;

use corral_storage::{Fault, FaultyDisk};
use support::{fresh_dir, start_in, RawClient};

#[tokio::test]
async fn acknowledged_writes_and_sessions_survive_a_restart() {
    let dir = fresh_dir("restart");
    // A small snapCount: the restart loads a snapshot and replays the log after it.
    let server = start_in(&dir, "snapCount=4\n", None).await;
    let (mut c, session) = RawClient::resume(server.addr, 0, &[0; 16]).await;
    for i in 0..10 {
        let h = c
            .create(i + 1, &format!("/n{i}"), format!("v{i}").as_bytes(), 0)
            .await;
        assert_eq!(h.map(|h| h.err), Some(0));
    }
    let h = c.create(20, "/eph", b"e", 1).await;
    assert_eq!(h.map(|h| h.err), Some(0));
    server.stop().await;

    let server = start_in(&dir, "snapCount=4\n", None).await;
    let mut reader = RawClient::connect(server.addr).await;
    for i in 0..10 {
        let (data, stat) = reader
            .get(1, &format!("/n{i}"))
            .await
            .expect("znode survived");
        assert_eq!(data.as_deref(), Some(format!("v{i}").as_bytes()));
        assert_eq!(stat.version, 0);
    }
    let (_, eph) = reader.get(2, "/eph").await.expect("the ephemeral survived");
    assert_eq!(eph.ephemeral_owner, session.session_id);
    // The session itself survived: it resumes with its id and password.
    let (_resumed, resp) =
        RawClient::resume(server.addr, session.session_id, &session.passwd.0).await;
    assert_eq!(resp.session_id, session.session_id);
    assert!(
        resp.timeout > 0,
        "the session is still valid after the restart"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_failed_fsync_never_acknowledges_a_write() {
    let dir = fresh_dir("fsync");
    let disk = FaultyDisk::new();
    let server = start_in(&dir, "", Some(disk.clone())).await;
    let mut writer = RawClient::connect(server.addr).await;
    let mut reader = RawClient::connect(server.addr).await;
    assert_eq!(
        writer.create(1, "/ok", b"1", 0).await.map(|h| h.err),
        Some(0)
    );

    disk.fail_syncs(Some(Fault::Io));
    assert!(
        writer.create(2, "/lost", b"2", 0).await.is_none(),
        "a write whose fsync failed is not acknowledged: the connection closes"
    );
    // The server keeps serving reads, and what was acknowledged is there.
    let (data, _) = reader.get(3, "/ok").await.expect("reads still served");
    assert_eq!(data.as_deref(), Some(&b"1"[..]));
    // And it serves no more writes, even once the disk works again.
    disk.fail_syncs(None);
    assert!(reader.create(4, "/later", b"3", 0).await.is_none());
    server.stop().await;

    // After a restart on a healthy disk, everything acknowledged is there.
    let disk: Arc<dyn corral_storage::Disk> = FaultyDisk::new();
    let server = start_in(&dir, "", Some(disk)).await;
    let mut c = RawClient::connect(server.addr).await;
    let (data, _) = c.get(1, "/ok").await.expect("acknowledged write survived");
    assert_eq!(data.as_deref(), Some(&b"1"[..]));
    assert_eq!(c.get(2, "/later").await.err(), Some(-101));
    server.stop().await;
}

#[tokio::test]
async fn a_session_that_never_returns_expires_after_a_restart() {
    let dir = fresh_dir("expire");
    // tickTime 100: the 30 s the client asks for is negotiated down to 2 s (20 ticks).
    let cfg = "tickTime=100\n";
    let server = start_in(&dir, cfg, None).await;
    let (mut c, session) = RawClient::resume(server.addr, 0, &[0; 16]).await;
    assert_eq!(session.timeout, 2000);
    assert_eq!(c.create(1, "/eph", b"e", 1).await.map(|h| h.err), Some(0));
    server.stop().await;
    drop(c);

    let server = start_in(&dir, cfg, None).await;
    let mut watcher = RawClient::connect(server.addr).await;
    // The restored session gets a full timeout from the restart, then expires; its ephemeral
    // goes with it (were the session not restored, nothing would ever delete it). Poll,
    // bounded in count and time, with no check in between: one would race the 2 s timeout on
    // a slow machine.
    let mut gone = false;
    for xid in 2..200 {
        if watcher.get(xid, "/eph").await.err() == Some(-101) {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        gone,
        "the ephemeral of a session that never came back is deleted"
    );
    let (_, resp) = RawClient::resume(server.addr, session.session_id, &session.passwd.0).await;
    assert_eq!(resp.timeout, 0, "the expired session cannot be resumed");
    server.stop().await;
}

/// The txns of a short history: createSession 1, then creates /t2 .. /t6 (zxids 2..=6).
fn history() -> Vec<corral_datatree::Txn> {
    use corral_datatree::{Txn, TxnBody};
    let session = 0x0100_0000_0000_0001;
    let mut txns = vec![Txn {
        zxid: 1,
        time_ms: 1,
        session_id: session,
        cxid: 0,
        body: TxnBody::CreateSession { timeout_ms: 30_000 },
    }];
    for zxid in 2..=6 {
        txns.push(Txn {
            zxid,
            time_ms: zxid,
            session_id: session,
            cxid: zxid as i32,
            body: TxnBody::Create {
                path: format!("/t{zxid}"),
                data: Some(bytes::Bytes::from_static(b"d")),
                acl: corral_acl::open_acl_unsafe(),
                ephemeral_owner: 0,
                parent_cversion: zxid as i32 - 1,
                op: corral_jute::codes::OpCode::Create,
            },
        });
    }
    txns
}

fn paths(tree: &corral_datatree::DataTree) -> Vec<String> {
    let mut children = tree.get_children("/").map(|(c, _)| c).unwrap_or_default();
    children.retain(|c| c.starts_with('t'));
    children.sort();
    children
}

/// TRUNC, at the level the server exposes (corral_server::durability): txns logged above the
/// truncation point are gone from the rebuilt state, from the log on disk, and from what a
/// restart recovers; a snapshot above the point is removed and an older one used instead.
#[test]
fn truncate_rebuilds_from_snapshot_and_log() {
    use corral_server::durability::{Durability, SnapshotChunk};
    use corral_server::ServerConfig;

    let dir = fresh_dir("trunc");
    let config =
        ServerConfig::parse(&format!("dataDir={}\nclientPort=0\n", dir.display())).expect("config");
    let (durable_tx, durable_rx) = std::sync::mpsc::channel();
    let (state, durability) = Durability::open(&config, None, move |r| {
        let _ = durable_tx.send(r.ok());
    })
    .expect("open");
    assert_eq!(state.tree.last_zxid(), 0);
    let txns = history();
    let mut tree = corral_datatree::DataTree::new();
    let mut snapshot_at_4 = None;
    for txn in &txns {
        let mut encoded = bytes::BytesMut::new();
        txn.encode(&mut encoded);
        durability.append(txn.zxid, encoded.freeze());
        tree.apply(txn);
        if txn.zxid == 4 {
            let mut out = Vec::new();
            tree.write_snapshot(&mut out).expect("snapshot bytes");
            snapshot_at_4 = Some(out);
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while durability.durable_zxid() < Some(6) {
        assert!(std::time::Instant::now() < deadline, "durable in time");
        let _ = durable_rx.recv_timeout(std::time::Duration::from_millis(100));
    }
    // A snapshot at zxid 4 (the tree after txns 1..=4, with session 1).
    let (chunks_tx, chunks_rx) = tokio::sync::mpsc::channel(1);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let sessions = std::collections::BTreeMap::from([(txns[0].session_id, 30_000)]);
    let writer = durability
        .write_snapshot(4, sessions, chunks_rx, move |ok| {
            let _ = done_tx.send(ok);
        })
        .expect("snapshot thread");
    chunks_tx
        .blocking_send(SnapshotChunk {
            records: snapshot_at_4.expect("taken"),
            last: true,
        })
        .expect("sent");
    assert_eq!(
        done_rx.recv_timeout(std::time::Duration::from_secs(10)),
        Ok(true)
    );
    let _ = writer.join();

    // TRUNC to 5: the snapshot at 4 stays, txn 5 is replayed after it, 6 is gone.
    let state = durability.truncate_and_rebuild(5).expect("truncate to 5");
    assert_eq!(state.tree.last_zxid(), 5);
    assert_eq!(paths(&state.tree), ["t2", "t3", "t4", "t5"]);
    assert_eq!(
        state.replayed, 1,
        "only txn 5 replayed over the snapshot at 4"
    );
    assert_eq!(state.sessions.len(), 1);

    // TRUNC to 3: the snapshot at 4 is above the point and removed; snapshot.0 + txns 1..=3.
    let state = durability.truncate_and_rebuild(3).expect("truncate to 3");
    assert_eq!(state.tree.last_zxid(), 3);
    assert_eq!(paths(&state.tree), ["t2", "t3"]);
    assert_eq!(state.replayed, 3);
    durability.shutdown();

    // What is on disk agrees: a restart recovers the state at 3.
    let (state, durability) = Durability::open(&config, None, |_| {}).expect("reopen");
    assert_eq!(state.tree.last_zxid(), 3);
    assert_eq!(paths(&state.tree), ["t2", "t3"]);
    durability.shutdown();
}
