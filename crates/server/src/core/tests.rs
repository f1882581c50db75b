//! The core's inputs and the exact effects they give, whole (as corral-zab's tests compare
//! whole outputs): every expected frame is encoded here from the records ZooKeeper sends.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use corral_datatree::{Txn, TxnBody};
use corral_jute::codes::{xid, ErrorCode, EventType, KeeperState, OpCode};
use corral_jute::frame::{encode_frame, encode_reply, JuteWrite};
use corral_jute::io::{Jute, Secret};
use corral_jute::records::*;
use corral_session::{Password, SessionId};

use super::*;
use crate::ServerConfig;

mod admin;
mod throttle;

const NOW: Now = Now {
    mono_us: 1_000_000,
    wall_ms: 1_700_000_000_000,
};

/// `NOW` plus `ms`.
fn later(ms: u64) -> Now {
    Now {
        mono_us: NOW.mono_us + ms * 1000,
        wall_ms: NOW.wall_ms + ms as i64,
    }
}

fn core() -> Core {
    let config = ServerConfig::parse("dataDir=/unused\nclientPort=1\n").expect("config");
    Core::new(config, NOW).expect("core")
}

/// Handles `input` at `now`; its effects.
fn step(core: &mut Core, input: Input, now: Now) -> Vec<Effect> {
    core.handle(input, now);
    core.take_effects()
}

fn frame_of(conn: ConnId, body: impl FnOnce(&mut BytesMut)) -> Input {
    let mut out = BytesMut::new();
    body(&mut out);
    Input::Frame {
        conn,
        frame: out.freeze(),
        nonce: None,
    }
}

fn request(conn: ConnId, xid: i32, op: OpCode, body: &dyn JuteWrite) -> Input {
    frame_of(conn, |o| {
        RequestHeader { xid, op: op.code() }.write(o);
        body.write_to(o);
    })
}

fn connect_request(session_id: i64, passwd: &[u8]) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: 30_000,
        session_id,
        passwd: Secret(Bytes::copy_from_slice(passwd)),
        read_only: Some(false),
    }
}

fn connect_frame(session_id: i64, timeout: i32, passwd: &[u8]) -> Bytes {
    let resp = ConnectResponse {
        protocol_version: 0,
        timeout,
        session_id,
        passwd: Secret(Bytes::copy_from_slice(passwd)),
        read_only: Some(false),
    };
    let mut out = BytesMut::new();
    encode_frame(&mut out, |o| resp.write(o));
    out.freeze()
}

fn reply(
    conn: ConnId,
    xid: i32,
    zxid: i64,
    err: ErrorCode,
    body: Option<&dyn JuteWrite>,
) -> Effect {
    let mut out = BytesMut::new();
    let header = ReplyHeader {
        xid,
        zxid,
        err: err.code(),
    };
    encode_reply(&mut out, &header, body);
    Effect::Send {
        conn,
        frame: out.freeze(),
    }
}

fn event(conn: ConnId, path: &str, event: EventType) -> Effect {
    let body = WatcherEvent {
        event_type: event.code(),
        state: KeeperState::SyncConnected.code(),
        path: path.into(),
    };
    reply(conn, xid::NOTIFICATION, -1, ErrorCode::Ok, Some(&body))
}

fn log(txn: &Txn) -> Effect {
    let mut out = BytesMut::new();
    txn.encode(&mut out);
    Effect::Log {
        zxid: txn.zxid,
        txn: out.freeze(),
    }
}

fn open(core: &mut Core, port: u16) -> ConnId {
    let remote = format!("127.0.0.1:{port}").parse().expect("addr");
    core.open_connection(remote, conns::Transport::plain(), NOW)
        .expect("connection")
}

/// The session id and password the first session of a standalone core gets: server id 1
/// in the top byte (ZooKeeper's standalone createSessionTrackerServerId), then the clock.
fn first_session() -> (i64, Password) {
    let id = SessionId::initial(1, NOW.wall_ms as u64);
    (
        id.0,
        Password::derive(id, corral_session::SessionConfig::default().password_secret),
    )
}

/// Connects a new session on a new connection and makes its createSession durable.
fn connected(core: &mut Core, port: u16) -> (ConnId, i64) {
    let conn = open(core, port);
    let effects = step(
        core,
        frame_of(conn, |o| connect_request(0, &[0; 16]).write(o)),
        NOW,
    );
    let Some(Effect::Log { zxid, .. }) = effects.first() else {
        panic!("a createSession txn: {effects:?}");
    };
    let zxid = *zxid;
    step(core, Input::Durable(zxid), NOW);
    let session = core
        .conns
        .get(conn)
        .and_then(|c| c.session())
        .expect("session");
    (conn, session)
}

fn create(path: &str) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: Some(Bytes::from_static(b"v")),
        acl: corral_acl::open_acl_unsafe(),
        flags: 0,
    }
}

fn create_txn(zxid: Zxid, session_id: i64, cxid: i32, path: &str, data: &'static [u8]) -> Txn {
    Txn {
        zxid,
        time_ms: NOW.wall_ms,
        session_id,
        cxid,
        body: TxnBody::Create {
            path: path.into(),
            data: Some(Bytes::from_static(data)),
            acl: corral_acl::open_acl_unsafe(),
            ephemeral_owner: 0,
            parent_cversion: 1,
            op: OpCode::Create,
        },
    }
}

#[test]
fn connect_logs_create_session_and_answers_once_durable() {
    let mut core = core();
    let conn = open(&mut core, 5000);
    let (id, passwd) = first_session();
    let effects = step(
        &mut core,
        frame_of(conn, |o| connect_request(0, &[0; 16]).write(o)),
        NOW,
    );
    let txn = Txn {
        zxid: Zxid(1),
        time_ms: NOW.wall_ms,
        session_id: id,
        cxid: 0,
        body: TxnBody::CreateSession { timeout_ms: 30_000 },
    };
    assert_eq!(effects, vec![log(&txn)]);
    assert_eq!(SessionId(id).server_id(), 1);
    assert!(
        core.state().sessions().is_empty(),
        "not applied before durable"
    );

    let effects = step(&mut core, Input::Durable(Zxid(1)), NOW);
    assert_eq!(
        effects,
        vec![Effect::Send {
            conn,
            frame: connect_frame(id, 30_000, passwd.as_bytes()),
        }]
    );
    assert_eq!(core.state().sessions(), &BTreeMap::from([(id, 30_000)]));
    assert_eq!(core.state().applied_zxid(), Zxid(1));
}

/// A client's lastZxidSeen orders as the server's zxids do (unsigned): epoch 2^31 is ahead of
/// this fresh server, while -1 (the reserved epoch: "none seen") is not.
#[test]
fn a_client_ahead_is_refused_and_minus_one_is_none_seen() {
    let mut core = core();
    for (seen, ahead) in [
        (0, false),
        (-1, false),
        (5, true),
        (Zxid::new(0x8000_0000, 1).to_wire(), true),
    ] {
        let conn = open(&mut core, 4000);
        let req = ConnectRequest {
            last_zxid_seen: seen,
            ..connect_request(0, &[0; 16])
        };
        let got = core.handle_connect(conn, req, NOW);
        assert_eq!(
            matches!(got, Err(ConnError::ClientAhead { .. })),
            ahead,
            "lastZxidSeen {seen:#x}: {got:?}"
        );
    }
}

#[test]
fn reconnect_with_a_wrong_password_closes_the_owner_and_expires_the_client() {
    let mut core = core();
    let (first, session) = connected(&mut core, 5000);
    let second = open(&mut core, 5001);
    let effects = step(
        &mut core,
        frame_of(second, |o| connect_request(session, &[7; 16]).write(o)),
        later(10),
    );
    assert_eq!(
        effects,
        vec![
            Effect::Close { conn: first },
            Effect::Send {
                conn: second,
                frame: connect_frame(0, 0, &[0; 16]),
            },
            Effect::Close { conn: second },
        ]
    );
    // The session itself is untouched: the right password still resumes it.
    let third = open(&mut core, 5002);
    let (_, passwd) = first_session();
    let effects = step(
        &mut core,
        frame_of(third, |o| {
            connect_request(session, passwd.as_bytes()).write(o)
        }),
        later(20),
    );
    assert_eq!(
        effects,
        vec![Effect::Send {
            conn: third,
            frame: connect_frame(session, 30_000, passwd.as_bytes()),
        }]
    );
}

#[test]
fn a_write_is_answered_only_after_it_is_durable() {
    let mut core = core();
    let (conn, session) = connected(&mut core, 5000);
    let effects = step(
        &mut core,
        request(conn, 1, OpCode::Create, &create("/a")),
        NOW,
    );
    assert_eq!(
        effects,
        vec![log(&create_txn(Zxid(2), session, 1, "/a", b"v"))]
    );
    assert_eq!(
        step(&mut core, Input::Durable(Zxid(1)), NOW),
        vec![],
        "an older zxid"
    );
    let effects = step(&mut core, Input::Durable(Zxid(2)), NOW);
    let body = PathResponse { path: "/a".into() };
    assert_eq!(effects, vec![reply(conn, 1, 2, ErrorCode::Ok, Some(&body))]);
}

#[test]
fn a_read_waits_behind_its_sessions_write_and_other_sessions_do_not() {
    let mut core = core();
    let (conn, session) = connected(&mut core, 5000);
    let (other, _) = connected(&mut core, 5001);
    let get = |path: &str| GetDataRequest {
        path: path.into(),
        watch: false,
    };
    let effects = step(
        &mut core,
        request(conn, 1, OpCode::Create, &create("/a")),
        NOW,
    );
    assert_eq!(
        effects,
        vec![log(&create_txn(Zxid(3), session, 1, "/a", b"v"))]
    );
    // The session's read waits; another session's read of the same node is answered now.
    assert_eq!(
        step(
            &mut core,
            request(conn, 2, OpCode::GetData, &get("/a")),
            NOW
        ),
        vec![]
    );
    let effects = step(
        &mut core,
        request(other, 1, OpCode::GetData, &get("/a")),
        NOW,
    );
    assert_eq!(effects, vec![reply(other, 1, 2, ErrorCode::NoNode, None)]);

    let effects = step(&mut core, Input::Durable(Zxid(3)), NOW);
    let (data, stat) = core.state().tree().get_data("/a").expect("/a");
    assert_eq!(
        effects,
        vec![
            reply(
                conn,
                1,
                3,
                ErrorCode::Ok,
                Some(&PathResponse { path: "/a".into() })
            ),
            reply(
                conn,
                2,
                3,
                ErrorCode::Ok,
                Some(&GetDataResponse { data, stat })
            ),
        ]
    );
}

#[test]
fn an_expired_session_is_closed_by_its_txn_and_its_ephemerals_go() {
    let mut core = core();
    let (conn, session) = connected(&mut core, 5000);
    let (watcher, _) = connected(&mut core, 5001);
    let ephemeral = CreateRequest {
        flags: 1,
        ..create("/e")
    };
    step(&mut core, request(conn, 1, OpCode::Create, &ephemeral), NOW);
    step(&mut core, Input::Durable(Zxid(3)), NOW);
    let exists = ExistsRequest {
        path: "/e".into(),
        watch: true,
    };
    step(&mut core, request(watcher, 1, OpCode::Exists, &exists), NOW);

    // The other session keeps itself alive; this one does not.
    let ping = frame_of(watcher, |o| {
        RequestHeader {
            xid: xid::PING,
            op: OpCode::Ping.code(),
        }
        .write(o)
    });
    let pinged = step(&mut core, ping, later(20_000));
    assert_eq!(
        pinged,
        vec![reply(watcher, xid::PING, 3, ErrorCode::Ok, None)]
    );
    // Nothing is due before the deadline (30 s after the last request, rounded up to a tick).
    assert_eq!(step(&mut core, Input::Tick, later(29_000)), vec![]);
    let effects = step(&mut core, Input::Tick, later(40_000));
    let close = Txn {
        zxid: Zxid(4),
        time_ms: later(40_000).wall_ms,
        session_id: session,
        cxid: 0,
        body: TxnBody::CloseSession {
            ephemerals: vec!["/e".into()],
        },
    };
    assert_eq!(effects, vec![log(&close)]);
    // Once durable: the ephemeral's watcher hears of it, the session's connection closes.
    let effects = step(&mut core, Input::Durable(Zxid(4)), later(40_002));
    assert_eq!(
        effects,
        vec![
            event(watcher, "/e", EventType::NodeDeleted),
            Effect::Close { conn }
        ]
    );
    assert!(core.state().tree().stat("/e").is_none());
    assert!(!core.state().sessions().contains_key(&session));
}

#[test]
fn a_watch_event_goes_out_before_the_reply_to_a_later_read() {
    let mut core = core();
    let (conn, session) = connected(&mut core, 5000);
    let exists = ExistsRequest {
        path: "/b".into(),
        watch: true,
    };
    let effects = step(&mut core, request(conn, 1, OpCode::Exists, &exists), NOW);
    assert_eq!(effects, vec![reply(conn, 1, 1, ErrorCode::NoNode, None)]);
    step(
        &mut core,
        request(conn, 2, OpCode::Create, &create("/b")),
        NOW,
    );
    let get = GetDataRequest {
        path: "/b".into(),
        watch: false,
    };
    assert_eq!(
        step(&mut core, request(conn, 3, OpCode::GetData, &get), NOW),
        vec![]
    );

    let effects = step(&mut core, Input::Durable(Zxid(2)), NOW);
    let (data, stat) = core.state().tree().get_data("/b").expect("/b");
    assert_eq!(
        effects,
        vec![
            event(conn, "/b", EventType::NodeCreated),
            reply(
                conn,
                2,
                2,
                ErrorCode::Ok,
                Some(&PathResponse { path: "/b".into() })
            ),
            reply(
                conn,
                3,
                2,
                ErrorCode::Ok,
                Some(&GetDataResponse { data, stat })
            ),
        ]
    );
    assert_eq!(
        core.conns.get(conn).and_then(|c| c.session()),
        Some(session)
    );
}

#[test]
fn a_committed_txn_no_local_request_waits_for_is_applied_all_the_same() {
    let mut core = core();
    let (conn, session) = connected(&mut core, 5000);
    let get = GetDataRequest {
        path: "/c".into(),
        watch: true,
    };
    // A txn of this session with a cxid no local request has (as a leader's COMMIT of a
    // request sent through another server would be): applied, watches fired, no reply.
    let foreign = Txn {
        body: TxnBody::SetData {
            path: "/c".into(),
            data: Some(Bytes::from_static(b"w")),
            version: 1,
        },
        ..create_txn(Zxid(2), session, 99, "/c", b"v")
    };
    core.apply_committed(&create_txn(Zxid(2), session, 98, "/c", b"v"), NOW);
    assert_eq!(core.take_effects(), vec![]);
    step(&mut core, request(conn, 2, OpCode::GetData, &get), NOW);
    core.apply_committed(
        &Txn {
            zxid: Zxid(3),
            ..foreign
        },
        NOW,
    );
    assert_eq!(
        core.take_effects(),
        vec![event(conn, "/c", EventType::NodeDataChanged)]
    );
    assert_eq!(core.state().applied_zxid(), Zxid(3));
}

#[test]
fn a_malformed_frame_closes_only_its_connection() {
    let mut core = core();
    let (conn, _) = connected(&mut core, 5000);
    let effects = step(
        &mut core,
        frame_of(conn, |o| o.extend_from_slice(&[0, 0, 0])),
        NOW,
    );
    assert_eq!(effects, vec![Effect::Close { conn }]);
    // Later frames of a closing connection are ignored.
    let effects = step(
        &mut core,
        request(conn, 1, OpCode::Create, &create("/z")),
        NOW,
    );
    assert_eq!(effects, vec![]);
}

#[test]
fn after_the_log_fails_requests_queued_behind_a_lost_write_still_run() {
    let mut core = core();
    let (first, session) = connected(&mut core, 5000);
    let get = GetDataRequest {
        path: "/".into(),
        watch: false,
    };
    let effects = step(
        &mut core,
        request(first, 1, OpCode::Create, &create("/a")),
        NOW,
    );
    assert_eq!(
        effects,
        vec![log(&create_txn(Zxid(2), session, 1, "/a", b"v"))]
    );
    // The client moves to a new connection while its write waits for the disk; its next
    // requests queue behind that write.
    let second = open(&mut core, 5001);
    let (_, passwd) = first_session();
    step(
        &mut core,
        frame_of(second, |o| {
            connect_request(session, passwd.as_bytes()).write(o)
        }),
        NOW,
    );
    assert_eq!(
        step(&mut core, request(second, 2, OpCode::GetData, &get), NOW),
        vec![]
    );
    assert_eq!(
        step(
            &mut core,
            request(second, 3, OpCode::Create, &create("/b")),
            NOW
        ),
        vec![]
    );
    // The write never becomes durable: the queued read is answered, the queued write
    // cannot be logged any more (its connection closes), nothing waits forever.
    let effects = step(&mut core, Input::LogFailed("disk full".into()), NOW);
    let (data, stat) = core.state().tree().get_data("/").expect("/");
    assert_eq!(
        effects,
        vec![
            reply(
                second,
                2,
                1,
                ErrorCode::Ok,
                Some(&GetDataResponse { data, stat })
            ),
            Effect::Close { conn: second },
        ]
    );
}

#[test]
fn a_request_pipelined_after_close_session_does_not_lose_the_close_reply() {
    let mut core = core();
    let (conn, session) = connected(&mut core, 5000);
    let effects = step(
        &mut core,
        frame_of(conn, |o| {
            RequestHeader {
                xid: 5,
                op: OpCode::CloseSession.code(),
            }
            .write(o)
        }),
        NOW,
    );
    let close = Txn {
        zxid: Zxid(2),
        time_ms: NOW.wall_ms,
        session_id: session,
        cxid: 5,
        body: TxnBody::CloseSession {
            ephemerals: Vec::new(),
        },
    };
    assert_eq!(effects, vec![log(&close)]);
    let get = GetDataRequest {
        path: "/".into(),
        watch: false,
    };
    let pipelined = step(&mut core, request(conn, 6, OpCode::GetData, &get), NOW);
    let effects = step(&mut core, Input::Durable(Zxid(2)), NOW);
    assert_eq!(
        (pipelined, effects),
        (
            vec![],
            vec![
                reply(conn, 5, 2, ErrorCode::Ok, None),
                Effect::Close { conn }
            ]
        )
    );
}

#[test]
fn a_connection_without_a_session_is_closed_after_ten_seconds() {
    let mut core = core();
    let silent = open(&mut core, 5000);
    let (with_session, _) = connected(&mut core, 5001);
    assert_eq!(step(&mut core, Input::Tick, later(9_999)), vec![]);
    assert_eq!(
        step(&mut core, Input::Tick, later(10_000)),
        vec![Effect::Close { conn: silent }]
    );
    assert!(core
        .conns
        .get(with_session)
        .is_some_and(|c| !c.is_closing()));
}
