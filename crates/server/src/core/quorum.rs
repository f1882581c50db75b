//! The core as an ensemble member: role changes, committed txns from ZAB, the server-level
//! messages between servers ([`PeerMsg`]) and `sync`.
//!
//! The owner loop runs the ZAB runtime's `Node` with the core inside it as its state machine:
//! committed txns come in through [`Core::apply_txn`] in zxid order on every server; a leader's
//! writes leave as [`Effect::Propose`], a learner's as [`Effect::Forward`]. When the server's
//! place in the quorum changes ([`Core::set_role`]) every client connection is closed, as
//! ZooKeeper restarts its ZooKeeperServer then: the clients move to another server with their
//! sessions, and nothing half-done survives the change (pending prep, forwarded requests,
//! syncs).

use bytes::Bytes;
use corral_datatree::{DataTree, Txn};
use corral_jute::codes::{ErrorCode, OpCode};
use corral_jute::io::Reader;
use corral_jute::records::PathResponse;
use corral_jute::request::Request;
use corral_session::{SessionId, SessionTable};
use corral_zxid::Zxid;

use super::conns::{TxnKind, Waiter};
use super::effects::Effect;
use super::metrics_text::{Sample, Value};
use super::peer_msg::PeerMsg;
use super::write_path::{Leader, Learner, Proposer, WritePath};
use super::{ConnId, Core, Now};

/// What a server is, as `srvr` and `mntr` say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerRole {
    /// Not in an ensemble.
    Standalone,
    /// An ensemble member looking for (or syncing with) its leader: serves no client.
    Looking,
    /// The established leader.
    Leader,
    /// A follower, up to date with its leader.
    Follower,
    /// An observer, up to date with its leader.
    Observer,
}

impl ServerRole {
    /// ZooKeeper's name (`Mode:` in srvr, `zk_server_state` in mntr).
    pub fn name(self) -> &'static str {
        match self {
            ServerRole::Standalone => "standalone",
            ServerRole::Looking => "looking",
            ServerRole::Leader => "leader",
            ServerRole::Follower => "follower",
            ServerRole::Observer => "observer",
        }
    }

    /// Whether client requests are served.
    pub fn serves(self) -> bool {
        self != ServerRole::Looking
    }
}

/// Deliberately broken behaviour, for the consistency checker's self-test only (set from the
/// `CORRAL_TEST_FAULT` environment variable by the ensemble member; never in production).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TestFaults {
    /// A learner answers `sync` at once, from its own state, so a synced read can be stale.
    pub stale_sync: bool,
}

/// What `mntr` says about the ensemble, as the owner last reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumStats {
    /// Voters in the ensemble (`zk_quorum_size`).
    pub quorum_size: usize,
    /// A leader's learners, when leading.
    pub learners: Option<corral_zab::LearnerCounts>,
    /// When this server became the leader (monotonic ms).
    pub leading_since_ms: u64,
    /// Proposal sizes: last, min, max (bytes; -1 before the first, as ZooKeeper prints).
    pub proposal_sizes: (i64, i64, i64),
    /// A leader: requests each learner forwarded, since the start.
    pub learner_requests: std::collections::BTreeMap<u64, u64>,
    /// A leader's observers as the member last described them (AdminServer `observers`).
    pub observers: Vec<super::observers::ObserverView>,
}

impl Default for QuorumStats {
    fn default() -> Self {
        QuorumStats {
            quorum_size: 0,
            learners: None,
            leading_since_ms: 0,
            proposal_sizes: (-1, -1, -1),
            learner_requests: Default::default(),
            observers: Vec::new(),
        }
    }
}

/// The place in the quorum the owner tells the core about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuorumRole {
    /// Not in an established quorum.
    Looking,
    /// The established leader, whose next proposal gets `next_zxid`.
    Leading {
        /// The engine's next zxid.
        next_zxid: Zxid,
    },
    /// A follower up to date with `leader`.
    Following,
    /// An observer up to date with its leader.
    Observing,
}

impl Core {
    /// Switches on deliberately broken behaviour (see [`TestFaults`]).
    pub fn set_test_faults(&mut self, faults: TestFaults) {
        self.faults = faults;
    }

    /// This server's role.
    pub fn role(&self) -> ServerRole {
        self.role
    }

    /// The ensemble's size and, on a leader, its learners (for `mntr`).
    pub fn set_quorum_view(
        &mut self,
        quorum_size: usize,
        learners: Option<corral_zab::LearnerCounts>,
    ) {
        self.quorum.quorum_size = quorum_size;
        self.quorum.learners = learners;
    }

    /// A proposal of `size` bytes went to the ensemble.
    pub fn proposed(&mut self, size: usize) {
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        let (_, min, max) = self.quorum.proposal_sizes;
        let min = if min < 0 { size } else { min.min(size) };
        self.quorum.proposal_sizes = (size, min, max.max(size));
    }

    /// ZooKeeper's detailed peer state (`zk_peer_state`): the role, then the phase.
    pub(super) fn peer_state(&self) -> &'static str {
        match self.role {
            ServerRole::Standalone => "standalone",
            ServerRole::Looking => "looking - election",
            ServerRole::Leader => "leading - broadcast",
            ServerRole::Follower => "following - broadcast",
            ServerRole::Observer => "observing - broadcast",
        }
    }

    /// The leader's `srvr` / `stat` line about proposal sizes (none on other roles).
    pub(super) fn proposal_sizes_line(&self) -> Option<String> {
        (self.role == ServerRole::Leader).then(|| {
            let (last, min, max) = self.quorum.proposal_sizes;
            format!("Proposal sizes last/min/max: {last}/{min}/{max}")
        })
    }

    /// `mntr`'s ensemble rows (none for a standalone server), as metric samples.
    pub(super) fn quorum_samples(&self, now_mono_ms: u64) -> Vec<Sample<'static>> {
        let mut rows = Vec::new();
        if self.role == ServerRole::Standalone {
            return rows;
        }
        let int = |name, v: i64| Sample::new(name, Value::Int(v));
        rows.push(Sample::new(
            "peer_state",
            Value::Text(self.peer_state().to_string()),
        ));
        rows.push(int("quorum_size", self.quorum.quorum_size as i64));
        if let (ServerRole::Leader, Some(l)) = (self.role, self.quorum.learners) {
            let (last, min, max) = self.quorum.proposal_sizes;
            rows.extend([
                int("learners", l.learners as i64),
                int("synced_followers", l.synced_followers as i64),
                int("synced_non_voting_followers", 0),
                int("synced_observers", l.synced_observers as i64),
                int("pending_syncs", self.syncs.len() as i64),
                int(
                    "leader_uptime",
                    now_mono_ms.saturating_sub(self.quorum.leading_since_ms) as i64,
                ),
                int("last_proposal_size", last),
                int("max_proposal_size", max),
                int("min_proposal_size", min),
            ]);
        }
        rows
    }

    /// The server's place in the quorum changed. Every client connection is closed (their
    /// requests in flight are never answered: the clients see a connection loss and move
    /// on), what was being prepped or forwarded is dropped, and the write path becomes the
    /// role's. A new leader gives every session a fresh timeout, as ZooKeeper's does.
    pub fn set_role(&mut self, role: QuorumRole, now: Now) {
        let conns: Vec<ConnId> = self.conns.iter().map(|(id, _)| id).collect();
        for conn in conns {
            self.send_close(conn);
        }
        self.conns.clear_queues();
        self.syncs.clear();
        self.revalidating.clear();
        let mut tracker = match SessionTable::new(
            self.config.session_config(),
            self.config.server_id,
            now.wall_ms.max(0) as u64,
        ) {
            Ok(t) => t,
            Err(e) => {
                // The same settings built the first tracker: this cannot fail now.
                tracing::error!("session tracker: {e}");
                return;
            }
        };
        for (id, timeout) in self.state.sessions() {
            tracker.insert_existing(SessionId(*id), (*timeout).max(0) as u32, now.mono_ms());
        }
        let (write, server_role) = match role {
            QuorumRole::Looking => (
                WritePath::Learner(Learner::new(tracker)),
                ServerRole::Looking,
            ),
            QuorumRole::Leading { next_zxid } => (
                WritePath::Leader(Leader::new(next_zxid, tracker)),
                ServerRole::Leader,
            ),
            QuorumRole::Following => (
                WritePath::Learner(Learner::new(tracker)),
                ServerRole::Follower,
            ),
            QuorumRole::Observing => (
                WritePath::Learner(Learner::new(tracker)),
                ServerRole::Observer,
            ),
        };
        tracing::info!(
            "now {} at zxid 0x{:x}",
            server_role.name(),
            self.state.applied_zxid()
        );
        if server_role == ServerRole::Looking && self.role != ServerRole::Looking {
            self.metrics.looking_count += 1;
            self.unavailable_since_ms = Some(now.mono_ms());
        }
        // ZooKeeper's QuorumPeer.setZabState(BROADCAST): unavailable from LOOKING to serving.
        if server_role.serves() {
            if let Some(since) = self.unavailable_since_ms.take() {
                let took = now.mono_ms().saturating_sub(since) as i64;
                self.metrics.unavailable_time.add(took);
                if server_role == ServerRole::Leader {
                    self.metrics.leader_unavailable_time.add(took);
                }
            }
        }
        self.write = write;
        self.role = server_role;
        if server_role == ServerRole::Leader {
            self.quorum.leading_since_ms = now.mono_ms();
            self.quorum.proposal_sizes = (-1, -1, -1);
        }
    }

    /// A txn the ensemble committed at `zxid`, in zxid order: applied, its watches fired, the
    /// local request waiting for it answered. `Err` when the payload is not a txn of that zxid
    /// (the leader sent something no server of ours writes: the caller stops).
    pub fn apply_txn(&mut self, zxid: Zxid, payload: &Bytes, now: Now) -> Result<(), String> {
        let txn = Txn::decode(payload).map_err(|e| format!("committed txn: {e}"))?;
        if txn.zxid != zxid {
            return Err(format!(
                "committed txn 0x{zxid:x} carries zxid 0x{:x}: the leader prepped it for another",
                txn.zxid
            ));
        }
        self.proposal_times.forget_through(zxid);
        self.apply_committed(&txn, now);
        Ok(())
    }

    /// Writes the ensemble's membership into `/zookeeper/config`, as every ZooKeeper member
    /// does when it starts (not a txn). The mtime is 0 so that every member's tree is the
    /// same (ZooKeeper stamps its own clock).
    pub(super) fn write_ensemble_config(&mut self) {
        let Some(ensemble) = &self.config.ensemble else {
            return;
        };
        let text = membership_text(ensemble);
        self.state
            .tree_mut()
            .set_ensemble_config(Bytes::from(text), 0, 0);
    }

    /// Replaces the replicated state with a snapshot (a learner too far behind for a DIFF).
    pub fn replace_state(
        &mut self,
        tree: DataTree,
        sessions: std::collections::BTreeMap<i64, i32>,
    ) {
        self.state = super::state::ReplicatedState::new(tree, sessions);
        self.proposal_times
            .forget_through(self.state.tree().last_zxid());
        self.syncs.clear();
        self.write_ensemble_config();
    }

    /// A learner: a client resumes `session_id` on `conn` (its password checked here); the
    /// leader says whether the session lives ([`Core::revalidated`]).
    pub(super) fn ask_leader_to_revalidate(
        &mut self,
        conn: ConnId,
        session_id: i64,
        read_only_format: bool,
    ) {
        if let Some((old, _)) = self
            .revalidating
            .insert(session_id, (conn, read_only_format))
        {
            if old != conn {
                self.send_close(old);
            }
        }
        self.out
            .push(Effect::Forward(PeerMsg::Revalidate { session_id }.encode()));
    }

    /// The leader's answer for a session a client resumes here: the ConnectResponse, or the
    /// expired one and the connection closes.
    fn revalidated(&mut self, session_id: i64, timeout_ms: i32, now: Now) {
        let Some((conn, read_only_format)) = self.revalidating.remove(&session_id) else {
            return;
        };
        if self.conns.get(conn).is_none_or(|c| c.is_closing()) {
            return;
        }
        let id = SessionId(session_id);
        let revalidated = if timeout_ms > 0 {
            // A session this server has not applied yet (it lags the leader) is known from
            // now on; its createSession will find it here.
            self.write
                .sessions_mut()
                .insert_existing(id, timeout_ms as u32, now.mono_ms());
            Ok(timeout_ms as u32)
        } else {
            Err("the leader does not know it or it is closing".to_string())
        };
        self.answer_resume(conn, id, revalidated, read_only_format);
    }

    /// A request of `session_id` could not reach the leader, or the server it reached was
    /// not leading: the client's connection closes (it retries, as after a connection loss)
    /// and the session's requests here are forgotten.
    pub fn refused(&mut self, session_id: i64) {
        if let Some(conn) = self.conns.holder(session_id) {
            self.send_close(conn);
        }
        if let Some((conn, _)) = self.revalidating.remove(&session_id) {
            self.send_close(conn);
        }
        self.conns.drop_queue(session_id);
        self.syncs.retain(|s| s.1 != session_id);
    }

    /// A learner's tick: tells the leader which sessions its clients kept alive.
    pub(super) fn report_touches(&mut self) {
        let sessions = self.write.take_touched();
        if !sessions.is_empty() && self.role.serves() {
            self.out
                .push(Effect::Forward(PeerMsg::Touch { sessions }.encode()));
        }
    }

    /// A client's sync in an ensemble: answered once this server has applied everything
    /// the leader had proposed when it saw the sync (ZooKeeper's Leader.processSync); a
    /// learner asks its leader first.
    pub(super) fn submit_sync(
        &mut self,
        conn: ConnId,
        session_id: i64,
        xid: i32,
        path: String,
        now: Now,
    ) {
        let waiter = Waiter::Sync { conn, xid, path };
        let point = if self.faults.stale_sync {
            // Deliberately broken (the consistency checker's self-test): answer from what
            // this server has, without asking the leader.
            Some(self.state.applied_zxid())
        } else {
            self.write.sync_point(self.state.applied_zxid())
        };
        match point {
            Some(zxid) => {
                self.conns.wait_for_txn(session_id, xid, waiter);
                self.syncs.push((zxid, session_id, xid));
                self.answer_syncs(now);
            }
            None => {
                let forward = Effect::Forward(
                    PeerMsg::Sync {
                        session_id,
                        cxid: xid,
                    }
                    .encode(),
                );
                self.logged(session_id, xid, waiter, Some(forward));
            }
        }
    }

    /// Answers the syncs whose zxid is applied.
    pub(super) fn answer_syncs(&mut self, now: Now) {
        if self.syncs.is_empty() {
            return;
        }
        let applied = self.state.applied_zxid();
        let mut i = 0;
        while i < self.syncs.len() {
            let (zxid, session_id, cxid) = self.syncs[i];
            if zxid > applied {
                i += 1;
                continue;
            }
            self.syncs.swap_remove(i);
            match self.conns.take_waiter(session_id, cxid, TxnKind::Sync) {
                Some(Waiter::Sync { conn, xid, path }) => {
                    let body = PathResponse { path };
                    let applied = applied.to_wire();
                    self.reply(conn, xid, applied, ErrorCode::Ok, Some(&body), now);
                    self.drain(session_id, now);
                }
                _ => tracing::warn!(
                    "sync 0x{:x}:{} is not its session's next request; dropped",
                    session_id,
                    cxid
                ),
            }
        }
    }

    /// A server-level message from `from`.
    pub(super) fn peer_message(&mut self, from: u64, frame: Bytes, now: Now) {
        let msg = match PeerMsg::decode(frame) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("server {from} sent a malformed message: {e}");
                return;
            }
        };
        let leading = matches!(self.write, WritePath::Leader(_));
        let request = !matches!(msg, PeerMsg::Revalidate { .. }) && msg.request_session().is_some();
        if leading && request {
            self.count_learner_request(from);
        }
        match msg {
            PeerMsg::Synced {
                session_id,
                cxid,
                zxid,
            } if !leading => {
                self.syncs.push((zxid, session_id, cxid));
                self.answer_syncs(now);
            }
            PeerMsg::Touch { sessions } if leading => {
                for id in sessions {
                    self.write
                        .sessions_mut()
                        .touch(SessionId(id), now.mono_ms());
                }
            }
            PeerMsg::Sync { session_id, cxid } if leading => {
                let zxid = self
                    .write
                    .sync_point(self.state.applied_zxid())
                    .unwrap_or_default();
                let msg = PeerMsg::Synced {
                    session_id,
                    cxid,
                    zxid,
                };
                self.out.push(Effect::ToPeer {
                    peer: from,
                    msg: msg.encode(),
                });
            }
            PeerMsg::CreateSession {
                session_id,
                timeout_ms,
            } if leading => {
                // Tracked from now on, as ZooKeeper's PrepRequestProcessor adds the session
                // before the txn commits: a quorum of followers may commit it (and the client
                // send its first request through one) before this server applied it.
                self.write.sessions_mut().insert_existing(
                    SessionId(session_id),
                    timeout_ms.max(0) as u32,
                    now.mono_ms(),
                );
                let who = Proposer {
                    session_id,
                    cxid: 0,
                    auth_ids: &[],
                    wall_ms: now.wall_ms,
                    via: from,
                };
                let effect = self.write.create_session(&who, timeout_ms.max(0) as u32);
                if let Some(e) = effect {
                    self.out.push(e);
                }
            }
            PeerMsg::CloseSession { session_id, cxid } if leading => {
                self.write
                    .sessions_mut()
                    .mark_closing(SessionId(session_id));
                let who = Proposer {
                    session_id,
                    cxid,
                    auth_ids: &[],
                    wall_ms: now.wall_ms,
                    via: from,
                };
                let effect =
                    self.write
                        .close_session(self.state.tree(), &who, self.config.auth_providers());
                if let Some(e) = effect {
                    self.out.push(e);
                }
            }
            PeerMsg::Request {
                session_id,
                cxid,
                op,
                auth_ids,
                body,
            } if leading => {
                let req = OpCode::from_code(op)
                    .map_err(|e| e.to_string())
                    .and_then(|op| {
                        Request::decode(op, &mut Reader::new(body)).map_err(|e| e.to_string())
                    });
                let live = self
                    .write
                    .sessions()
                    .get(SessionId(session_id))
                    .is_some_and(|s| !s.is_closing());
                match req {
                    // As ZooKeeper's PrepRequestProcessor checks the session first: a write of
                    // a session that is closing or gone becomes a SessionExpired error txn
                    // (so it cannot create an ephemeral nobody will delete), answered in its
                    // session's order.
                    Ok(_) if !live => {
                        let who = Proposer {
                            session_id,
                            cxid,
                            auth_ids: &[],
                            wall_ms: now.wall_ms,
                            via: from,
                        };
                        let effect = self.write.error_txn(&who, ErrorCode::SessionExpired);
                        if let Some(e) = effect {
                            self.out.push(e);
                        }
                    }
                    Ok(req) => {
                        self.write
                            .sessions_mut()
                            .touch(SessionId(session_id), now.mono_ms());
                        let effect = self.log_write(session_id, cxid, &auth_ids, &req, from, now);
                        if let Some(e) = effect {
                            self.out.push(e);
                        }
                    }
                    Err(e) => {
                        // Never left waiting: the learner closes the client's connection.
                        tracing::warn!("server {from} forwarded a malformed request: {e}");
                        self.out.push(Effect::ToPeer {
                            peer: from,
                            msg: PeerMsg::Refused { session_id }.encode(),
                        });
                    }
                }
            }
            PeerMsg::Refused { session_id } if !leading => self.refused(session_id),
            PeerMsg::Revalidate { session_id } if leading => {
                // ZooKeeper's LearnerHandler counts the REVALIDATEs its learners send.
                self.metrics.revalidate_count += 1;
                let id = SessionId(session_id);
                let tracker = self.write.sessions_mut();
                let timeout_ms = match tracker.get(id) {
                    Some(s) if !s.is_closing() => {
                        let t = s.timeout_ms();
                        tracker.touch(id, now.mono_ms());
                        // The client moved to `from` (ZooKeeper's REVALIDATE sets the owner):
                        // a write still coming through its old server is SessionMoved.
                        tracker.set_owner(id, from);
                        i32::try_from(t).unwrap_or(i32::MAX)
                    }
                    _ => 0,
                };
                self.out.push(Effect::ToPeer {
                    peer: from,
                    msg: PeerMsg::Revalidated {
                        session_id,
                        timeout_ms,
                    }
                    .encode(),
                });
            }
            PeerMsg::Revalidated {
                session_id,
                timeout_ms,
            } if !leading => self.revalidated(session_id, timeout_ms, now),
            other => {
                tracing::debug!(
                    "server {from}: {:?} is not for a {}",
                    other,
                    self.role.name()
                );
                if let Some(session_id) = other.request_session() {
                    self.out.push(Effect::ToPeer {
                        peer: from,
                        msg: PeerMsg::Refused { session_id }.encode(),
                    });
                }
            }
        }
    }
}

/// The membership as ZooKeeper's QuorumMaj prints it: one `server.N=` line per member
/// (`host:quorumPort:electionPort:type[;clientHost:clientPort]`), then `version=` in hex
/// (0: a static configuration).
pub fn membership_text(ensemble: &crate::config::EnsembleConfig) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for s in ensemble.servers.values() {
        let kind = match s.learner_type {
            crate::config::LearnerType::Participant => "participant",
            crate::config::LearnerType::Observer => "observer",
        };
        let _ = write!(
            out,
            "server.{}={}:{}:{}:{}",
            s.id,
            s.quorum_addr.ip(),
            s.quorum_addr.port(),
            s.election_addr.port(),
            kind
        );
        if let Some(c) = s.client_addr {
            let _ = write!(out, ";{}:{}", c.ip(), c.port());
        }
        out.push('\n');
    }
    out.push_str("version=0");
    out
}
