//! From request to committed txn and back: a write goes to the write path (which logs it),
//! and once the write path says a txn is committed it is applied to the replicated state, its
//! watches fired and the local request waiting for it (matched by session id and cxid, as
//! ZooKeeper's CommitProcessor matches) answered. A committed txn no local request waits for
//! is applied all the same.
//!
//! Ordering within a session follows ZooKeeper's CommitProcessor: a session's writes may be in
//! flight together (prep sees the earlier ones through `Pending`), but any other request of
//! that session waits until every earlier write of the session has been applied, so a read
//! never misses an earlier write of its own session nor sees a later one.

use corral_datatree::{Txn, TxnBody, TxnResult};
use corral_jute::codes::{ErrorCode, OpCode};
use corral_jute::records::{Create2Response, PathResponse, StatResponse};
use corral_jute::request::{MultiResponse, Request};
use corral_session::SessionId;
use corral_zxid::Zxid;

use super::conns::{TxnKind, Waiter};
use super::effects::Effect;
use super::write_path::Proposer;
use super::{ConnId, Core, Nonce, Now};

impl Core {
    /// Runs a request of `session_id` whose turn has come.
    pub(super) fn run(
        &mut self,
        conn: ConnId,
        session_id: i64,
        xid: i32,
        req: Request,
        nonce: Option<Nonce>,
        now: Now,
    ) {
        // A connection already closed (its closeSession answered, or a failed write) gets
        // nothing more: what it pipelined is dropped with it, as ZooKeeper's closed socket.
        if self.conns.get(conn).is_none_or(|c| c.is_closing()) {
            return;
        }
        // A request queued before its session closed or expired must not act for it.
        let live = self
            .write
            .sessions()
            .get(SessionId(session_id))
            .is_some_and(|s| !s.is_closing());
        if !live {
            // As SessionTracker.checkSession: SessionExpired, and the connection is closed.
            self.reply_error(conn, xid, ErrorCode::SessionExpired, now);
            self.send_close(conn);
            return;
        }
        self.dispatch(conn, session_id, xid, req, nonce, now);
    }

    /// Runs what a session queued, up to the next request that must wait again.
    pub(super) fn drain(&mut self, session_id: i64, now: Now) {
        while let Some((conn, xid, req, nonce)) = self.conns.next_runnable(session_id) {
            self.run(conn, session_id, xid, req, nonce, now);
        }
    }

    /// A txn went to the log (`logged`) and `waiter` waits for it; once the log has failed
    /// nothing is logged, and the waiting connection is closed instead.
    pub(super) fn logged(
        &mut self,
        session_id: i64,
        cxid: i32,
        waiter: Waiter,
        logged: Option<Effect>,
    ) {
        match logged {
            Some(effect) => {
                self.conns.wait_for_txn(session_id, cxid, waiter);
                self.out.push(effect);
            }
            None => {
                if let Some(conn) = waiter.conn() {
                    self.send_close(conn);
                }
            }
        }
    }

    /// The log made every txn up to `zxid` durable: apply what is committed, in order, and
    /// answer.
    pub(super) fn durable(&mut self, zxid: Zxid, now: Now) {
        let mut committed = std::mem::take(&mut self.committed);
        self.write.durable(zxid, &mut committed);
        for txn in committed.drain(..) {
            self.apply_committed(&txn, now);
        }
        self.committed = committed;
        self.maybe_snapshot(now);
    }

    /// Applies one committed txn, fires its watches, answers the local request waiting for
    /// it, then runs what its session queued behind it.
    pub(super) fn apply_committed(&mut self, txn: &Txn, now: Now) {
        let applied = self.state.apply(txn);
        self.write.applied(txn.zxid);
        self.snap.txns_since += 1;
        self.txn_metrics(txn, now);
        for (path, event) in &applied.events {
            let watchers = self.conns.watches_mut().trigger(path, *event);
            self.watches_fired(*event, watchers.len());
            for watcher in watchers {
                self.send_event(watcher, path, *event);
            }
        }
        let kind = match txn.body {
            TxnBody::CreateSession { .. } => TxnKind::CreateSession,
            TxnBody::CloseSession { .. } => TxnKind::CloseSession,
            _ => TxnKind::Write,
        };
        let waiter = (txn.session_id != 0)
            .then(|| self.conns.take_waiter(txn.session_id, txn.cxid, kind))
            .flatten();
        match kind {
            TxnKind::CreateSession => {
                // A session created elsewhere (an ensemble's other server) is tracked here
                // from now on; one created here already is.
                let timeout = match txn.body {
                    TxnBody::CreateSession { timeout_ms } => timeout_ms.max(0) as u32,
                    _ => 0,
                };
                self.write.sessions_mut().insert_existing(
                    SessionId(txn.session_id),
                    timeout,
                    now.mono_ms(),
                );
            }
            TxnKind::CloseSession => {
                self.write.sessions_mut().close(SessionId(txn.session_id));
                if let Some(held_by) = self.conns.unbind_session(txn.session_id) {
                    if waiter.is_none() {
                        self.send_close(held_by);
                    }
                }
            }
            TxnKind::Write | TxnKind::Sync => {}
        }
        if let Some(waiter) = waiter {
            self.answer(txn, waiter, applied.result, now);
        }
        // A sync waiting for this zxid is answered before anything later is applied: its
        // session's next write may be the very next txn.
        self.answer_syncs(now);
        if txn.session_id != 0 {
            self.drain(txn.session_id, now);
        }
    }

    /// The metrics of an applied txn: its propagation latency (ZooKeeper's FinalRequestProcessor:
    /// the wall clock now minus the txn's time), a leader's commit count, the writes per
    /// namespace (creates, setData and deletes, in a multi too, and a closed session's
    /// ephemerals).
    fn txn_metrics(&mut self, txn: &Txn, now: Now) {
        let latency = now.wall_ms - txn.time_ms;
        if latency >= 0 {
            self.metrics.propagation_latency.add(latency);
        }
        if self.role == super::ServerRole::Leader {
            self.metrics.commit_count += 1;
        }
        fn written(m: &mut super::metrics::ServerMetrics, body: &TxnBody) {
            match body {
                TxnBody::Create { path, data, .. } | TxnBody::SetData { path, data, .. } => {
                    m.write(path, data.as_ref().map_or(0, |d| d.len()))
                }
                TxnBody::Delete { path } => m.write(path, 0),
                TxnBody::CloseSession { ephemerals } => {
                    ephemerals.iter().for_each(|path| m.write(path, 0))
                }
                TxnBody::Multi(ops) => ops.iter().for_each(|op| written(m, op)),
                _ => {}
            }
        }
        written(&mut self.metrics, &txn.body);
    }

    /// ZooKeeper's WatchManager: how many watchers one event fired (events firing none are
    /// not counted).
    fn watches_fired(&mut self, event: corral_jute::codes::EventType, fired: usize) {
        use corral_jute::codes::EventType::*;
        if fired == 0 {
            return;
        }
        let summary = match event {
            NodeCreated => &mut self.metrics.node_created_watch_count,
            NodeDeleted => &mut self.metrics.node_deleted_watch_count,
            NodeDataChanged => &mut self.metrics.node_changed_watch_count,
            NodeChildrenChanged => &mut self.metrics.node_children_watch_count,
            _ => return,
        };
        summary.add(fired as i64);
    }

    /// What the local request waiting for an applied txn is owed.
    fn answer(&mut self, txn: &Txn, waiter: Waiter, result: TxnResult, now: Now) {
        // The reply header carries it as ZooKeeper's long.
        let zxid = txn.zxid.to_wire();
        match waiter {
            Waiter::Connect { conn, response } => {
                if let Some(c) = self.conns.get_mut(conn) {
                    if let Some((took, _)) = c.stats_mut().response(0, zxid, now.mono_us) {
                        self.stats.record_latency(took);
                        let ms = i64::try_from(took.as_millis()).unwrap_or(i64::MAX);
                        self.metrics.updatelatency.add(ms);
                    }
                }
                self.send_frame(conn, response);
            }
            Waiter::CloseSession { conn, xid } => {
                if let Some(conn) = conn {
                    if let Some(xid) = xid {
                        self.reply(conn, xid, zxid, ErrorCode::Ok, None, now);
                    }
                    self.send_close(conn);
                }
            }
            Waiter::Sync { conn, xid, .. } => {
                // Never queued for a txn (TxnKind::Sync matches no txn); answered by
                // answer_syncs.
                tracing::warn!("a sync waited for txn 0x{zxid:x}");
                self.reply(conn, xid, zxid, ErrorCode::Ok, None, now)
            }
            Waiter::Write { conn, xid, op } => match result {
                // As ZooKeeper's FinalRequestProcessor: a session that moved is a connection
                // error; the old connection closes without an answer (ZOOKEEPER-710).
                TxnResult::Error(ErrorCode::SessionMoved) => self.send_close(conn),
                TxnResult::Error(code) => self.reply(conn, xid, zxid, code, None, now),
                TxnResult::Create { path, stat } => {
                    if op == OpCode::Create {
                        let body = PathResponse { path };
                        self.reply(conn, xid, zxid, ErrorCode::Ok, Some(&body), now)
                    } else {
                        let body = Create2Response { path, stat };
                        self.reply(conn, xid, zxid, ErrorCode::Ok, Some(&body), now)
                    }
                }
                TxnResult::SetData(stat) | TxnResult::SetAcl(stat) => {
                    let body = StatResponse { stat };
                    self.reply(conn, xid, zxid, ErrorCode::Ok, Some(&body), now)
                }
                TxnResult::Multi(results) => {
                    let body = MultiResponse { results };
                    self.reply(conn, xid, zxid, ErrorCode::Ok, Some(&body), now)
                }
                _ => self.reply(conn, xid, zxid, ErrorCode::Ok, None, now),
            },
        }
    }

    /// A client's write: prepped at the next zxid and logged; answered once committed.
    pub(super) fn submit_write(
        &mut self,
        conn: ConnId,
        session_id: i64,
        xid: i32,
        req: &Request,
        now: Now,
    ) {
        // The ids of the connection that sent it (the session may hold another by now).
        let auth_ids = self
            .conns
            .get(conn)
            .map(|c| c.auth_ids().to_vec())
            .unwrap_or_default();
        let logged = self.log_write(session_id, xid, &auth_ids, req, self.me(), now);
        let waiter = Waiter::Write {
            conn,
            xid,
            op: req.op(),
        };
        self.logged(session_id, xid, waiter, logged);
    }

    /// Hands a write of `session_id` (0: the server's own) that came through server `via`
    /// to the write path, with the session's auth ids and the time; the effect that logs it.
    pub(super) fn log_write(
        &mut self,
        session_id: i64,
        cxid: i32,
        auth_ids: &[corral_jute::records::Id],
        req: &Request,
        via: u64,
        now: Now,
    ) -> Option<Effect> {
        let who = Proposer {
            session_id,
            cxid,
            auth_ids,
            wall_ms: now.wall_ms,
            via,
        };
        self.write.write(
            self.state.tree(),
            &who,
            self.config.auth_providers(),
            self.config.reconfig_enabled,
            req,
        )
    }

    /// A closeSession: its ephemerals are deleted (firing their watches) once it commits.
    /// `conn` is closed then, after the reply to `xid` when the client asked.
    pub(super) fn close_session(
        &mut self,
        session_id: i64,
        conn: Option<ConnId>,
        xid: Option<i32>,
        now: Now,
    ) {
        self.write
            .sessions_mut()
            .mark_closing(SessionId(session_id));
        let cxid = xid.unwrap_or(0);
        let who = Proposer {
            session_id,
            cxid,
            auth_ids: &[],
            wall_ms: now.wall_ms,
            via: self.me(),
        };
        let logged =
            self.write
                .close_session(self.state.tree(), &who, self.config.auth_providers());
        self.logged(session_id, cxid, Waiter::CloseSession { conn, xid }, logged);
    }

    /// Begins a snapshot when snapCount (with its random offset) txns were applied since the
    /// last one, unless one is still being written.
    fn maybe_snapshot(&mut self, now: Now) {
        // An ensemble member's snapshots are the ZAB runtime's (taken on the apply path).
        if self.role != super::ServerRole::Standalone {
            return;
        }
        if !self
            .snap
            .policy
            .should_snapshot(self.snap.txns_since, self.snap.roll)
        {
            return;
        }
        if self.snap.in_progress {
            tracing::warn!("Too busy to snap, skipping");
            return;
        }
        match self.state.begin_snapshot() {
            Ok((zxid, sessions)) => {
                self.snap.txns_since = 0;
                self.snap.in_progress = true;
                self.snap.begun_mono_ms = now.mono_ms();
                self.out.push(Effect::SnapshotBegun { zxid, sessions });
            }
            Err(e) => tracing::error!("cannot start a snapshot: {e}"),
        }
    }
}
