//! A minimal synchronous harness: every message is delivered at once and
//! every write is durable at once. The seeded simulator (`crate::sim`) is
//! the adversarial version.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use super::cfg;
use crate::{Entry, MemoryLog, Message, PeerId, Persisted, Role, Zab};

pub(crate) struct Cluster {
    pub nodes: BTreeMap<PeerId, Zab>,
    pub applied: BTreeMap<PeerId, Vec<Entry>>,
    queue: VecDeque<(PeerId, PeerId, Message)>,
}

impl Cluster {
    pub(crate) fn new(voters: &[PeerId], observers: &[PeerId]) -> Cluster {
        let mut nodes = BTreeMap::new();
        for &id in voters.iter().chain(observers) {
            let mut c = cfg(id, voters);
            c.observers = observers.iter().copied().collect();
            nodes.insert(
                id,
                Zab::new(c, Persisted::default(), MemoryLog::default()).unwrap(),
            );
        }
        Cluster {
            applied: nodes.keys().map(|&id| (id, Vec::new())).collect(),
            nodes,
            queue: VecDeque::new(),
        }
    }

    /// Drains every `Ready` and delivers every message until quiet.
    pub(crate) fn settle(&mut self) {
        loop {
            let mut progressed = false;
            for (&id, zab) in self.nodes.iter_mut() {
                while zab.has_ready() {
                    progressed = true;
                    let r = zab.ready();
                    self.applied
                        .get_mut(&id)
                        .unwrap()
                        .extend(r.committed.iter().cloned());
                    let mut r = r;
                    let log = self.applied[&id].clone();
                    r.insert_snapshots(|_| {
                        crate::snapshot_chunks(&Bytes::from(format!("{}", log.len())), 1)
                    });
                    for (to, m) in r.messages.into_iter().chain(r.send_after_persist) {
                        self.queue.push_back((id, to, m));
                    }
                    zab.advance(r.number);
                }
            }
            while let Some((from, to, m)) = self.queue.pop_front() {
                progressed = true;
                if let Some(n) = self.nodes.get_mut(&to) {
                    let _ = n.step(from, m);
                }
            }
            if !progressed {
                return;
            }
        }
    }

    pub(crate) fn tick(&mut self) {
        for zab in self.nodes.values_mut() {
            zab.tick().unwrap();
        }
        self.settle();
    }

    pub(crate) fn leader(&self) -> Option<PeerId> {
        self.nodes
            .iter()
            .find(|(_, z)| z.status().role == Role::Leading && z.status().established)
            .map(|(&id, _)| id)
    }
}

#[test]
fn three_voters_elect_the_highest_id_and_replicate() {
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    for _ in 0..5 {
        c.tick();
    }
    assert_eq!(c.leader(), Some(3), "equal zxids: the highest id wins");
    for id in [1, 2] {
        let s = c.nodes[&id].status();
        assert_eq!(
            (s.role, s.leader, s.established, s.epoch),
            (Role::Following, Some(3), true, 1)
        );
    }
    let mut zxids = Vec::new();
    for i in 0..10 {
        zxids.push(
            c.nodes
                .get_mut(&3)
                .unwrap()
                .propose(Bytes::from(format!("v{i}")))
                .unwrap(),
        );
    }
    assert_eq!(zxids[0], super::z(1, 1));
    c.settle();
    for id in [1, 2, 3] {
        let got: Vec<_> = c.applied[&id].iter().map(|e| e.zxid).collect();
        assert_eq!(got, zxids, "server {id}");
    }
}

#[test]
fn observer_learns_without_voting_and_a_restarted_follower_rejoins() {
    let mut c = Cluster::new(&[1, 2, 3], &[9]);
    for _ in 0..5 {
        c.tick();
    }
    assert_eq!(c.leader(), Some(3));
    assert_eq!(c.nodes[&9].status().role, Role::Observing);
    assert!(c.nodes[&9].status().established);
    for i in 0..3 {
        c.nodes
            .get_mut(&3)
            .unwrap()
            .propose(Bytes::from(format!("a{i}")))
            .unwrap();
    }
    c.settle();
    assert_eq!(c.applied[&9].len(), 3);
    // Server 1 restarts from what it had stored (here: everything).
    let stored = c.applied[&1].clone();
    let persisted = Persisted {
        accepted_epoch: 1,
        current_epoch: 1,
        snapshot: crate::Zxid::ZERO,
    };
    let log = MemoryLog::new(crate::Zxid::ZERO, stored);
    c.nodes
        .insert(1, Zab::new(cfg(1, &[1, 2, 3]), persisted, log).unwrap());
    c.applied.insert(1, Vec::new());
    c.nodes.get_mut(&3).unwrap().disconnected(1);
    for _ in 0..3 {
        c.tick();
    }
    assert_eq!(c.nodes[&1].status().leader, Some(3));
    assert_eq!(
        c.nodes[&3].status().epoch,
        1,
        "the running leader kept its epoch"
    );
    c.nodes
        .get_mut(&3)
        .unwrap()
        .propose(Bytes::from_static(b"b"))
        .unwrap();
    c.settle();
    assert_eq!(
        c.applied[&1].len(),
        4,
        "rejoined: its log committed, then the new proposal"
    );
    assert_eq!(c.applied[&9].len(), 4);
}

#[test]
fn leader_steps_down_without_a_quorum_and_a_new_epoch_starts() {
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    for _ in 0..5 {
        c.tick();
    }
    assert_eq!(c.leader(), Some(3));
    // Followers 1 and 2 vanish from the leader's view.
    let leader = c.nodes.remove(&3).unwrap();
    let mut alone = leader;
    for _ in 0..12 {
        alone.tick().unwrap();
        let _ = alone.ready();
    }
    assert_eq!(
        alone.status().role,
        Role::Looking,
        "lost its quorum within syncLimit"
    );
    // 1 and 2 time out too and elect 2 in epoch 2.
    for _ in 0..15 {
        c.tick();
    }
    assert_eq!(c.leader(), Some(2));
    assert_eq!(c.nodes[&2].status().epoch, 2);
}
