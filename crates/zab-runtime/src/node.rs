//! [`Node`]: the runtime's core, sans I/O. It owns a [`Zab`] and the user's state
//! machine, and executes every `Ready` against a [`DiskIo`] and a [`Transport`]; time,
//! frames and durability reports come in as calls. The tokio shell ([`crate::Runtime`])
//! and the simulator both drive this same type, so what the simulator proves is what
//! runs.
//!
//! One `Ready`, in order:
//! 1. `reset`: break those streams (and forget what was deferred or streaming to them);
//! 2. `persist`: snapshot chunks and installation go to the state machine as well, then
//!    everything is submitted to the disk under the `Ready`'s number;
//! 3. `committed`: applied, in order; a proposal waiting for its zxid is answered (with
//!    [`Node::set_deferred_apply`], queued instead and applied by [`Node::apply_pending`],
//!    as a state machine slower than the log; the queue is applied first wherever the
//!    state must be current: a snapshot for a SNAP or for compaction, a snapshot installed);
//! 4. `snapshot`: a snapshot of the state machine is taken now (at the zxid asked), to be
//!    streamed right behind its SNAP header;
//! 5. `messages`: sent;
//! 6. `send_after_persist`: kept until the disk reports the `Ready` durable, then sent,
//!    and only then is the engine told (`advance`).

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use corral_zab::{
    Config, LogSource, Message, PeerId, Persist, Persisted, Ready, Role, Status, Zab, ZabError,
    Zxid,
};

use crate::codec;
use crate::outbound::Outbound;
use crate::traits::{DiskIo, NetEvent, StateMachine, Transport};
use crate::RuntimeError;

/// Answers a proposal: its zxid once committed and applied here, or why not.
pub type Waiter = Box<dyn FnOnce(Result<Zxid, RuntimeError>) + Send>;

/// What changed, for the embedding service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The server's role changed.
    Role(Role),
    /// The quorum this server belongs to became established (`true`) or was lost.
    Established(bool),
    /// The runtime stopped for good (a disk failure, an unreadable log or snapshot).
    Stopped(RuntimeError),
    /// A peer's message was refused (malformed, from outside the ensemble, or breaking
    /// the protocol); the engine already reacted (dropped the session or the stream).
    Refused {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: String,
    },
}

/// Deliberately broken runtime behaviour, for the checkers' self-test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuntimeFaults {
    /// Send `send_after_persist` (a follower's ACK, ACKEPOCH) at once, before the disk
    /// reported it durable.
    pub ack_before_fsync: bool,
    /// With deferred apply: take a learner's SNAP snapshot without first applying the
    /// queued entries (a snapshot older than the zxid it is sent as).
    pub stale_snapshot: bool,
}

/// The runtime's core; see the module docs.
pub struct Node<S: StateMachine, D: DiskIo, T: Transport> {
    zab: Zab,
    sm: S,
    disk: D,
    net: T,
    /// `send_after_persist` batches by `Ready` number, waiting for durability.
    deferred: VecDeque<(u64, Vec<(PeerId, Message)>)>,
    /// Snapshots taken for a SNAP whose header has not gone out yet.
    snapshots: BTreeMap<PeerId, S::Snapshot>,
    outbound: Outbound<S::Snapshot>,
    waiters: BTreeMap<Zxid, Waiter>,
    events: Vec<Event>,
    stopped: Option<RuntimeError>,
    leading: bool,
    faults: RuntimeFaults,
    applied_count: u64,
    /// Committed entries not applied yet (deferred apply only).
    unapplied: VecDeque<corral_zab::Entry>,
    deferred_apply: bool,
}

impl<S: StateMachine, D: DiskIo, T: Transport> Node<S, D, T> {
    /// A server restarting from what its disk holds: `persisted` and `log`, with `sm`
    /// already restored from the snapshot at `persisted.snapshot`.
    pub fn new(
        config: Config,
        persisted: Persisted,
        log: impl LogSource + 'static,
        sm: S,
        disk: D,
        net: T,
    ) -> Result<Self, RuntimeError> {
        let zab = Zab::new(config, persisted, log).map_err(|e| match e {
            ZabError::InvalidConfig { .. } => RuntimeError::Config(e.to_string()),
            other => RuntimeError::Storage(other.to_string()),
        })?;
        let mut node = Node {
            zab,
            sm,
            disk,
            net,
            deferred: VecDeque::new(),
            snapshots: BTreeMap::new(),
            outbound: Outbound::new(16),
            waiters: BTreeMap::new(),
            events: Vec::new(),
            stopped: None,
            leading: false,
            faults: RuntimeFaults::default(),
            applied_count: 0,
            unapplied: VecDeque::new(),
            deferred_apply: false,
        };
        node.drive();
        Ok(node)
    }

    /// Switches on deliberately broken behaviour (tests of the checkers only).
    pub fn set_faults(&mut self, faults: RuntimeFaults) {
        self.faults = faults;
    }

    /// Deferred apply (`true`): committed entries are queued and applied by
    /// [`Node::apply_pending`], a state machine running behind the log (the simulator
    /// interleaves the two). `false` (the default) applies them as they commit. Turning it
    /// off applies the queue.
    pub fn set_deferred_apply(&mut self, on: bool) {
        self.deferred_apply = on;
        if !on {
            self.apply_pending(usize::MAX);
        }
    }

    /// Applies up to `max` queued committed entries, in order, answering their proposals;
    /// how many it applied.
    pub fn apply_pending(&mut self, max: usize) -> usize {
        let mut n = 0;
        while n < max {
            let Some(e) = self.unapplied.pop_front() else {
                break;
            };
            self.apply(&e);
            n += 1;
        }
        n
    }

    /// Committed entries waiting to be applied.
    pub fn pending_apply(&self) -> usize {
        self.unapplied.len()
    }

    fn apply(&mut self, e: &corral_zab::Entry) {
        self.sm.apply(e.zxid, &e.payload);
        self.applied_count += 1;
        if let Some(w) = self.waiters.remove(&e.zxid) {
            w(Ok(e.zxid));
        }
    }

    /// Snapshot chunks sent per peer each time [`Node::pump`] runs.
    pub fn set_chunks_per_pump(&mut self, n: usize) {
        self.outbound.chunks_per_pump = n.max(1);
    }

    /// One tick of time passed.
    pub fn tick(&mut self) {
        if self.stopped.is_some() {
            return;
        }
        if let Err(e) = self.zab.tick() {
            tracing::error!(id = self.zab.config().id, error = %e, "tick");
        }
        self.drive();
    }

    /// Something happened on the network.
    pub fn receive(&mut self, event: NetEvent) {
        if self.stopped.is_some() {
            return;
        }
        match event {
            NetEvent::Frame { from, frame } => self.frame(from, frame),
            NetEvent::Disconnected(peer) => self.forget_peer(peer),
            // The engine needs nothing: whoever is LOOKING resends its vote on its own, and
            // a learner introduces itself to its leader (FOLLOWERINFO) on the new stream.
            NetEvent::Connected(peer) => self.net.connected(peer),
        }
        self.drive();
    }

    fn frame(&mut self, from: PeerId, frame: Bytes) {
        let id = self.zab.config().id;
        let msg = match codec::decode(frame) {
            Ok(m) => m,
            Err(reason) => {
                tracing::warn!(id, peer = from, %reason, "malformed frame: dropping the peer's stream");
                self.net.reset(from);
                self.forget_peer(from);
                self.events.push(Event::Refused { peer: from, reason });
                return;
            }
        };
        match self.zab.step(from, msg) {
            Ok(()) => {}
            Err(ZabError::UnknownPeer(p)) => {
                tracing::warn!(
                    id,
                    peer = p,
                    "frame from a server not in the ensemble: dropping its stream"
                );
                self.net.reset(p);
            }
            Err(e @ ZabError::Protocol { .. }) => {
                tracing::warn!(id, peer = from, error = %e, "protocol violation");
            }
            Err(e) => tracing::error!(id, peer = from, error = %e, "step"),
        }
    }

    fn forget_peer(&mut self, peer: PeerId) {
        self.outbound.forget(peer);
        self.snapshots.remove(&peer);
        for (_, batch) in self.deferred.iter_mut() {
            batch.retain(|(to, _)| *to != peer);
        }
        self.zab.disconnected(peer);
    }

    /// The disk made every operation submitted under tags up to `tag` durable.
    pub fn durable(&mut self, tag: u64) {
        if self.stopped.is_some() {
            return;
        }
        let mut out = Vec::new();
        while self.deferred.front().is_some_and(|(n, _)| *n <= tag) {
            if let Some((_, batch)) = self.deferred.pop_front() {
                out.extend(batch);
            }
        }
        for (to, msg) in out {
            self.send(to, msg);
        }
        self.zab.advance(tag);
        self.drive();
    }

    /// The disk failed: stop (restart to recover from what is on disk).
    pub fn disk_failed(&mut self, reason: String) {
        self.stop(RuntimeError::Storage(reason));
    }

    /// Proposes `payload`; `waiter` hears the outcome: the zxid once committed and applied
    /// here, or the refusal at once (also returned: nothing was proposed) when this server
    /// is not the established leader or the epoch's counter is exhausted.
    pub fn propose(&mut self, payload: Bytes, waiter: Waiter) -> Result<Zxid, RuntimeError> {
        self.propose_with(|_| payload, waiter)
    }

    /// Proposes the payload `build` makes for its zxid (called only if accepted).
    pub fn propose_with(
        &mut self,
        build: impl FnOnce(Zxid) -> Bytes,
        waiter: Waiter,
    ) -> Result<Zxid, RuntimeError> {
        if let Some(e) = &self.stopped {
            waiter(Err(e.clone()));
            return Err(e.clone());
        }
        let zxid = match self.zab.propose_with(build) {
            Ok(z) => z,
            Err(e) => {
                let e = RuntimeError::Refused(e);
                waiter(Err(e.clone()));
                return Err(e);
            }
        };
        self.waiters.insert(zxid, waiter);
        self.drive();
        Ok(zxid)
    }

    /// The zxid the next accepted proposal will carry, or why `propose` would refuse now
    /// (nothing is reserved: the answer holds until the node is next called). A caller that
    /// writes the zxid into its payload (ZooKeeper's Stat fields) preps with it, then
    /// proposes.
    pub fn next_zxid(&self) -> Result<Zxid, RuntimeError> {
        if let Some(e) = &self.stopped {
            return Err(e.clone());
        }
        self.zab.next_zxid().map_err(RuntimeError::Refused)
    }

    /// A leader's learners (`None` unless leading).
    pub fn learner_counts(&self) -> Option<corral_zab::LearnerCounts> {
        self.zab.learner_counts()
    }

    /// A leader's learners one by one (none unless leading).
    pub fn learners(&self) -> Vec<corral_zab::LearnerInfo> {
        self.zab.learners()
    }

    /// Sends the next chunks of running snapshot streams while the transport has room;
    /// whether any went out. The shell calls it after every input and while streaming.
    pub fn pump(&mut self) -> bool {
        self.outbound.pump(&mut self.net)
    }

    /// A snapshot of the state machine now, at the zxid it has applied (every entry up to
    /// it is committed and durable): write it, then older log records may go. The chunks
    /// describe the state as of now even if they are read later.
    pub fn snapshot_now(&mut self) -> (Zxid, S::Snapshot) {
        self.apply_pending(usize::MAX);
        (self.zab.status().applied, self.sm.snapshot())
    }

    /// Committed entries applied since this node started.
    pub fn applied_count(&self) -> u64 {
        self.applied_count
    }

    /// Is a snapshot being streamed to a learner?
    pub fn streaming(&self) -> bool {
        self.outbound.busy()
    }

    /// Takes what changed since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The engine's status.
    pub fn status(&self) -> Status {
        self.zab.status()
    }

    /// Why the runtime stopped, if it did.
    pub fn stopped(&self) -> Option<&RuntimeError> {
        self.stopped.as_ref()
    }

    /// The state machine.
    pub fn state_machine(&self) -> &S {
        &self.sm
    }

    /// The state machine, mutably (the embedding service reads through it; it must not
    /// change the replicated state).
    pub fn state_machine_mut(&mut self) -> &mut S {
        &mut self.sm
    }

    /// The disk.
    pub fn disk(&mut self) -> &mut D {
        &mut self.disk
    }

    /// The transport.
    pub fn transport(&mut self) -> &mut T {
        &mut self.net
    }

    fn send(&mut self, to: PeerId, msg: Message) {
        if let Message::Snap { .. } = msg {
            if let Some(chunks) = self.snapshots.remove(&to) {
                self.outbound.send(&mut self.net, to, msg);
                self.outbound.start_stream(to, chunks);
                return;
            }
        }
        self.outbound.send(&mut self.net, to, msg);
    }

    fn stop(&mut self, e: RuntimeError) {
        if self.stopped.is_some() {
            return;
        }
        tracing::error!(id = self.zab.config().id, error = %e, "ZAB runtime stopped");
        self.stopped = Some(e.clone());
        self.fail_waiters();
        self.events.push(Event::Stopped(e));
    }

    fn fail_waiters(&mut self) {
        for (zxid, w) in std::mem::take(&mut self.waiters) {
            w(Err(RuntimeError::LeadershipLost { zxid }));
        }
    }

    fn drive(&mut self) {
        while self.stopped.is_none() && self.zab.has_ready() {
            let ready = self.zab.ready();
            self.report_observations();
            self.execute(ready);
        }
        self.report_observations();
        let _ = self.pump();
    }

    /// Hands the engine's observations to the state machine (none unless observing).
    fn report_observations(&mut self) {
        for o in self.zab.take_observations() {
            self.sm.observe(&o);
        }
    }

    /// Reports the engine's [`corral_zab::Observation`]s to
    /// [`StateMachine::observe`] (`true`), or not (the default).
    pub fn set_observing(&mut self, on: bool) {
        self.zab.set_observing(on);
    }

    fn execute(&mut self, ready: Ready) {
        if let Some(e) = ready.failed {
            self.stop(RuntimeError::Storage(e.to_string()));
            return;
        }
        if let Some(role) = ready.role {
            self.events.push(Event::Role(role));
        }
        if let Some(est) = ready.established {
            self.events.push(Event::Established(est));
        }
        let leading_now = self.zab.status().role == Role::Leading && self.zab.status().established;
        if self.leading && !leading_now {
            self.fail_waiters();
        }
        self.leading = leading_now;
        for peer in ready.reset {
            self.net.reset(peer);
            self.outbound.forget(peer);
            self.snapshots.remove(&peer);
            for (_, batch) in self.deferred.iter_mut() {
                batch.retain(|(to, _)| *to != peer);
            }
        }
        for op in &ready.persist {
            match op {
                Persist::SnapshotChunk { zxid, offset, data } => {
                    self.sm.restore_chunk(*zxid, *offset, data)
                }
                Persist::InstallSnapshot { zxid } => {
                    // The state it replaces first catches up (the queue is below it).
                    self.apply_pending(usize::MAX);
                    if let Err(e) = self.sm.restore(*zxid) {
                        self.stop(RuntimeError::Storage(format!(
                            "received snapshot {zxid}: {e}"
                        )));
                        return;
                    }
                }
                _ => {}
            }
        }
        let deferred = !ready.send_after_persist.is_empty();
        if !ready.persist.is_empty() || deferred {
            self.disk.submit(ready.number, ready.persist);
        }
        if self.deferred_apply {
            self.unapplied.extend(ready.committed);
        } else {
            for e in &ready.committed {
                self.apply(e);
            }
        }
        for req in &ready.snapshot {
            // The snapshot is of the state once this Ready's entries are applied.
            if !self.faults.stale_snapshot {
                self.apply_pending(usize::MAX);
            }
            let chunks = self.sm.snapshot();
            self.snapshots.insert(req.to, chunks);
        }
        for (to, msg) in ready.messages {
            self.send(to, msg);
        }
        if deferred {
            if self.faults.ack_before_fsync {
                for (to, msg) in ready.send_after_persist {
                    self.send(to, msg);
                }
            } else {
                self.deferred
                    .push_back((ready.number, ready.send_after_persist));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use corral_zab::{MemoryLog, VoterSet};

    use super::*;

    #[derive(Default)]
    struct Nothing;

    impl StateMachine for Nothing {
        type Snapshot = std::vec::IntoIter<Bytes>;
        fn apply(&mut self, _: Zxid, _: &Bytes) {}
        fn snapshot(&mut self) -> Self::Snapshot {
            Vec::new().into_iter()
        }
        fn restore_chunk(&mut self, _: Zxid, _: u64, _: &Bytes) {}
        fn restore(&mut self, _: Zxid) -> Result<(), String> {
            Ok(())
        }
    }

    #[derive(Default)]
    struct NoDisk(Vec<u64>);

    impl DiskIo for NoDisk {
        fn submit(&mut self, tag: u64, _: Vec<Persist>) {
            self.0.push(tag);
        }
    }

    #[derive(Default, Clone)]
    struct Wire(Arc<Mutex<Vec<String>>>);

    impl Transport for Wire {
        fn send(&mut self, to: PeerId, frame: Bytes) {
            let kind = codec::decode(frame).map_or("?", |m| m.kind());
            self.0.lock().unwrap().push(format!("send {to} {kind}"));
        }
        fn reset(&mut self, peer: PeerId) {
            self.0.lock().unwrap().push(format!("reset {peer}"));
        }
    }

    fn node() -> (Node<Nothing, NoDisk, Wire>, Wire) {
        let cfg = Config {
            id: 1,
            voters: VoterSet::new([1, 2, 3]),
            ..Config::default()
        };
        let wire = Wire::default();
        let n = Node::new(
            cfg,
            Persisted::default(),
            MemoryLog::default(),
            Nothing,
            NoDisk::default(),
            wire.clone(),
        )
        .unwrap();
        wire.0.lock().unwrap().clear();
        (n, wire)
    }

    #[test]
    fn a_malformed_frame_or_a_stranger_loses_its_stream_and_changes_nothing() {
        let (mut n, wire) = node();
        let before = n.status();
        n.receive(NetEvent::Frame {
            from: 2,
            frame: Bytes::from_static(b"\x63garbage"),
        });
        assert_eq!(*wire.0.lock().unwrap(), vec!["reset 2".to_string()]);
        wire.0.lock().unwrap().clear();
        // A well-formed vote from a server that is not in the ensemble.
        let vote = Message::Notification(corral_zab::Notification {
            leader: 9,
            zxid: Zxid::new(7, 7),
            election_epoch: 99,
            peer_epoch: 7,
            state: Role::Leading,
        });
        n.receive(NetEvent::Frame {
            from: 9,
            frame: codec::encode(&vote),
        });
        assert_eq!(*wire.0.lock().unwrap(), vec!["reset 9".to_string()]);
        assert_eq!(n.status(), before, "nothing it sent was taken in");
        assert!(n.stopped().is_none());
    }

    #[test]
    fn a_refused_proposal_answers_its_waiter() {
        let (mut n, _wire) = node();
        let got = Arc::new(Mutex::new(None));
        let g = Arc::clone(&got);
        let r = n.propose(
            Bytes::from_static(b"x"),
            Box::new(move |r| *g.lock().unwrap() = Some(r)),
        );
        let refused = Err(RuntimeError::Refused(ZabError::NotLeader { leader: None }));
        assert_eq!(r.map(|_| ()), refused.clone());
        assert_eq!(
            got.lock().unwrap().clone().map(|r| r.map(|_| ())),
            Some(refused)
        );
    }

    #[derive(Default)]
    struct Recording(Vec<Zxid>);

    impl StateMachine for Recording {
        type Snapshot = std::vec::IntoIter<Bytes>;
        fn apply(&mut self, zxid: Zxid, _: &Bytes) {
            self.0.push(zxid);
        }
        fn snapshot(&mut self) -> Self::Snapshot {
            vec![Bytes::from(format!("{}", self.0.len()))].into_iter()
        }
        fn restore_chunk(&mut self, _: Zxid, _: u64, _: &Bytes) {}
        fn restore(&mut self, _: Zxid) -> Result<(), String> {
            Ok(())
        }
    }

    /// Reports every submitted tag durable.
    fn sync_all(n: &mut Node<Recording, NoDisk, Wire>) {
        for tag in std::mem::take(&mut n.disk().0) {
            n.durable(tag);
        }
    }

    #[test]
    fn deferred_apply_answers_on_apply_and_catches_up_before_a_snapshot() {
        let cfg = Config {
            id: 1,
            voters: VoterSet::new([1]),
            ..Config::default()
        };
        let disk = NoDisk::default();
        let mut n = Node::new(
            cfg,
            Persisted::default(),
            MemoryLog::default(),
            Recording::default(),
            disk,
            Wire::default(),
        )
        .unwrap();
        n.set_deferred_apply(true);
        for _ in 0..100 {
            if n.status().established {
                break;
            }
            n.tick();
            sync_all(&mut n);
        }
        assert!(n.status().established);
        let answers = Arc::new(Mutex::new(Vec::new()));
        let mut proposed = Vec::new();
        for i in 0..3u8 {
            let a = Arc::clone(&answers);
            let waiter = Box::new(move |r: Result<Zxid, RuntimeError>| a.lock().unwrap().push(r));
            proposed.push(n.propose(Bytes::from(vec![i]), waiter).unwrap());
            sync_all(&mut n);
        }
        // Committed, not applied: nobody answered yet.
        assert_eq!(n.status().applied, proposed[2]);
        assert_eq!((n.pending_apply(), n.state_machine().0.len()), (3, 0));
        assert!(answers.lock().unwrap().is_empty());
        assert_eq!(n.apply_pending(2), 2);
        assert_eq!(n.state_machine().0, proposed[..2].to_vec());
        let got: Vec<Zxid> = answers
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.clone().unwrap())
            .collect();
        assert_eq!(got, proposed[..2].to_vec());
        // A snapshot describes the state at the zxid it names: the backlog is applied first.
        let (zxid, mut chunks) = n.snapshot_now();
        assert_eq!(zxid, proposed[2]);
        assert_eq!(chunks.next(), Some(Bytes::from("3")));
        assert_eq!(n.pending_apply(), 0);
        assert_eq!(answers.lock().unwrap().len(), 3);
    }
}
