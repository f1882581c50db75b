//! Sessions: reconnect with the same session (ephemerals kept, watches re-registered with
//! setWatches2), expiry decided by the server, close.

use std::time::Duration;

use bytes::Bytes;
use corral_client::{AddWatchMode, Client, CreateMode, Error, EventType, SessionState};

use crate::support::{eventually, within, Proxy, Target, TestResult};

/// A local port nobody listens on.
pub fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(1)
}

pub async fn wait_state(states: &mut corral_client::StateStream, want: SessionState) -> TestResult {
    within(&format!("state {want:?}"), 15, async {
        while let Some(s) = states.next().await {
            if s == want {
                return Ok(());
            }
        }
        Err(format!("state stream ended before {want:?}"))
    })
    .await??;
    Ok(())
}

pub async fn reconnect_keeps_session_and_watches(t: Target) -> TestResult {
    let proxy = Proxy::start(t.addr).await;
    let other = t.client().await?;
    // Two hosts: one dead, one behind the proxy; the client must find the live one each time.
    let cs = format!("127.0.0.1:{},{}", dead_port(), proxy.addr);
    let c = t.client_at(&cs).await?;
    let sid = c.session_id();
    c.create("/rc", "v0", CreateMode::Persistent).await?;
    c.create("/rc/e", "", CreateMode::Ephemeral).await?;
    let (_, _, data_watch) = c.get_data_w("/rc").await?;
    let (_, exist_watch) = c.exists_w("/rc/new").await?;
    let (_, child_watch) = c.get_children_w("/rc").await?;
    let mut pw = c.add_watch("/rc", AddWatchMode::Persistent).await?;
    let mut states = c.state_stream();

    proxy.block(true);
    proxy.cut();
    wait_state(&mut states, SessionState::Disconnected).await?;
    // Changes made while the client is away...
    other.set_data("/rc", "v1", None).await?;
    other.create("/rc/new", "", CreateMode::Persistent).await?;
    // ...and a request made while disconnected fails (the attempts are refused) or waits.
    let _ = c.exists("/rc").await;
    proxy.block(false);
    wait_state(&mut states, SessionState::SyncConnected).await?;
    assert_eq!(c.session_id(), sid, "same session after reconnect");

    // setWatches2 carried lastZxid: the missed changes fire the re-registered watches.
    let ev = within("data watch after reconnect", 10, data_watch).await??;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDataChanged, "/rc")
    );
    let ev = within("exist watch after reconnect", 10, exist_watch).await??;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeCreated, "/rc/new")
    );
    let ev = within("child watch after reconnect", 10, child_watch).await??;
    assert_eq!(ev.event_type, EventType::NodeChildrenChanged);
    // The persistent watch is registered again: a new change reaches it.
    other.set_data("/rc", "v2", None).await?;
    within("persistent watch after reconnect", 10, async {
        while let Some(ev) = pw.next().await {
            if ev.event_type == EventType::NodeDataChanged {
                return Ok(());
            }
        }
        Err("persistent stream ended")
    })
    .await??;
    // The ephemeral survived, still owned by the session.
    assert_eq!(
        other.exists("/rc/e").await?.map(|s| s.ephemeral_owner),
        Some(sid)
    );
    assert_eq!(&c.get_data("/rc").await?.0[..], b"v2");

    // Several cuts in a row, with requests in flight: every request ends (ok or
    // ConnectionLoss), and the session stays.
    for round in 0..3 {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..50 {
            let c = c.clone();
            set.spawn(async move { c.set_data("/rc", format!("{round}-{i}"), None).await });
        }
        proxy.cut();
        while let Some(r) = within("requests across a cut", 15, set.join_next()).await? {
            match r? {
                Ok(_) | Err(Error::ConnectionLoss) => {}
                Err(e) => return Err(format!("unexpected error across a cut: {e}").into()),
            }
        }
        within(
            "reconnect",
            15,
            c.wait_for_state(|s| s == SessionState::SyncConnected),
        )
        .await?;
    }
    assert_eq!(c.session_id(), sid);
    c.close().await?;
    other.close().await?;
    Ok(())
}

pub async fn expiry_is_reported(t: Target) -> TestResult {
    let proxy = Proxy::start(t.addr).await;
    let other = t.client().await?;
    let c = Client::builder(&proxy.addr.to_string())
        .session_timeout(Duration::from_millis(1500))
        .connect()
        .await?;
    c.create("/ex", "", CreateMode::Persistent).await?;
    c.create("/ex/e", "", CreateMode::Ephemeral).await?;
    let (_, _, watch) = c.get_data_w("/ex").await?;
    let mut states = c.state_stream();
    proxy.block(true);
    proxy.cut();
    wait_state(&mut states, SessionState::Disconnected).await?;
    // The server expires the session: its ephemeral goes.
    let o = other.clone();
    eventually("ephemeral of the expired session deleted", 300, || {
        let o = o.clone();
        async move { matches!(o.exists("/ex/e").await, Ok(None)) }
    })
    .await?;
    proxy.block(false);
    wait_state(&mut states, SessionState::Expired).await?;
    assert_eq!(c.state(), SessionState::Expired);
    assert_eq!(
        within("watch after expiry", 5, watch).await?,
        Err(Error::SessionExpired)
    );
    assert_eq!(c.get_data("/ex").await.err(), Some(Error::SessionExpired));
    assert!(states.next().await.is_none(), "Expired is terminal");
    other.close().await?;
    Ok(())
}

pub async fn close_deletes_ephemerals(t: Target) -> TestResult {
    let other = t.client().await?;
    let c = t.client().await?;
    c.create("/cl", "", CreateMode::Persistent).await?;
    c.create("/cl/e", "", CreateMode::Ephemeral).await?;
    let (id, pw) = (c.session_id(), c.session_password());
    let mut states = c.state_stream();
    c.close().await?;
    wait_state(&mut states, SessionState::Closed).await?;
    assert_eq!(other.exists("/cl/e").await?, None);
    assert_eq!(c.get_data("/cl").await.err(), Some(Error::Closed));
    // A closed session cannot be resumed; nor can a live one with the wrong password.
    let resumed = Client::builder(&t.connect_string())
        .session(id, pw)
        .connect()
        .await;
    assert_eq!(resumed.err(), Some(Error::SessionExpired));
    // Resume a live session from another client (its first client is cut off behind a
    // proxy: ZooKeeper closes a session's other connection when a connect names it, so two
    // live clients on one session keep knocking each other off).
    let proxy = Proxy::start(t.addr).await;
    let p = t.client_at(&proxy.addr.to_string()).await?;
    p.create("/cl/o", "", CreateMode::Ephemeral).await?;
    proxy.block(true);
    proxy.cut();
    let wrong = Client::builder(&t.connect_string())
        .session(p.session_id(), Bytes::from_static(&[1; 16]))
        .connect()
        .await;
    assert_eq!(wrong.err(), Some(Error::SessionExpired));
    let twin = Client::builder(&t.connect_string())
        .session(p.session_id(), p.session_password())
        .connect()
        .await?;
    assert_eq!(twin.session_id(), p.session_id());
    assert_eq!(
        twin.exists("/cl/o").await?.map(|s| s.ephemeral_owner),
        Some(p.session_id())
    );
    twin.close().await?;
    assert_eq!(other.exists("/cl/o").await?, None);
    proxy.block(false);
    let end = within(
        "first client learns",
        15,
        p.wait_for_state(|s| s.is_terminal()),
    )
    .await?;
    assert_eq!(end, SessionState::Expired);
    // Dropping every handle closes the session too.
    let d = t.client().await?;
    d.create("/cl/d", "", CreateMode::Ephemeral).await?;
    drop(d);
    let o = t.client().await?;
    let oc = o.clone();
    eventually("ephemeral of a dropped client deleted", 200, || {
        let oc = oc.clone();
        async move { matches!(oc.exists("/cl/d").await, Ok(None)) }
    })
    .await?;
    o.close().await?;
    other.close().await?;
    Ok(())
}
