//! Broadcast (ZooKeeper `Leader.propose` / `processAck` / `commit`,
//! `Follower.processPacket`), the leader's timeouts and zxid rollover.

use bytes::Bytes;

use super::sync::{follower, leader_awaiting_newleader_ack};
use super::*;
use crate::{Persist, ZabError};

/// Leader 3 established in epoch 1 with follower 1 synchronised.
fn established() -> Zab {
    let mut l = leader_awaiting_newleader_ack();
    l.step(1, Message::Ack { zxid: z(1, 0) }).unwrap();
    let _ = flush(&mut l);
    assert!(l.status().established);
    l
}

#[test]
fn propose_ack_commit_pipelined() {
    let mut l = established();
    let zs: Vec<Zxid> = (0..3)
        .map(|i| l.propose(Bytes::from(format!("p{i}"))).unwrap())
        .collect();
    assert_eq!(zs, vec![z(1, 1), z(1, 2), z(1, 3)]);
    let r = l.ready();
    assert_eq!(r.persist.len(), 3);
    assert!(matches!(&r.persist[0], Persist::Append(e) if e.zxid == z(1, 1)));
    assert_eq!(
        r.messages.len(),
        3,
        "three proposals in flight before any ACK"
    );
    assert!(r.committed.is_empty());
    l.advance(r.number);
    assert!(
        l.ready().messages.is_empty(),
        "the leader's own durability is one vote of two"
    );
    l.step(1, Message::Ack { zxid: z(1, 2) }).unwrap();
    let r = flush(&mut l);
    assert_eq!(r.messages, vec![(1, Message::Commit { zxid: z(1, 2) })]);
    assert_eq!(
        r.committed.iter().map(|e| e.zxid).collect::<Vec<_>>(),
        vec![z(1, 1), z(1, 2)]
    );
    l.step(1, Message::Ack { zxid: z(1, 3) }).unwrap();
    assert_eq!(flush(&mut l).committed.len(), 1);
}

#[test]
fn a_follower_acks_only_after_persisting() {
    let mut f = follower(empty());
    for m in [
        Message::LeaderInfo { epoch: 1 },
        Message::Diff { zxid: Zxid::ZERO },
        Message::NewLeader { zxid: z(1, 0) },
    ] {
        f.step(3, m).unwrap();
    }
    let _ = flush(&mut f);
    for c in 1..=2 {
        let e = entry(1, c);
        f.step(
            3,
            Message::Proposal {
                zxid: e.zxid,
                payload: e.payload,
            },
        )
        .unwrap();
    }
    let r = f.ready();
    assert_eq!(
        r.persist,
        vec![Persist::Append(entry(1, 1)), Persist::Append(entry(1, 2))]
    );
    assert!(r.messages.is_empty());
    assert_eq!(
        r.send_after_persist,
        vec![(3, Message::Ack { zxid: z(1, 2) })],
        "one cumulative ACK"
    );
    // A COMMIT before our own fsync: nothing is applied until durable.
    f.step(3, Message::Commit { zxid: z(1, 2) }).unwrap();
    assert!(f.ready().committed.is_empty());
    f.advance(r.number + 1);
    assert_eq!(f.ready().committed, vec![entry(1, 1), entry(1, 2)]);
    // A gap in the stream is a broken connection.
    let e = entry(1, 4);
    assert!(f
        .step(
            3,
            Message::Proposal {
                zxid: e.zxid,
                payload: e.payload
            }
        )
        .is_err());
    assert_eq!(f.status().role, Role::Looking);
}

#[test]
fn only_the_established_leader_proposes() {
    let mut f = follower(empty());
    assert_eq!(
        f.propose(Bytes::new()),
        Err(ZabError::NotLeader { leader: Some(3) })
    );
    let mut a = fresh(1, &[1, 2, 3]);
    assert_eq!(
        a.propose(Bytes::new()),
        Err(ZabError::NotLeader { leader: None })
    );
}

#[test]
fn a_silent_follower_is_dropped_and_the_leader_steps_down() {
    let mut l = established();
    for t in 1..=10 {
        l.tick().unwrap();
        let r = flush(&mut l);
        assert_eq!(r.messages, vec![(1, Message::Ping)], "tick {t}");
        l.step(1, Message::Ping).unwrap();
    }
    for _ in 0..10 {
        l.tick().unwrap();
        let _ = flush(&mut l);
    }
    assert_eq!(l.status().role, Role::Leading, "still within syncLimit");
    l.tick().unwrap();
    assert_eq!(
        l.status().role,
        Role::Looking,
        "no quorum of synced voters left"
    );
}

#[test]
fn rollover_refuses_then_steps_down_once_drained() {
    let mut c = cfg(3, &[1, 2, 3]);
    c.finalize_wait = 0;
    c.counter_limit = 2;
    let mut l = Zab::new(c, Persisted::default(), MemoryLog::default()).unwrap();
    let _ = flush(&mut l);
    l.step(2, notif(3, Zxid::ZERO, 1, 0, Role::Looking))
        .unwrap();
    l.step(
        1,
        Message::FollowerInfo {
            accepted_epoch: 0,
            observer: false,
        },
    )
    .unwrap();
    let _ = flush(&mut l);
    l.step(
        1,
        Message::AckEpoch {
            current_epoch: Some(0),
            last_zxid: Zxid::ZERO,
        },
    )
    .unwrap();
    let _ = flush(&mut l);
    l.step(1, Message::Ack { zxid: z(1, 0) }).unwrap();
    assert_eq!(l.propose(Bytes::from_static(b"a")), Ok(z(1, 1)));
    assert_eq!(l.propose(Bytes::from_static(b"b")), Ok(z(1, 2)));
    assert_eq!(
        l.propose(Bytes::from_static(b"c")),
        Err(ZabError::ZxidRollover { epoch: 1 })
    );
    let _ = flush(&mut l);
    assert_eq!(l.status().role, Role::Leading, "waits for what it proposed");
    l.step(1, Message::Ack { zxid: z(1, 2) }).unwrap();
    let r = flush(&mut l);
    assert_eq!(r.committed.len(), 2, "nothing proposed is lost");
    assert_eq!(
        l.status().role,
        Role::Looking,
        "steps down so that epoch 2 starts"
    );
}
