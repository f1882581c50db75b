//! The simulated world: the servers, the network between them and the fault draws; starting,
//! crashing and restarting a server from its disk, and moving what nodes send onto the
//! network (checking what leaves).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use corral_zab::sim::chaos::{Chaos, Chaotic};
use corral_zab::sim::checkers::{Checkers, Violation};
use corral_zab::sim::decode_state as decode;
use corral_zab::sim::network::Network;
use corral_zab::sim::rng::Rng;
use corral_zab::{Config, Message, PeerId, VoterSet};
use corral_zab_runtime::{codec, NetEvent, Node};

use crate::disk::SimDisk;
use crate::options::{Options, Summary};
use crate::server::{lock, Out, Server, Shared, SimNet, SimSm, Watch};

/// The world one seed draws: servers, network, fault probabilities, the trace.
pub(crate) struct Sim {
    pub(crate) o: Options,
    pub(crate) rng: Rng,
    pub(crate) servers: BTreeMap<PeerId, Server>,
    pub(crate) net: Network,
    pub(crate) watch: Shared<Watch>,
    pub(crate) trace: VecDeque<String>,
    pub(crate) step: u64,
    pub(crate) max_delay: u64,
    pub(crate) p_deliver: f64,
    pub(crate) p_write: f64,
    pub(crate) p_fsync: f64,
    pub(crate) p_propose: f64,
    pub(crate) chaos: Chaos,
    /// A crash right after the writer wrote, before its fsync.
    pub(crate) p_crash_write: f64,
    pub(crate) snap_chunk: usize,
    pub(crate) chunks_per_pump: usize,
    /// With async apply: the chance a server's state machine applies some of its backlog
    /// in a step (1.0 otherwise, unused).
    pub(crate) p_apply: f64,
    pub(crate) next_payload: u64,
    /// Proposals answered as committed.
    pub(crate) answers: Shared<u64>,
    pub(crate) summary: Summary,
}

impl Chaotic for Sim {
    fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    fn crash(&mut self, id: PeerId) -> Result<(), Violation> {
        Sim::crash(self, id)
    }

    fn restart(&mut self, id: PeerId) -> Result<(), Violation> {
        self.start(id)
    }

    fn net(&mut self) -> &mut Network {
        &mut self.net
    }

    fn break_link(&mut self, a: PeerId, b: PeerId) {
        Sim::break_link(self, a, b);
    }

    fn trace(&mut self, line: String) {
        self.event(line);
    }
}

impl Sim {
    pub(crate) fn new(o: Options) -> Sim {
        let mut rng = Rng::new(o.seed);
        let voters: Vec<PeerId> = (1..=o.voters as PeerId).collect();
        let observers: Vec<PeerId> = (0..o.observers as PeerId).map(|i| 100 + i).collect();
        let mut servers = BTreeMap::new();
        for &id in voters.iter().chain(&observers) {
            let mut cfg = Config {
                id,
                voters: VoterSet::new(voters.iter().copied()),
                observers: observers.iter().copied().collect(),
                ping_ticks: 1,
                // Discovery and synchronisation take four durability rounds, each a write and
                // an fsync of the disk model: initLimit leaves room for a slow disk.
                init_limit: if o.tight { 12 } else { 20 },
                sync_limit: 5,
                election_ticks: 2,
                max_election_ticks: 16,
                finalize_wait: 1,
                diff_window: o.diff_window,
                max_diff: o.max_diff,
                max_wait_for_epoch: o.max_wait_for_epoch,
                ..Config::default()
            };
            cfg.faults = o.engine_faults;
            let disk = SimDisk::default();
            disk.model().epoch_before_log = o.epoch_before_log;
            servers.insert(
                id,
                Server {
                    cfg,
                    node: None,
                    disk,
                    outbox: SimNet::default(),
                },
            );
        }
        let watch = Shared::new(Mutex::new(Watch {
            checkers: Checkers {
                disabled: o.disabled.clone(),
                ..Checkers::default()
            },
            first: None,
        }));
        // Drawn only for async-apply runs: the other seeds keep their draws.
        let p_apply = if o.async_apply {
            0.05 + rng.below(6) as f64 / 10.0
        } else {
            1.0
        };
        let crashy = rng.chance(0.8);
        Sim {
            max_delay: rng.range(1, 5),
            p_deliver: 0.5 + rng.below(5) as f64 / 10.0,
            p_write: if o.tight {
                0.2 + rng.below(8) as f64 / 10.0
            } else {
                0.3 + rng.below(7) as f64 / 10.0
            },
            p_fsync: 0.1 + rng.below(8) as f64 / 10.0,
            p_propose: 0.05 + rng.below(5) as f64 / 10.0,
            chaos: Chaos::draw(&mut rng, crashy),
            p_crash_write: if crashy {
                rng.below(4) as f64 / 100.0
            } else {
                0.0
            },
            // A synchronisation must fit initLimit (20 ticks here), as in ZooKeeper: a few
            // to a dozen chunks per snapshot, not hundreds.
            snap_chunk: rng.range(128, 2048) as usize,
            chunks_per_pump: rng.range(1, 8) as usize,
            p_apply,
            rng,
            servers,
            net: Network::default(),
            watch,
            trace: VecDeque::new(),
            step: 0,
            o,
            next_payload: 0,
            answers: Shared::default(),
            summary: Summary::default(),
        }
    }

    pub(crate) fn ids(&self) -> Vec<PeerId> {
        self.servers.keys().copied().collect()
    }

    pub(crate) fn up(&self) -> Vec<PeerId> {
        self.servers
            .iter()
            .filter(|(_, s)| s.node.is_some())
            .map(|(&id, _)| id)
            .collect()
    }

    /// Any violation so far.
    pub(crate) fn check(&self) -> Result<(), Violation> {
        match &lock(&self.watch).first {
            Some(v) => Err(v.clone()),
            None => Ok(()),
        }
    }

    pub(crate) fn start(&mut self, id: PeerId) -> Result<(), Violation> {
        let s = self.servers.get_mut(&id).expect("known");
        let (persisted, data) = {
            let m = s.disk.model();
            (m.persisted(), m.snapshot_data())
        };
        let state = decode(&data).map_err(|e| Violation {
            invariant: "snapshot",
            detail: format!("server {id}: its own snapshot is unreadable: {e}"),
        })?;
        let sm = SimSm {
            id,
            state,
            receiving: Vec::new(),
            chunk: self.snap_chunk,
            watch: Arc::clone(&self.watch),
        };
        {
            let mut w = lock(&self.watch);
            let r = w.checkers.recovered(id, &sm.state);
            w.keep(r);
        }
        s.outbox = SimNet::default();
        let mut node = Node::new(
            s.cfg.clone(),
            persisted,
            s.disk.clone(),
            sm,
            s.disk.clone(),
            s.outbox.clone(),
        )
        .map_err(|e| Violation {
            invariant: "restart",
            detail: format!("server {id} cannot restart from its disk: {e}"),
        })?;
        node.set_faults(self.o.runtime_faults);
        node.set_chunks_per_pump(self.chunks_per_pump);
        node.set_deferred_apply(self.o.async_apply);
        let st = node.status();
        s.node = Some(node);
        self.event(format!(
            "start {id} (accepted {}, current {}, snapshot {:?}, last {:?})",
            st.accepted_epoch, st.current_epoch, st.applied, st.last_zxid
        ));
        self.flush()
    }

    pub(crate) fn crash(&mut self, id: PeerId) -> Result<(), Violation> {
        let s = self.servers.get_mut(&id).expect("known");
        s.node = None;
        let kept = s
            .disk
            .model()
            .crash(&mut self.rng)
            .map_err(|detail| Violation {
                invariant: "epoch_after_log",
                detail: format!("server {id}: {detail}"),
            });
        let kept = self.watch_keep(kept)?;
        self.summary.crashes += 1;
        self.event(format!("CRASH {id} (kept {kept} unsynced records)"));
        for other in self.ids() {
            if other != id {
                self.break_link(id, other);
            }
        }
        self.flush()
    }

    pub(crate) fn watch_keep<T: Default>(&self, r: Result<T, Violation>) -> Result<T, Violation> {
        lock(&self.watch).checkers.keep(r)
    }

    /// Drops what is in flight between `a` and `b`; both ends hear it.
    pub(crate) fn break_link(&mut self, a: PeerId, b: PeerId) {
        self.net.reset(a, b);
        for (x, y) in [(a, b), (b, a)] {
            if let Some(n) = self.servers.get_mut(&x).and_then(|s| s.node.as_mut()) {
                n.receive(NetEvent::Disconnected(y));
            }
        }
    }

    /// Moves every node's outbox onto the network (checking what leaves), until quiet.
    pub(crate) fn flush(&mut self) -> Result<(), Violation> {
        loop {
            let mut moved = false;
            for id in self.ids() {
                let out: Vec<Out> = std::mem::take(&mut *lock(&self.servers[&id].outbox.0));
                for o in out {
                    moved = true;
                    match o {
                        Out::Frame(to, frame) => self.sent(id, to, frame)?,
                        Out::Reset(peer) => {
                            self.event(format!("{id} resets its stream to {peer}"));
                            self.break_link(id, peer);
                        }
                    }
                }
                let events = self
                    .servers
                    .get_mut(&id)
                    .and_then(|s| s.node.as_mut())
                    .map(|n| n.take_events())
                    .unwrap_or_default();
                for e in events {
                    if let corral_zab_runtime::Event::Refused { peer, reason } = e {
                        self.event(format!("{id} refused {peer}: {reason}"));
                    }
                }
                if let Some(n) = self.servers[&id].node.as_ref() {
                    let s = n.status();
                    let mut w = lock(&self.watch);
                    let r = w.checkers.status(&s);
                    w.keep(r);
                    if let Some(e) = n.stopped() {
                        w.keep(Err(Violation {
                            invariant: "runtime_stopped",
                            detail: format!("server {id}: {e}"),
                        }));
                    }
                }
            }
            self.check()?;
            if !moved {
                return Ok(());
            }
        }
    }

    pub(crate) fn sent(&mut self, from: PeerId, to: PeerId, frame: Bytes) -> Result<(), Violation> {
        let msg = codec::decode(frame).map_err(|e| Violation {
            invariant: "codec",
            detail: format!("server {from} sent a frame it cannot decode: {e}"),
        })?;
        if matches!(
            msg,
            Message::Ack { .. } | Message::AckEpoch { .. } | Message::LeaderInfo { .. }
        ) {
            let s = &self.servers[&from];
            let accepted = s.node.as_ref().map_or(0, |n| n.status().accepted_epoch);
            let stored = s.disk.model().stored();
            let mut w = lock(&self.watch);
            let r = w.checkers.sent(from, &msg, accepted, &stored);
            w.keep(r);
        }
        let delay = self.rng.range(1, self.max_delay);
        self.net.send(from, to, msg, self.step, delay);
        Ok(())
    }

    pub(crate) fn chaos(&mut self) -> Result<(), Violation> {
        let ids = self.ids();
        let up = self.up();
        let chaos = self.chaos;
        chaos.step(self, &ids, &up)?;
        self.flush()
    }
}
