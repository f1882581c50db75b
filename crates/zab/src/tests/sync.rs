//! Discovery and synchronisation, both sides (ZooKeeper `Leader.lead`,
//! `LearnerHandler.syncFollower`, `Learner.registerWithLeader`,
//! `Learner.syncWithLeader`).

use bytes::Bytes;

use super::*;
use crate::{Persist, Ready, SnapshotRequest, ZabError};

/// Server 3 of {1,2,3} elected leader from `p` (finalize wait 0).
pub(crate) fn leader((p, log): Start) -> Zab {
    let mut c = cfg(3, &[1, 2, 3]);
    c.finalize_wait = 0;
    let last = log.entries.last().map_or(p.snapshot, |e| e.zxid);
    let pe = p.current_epoch;
    let mut l = Zab::new(c, p, log).unwrap();
    let _ = flush(&mut l);
    l.step(2, notif(3, last, 1, pe, Role::Looking)).unwrap();
    assert_eq!(l.status().role, Role::Leading);
    let _ = flush(&mut l);
    l
}

/// Leader 3 of {1,2,3} from a fresh start with follower 1 through discovery,
/// NEWLEADER sent.
pub(crate) fn leader_awaiting_newleader_ack() -> Zab {
    let mut l = leader(empty());
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
    l
}

/// Server 1 following 3 (told by a settled quorum).
pub(crate) fn follower((p, log): Start) -> Zab {
    let mut f = Zab::new(cfg(1, &[1, 2, 3]), p, log).unwrap();
    let _ = flush(&mut f);
    f.step(2, notif(3, Zxid::ZERO, 5, 0, Role::Following))
        .unwrap();
    f.step(3, notif(3, Zxid::ZERO, 5, 0, Role::Leading))
        .unwrap();
    assert_eq!(f.status().role, Role::Following);
    let _ = flush(&mut f);
    f
}

fn history(current: u32, snapshot: Zxid, log: &[(u32, u32)]) -> Start {
    let p = Persisted {
        accepted_epoch: current,
        current_epoch: current,
        snapshot,
    };
    let log = MemoryLog::new(snapshot, log.iter().map(|&(e, c)| entry(e, c)).collect());
    (p, log)
}

fn proposal(e: u32, c: u32) -> Message {
    let en = entry(e, c);
    Message::Proposal {
        zxid: en.zxid,
        payload: en.payload,
    }
}

#[test]
fn leader_discovery_then_diff_then_established() {
    let mut l = leader(history(1, Zxid::ZERO, &[(1, 1), (1, 2), (1, 3)]));
    l.step(
        1,
        Message::FollowerInfo {
            accepted_epoch: 1,
            observer: false,
        },
    )
    .unwrap();
    let r = l.ready();
    assert_eq!(
        r,
        Ready {
            number: r.number,
            persist: vec![Persist::AcceptedEpoch(2)],
            send_after_persist: vec![(1, Message::LeaderInfo { epoch: 2 })],
            ..Ready::default()
        },
        "a quorum connected: epoch = max accepted + 1, stored before LEADERINFO"
    );
    l.advance(r.number);
    l.step(
        1,
        Message::AckEpoch {
            current_epoch: Some(1),
            last_zxid: z(1, 2),
        },
    )
    .unwrap();
    let r = l.ready();
    assert_eq!(r.persist, vec![Persist::CurrentEpoch(2)]);
    assert_eq!(
        r.messages,
        vec![
            (1, Message::Diff { zxid: z(1, 3) }),
            (1, proposal(1, 3)),
            (1, Message::NewLeader { zxid: z(2, 0) }),
        ]
    );
    l.advance(r.number);
    assert!(!l.status().established, "NEWLEADER not acknowledged yet");
    l.step(1, Message::Ack { zxid: z(2, 0) }).unwrap();
    assert!(l.status().established);
    let r = flush(&mut l);
    assert_eq!(
        r.committed.iter().map(|e| e.zxid).collect::<Vec<_>>(),
        vec![z(1, 1), z(1, 2), z(1, 3)]
    );
    assert_eq!(
        r.messages,
        vec![
            (1, Message::Commit { zxid: z(1, 3) }),
            (1, Message::UpToDate)
        ]
    );
    // A late follower joins the running leader: LEADERINFO at once.
    l.step(
        2,
        Message::FollowerInfo {
            accepted_epoch: 1,
            observer: false,
        },
    )
    .unwrap();
    assert_eq!(
        flush(&mut l).send_after_persist,
        vec![(2, Message::LeaderInfo { epoch: 2 })]
    );
    l.step(
        2,
        Message::AckEpoch {
            current_epoch: Some(1),
            last_zxid: z(1, 3),
        },
    )
    .unwrap();
    assert_eq!(
        flush(&mut l).messages,
        vec![
            (2, Message::Diff { zxid: z(1, 3) }),
            (2, Message::NewLeader { zxid: z(2, 0) })
        ]
    );
    l.step(2, Message::Ack { zxid: z(2, 0) }).unwrap();
    assert_eq!(
        flush(&mut l).messages,
        vec![
            (2, Message::Commit { zxid: z(1, 3) }),
            (2, Message::UpToDate)
        ]
    );
}

#[test]
fn trunc_when_the_learner_holds_proposals_the_leader_never_had() {
    let mut l = leader(history(2, Zxid::ZERO, &[(1, 1), (1, 2), (2, 1)]));
    l.step(
        1,
        Message::FollowerInfo {
            accepted_epoch: 1,
            observer: false,
        },
    )
    .unwrap();
    let _ = flush(&mut l);
    l.step(
        1,
        Message::AckEpoch {
            current_epoch: Some(1),
            last_zxid: z(1, 3),
        },
    )
    .unwrap();
    assert_eq!(
        flush(&mut l).messages,
        vec![
            (1, Message::Trunc { zxid: z(1, 2) }),
            (1, proposal(2, 1)),
            (1, Message::NewLeader { zxid: z(3, 0) }),
        ]
    );
}

#[test]
fn snap_when_the_learner_is_behind_the_window() {
    let mut l = leader(history(1, z(1, 5), &[(1, 6)]));
    l.step(
        1,
        Message::FollowerInfo {
            accepted_epoch: 1,
            observer: false,
        },
    )
    .unwrap();
    let _ = flush(&mut l);
    l.step(
        1,
        Message::AckEpoch {
            current_epoch: Some(1),
            last_zxid: z(1, 2),
        },
    )
    .unwrap();
    let mut r = l.ready();
    assert_eq!(
        r.snapshot,
        vec![SnapshotRequest {
            to: 1,
            zxid: z(1, 5)
        }]
    );
    let header = Message::Snap { zxid: z(1, 5) };
    assert_eq!(
        r.messages,
        vec![
            (1, header.clone()),
            (1, proposal(1, 6)),
            (1, Message::NewLeader { zxid: z(2, 0) }),
        ],
        "the caller streams the state behind the header"
    );
    r.insert_snapshots(|req| {
        crate::snapshot_chunks(&Bytes::from(format!("state@{:?}", req.zxid)), 4)
    });
    let chunk = |data: &'static str, last| Message::SnapChunk {
        data: Bytes::from_static(data.as_bytes()),
        last,
    };
    assert_eq!(
        r.messages,
        vec![
            (1, header),
            (1, chunk("stat", false)),
            (1, chunk("e@1:", false)),
            (1, chunk("5", true)),
            (1, proposal(1, 6)),
            (1, Message::NewLeader { zxid: z(2, 0) }),
        ]
    );
    assert!(r.snapshot.is_empty(), "taken care of");
}

#[test]
fn a_follower_ahead_of_the_leader_is_dropped() {
    let mut l = leader(history(1, Zxid::ZERO, &[(1, 1)]));
    l.step(
        1,
        Message::FollowerInfo {
            accepted_epoch: 1,
            observer: false,
        },
    )
    .unwrap();
    let _ = flush(&mut l);
    let err = l.step(
        1,
        Message::AckEpoch {
            current_epoch: Some(1),
            last_zxid: z(1, 9),
        },
    );
    assert!(matches!(
        err,
        Err(crate::ZabError::Protocol { from: 1, .. })
    ));
    assert!(flush(&mut l).messages.is_empty());
}

/// ZooKeeper's `Leader.waitForEpochAck` counts an ACKEPOCH only when it
/// carries a current epoch: a learner that had already accepted the epoch
/// answers -1, "this reply should not count as an ack for the new epoch"
/// (`Learner.registerWithLeader`), since it may have accepted that epoch from
/// another leader. Counting it lets two leaders establish the same epoch.
#[test]
fn an_ackepoch_without_epoch_does_not_count_towards_the_epoch_quorum() {
    let mut l = leader(empty());
    let info = |accepted_epoch| Message::FollowerInfo {
        accepted_epoch,
        observer: false,
    };
    // 1 registers having accepted nothing: a quorum is connected, epoch 1.
    l.step(1, info(0)).unwrap();
    assert_eq!(flush(&mut l).persist, vec![Persist::AcceptedEpoch(1)]);
    // Meanwhile 1 accepted epoch 1 from another leader, got its 1:1, and
    // registers again: it can only answer "no epoch".
    l.step(1, info(1)).unwrap();
    let _ = flush(&mut l);
    l.step(
        1,
        Message::AckEpoch {
            current_epoch: None,
            last_zxid: z(1, 1),
        },
    )
    .unwrap();
    let r = flush(&mut l);
    assert!(
        r.persist.is_empty() && r.messages.is_empty(),
        "no epoch quorum without an epoch: {r:?}"
    );
    assert!(!l.status().established);
    // 2 accepts epoch 1 from us: now there is a quorum, and 1 is synchronised
    // as well (its 1:1 of the other leader is truncated).
    l.step(2, info(0)).unwrap();
    let _ = flush(&mut l);
    l.step(
        2,
        Message::AckEpoch {
            current_epoch: Some(0),
            last_zxid: Zxid::ZERO,
        },
    )
    .unwrap();
    let r = flush(&mut l);
    assert_eq!(r.persist, vec![Persist::CurrentEpoch(1)]);
    assert_eq!(
        r.messages,
        vec![
            (1, Message::Trunc { zxid: Zxid::ZERO }),
            (1, Message::NewLeader { zxid: z(1, 0) }),
            (2, Message::Diff { zxid: Zxid::ZERO }),
            (2, Message::NewLeader { zxid: z(1, 0) }),
        ]
    );
}

/// Epochs are never reused: elected with the last epoch already accepted,
/// a server refuses to lead and says so (a saturating epoch made every later
/// leader reuse it).
#[test]
fn a_server_without_a_next_epoch_refuses_to_lead() {
    for accepted in [Zxid::MAX_EPOCH, u32::MAX] {
        let mut c = cfg(3, &[1, 2, 3]);
        c.finalize_wait = 0;
        let p = Persisted {
            accepted_epoch: accepted,
            current_epoch: 1,
            ..Persisted::default()
        };
        let mut l = Zab::new(c, p, MemoryLog::default()).unwrap();
        let _ = flush(&mut l);
        assert_eq!(
            l.step(2, notif(3, Zxid::ZERO, 1, 1, Role::Looking)),
            Err(ZabError::EpochsExhausted {
                accepted_epoch: accepted
            })
        );
        assert_eq!(l.status().role, Role::Looking);
        let r = flush(&mut l);
        assert!(r.persist.is_empty(), "{r:?}");
        assert_eq!(r.role, None, "it never led");
    }
    // A single voter decides on a tick: the tick reports it.
    let one = |accepted| {
        let c = Config {
            id: 1,
            voters: VoterSet::new([1]),
            ..Config::default()
        };
        let p = Persisted {
            accepted_epoch: accepted,
            current_epoch: accepted,
            ..Persisted::default()
        };
        let mut z = Zab::new(c, p, MemoryLog::default()).unwrap();
        let _ = flush(&mut z);
        z
    };
    let mut s = one(Zxid::MAX_EPOCH);
    for _ in 0..3 {
        assert_eq!(
            s.tick(),
            Err(ZabError::EpochsExhausted {
                accepted_epoch: Zxid::MAX_EPOCH
            })
        );
        assert_eq!(s.status().role, Role::Looking);
        assert!(flush(&mut s).persist.is_empty());
    }
    // The epoch before it still leads the last epoch.
    let mut s = one(Zxid::MAX_EPOCH - 1);
    s.tick().unwrap();
    let _ = flush(&mut s);
    assert!(s.status().established);
    assert_eq!(
        s.propose(Bytes::from_static(b"last")),
        Ok(z(Zxid::MAX_EPOCH, 1))
    );
}

/// A learner that accepted the last epoch leaves the leader none to propose;
/// one claiming the reserved epoch is refused.
#[test]
fn learners_with_the_last_or_the_reserved_epoch() {
    let info = |accepted_epoch| Message::FollowerInfo {
        accepted_epoch,
        observer: false,
    };
    let mut l = leader(empty());
    assert!(matches!(
        l.step(1, info(u32::MAX)),
        Err(ZabError::Protocol { from: 1, .. })
    ));
    assert!(
        flush(&mut l).persist.is_empty(),
        "not registered, no quorum"
    );
    assert_eq!(l.status().role, Role::Leading);
    assert_eq!(
        l.step(1, info(Zxid::MAX_EPOCH)),
        Err(ZabError::EpochsExhausted {
            accepted_epoch: Zxid::MAX_EPOCH
        })
    );
    assert_eq!(l.status().role, Role::Looking);
    assert!(flush(&mut l).persist.is_empty());
    // The same registration waiting in the backlog while we were LOOKING.
    let mut c = cfg(3, &[1, 2, 3]);
    c.finalize_wait = 0;
    let mut l = Zab::new(c, Persisted::default(), MemoryLog::default()).unwrap();
    let _ = flush(&mut l);
    l.step(1, info(Zxid::MAX_EPOCH)).unwrap();
    assert_eq!(
        l.step(2, notif(3, Zxid::ZERO, 1, 0, Role::Looking)),
        Err(ZabError::EpochsExhausted {
            accepted_epoch: Zxid::MAX_EPOCH
        })
    );
    assert_eq!(l.status().role, Role::Looking);
    assert!(flush(&mut l).persist.is_empty());
}

/// A LEADERINFO of the reserved epoch would leave the learner no epoch to
/// lead or follow after it: refused, nothing stored.
#[test]
fn a_leaderinfo_with_the_reserved_epoch_is_refused() {
    let mut f = follower(empty());
    assert!(matches!(
        f.step(3, Message::LeaderInfo { epoch: u32::MAX }),
        Err(ZabError::Protocol { from: 3, .. })
    ));
    assert_eq!(f.status().role, Role::Looking);
    assert_eq!(f.status().accepted_epoch, 0);
    assert!(flush(&mut f).persist.is_empty());
    let mut g = follower(empty());
    g.step(
        3,
        Message::LeaderInfo {
            epoch: Zxid::MAX_EPOCH,
        },
    )
    .unwrap();
    assert_eq!(
        flush(&mut g).persist,
        vec![Persist::AcceptedEpoch(Zxid::MAX_EPOCH)]
    );
}

#[test]
fn the_leader_gives_up_after_init_limit() {
    let mut l = leader(history(1, Zxid::ZERO, &[]));
    for _ in 0..=20 {
        l.tick().unwrap();
    }
    assert_eq!(l.status().role, Role::Looking);
}

#[test]
fn follower_discovery_and_diff() {
    let mut f = follower(empty());
    f.step(3, Message::LeaderInfo { epoch: 1 }).unwrap();
    let r = f.ready();
    assert_eq!(r.persist, vec![Persist::AcceptedEpoch(1)]);
    assert_eq!(
        r.send_after_persist,
        vec![(
            3,
            Message::AckEpoch {
                current_epoch: Some(0),
                last_zxid: Zxid::ZERO
            }
        )],
        "ACKEPOCH only once the accepted epoch is durable"
    );
    f.advance(r.number);
    for m in [
        Message::Diff { zxid: z(1, 2) },
        proposal(1, 1),
        proposal(1, 2),
        Message::NewLeader { zxid: z(1, 0) },
    ] {
        f.step(3, m).unwrap();
    }
    let r = f.ready();
    assert_eq!(
        r.persist,
        vec![
            Persist::Append(entry(1, 1)),
            Persist::Append(entry(1, 2)),
            Persist::CurrentEpoch(1)
        ]
    );
    assert_eq!(
        r.send_after_persist,
        vec![(3, Message::Ack { zxid: z(1, 0) })]
    );
    assert!(r.messages.is_empty() && r.committed.is_empty());
    f.advance(r.number);
    f.step(3, Message::Commit { zxid: z(1, 2) }).unwrap();
    f.step(3, Message::UpToDate).unwrap();
    let r = flush(&mut f);
    assert_eq!(r.committed, vec![entry(1, 1), entry(1, 2)]);
    assert!(f.status().established);
    // Same epoch again: ACKEPOCH without a current epoch (ZooKeeper's -1).
    let mut g = follower(history(1, Zxid::ZERO, &[]));
    g.step(3, Message::LeaderInfo { epoch: 1 }).unwrap();
    let r = g.ready();
    assert!(r.persist.is_empty());
    assert_eq!(
        r.send_after_persist,
        vec![(
            3,
            Message::AckEpoch {
                current_epoch: None,
                last_zxid: Zxid::ZERO
            }
        )]
    );
    // An older epoch than accepted: give up.
    let mut h = follower(history(4, Zxid::ZERO, &[]));
    assert!(h.step(3, Message::LeaderInfo { epoch: 2 }).is_err());
    assert_eq!(h.status().role, Role::Looking);
}

#[test]
fn follower_trunc_and_snap() {
    let mut f = follower(history(1, Zxid::ZERO, &[(1, 1), (1, 2), (1, 3)]));
    f.step(3, Message::LeaderInfo { epoch: 2 }).unwrap();
    let _ = flush(&mut f);
    f.step(3, Message::Trunc { zxid: z(1, 2) }).unwrap();
    f.step(3, proposal(2, 1)).unwrap();
    let r = flush(&mut f);
    assert_eq!(
        r.persist,
        vec![
            Persist::Truncate { to: z(1, 2) },
            Persist::Append(entry(2, 1))
        ]
    );
    assert_eq!(f.status().last_zxid, z(2, 1));
    assert_eq!(f.status().last_sync, Some(crate::SyncKind::Trunc));

    let mut g = follower(history(1, Zxid::ZERO, &[(1, 1)]));
    g.step(3, Message::LeaderInfo { epoch: 2 }).unwrap();
    let _ = flush(&mut g);
    g.step(3, Message::Snap { zxid: z(1, 5) }).unwrap();
    let chunk = |data: &'static [u8], last| Message::SnapChunk {
        data: Bytes::from_static(data),
        last,
    };
    g.step(3, chunk(b"S1", false)).unwrap();
    let r = flush(&mut g);
    assert_eq!(
        r,
        Ready {
            number: r.number,
            persist: vec![Persist::SnapshotChunk {
                zxid: z(1, 5),
                offset: 0,
                data: Bytes::from_static(b"S1")
            }],
            messages: vec![(3, Message::Ping)],
            ..Ready::default()
        },
        "a chunk is stored, nothing installed yet; the leader hears we are alive (once per tick)"
    );
    assert_eq!(g.status().applied, Zxid::ZERO);
    g.step(3, chunk(b"S2", true)).unwrap();
    g.step(3, Message::NewLeader { zxid: z(2, 0) }).unwrap();
    let r = flush(&mut g);
    assert_eq!(
        r.persist,
        vec![
            Persist::SnapshotChunk {
                zxid: z(1, 5),
                offset: 2,
                data: Bytes::from_static(b"S2")
            },
            Persist::InstallSnapshot { zxid: z(1, 5) },
            Persist::CurrentEpoch(2)
        ]
    );
    assert!(
        r.committed.is_empty(),
        "the snapshot is the state: nothing to re-apply"
    );
    assert_eq!(g.status().applied, z(1, 5));
    assert_eq!(g.status().last_sync, Some(crate::SyncKind::Snap));

    // Anything but a chunk inside the SNAP stream breaks the session.
    let mut h = follower(history(1, Zxid::ZERO, &[(1, 1)]));
    h.step(3, Message::LeaderInfo { epoch: 2 }).unwrap();
    let _ = flush(&mut h);
    h.step(3, Message::Snap { zxid: z(1, 5) }).unwrap();
    assert!(h.step(3, proposal(1, 6)).is_err());
    let r = h.ready();
    assert_eq!((r.role, r.reset), (Some(Role::Looking), vec![3]));
    assert!(r.persist.is_empty(), "nothing of the snapshot was stored");
}

/// The synchronisation stream of a correct leader truncates to a zxid the
/// learner holds, and every proposal follows the one before: the next counter
/// of its epoch, or counter 1 of a later epoch up to the leader's. Anything
/// else would leave a hole or a foreign entry in the log: refused.
#[test]
fn a_sync_stream_that_would_leave_a_hole_is_refused() {
    let start = |log: &[(u32, u32)], header: Message| {
        let mut f = follower(history(1, Zxid::ZERO, log));
        f.step(3, Message::LeaderInfo { epoch: 3 }).unwrap();
        let _ = flush(&mut f);
        f.step(3, header).unwrap();
        f
    };
    let diff = Message::Diff { zxid: z(2, 2) };
    for bad in [
        proposal(1, 4), // skips 1:3
        proposal(1, 2), // not after our log
        proposal(2, 2), // epoch 2 starts at counter 1
        proposal(4, 1), // beyond the leader's epoch
        Message::Proposal {
            zxid: z(1, u32::MAX), // the reserved counter
            payload: Bytes::new(),
        },
    ] {
        let mut f = start(&[(1, 1), (1, 2)], diff.clone());
        let what = format!("{bad:?}");
        assert!(
            matches!(f.step(3, bad), Err(ZabError::Protocol { from: 3, .. })),
            "{what}"
        );
        assert_eq!(f.status().role, Role::Looking, "{what}");
        assert_eq!(f.status().last_zxid, z(1, 2), "{what}");
    }
    let mut f = start(&[(1, 1), (1, 2)], diff.clone());
    for good in [
        proposal(1, 3),
        proposal(2, 1),
        proposal(2, 2),
        proposal(3, 1),
    ] {
        f.step(3, good).unwrap();
    }
    f.step(3, Message::NewLeader { zxid: z(3, 0) }).unwrap();
    assert_eq!(f.status().last_zxid, z(3, 1));
    // TRUNC to a zxid we never held (the leader's log has an epoch we lack).
    let mut f = follower(history(1, Zxid::ZERO, &[(1, 1), (1, 2), (3, 1)]));
    f.step(3, Message::LeaderInfo { epoch: 4 }).unwrap();
    let _ = flush(&mut f);
    assert!(matches!(
        f.step(3, Message::Trunc { zxid: z(2, 1) }),
        Err(ZabError::Protocol { from: 3, .. })
    ));
    assert_eq!(f.status().role, Role::Looking);
    assert!(flush(&mut f).persist.is_empty(), "nothing truncated");
}

#[test]
fn a_packet_out_of_place_sends_the_learner_back_to_looking() {
    let mut f = follower(empty());
    f.step(3, Message::LeaderInfo { epoch: 1 }).unwrap();
    assert!(
        f.step(3, proposal(1, 1)).is_err(),
        "PROPOSAL before the sync header"
    );
    assert_eq!(f.status().role, Role::Looking);
}

#[test]
fn a_registration_that_arrives_while_looking_is_served_once_leading() {
    let mut c = cfg(3, &[1, 2, 3]);
    c.finalize_wait = 0;
    let mut l = Zab::new(c, Persisted::default(), MemoryLog::default()).unwrap();
    let _ = flush(&mut l);
    // Server 1 decided faster than 3 did.
    l.step(
        1,
        Message::FollowerInfo {
            accepted_epoch: 0,
            observer: false,
        },
    )
    .unwrap();
    l.step(2, notif(3, Zxid::ZERO, 1, 0, Role::Looking))
        .unwrap();
    let r = flush(&mut l);
    assert_eq!(r.role, Some(Role::Leading));
    assert_eq!(r.persist, vec![Persist::AcceptedEpoch(1)]);
    assert_eq!(
        r.send_after_persist,
        vec![(1, Message::LeaderInfo { epoch: 1 })]
    );
}

#[test]
fn a_broken_stream_ends_the_learner_session() {
    let mut f = follower(empty());
    f.disconnected(2);
    assert_eq!(f.status().role, Role::Following, "not our leader");
    f.disconnected(3);
    assert_eq!(f.status().role, Role::Looking);
}

/// A leader that has not applied its history yet (just restarted and
/// elected) never SNAPs a learner below what they share: the SNAP would drop,
/// durably, entries the learner holds. It sends the whole DIFF, even beyond
/// `max_diff`.
#[test]
fn no_snap_below_the_history_a_learner_shares() {
    let log: Vec<(u32, u32)> = (1..=10).map(|c| (1, c)).collect();
    let (p, source) = history(1, Zxid::ZERO, &log);
    let mut c = cfg(3, &[1, 2, 3]);
    c.finalize_wait = 0;
    c.max_diff = 1;
    let mut l = Zab::new(c, p, source).unwrap();
    let _ = flush(&mut l);
    l.step(2, notif(3, z(1, 10), 1, 1, Role::Looking)).unwrap();
    let _ = flush(&mut l);
    l.step(
        1,
        Message::FollowerInfo {
            accepted_epoch: 1,
            observer: false,
        },
    )
    .unwrap();
    let _ = flush(&mut l);
    l.step(
        1,
        Message::AckEpoch {
            current_epoch: Some(1),
            last_zxid: z(1, 7),
        },
    )
    .unwrap();
    let r = l.ready();
    assert_eq!(
        r,
        Ready {
            number: r.number,
            persist: vec![Persist::CurrentEpoch(2)],
            messages: vec![
                (1, Message::Diff { zxid: z(1, 10) }),
                (1, proposal(1, 8)),
                (1, proposal(1, 9)),
                (1, proposal(1, 10)),
                (1, Message::NewLeader { zxid: z(2, 0) }),
            ],
            ..Ready::default()
        },
        "applied is 0:0, below the shared 1:7: a SNAP at 0:0 would drop 1:1..1:7 on the learner"
    );
}
