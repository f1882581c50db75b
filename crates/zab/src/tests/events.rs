//! What the caller hears beside messages: the quorum established and lost
//! (`Ready::established`), streams to break (`Ready::reset`, ZooKeeper
//! closing a LearnerHandler's or a learner's socket), and proposals whose
//! payload needs its zxid (`Zab::propose_with`, `Zab::next_zxid`). Each input
//! is followed by the exact `Ready` it must produce.

use bytes::Bytes;

use super::sync::{follower, leader_awaiting_newleader_ack};
use super::*;
use crate::{Persist, Ready, ZabError};

fn vote_from(id: PeerId, last: Zxid, round: u64, epoch: u32) -> Message {
    notif(id, last, round, epoch, Role::Looking)
}

#[test]
fn the_leader_reports_its_quorum_established_once() {
    let mut l = leader_awaiting_newleader_ack();
    l.step(1, Message::Ack { zxid: z(1, 0) }).unwrap();
    let r = l.ready();
    assert_eq!(
        r,
        Ready {
            number: r.number,
            established: Some(true),
            messages: vec![
                (1, Message::Commit { zxid: Zxid::ZERO }),
                (1, Message::UpToDate)
            ],
            ..Ready::default()
        }
    );
    l.advance(r.number);
    l.tick().unwrap();
    let r = l.ready();
    assert_eq!(
        r,
        Ready {
            number: r.number,
            messages: vec![(1, Message::Ping)],
            ..Ready::default()
        },
        "reported once"
    );
}

#[test]
fn a_follower_is_established_at_uptodate() {
    let mut f = follower(empty());
    for m in [
        Message::LeaderInfo { epoch: 1 },
        Message::Diff { zxid: Zxid::ZERO },
        Message::NewLeader { zxid: z(1, 0) },
    ] {
        f.step(3, m).unwrap();
    }
    let _ = flush(&mut f);
    f.step(3, Message::Commit { zxid: Zxid::ZERO }).unwrap();
    assert!(!f.has_ready(), "COMMIT of nothing changes nothing");
    f.step(3, Message::UpToDate).unwrap();
    let r = f.ready();
    assert_eq!(
        r,
        Ready {
            number: r.number,
            established: Some(true),
            ..Ready::default()
        }
    );
}

#[test]
fn a_leader_stepping_down_resets_its_learners_streams() {
    let mut l = leader_awaiting_newleader_ack();
    l.step(1, Message::Ack { zxid: z(1, 0) }).unwrap();
    let _ = flush(&mut l);
    let zxid = l.propose(Bytes::from_static(b"p")).unwrap();
    assert_eq!(zxid, z(1, 1));
    let _ = flush(&mut l);
    // Follower 1 stays silent: syncLimit (20 ticks by default) passes.
    let mut last = Ready::default();
    for _ in 0..40 {
        l.tick().unwrap();
        last = l.ready();
        l.advance(last.number);
        if l.status().role == Role::Looking {
            break;
        }
    }
    let round = l.status().logical_clock;
    assert_eq!(
        last,
        Ready {
            number: last.number,
            role: Some(Role::Looking),
            established: Some(false),
            reset: vec![1],
            messages: vec![
                (1, vote_from(3, z(1, 1), round, 1)),
                (2, vote_from(3, z(1, 1), round, 1)),
            ],
            ..Ready::default()
        },
        "the follower's stream is broken at once; the new votes go on the next one"
    );
}

#[test]
fn a_learner_giving_up_resets_its_leader_stream_but_not_a_broken_one() {
    let mut f = follower(empty());
    f.step(3, Message::LeaderInfo { epoch: 1 }).unwrap();
    let _ = flush(&mut f);
    // COMMIT during synchronisation: a protocol error.
    assert!(f.step(3, Message::Commit { zxid: z(1, 1) }).is_err());
    let r = f.ready();
    let round = f.status().logical_clock;
    assert_eq!(
        r,
        Ready {
            number: r.number,
            role: Some(Role::Looking),
            reset: vec![3],
            messages: vec![
                (2, vote_from(1, Zxid::ZERO, round, 0)),
                (3, vote_from(1, Zxid::ZERO, round, 0)),
            ],
            ..Ready::default()
        }
    );
    // The stream broke under a learner: nothing to reset.
    let mut f = follower(empty());
    f.disconnected(3);
    let r = f.ready();
    assert!(r.reset.is_empty());
    assert_eq!(r.role, Some(Role::Looking));
}

#[test]
fn propose_with_builds_the_payload_for_its_zxid() {
    let mut l = leader_awaiting_newleader_ack();
    assert_eq!(l.next_zxid(), Err(ZabError::NotLeader { leader: None }));
    let refused = l.propose_with(|_| unreachable!("not called when refused"));
    assert_eq!(refused, Err(ZabError::NotLeader { leader: None }));
    l.step(1, Message::Ack { zxid: z(1, 0) }).unwrap();
    let _ = flush(&mut l);
    assert_eq!(l.next_zxid(), Ok(z(1, 1)));
    let zxid = l
        .propose_with(|zxid| Bytes::from(format!("made at {zxid}")))
        .unwrap();
    assert_eq!(zxid, z(1, 1));
    let payload = Bytes::from_static(b"made at 0x100000001");
    let r = l.ready();
    assert_eq!(
        r,
        Ready {
            number: r.number,
            persist: vec![Persist::Append(Entry {
                zxid,
                payload: payload.clone()
            })],
            messages: vec![(1, Message::Proposal { zxid, payload })],
            ..Ready::default()
        }
    );
    assert_eq!(l.next_zxid(), Ok(z(1, 2)));
}

#[test]
fn next_zxid_reports_the_rollover_before_it_is_refused() {
    let mut c = cfg(3, &[1, 2, 3]);
    c.finalize_wait = 0;
    c.counter_limit = 1;
    let mut l = Zab::new(c, Persisted::default(), MemoryLog::default()).unwrap();
    let _ = flush(&mut l);
    l.step(2, notif(3, Zxid::ZERO, 1, 0, Role::Looking))
        .unwrap();
    let _ = flush(&mut l);
    for m in [
        Message::FollowerInfo {
            accepted_epoch: 0,
            observer: false,
        },
        Message::AckEpoch {
            current_epoch: Some(0),
            last_zxid: Zxid::ZERO,
        },
        Message::Ack { zxid: z(1, 0) },
    ] {
        l.step(1, m).unwrap();
        let _ = flush(&mut l);
    }
    assert_eq!(l.propose(Bytes::new()), Ok(z(1, 1)));
    assert_eq!(l.next_zxid(), Err(ZabError::ZxidRollover { epoch: 1 }));
    assert_eq!(
        l.propose_with(|_| unreachable!()),
        Err(ZabError::ZxidRollover { epoch: 1 })
    );
}

#[test]
fn a_learner_with_a_later_accepted_epoch_makes_the_leader_step_down() {
    let mut l = leader_awaiting_newleader_ack();
    l.step(1, Message::Ack { zxid: z(1, 0) }).unwrap();
    let _ = flush(&mut l);
    // Server 2 accepted epoch 5 from a leader that never established it.
    let refused = l.step(
        2,
        Message::FollowerInfo {
            accepted_epoch: 5,
            observer: false,
        },
    );
    assert!(matches!(refused, Err(ZabError::Protocol { from: 2, .. })));
    let r = l.ready();
    let round = l.status().logical_clock;
    assert_eq!(
        r,
        Ready {
            number: r.number,
            role: Some(Role::Looking),
            established: Some(false),
            reset: vec![1],
            messages: vec![
                (1, vote_from(3, Zxid::ZERO, round, 1)),
                (2, vote_from(3, Zxid::ZERO, round, 1)),
            ],
            ..Ready::default()
        },
        "the next election proposes an epoch above 5"
    );
    // The same epoch (a learner reconnecting) is served as before.
    let mut l = leader_awaiting_newleader_ack();
    l.step(1, Message::Ack { zxid: z(1, 0) }).unwrap();
    let _ = flush(&mut l);
    l.step(
        2,
        Message::FollowerInfo {
            accepted_epoch: 1,
            observer: false,
        },
    )
    .unwrap();
    assert_eq!(
        l.ready().send_after_persist,
        vec![(2, Message::LeaderInfo { epoch: 1 })]
    );
}
