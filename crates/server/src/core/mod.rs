//! The server's core, without sockets, clocks or disks: inputs in, [`Effect`]s out.
//!
//! Three parts, each owning its fields:
//! - [`state::ReplicatedState`]: the tree, the session table and the applied zxid, changed
//!   only by applying committed txns (the same on every server of an ensemble);
//! - [`conns::Connections`]: this server's clients: auth ids, statistics, watches, which
//!   connection holds which session, and per session the requests waiting in FIFO order;
//! - [`write_path::WritePath`]: how a write becomes a committed txn (standalone today; the
//!   leader and learner paths go beside it), the only place zxids are given out.
//!
//! One task owns the core (crate::net) and feeds it: frames from connections, durable zxids
//! from the log writer, ticks, each with a clock reading ([`Now`]) and, for a sasl request,
//! nonce bytes. Every input runs to completion, in arrival order, so a session's requests
//! complete in order and there is one zxid order for everyone. Replies and watch events for a
//! connection leave in the order they were produced, and a committed write queues the events
//! it causes before anything later is read: a client sees a watch event before any later read
//! result of that node (ZooKeeper Programmer's Guide, "Guarantees").

pub mod admin;
mod admin_stats;
mod commit;
pub mod conns;
pub mod effects;
mod fourlw;
mod fourlw_dump;
mod handshake;
pub mod metrics;
pub mod metrics_text;
mod monitor;
pub mod observers;
mod ops;
pub mod peer_msg;
mod quorum;
#[cfg(test)]
mod quorum_tests;
mod sasl;
pub mod state;
#[cfg(test)]
mod tests;
mod trace;
pub mod write_path;
mod zab_metrics;

use corral_zxid::Zxid;
use std::collections::BTreeMap;
use std::net::SocketAddr;

use bytes::Bytes;
use corral_acl::sasl::NONCE_LEN;
use corral_datatree::{DataTree, SnapshotProgress};
use corral_jute::codes::{xid, ErrorCode, EventType, KeeperState, OpCode};
use corral_jute::frame::{encode_reply, JuteWrite};
use corral_jute::io::{Jute, Reader};
use corral_jute::records::{ConnectRequest, Id, ReplyHeader, RequestHeader, WatcherEvent};
use corral_jute::request::Request;
use corral_jute::JuteError;
use corral_session::{SessionId, SessionTable};
use corral_storage::SnapPolicy;

pub use self::admin::AdminIo;
use self::conns::Connections;
pub use self::conns::{Waiter, SESSIONLESS_TIMEOUT_MS};
pub use self::effects::{Effect, Effects};
pub use self::fourlw::{FourLetterIo, NetGauges};
pub use self::metrics::QuorumPhase;
use self::metrics::{ServerMetrics, StartupTimes};
pub use self::peer_msg::PeerMsg;
pub use self::quorum::{QuorumRole, ServerRole, TestFaults};
use self::state::ReplicatedState;
use self::write_path::{Standalone, WritePath};
use crate::config::ServerConfig;
use crate::stats::{op_name, Stats};

/// A connection's id, unique for the server's lifetime. Watches belong to connections, as in
/// ZooKeeper (a ServerCnxn is the Watcher).
pub type ConnId = u64;

/// Random bytes for one SASL DIGEST-MD5 nonce, from the caller.
pub type Nonce = [u8; NONCE_LEN];

/// Clock readings, taken by the caller: a monotonic clock for sessions and latencies, the
/// wall clock for Stat times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic microseconds.
    pub mono_us: u64,
    /// Milliseconds since the Unix epoch.
    pub wall_ms: i64,
}

impl Now {
    /// Monotonic milliseconds.
    pub fn mono_ms(self) -> u64 {
        self.mono_us / 1000
    }
}

/// Why a connection must be closed.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// A frame could not be decoded.
    #[error("malformed packet: {0}")]
    Malformed(#[from] JuteError),
    /// The client has seen a zxid this server has not reached.
    #[error("client has seen zxid {client:#x}, our last zxid is {ours:#x}")]
    ClientAhead {
        /// The client's last zxid.
        client: i64,
        /// Ours.
        ours: i64,
    },
}

/// What the core is told.
#[derive(Debug)]
pub enum Input {
    /// One complete frame (length prefix removed) from a connection; `nonce` carries random
    /// bytes when the frame is a sasl request (see [`needs_nonce`]).
    Frame {
        /// The connection.
        conn: ConnId,
        /// The frame.
        frame: Bytes,
        /// Random bytes for a sasl request.
        nonce: Option<Nonce>,
    },
    /// The connection is gone (closed by the client, or after an [`Effect::Close`]).
    Closed {
        /// The connection.
        conn: ConnId,
    },
    /// The log made every txn up to this zxid durable.
    Durable(Zxid),
    /// The log failed for good.
    LogFailed(String),
    /// A session tick: expire the sessions whose deadline passed.
    Tick,
    /// The container check interval: delete empty containers and expired TTL nodes.
    ReapContainers,
    /// A server-level message ([`PeerMsg`]) from the ensemble's server `from`.
    Peer {
        /// The sender's id.
        from: u64,
        /// The encoded message.
        frame: Bytes,
    },
    /// The log writer fsynced `txns` appended txns in one go, which took `fsync_ms` (the
    /// metrics' fsynctime and sync batch size).
    LogSynced {
        /// Txns made durable by the fsync.
        txns: u64,
        /// How long it took, ms.
        fsync_ms: u64,
        /// Per txn: txns queued when the writer took it, ms queued before it was taken,
        /// ms from then to durable.
        waits: Vec<(u64, u64, u64)>,
    },
    /// The snapshot begun by [`Effect::SnapshotBegun`] was written (`ok`) or abandoned;
    /// `next_roll` is a random draw in `0..snapCount/2` for the next one's jitter.
    SnapshotFinished {
        /// Whether it was written.
        ok: bool,
        /// The next snapshot's random offset.
        next_roll: u64,
    },
}

/// Whether a frame is a sasl request, which needs a [`Nonce`] with it.
pub fn needs_nonce(frame: &[u8]) -> bool {
    frame.len() >= 8 && frame[4..8] == OpCode::Sasl.code().to_be_bytes()
}

/// When snapshots are taken: every snapCount txns, with a random offset (ZooKeeper's
/// SyncRequestProcessor), one at a time.
struct SnapSchedule {
    policy: SnapPolicy,
    roll: u64,
    txns_since: u64,
    in_progress: bool,
    /// When the one in progress began, monotonic ms (snapshottime).
    begun_mono_ms: u64,
}

/// The server's state machine.
pub struct Core {
    config: ServerConfig,
    state: ReplicatedState,
    conns: Connections,
    write: WritePath,
    stats: Stats,
    /// ZooKeeper's ServerMetrics (mntr, Prometheus).
    metrics: ServerMetrics,
    /// ZooKeeper's ZooTrace mask (`gtmk` / `stmk`): which trace-level logs are written.
    trace_mask: i64,
    started_mono_ms: u64,
    snap: SnapSchedule,
    out: Effects,
    /// Scratch for committed txns (kept to reuse its capacity).
    committed: Vec<corral_datatree::Txn>,
    /// What this server is in its ensemble (standalone: `Standalone`).
    role: ServerRole,
    /// Since when this member has not served (monotonic ms; unavailable_time).
    unavailable_since_ms: Option<u64>,
    /// Syncs waiting for a zxid to be applied: (zxid, session id, cxid).
    syncs: Vec<(Zxid, i64, i32)>,
    /// What the ensemble looks like from here (mntr).
    quorum: quorum::QuorumStats,
    /// Deliberately broken behaviour (tests of checkers only).
    faults: quorum::TestFaults,
    /// A learner's connections resuming a session, waiting for the leader's word: session
    /// id -> (connection, the client's read-only flag format).
    revalidating: std::collections::HashMap<i64, (ConnId, bool)>,
    /// The AdminServer's trace mask and the member's leader view.
    admin: admin::AdminState,
    /// The times of txns logged and not applied yet (an ensemble member's latencies).
    proposal_times: zab_metrics::ProposalTimes,
}

impl Core {
    /// A server with an empty tree.
    pub fn new(config: ServerConfig, now: Now) -> Result<Core, crate::ServerError> {
        let tree = DataTree::with_config(corral_datatree::DataTreeConfig {
            extended_types_enabled: config.extended_types_enabled,
            enforce_quota: config.enforce_quota,
        });
        Core::restore(config, tree, BTreeMap::new(), now, 0)
    }

    /// A server resuming from a recovered tree and its sessions (id -> timeout). Every
    /// session gets a full timeout from `now`, as ZooKeeper gives restored sessions.
    /// `snap_roll` is the first snapshot's random offset (see [`Input::SnapshotFinished`]).
    pub fn restore(
        config: ServerConfig,
        tree: DataTree,
        sessions: BTreeMap<i64, i32>,
        now: Now,
        snap_roll: u64,
    ) -> Result<Core, crate::ServerError> {
        let mut tracker = SessionTable::new(
            config.session_config(),
            config.server_id,
            now.wall_ms.max(0) as u64,
        )
        .map_err(|e| crate::ServerError::Config {
            line: 0,
            key: "tickTime/minSessionTimeout/maxSessionTimeout".into(),
            message: e.to_string(),
        })?;
        for (id, timeout) in &sessions {
            tracker.insert_existing(SessionId(*id), (*timeout).max(0) as u32, now.mono_ms());
        }
        let state = ReplicatedState::new(tree, sessions);
        // An ensemble member starts looking for its leader and serves no client until it is
        // in an established quorum.
        let (write, role) = if config.ensemble.is_some() {
            (
                WritePath::Learner(write_path::Learner::new(tracker)),
                ServerRole::Looking,
            )
        } else {
            (
                WritePath::Standalone(Standalone::new(state.applied_zxid(), tracker)),
                ServerRole::Standalone,
            )
        };
        let mut core = Core {
            conns: Connections::new(config.max_client_cnxns as usize),
            snap: SnapSchedule {
                policy: SnapPolicy {
                    snap_count: config.snap_count,
                    ..SnapPolicy::default()
                },
                roll: snap_roll,
                txns_since: 0,
                in_progress: false,
                begun_mono_ms: 0,
            },
            config,
            state,
            write,
            stats: Stats::default(),
            metrics: ServerMetrics::default(),
            trace_mask: trace::DEFAULT_MASK,
            started_mono_ms: now.mono_ms(),
            out: Effects::default(),
            committed: Vec::new(),
            role,
            syncs: Vec::new(),
            unavailable_since_ms: None,
            quorum: quorum::QuorumStats::default(),
            faults: quorum::TestFaults::default(),
            revalidating: std::collections::HashMap::new(),
            admin: admin::AdminState::default(),
            proposal_times: Default::default(),
        };
        if core.role == ServerRole::Looking {
            // ZooKeeper counts each time its peer enters LOOKING, the first one included.
            core.metrics.looking_count = 1;
            core.unavailable_since_ms = Some(now.mono_ms());
        }
        core.write_ensemble_config();
        Ok(core)
    }

    /// The replicated state (tree, sessions, applied zxid).
    pub fn state(&self) -> &ReplicatedState {
        &self.state
    }

    /// The effects of the inputs handled since the last call, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        self.count_txns();
        self.out.take()
    }

    /// Moves the effects of the inputs handled so far to `out`.
    pub fn drain_effects(&mut self, out: &mut Vec<Effect>) {
        self.count_txns();
        self.out.drain_into(out);
    }

    /// Bytes of every frame the core has queued for clients since it started (a running
    /// total: the I/O layer compares two readings to see what handling an input queued).
    pub fn sent_bytes(&self) -> u64 {
        self.out.sent_bytes()
    }

    /// Counts the txns leaving for the log or the ensemble.
    fn count_txns(&mut self) {
        let (logs, proposals) = self.out.count_txns();
        self.metrics.sync_processor_request_queued += logs;
        self.metrics.proposal_count += proposals;
    }

    /// What the recovery at start took (measured by the I/O layer).
    pub fn record_startup(&mut self, times: &StartupTimes) {
        self.metrics.startup(times);
    }

    /// An ensemble member's election or sync took `ms` (measured by the member's loop).
    pub fn record_phase(&mut self, phase: QuorumPhase, ms: u64) {
        let summary = match phase {
            QuorumPhase::Election => &mut self.metrics.election_time,
            QuorumPhase::FollowerSync => &mut self.metrics.follower_sync_time,
            QuorumPhase::ObserverSync => &mut self.metrics.observer_sync_time,
        };
        summary.add(i64::try_from(ms).unwrap_or(i64::MAX));
    }

    /// Handles one input; its effects wait in [`Core::take_effects`].
    pub fn handle(&mut self, input: Input, now: Now) {
        match input {
            Input::Frame { conn, frame, nonce } => self.frame(conn, frame, nonce, now),
            Input::Closed { conn } => self.conns.remove(conn),
            Input::Durable(zxid) => self.durable(zxid, now),
            Input::LogFailed(reason) => self.log_failed(&reason, now),
            Input::Tick => {
                for conn in self.conns.sessionless_expired(now.mono_ms()) {
                    tracing::info!("closing a connection that sent no ConnectRequest in time");
                    self.metrics.sessionless_connections_expired += 1;
                    self.send_close(conn);
                }
                if self.write.owns_sessions() {
                    self.expire_sessions(now)
                } else {
                    self.report_touches()
                }
            }
            Input::ReapContainers => {
                if self.write.owns_sessions() && self.role.serves() {
                    self.reap_containers(now)
                }
            }
            Input::Peer { from, frame } => self.peer_message(from, frame, now),
            Input::LogSynced {
                txns,
                fsync_ms,
                waits,
            } => {
                let fsync_ms = self.config.force_sync.then_some(fsync_ms);
                self.metrics.log_synced(txns, fsync_ms, &waits)
            }
            Input::SnapshotFinished { ok, next_roll } => {
                if ok {
                    let took = now.mono_ms().saturating_sub(self.snap.begun_mono_ms);
                    self.metrics.snapshottime.add(took as i64);
                } else {
                    self.state.tree_mut().abort_snapshot();
                }
                self.snap.in_progress = false;
                self.snap.roll = next_roll;
            }
        }
    }

    /// Registers a new client connection (holding the `ip` id of `remote`, then what a TLS
    /// client's certificate authenticated), or refuses it when `maxClientCnxns` connections
    /// from its IP are open.
    pub fn open_connection(
        &mut self,
        remote: SocketAddr,
        transport: conns::Transport,
        now: Now,
    ) -> Option<ConnId> {
        self.conns
            .open(remote, transport, now.wall_ms, now.mono_ms())
    }

    /// When the next session expires, in monotonic ms.
    pub fn next_expiry_ms(&self) -> Option<u64> {
        self.write.sessions().next_expiry_ms()
    }

    /// Starts an incremental snapshot of the tree (an ensemble member's, for a learner or
    /// its local file) and copies the sessions: both as they are at the returned zxid. Then
    /// [`Core::snapshot_step`] until done, or [`Core::abort_tree_snapshot`].
    pub fn begin_tree_snapshot(&mut self) -> Result<(Zxid, BTreeMap<i64, i32>), String> {
        self.state.begin_snapshot().map_err(|e| e.to_string())
    }

    /// Drops the tree's snapshot in progress, if any.
    pub fn abort_tree_snapshot(&mut self) {
        self.state.tree_mut().abort_snapshot();
    }

    /// This server's id in its ensemble (0 standalone): the owner of the sessions whose
    /// clients are connected here.
    fn me(&self) -> u64 {
        self.config.ensemble.as_ref().map_or(0, |e| e.my_id)
    }

    /// Serialises the next records of the snapshot in progress into `out`.
    pub fn snapshot_step(
        &mut self,
        records: usize,
        out: &mut Vec<u8>,
    ) -> Result<SnapshotProgress, String> {
        self.state
            .tree_mut()
            .snapshot_step(records, out)
            .map_err(|e| e.to_string())
    }

    /// The log failed: like ZooKeeper, stop serving writes rather than diverge from the disk.
    /// Writes waiting for durability are never acknowledged: their connections are closed
    /// (the clients see a connection loss). Reads keep being served.
    fn log_failed(&mut self, reason: &str, now: Now) {
        if !self.write.is_failed() {
            tracing::error!(
                "the txn log failed ({reason}); no further writes will be served. Acknowledged \
                 writes are on disk; restart the server once the disk is fixed"
            );
        }
        if !self.write.is_failed() {
            self.metrics.unrecoverable_error_count += 1;
        }
        self.write.fail();
        let mut waiting: Vec<ConnId> = self
            .conns
            .take_all_waiters()
            .iter()
            .filter_map(Waiter::conn)
            .collect();
        waiting.sort_unstable();
        waiting.dedup();
        for conn in waiting {
            self.send_close(conn);
        }
        // What sessions queued behind the lost writes runs now: reads are answered, writes
        // close their connections (nothing is logged any more). Nothing waits forever.
        for session in self.conns.queued_sessions() {
            self.drain(session, now);
        }
    }

    /// One frame of a connection: its ConnectRequest first, then requests. A frame that
    /// cannot be decoded closes the connection.
    fn frame(&mut self, conn: ConnId, frame: Bytes, nonce: Option<Nonce>, now: Now) {
        self.stats.packets_received += 1;
        self.metrics.bytes_received_count += frame.len() as u64 + 4;
        let (has_session, remote) = match self.conns.get_mut(conn) {
            Some(c) if !c.is_closing() => {
                c.stats_mut().received += 1;
                (c.session().is_some(), c.remote())
            }
            _ => return,
        };
        if !self.role.serves() {
            // As ZooKeeper's "ZooKeeperServer not running": the client tries another server.
            self.metrics.cnxn_closed_without_zk_server_running += 1;
            tracing::debug!("closing connection from {remote}: not in an established quorum");
            self.send_close(conn);
            return;
        }
        let result = if has_session {
            self.handle_request(conn, frame, nonce, now)
        } else {
            ConnectRequest::from_bytes(frame)
                .map_err(ConnError::from)
                .and_then(|req| self.handle_connect(conn, req, now))
        };
        if let Err(e) = result {
            tracing::warn!("closing connection from {remote}: {e}");
            self.send_close(conn);
        }
    }

    fn handle_request(
        &mut self,
        conn: ConnId,
        frame: Bytes,
        nonce: Option<Nonce>,
        now: Now,
    ) -> Result<(), ConnError> {
        let mut r = Reader::new(frame);
        let header = RequestHeader::read(&mut r)?;
        let session_id = self
            .conns
            .get(conn)
            .and_then(|c| c.session())
            .unwrap_or_default();
        // Counted before it is handled, as ZooKeeper's processPacket does, so that its reply
        // (maybe in this very call) is matched.
        if self
            .conns
            .request_read(conn, header.xid, self.config.global_outstanding_limit)
        {
            self.out.push(Effect::DisableRecv { conn });
        }
        let op = match OpCode::from_code(header.op) {
            Ok(op) => op,
            Err(_) => {
                self.reply_error(conn, header.xid, ErrorCode::Unimplemented, now);
                return Ok(());
            }
        };
        let request = Request::decode(op, &mut r)?;
        let kind = if op == OpCode::Ping {
            trace::SERVER_PING
        } else {
            trace::CLIENT_REQUEST
        };
        if trace::on(self.trace_mask, kind) {
            tracing::trace!(
                "request: session 0x{session_id:x} xid {} {}",
                header.xid,
                op_name(op)
            );
        }
        if !matches!(op, OpCode::Auth | OpCode::Sasl) {
            if let Some(c) = self.conns.get_mut(conn) {
                c.stats_mut().request(header.xid, op_name(op), now.mono_us);
            }
        }
        // Every request is a sign of life. A request of a session that is closing or gone is
        // answered SessionExpired in its turn (after the session's earlier requests).
        self.write.touch(session_id, now.mono_ms());
        let queued = (conn, header.xid, request, nonce);
        if let Some((conn, xid, req, nonce)) = self.conns.run_or_queue(session_id, queued) {
            self.run(conn, session_id, xid, req, nonce, now);
        }
        Ok(())
    }

    /// Expires the sessions whose deadline passed: each gets a closeSession txn, and the
    /// connection still holding it is closed once it commits (the client then learns it
    /// expired).
    fn expire_sessions(&mut self, now: Now) {
        for id in self.write.sessions_mut().expire(now.mono_ms()) {
            self.metrics.stale_sessions_expired += 1;
            if trace::on(self.trace_mask, trace::SESSION) {
                tracing::trace!("session 0x{:x} expired", id.0);
            }
            tracing::info!(
                "Expiring session 0x{:x}, timeout of {}ms exceeded",
                id.0,
                self.write
                    .sessions()
                    .get(id)
                    .map(|s| s.timeout_ms())
                    .unwrap_or(0)
            );
            let conn = self.conns.holder(id.0);
            self.close_session(id.0, conn, None, now);
        }
    }

    /// Deletes empty containers and expired TTL nodes with deleteContainer writes, as
    /// ZooKeeper's ContainerManager does on its interval. A node that changed meanwhile is
    /// refused by prep like any other write.
    fn reap_containers(&mut self, now: Now) {
        let tree = self.state.tree();
        let mut doomed = tree.containers_to_reap_at(
            now.wall_ms,
            i64::from(self.config.container_max_never_used_ms),
        );
        doomed.extend(tree.expired_ttls(now.wall_ms));
        for path in doomed {
            let req = Request::Delete {
                op: OpCode::DeleteContainer,
                req: corral_jute::records::DeleteRequest { path, version: -1 },
            };
            if let Some(effect) = self.log_write(0, 0, &[], &req, self.me(), now) {
                self.out.push(effect);
            }
        }
    }

    fn auth_ids(&self, conn: ConnId) -> &[Id] {
        self.conns.get(conn).map_or(&[], |c| c.auth_ids())
    }

    /// Queues a frame for `conn` and counts it.
    fn send_frame(&mut self, conn: ConnId, frame: Bytes) {
        if let Some(c) = self.conns.get_mut(conn) {
            c.stats_mut().sent += 1;
            self.stats.packets_sent += 1;
            self.out.send(conn, frame);
        }
    }

    fn send_close(&mut self, conn: ConnId) {
        if self.conns.mark_closing(conn) {
            self.out.push(Effect::Close { conn });
        }
    }

    fn reply(
        &mut self,
        conn: ConnId,
        xid: i32,
        zxid: i64,
        err: ErrorCode,
        body: Option<&dyn JuteWrite>,
        now: Now,
    ) {
        let header = ReplyHeader {
            xid,
            zxid,
            err: err.code(),
        };
        self.send_reply(
            conn,
            &header,
            if err == ErrorCode::Ok { body } else { None },
            now,
        );
    }

    /// Sends a reply as given: `body` goes out whatever the header's error.
    fn send_reply(
        &mut self,
        conn: ConnId,
        header: &ReplyHeader,
        body: Option<&dyn JuteWrite>,
        now: Now,
    ) {
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        let answered = c.stats_mut().response(header.xid, header.zxid, now.mono_us);
        c.stats_mut().sent += 1;
        self.stats.packets_sent += 1;
        let len = self
            .out
            .send_with(conn, |out| encode_reply(out, header, body));
        if self
            .conns
            .reply_sent(conn, header.xid, self.config.global_outstanding_limit)
        {
            self.out.push(Effect::EnableRecv { conn });
        }
        // ZooKeeper's response size is the frame's length field.
        let size = len.saturating_sub(4) as u64;
        self.metrics.response_bytes += size;
        self.metrics.client_response.add(size as i64);
        if let Some((took, op)) = answered {
            self.stats.record_latency(took);
            let ms = i64::try_from(took.as_millis()).unwrap_or(i64::MAX);
            // ZooKeeper: a request with a txn header is an update, any other a read.
            if crate::stats::has_txn(op) {
                self.metrics.updatelatency.add(ms);
            } else {
                self.metrics.readlatency.add(ms);
            }
        }
    }

    fn reply_error(&mut self, conn: ConnId, xid: i32, err: ErrorCode, now: Now) {
        let zxid = self.state.applied_zxid().to_wire();
        self.reply(conn, xid, zxid, err, None, now);
    }

    fn send_event(&mut self, conn: ConnId, path: &str, event: EventType) {
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        c.stats_mut().sent += 1;
        self.stats.packets_sent += 1;
        if trace::on(self.trace_mask, trace::EVENT_DELIVERY) {
            tracing::trace!("event {event:?} on {path} to connection {conn}");
        }
        let header = ReplyHeader {
            xid: xid::NOTIFICATION,
            zxid: -1,
            err: 0,
        };
        let body = WatcherEvent {
            event_type: event.code(),
            state: KeeperState::SyncConnected.code(),
            path: path.to_string(),
        };
        let len = self
            .out
            .send_with(conn, |out| encode_reply(out, &header, Some(&body)));
        self.metrics.watch_bytes += len.saturating_sub(4) as u64;
    }
}
