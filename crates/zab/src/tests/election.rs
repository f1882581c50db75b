//! Fast leader election (ZooKeeper `FastLeaderElection.lookForLeader`).

use super::*;
use crate::{Ready, Role};

fn looking(leader: PeerId, zxid: Zxid, round: u64, pe: u32) -> Message {
    notif(leader, zxid, round, pe, Role::Looking)
}

#[test]
fn a_fresh_voter_votes_for_itself_and_tells_every_voter() {
    let mut a = fresh(1, &[1, 2, 3]);
    let r = a.ready();
    let own = looking(1, Zxid::ZERO, 1, 0);
    assert_eq!(
        r,
        Ready {
            number: 1,
            role: Some(Role::Looking),
            messages: vec![(2, own.clone()), (3, own)],
            ..Ready::default()
        }
    );
}

#[test]
fn a_better_vote_is_adopted_and_the_quorum_decides_after_the_finalize_wait() {
    let mut a = fresh(1, &[1, 2, 3]);
    let _ = flush(&mut a);
    a.step(3, looking(3, Zxid::ZERO, 1, 0)).unwrap();
    let vote3 = looking(3, Zxid::ZERO, 1, 0);
    let r = flush(&mut a);
    assert_eq!(r.messages, vec![(2, vote3.clone()), (3, vote3)]);
    assert_eq!(a.status().role, Role::Looking, "finalize wait first");
    a.tick().unwrap();
    let r = flush(&mut a);
    assert_eq!(r.role, Some(Role::Following));
    assert_eq!(
        r.messages,
        vec![(
            3,
            Message::FollowerInfo {
                accepted_epoch: 0,
                observer: false
            }
        )]
    );
    assert_eq!(a.status().leader, Some(3));
}

#[test]
fn votes_order_by_peer_epoch_then_zxid_then_id() {
    // Server 1 has the newer history: it keeps its own vote against 3.
    let p = Persisted {
        accepted_epoch: 2,
        current_epoch: 2,
        snapshot: z(2, 4),
    };
    let log = MemoryLog::new(z(2, 4), vec![]);
    let mut a = Zab::new(cfg(1, &[1, 2, 3]), p, log).unwrap();
    let _ = flush(&mut a);
    a.step(3, looking(3, z(1, 9), 1, 1)).unwrap();
    assert!(
        flush(&mut a).messages.is_empty(),
        "worse vote: nothing to tell"
    );
    a.step(2, looking(2, z(2, 5), 1, 2)).unwrap();
    let r = flush(&mut a);
    assert_eq!(r.messages.len(), 2, "higher zxid in the same epoch wins");
    assert_eq!(r.messages[0], (2, looking(2, z(2, 5), 1, 2)));
}

#[test]
fn a_later_round_resets_the_tally_and_an_earlier_one_is_answered() {
    let mut a = fresh(2, &[1, 2, 3]);
    let _ = flush(&mut a);
    a.step(1, looking(1, Zxid::ZERO, 7, 0)).unwrap();
    // Round 7: the sender's vote (id 1) loses to our own initial vote (id 2).
    let r = flush(&mut a);
    let own7 = looking(2, Zxid::ZERO, 7, 0);
    assert_eq!(r.messages, vec![(1, own7.clone()), (3, own7.clone())]);
    assert_eq!(a.status().logical_clock, 7);
    a.step(3, looking(3, Zxid::ZERO, 4, 0)).unwrap();
    assert_eq!(
        flush(&mut a).messages,
        vec![(3, own7)],
        "earlier round: answered, ignored"
    );
}

#[test]
fn a_better_vote_during_the_finalize_wait_reopens_it_a_worse_one_is_dropped() {
    let mut c = cfg(2, &[1, 2, 3]);
    c.finalize_wait = 3;
    let mut a = Zab::new(c, Persisted::default(), MemoryLog::default()).unwrap();
    let _ = flush(&mut a);
    a.step(1, looking(2, Zxid::ZERO, 1, 0)).unwrap(); // 1 agrees with us: quorum
    a.tick().unwrap();
    a.step(1, looking(1, Zxid::ZERO, 1, 0)).unwrap(); // worse: dropped
    assert!(flush(&mut a).messages.is_empty());
    a.step(3, looking(3, Zxid::ZERO, 1, 0)).unwrap(); // better: adopted
    let r = flush(&mut a);
    assert_eq!(r.messages.len(), 2);
    for _ in 0..5 {
        a.tick().unwrap();
    }
    let s = a.status();
    assert_eq!(
        (s.role, s.leader),
        (Role::Following, Some(3)),
        "3 and we agree on 3"
    );
}

#[test]
fn a_restarted_server_rejoins_a_running_leader_through_out_of_election_votes() {
    let mut a = fresh(1, &[1, 2, 3]);
    let _ = flush(&mut a);
    a.step(2, notif(3, z(4, 2), 9, 4, Role::Following)).unwrap();
    assert_eq!(
        a.status().role,
        Role::Looking,
        "no LEADING voice yet (checkLeader)"
    );
    a.step(3, notif(3, z(4, 2), 9, 4, Role::Leading)).unwrap();
    let s = a.status();
    assert_eq!(
        (s.role, s.leader, s.logical_clock),
        (Role::Following, Some(3), 9)
    );
    // Now settled, it answers a LOOKING server with its vote and state.
    let _ = flush(&mut a);
    a.step(2, looking(2, Zxid::ZERO, 1, 0)).unwrap();
    assert_eq!(
        flush(&mut a).messages,
        vec![(2, notif(3, z(4, 2), 9, 4, Role::Following))]
    );
}

#[test]
fn observers_never_vote_and_follow_the_settled_quorum() {
    let mut c = cfg(9, &[1, 2, 3]);
    c.observers.insert(9);
    let mut o = Zab::new(c, Persisted::default(), MemoryLog::default()).unwrap();
    let r = flush(&mut o);
    assert_eq!(r.messages.len(), 3, "asks every voter");
    o.step(1, looking(1, Zxid::ZERO, 1, 0)).unwrap();
    assert_eq!(
        o.status().role,
        Role::Looking,
        "LOOKING votes mean nothing to an observer"
    );
    o.step(1, notif(2, Zxid::ZERO, 1, 0, Role::Following))
        .unwrap();
    o.step(2, notif(2, Zxid::ZERO, 1, 0, Role::Leading))
        .unwrap();
    assert_eq!(o.status().role, Role::Observing);
    assert_eq!(
        flush(&mut o).messages,
        vec![(
            2,
            Message::FollowerInfo {
                accepted_epoch: 0,
                observer: true
            }
        )]
    );
    // A voter answers an observer's vote with its own and never counts it.
    let mut c = cfg(1, &[1, 2, 3]);
    c.observers.insert(9);
    let mut v = Zab::new(c, Persisted::default(), MemoryLog::default()).unwrap();
    let _ = flush(&mut v);
    v.step(9, looking(9, Zxid::ZERO, 1, 0)).unwrap();
    assert_eq!(
        flush(&mut v).messages,
        vec![(9, looking(1, Zxid::ZERO, 1, 0))]
    );
    assert_eq!(v.status().role, Role::Looking);
}

#[test]
fn resends_back_off() {
    let mut a = fresh(1, &[1, 2, 3]);
    let _ = flush(&mut a);
    let mut sent_at = Vec::new();
    for t in 1..=20 {
        a.tick().unwrap();
        if !flush(&mut a).messages.is_empty() {
            sent_at.push(t);
        }
    }
    assert_eq!(
        sent_at,
        vec![2, 6, 14],
        "2, then 4, then 8 ticks of silence"
    );
}

/// The round comes from the network; the next round after the largest one
/// must not overflow (a debug build panicked here). It wraps to 0, which is
/// an early round like any other: the server catches up with the live round
/// from the first notification of it.
#[test]
fn a_round_of_u64_max_from_the_network_does_not_overflow_the_next_round() {
    let mut a = fresh(1, &[1, 2, 3]);
    let _ = flush(&mut a);
    // A settled quorum says 3 leads, in round u64::MAX.
    a.step(2, notif(3, Zxid::ZERO, u64::MAX, 0, Role::Following))
        .unwrap();
    a.step(3, notif(3, Zxid::ZERO, u64::MAX, 0, Role::Leading))
        .unwrap();
    let s = a.status();
    assert_eq!((s.role, s.logical_clock), (Role::Following, u64::MAX));
    let _ = flush(&mut a);
    // The leader's stream breaks: a new election, the round after u64::MAX.
    a.disconnected(3);
    assert_eq!(a.status().role, Role::Looking);
    assert_eq!(a.status().logical_clock, 0);
    let own = looking(1, Zxid::ZERO, 0, 0);
    assert_eq!(flush(&mut a).messages, vec![(2, own.clone()), (3, own)]);
    // A LOOKING voter of the live round pulls us into it.
    a.step(2, looking(2, Zxid::ZERO, u64::MAX, 0)).unwrap();
    assert_eq!(a.status().logical_clock, u64::MAX);
}

/// Configured tick budgets of any size do not overflow either.
#[test]
fn a_finalize_wait_of_u64_max_never_decides_and_does_not_overflow() {
    let mut c = cfg(1, &[1, 2, 3]);
    c.finalize_wait = u64::MAX;
    let mut a = Zab::new(c, Persisted::default(), MemoryLog::default()).unwrap();
    let _ = flush(&mut a);
    a.tick().unwrap();
    a.step(3, looking(3, Zxid::ZERO, 1, 0)).unwrap();
    a.step(2, looking(3, Zxid::ZERO, 1, 0)).unwrap();
    for _ in 0..10 {
        a.tick().unwrap();
    }
    assert_eq!(a.status().role, Role::Looking);
}
