//! The write path: how a write becomes a committed txn. One per role; the core talks to it
//! through [`WritePath`] and never asks which role it is.
//!
//! - [`Standalone`] (today): the only zxid authority. It gives each write the next zxid, preps
//!   it against the tree plus the writes still in flight (`Pending`), hands it to the log
//!   ([`Effect::Log`]) and, once the log reports it durable, returns it as committed. It also
//!   tracks the sessions' liveness (ids, passwords, expiry: ZooKeeper's SessionTrackerImpl).
//! - [`Leader`]: the same prep and zxids, but proposed to the ensemble and committed once a
//!   quorum logged them; it holds the global session tracker.
//! - [`Learner`] (follower, observer): no prep and no zxids of its own; it forwards the
//!   request with its session, cxid and auth ids to the leader, and its committed txns are
//!   the leader's COMMITs (or INFORMs) after its own log made them durable.
//!
//! Whatever the role, committed txns come out in zxid order and the core applies them and
//! answers the local request waiting for (session id, cxid), if any.

use corral_zxid::Zxid;
use std::collections::{BTreeSet, VecDeque};

use bytes::{Bytes, BytesMut};
use corral_datatree::{DataTree, Pending, PrepContext, Txn, TxnBody};
use corral_jute::codes::{ErrorCode, OpCode};
use corral_jute::records::Id;
use corral_jute::request::Request;
use corral_session::{SessionError, SessionId, SessionTable};

use super::effects::Effect;
use super::peer_msg::PeerMsg;

/// The role's write path.
pub enum WritePath {
    /// A standalone server.
    Standalone(Standalone),
    /// The established leader of an ensemble.
    Leader(Leader),
    /// A follower or an observer (or a server not in an established quorum, which serves
    /// no client: its connections are refused).
    Learner(Learner),
}

/// What a write is prepped with: who asks, and the leader's clock.
pub struct Proposer<'a> {
    /// The requesting session (0: the server itself).
    pub session_id: i64,
    /// The request's xid.
    pub cxid: i32,
    /// The session's auth ids.
    pub auth_ids: &'a [Id],
    /// Wall clock, ms (the txn's time).
    pub wall_ms: i64,
    /// The server the session's client is connected through (this one's id for a local
    /// connection; 0 on a standalone server): a leader checks it is the session's owner.
    pub via: u64,
}

impl WritePath {
    /// The session tracker (liveness, ids, passwords).
    pub fn sessions(&self) -> &SessionTable {
        match self {
            WritePath::Standalone(s) => &s.tracker,
            WritePath::Leader(l) => &l.tracker,
            WritePath::Learner(l) => &l.tracker,
        }
    }

    /// The session tracker, to create, touch, expire and close sessions.
    pub fn sessions_mut(&mut self) -> &mut SessionTable {
        match self {
            WritePath::Standalone(s) => &mut s.tracker,
            WritePath::Leader(l) => &mut l.tracker,
            WritePath::Learner(l) => &mut l.tracker,
        }
    }

    /// Whether writes can no longer be served (the log failed).
    pub fn is_failed(&self) -> bool {
        match self {
            WritePath::Standalone(s) => s.failed,
            WritePath::Leader(_) | WritePath::Learner(_) => false,
        }
    }

    /// Whether this server expires sessions and reaps containers: a standalone server and
    /// an ensemble's leader do (ZooKeeper's global session tracker is the leader's).
    pub fn owns_sessions(&self) -> bool {
        !matches!(self, WritePath::Learner(_))
    }

    /// The log failed: nothing in flight will ever commit.
    pub fn fail(&mut self) {
        if let WritePath::Standalone(s) = self {
            s.failed = true;
            s.logged.clear();
        }
    }

    /// A session is alive: touched here, and a learner tells the leader on its next tick.
    pub fn touch(&mut self, session_id: i64, now_ms: u64) {
        self.sessions_mut().touch(SessionId(session_id), now_ms);
        if let WritePath::Learner(l) = self {
            if session_id != 0 {
                l.touched.insert(session_id);
            }
        }
    }

    /// A learner's sessions touched since the last call, for the leader.
    pub fn take_touched(&mut self) -> Vec<i64> {
        match self {
            WritePath::Learner(l) => std::mem::take(&mut l.touched).into_iter().collect(),
            _ => Vec::new(),
        }
    }

    /// Preps `req` at the next zxid (a refused write still takes its zxid, as in ZooKeeper)
    /// and logs or proposes it; a learner forwards it to the leader. `None` once the log has
    /// failed.
    pub fn write(
        &mut self,
        tree: &DataTree,
        who: &Proposer<'_>,
        providers: corral_acl::Providers,
        reconfig_enabled: bool,
        req: &Request,
    ) -> Option<Effect> {
        let body = |zxid, pending: &mut Pending| {
            let ctx = who.context(zxid, providers);
            match req {
                // A server without reconfig refuses it, as ZooKeeper's PrepRequestProcessor
                // does: disabled, or (reconfigEnabled=true) unimplemented, in an error txn.
                Request::Unsupported {
                    op: OpCode::Reconfig,
                    ..
                } if reconfig_enabled => TxnBody::Error(ErrorCode::Unimplemented),
                _ => tree.prep(pending, &ctx, req).unwrap_or_else(TxnBody::Error),
            }
        };
        // As ZooKeeper's PrepRequestProcessor checks the session's owner: a request through
        // a server the session has left (its client moved and revalidated elsewhere) is a
        // SessionMoved error txn, answered on the old connection.
        let moved = match self {
            WritePath::Leader(l) if who.session_id != 0 => {
                let id = SessionId(who.session_id);
                l.tracker.check_owner(id, who.via) == Err(SessionError::Moved(id))
            }
            _ => false,
        };
        match self {
            WritePath::Standalone(s) => s.log(who, body),
            WritePath::Leader(l) if moved => {
                Some(l.propose(who, |_, _| TxnBody::Error(ErrorCode::SessionMoved)))
            }
            WritePath::Leader(l) => Some(l.propose(who, body)),
            WritePath::Learner(_) => {
                let mut out = BytesMut::new();
                req.write_body(&mut out);
                Some(Effect::Forward(
                    PeerMsg::Request {
                        session_id: who.session_id,
                        cxid: who.cxid,
                        op: req.op().code(),
                        auth_ids: who.auth_ids.to_vec(),
                        body: out.freeze(),
                    }
                    .encode(),
                ))
            }
        }
    }

    /// An error txn for a request (a leader refusing it before prep, e.g. its session expired):
    /// it takes a zxid and is committed like any write, so its requester is answered in
    /// order. `None` unless leading or standalone.
    pub fn error_txn(&mut self, who: &Proposer<'_>, code: ErrorCode) -> Option<Effect> {
        let body = |_, _: &mut Pending| TxnBody::Error(code);
        match self {
            WritePath::Standalone(s) => s.log(who, body),
            WritePath::Leader(l) => Some(l.propose(who, body)),
            WritePath::Learner(_) => None,
        }
    }

    /// A closeSession for `who.session_id`: its ephemerals are deleted once it commits.
    pub fn close_session(
        &mut self,
        tree: &DataTree,
        who: &Proposer<'_>,
        providers: corral_acl::Providers,
    ) -> Option<Effect> {
        let body = |zxid, pending: &mut Pending| {
            tree.prep_close_session(pending, &who.context(zxid, providers))
        };
        match self {
            WritePath::Standalone(s) => s.log(who, body),
            WritePath::Leader(l) => Some(l.propose(who, body)),
            WritePath::Learner(_) => Some(Effect::Forward(
                PeerMsg::CloseSession {
                    session_id: who.session_id,
                    cxid: who.cxid,
                }
                .encode(),
            )),
        }
    }

    /// A createSession for `who.session_id` with `timeout_ms`.
    pub fn create_session(&mut self, who: &Proposer<'_>, timeout_ms: u32) -> Option<Effect> {
        let timeout_ms = i32::try_from(timeout_ms).unwrap_or(i32::MAX);
        let body = |_, _: &mut Pending| TxnBody::CreateSession { timeout_ms };
        match self {
            WritePath::Standalone(s) => s.log(who, body),
            WritePath::Leader(l) => {
                // The session is the creating server's (ZooKeeper's setOwner).
                l.tracker.set_owner(SessionId(who.session_id), who.via);
                Some(l.propose(who, body))
            }
            WritePath::Learner(_) => Some(Effect::Forward(
                PeerMsg::CreateSession {
                    session_id: who.session_id,
                    timeout_ms,
                }
                .encode(),
            )),
        }
    }

    /// The zxid a sync that arrives now waits for: the last one proposed (a leader), the
    /// last one logged (standalone); a learner asks its leader (`None`).
    pub fn sync_point(&self, applied: Zxid) -> Option<Zxid> {
        match self {
            WritePath::Standalone(s) => Some(s.authority.last_given()),
            WritePath::Leader(l) => Some(l.authority.last_given()),
            WritePath::Learner(_) => None,
        }
        .map(|z| z.max(applied))
    }

    /// The log made every txn up to `zxid` durable: the txns that are now committed, in zxid
    /// order, are appended to `out` (standalone only: an ensemble's commits come from ZAB).
    pub fn durable(&mut self, zxid: Zxid, out: &mut Vec<Txn>) {
        if let WritePath::Standalone(s) = self {
            while s.logged.front().is_some_and(|t| t.zxid <= zxid) {
                out.extend(s.logged.pop_front());
            }
        }
    }

    /// A committed txn was applied: prep no longer needs to see it as pending.
    pub fn applied(&mut self, zxid: Zxid) {
        match self {
            WritePath::Standalone(s) => s.authority.pending.applied(zxid),
            WritePath::Leader(l) => l.authority.pending.applied(zxid),
            WritePath::Learner(_) => {}
        }
    }
}

impl Proposer<'_> {
    fn context(&self, zxid: Zxid, providers: corral_acl::Providers) -> PrepContext<'_> {
        PrepContext {
            session_id: self.session_id,
            zxid,
            time_ms: self.wall_ms,
            auth_ids: self.auth_ids,
            providers,
        }
    }
}

/// The one place zxids are given out: the next zxid, prep against the tree plus the txns
/// still in flight (`Pending`), and the encoding of each txn.
struct ZxidAuthority {
    next_zxid: Zxid,
    pending: Pending,
    /// Where txns are encoded: each txn is a slice split off it, so encoding a txn does not
    /// allocate (and grow) a buffer of its own.
    scratch: BytesMut,
}

/// The scratch buffer gets this much more room when less than [`SCRATCH_LOW`] is left.
const SCRATCH_CHUNK: usize = 64 << 10;
/// See [`SCRATCH_CHUNK`].
const SCRATCH_LOW: usize = 4 << 10;

impl ZxidAuthority {
    fn new(next_zxid: Zxid) -> ZxidAuthority {
        ZxidAuthority {
            next_zxid,
            pending: Pending::new(),
            scratch: BytesMut::new(),
        }
    }

    /// The last zxid given out (the one before the next).
    fn last_given(&self) -> Zxid {
        Zxid(self.next_zxid.0.saturating_sub(1))
    }

    /// Preps the next txn: its zxid, then its body; the txn and its encoding.
    fn prep(
        &mut self,
        who: &Proposer<'_>,
        body: impl FnOnce(Zxid, &mut Pending) -> TxnBody,
    ) -> (Txn, Bytes) {
        let zxid = self.next_zxid;
        self.next_zxid = Zxid(zxid.0 + 1);
        let txn = Txn {
            zxid,
            time_ms: who.wall_ms,
            session_id: who.session_id,
            cxid: who.cxid,
            body: body(zxid, &mut self.pending),
        };
        if self.scratch.capacity() - self.scratch.len() < SCRATCH_LOW {
            self.scratch.reserve(SCRATCH_CHUNK);
        }
        txn.encode(&mut self.scratch);
        let encoded = self.scratch.split().freeze();
        (txn, encoded)
    }
}

/// The standalone write path: zxids, prep, the log, durability.
pub struct Standalone {
    authority: ZxidAuthority,
    tracker: SessionTable,
    /// Logged, not durable yet, in zxid order.
    logged: VecDeque<Txn>,
    failed: bool,
}

impl Standalone {
    /// Continues after `applied_zxid` with the session tracker `tracker`.
    pub fn new(applied_zxid: Zxid, tracker: SessionTable) -> Standalone {
        Standalone {
            authority: ZxidAuthority::new(Zxid(applied_zxid.0 + 1)),
            tracker,
            logged: VecDeque::new(),
            failed: false,
        }
    }

    fn log(
        &mut self,
        who: &Proposer<'_>,
        body: impl FnOnce(Zxid, &mut Pending) -> TxnBody,
    ) -> Option<Effect> {
        if self.failed {
            return None;
        }
        let (txn, encoded) = self.authority.prep(who, body);
        let zxid = txn.zxid;
        self.logged.push_back(txn);
        Some(Effect::Log { zxid, txn: encoded })
    }
}

/// The established leader's write path: the same prep and zxids as a standalone server, but
/// a txn is proposed to the ensemble ([`Effect::Propose`]) and committed once a quorum has
/// logged it; the global session tracker (expiry, containers) is the leader's.
pub struct Leader {
    authority: ZxidAuthority,
    tracker: SessionTable,
}

impl Leader {
    /// A leader whose next proposal gets `next_zxid` (the engine's), tracking `tracker`'s
    /// sessions.
    pub fn new(next_zxid: Zxid, tracker: SessionTable) -> Leader {
        Leader {
            authority: ZxidAuthority::new(next_zxid),
            tracker,
        }
    }

    fn propose(
        &mut self,
        who: &Proposer<'_>,
        body: impl FnOnce(Zxid, &mut Pending) -> TxnBody,
    ) -> Effect {
        let (txn, encoded) = self.authority.prep(who, body);
        Effect::Propose {
            zxid: txn.zxid,
            txn: encoded,
        }
    }
}

/// A follower's or an observer's write path: no zxids; writes, createSession and
/// closeSession go to the leader ([`Effect::Forward`]), and its txns are committed when the
/// leader's COMMIT (or INFORM) arrives. Its session tracker knows every applied session
/// (to revalidate a client that moves here) but never expires one: the leader does.
pub struct Learner {
    tracker: SessionTable,
    /// Sessions touched since the last report to the leader.
    touched: BTreeSet<i64>,
}

impl Learner {
    /// A learner with `tracker`'s sessions.
    pub fn new(tracker: SessionTable) -> Learner {
        Learner {
            tracker,
            touched: BTreeSet::new(),
        }
    }
}
