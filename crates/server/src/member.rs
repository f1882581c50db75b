//! An ensemble member's owner loop: the [`Core`] runs inside the ZAB runtime's `Node` as its
//! state machine, and one task drives both.
//!
//! The node executes the engine's decisions against the disk (corral-storage's quorum
//! writer: txn log, epoch files, snapshots) and the peer transport (corral-peer's gRPC
//! stream per pair of servers); committed txns reach the core through [`Replica::apply`] in
//! zxid order on every server. The core's ensemble effects are carried out here: a leader's
//! [`Effect::Propose`] goes to the node (with the zxid the core prepped it with, which the
//! engine must confirm), a learner's [`Effect::Forward`] and a leader's [`Effect::ToPeer`]
//! go on the transport's server channel, beside the engine's frames on the same stream.
//!
//! After every turn the engine's status decides the core's role ([`QuorumRole`]): an
//! established leader that has applied its whole log leads; an up-to-date follower or
//! observer learns; anything else is looking and serves no client.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use corral_peer::Channel;
use corral_zab::{Role, Status, VoterSet, Zxid};
use corral_zab_runtime::{
    attach_with_service, open_node_observed, Compaction, GrpcTransport, Inbound, Node,
    RuntimeConfig, StateMachine, StorageDisk,
};
use tokio::sync::mpsc::{Receiver, UnboundedReceiver};

use crate::config::ServerConfig;
use crate::core::{Core, Effect, Input, Now, QuorumPhase, QuorumRole, ServerRole};
use crate::durability::parse_snapshot_payload;
use crate::member_links::Links;
use crate::owner::{Clock, OwnerSettings, ToCore, Writers};
use crate::snapshot_feed::{FeedReader, Snapshots};
use crate::ServerError;

/// The transport channel of the server-level messages ([`crate::core::PeerMsg`]).
pub(crate) const SERVER_CHANNEL: Channel = Channel(1);

/// How often the engine ticks. ZooKeeper's election and sync run on their own timers
/// (200 ms notification and finalize waits) rather than on tickTime; the engine's limits
/// are converted from tickTime units into these ticks.
const ENGINE_TICK: Duration = Duration::from_millis(50);

/// Messages of one channel handled per turn before the effects are carried out.
const BATCH: usize = 256;

/// The core as the runtime's state machine.
pub(crate) struct Replica {
    core: Core,
    /// The clock reading of the input being handled (set before every node call).
    now: Now,
    /// A snapshot from the leader being received.
    restoring: Vec<u8>,
    tree_config: corral_datatree::DataTreeConfig,
    /// Why a committed payload could not be applied (the server stops).
    failed: Option<String>,
    /// A snapshot chunk arrived out of order: the restore fails.
    restore_broken: bool,
    /// This member's snapshots (for learners and the local file), produced a step per turn.
    snapshots: Snapshots,
}

impl Replica {
    /// The core (read-only).
    pub(crate) fn core(&self) -> &Core {
        &self.core
    }
}

impl StateMachine for Replica {
    type Snapshot = FeedReader;

    fn apply(&mut self, zxid: Zxid, payload: &Bytes) {
        if self.failed.is_some() {
            return;
        }
        if let Err(e) = self.core.apply_txn(zxid, payload, self.now) {
            tracing::error!("{e}");
            self.failed.get_or_insert(e);
        }
    }

    fn snapshot(&mut self) -> Self::Snapshot {
        self.snapshots.reader(&mut self.core)
    }

    fn snapshot_busy(&self) -> bool {
        self.snapshots.producing()
    }

    fn observe(&mut self, observation: &corral_zab::Observation) {
        self.core.observe_zab(observation, self.now);
    }

    fn restore_chunk(&mut self, _zxid: Zxid, offset: u64, data: &Bytes) {
        if offset == 0 {
            self.restoring.clear();
        }
        if offset != self.restoring.len() as u64 {
            // A gap or a repeat: the restore must fail rather than load a damaged state.
            self.restoring.clear();
            self.restore_broken = true;
            return;
        }
        self.restoring.extend_from_slice(data);
    }

    fn restore(&mut self, zxid: Zxid) -> Result<(), String> {
        if std::mem::take(&mut self.restore_broken) {
            return Err(format!("snapshot 0x{:x}: chunks out of order", zxid.0));
        }
        let data = std::mem::take(&mut self.restoring);
        let (tree, sessions) = parse_snapshot_payload(&data, self.tree_config)?;
        self.snapshots.abandon(
            &mut self.core,
            "the state was replaced by the leader's snapshot",
        );
        tracing::info!(
            "restored the snapshot of 0x{:x}: {} znodes, {} sessions",
            zxid.0,
            tree.node_count(),
            sessions.len()
        );
        self.core.replace_state(tree, sessions);
        Ok(())
    }
}

pub(crate) type MemberNode = Node<Replica, StorageDisk, GrpcTransport>;

/// What the member's disk reports for the metrics, from the threads that write.
enum DiskStat {
    /// The quorum writer fsynced log appends.
    Synced(corral_storage::SyncStats),
    /// A local snapshot was written in this many ms.
    SnapshotWritten(u64),
}

/// An ensemble member: the node (with the core inside), its inputs, and the local
/// snapshots.
pub(crate) struct Member {
    node: MemberNode,
    inbound: UnboundedReceiver<Inbound>,
    durable: UnboundedReceiver<Result<u64, String>>,
    /// The disk's reports for the metrics: log fsyncs, local snapshots written.
    disk_stats: UnboundedReceiver<DiskStat>,
    /// Per peer, its link's counts (a leader's `observers`).
    links: Links,
    compaction: Compaction,
    clock: Clock,
    writers: Writers,
    settings: OwnerSettings,
    effects: Vec<Effect>,
    /// Voters in the ensemble.
    quorum_size: usize,
    /// A proposal of this batch was refused: the rest of its proposals are the old write
    /// path's and are dropped (the role changed).
    dropping_proposals: bool,
    /// The engine's role and whether it was established, and since when (monotonic ms):
    /// the election and sync times of the metrics.
    phase: (Role, bool, u64),
}

/// The engine's limits in [`ENGINE_TICK`]s from zoo.cfg's tickTime units.
fn engine_config(config: &ServerConfig) -> Result<corral_zab::Config, ServerError> {
    let ensemble = config
        .ensemble
        .as_ref()
        .ok_or_else(|| ServerError::Config {
            line: 0,
            key: "server.N".into(),
            message: "no ensemble configured".into(),
        })?;
    let per_tick = u64::from(config.tick_time_ms) / ENGINE_TICK.as_millis() as u64;
    let per_tick = per_tick.max(1);
    let ms_to_ticks = |ms: u64| (ms / ENGINE_TICK.as_millis() as u64).max(1);
    Ok(corral_zab::Config {
        id: ensemble.my_id,
        voters: VoterSet::new(ensemble.voters()),
        observers: ensemble.observers().collect(),
        // ZooKeeper's leader pings its learners every tickTime / 2.
        ping_ticks: (per_tick / 2).max(1),
        init_limit: u64::from(ensemble.init_limit) * per_tick,
        sync_limit: u64::from(ensemble.sync_limit) * per_tick,
        // ZooKeeper's notification timeout starts at 200 ms and doubles up to 60 s; its
        // finalizeWait is 200 ms.
        election_ticks: ms_to_ticks(200),
        max_election_ticks: ms_to_ticks(60_000),
        finalize_wait: ms_to_ticks(200),
        max_wait_for_epoch: config
            .max_time_to_wait_for_epoch_ms
            .map(|ms| ms / ENGINE_TICK.as_millis() as u64),
        ..corral_zab::Config::default()
    })
}

impl Member {
    /// Opens the data directory (restoring the core from the newest snapshot: the node
    /// replays the log), starts the peer transport on this server's quorum address, and
    /// builds the node around `core`.
    pub(crate) async fn start(
        config: &ServerConfig,
        core: Core,
        clock: Clock,
        settings: OwnerSettings,
    ) -> Result<Member, ServerError> {
        let zab = engine_config(config)?;
        let ensemble = config
            .ensemble
            .as_ref()
            .ok_or_else(|| ServerError::Ensemble("no ensemble configured".into()))?;
        let servers: BTreeMap<u64, std::net::SocketAddr> = ensemble
            .servers
            .values()
            .map(|s| (s.id, s.quorum_addr))
            .collect();
        let mut peer_config = corral_peer::Config::new(ensemble.my_id, servers);
        // A proposal or a forwarded request carries up to jute.maxbuffer of client data, and
        // a closeSession lists every ephemeral: a frame over the bound would break the link
        // (and the resync would send it again).
        peer_config.max_frame = peer_config.max_frame.max(config.max_buffer * 4 + (1 << 20));
        // A leader sends each follower a PROPOSAL and a COMMIT per write: at tens of thousands
        // of writes per second a follower that stalls for a fraction of a second is thousands
        // of frames behind. Dropping it (the queue's overflow) disconnects all its clients, so
        // the frame count is generous; the byte bound still caps the memory.
        peer_config.queue = peer_config.queue.max(1 << 16);
        let (peer, events) = corral_peer::Transport::start(peer_config)
            .await
            .map_err(|e| ServerError::Ensemble(format!("peer transport: {e}")))?;
        let (transport, inbound) = attach_with_service(peer, events);
        let runtime_config = RuntimeConfig {
            zab,
            tick: ENGINE_TICK,
            storage: crate::durability::storage_config(config),
            snap_count: config.snap_count,
        };
        let mut core = core;
        // The consistency checker's self-test runs a deliberately broken server.
        if let Ok(fault) = std::env::var("CORRAL_TEST_FAULT") {
            match fault.as_str() {
                "stale-sync" => {
                    tracing::warn!("CORRAL_TEST_FAULT=stale-sync: sync does not wait for the leader (BROKEN ON PURPOSE)");
                    core.set_test_faults(crate::core::TestFaults { stale_sync: true });
                }
                other => tracing::warn!("CORRAL_TEST_FAULT={other}: unknown, ignored"),
            }
        }
        let replica = Replica {
            core,
            now: clock.now(),
            restoring: Vec::new(),
            tree_config: corral_datatree::DataTreeConfig {
                extended_types_enabled: config.extended_types_enabled,
                enforce_quota: config.enforce_quota,
            },
            failed: None,
            restore_broken: false,
            snapshots: Snapshots::default(),
        };
        let (durable_tx, durable) = tokio::sync::mpsc::unbounded_channel();
        let (stats_tx, disk_stats) = tokio::sync::mpsc::unbounded_channel();
        let synced_tx = stats_tx.clone();
        let opening = std::time::Instant::now();
        let (mut node, mut compaction) = open_node_observed(
            &runtime_config,
            replica,
            transport,
            move |r| {
                let _ = durable_tx.send(r);
            },
            move |s| {
                let _ = synced_tx.send(DiskStat::Synced(s));
            },
        )
        .map_err(|e| ServerError::Ensemble(e.to_string()))?;
        compaction.on_written(move |_, took| {
            let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
            let _ = stats_tx.send(DiskStat::SnapshotWritten(ms));
        });
        node.set_observing(true);
        // A member loads its newest snapshot at start (open_node); the txns of its log are
        // applied as the ensemble commits them, after the election, so no start-up replay is
        // recorded (as ZooKeeper records none for an empty log).
        let load_ms = u64::try_from(opening.elapsed().as_millis()).unwrap_or(u64::MAX);
        node.state_machine_mut()
            .core
            .record_startup(&crate::core::metrics::StartupTimes {
                snap_load_ms: load_ms,
                db_init_ms: load_ms,
                ..Default::default()
            });
        tracing::info!(
            "ensemble member {} of {:?}, quorum port {}",
            ensemble.my_id,
            ensemble.servers.keys().collect::<Vec<_>>(),
            ensemble.me().quorum_addr
        );
        Ok(Member {
            node,
            inbound,
            durable,
            disk_stats,
            links: Links::default(),
            compaction,
            clock,
            writers: Writers::default(),
            settings,
            effects: Vec::new(),
            quorum_size: ensemble.voters().count(),
            dropping_proposals: false,
            phase: (Role::Looking, false, clock.now().mono_ms()),
        })
    }

    fn core(&mut self) -> &mut Core {
        &mut self.node.state_machine_mut().core
    }

    /// The clock reading the core sees for what the node does next.
    fn stamp(&mut self) -> Now {
        let now = self.clock.now();
        self.node.state_machine_mut().now = now;
        now
    }

    /// Runs until [`ToCore::Stop`] or the node stops (a disk failure, a txn that cannot be
    /// applied): then `Err`, and the server stops.
    pub(crate) async fn run(mut self, mut inbox: Receiver<ToCore>) -> Result<(), ServerError> {
        let mut engine_tick = tokio::time::interval(ENGINE_TICK);
        engine_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut session_tick = tokio::time::interval(self.settings.tick);
        let mut reap = tokio::time::interval(self.settings.container_check);
        reap.tick().await;
        let mut pause = Duration::ZERO;
        let mut stop = false;
        while !stop {
            tokio::select! {
                // The timers first (rare and cheap): under a load that keeps the peers' and
                // the disk's channels full, the engine must still ping and time out, and
                // sessions expire.
                biased;
                _ = engine_tick.tick() => {
                    self.stamp();
                    self.node.tick();
                }
                _ = session_tick.tick() => {
                    let now = self.stamp();
                    self.core().handle(Input::Tick, now);
                }
                _ = reap.tick() => {
                    let now = self.stamp();
                    self.core().handle(Input::ReapContainers, now);
                }
                r = self.durable.recv() => self.durable_report(r),
                ev = self.inbound.recv() => self.inbound_event(ev),
                msg = inbox.recv() => match msg {
                    None | Some(ToCore::Stop) => stop = true,
                    Some(msg) => self.message(msg),
                },
                _ = tokio::time::sleep(pause), if self.node.streaming() => {
                    pause = if self.node.pump() { Duration::ZERO } else { Duration::from_millis(2) };
                }
                // Nothing else to do: produce the snapshot in progress (below), after letting
                // the runtime's other tasks (connections, the peer transport) run.
                _ = tokio::task::yield_now(), if self.node.state_machine().snapshots.producing() => {}
            }
            // One chunk of a snapshot being produced per turn, however busy the turn was,
            // so that a SNAP neither stalls under load nor pauses the loop for long.
            if self.node.state_machine().snapshots.producing() {
                let replica = self.node.state_machine_mut();
                replica.snapshots.step(&mut replica.core);
                self.node.pump();
            }
            // Then what else is ready, each channel in a bounded batch, so none starves.
            for _ in 0..BATCH {
                match self.durable.try_recv() {
                    Ok(r) => self.durable_report(Some(r)),
                    Err(_) => break,
                }
            }
            for _ in 0..BATCH {
                match self.disk_stats.try_recv() {
                    Ok(stat) => self.disk_stat(stat),
                    Err(_) => break,
                }
            }
            for _ in 0..BATCH {
                match self.inbound.try_recv() {
                    Ok(ev) => self.inbound_event(Some(ev)),
                    Err(_) => break,
                }
            }
            for _ in 0..BATCH {
                match inbox.try_recv() {
                    Ok(ToCore::Stop) => {
                        stop = true;
                        break;
                    }
                    Ok(msg) => self.message(msg),
                    Err(_) => break,
                }
            }
            self.settle();
            self.writers.end_turn();
            self.report_quorum();
            if let Some(why) = self.stopped() {
                self.shut_down().await;
                return Err(ServerError::Ensemble(why));
            }
            self.compact();
        }
        self.shut_down().await;
        Ok(())
    }

    /// Closes the clients' connections, drops the node (a snapshot still being produced
    /// releases its readers) and waits for a local snapshot being written, so nothing of
    /// this member touches the data directory after `run` returns.
    async fn shut_down(self) {
        let Member {
            node,
            mut writers,
            mut compaction,
            ..
        } = self;
        writers.clear();
        drop(node);
        compaction.finish().await;
    }

    fn durable_report(&mut self, r: Option<Result<u64, String>>) {
        self.stamp();
        match r {
            Some(Ok(tag)) => self.node.durable(tag),
            Some(Err(e)) => self.node.disk_failed(e),
            None => self.node.disk_failed("the disk writer stopped".into()),
        }
    }

    /// The disk's figures, into the metrics (fsynctime, sync_processor_*, snapshottime).
    fn disk_stat(&mut self, stat: DiskStat) {
        let now = self.stamp();
        match stat {
            DiskStat::Synced(s) => self.core().handle(crate::net::log_synced(&s), now),
            DiskStat::SnapshotWritten(ms) => self.core().record_snapshot_time(ms),
        }
    }

    fn inbound_event(&mut self, ev: Option<Inbound>) {
        let now = self.stamp();
        self.links.count(&mut self.node, ev.as_ref(), now);
        match ev {
            Some(Inbound::Net(ev)) => self.node.receive(ev),
            Some(Inbound::Service {
                from,
                channel,
                frame,
            }) if channel == SERVER_CHANNEL => {
                // A learner hears only its current leader (a late answer from a former one
                // must not close a client's new connection).
                let status = self.node.status();
                if status.role == Role::Leading || status.leader == Some(from) {
                    self.core().handle(Input::Peer { from, frame }, now)
                } else {
                    tracing::debug!("server {from} is not our leader: message dropped");
                }
            }
            Some(Inbound::Service { from, channel, .. }) => {
                tracing::debug!("server {from}: frame on unknown channel {}", channel.0)
            }
            None => self.node.disk_failed("the peer transport stopped".into()),
        }
    }

    fn message(&mut self, msg: ToCore) {
        if let ToCore::Admin { name, .. } = &msg {
            let observers = self.links.observers(&mut self.node, name);
            self.core().set_observers(observers);
        }
        self.stamp();
        let clock = self.clock;
        let core = &mut self.node.state_machine_mut().core;
        self.writers.message(core, &clock, msg);
    }

    fn stopped(&self) -> Option<String> {
        if let Some(e) = &self.node.state_machine().failed {
            return Some(e.clone());
        }
        self.node.stopped().map(|e| e.to_string())
    }

    /// Brings the core's role in line with the engine's status, and carries out the core's
    /// effects until there are none (proposing may apply, applying may answer).
    fn settle(&mut self) {
        for event in self.node.take_events() {
            tracing::info!("zab: {event:?}");
        }
        for _ in 0..64 {
            self.follow_status();
            let mut effects = std::mem::take(&mut self.effects);
            self.core().drain_effects(&mut effects);
            if effects.is_empty() {
                self.effects = effects;
                return;
            }
            self.dropping_proposals = false;
            for effect in effects.drain(..) {
                let Some(effect) = self.writers.deliver(effect) else {
                    continue;
                };
                self.quorum_effect(effect);
            }
            self.effects = effects;
        }
    }

    /// Tells the core what `mntr` reports about the ensemble.
    fn report_quorum(&mut self) {
        let learners = self.node.learner_counts();
        let size = self.quorum_size;
        let status = self.node.status();
        // ZooKeeper's ZabState; discovery and synchronisation are not told apart here.
        let phase = match (status.role, status.established) {
            (Role::Looking, _) => "election",
            (_, true) => "broadcast",
            (_, false) => "synchronization",
        };
        let leader = status.leader;
        let core = self.core();
        core.set_quorum_view(size, learners);
        core.set_leader_view(leader, phase);
    }

    /// The role the engine's status calls for.
    fn wanted_role(&self, status: &Status) -> QuorumRole {
        if !status.established {
            return QuorumRole::Looking;
        }
        let leading_now = self.node.state_machine().core.role() == ServerRole::Leader;
        match status.role {
            // A new leader serves once it has applied its whole history (prep must see it);
            // later its own proposals are in flight, and prep sees them as pending.
            Role::Leading if leading_now || status.applied == status.last_zxid => {
                match self.node.next_zxid() {
                    Ok(z) => QuorumRole::Leading { next_zxid: z },
                    Err(_) => QuorumRole::Looking,
                }
            }
            Role::Following => QuorumRole::Following,
            Role::Observing => QuorumRole::Observing,
            Role::Leading | Role::Looking => QuorumRole::Looking,
        }
    }

    /// ZooKeeper's election and sync times: LOOKING until a leader is elected
    /// (election_time), then a learner's sync with it until UPTODATE (follower_sync_time,
    /// observer_sync_time).
    fn time_phases(&mut self, status: &Status) {
        let (role, established, since) = self.phase;
        if (role, established) == (status.role, status.established) {
            return;
        }
        let now = self.clock.now().mono_ms();
        let took = now.saturating_sub(since);
        let phase = match (role, status.role, status.established) {
            (Role::Looking, new, _) if new != Role::Looking => Some(QuorumPhase::Election),
            (Role::Following, Role::Following, true) if !established => {
                Some(QuorumPhase::FollowerSync)
            }
            (Role::Observing, Role::Observing, true) if !established => {
                Some(QuorumPhase::ObserverSync)
            }
            _ => None,
        };
        if let Some(phase) = phase {
            self.core().record_phase(phase, took);
        }
        self.phase = (status.role, status.established, now);
    }

    fn follow_status(&mut self) {
        let status = self.node.status();
        self.time_phases(&status);
        let wanted = self.wanted_role(&status);
        let current = self.node.state_machine().core.role();
        let same = matches!(
            (wanted, current),
            (QuorumRole::Looking, ServerRole::Looking)
                | (QuorumRole::Leading { .. }, ServerRole::Leader)
                | (QuorumRole::Following, ServerRole::Follower)
                | (QuorumRole::Observing, ServerRole::Observer)
        );
        if !same {
            if wanted != QuorumRole::Looking && current == ServerRole::Looking {
                if let (Some(kind), true) = (status.last_sync, status.role != Role::Leading) {
                    // What tests and operators look for after a restart: how it caught up.
                    tracing::info!(
                        "synchronised with leader {:?} by {:?} up to 0x{:x}",
                        status.leader,
                        kind,
                        status.applied.0
                    );
                }
            }
            tracing::info!(
                "zab status: {:?} leader {:?} epoch {} established {} last 0x{:x} applied 0x{:x}",
                status.role,
                status.leader,
                status.epoch,
                status.established,
                status.last_zxid.0,
                status.applied.0
            );
            let now = self.stamp();
            self.core().set_role(wanted, now);
        }
    }

    fn quorum_effect(&mut self, effect: Effect) {
        match effect {
            Effect::Propose { zxid, txn } => {
                self.stamp();
                if self.dropping_proposals {
                    return;
                }
                // The engine must give the txn the zxid it was prepped with (Stat fields
                // carry it): checked before the engine accepts anything.
                let next = self.node.next_zxid();
                if next != Ok(zxid) {
                    tracing::warn!(
                        "proposal prepped for 0x{zxid:x} but the engine's next is {next:?}; resetting the write path"
                    );
                    self.dropping_proposals = true;
                    let now = self.stamp();
                    self.core().set_role(QuorumRole::Looking, now);
                    return;
                }
                let size = txn.len();
                self.core().proposed(size);
                let handing = std::time::Instant::now();
                let proposed = self.node.propose(txn, Box::new(|_| {}));
                let ms = u64::try_from(handing.elapsed().as_millis()).unwrap_or(u64::MAX);
                self.core().record_proposal_process_time(ms);
                match proposed {
                    Ok(z) if z == zxid => {}
                    outcome => {
                        self.dropping_proposals = true;
                        // The engine moved on (it lost the lead) or the core's count is off:
                        // drop everything in flight and let the status decide again.
                        tracing::warn!(
                            "proposal prepped for 0x{zxid:x} was {outcome:?}; resetting the write path"
                        );
                        let now = self.stamp();
                        self.core().set_role(QuorumRole::Looking, now);
                    }
                }
            }
            Effect::Forward(msg) => {
                let msg_copy = msg.clone();
                let leader = self.node.status().leader;
                let sent = leader
                    .is_some_and(|l| self.node.transport().send_service(l, SERVER_CHANNEL, msg));
                if !sent {
                    // No stream to the leader (the engine is about to hear it broke): the
                    // request is lost, so its client must not wait for an answer.
                    tracing::debug!("no leader to forward to ({leader:?})");
                    let session = crate::core::PeerMsg::decode(msg_copy)
                        .ok()
                        .and_then(|m| m.request_session());
                    if let Some(session_id) = session {
                        self.core().refused(session_id);
                    }
                }
            }
            Effect::ToPeer { peer, msg } => {
                self.node
                    .transport()
                    .send_service(peer, SERVER_CHANNEL, msg);
            }
            other => tracing::error!("an ensemble member cannot {other:?}"),
        }
    }

    /// Every snapCount applied txns: a local snapshot, then the purge (off this task).
    fn compact(&mut self) {
        self.compaction.after_turn(&mut self.node);
    }
}
