//! The connection task: one tokio task per client owns the socket, the xid -> reply map, the
//! watch registry and the session (id, password, last zxid). It connects to the servers of
//! the connect string in turn, pings at a third of the negotiated timeout, reconnects with the
//! same session after a loss (re-sending `addauth` credentials and re-registering watches with
//! `setWatches2`), and reports every state change.
//!
//! As in ZooKeeper's `ClientCnxn`: a connection is declared dead when nothing was received for
//! two thirds of the session timeout; a connection attempt gets the session timeout divided by
//! the number of hosts; requests sent but unanswered when a connection dies fail with
//! `ConnectionLoss`; requests made while disconnected wait for the next attempt and fail with
//! `ConnectionLoss` if it fails; only the server decides that a session expired.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use corral_jute::codes::{xid, ErrorCode, EventType, KeeperState, OpCode, WatcherType};
use corral_jute::frame::{decode_frame, encode_frame};
use corral_jute::io::{Jute, Reader, Secret};
use corral_jute::records::{
    AuthPacket, ConnectRequest, ConnectResponse, ReplyHeader, RequestHeader, WatcherEvent,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{sleep, timeout, Instant};

use crate::connect_string::{to_client, to_server};
use crate::error::{Error, Result};
use crate::types::{SessionState, WatchedEvent};
use crate::watches::{WatchReg, WatchRegistry};

/// Largest frame the client accepts from a server.
pub(crate) const MAX_FRAME: usize = 4 * 1024 * 1024;

/// A request handed to the connection task.
pub(crate) struct Req {
    pub op: OpCode,
    pub body: Bytes,
    pub watch: Option<WatchReg>,
    pub remove: Option<(String, WatcherType)>,
    pub reply: oneshot::Sender<Result<Reply>>,
}

/// A raw reply: the header's zxid and error, and the undecoded body.
#[derive(Debug)]
pub(crate) struct Reply {
    pub err: i32,
    pub body: Bytes,
}

pub(crate) enum Command {
    Request(Req),
    Auth {
        scheme: String,
        auth: Bytes,
        reply: oneshot::Sender<Result<()>>,
    },
    Close {
        reply: oneshot::Sender<Result<()>>,
    },
}

impl Command {
    fn fail(self, err: Error) {
        match self {
            Command::Request(r) => {
                let _ = r.reply.send(Err(err));
            }
            Command::Auth { reply, .. } | Command::Close { reply } => {
                let _ = reply.send(Err(err));
            }
        }
    }
}

/// The session as the handles see it.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionInfo {
    pub id: i64,
    pub passwd: Bytes,
    pub timeout_ms: i32,
}

/// State shared between the task and the handles.
pub(crate) struct Shared {
    pub state: watch::Sender<SessionState>,
    pub events: broadcast::Sender<SessionState>,
    pub session: Mutex<SessionInfo>,
}

impl Shared {
    pub(crate) fn new() -> Shared {
        Shared {
            state: watch::channel(SessionState::Connecting).0,
            events: broadcast::channel(256).0,
            session: Mutex::new(SessionInfo::default()),
        }
    }

    fn set_state(&self, s: SessionState) {
        let old = self.state.send_replace(s);
        if old != s {
            tracing::debug!(?old, new = ?s, "session state");
            let _ = self.events.send(s);
        }
    }

    pub(crate) fn session(&self) -> SessionInfo {
        match self.session.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set_session(&self, info: SessionInfo) {
        match self.session.lock() {
            Ok(mut g) => *g = info,
            Err(p) => *p.into_inner() = info,
        }
    }
}

/// What the task needs to know from the builder.
pub(crate) struct Config {
    pub hosts: Vec<(String, u16)>,
    pub chroot: Option<String>,
    pub session_timeout_ms: i32,
    pub session: Option<(i64, Bytes)>,
    pub connect_deadline: Duration,
}

struct Pending {
    op: OpCode,
    watch: Option<WatchReg>,
    remove: Option<(String, WatcherType)>,
    reply: oneshot::Sender<Result<Reply>>,
}

/// Why a connection ended.
enum Exit {
    Lost(String),
    Terminal(SessionState),
}

pub(crate) struct Task {
    cfg: Config,
    rx: mpsc::UnboundedReceiver<Command>,
    shared: Arc<Shared>,
    session_id: i64,
    passwd: Bytes,
    negotiated_ms: i32,
    last_zxid: i64,
    next_xid: i32,
    host_idx: usize,
    watches: WatchRegistry,
    auths: Vec<(String, Bytes)>,
    auth_waiters: VecDeque<oneshot::Sender<Result<()>>>,
    pending: HashMap<i32, Pending>,
    held: Vec<Command>,
    closing: Option<oneshot::Sender<Result<()>>>,
}

impl Task {
    pub(crate) fn new(
        cfg: Config,
        rx: mpsc::UnboundedReceiver<Command>,
        shared: Arc<Shared>,
    ) -> Task {
        let (session_id, passwd) = cfg.session.clone().unwrap_or((0, Bytes::from(vec![0; 16])));
        let host_idx = start_index(cfg.hosts.len());
        Task {
            negotiated_ms: cfg.session_timeout_ms,
            cfg,
            rx,
            shared,
            session_id,
            passwd,
            last_zxid: 0,
            next_xid: 1,
            host_idx,
            watches: WatchRegistry::default(),
            auths: Vec::new(),
            auth_waiters: VecDeque::new(),
            pending: HashMap::new(),
            held: Vec::new(),
            closing: None,
        }
    }

    /// Runs until the session ends. `first` learns whether the first connection succeeded
    /// within the connect deadline.
    pub(crate) async fn run(mut self, first: oneshot::Sender<Result<()>>) {
        let mut first = Some(first);
        let started = Instant::now();
        let mut failures = 0usize;
        let end = loop {
            let host = self.cfg.hosts[self.host_idx % self.cfg.hosts.len()].clone();
            self.host_idx = self.host_idx.wrapping_add(1);
            let per_host = Duration::from_millis(
                (self.negotiated_ms.max(1) as u64 / self.cfg.hosts.len() as u64).max(100),
            );
            let attempt = handshake(
                host.clone(),
                ConnectRequest {
                    protocol_version: 0,
                    last_zxid_seen: self.last_zxid,
                    timeout: self.cfg.session_timeout_ms,
                    session_id: self.session_id,
                    passwd: Secret(self.passwd.clone()),
                    read_only: Some(false),
                },
                per_host,
            );
            let result = match self.hold_while(attempt).await {
                Some(r) => r,
                None => break self.quit_without_connection(),
            };
            match result {
                Ok((stream, resp, leftover)) if resp.timeout > 0 => {
                    failures = 0;
                    self.session_id = resp.session_id;
                    self.passwd = resp.passwd.0.clone();
                    self.negotiated_ms = resp.timeout;
                    self.shared.set_session(SessionInfo {
                        id: resp.session_id,
                        passwd: resp.passwd.0,
                        timeout_ms: resp.timeout,
                    });
                    tracing::debug!(
                        host = %host.0, port = host.1,
                        session = format_args!("{:#x}", resp.session_id),
                        timeout_ms = resp.timeout, "connected"
                    );
                    self.shared.set_state(SessionState::SyncConnected);
                    if let Some(f) = first.take() {
                        let _ = f.send(Ok(()));
                    }
                    match self.serve(stream, leftover).await {
                        Exit::Terminal(s) => break s,
                        Exit::Lost(why) => {
                            tracing::debug!(%why, "connection lost");
                            self.lose_connection();
                            self.shared.set_state(SessionState::Disconnected);
                        }
                    }
                }
                Ok(_) => {
                    tracing::debug!(
                        session = format_args!("{:#x}", self.session_id),
                        "session expired"
                    );
                    break SessionState::Expired;
                }
                Err(why) => {
                    tracing::debug!(host = %host.0, port = host.1, %why, "connect failed");
                    failures += 1;
                    for cmd in self.held.drain(..) {
                        cmd.fail(Error::ConnectionLoss);
                    }
                    if first.is_some() && started.elapsed() >= self.cfg.connect_deadline {
                        break SessionState::Closed;
                    }
                    if failures >= self.cfg.hosts.len() {
                        failures = 0;
                        let pause = Duration::from_millis(50 + jitter(200));
                        if self.hold_while(sleep(pause)).await.is_none() {
                            break self.quit_without_connection();
                        }
                    }
                }
            }
        };
        self.finish(end, first);
    }

    /// Awaits `fut` while holding the commands that arrive meanwhile. `None` when every handle
    /// is gone or a close was asked for (the caller ends the task).
    async fn hold_while<F: std::future::Future>(&mut self, fut: F) -> Option<F::Output> {
        tokio::pin!(fut);
        loop {
            tokio::select! {
                out = &mut fut => return Some(out),
                cmd = self.rx.recv() => match cmd {
                    Some(Command::Close { reply }) => {
                        self.closing = Some(reply);
                        return None;
                    }
                    Some(cmd) => self.held.push(cmd),
                    None => return None,
                }
            }
        }
    }

    fn quit_without_connection(&mut self) -> SessionState {
        if let Some(reply) = self.closing.take() {
            let _ = reply.send(Ok(()));
        }
        SessionState::Closed
    }

    /// The terminal step: fail everything outstanding with the state's error and publish it.
    fn finish(mut self, end: SessionState, first: Option<oneshot::Sender<Result<()>>>) {
        let err = end.terminal_error();
        if let Some(f) = first {
            let _ = f.send(Err(match end {
                SessionState::Closed => Error::ConnectionLoss,
                _ => err.clone(),
            }));
        }
        for (_, p) in self.pending.drain() {
            let _ = p.reply.send(Err(err.clone()));
        }
        for w in self.auth_waiters.drain(..) {
            let _ = w.send(Err(err.clone()));
        }
        for cmd in self.held.drain(..) {
            cmd.fail(err.clone());
        }
        if let Some(reply) = self.closing.take() {
            let _ = reply.send(Ok(()));
        }
        self.watches.fail_all(&err);
        self.shared.set_state(end);
        self.rx.close();
        while let Ok(cmd) = self.rx.try_recv() {
            cmd.fail(err.clone());
        }
    }

    /// Fails what was in flight on a dead connection.
    fn lose_connection(&mut self) {
        for (_, p) in self.pending.drain() {
            let _ = p.reply.send(Err(Error::ConnectionLoss));
        }
        for w in self.auth_waiters.drain(..) {
            let _ = w.send(Err(Error::ConnectionLoss));
        }
    }

    fn take_xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid = if x >= i32::MAX - 1 { 1 } else { x + 1 };
        x
    }

    /// Serves one established connection until it dies or the session ends.
    async fn serve(&mut self, stream: TcpStream, leftover: BytesMut) -> Exit {
        let _ = stream.set_nodelay(true);
        let (rd, mut wr) = stream.into_split();
        let (ftx, mut frx) = mpsc::unbounded_channel();
        let reader = AbortOnDrop(tokio::spawn(read_frames(rd, leftover, ftx)));
        let mut out = BytesMut::with_capacity(64 * 1024);

        // Prime the connection as ClientCnxn.primeConnection does: watches, then credentials,
        // then whatever was asked for meanwhile.
        if !self.watches.is_empty() {
            let chroot = self.cfg.chroot.clone();
            for sw in self
                .watches
                .set_watches(self.last_zxid, |p| to_server(chroot.as_deref(), p))
            {
                write_request(
                    &mut out,
                    xid::SET_WATCHES,
                    OpCode::SetWatches2,
                    &sw.to_bytes(),
                );
            }
        }
        for (scheme, auth) in &self.auths {
            let packet = AuthPacket {
                auth_type: 0,
                scheme: scheme.clone(),
                auth: Secret(auth.clone()),
            };
            write_request(&mut out, xid::AUTH, OpCode::Auth, &packet.to_bytes());
        }
        for cmd in std::mem::take(&mut self.held) {
            self.enqueue(cmd, &mut out);
        }

        let read_timeout = Duration::from_millis(self.negotiated_ms.max(3) as u64 * 2 / 3);
        let ping_every = read_timeout / 2;
        let mut last_send = Instant::now();
        let mut last_recv = Instant::now();
        let exit = loop {
            if !out.is_empty() {
                if let Err(e) = wr.write_all(&out).await {
                    break Exit::Lost(format!("write: {e}"));
                }
                out.clear();
                last_send = Instant::now();
            }
            let deadline = (last_send + ping_every).min(last_recv + read_timeout);
            tokio::select! {
                biased;
                frame = frx.recv() => match frame {
                    Some(Ok(frame)) => {
                        last_recv = Instant::now();
                        if let Some(exit) = self.handle_frame(frame) {
                            break exit;
                        }
                    }
                    Some(Err(why)) => break Exit::Lost(why),
                    None => break Exit::Lost("reader ended".into()),
                },
                cmd = self.rx.recv(), if self.closing.is_none() => match cmd {
                    Some(cmd) => {
                        self.enqueue(cmd, &mut out);
                        let mut n = 0;
                        while n < 4096 {
                            match self.rx.try_recv() {
                                Ok(cmd) => self.enqueue(cmd, &mut out),
                                Err(_) => break,
                            }
                            n += 1;
                        }
                    }
                    None => {
                        // Every handle is gone: close the session like close() would.
                        let (tx, _rx) = oneshot::channel();
                        self.enqueue(Command::Close { reply: tx }, &mut out);
                    }
                },
                _ = tokio::time::sleep_until(deadline) => {
                    let now = Instant::now();
                    if now >= last_recv + read_timeout {
                        break Exit::Lost(format!(
                            "nothing received for {} ms", read_timeout.as_millis()
                        ));
                    }
                    write_request(&mut out, xid::PING, OpCode::Ping, &[]);
                }
            }
        };
        drop(reader);
        if self.closing.is_some() {
            // The connection died while closing: the session is closed as far as we care.
            return Exit::Terminal(SessionState::Closed);
        }
        exit
    }

    /// Assigns an xid, remembers the request and appends its frame.
    fn enqueue(&mut self, cmd: Command, out: &mut BytesMut) {
        if self.closing.is_some() {
            cmd.fail(Error::Closed);
            return;
        }
        match cmd {
            Command::Request(req) => {
                let xid = self.take_xid();
                write_request(out, xid, req.op, &req.body);
                self.pending.insert(
                    xid,
                    Pending {
                        op: req.op,
                        watch: req.watch,
                        remove: req.remove,
                        reply: req.reply,
                    },
                );
            }
            Command::Auth {
                scheme,
                auth,
                reply,
            } => {
                let packet = AuthPacket {
                    auth_type: 0,
                    scheme: scheme.clone(),
                    auth: Secret(auth.clone()),
                };
                write_request(out, xid::AUTH, OpCode::Auth, &packet.to_bytes());
                self.auths.push((scheme, auth));
                self.auth_waiters.push_back(reply);
            }
            Command::Close { reply } => {
                let xid = self.take_xid();
                write_request(out, xid, OpCode::CloseSession, &[]);
                let (tx, _rx) = oneshot::channel();
                self.pending.insert(
                    xid,
                    Pending {
                        op: OpCode::CloseSession,
                        watch: None,
                        remove: None,
                        reply: tx,
                    },
                );
                self.closing = Some(reply);
            }
        }
    }

    /// Handles one frame from the server; `Some` ends the connection.
    fn handle_frame(&mut self, frame: Bytes) -> Option<Exit> {
        let mut r = Reader::new(frame);
        let header = match ReplyHeader::read(&mut r) {
            Ok(h) => h,
            Err(e) => return Some(Exit::Lost(format!("bad reply header: {e}"))),
        };
        match header.xid {
            xid::NOTIFICATION => {
                let ev = match WatcherEvent::read(&mut r) {
                    Ok(ev) => ev,
                    Err(e) => return Some(Exit::Lost(format!("bad notification: {e}"))),
                };
                let (Ok(event_type), Ok(state)) = (
                    EventType::from_code(ev.event_type),
                    KeeperState::from_code(ev.state),
                ) else {
                    tracing::warn!(?ev, "notification with unknown type or state ignored");
                    return None;
                };
                if event_type == EventType::None {
                    return None;
                }
                let path = to_client(self.cfg.chroot.as_deref(), &ev.path);
                self.watches.deliver(WatchedEvent {
                    event_type,
                    state,
                    path,
                });
                None
            }
            xid::PING => None,
            xid::AUTH => {
                let waiter = self.auth_waiters.pop_front();
                if header.err == ErrorCode::AuthFailed.code() {
                    if let Some(w) = waiter {
                        let _ = w.send(Err(Error::AuthFailed));
                    }
                    return Some(Exit::Terminal(SessionState::AuthFailed));
                }
                if let Some(w) = waiter {
                    let _ = w.send(if header.err == 0 {
                        Ok(())
                    } else {
                        Err(Error::from_raw(header.err))
                    });
                }
                None
            }
            xid::SET_WATCHES => {
                if header.err != 0 {
                    tracing::warn!(err = header.err, "setWatches2 refused");
                }
                None
            }
            x => {
                if header.zxid > 0 {
                    self.last_zxid = header.zxid;
                }
                let Some(p) = self.pending.remove(&x) else {
                    return Some(Exit::Lost(format!("reply for unknown xid {x}")));
                };
                if let Some(reg) = p.watch {
                    self.watches.register(reg, header.err);
                }
                if let Some((path, kind)) = p.remove {
                    if header.err == 0 {
                        self.watches.remove(&path, kind);
                    }
                }
                let _ = p.reply.send(Ok(Reply {
                    err: header.err,
                    body: r.read_rest(),
                }));
                if p.op == OpCode::CloseSession {
                    return Some(Exit::Terminal(SessionState::Closed));
                }
                None
            }
        }
    }
}

fn write_request(out: &mut BytesMut, xid: i32, op: OpCode, body: &[u8]) {
    encode_frame(out, |o| {
        RequestHeader { xid, op: op.code() }.write(o);
        o.extend_from_slice(body);
    });
}

/// Connects and exchanges ConnectRequest / ConnectResponse, all within `limit`.
async fn handshake(
    (host, port): (String, u16),
    req: ConnectRequest,
    limit: Duration,
) -> Result<(TcpStream, ConnectResponse, BytesMut), String> {
    let work = async {
        let mut stream = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let mut out = BytesMut::new();
        encode_frame(&mut out, |o| req.write(o));
        stream
            .write_all(&out)
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut buf = BytesMut::with_capacity(256);
        loop {
            match decode_frame(&mut buf, MAX_FRAME) {
                Ok(Some(frame)) => {
                    let resp = ConnectResponse::from_bytes(frame)
                        .map_err(|e| format!("bad ConnectResponse: {e}"))?;
                    return Ok((stream, resp, buf));
                }
                Ok(None) => {}
                Err(e) => return Err(format!("bad frame: {e}")),
            }
            match stream.read_buf(&mut buf).await {
                Ok(0) => return Err("closed during handshake".to_string()),
                Ok(_) => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    };
    match timeout(limit, work).await {
        Ok(r) => r,
        Err(_) => Err(format!("no handshake within {} ms", limit.as_millis())),
    }
}

/// Reads frames until the stream ends, forwarding each (or the reason it stopped).
async fn read_frames(
    mut rd: OwnedReadHalf,
    mut buf: BytesMut,
    tx: mpsc::UnboundedSender<std::result::Result<Bytes, String>>,
) {
    loop {
        loop {
            match decode_frame(&mut buf, MAX_FRAME) {
                Ok(Some(frame)) => {
                    if tx.send(Ok(frame)).is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Err(format!("bad frame: {e}")));
                    return;
                }
            }
        }
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) => {
                let _ = tx.send(Err("server closed the connection".into()));
                return;
            }
            Ok(_) => {}
            Err(e) => {
                let _ = tx.send(Err(format!("read: {e}")));
                return;
            }
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A little randomness without a dependency: the clock's nanoseconds, mixed.
fn jitter(bound: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    let mut x = nanos ^ 0x9e37_79b9_7f4a_7c15;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    if bound == 0 {
        0
    } else {
        x % bound
    }
}

/// Where to start in the host list (ZooKeeper's StaticHostProvider shuffles it).
fn start_index(hosts: usize) -> usize {
    jitter(hosts.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn task() -> Task {
        let (_tx, rx) = mpsc::unbounded_channel();
        let cfg = Config {
            hosts: vec![("127.0.0.1".into(), 1)],
            chroot: Some("/app".into()),
            session_timeout_ms: 3000,
            session: None,
            connect_deadline: Duration::from_secs(1),
        };
        Task::new(cfg, rx, Arc::new(Shared::new()))
    }

    proptest! {
        /// Nothing a server sends makes the connection task panic: any frame is handled or
        /// ends the connection.
        #[test]
        fn arbitrary_frames_never_panic(
            frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..8),
            xids in proptest::collection::vec(-10i32..4, 1..8),
        ) {
            let mut t = task();
            for (i, mut f) in frames.into_iter().enumerate() {
                // Give some frames a plausible header so the deeper paths are reached.
                if let Some(x) = xids.get(i) {
                    if f.len() >= 16 {
                        f[..4].copy_from_slice(&x.to_be_bytes());
                    }
                }
                let _ = t.handle_frame(Bytes::from(f));
            }
            let mut buf = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xff, 1, 2][..]);
            prop_assert!(decode_frame(&mut buf, MAX_FRAME).is_err());
        }
    }

    #[test]
    fn reply_for_unknown_xid_ends_the_connection() {
        let mut t = task();
        let mut f = BytesMut::new();
        ReplyHeader {
            xid: 7,
            zxid: 1,
            err: 0,
        }
        .write(&mut f);
        assert!(matches!(t.handle_frame(f.freeze()), Some(Exit::Lost(_))));
    }
}
