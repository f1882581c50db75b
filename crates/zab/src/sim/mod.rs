//! A deterministic simulator for the engine: N servers, a network model, a
//! storage model, crashes and restarts, client proposals — every choice drawn
//! from one seed by a self-written PRNG, in one thread. After every call into
//! an engine the [`checkers`] verify ZAB's properties and the engine's own
//! invariants ([`Zab::validate`]); after the chaos phase the network
//! heals, every server restarts, and a leader must be established and new
//! proposals committed everywhere within a bounded number of ticks.
//!
//! A failing run reports its seed, the broken property, the last events and
//! the one command that replays it:
//! `CORRAL_SIM_SEED=<seed> cargo test -p corral-zab --lib sim::tests::replay -- --nocapture`.

pub mod chaos;
// The models and checkers are documented per module; their items are
// simulator internals.
#[allow(missing_docs)]
pub mod checkers;
#[allow(missing_docs)]
pub mod network;
mod report;
#[allow(missing_docs)]
pub mod rng;
#[allow(missing_docs)]
pub mod storage;

pub use report::{Failure, Summary};
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};

use bytes::{BufMut, Bytes, BytesMut};

use crate::{Config, Faults, Message, PeerId, Role, VoterSet, Zab, Zxid};
use chaos::{Chaos, Chaotic};
use checkers::{Checkers, Violation};
use network::Network;
use rng::Rng;
use storage::{Disk, Stored};

/// Engine ticks happen every this many simulator steps; a message takes
/// between 1 and `max_delay` steps.
const STEPS_PER_TICK: u64 = 4;
/// Proposals that must commit everywhere once the network has healed.
const LIVENESS_PROPOSALS: usize = 3;
/// Events kept for the failure report.
const TRACE_LEN: usize = 300;

/// What one run looks like; everything but `seed`, `faults`, `verbose`,
/// `disabled` and `initial_epoch` is drawn from the seed by
/// [`SimOptions::from_seed`].
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// The seed.
    pub seed: u64,
    /// Voters (3, 5 or 7).
    pub voters: usize,
    /// Observers (0 or 1).
    pub observers: usize,
    /// Steps of the fault phase.
    pub chaos_steps: u64,
    /// Ticks the healed ensemble gets to converge.
    pub liveness_ticks: u64,
    /// Proposals per epoch before the zxid counter "rolls over".
    pub counter_limit: u32,
    /// The leaders' DIFF window.
    pub diff_window: usize,
    /// The most proposals a DIFF sends (from memory or the log).
    pub max_diff: usize,
    /// Deliberately broken engine behaviour.
    pub faults: Faults,
    /// Print every event as it happens.
    pub verbose: bool,
    /// Checkers whose violations are let through, by invariant name: a test
    /// shows this way that the end-to-end properties alone notice an ACK
    /// sent before fsync, or that a checker catches what another one would
    /// have caught first.
    pub disabled: Vec<String>,
    /// Accepted and current epoch on every disk at the start, as on a
    /// long-lived ensemble; near [`Zxid::MAX_EPOCH`] it runs out of epochs.
    pub initial_epoch: u32,
}

impl SimOptions {
    /// The run that `seed` names.
    pub fn from_seed(seed: u64) -> SimOptions {
        let mut r = Rng::new(seed ^ 0x5A5A_0000_C0FF_EE00);
        SimOptions {
            seed,
            voters: [3, 3, 5, 5, 7][r.below(5) as usize],
            observers: r.below(2) as usize,
            chaos_steps: r.range(800, 2000),
            liveness_ticks: 600,
            counter_limit: if r.chance(0.3) {
                r.range(4, 40) as u32
            } else {
                Zxid::MAX_COUNTER
            },
            diff_window: r.range(2, 60) as usize,
            faults: Faults::default(),
            verbose: false,
            disabled: Vec::new(),
            initial_epoch: 0,
            max_diff: if r.chance(0.5) {
                r.range(1, 200) as usize
            } else {
                100_000
            },
        }
    }
}

struct Node {
    cfg: Config,
    zab: Option<Zab>,
    disk: Disk,
    /// The state machine: every applied entry.
    state: Vec<(Zxid, Bytes)>,
    /// `send_after_persist` batches waiting for their fsync.
    deferred: VecDeque<(u64, Vec<(PeerId, Message)>)>,
    last_ready: u64,
    /// State length at the last compaction.
    compacted: usize,
    /// The snapshot being received (SNAP chunks so far).
    receiving: Vec<u8>,
}

/// The simulated state machine's snapshot format: `[zxid u64][len u32][payload]*`.
pub fn encode_state(state: &[(Zxid, Bytes)]) -> Bytes {
    let mut b = BytesMut::new();
    for (z, p) in state {
        b.put_u64(z.0);
        b.put_u32(p.len() as u32);
        b.put_slice(p);
    }
    b.freeze()
}

/// Reads [`encode_state`]'s format; `Err` on stray or missing bytes.
pub fn decode_state(mut data: &[u8]) -> Result<Vec<(Zxid, Bytes)>, String> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (Some(z), Some(len)) = (data.get(..8), data.get(8..12)) else {
            return Err(format!("{} stray bytes", data.len()));
        };
        let z = u64::from_be_bytes(z.try_into().map_err(|_| "short zxid")?);
        let len = u32::from_be_bytes(len.try_into().map_err(|_| "short length")?) as usize;
        let payload = data
            .get(12..12 + len)
            .ok_or("a payload runs past the end")?;
        out.push((Zxid(z), Bytes::copy_from_slice(payload)));
        data = &data[12 + len..];
    }
    Ok(out)
}

fn encode(state: &[(Zxid, Bytes)]) -> Bytes {
    encode_state(state)
}

fn decode(data: &[u8]) -> Vec<(Zxid, Bytes)> {
    decode_state(data).unwrap_or_default()
}

/// One simulated ensemble.
pub struct Sim {
    opts: SimOptions,
    rng: Rng,
    nodes: BTreeMap<PeerId, Node>,
    net: Network,
    checkers: Checkers,
    trace: VecDeque<String>,
    step: u64,
    summary: Summary,
    // Knobs drawn from the seed.
    max_delay: u64,
    p_deliver: f64,
    p_fsync: f64,
    p_propose: f64,
    chaos: Chaos,
    /// Bytes per SNAP chunk.
    snap_chunk: usize,
    next_payload: u64,
    pending_violation: Option<Violation>,
}

impl Sim {
    /// Builds the ensemble `opts` describes.
    pub fn new(opts: SimOptions) -> Sim {
        let mut rng = Rng::new(opts.seed);
        let voters: Vec<PeerId> = (1..=opts.voters as PeerId).collect();
        let observers: Vec<PeerId> = (0..opts.observers as PeerId).map(|i| 100 + i).collect();
        let mut nodes = BTreeMap::new();
        for &id in voters.iter().chain(&observers) {
            let cfg = Config {
                id,
                voters: VoterSet::new(voters.iter().copied()),
                observers: observers.iter().copied().collect(),
                ping_ticks: 1,
                init_limit: 12,
                sync_limit: 5,
                election_ticks: 2,
                max_election_ticks: 16,
                finalize_wait: 1,
                diff_window: opts.diff_window,
                max_diff: opts.max_diff,
                max_wait_for_epoch: None,
                faults: opts.faults,
                counter_limit: opts.counter_limit,
            };
            nodes.insert(
                id,
                Node {
                    cfg,
                    zab: None,
                    disk: Disk::with(Stored {
                        accepted_epoch: opts.initial_epoch,
                        current_epoch: opts.initial_epoch,
                        ..Stored::default()
                    }),
                    state: Vec::new(),
                    deferred: VecDeque::new(),
                    last_ready: 0,
                    compacted: 0,
                    receiving: Vec::new(),
                },
            );
        }
        let max_delay = rng.range(1, 6);
        let p_fsync = 0.1 + rng.below(8) as f64 / 10.0;
        let crashy = rng.chance(0.8);
        Sim {
            max_delay,
            p_deliver: 0.5 + rng.below(5) as f64 / 10.0,
            p_fsync,
            p_propose: 0.05 + rng.below(5) as f64 / 10.0,
            chaos: Chaos::draw(&mut rng, crashy),
            // Several chunks for a large state, yet few enough to fit a
            // synchronisation within initLimit, as a real chunk size (64 KiB)
            // does for a real snapshot.
            snap_chunk: rng.range(1024, 8192) as usize,
            rng,
            summary: Summary {
                servers: nodes.len(),
                ..Summary::default()
            },
            nodes,
            net: Network::default(),
            checkers: Checkers {
                disabled: opts.disabled.clone(),
                ..Checkers::default()
            },
            trace: VecDeque::new(),
            step: 0,
            opts,
            next_payload: 0,
            pending_violation: None,
        }
    }

    fn event(&mut self, text: impl FnOnce() -> String) {
        if self.opts.verbose {
            println!("{:>6} {}", self.step, text());
            return;
        }
        if self.trace.len() == TRACE_LEN {
            self.trace.pop_front();
        }
        let line = format!("{:>6} {}", self.step, text());
        self.trace.push_back(line);
    }

    fn fail(&self, violation: Violation) -> Failure {
        Failure {
            seed: self.opts.seed,
            step: self.step,
            violation,
            trace: self.trace.iter().cloned().collect(),
            faults: self.opts.faults,
            initial_epoch: self.opts.initial_epoch,
            disabled: self.opts.disabled.clone(),
        }
    }

    fn ids(&self) -> Vec<PeerId> {
        self.nodes.keys().copied().collect()
    }

    fn up(&self) -> Vec<PeerId> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.zab.is_some())
            .map(|(&id, _)| id)
            .collect()
    }

    /// Runs the chaos phase, then the liveness phase.
    pub fn run(mut self) -> Result<Summary, Failure> {
        let ids = self.ids();
        for id in ids {
            self.start(id).map_err(|v| self.fail(v))?;
        }
        while self.step < self.opts.chaos_steps {
            self.step += 1;
            self.chaos();
            self.one_step(true).map_err(|v| self.fail(v))?;
        }
        self.event(|| "--- heal: liveness phase ---".into());
        self.net.heal();
        for id in self.ids() {
            if self.nodes[&id].zab.is_none() {
                self.start(id).map_err(|v| self.fail(v))?;
            }
        }
        let deadline = self.step + self.opts.liveness_ticks * STEPS_PER_TICK;
        let start_len = self.checkers.agreement.global().len();
        while self.step < deadline {
            self.step += 1;
            let committed_new =
                self.checkers.agreement.global().len() >= start_len + LIVENESS_PROPOSALS;
            self.one_step(!committed_new).map_err(|v| self.fail(v))?;
            if committed_new && self.converged() {
                for (&id, n) in &self.nodes {
                    self.checkers
                        .complete(id, &n.state)
                        .map_err(|v| self.fail(v))?;
                }
                self.summary.committed = self.checkers.agreement.global().len();
                self.summary.proposed = self.checkers.integrity.count();
                self.summary.epochs = self.checkers.one_leader.epochs();
                self.summary.steps = self.step;
                return Ok(self.summary);
            }
        }
        let statuses: Vec<String> = self
            .nodes
            .values()
            .filter_map(|n| n.zab.as_ref())
            .map(|z| {
                let s = z.status();
                format!(
                    "{}:{:?}/{:?}/e{}/{}",
                    s.id, s.role, s.leader, s.epoch, s.established
                )
            })
            .collect();
        Err(self.fail(Violation {
            invariant: "liveness",
            detail: format!(
                "no convergence {} ticks after healing (committed {} -> {}); servers {}",
                self.opts.liveness_ticks,
                start_len,
                self.checkers.agreement.global().len(),
                statuses.join(" ")
            ),
        }))
    }

    fn converged(&self) -> bool {
        let n = self.checkers.agreement.global().len();
        self.nodes.values().all(|node| node.state.len() == n)
    }

    fn start(&mut self, id: PeerId) -> Result<(), Violation> {
        let (persisted, state) = {
            let node = &self.nodes[&id];
            let data = node.disk.durable().snapshot_data.clone();
            (node.disk.persisted(), decode(&data))
        };
        let node = self.nodes.get_mut(&id).expect("known id");
        node.zab = Some(
            Zab::new(node.cfg.clone(), persisted, node.disk.source())
                .expect("the sim's own storage is consistent"),
        );
        node.compacted = state.len();
        node.state = state;
        node.deferred.clear();
        node.receiving.clear();
        node.last_ready = 0;
        self.event(|| format!("start {id}"));
        let state = self.nodes[&id].state.clone();
        self.checkers.recovered(id, &state)?;
        self.drive(id)
    }

    fn crash(&mut self, id: PeerId) {
        let node = self.nodes.get_mut(&id).expect("known id");
        node.zab = None;
        node.deferred.clear();
        let kept = node.disk.crash(&mut self.rng);
        self.summary.crashes += 1;
        self.event(|| format!("CRASH {id} (kept {kept} unsynced writes)"));
        for other in self.ids() {
            if other != id {
                self.break_link(id, other);
            }
        }
    }

    /// Drops what is in flight between `a` and `b` and tells both ends.
    fn break_link(&mut self, a: PeerId, b: PeerId) {
        self.net.reset(a, b);
        for (x, y) in [(a, b), (b, a)] {
            let node = self.nodes.get_mut(&x).expect("known id");
            for (_, batch) in node.deferred.iter_mut() {
                batch.retain(|(to, _)| *to != y);
            }
            if let Some(z) = node.zab.as_mut() {
                z.disconnected(y);
            }
        }
    }

    fn chaos(&mut self) {
        let ids = self.ids();
        let up = self.up();
        let chaos = self.chaos;
        // Every action here records its own violations for the next step.
        let _ = chaos.step(self, &ids, &up);
    }
}

impl Chaotic for Sim {
    fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    fn crash(&mut self, id: PeerId) -> Result<(), Violation> {
        Sim::crash(self, id);
        Ok(())
    }

    fn restart(&mut self, id: PeerId) -> Result<(), Violation> {
        // A restart failing a check is reported by the next step.
        if let Err(v) = self.start(id) {
            self.pending_violation = Some(v);
        }
        Ok(())
    }

    fn net(&mut self) -> &mut Network {
        &mut self.net
    }

    fn break_link(&mut self, a: PeerId, b: PeerId) {
        Sim::break_link(self, a, b);
    }

    fn trace(&mut self, line: String) {
        self.event(|| line);
    }
}

impl Sim {
    /// One step: client proposals, message deliveries, maybe a tick, the
    /// servers' `Ready`s, fsyncs; each followed by the status checks.
    fn one_step(&mut self, propose: bool) -> Result<(), Violation> {
        if let Some(v) = self.pending_violation.take() {
            return Err(v);
        }
        for id in self.up() {
            self.drive(id)?;
        }
        if propose && self.rng.chance(self.p_propose) {
            self.propose()?;
        }
        let due = self.net.due(self.step);
        for (from, to) in due {
            if !self.rng.chance(self.p_deliver) {
                continue;
            }
            let Some(msg) = self.net.pop(from, to) else {
                continue;
            };
            self.summary.delivered += 1;
            match msg {
                Message::Diff { .. } => self.summary.diffs += 1,
                Message::Trunc { .. } => self.summary.truncs += 1,
                Message::Snap { .. } => self.summary.snaps += 1,
                _ => {}
            }
            let Some(zab) = self.nodes.get_mut(&to).and_then(|n| n.zab.as_mut()) else {
                continue;
            };
            let verbose = self.opts.verbose;
            let _ = verbose;
            let text = format!("{from}->{to} {}", short(&msg));
            let result = zab.step(from, msg);
            if result.is_err() {
                self.summary.refused += 1;
            }
            self.event(|| match result {
                Ok(()) => text,
                Err(e) => format!("{text}  (refused: {e})"),
            });
            self.drive(to)?;
        }
        if self.step.is_multiple_of(STEPS_PER_TICK) {
            for id in self.up() {
                if let Some(z) = self.nodes.get_mut(&id).and_then(|n| n.zab.as_mut()) {
                    if let Err(e) = z.tick() {
                        self.event(|| format!("tick at {id}: {e}"));
                    }
                }
                self.drive(id)?;
            }
        }
        for id in self.up() {
            let node = &self.nodes[&id];
            if node.last_ready > 0
                && (node.disk.has_pending() || !node.deferred.is_empty())
                && self.rng.chance(self.p_fsync)
            {
                self.fsync(id)?;
            }
        }
        Ok(())
    }

    /// Checks server `id` as it stands: the engine's own invariants
    /// ([`Zab::validate`]) and its role (one leader per epoch). `drive` runs
    /// it after every call into the engine, so even a leadership that lasts
    /// less than a step is seen.
    fn observe(&mut self, id: PeerId) -> Result<(), Violation> {
        let Some(z) = self.nodes[&id].zab.as_ref() else {
            return Ok(());
        };
        let valid = z.validate().map_err(|e| Violation {
            invariant: "validate",
            detail: format!("server {id}: {e}"),
        });
        let s = z.status();
        self.checkers.keep(valid)?;
        self.checkers.status(&s)
    }

    fn propose(&mut self) -> Result<(), Violation> {
        let leaders: Vec<PeerId> = self
            .nodes
            .iter()
            .filter(|(_, n)| {
                n.zab.as_ref().is_some_and(|z| {
                    let s = z.status();
                    s.role == Role::Leading && s.established
                })
            })
            .map(|(&id, _)| id)
            .collect();
        for id in leaders {
            self.next_payload += 1;
            let payload = Bytes::from(format!("s{}#{}", self.opts.seed, self.next_payload));
            let Some(z) = self.nodes.get_mut(&id).and_then(|n| n.zab.as_mut()) else {
                continue;
            };
            match z.propose(payload.clone()) {
                Ok(zxid) => {
                    self.event(|| format!("propose at {id}: {zxid:?}"));
                    self.checkers.proposed(id, zxid, &payload)?;
                }
                Err(e) => {
                    if matches!(e, crate::ZabError::ZxidRollover { .. }) {
                        self.summary.rollovers += 1;
                    }
                    self.event(|| format!("propose at {id} refused: {e}"))
                }
            }
            self.drive(id)?;
        }
        Ok(())
    }

    /// Takes every `Ready` of server `id` and does what it says, then checks
    /// the server.
    fn drive(&mut self, id: PeerId) -> Result<(), Violation> {
        loop {
            let node = self.nodes.get_mut(&id).expect("known id");
            let Some(zab) = node.zab.as_mut() else {
                return Ok(());
            };
            if !zab.has_ready() {
                return self.observe(id);
            }
            let mut ready = zab.ready();
            node.last_ready = ready.number;
            if let Some(role) = ready.role {
                self.event(|| format!("{id} is now {role:?}"));
            }
            if let Some(e) = ready.failed.take() {
                // The engine's idea of its durable log disagrees with the
                // disk (or the disk failed): never in a correct run.
                self.checkers.keep(Err::<(), _>(Violation {
                    invariant: "log_source",
                    detail: format!("server {id} could not read its log: {e}"),
                }))?;
            }
            if let Some(established) = ready.established {
                self.event(|| format!("{id} established: {established}"));
            }
            for &peer in &ready.reset {
                self.event(|| format!("{id} resets its stream to {peer}"));
                self.break_link(id, peer);
            }
            let node = self.nodes.get_mut(&id).expect("known id");
            for op in &ready.persist {
                node.disk.write(ready.number, op.clone());
            }
            let mut installed = None;
            for op in &ready.persist {
                match op {
                    crate::Persist::SnapshotChunk { offset, data, .. } => {
                        node.receiving.truncate(*offset as usize);
                        node.receiving.extend_from_slice(data);
                    }
                    crate::Persist::InstallSnapshot { zxid } => {
                        node.state = decode(&std::mem::take(&mut node.receiving));
                        installed = Some(*zxid);
                    }
                    _ => {}
                }
            }
            if let Some(zxid) = installed {
                let state = node.state.clone();
                self.event(|| format!("{id} installs SNAP at {zxid:?} ({} entries)", state.len()));
                self.checkers.recovered(id, &state)?;
            }
            for e in &ready.committed {
                let node = self.nodes.get_mut(&id).expect("known id");
                self.checkers
                    .delivered(id, &node.state, e.zxid, &e.payload)?;
                node.state.push((e.zxid, e.payload.clone()));
            }
            let node = self.nodes.get_mut(&id).expect("known id");
            if !ready.snapshot.is_empty() {
                let state = &node.state;
                let at = state.last().map_or(Zxid::ZERO, |(z, _)| *z);
                for req in &ready.snapshot {
                    if req.zxid != at {
                        return Err(Violation {
                            invariant: "snapshot",
                            detail: format!("SNAP requested at {:?}, state is at {at:?}", req.zxid),
                        });
                    }
                }
                let chunk = self.snap_chunk;
                ready.insert_snapshots(|_| crate::snapshot_chunks(&encode(state), chunk));
            }
            if !ready.send_after_persist.is_empty() {
                node.deferred
                    .push_back((ready.number, ready.send_after_persist));
            }
            // The caller's own log compaction, now and then.
            if node.state.len() >= node.compacted + 16 && !node.disk.has_pending() {
                let at = node.state.last().map_or(Zxid::ZERO, |(z, _)| *z);
                node.disk.compact(at, encode(&node.state));
                node.compacted = node.state.len();
            }
            for (to, msg) in ready.messages {
                self.send(id, to, msg)?;
            }
        }
    }

    fn send(&mut self, from: PeerId, to: PeerId, msg: Message) -> Result<(), Violation> {
        let node = &self.nodes[&from];
        // The sender is up: messages of a crashed server are dropped first.
        let accepted = node.zab.as_ref().map_or(0, |z| z.status().accepted_epoch);
        self.checkers
            .sent(from, &msg, accepted, &node.disk.durable())?;
        let delay = self.rng.range(1, self.max_delay);
        self.net.send(from, to, msg, self.step, delay);
        Ok(())
    }

    fn fsync(&mut self, id: PeerId) -> Result<(), Violation> {
        let node = self.nodes.get_mut(&id).expect("known id");
        let upto = node.last_ready;
        node.disk.sync(upto);
        let mut out = Vec::new();
        while node.deferred.front().is_some_and(|(n, _)| *n <= upto) {
            if let Some((_, batch)) = node.deferred.pop_front() {
                out.extend(batch);
            }
        }
        for (to, msg) in out {
            self.send(id, to, msg)?;
        }
        if let Some(z) = self.nodes.get_mut(&id).and_then(|n| n.zab.as_mut()) {
            z.advance(upto);
        }
        self.drive(id)
    }
}

/// A one-line rendering of a message for traces.
fn short(m: &Message) -> String {
    match m {
        Message::Notification(n) => format!(
            "VOTE({}, {:?}, round {}, pe {}, {:?})",
            n.leader, n.zxid, n.election_epoch, n.peer_epoch, n.state
        ),
        Message::FollowerInfo { accepted_epoch, .. } => {
            format!("{}(accepted {accepted_epoch})", m.kind())
        }
        Message::LeaderInfo { epoch } => format!("LEADERINFO({epoch})"),
        Message::AckEpoch {
            current_epoch,
            last_zxid,
        } => format!("ACKEPOCH({current_epoch:?}, {last_zxid:?})"),
        Message::Diff { zxid }
        | Message::Trunc { zxid }
        | Message::Snap { zxid }
        | Message::Proposal { zxid, .. }
        | Message::NewLeader { zxid }
        | Message::Ack { zxid }
        | Message::Commit { zxid }
        | Message::Inform { zxid, .. } => format!("{}({zxid:?})", m.kind()),
        Message::SnapChunk { data, last } => {
            format!("SNAPCHUNK({} bytes, last {last})", data.len())
        }
        Message::UpToDate | Message::Ping => m.kind().to_string(),
    }
}

/// Runs the run `opts` describes.
pub fn run(opts: SimOptions) -> Result<Summary, Failure> {
    Sim::new(opts).run()
}
