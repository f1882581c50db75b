//! Observations (the facts behind ZooKeeper's quorum metrics) on a whole
//! cluster: which sync each learner got and how many were in flight, what
//! learners received in broadcast, what was acknowledged and committed.

use bytes::Bytes;

use super::cluster::Cluster;
use super::{cfg, z};
use crate::{MemoryLog, Observation, PeerId, Persisted, SyncKind, Zab, Zxid};

/// Takes every server's observations.
fn take(c: &mut Cluster) -> std::collections::BTreeMap<PeerId, Vec<Observation>> {
    c.nodes
        .iter_mut()
        .map(|(&id, zab)| (id, zab.take_observations()))
        .collect()
}

fn syncs(obs: &[Observation]) -> Vec<(&'static str, PeerId, SyncKind, usize)> {
    obs.iter()
        .filter_map(|o| match *o {
            Observation::SyncBegun {
                learner,
                kind,
                in_progress,
            } => Some(("begun", learner, kind, in_progress)),
            Observation::SyncEnded {
                learner,
                kind,
                in_progress,
            } => Some(("ended", learner, kind, in_progress)),
            _ => None,
        })
        .collect()
}

/// Proposals a range observation covers (consecutive counters of one epoch here).
fn span(after: Zxid, upto: Zxid) -> u32 {
    if after.epoch() == upto.epoch() {
        upto.counter() - after.counter()
    } else {
        upto.counter()
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Broadcast {
    logged: usize,
    proposals_received: usize,
    commits_received: u64,
    acknowledged: u32,
    quorum_acked: u32,
}

fn broadcast(obs: &[Observation]) -> Broadcast {
    let mut b = Broadcast::default();
    for o in obs {
        match *o {
            Observation::Logged { .. } => b.logged += 1,
            Observation::ProposalReceived { .. } => b.proposals_received += 1,
            Observation::CommitReceived { proposals, .. } => b.commits_received += proposals,
            Observation::Acknowledged { after, upto } => b.acknowledged += span(after, upto),
            Observation::QuorumAcked { after, upto } => b.quorum_acked += span(after, upto),
            _ => {}
        }
    }
    b
}

#[test]
fn observations_count_syncs_broadcast_acks_and_commits() {
    let mut c = Cluster::new(&[1, 2, 3], &[9]);
    // The leader SNAPs a learner more than 2 proposals behind.
    let mut leader_cfg = cfg(3, &[1, 2, 3]);
    leader_cfg.observers = [9].into();
    leader_cfg.max_diff = 2;
    c.nodes.insert(
        3,
        Zab::new(leader_cfg, Persisted::default(), MemoryLog::default()).unwrap(),
    );
    for zab in c.nodes.values_mut() {
        zab.set_observing(true);
    }
    for _ in 0..5 {
        c.tick();
    }
    assert_eq!(c.leader(), Some(3));
    let obs = take(&mut c);
    let mut got = syncs(&obs[&3]);
    got.sort_by_key(|&(what, learner, ..)| (what, learner));
    // Empty DIFFs: 1 and 2 begin together (each counts those in progress, itself
    // included), 1 ends, then the observer begins and the others end.
    assert_eq!(
        got,
        vec![
            ("begun", 1, SyncKind::Diff, 1),
            ("begun", 2, SyncKind::Diff, 2),
            ("begun", 9, SyncKind::Diff, 1),
            ("ended", 1, SyncKind::Diff, 1),
            ("ended", 2, SyncKind::Diff, 0),
            ("ended", 9, SyncKind::Diff, 0),
        ]
    );
    for id in [1, 2, 9] {
        assert!(syncs(&obs[&id]).is_empty(), "only a leader syncs");
        assert!(
            c.nodes[&id].learners().is_empty(),
            "only a leader has learners"
        );
    }

    for i in 0..3 {
        c.nodes
            .get_mut(&3)
            .unwrap()
            .propose(Bytes::from(format!("v{i}")))
            .unwrap();
    }
    c.settle();
    let obs = take(&mut c);
    let leader = Broadcast {
        logged: 3,
        acknowledged: 3,
        quorum_acked: 3,
        ..Broadcast::default()
    };
    assert_eq!(broadcast(&obs[&3]), leader);
    let follower = Broadcast {
        logged: 3,
        proposals_received: 3,
        commits_received: 3,
        acknowledged: 3,
        ..Broadcast::default()
    };
    assert_eq!(broadcast(&obs[&1]), follower);
    assert_eq!(broadcast(&obs[&2]), follower);
    // Each proposal is reported received right after it was logged (its payload, and so
    // its time, known first).
    for (i, o) in obs[&1].iter().enumerate() {
        if let Observation::ProposalReceived { zxid } = o {
            let before = i.checked_sub(1).map(|j| &obs[&1][j]);
            let logged = matches!(before, Some(Observation::Logged { zxid: z, .. }) if z == zxid);
            assert!(logged, "{:?}", &obs[&1][..=i]);
        }
    }
    let observer = Broadcast {
        logged: 3,
        commits_received: 3,
        ..Broadcast::default()
    };
    assert_eq!(
        broadcast(&obs[&9]),
        observer,
        "observers acknowledge nothing"
    );
    let learners: Vec<(PeerId, bool, bool, Zxid)> = c.nodes[&3]
        .learners()
        .iter()
        .map(|l| (l.id, l.observer, l.forwarding, l.last_sent))
        .collect();
    assert_eq!(
        learners,
        vec![
            (1, false, true, z(1, 3)),
            (2, false, true, z(1, 3)),
            (9, true, true, z(1, 3))
        ]
    );

    // Server 1 restarts with one proposal of three: a DIFF of two.
    let rejoin = |c: &mut Cluster, log: Vec<crate::Entry>| {
        let persisted = Persisted {
            accepted_epoch: 1,
            current_epoch: 1,
            snapshot: Zxid::ZERO,
        };
        let mut zab = Zab::new(
            cfg(1, &[1, 2, 3]),
            persisted,
            MemoryLog::new(Zxid::ZERO, log),
        )
        .unwrap();
        zab.set_observing(true);
        c.nodes.insert(1, zab);
        c.applied.insert(1, Vec::new());
        c.nodes.get_mut(&3).unwrap().disconnected(1);
        for _ in 0..3 {
            c.tick();
        }
        assert_eq!(c.nodes[&1].status().leader, Some(3));
        take(c)
    };
    let applied = c.applied[&1].clone();
    let obs = rejoin(&mut c, applied[..1].to_vec());
    assert_eq!(
        syncs(&obs[&3]),
        vec![
            ("begun", 1, SyncKind::Diff, 1),
            ("ended", 1, SyncKind::Diff, 0)
        ]
    );
    // Synchronisation proposals are logged and acknowledged, not "received" in broadcast.
    let b = broadcast(&obs[&1]);
    assert_eq!(
        (b.logged, b.proposals_received, b.commits_received),
        (2, 0, 0)
    );
    assert_eq!(c.nodes[&1].status().last_zxid, z(1, 3));

    // With nothing, it is 3 proposals behind: a SNAP.
    let obs = rejoin(&mut c, Vec::new());
    assert_eq!(
        syncs(&obs[&3]),
        vec![
            ("begun", 1, SyncKind::Snap, 1),
            ("ended", 1, SyncKind::Snap, 0)
        ]
    );
}

#[test]
fn nothing_is_observed_unless_asked() {
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    for _ in 0..5 {
        c.tick();
    }
    c.nodes
        .get_mut(&3)
        .unwrap()
        .propose(Bytes::from_static(b"x"))
        .unwrap();
    c.settle();
    for obs in take(&mut c).values() {
        assert!(obs.is_empty());
    }
}

/// A new leader commits the entries of earlier epochs it holds when it takes the lead, but
/// only its own proposals are `QuorumAcked` (ZooKeeper times those that carry a request):
/// the old ones' age would be the election's length, not an acknowledgement's.
#[test]
fn a_new_leader_reports_only_its_own_proposals_as_quorum_acked() {
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    for _ in 0..5 {
        c.tick();
    }
    assert_eq!(c.leader(), Some(3));
    // Leader 3 proposes; 1 and 2 log it, and 3 dies before it hears their acks.
    let old = {
        let leader = c.nodes.get_mut(&3).unwrap();
        let zxid = leader.propose(Bytes::from_static(b"old")).unwrap();
        let r = leader.ready();
        let out: Vec<_> = r.messages.into_iter().chain(r.send_after_persist).collect();
        leader.advance(r.number);
        for (to, m) in out {
            if let Some(n) = c.nodes.get_mut(&to) {
                n.step(3, m).unwrap();
            }
        }
        zxid
    };
    c.nodes.remove(&3);
    for zab in c.nodes.values_mut() {
        zab.set_observing(true);
    }
    for _ in 0..40 {
        c.tick();
        if c.leader().is_some() {
            break;
        }
    }
    let new = c.leader().expect("a new leader among 1 and 2");
    let own = c
        .nodes
        .get_mut(&new)
        .unwrap()
        .propose(Bytes::from_static(b"new"))
        .unwrap();
    c.settle();
    assert!(old.epoch() < own.epoch());
    assert!(
        c.applied[&new].iter().any(|e| e.zxid == old),
        "the old entry is committed"
    );
    let acked: Vec<(Zxid, Zxid)> = take(&mut c)[&new]
        .iter()
        .filter_map(|o| match *o {
            Observation::QuorumAcked { after, upto } => Some((after, upto)),
            _ => None,
        })
        .collect();
    assert!(!acked.is_empty());
    for (after, upto) in &acked {
        assert!(
            *after >= Zxid::new(own.epoch(), 0),
            "{after:?}..{upto:?} covers {old:?}"
        );
    }
    assert!(acked
        .iter()
        .any(|&(after, upto)| after < own && own <= upto));
}

/// Server 3 elected by itself and server 1, then waiting for its epoch's quorum (nobody
/// registers) for `waited` ticks, when `voter` is LOOKING again: its role after, and the
/// observations of the quit.
fn leader_hears_looking(
    max_wait_for_epoch: Option<u64>,
    waited: u64,
    voter: PeerId,
) -> (crate::Role, Vec<Observation>) {
    use crate::Role;
    let mut config = cfg(3, &[1, 2, 3]);
    config.max_wait_for_epoch = max_wait_for_epoch;
    let mut zab = Zab::new(config, Persisted::default(), MemoryLog::default()).unwrap();
    zab.set_observing(true);
    let vote = |leader, round, state| super::notif(leader, Zxid::ZERO, round, 0, state);
    zab.step(1, vote(3, 1, Role::Looking)).unwrap();
    for _ in 0..2 {
        zab.tick().unwrap();
    }
    assert_eq!(zab.status().role, Role::Leading);
    for _ in 0..waited {
        zab.tick().unwrap();
    }
    let _ = zab.step(voter, vote(voter, 2, Role::Looking));
    let quits = zab
        .take_observations()
        .into_iter()
        .filter(|o| matches!(o, Observation::QuitLeading { .. }))
        .collect();
    (zab.status().role, quits)
}

#[test]
fn a_leader_waiting_for_its_epoch_quits_when_a_voter_that_elected_it_looks_again() {
    use crate::Role::{Leading, Looking};
    let quit = vec![Observation::QuitLeading { voter: 1 }];
    assert_eq!(leader_hears_looking(Some(3), 5, 1), (Looking, quit));
    // Off (ZooKeeper's default), not waited long enough, or a voter that did not vote for it.
    assert_eq!(leader_hears_looking(None, 5, 1), (Leading, vec![]));
    assert_eq!(leader_hears_looking(Some(3), 2, 1), (Leading, vec![]));
    assert_eq!(leader_hears_looking(Some(3), 5, 2), (Leading, vec![]));
}
