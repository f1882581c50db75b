//! The write path: how a write becomes a committed txn. One per role; the core talks to it
//! through [`WritePath`] and never asks which role it is.
//!
//! - [`Standalone`] (today): the only zxid authority. It gives each write the next zxid, preps
//!   it against the tree plus the writes still in flight (`Pending`), hands it to the log
//!   ([`Effect::Log`]) and, once the log reports it durable, returns it as committed. It also
//!   tracks the sessions' liveness (ids, passwords, expiry: ZooKeeper's SessionTrackerImpl).
//! - Leader (issue 15) sits beside it: the same prep and zxids, but committed once a quorum
//!   acknowledged the proposal, and the global session tracker.
//! - Learner (follower, observer; issue 15): no prep and no zxids of its own; it forwards the
//!   request with its session, cxid and auth ids to the leader, and its committed txns are
//!   the leader's COMMITs (or INFORMs) after its own log made them durable.
//!
//! Whatever the role, committed txns come out in zxid order and the core applies them and
//! answers the local request waiting for (session id, cxid), if any.

use std::collections::VecDeque;

use bytes::BytesMut;
use corral_datatree::{DataTree, Pending, PrepContext, Txn, TxnBody};
use corral_jute::codes::{ErrorCode, OpCode};
use corral_jute::records::Id;
use corral_jute::request::Request;
use corral_session::SessionTable;

use super::effects::Effect;

/// The role's write path.
pub enum WritePath {
    /// A standalone server.
    Standalone(Standalone),
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
}

impl WritePath {
    /// The session tracker (liveness, ids, passwords).
    pub fn sessions(&self) -> &SessionTable {
        match self {
            WritePath::Standalone(s) => &s.tracker,
        }
    }

    /// The session tracker, to create, touch, expire and close sessions.
    pub fn sessions_mut(&mut self) -> &mut SessionTable {
        match self {
            WritePath::Standalone(s) => &mut s.tracker,
        }
    }

    /// Whether writes can no longer be served (the log failed).
    pub fn is_failed(&self) -> bool {
        match self {
            WritePath::Standalone(s) => s.failed,
        }
    }

    /// The log failed: nothing in flight will ever commit.
    pub fn fail(&mut self) {
        match self {
            WritePath::Standalone(s) => {
                s.failed = true;
                s.logged.clear();
            }
        }
    }

    /// Preps `req` at the next zxid (a refused write still takes its zxid, as in ZooKeeper)
    /// and logs it. `None` once the log has failed.
    pub fn write(
        &mut self,
        tree: &DataTree,
        who: &Proposer<'_>,
        providers: corral_acl::Providers,
        reconfig_enabled: bool,
        req: &Request,
    ) -> Option<Effect> {
        match self {
            WritePath::Standalone(s) => {
                let body = |zxid, pending: &mut Pending| {
                    let ctx = who.context(zxid, providers);
                    match req {
                        // A standalone server is no leader: ZooKeeper's PrepRequestProcessor
                        // refuses reconfig as disabled, or (reconfigEnabled=true) as
                        // unimplemented, in an error txn.
                        Request::Unsupported {
                            op: OpCode::Reconfig,
                            ..
                        } if reconfig_enabled => TxnBody::Error(ErrorCode::Unimplemented),
                        _ => tree.prep(pending, &ctx, req).unwrap_or_else(TxnBody::Error),
                    }
                };
                s.log(who, body)
            }
        }
    }

    /// A closeSession for `who.session_id`: its ephemerals are deleted once it commits.
    pub fn close_session(
        &mut self,
        tree: &DataTree,
        who: &Proposer<'_>,
        providers: corral_acl::Providers,
    ) -> Option<Effect> {
        match self {
            WritePath::Standalone(s) => s.log(who, |zxid, pending| {
                tree.prep_close_session(pending, &who.context(zxid, providers))
            }),
        }
    }

    /// A createSession for `who.session_id` with `timeout_ms`.
    pub fn create_session(&mut self, who: &Proposer<'_>, timeout_ms: u32) -> Option<Effect> {
        let timeout_ms = i32::try_from(timeout_ms).unwrap_or(i32::MAX);
        match self {
            WritePath::Standalone(s) => s.log(who, |_, _| TxnBody::CreateSession { timeout_ms }),
        }
    }

    /// The log made every txn up to `zxid` durable: the txns that are now committed, in zxid
    /// order, are appended to `out`.
    pub fn durable(&mut self, zxid: i64, out: &mut Vec<Txn>) {
        match self {
            WritePath::Standalone(s) => {
                while s.logged.front().is_some_and(|t| t.zxid <= zxid) {
                    out.extend(s.logged.pop_front());
                }
            }
        }
    }

    /// A committed txn was applied: prep no longer needs to see it as pending.
    pub fn applied(&mut self, zxid: i64) {
        match self {
            WritePath::Standalone(s) => s.pending.applied(zxid),
        }
    }
}

impl Proposer<'_> {
    fn context(&self, zxid: i64, providers: corral_acl::Providers) -> PrepContext<'_> {
        PrepContext {
            session_id: self.session_id,
            zxid,
            time_ms: self.wall_ms,
            auth_ids: self.auth_ids,
            providers,
        }
    }
}

/// The standalone write path: zxids, prep, the log, durability.
pub struct Standalone {
    next_zxid: i64,
    pending: Pending,
    tracker: SessionTable,
    /// Logged, not durable yet, in zxid order.
    logged: VecDeque<Txn>,
    failed: bool,
    /// Where txns are encoded: each logged txn is a slice split off it, so encoding a txn
    /// does not allocate (and grow) a buffer of its own.
    scratch: BytesMut,
}

/// The scratch buffer gets this much more room when less than [`SCRATCH_LOW`] is left.
const SCRATCH_CHUNK: usize = 64 << 10;
/// See [`SCRATCH_CHUNK`].
const SCRATCH_LOW: usize = 4 << 10;

impl Standalone {
    /// Continues after `applied_zxid` with the session tracker `tracker`.
    pub fn new(applied_zxid: i64, tracker: SessionTable) -> Standalone {
        Standalone {
            next_zxid: applied_zxid + 1,
            pending: Pending::new(),
            tracker,
            logged: VecDeque::new(),
            failed: false,
            scratch: BytesMut::new(),
        }
    }

    fn log(
        &mut self,
        who: &Proposer<'_>,
        body: impl FnOnce(i64, &mut Pending) -> TxnBody,
    ) -> Option<Effect> {
        if self.failed {
            return None;
        }
        let zxid = self.next_zxid;
        self.next_zxid += 1;
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
        self.logged.push_back(txn);
        Some(Effect::Log { zxid, txn: encoded })
    }
}
