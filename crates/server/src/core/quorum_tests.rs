//! A leader's session owners, input by input (ZooKeeper's SessionMoved): the effects are
//! compared whole.

use bytes::{Bytes, BytesMut};
use corral_datatree::{Txn, TxnBody};
use corral_jute::codes::{ErrorCode, OpCode};
use corral_jute::io::Jute;
use corral_jute::records::CreateRequest;

use super::peer_msg::PeerMsg;
use super::*;
use crate::ServerConfig;

const NOW: Now = Now {
    mono_us: 1_000_000,
    wall_ms: 1_700_000_000_000,
};
const SESSION: i64 = 0x0200_0000_0000_0001;

fn leader() -> Core {
    let config = ServerConfig::parse("dataDir=/unused\nclientPort=1\n").expect("config");
    let mut core = Core::new(config, NOW).expect("core");
    core.set_role(QuorumRole::Leading { next_zxid: Zxid(1) }, NOW);
    core.take_effects();
    core
}

fn from(core: &mut Core, server: u64, msg: PeerMsg) -> Vec<Effect> {
    core.handle(
        Input::Peer {
            from: server,
            frame: msg.encode(),
        },
        NOW,
    );
    core.take_effects()
}

fn create_through(server: u64, cxid: i32) -> (u64, PeerMsg) {
    let mut body = BytesMut::new();
    CreateRequest {
        path: format!("/n{cxid}"),
        data: Some(Bytes::from_static(b"v")),
        acl: corral_acl::open_acl_unsafe(),
        flags: 0,
    }
    .write(&mut body);
    let msg = PeerMsg::Request {
        session_id: SESSION,
        cxid,
        op: OpCode::Create.code(),
        auth_ids: Vec::new(),
        body: body.freeze(),
    };
    (server, msg)
}

/// The bodies of the txns proposed.
fn proposed(effects: &[Effect]) -> Vec<TxnBody> {
    effects
        .iter()
        .map(|e| match e {
            Effect::Propose { txn, .. } => Txn::decode(txn).expect("txn").body,
            other => panic!("not a proposal: {other:?}"),
        })
        .collect()
}

fn moved() -> Vec<TxnBody> {
    vec![TxnBody::Error(ErrorCode::SessionMoved)]
}

fn is_create(bodies: &[TxnBody]) -> bool {
    matches!(bodies, [TxnBody::Create { .. }])
}

#[test]
fn a_write_through_a_server_the_session_left_is_session_moved() {
    let mut core = leader();
    let created = from(
        &mut core,
        2,
        PeerMsg::CreateSession {
            session_id: SESSION,
            timeout_ms: 30_000,
        },
    );
    assert_eq!(
        proposed(&created),
        vec![TxnBody::CreateSession { timeout_ms: 30_000 }]
    );
    // Created through server 2: its writes through 2 are prepped, through 3 refused.
    let (via, msg) = create_through(2, 1);
    assert!(is_create(&proposed(&from(&mut core, via, msg))));
    let (via, msg) = create_through(3, 2);
    assert_eq!(proposed(&from(&mut core, via, msg)), moved());
    // The client moves to server 3 (it revalidates there): now 2 is the stale one.
    let answer = from(
        &mut core,
        3,
        PeerMsg::Revalidate {
            session_id: SESSION,
        },
    );
    assert_eq!(
        answer,
        vec![Effect::ToPeer {
            peer: 3,
            msg: PeerMsg::Revalidated {
                session_id: SESSION,
                timeout_ms: 30_000,
            }
            .encode(),
        }]
    );
    let (via, msg) = create_through(2, 3);
    assert_eq!(proposed(&from(&mut core, via, msg)), moved());
    let (via, msg) = create_through(3, 4);
    assert!(is_create(&proposed(&from(&mut core, via, msg))));
}

#[test]
fn a_new_leader_gives_a_session_to_the_first_server_it_hears_from() {
    let mut core = leader();
    let mut out = BytesMut::new();
    Txn {
        zxid: Zxid(1),
        time_ms: NOW.wall_ms,
        session_id: SESSION,
        cxid: 0,
        body: TxnBody::CreateSession { timeout_ms: 30_000 },
    }
    .encode(&mut out);
    core.apply_txn(Zxid(1), &out.freeze(), NOW)
        .expect("applies");
    // Leadership changes: the new tracker knows the session but not its owner.
    core.set_role(QuorumRole::Leading { next_zxid: Zxid(2) }, NOW);
    core.take_effects();
    let (via, msg) = create_through(3, 1);
    assert!(is_create(&proposed(&from(&mut core, via, msg))));
    let (via, msg) = create_through(2, 2);
    assert_eq!(proposed(&from(&mut core, via, msg)), moved());
}
