//! ZooKeeper's request throttle (ServerCnxn.incrOutstandingAndCheckThrottle /
//! decrOutstandingAndCheckThrottle, ZooKeeperServer.shouldThrottle): past
//! `globalOutstandingLimit` requests in process, a connection with requests outstanding is
//! no longer read until its own are answered.

use super::*;

/// A standalone core with `globalOutstandingLimit=limit`.
fn core_with_limit(limit: i32) -> Core {
    let text = format!("dataDir=/unused\nclientPort=1\nglobalOutstandingLimit={limit}\n");
    let config = ServerConfig::parse(&text).expect("config");
    Core::new(config, NOW).expect("core")
}

fn get(path: &str) -> GetDataRequest {
    GetDataRequest {
        path: path.into(),
        watch: false,
    }
}

/// The log effect of the `n`th create under `/` (its parent's cversion is `n`).
fn logged(zxid: Zxid, session: i64, xid: i32, path: &str, n: i32) -> Effect {
    let mut txn = create_txn(zxid, session, xid, path, b"v");
    if let TxnBody::Create {
        parent_cversion, ..
    } = &mut txn.body
    {
        *parent_cversion = n;
    }
    log(&txn)
}

fn ping(conn: ConnId) -> Input {
    frame_of(conn, |o| {
        RequestHeader {
            xid: xid::PING,
            op: OpCode::Ping.code(),
        }
        .write(o)
    })
}

#[test]
fn past_the_limit_connections_with_requests_outstanding_stop_being_read() {
    let mut core = core_with_limit(2);
    let (writer, session) = connected(&mut core, 5000);
    let (reader, _) = connected(&mut core, 5001);
    // Three creates wait for the log: the third puts 3 in process, past the limit of 2.
    for (xid, path, zxid) in [(1, "/a", 3), (2, "/b", 4)] {
        let effects = step(
            &mut core,
            request(writer, xid, OpCode::Create, &create(path)),
            NOW,
        );
        assert_eq!(effects, vec![logged(Zxid(zxid), session, xid, path, xid)]);
    }
    let effects = step(
        &mut core,
        request(writer, 3, OpCode::Create, &create("/c")),
        NOW,
    );
    assert_eq!(
        effects,
        vec![
            Effect::DisableRecv { conn: writer },
            logged(Zxid(5), session, 3, "/c", 3),
        ]
    );
    assert_eq!(core.conns.get(writer).map(|c| c.interest_ops()), Some(0));
    // Another connection's read is throttled as it is counted, and let go as it is answered
    // (its own count is back to 0), as ZooKeeper does.
    let effects = step(
        &mut core,
        request(reader, 1, OpCode::GetData, &get("/a")),
        NOW,
    );
    assert_eq!(
        effects,
        vec![
            Effect::DisableRecv { conn: reader },
            reply(reader, 1, 2, ErrorCode::NoNode, None),
            Effect::EnableRecv { conn: reader },
        ]
    );
    // Pings (xid < 0) are not counted.
    let effects = step(&mut core, ping(reader), NOW);
    assert_eq!(
        effects,
        vec![reply(reader, xid::PING, 2, ErrorCode::Ok, None)]
    );
    // The first create is answered: 2 in process, not past the limit: read again.
    let effects = step(&mut core, Input::Durable(Zxid(3)), NOW);
    assert_eq!(
        effects,
        vec![
            reply(
                writer,
                1,
                3,
                ErrorCode::Ok,
                Some(&PathResponse { path: "/a".into() })
            ),
            Effect::EnableRecv { conn: writer },
        ]
    );
    assert_eq!(core.conns.get(writer).map(|c| c.interest_ops()), Some(1));
    assert_eq!(core.conns.in_process(), 2);
    let effects = step(&mut core, Input::Durable(Zxid(5)), NOW);
    assert_eq!(
        effects.len(),
        2,
        "two replies and nothing else: {effects:?}"
    );
    assert_eq!(core.conns.in_process(), 0);
}

#[test]
fn a_throttled_connection_stays_throttled_while_the_server_is_past_the_limit() {
    let mut core = core_with_limit(1);
    let (conn, session) = connected(&mut core, 5000);
    step(
        &mut core,
        request(conn, 1, OpCode::Create, &create("/a")),
        NOW,
    );
    step(
        &mut core,
        request(conn, 2, OpCode::Create, &create("/b")),
        NOW,
    );
    let effects = step(
        &mut core,
        request(conn, 3, OpCode::Create, &create("/c")),
        NOW,
    );
    assert_eq!(
        effects,
        vec![logged(Zxid(4), session, 3, "/c", 3)],
        "disabled once, at the second request"
    );
    // The first is answered: 2 still in process, past 1, and this connection has 2 of them.
    let effects = step(&mut core, Input::Durable(Zxid(2)), NOW);
    assert_eq!(
        effects,
        vec![reply(
            conn,
            1,
            2,
            ErrorCode::Ok,
            Some(&PathResponse { path: "/a".into() })
        )]
    );
    // The second is answered: 1 in process, no longer past the limit: read again.
    let effects = step(&mut core, Input::Durable(Zxid(3)), NOW);
    assert_eq!(
        effects,
        vec![
            reply(
                conn,
                2,
                3,
                ErrorCode::Ok,
                Some(&PathResponse { path: "/b".into() })
            ),
            Effect::EnableRecv { conn },
        ]
    );
    let effects = step(&mut core, Input::Durable(Zxid(4)), NOW);
    assert_eq!(
        effects,
        vec![reply(
            conn,
            3,
            4,
            ErrorCode::Ok,
            Some(&PathResponse { path: "/c".into() })
        )]
    );
}

#[test]
fn a_closed_connection_takes_its_outstanding_requests_with_it() {
    let mut core = core_with_limit(1);
    let (writer, _) = connected(&mut core, 5000);
    let (reader, _) = connected(&mut core, 5001);
    step(
        &mut core,
        request(writer, 1, OpCode::Create, &create("/a")),
        NOW,
    );
    step(
        &mut core,
        request(writer, 2, OpCode::Create, &create("/b")),
        NOW,
    );
    assert_eq!(core.conns.in_process(), 2);
    step(&mut core, Input::Closed { conn: writer }, NOW);
    assert_eq!(core.conns.in_process(), 0);
    // Nothing in process: the other connection is not throttled at all.
    let effects = step(
        &mut core,
        request(reader, 1, OpCode::GetData, &get("/")),
        NOW,
    );
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::DisableRecv { .. })),
        "{effects:?}"
    );
}

#[test]
fn the_default_limit_is_zookeepers() {
    let config = ServerConfig::parse("dataDir=/x\nclientPort=1\n").expect("config");
    assert_eq!(config.global_outstanding_limit, 1000);
    let bad = ServerConfig::parse("dataDir=/x\nclientPort=1\nglobalOutstandingLimit=lots\n");
    assert!(bad.is_err());
}
