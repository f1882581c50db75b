//! The server's state and its request dispatch, without sockets: the tree, the in-flight
//! changes, the session table, the watch registry and the connections' outbound queues.
//!
//! Every request runs to completion under one lock, in arrival order, so a session's requests
//! complete in order and there is one zxid order for everyone. Replies and watch events go
//! through each connection's single outbound queue, and a write queues the events it causes
//! before anything later can be read: a client sees a watch event before any later read
//! result of that node (ZooKeeper Programmer's Guide, "Guarantees").

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use corral_datatree::{DataTree, Pending, Txn, TxnBody};
use corral_jute::codes::{xid, ErrorCode, EventType, KeeperState, OpCode};
use corral_jute::frame::{encode_frame, encode_reply, JuteWrite};
use corral_jute::io::{Jute, Reader, Secret};
use corral_jute::records::{
    ConnectRequest, ConnectResponse, Id, ReplyHeader, RequestHeader, WatcherEvent,
};
use corral_jute::request::Request;
use corral_jute::JuteError;
use corral_session::{SessionId, SessionTable};
use corral_watch::WatchRegistry;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::config::ServerConfig;
use crate::pipeline::{Origin, TxnSink};
use crate::stats::{op_name, ConnStats, Stats};

/// A connection's id, unique for the server's lifetime. Watches belong to connections, as in
/// ZooKeeper (a ServerCnxn is the Watcher).
pub type ConnId = u64;

/// What a connection's writer task is told to do.
#[derive(Debug)]
pub enum Outbound {
    /// Write this frame.
    Frame(Bytes),
    /// Flush what was queued, then close the connection.
    Close,
}

/// Clock readings, taken by the caller: a monotonic clock for sessions and the wall clock for
/// Stat times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic milliseconds.
    pub mono_ms: u64,
    /// Milliseconds since the Unix epoch.
    pub wall_ms: i64,
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

pub(crate) struct Conn {
    pub(crate) tx: UnboundedSender<Outbound>,
    pub(crate) remote: SocketAddr,
    pub(crate) session: Option<i64>,
    pub(crate) auth_ids: Vec<Id>,
    /// Counters and last-request details for `cons`.
    pub(crate) stats: ConnStats,
    /// Set once the connection is being closed: later frames are ignored, never taken for a
    /// new ConnectRequest.
    pub(crate) closing: bool,
    /// The connection's SASL exchange, from its first sasl request on.
    pub(crate) sasl: Option<corral_acl::sasl::DigestMd5Server>,
}

/// The standalone server's state machine.
pub struct Core {
    pub(crate) config: ServerConfig,
    pub(crate) tree: DataTree,
    pub(crate) pending: Pending,
    pub(crate) sessions: SessionTable,
    pub(crate) watches: WatchRegistry<ConnId>,
    pub(crate) conns: BTreeMap<ConnId, Conn>,
    pub(crate) session_conns: HashMap<i64, ConnId>,
    /// Sessions whose createSession txn is not durable yet: in the session table already,
    /// not yet in a snapshot.
    pub(crate) creating_sessions: std::collections::HashSet<i64>,
    next_conn: ConnId,
    pub(crate) stats: Stats,
    pub(crate) started_mono_ms: u64,
    pub(crate) next_zxid: i64,
    pub(crate) in_flight: std::collections::VecDeque<crate::pipeline::InFlight>,
    pub(crate) session_queues: HashMap<i64, crate::pipeline::SessionQueue>,
    pub(crate) sink: Box<dyn TxnSink>,
    /// Txns applied since the last snapshot.
    pub txns_since_snapshot: u64,
    /// Set when the log failed: no write is served (or acknowledged) any more.
    pub(crate) writes_failed: bool,
}

impl Core {
    /// A server with an empty tree whose txns go to `sink`.
    pub fn new(
        config: ServerConfig,
        sink: Box<dyn TxnSink>,
        now: Now,
    ) -> Result<Core, crate::ServerError> {
        let tree = DataTree::with_config(corral_datatree::DataTreeConfig {
            extended_types_enabled: config.extended_types_enabled,
            enforce_quota: config.enforce_quota,
        });
        Core::restore(config, sink, tree, &std::collections::BTreeMap::new(), now)
    }

    /// A server resuming from a recovered tree and its sessions (id -> timeout). Every
    /// session gets a full timeout from `now`, as ZooKeeper gives restored sessions.
    pub fn restore(
        config: ServerConfig,
        sink: Box<dyn TxnSink>,
        tree: DataTree,
        restored_sessions: &std::collections::BTreeMap<i64, i32>,
        now: Now,
    ) -> Result<Core, crate::ServerError> {
        let mut sessions = SessionTable::new(config.session_config(), 0, now.wall_ms.max(0) as u64)
            .map_err(|e| crate::ServerError::Config {
                line: 0,
                key: "tickTime/minSessionTimeout/maxSessionTimeout".into(),
                message: e.to_string(),
            })?;
        for (id, timeout) in restored_sessions {
            sessions.insert_existing(SessionId(*id), (*timeout).max(0) as u32, now.mono_ms);
        }
        let next_zxid = tree.last_zxid() + 1;
        Ok(Core {
            config,
            tree,
            pending: Pending::new(),
            sessions,
            watches: WatchRegistry::new(),
            conns: BTreeMap::new(),
            session_conns: HashMap::new(),
            creating_sessions: std::collections::HashSet::new(),
            next_conn: 1,
            stats: Stats::default(),
            started_mono_ms: now.mono_ms,
            next_zxid,
            in_flight: std::collections::VecDeque::new(),
            session_queues: HashMap::new(),
            sink,
            txns_since_snapshot: 0,
            writes_failed: false,
        })
    }

    /// Starts an incremental snapshot of the tree (see crate::durability) and copies the
    /// session table (id -> timeout), both as they are at the returned zxid.
    pub fn begin_snapshot(
        &mut self,
    ) -> Result<(i64, BTreeMap<i64, i32>), corral_datatree::TreeSnapshotError> {
        let zxid = self.tree.begin_snapshot()?;
        let sessions = self
            .sessions
            .iter()
            .filter(|s| !self.creating_sessions.contains(&s.id().0))
            .map(|s| (s.id().0, s.timeout_ms() as i32))
            .collect();
        self.txns_since_snapshot = 0;
        Ok((zxid, sessions))
    }

    /// The log failed: like ZooKeeper, stop serving writes rather than diverge from the disk.
    /// Writes waiting for durability are never acknowledged: their connections are closed
    /// (the clients see a connection loss). Reads keep being served.
    pub fn storage_failed(&mut self, reason: &str) {
        if !self.writes_failed {
            tracing::error!(
                "the txn log failed ({reason}); no further writes will be served. Acknowledged \
                 writes are on disk; restart the server once the disk is fixed"
            );
        }
        self.writes_failed = true;
        let waiting: Vec<ConnId> = self
            .in_flight
            .drain(..)
            .filter_map(|f| f.waiting_conn())
            .collect();
        for conn in waiting {
            self.send_close(conn);
        }
    }

    /// Registers a new client connection, or refuses it when `maxClientCnxns` connections from
    /// its IP are already open. It holds the `ip` id of `remote`, then `tls_ids` (what a TLS
    /// client's certificate authenticated).
    pub fn open_connection(
        &mut self,
        remote: SocketAddr,
        tls_ids: Vec<Id>,
    ) -> Option<(ConnId, UnboundedReceiver<Outbound>)> {
        let limit = self.config.max_client_cnxns as usize;
        if limit > 0 {
            let from_ip = self
                .conns
                .values()
                .filter(|c| c.remote.ip() == remote.ip())
                .count();
            if from_ip >= limit {
                tracing::warn!(
                    "Too many connections from {} - max is {}",
                    remote.ip(),
                    limit
                );
                return None;
            }
        }
        let id = self.next_conn;
        self.next_conn += 1;
        let (tx, rx) = unbounded_channel();
        self.conns.insert(
            id,
            Conn {
                tx,
                remote,
                session: None,
                auth_ids: std::iter::once(Id {
                    scheme: "ip".into(),
                    id: remote.ip().to_string(),
                })
                .chain(tls_ids)
                .collect(),
                stats: ConnStats::new(wall_now_ms()),
                closing: false,
                sasl: None,
            },
        );
        Some((id, rx))
    }

    /// Forgets a connection that closed: its watches go, its session stays until it expires.
    pub fn close_connection(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            self.watches.remove_watcher(conn);
            if let Some(session) = c.session {
                if self.session_conns.get(&session) == Some(&conn) {
                    self.session_conns.remove(&session);
                }
            }
        }
    }

    /// Handles one complete frame from a connection: its ConnectRequest first, then requests.
    pub fn handle_frame(&mut self, conn: ConnId, frame: Bytes, now: Now) -> Result<(), ConnError> {
        self.stats.packets_received += 1;
        let has_session = match self.conns.get_mut(&conn) {
            Some(c) if !c.closing => {
                c.stats.received += 1;
                c.session.is_some()
            }
            _ => return Ok(()),
        };
        if has_session {
            self.handle_request(conn, frame, now)
        } else {
            let req = ConnectRequest::from_bytes(frame)?;
            self.handle_connect(conn, req, now)
        }
    }

    fn handle_connect(
        &mut self,
        conn: ConnId,
        req: ConnectRequest,
        now: Now,
    ) -> Result<(), ConnError> {
        let ours = self.tree.last_zxid();
        if req.last_zxid_seen > ours {
            return Err(ConnError::ClientAhead {
                client: req.last_zxid_seen,
                ours,
            });
        }
        let timeout = self.sessions.config().negotiate(req.timeout);
        let read_only_format = req.read_only.is_some();
        if req.session_id == 0 {
            self.connect_new_session(conn, timeout, read_only_format, now);
        } else {
            self.reconnect_session(conn, &req, read_only_format, now);
        }
        Ok(())
    }

    /// A new session: a createSession txn, answered with the ConnectResponse once durable.
    fn connect_new_session(
        &mut self,
        conn: ConnId,
        timeout: u32,
        read_only_format: bool,
        now: Now,
    ) {
        let session = self.sessions.create(timeout, now.mono_ms);
        let id = session.id().0;
        let passwd = Bytes::copy_from_slice(session.password().as_bytes());
        tracing::info!(
            "Established session 0x{:x} with negotiated timeout {} for client {}",
            id,
            timeout,
            self.conns
                .get(&conn)
                .map(|c| c.remote.to_string())
                .unwrap_or_default()
        );
        let response = connect_response(id, timeout, passwd, read_only_format);
        // The session is this connection's from now on, so requests pipelined behind the
        // ConnectRequest queue behind the createSession txn.
        self.bind_session(conn, id);
        self.creating_sessions.insert(id);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats
                .request(0, op_name(OpCode::CreateSession), std::time::Instant::now());
        }
        let txn = Txn {
            zxid: self.take_zxid(),
            time_ms: now.wall_ms,
            session_id: id,
            cxid: 0,
            body: TxnBody::CreateSession {
                timeout_ms: timeout as i32,
            },
        };
        self.submit(txn, Origin::Connect { conn, response }, now);
    }

    /// A client resuming its session (on this or another connection). The session's current
    /// connection, if any, is closed first. A session that is unknown, expired or presented
    /// with the wrong password gets timeout 0, session 0 and a zero password, then the
    /// connection closes: the client reports Expired.
    fn reconnect_session(
        &mut self,
        conn: ConnId,
        req: &ConnectRequest,
        read_only_format: bool,
        now: Now,
    ) {
        let id = SessionId(req.session_id);
        // The session's current connection is closed before the password is checked, as
        // ZooKeeper does (processConnectRequest closes it with CLIENT_RECONNECT): a wrong
        // password also disconnects the owner, which then reconnects.
        if let Some(old) = self.session_conns.get(&req.session_id).copied() {
            if old != conn {
                self.send_close(old);
                self.close_connection(old);
            }
        }
        match self.sessions.revalidate(id, &req.passwd.0, now.mono_ms) {
            Ok(timeout) => {
                tracing::info!("Reconnected session 0x{:x}", req.session_id);
                let passwd = Bytes::copy_from_slice(self.sessions.password_for(id).as_bytes());
                let response = connect_response(id.0, timeout, passwd, read_only_format);
                self.send(conn, response);
                self.bind_session(conn, id.0);
            }
            Err(e) => {
                tracing::info!(
                    "Invalid session 0x{:x} for client, probably expired: {}",
                    req.session_id,
                    e
                );
                let passwd = Bytes::from_static(&[0u8; 16]);
                let response = connect_response(0, 0, passwd, read_only_format);
                self.send(conn, response);
                self.send_close(conn);
            }
        }
    }

    fn bind_session(&mut self, conn: ConnId, session_id: i64) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(session_id);
        }
        self.session_conns.insert(session_id, conn);
    }

    fn handle_request(&mut self, conn: ConnId, frame: Bytes, now: Now) -> Result<(), ConnError> {
        let mut r = Reader::new(frame);
        let header = RequestHeader::read(&mut r)?;
        let session_id = self
            .conns
            .get(&conn)
            .and_then(|c| c.session)
            .unwrap_or_default();
        let op = match OpCode::from_code(header.op) {
            Ok(op) => op,
            Err(_) => {
                self.reply_error(conn, header.xid, ErrorCode::Unimplemented);
                return Ok(());
            }
        };
        let request = Request::decode(op, &mut r)?;
        let started = std::time::Instant::now();
        if !matches!(op, OpCode::Auth | OpCode::Sasl) {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.stats.request(header.xid, op_name(op), started);
            }
        }
        // Every request is a sign of life. A request of a session that is closing or gone is
        // answered SessionExpired in its turn (after the session's earlier requests), by `run`.
        self.sessions.touch(SessionId(session_id), now.mono_ms);
        self.run_or_queue(conn, session_id, header.xid, request, now);
        self.stats.record_latency(started.elapsed());
        Ok(())
    }

    /// Applies a durable txn to the tree and queues the watch events it causes.
    pub(crate) fn commit(&mut self, txn: &Txn) -> corral_datatree::TxnResult {
        let applied = self.tree.apply(txn);
        self.pending.applied(txn.zxid);
        for (path, event) in &applied.events {
            for watcher in self.watches.trigger(path, *event) {
                self.send_event(watcher, path, *event);
            }
        }
        applied.result
    }

    /// Expires the sessions whose deadline passed: each gets a closeSession txn, and the
    /// connection still holding it is closed (the client then learns it expired).
    pub fn expire_sessions(&mut self, now: Now) {
        for id in self.sessions.expire(now.mono_ms) {
            tracing::info!(
                "Expiring session 0x{:x}, timeout of {}ms exceeded",
                id.0,
                self.sessions.get(id).map(|s| s.timeout_ms()).unwrap_or(0)
            );
            let conn = self.session_conns.get(&id.0).copied();
            self.submit_close_session(id.0, conn, None, now);
        }
    }

    /// Deletes empty containers and expired TTL nodes with deleteContainer writes, as
    /// ZooKeeper's ContainerManager does on its interval. A node that changed meanwhile is
    /// refused by prep like any other write.
    pub fn reap_containers(&mut self, now: Now) {
        let mut doomed = self.tree.containers_to_reap_at(
            now.wall_ms,
            i64::from(self.config.container_max_never_used_ms),
        );
        doomed.extend(self.tree.expired_ttls(now.wall_ms));
        for path in doomed {
            let req = Request::Delete {
                op: OpCode::DeleteContainer,
                req: corral_jute::records::DeleteRequest { path, version: -1 },
            };
            self.submit_write(None, 0, 0, &req, now);
        }
    }

    /// When [`Core::expire_sessions`] next has work, in monotonic ms.
    pub fn next_expiry_ms(&self) -> Option<u64> {
        self.sessions.next_expiry_ms()
    }

    pub(crate) fn auth_ids_of_session(&self, session_id: i64) -> Vec<Id> {
        self.session_conns
            .get(&session_id)
            .and_then(|c| self.conns.get(c))
            .map(|c| c.auth_ids.clone())
            .unwrap_or_default()
    }

    pub(crate) fn auth_ids(&self, conn: ConnId) -> &[Id] {
        self.conns
            .get(&conn)
            .map(|c| c.auth_ids.as_slice())
            .unwrap_or(&[])
    }

    pub(crate) fn send(&mut self, conn: ConnId, frame: Bytes) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.sent += 1;
            self.stats.packets_sent += 1;
            // A send fails only when the writer is gone, i.e. the connection is closing.
            let _ = c.tx.send(Outbound::Frame(frame));
        }
    }

    pub(crate) fn send_close(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.closing = true;
            let _ = c.tx.send(Outbound::Close);
        }
    }

    pub(crate) fn reply(
        &mut self,
        conn: ConnId,
        xid: i32,
        zxid: i64,
        err: ErrorCode,
        body: Option<&dyn JuteWrite>,
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
        );
    }

    /// Sends a reply as given: `body` goes out whatever the header's error.
    pub(crate) fn send_reply(
        &mut self,
        conn: ConnId,
        header: &ReplyHeader,
        body: Option<&dyn JuteWrite>,
    ) {
        let mut out = BytesMut::new();
        encode_reply(&mut out, header, body);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats
                .response(header.xid, header.zxid, std::time::Instant::now());
        }
        self.send(conn, out.freeze());
    }

    pub(crate) fn reply_error(&mut self, conn: ConnId, xid: i32, err: ErrorCode) {
        let zxid = self.tree.last_zxid();
        self.reply(conn, xid, zxid, err, None);
    }

    pub(crate) fn send_event(&mut self, conn: ConnId, path: &str, event: EventType) {
        let mut out = BytesMut::new();
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
        encode_reply(&mut out, &header, Some(&body));
        self.send(conn, out.freeze());
    }
}

/// A ConnectResponse frame. `read_only_format` answers a client that sent the readOnly flag
/// in its own format (with the flag: this server is never read-only).
fn connect_response(session_id: i64, timeout: u32, passwd: Bytes, read_only_format: bool) -> Bytes {
    let resp = ConnectResponse {
        protocol_version: 0,
        timeout: timeout as i32,
        session_id,
        passwd: Secret(passwd),
        read_only: read_only_format.then_some(false),
    };
    let mut out = BytesMut::with_capacity(64);
    encode_frame(&mut out, |o| resp.write(o));
    out.freeze()
}

/// Milliseconds since the Unix epoch, now (a connection's `est=` in `cons`).
fn wall_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
