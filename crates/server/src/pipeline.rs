//! The write pipeline: a write is prepped at the next zxid, handed to the txn log, and only
//! once the log says it is durable is it applied to the tree, its watches fired and its
//! client answered, in zxid order.
//!
//! Ordering within a session follows ZooKeeper's CommitProcessor: a session's writes may be in
//! flight together (prep sees the earlier ones through `Pending`), but any other request of
//! that session waits until every earlier write of the session has been applied, so a read
//! never misses an earlier write of its own session nor sees a later one.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use corral_datatree::{Txn, TxnBody, TxnResult};
use corral_jute::codes::{ErrorCode, OpCode};
use corral_jute::records::{Create2Response, PathResponse, StatResponse};
use corral_jute::request::{MultiResponse, Request};
use corral_session::SessionId;

use crate::core::{ConnId, Core, Now};

/// Where decided txns go to become durable.
pub trait TxnSink: Send {
    /// Takes txn `zxid` (encoded). Returns `true` if it is durable already; otherwise the
    /// owner calls [`Core::durable`] once the log has made it durable.
    fn submit(&mut self, zxid: i64, txn: Bytes) -> bool;
}

/// The in-memory "log": every txn is durable at once (nothing survives a restart).
#[derive(Debug, Default)]
pub struct MemorySink;

impl TxnSink for MemorySink {
    fn submit(&mut self, _zxid: i64, _txn: Bytes) -> bool {
        true
    }
}

/// Who is waiting for a txn, and what they are owed once it is applied.
#[derive(Debug)]
pub(crate) enum Origin {
    /// A client write: the reply to `xid`.
    Client { conn: ConnId, xid: i32, op: OpCode },
    /// A new session: its ConnectResponse.
    Connect { conn: ConnId, response: Bytes },
    /// A closeSession: the client's reply if it asked (`xid`), then the connection closes.
    CloseSession {
        conn: Option<ConnId>,
        xid: Option<i32>,
    },
    /// A server-initiated write (container reaping): nobody to answer.
    Internal,
}

#[derive(Debug)]
pub(crate) struct InFlight {
    txn: Txn,
    origin: Origin,
}

impl InFlight {
    /// The connection waiting for this txn's outcome, if any.
    pub(crate) fn waiting_conn(&self) -> Option<ConnId> {
        match &self.origin {
            Origin::Client { conn, .. } | Origin::Connect { conn, .. } => Some(*conn),
            Origin::CloseSession { conn, .. } => *conn,
            Origin::Internal => None,
        }
    }
}

/// A session's requests waiting behind its in-flight writes.
#[derive(Debug, Default)]
pub(crate) struct SessionQueue {
    in_flight: usize,
    blocked: VecDeque<(ConnId, i32, Request)>,
}

impl Core {
    /// Runs a decoded request of `session_id` now, or queues it behind that session's
    /// in-flight writes.
    pub(crate) fn run_or_queue(
        &mut self,
        conn: ConnId,
        session_id: i64,
        xid: i32,
        req: Request,
        now: Now,
    ) {
        let q = self.session_queues.entry(session_id).or_default();
        if !q.blocked.is_empty() || (q.in_flight > 0 && !req.is_write()) {
            q.blocked.push_back((conn, xid, req));
            return;
        }
        self.run(conn, session_id, xid, req, now);
    }

    fn run(&mut self, conn: ConnId, session_id: i64, xid: i32, req: Request, now: Now) {
        // A request queued before its session closed or expired must not act for it.
        let live = self
            .sessions
            .get(SessionId(session_id))
            .is_some_and(|s| !s.is_closing());
        if !live {
            // As SessionTracker.checkSession: SessionExpired, and the connection is closed.
            self.reply_error(conn, xid, ErrorCode::SessionExpired);
            self.send_close(conn);
            return;
        }
        self.dispatch(conn, session_id, xid, req, now);
    }

    /// Runs what a session queued, up to the next request that must wait again.
    fn drain(&mut self, session_id: i64, now: Now) {
        loop {
            let Some(q) = self.session_queues.get_mut(&session_id) else {
                return;
            };
            let runnable = match q.blocked.front() {
                None => {
                    if q.in_flight == 0 {
                        self.session_queues.remove(&session_id);
                    }
                    return;
                }
                Some((_, _, req)) => req.is_write() || q.in_flight == 0,
            };
            if !runnable {
                return;
            }
            if let Some((conn, xid, req)) = q.blocked.pop_front() {
                self.run(conn, session_id, xid, req, now);
            }
        }
    }

    /// The zxid the next txn gets.
    pub(crate) fn take_zxid(&mut self) -> i64 {
        let zxid = self.next_zxid;
        self.next_zxid += 1;
        zxid
    }

    /// Hands a decided txn to the log; it is applied and answered once durable.
    pub(crate) fn submit(&mut self, txn: Txn, origin: Origin, now: Now) {
        if self.writes_failed {
            // Nothing is acknowledged once the log has failed.
            if let Some(conn) = (InFlight { txn, origin }).waiting_conn() {
                self.send_close(conn);
            }
            return;
        }
        let zxid = txn.zxid;
        if txn.session_id != 0 {
            self.session_queues
                .entry(txn.session_id)
                .or_default()
                .in_flight += 1;
        }
        let mut encoded = BytesMut::new();
        txn.encode(&mut encoded);
        self.in_flight.push_back(InFlight { txn, origin });
        if self.sink.submit(zxid, encoded.freeze()) {
            self.durable(zxid, now);
        }
    }

    /// The log made every txn up to `zxid` durable: apply them in order and answer.
    pub fn durable(&mut self, zxid: i64, now: Now) {
        while self.in_flight.front().is_some_and(|f| f.txn.zxid <= zxid) {
            let Some(InFlight { txn, origin }) = self.in_flight.pop_front() else {
                break;
            };
            let result = self.commit(&txn);
            self.txns_since_snapshot += 1;
            self.complete(&txn, origin, result);
            if txn.session_id != 0 {
                if let Some(q) = self.session_queues.get_mut(&txn.session_id) {
                    q.in_flight = q.in_flight.saturating_sub(1);
                }
                self.drain(txn.session_id, now);
            }
        }
    }

    /// What the origin of an applied txn is owed.
    fn complete(&mut self, txn: &Txn, origin: Origin, result: TxnResult) {
        let zxid = txn.zxid;
        match origin {
            Origin::Internal => {}
            Origin::Connect { conn, response } => {
                self.creating_sessions.remove(&txn.session_id);
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.stats.response(0, zxid, std::time::Instant::now());
                }
                self.send(conn, response);
            }
            Origin::CloseSession { conn, xid } => {
                self.sessions.close(SessionId(txn.session_id));
                if let Some(held_by) = self.session_conns.remove(&txn.session_id) {
                    if let Some(c) = self.conns.get_mut(&held_by) {
                        c.session = None;
                    }
                }
                if let Some(conn) = conn {
                    if let Some(xid) = xid {
                        self.reply(conn, xid, zxid, ErrorCode::Ok, None);
                    }
                    self.send_close(conn);
                }
            }
            Origin::Client { conn, xid, op } => match result {
                TxnResult::Error(code) => self.reply(conn, xid, zxid, code, None),
                TxnResult::Create { path, stat } => {
                    if op == OpCode::Create {
                        self.reply(conn, xid, zxid, ErrorCode::Ok, Some(&PathResponse { path }))
                    } else {
                        self.reply(
                            conn,
                            xid,
                            zxid,
                            ErrorCode::Ok,
                            Some(&Create2Response { path, stat }),
                        )
                    }
                }
                TxnResult::SetData(stat) | TxnResult::SetAcl(stat) => {
                    self.reply(conn, xid, zxid, ErrorCode::Ok, Some(&StatResponse { stat }))
                }
                TxnResult::Multi(results) => self.reply(
                    conn,
                    xid,
                    zxid,
                    ErrorCode::Ok,
                    Some(&MultiResponse { results }),
                ),
                _ => self.reply(conn, xid, zxid, ErrorCode::Ok, None),
            },
        }
    }

    /// Preps a client's write at the next zxid (a refused write still consumes the zxid, as in
    /// ZooKeeper) and submits it.
    pub(crate) fn submit_write(
        &mut self,
        conn: Option<ConnId>,
        session_id: i64,
        xid: i32,
        req: &Request,
        now: Now,
    ) {
        let zxid = self.take_zxid();
        let auth_ids = self.auth_ids_of_session(session_id);
        let ctx = corral_datatree::PrepContext {
            session_id,
            zxid,
            time_ms: now.wall_ms,
            auth_ids: &auth_ids,
            providers: self.config.auth_providers(),
        };
        let body = match req {
            // A standalone server is no leader: ZooKeeper's PrepRequestProcessor refuses
            // reconfig as disabled, or (reconfigEnabled=true) as unimplemented, in an error txn.
            Request::Unsupported {
                op: OpCode::Reconfig,
                ..
            } if self.config.reconfig_enabled => TxnBody::Error(ErrorCode::Unimplemented),
            _ => self
                .tree
                .prep(&mut self.pending, &ctx, req)
                .unwrap_or_else(TxnBody::Error),
        };
        let txn = Txn {
            zxid,
            time_ms: now.wall_ms,
            session_id,
            cxid: xid,
            body,
        };
        let origin = match conn {
            Some(conn) => Origin::Client {
                conn,
                xid,
                op: req.op(),
            },
            None => Origin::Internal,
        };
        self.submit(txn, origin, now);
    }

    /// Submits a closeSession txn: its ephemerals are deleted (firing their watches) once it
    /// is durable. `reply_to` is the client's (connection, xid) when the client asked.
    pub(crate) fn submit_close_session(
        &mut self,
        session_id: i64,
        conn: Option<ConnId>,
        xid: Option<i32>,
        now: Now,
    ) {
        self.sessions.mark_closing(SessionId(session_id));
        let zxid = self.take_zxid();
        let no_ids = Vec::new();
        let ctx = corral_datatree::PrepContext {
            session_id,
            zxid,
            time_ms: now.wall_ms,
            auth_ids: &no_ids,
            providers: self.config.auth_providers(),
        };
        let body = self.tree.prep_close_session(&mut self.pending, &ctx);
        let txn = Txn {
            zxid,
            time_ms: now.wall_ms,
            session_id,
            cxid: xid.unwrap_or(0),
            body,
        };
        self.submit(txn, Origin::CloseSession { conn, xid }, now);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::BytesMut;
    use corral_jute::codes::OpCode;
    use corral_jute::frame::{decode_frame, encode_frame};
    use corral_jute::io::{Jute, Reader, Secret};
    use corral_jute::records::*;
    use parking_lot::Mutex;
    use tokio::sync::mpsc::UnboundedReceiver;

    use super::*;
    use crate::core::Outbound;
    use crate::ServerConfig;

    /// A log that makes nothing durable until the test says so.
    #[derive(Clone, Default)]
    struct HeldSink(Arc<Mutex<Vec<i64>>>);

    impl TxnSink for HeldSink {
        fn submit(&mut self, zxid: i64, _txn: Bytes) -> bool {
            self.0.lock().push(zxid);
            false
        }
    }

    const NOW: Now = Now {
        mono_ms: 1_000,
        wall_ms: 1_700_000_000_000,
    };

    fn frame(write: impl FnOnce(&mut BytesMut)) -> Bytes {
        let mut out = BytesMut::new();
        encode_frame(&mut out, write);
        let mut out = out;
        decode_frame(&mut out, usize::MAX)
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    fn request(xid: i32, op: OpCode, body: impl FnOnce(&mut BytesMut)) -> Bytes {
        frame(|o| {
            RequestHeader { xid, op: op.code() }.write(o);
            body(o);
        })
    }

    fn sent(rx: &mut UnboundedReceiver<Outbound>) -> Vec<Bytes> {
        let mut out = Vec::new();
        while let Ok(Outbound::Frame(f)) = rx.try_recv() {
            let mut buf = BytesMut::from(&f[..]);
            out.push(
                decode_frame(&mut buf, usize::MAX)
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
            );
        }
        out
    }

    fn xids(frames: &[Bytes]) -> Vec<i32> {
        frames
            .iter()
            .map(|f| {
                ReplyHeader::read(&mut Reader::new(f.clone()))
                    .map(|h| h.xid)
                    .unwrap_or(i32::MIN)
            })
            .collect()
    }

    #[test]
    fn replies_wait_for_durability_and_keep_session_order() {
        let config = ServerConfig::parse("dataDir=/unused\nclientPort=1\n").expect("config");
        let sink = HeldSink::default();
        let mut core = Core::new(config, Box::new(sink.clone()), NOW).expect("core");
        let (conn, mut rx) = core
            .open_connection("127.0.0.1:5000".parse().expect("addr"), Vec::new())
            .expect("connection");
        let connect = ConnectRequest {
            timeout: 30_000,
            passwd: Secret(Bytes::from_static(&[0; 16])),
            ..Default::default()
        };
        core.handle_frame(conn, frame(|o| connect.write(o)), NOW)
            .expect("connect");
        // Pipelined behind the ConnectRequest: a create, a getData of it, another create.
        let create = |path: &str| {
            let path = path.to_string();
            move |o: &mut BytesMut| {
                CreateRequest {
                    path,
                    data: Some(Bytes::from_static(b"v")),
                    acl: corral_acl::open_acl_unsafe(),
                    flags: 0,
                }
                .write(o)
            }
        };
        core.handle_frame(conn, request(1, OpCode::Create, create("/a")), NOW)
            .expect("create");
        core.handle_frame(
            conn,
            request(2, OpCode::GetData, |o| {
                GetDataRequest {
                    path: "/a".into(),
                    watch: false,
                }
                .write(o)
            }),
            NOW,
        )
        .expect("get");
        core.handle_frame(conn, request(3, OpCode::Create, create("/b")), NOW)
            .expect("create");
        assert!(
            sent(&mut rx).is_empty(),
            "nothing answered before the log is durable"
        );
        // createSession and the first create are in the log; the read and the second create
        // wait behind the first create.
        assert_eq!(*sink.0.lock(), vec![1, 2]);

        core.durable(1, NOW);
        let frames = sent(&mut rx);
        assert_eq!(frames.len(), 1, "only the ConnectResponse");
        assert!(ConnectResponse::from_bytes(frames[0].clone()).is_ok_and(|r| r.timeout == 30_000));

        core.durable(2, NOW);
        // The create's reply, then the read that waited for it (which sees /a), and the second
        // create has gone to the log only now.
        assert_eq!(xids(&sent(&mut rx)), vec![1, 2]);
        assert_eq!(*sink.0.lock(), vec![1, 2, 3]);
        assert_eq!(
            core.tree.get_data("/b").err(),
            Some(corral_jute::codes::ErrorCode::NoNode)
        );

        core.durable(3, NOW);
        assert_eq!(xids(&sent(&mut rx)), vec![3]);
        assert!(core.tree.get_data("/b").is_ok());
    }
}
