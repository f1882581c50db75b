//! The connections: what this server knows of the clients connected to it and nothing any
//! other server needs. Each connection's remote address, auth ids, SASL exchange and
//! statistics; the watches (they belong to connections, as a ZooKeeper ServerCnxn is the
//! Watcher); which connection holds which session; and per session, the requests waiting in
//! FIFO order (ZooKeeper's CommitProcessor): writes waiting for their committed txn, matched
//! by (session id, cxid), and the other requests queued behind them.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;

use bytes::Bytes;
use corral_acl::sasl::DigestMd5Server;
use corral_jute::codes::OpCode;
use corral_jute::records::Id;
use corral_jute::request::Request;
use corral_watch::WatchRegistry;

use super::ConnId;
use crate::stats::ConnStats;

/// How a client reached the server: the client port, or the secure client port with the ids
/// its certificate authenticated (`x509`, maybe `super`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transport {
    /// Over TLS (the secure client port).
    pub secure: bool,
    /// What the client's certificate authenticated.
    pub tls_ids: Vec<Id>,
}

impl Transport {
    /// The client port, in clear.
    pub fn plain() -> Transport {
        Transport::default()
    }
}

/// One client connection.
pub struct Conn {
    remote: SocketAddr,
    secure: bool,
    session: Option<i64>,
    auth_ids: Vec<Id>,
    stats: ConnStats,
    closing: bool,
    sasl: Option<DigestMd5Server>,
    /// When it was opened (monotonic ms): one that has no session after
    /// [`SESSIONLESS_TIMEOUT_MS`] is closed.
    opened_ms: u64,
    /// Requests (xid > 0) read and not answered yet: ZooKeeper's ServerCnxn.outstandingCount.
    outstanding: u64,
    /// Not being read (ZooKeeper's disableRecv), until its outstanding requests are answered.
    recv_disabled: bool,
}

/// How long a connection may stay without a session (ZooKeeper's
/// `zookeeper.nio.sessionlessCnxnTimeout`, 10 s): a client that never sends its
/// ConnectRequest does not hold a connection (and its maxClientCnxns slot) forever.
pub const SESSIONLESS_TIMEOUT_MS: u64 = 10_000;

impl Conn {
    /// The client's address.
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// Whether it came over the secure client port.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The session the connection holds, once its ConnectRequest was taken.
    pub fn session(&self) -> Option<i64> {
        self.session
    }

    /// The ids it authenticated as (ip first, then in the order they were added).
    pub fn auth_ids(&self) -> &[Id] {
        &self.auth_ids
    }

    /// Adds ids it authenticated as, once each.
    pub fn add_auth_ids(&mut self, ids: impl IntoIterator<Item = Id>) {
        for id in ids {
            if !self.auth_ids.contains(&id) {
                self.auth_ids.push(id);
            }
        }
    }

    /// Its statistics (`cons`).
    pub fn stats(&self) -> &ConnStats {
        &self.stats
    }

    /// Its statistics, to count and reset.
    pub fn stats_mut(&mut self) -> &mut ConnStats {
        &mut self.stats
    }

    /// Whether it is being closed: its later frames are ignored.
    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// Whether the server stopped reading it (the global outstanding limit was passed).
    pub fn is_recv_disabled(&self) -> bool {
        self.recv_disabled
    }

    /// ZooKeeper's interest ops as `cons` and `connections` show them: OP_READ (1) unless
    /// it is throttled.
    pub fn interest_ops(&self) -> u8 {
        u8::from(!self.recv_disabled)
    }

    /// Requests (xid > 0) read from it and not answered yet.
    pub fn outstanding(&self) -> u64 {
        self.outstanding
    }

    /// Its SASL exchange, started on first use.
    pub fn sasl_mut(&mut self) -> &mut DigestMd5Server {
        self.sasl.get_or_insert_with(DigestMd5Server::new)
    }
}

/// What a local request waits for from its committed txn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waiter {
    /// A client write: the reply to `xid` on `conn`.
    Write {
        /// The connection that sent it.
        conn: ConnId,
        /// Its xid (the txn's cxid).
        xid: i32,
        /// Its op (create and create2 answer differently).
        op: OpCode,
    },
    /// A new session: the ConnectResponse.
    Connect {
        /// The connection.
        conn: ConnId,
        /// The encoded ConnectResponse frame.
        response: Bytes,
    },
    /// A closeSession, asked by the client (`xid`) or by expiry: the reply if asked, then the
    /// connection closes.
    CloseSession {
        /// The connection to close.
        conn: Option<ConnId>,
        /// The client's xid, when it asked.
        xid: Option<i32>,
    },
    /// A sync in an ensemble: answered (with its path) once the zxid the leader named is
    /// applied here.
    Sync {
        /// The connection.
        conn: ConnId,
        /// Its xid.
        xid: i32,
        /// The path the reply echoes.
        path: String,
    },
}

impl Waiter {
    /// The connection waiting, if any.
    pub fn conn(&self) -> Option<ConnId> {
        match self {
            Waiter::Write { conn, .. }
            | Waiter::Connect { conn, .. }
            | Waiter::Sync { conn, .. } => Some(*conn),
            Waiter::CloseSession { conn, .. } => *conn,
        }
    }
}

/// Which txns a waiter may be matched with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnKind {
    /// createSession.
    CreateSession,
    /// closeSession.
    CloseSession,
    /// Any other write (or its error txn).
    Write,
    /// Not a txn: a sync whose zxid was applied.
    Sync,
}

impl TxnKind {
    fn matches(self, waiter: &Waiter) -> bool {
        matches!(
            (self, waiter),
            (TxnKind::CreateSession, Waiter::Connect { .. })
                | (TxnKind::CloseSession, Waiter::CloseSession { .. })
                | (TxnKind::Write, Waiter::Write { .. })
                | (TxnKind::Sync, Waiter::Sync { .. })
        )
    }
}

/// A request queued behind its session's writes.
pub type Queued = (ConnId, i32, Request, Option<super::Nonce>);

/// One session's requests in flight: writes waiting for their txn, then what waits behind.
#[derive(Debug, Default)]
struct SessionQueue {
    writes: VecDeque<(i32, Waiter)>,
    blocked: VecDeque<Queued>,
}

/// Every connection of this server.
pub struct Connections {
    conns: BTreeMap<ConnId, Conn>,
    session_conns: HashMap<i64, ConnId>,
    watches: WatchRegistry<ConnId>,
    queues: HashMap<i64, SessionQueue>,
    next_conn: ConnId,
    max_per_ip: usize,
    /// Requests read from every connection and not answered yet (ZooKeeper's inProcess).
    in_process: u64,
}

impl Connections {
    /// No connections; at most `max_per_ip` from one IP (0: no limit).
    pub fn new(max_per_ip: usize) -> Connections {
        Connections {
            conns: BTreeMap::new(),
            session_conns: HashMap::new(),
            watches: WatchRegistry::new(),
            queues: HashMap::new(),
            next_conn: 1,
            max_per_ip,
            in_process: 0,
        }
    }

    /// Registers a connection from `remote`, authenticated as `ip` and the transport's TLS ids;
    /// `None` when `maxClientCnxns` connections from its IP are open.
    pub fn open(
        &mut self,
        remote: SocketAddr,
        transport: Transport,
        wall_ms: i64,
        mono_ms: u64,
    ) -> Option<ConnId> {
        if self.max_per_ip > 0 {
            let from_ip = self
                .conns
                .values()
                .filter(|c| c.remote.ip() == remote.ip())
                .count();
            if from_ip >= self.max_per_ip {
                tracing::warn!(
                    "Too many connections from {} - max is {}",
                    remote.ip(),
                    self.max_per_ip
                );
                return None;
            }
        }
        let id = self.next_conn;
        self.next_conn += 1;
        let ip = Id {
            scheme: "ip".into(),
            id: remote.ip().to_string(),
        };
        self.conns.insert(
            id,
            Conn {
                remote,
                secure: transport.secure,
                session: None,
                auth_ids: std::iter::once(ip).chain(transport.tls_ids).collect(),
                stats: ConnStats::new(wall_ms),
                closing: false,
                sasl: None,
                opened_ms: mono_ms,
                outstanding: 0,
                recv_disabled: false,
            },
        );
        Some(id)
    }

    /// Open connections that still have no session [`SESSIONLESS_TIMEOUT_MS`] after they
    /// were opened.
    pub fn sessionless_expired(&self, now_ms: u64) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(_, c)| {
                c.session.is_none()
                    && !c.closing
                    && now_ms.saturating_sub(c.opened_ms) >= SESSIONLESS_TIMEOUT_MS
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Forgets a connection that is gone: its watches go, its session stays bound to nobody.
    pub fn remove(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            self.in_process = self.in_process.saturating_sub(c.outstanding);
            self.watches.remove_watcher(conn);
            if let Some(session) = c.session {
                if self.session_conns.get(&session) == Some(&conn) {
                    self.session_conns.remove(&session);
                }
            }
        }
    }

    /// The connection.
    pub fn get(&self, conn: ConnId) -> Option<&Conn> {
        self.conns.get(&conn)
    }

    /// The connection, to change.
    pub fn get_mut(&mut self, conn: ConnId) -> Option<&mut Conn> {
        self.conns.get_mut(&conn)
    }

    /// Every connection, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (ConnId, &Conn)> + '_ {
        self.conns.iter().map(|(id, c)| (*id, c))
    }

    /// Every connection, to change.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Conn> + '_ {
        self.conns.values_mut()
    }

    /// How many are open.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Marks a connection closing (its later frames are ignored). Returns whether it was
    /// open until now.
    pub fn mark_closing(&mut self, conn: ConnId) -> bool {
        match self.conns.get_mut(&conn) {
            Some(c) => !std::mem::replace(&mut c.closing, true),
            None => false,
        }
    }

    /// Requests read from every connection and not answered yet.
    pub fn in_process(&self) -> u64 {
        self.in_process
    }

    /// ZooKeeperServer.shouldThrottle: once more than `limit` requests are in process, every
    /// connection with requests of its own outstanding is throttled.
    fn should_throttle(&self, outstanding: u64, limit: i32) -> bool {
        i64::from(limit) < i64::try_from(self.in_process).unwrap_or(i64::MAX) && outstanding > 0
    }

    /// A request with `xid` was read from `conn` (ServerCnxn.incrOutstandingAndCheckThrottle;
    /// pings, auth and setWatches have xids <= 0 and are not counted). Returns `true` when
    /// the connection must stop being read from now on.
    pub fn request_read(&mut self, conn: ConnId, xid: i32, limit: i32) -> bool {
        if xid <= 0 {
            return false;
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        c.outstanding += 1;
        self.in_process += 1;
        let outstanding = c.outstanding;
        let throttle = self.should_throttle(outstanding, limit);
        match self.conns.get_mut(&conn) {
            Some(c) if throttle && !c.recv_disabled => {
                c.recv_disabled = true;
                true
            }
            _ => false,
        }
    }

    /// The reply to `xid` was queued for `conn` (ServerCnxn.decrOutstandingAndCheckThrottle).
    /// Returns `true` when the connection, throttled until now, may be read again.
    pub fn reply_sent(&mut self, conn: ConnId, xid: i32, limit: i32) -> bool {
        if xid <= 0 {
            return false;
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        if c.outstanding == 0 {
            return false;
        }
        c.outstanding -= 1;
        self.in_process = self.in_process.saturating_sub(1);
        let outstanding = c.outstanding;
        let throttle = self.should_throttle(outstanding, limit);
        match self.conns.get_mut(&conn) {
            Some(c) if !throttle && c.recv_disabled => {
                c.recv_disabled = false;
                true
            }
            _ => false,
        }
    }

    /// The connection holding `session`.
    pub fn holder(&self, session: i64) -> Option<ConnId> {
        self.session_conns.get(&session).copied()
    }

    /// `conn` holds `session` from now on.
    pub fn bind_session(&mut self, conn: ConnId, session: i64) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(session);
        }
        self.session_conns.insert(session, conn);
    }

    /// The session is gone: no connection holds it any more. Returns the one that did.
    pub fn unbind_session(&mut self, session: i64) -> Option<ConnId> {
        let held_by = self.session_conns.remove(&session)?;
        if let Some(c) = self.conns.get_mut(&held_by) {
            c.session = None;
        }
        Some(held_by)
    }

    /// The watches of every connection.
    pub fn watches(&self) -> &WatchRegistry<ConnId> {
        &self.watches
    }

    /// The watches, to add, remove and trigger.
    pub fn watches_mut(&mut self) -> &mut WatchRegistry<ConnId> {
        &mut self.watches
    }

    /// Queues `req` behind its session's in-flight writes, or hands it back to run now: a
    /// write runs unless requests already wait; anything else waits while a write of its
    /// session is in flight.
    pub fn run_or_queue(&mut self, session: i64, queued: Queued) -> Option<Queued> {
        let q = self.queues.entry(session).or_default();
        if !q.blocked.is_empty() || (!q.writes.is_empty() && !queued.2.is_write()) {
            q.blocked.push_back(queued);
            return None;
        }
        Some(queued)
    }

    /// The next queued request of `session` that may run now, if any.
    pub fn next_runnable(&mut self, session: i64) -> Option<Queued> {
        let q = self.queues.get_mut(&session)?;
        let runnable = match q.blocked.front() {
            None => {
                if q.writes.is_empty() {
                    self.queues.remove(&session);
                }
                return None;
            }
            Some((_, _, req, _)) => req.is_write() || q.writes.is_empty(),
        };
        if runnable {
            q.blocked.pop_front()
        } else {
            None
        }
    }

    /// A txn of `session` with `cxid` is on its way to the log: `waiter` waits for it.
    pub fn wait_for_txn(&mut self, session: i64, cxid: i32, waiter: Waiter) {
        self.queues
            .entry(session)
            .or_default()
            .writes
            .push_back((cxid, waiter));
    }

    /// The local request a committed txn of (`session`, `cxid`) answers: the head of the
    /// session's waiting writes when its cxid and kind match (ZooKeeper's CommitProcessor);
    /// `None` for a txn no local request waits for.
    pub fn take_waiter(&mut self, session: i64, cxid: i32, kind: TxnKind) -> Option<Waiter> {
        let q = self.queues.get_mut(&session)?;
        match q.writes.front() {
            Some((c, w)) if *c == cxid && kind.matches(w) => q.writes.pop_front().map(|(_, w)| w),
            _ => None,
        }
    }

    /// Forgets what `session` has waiting or queued (none of it will be answered).
    pub fn drop_queue(&mut self, session: i64) {
        self.queues.remove(&session);
    }

    /// Forgets every session's waiting and queued requests (the server's role changed: its
    /// connections are being closed and none of them will be answered).
    pub fn clear_queues(&mut self) {
        self.queues.clear();
    }

    /// The sessions with requests or writes queued.
    pub fn queued_sessions(&self) -> Vec<i64> {
        self.queues.keys().copied().collect()
    }

    /// Every waiting write, in order (the log failed: none will be answered).
    pub fn take_all_waiters(&mut self) -> Vec<Waiter> {
        let mut all = Vec::new();
        for q in self.queues.values_mut() {
            all.extend(q.writes.drain(..).map(|(_, w)| w));
        }
        all
    }
}
