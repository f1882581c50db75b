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
