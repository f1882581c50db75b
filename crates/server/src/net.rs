//! The tokio side: the listeners (the client port, and the secure client port with a TLS
//! handshake first) and one task per connection (its reader and its batching writer). The
//! core lives in the owner loop (crate::owner); connections talk to it by messages.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use corral_jute::frame::decode_frame;
use corral_jute::records::Id;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::config::ServerConfig;
use crate::core::conns::Transport;
use crate::core::{needs_nonce, Core, Input, Nonce};
use crate::durability::Durability;
use crate::io_metrics::NetCounters;
use crate::outbox::{Outbox, Take, READ_LIMIT};
use crate::owner::{os_random, random_below, Clock, Owner, OwnerSettings, ToCore};
use crate::{fourlw, ServerError};

/// How long a TLS client may take over its handshake before the connection is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Messages the owner may have queued from connections before their senders wait.
const INBOX: usize = 4096;

/// The secure client port: its listener and what its handshakes need.
struct SecurePort {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    /// `X509AuthenticationProvider.superUser`.
    super_user: Option<String>,
}

/// What a connection task needs.
#[derive(Clone)]
struct ConnSettings {
    to_core: mpsc::Sender<ToCore>,
    config: Arc<ServerConfig>,
    counters: Arc<NetCounters>,
}

/// What owns the core: a standalone server's owner loop, or an ensemble member's.
enum Engine {
    Standalone {
        owner: Box<Owner>,
        events: mpsc::UnboundedReceiver<Input>,
    },
    Member(Box<crate::member::Member>),
}

impl Engine {
    async fn run(self, inbox: mpsc::Receiver<ToCore>) -> Result<(), ServerError> {
        match self {
            Engine::Standalone { owner, events } => {
                owner.run(inbox, events).await;
                Ok(())
            }
            Engine::Member(member) => member.run(inbox).await,
        }
    }
}

/// A Corral server (standalone, or a member of an ensemble) bound to its client port (and secure client port, if set).
pub struct Server {
    listener: TcpListener,
    admin: Option<TcpListener>,
    secure: Option<Arc<SecurePort>>,
    config: Arc<ServerConfig>,
    engine: Engine,
    durability_purge: Option<(Duration, Arc<crate::durability::Purger>)>,
    /// Prometheus's `/metrics` listener (`metricsProvider.*`), when configured.
    metrics: Option<TcpListener>,
}

impl Server {
    /// Creates the data directory, recovers what it holds (newest snapshot, then the log) and
    /// binds the client port.
    pub async fn bind(config: ServerConfig) -> Result<Server, ServerError> {
        Server::bind_with_disk(config, None).await
    }

    /// As [`Server::bind`], with the disk the storage goes through (fault injection in tests:
    /// `corral_storage::FaultyDisk`).
    pub async fn bind_with_disk(
        config: ServerConfig,
        disk: Option<Arc<dyn corral_storage::Disk>>,
    ) -> Result<Server, ServerError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| ServerError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        let addr = config.client_addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let admin = if config.admin.enabled {
            Some(crate::admin::bind(&config.admin).await?)
        } else {
            None
        };
        let secure = match (config.secure_client_addr, &config.tls) {
            (Some(addr), Some(settings)) => {
                let tls = corral_tls::ServerTls::new(settings)?;
                let listener = TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServerError::Bind { addr, source })?;
                Some(Arc::new(SecurePort {
                    listener,
                    acceptor: TlsAcceptor::from(tls.server_config()),
                    super_user: config.x509_super_user.clone(),
                }))
            }
            _ => None,
        };
        let metrics = match config.prometheus {
            Some(p) => {
                Some(
                    TcpListener::bind(p.addr)
                        .await
                        .map_err(|source| ServerError::Bind {
                            addr: p.addr,
                            source,
                        })?,
                )
            }
            None => None,
        };
        let clock = Clock::new();
        let policy = corral_storage::SnapPolicy {
            snap_count: config.snap_count,
            ..corral_storage::SnapPolicy::default()
        };
        // An ensemble member's snapshots are the ZAB runtime's: it uses no roll.
        let settings = OwnerSettings {
            tick: Duration::from_millis(u64::from(config.tick_time_ms.clamp(20, 2000) / 4)),
            container_check: Duration::from_millis(u64::from(config.container_check_interval_ms)),
            snap_roll_bound: policy.roll_bound(),
        };
        if config.ensemble.is_some() {
            let core = Core::new(config.clone(), clock.now())?;
            let member = crate::member::Member::start(&config, core, clock, settings).await?;
            return Ok(Server {
                listener,
                admin,
                secure,
                config: Arc::new(config),
                engine: Engine::Member(Box::new(member)),
                durability_purge: None,
                metrics,
            });
        }
        let (events_tx, events) = mpsc::unbounded_channel();
        let durable_tx = events_tx.clone();
        let synced_tx = events_tx.clone();
        let on_durable = move |report: crate::durability::DurableReport| {
            let input = match report {
                Ok(zxid) => Input::Durable(zxid),
                Err(e) => Input::LogFailed(e.to_string()),
            };
            // Fails only once the owner has stopped.
            let _ = durable_tx.send(input);
        };
        let on_sync = move |s: corral_storage::SyncStats| {
            let _ = synced_tx.send(log_synced(&s));
        };
        let (state, durability) = Durability::open_observed(&config, disk, on_durable, on_sync)?;
        let purge_every = (config.purge_interval_hours > 0)
            .then(|| Duration::from_secs(u64::from(config.purge_interval_hours) * 3600));
        let mut core = Core::restore(
            config.clone(),
            state.tree,
            state.sessions,
            clock.now(),
            random_below(settings.snap_roll_bound),
        )?;
        core.record_startup(&state.times);
        let durability_purge = purge_every.map(|every| (every, durability.purger()));
        Ok(Server {
            listener,
            admin,
            secure,
            config: Arc::new(config),
            engine: Engine::Standalone {
                owner: Box::new(Owner::new(core, clock, durability, events_tx, settings)),
                events,
            },
            durability_purge,
            metrics,
        })
    }

    /// The address the client port is bound to.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The address the AdminServer is bound to, when it is enabled.
    pub fn admin_local_addr(&self) -> Option<std::io::Result<SocketAddr>> {
        self.admin.as_ref().map(TcpListener::local_addr)
    }

    /// The address Prometheus's `/metrics` is served on, when configured.
    pub fn metrics_local_addr(&self) -> Option<std::io::Result<SocketAddr>> {
        self.metrics.as_ref().map(TcpListener::local_addr)
    }

    /// The address the secure (TLS) client port is bound to, when one is configured.
    pub fn secure_local_addr(&self) -> Option<std::io::Result<SocketAddr>> {
        self.secure.as_ref().map(|s| s.listener.local_addr())
    }

    /// Serves clients until `shutdown` completes, then stops: every connection task ends,
    /// the owner loop ends, the log writer syncs what was queued and stops. When this returns
    /// nothing of the server runs any more, so another can start on the same data directory.
    ///
    /// An error says the owner loop ended by itself (it panicked): the server then stops
    /// serving at once rather than accept connections it cannot answer.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        let (to_core, inbox) = mpsc::channel(INBOX);
        let mut owner = tokio::spawn(self.engine.run(inbox));
        let mut owner_ended = None;
        let mut tasks = JoinSet::new();
        // autopurge: its own task, stopped (not aborted) at shutdown, so that a purge
        // deleting files on a blocking thread has finished when this returns.
        let (stop_purge, mut purge_stopped) = oneshot::channel::<()>();
        let purge = self.durability_purge.map(|(every, purger)| {
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(every);
                loop {
                    tokio::select! {
                        _ = interval.tick() => {
                            let p = Arc::clone(&purger);
                            let _ = tokio::task::spawn_blocking(move || p.purge()).await;
                        }
                        _ = &mut purge_stopped => break,
                    }
                }
            })
        });
        let counters = Arc::new(NetCounters::default());
        if let Some(listener) = self.admin {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(
                    "{}",
                    crate::admin::describe(addr, &self.config.admin.command_url)
                );
            }
            tasks.spawn(crate::admin::serve(
                listener,
                Arc::clone(&self.config),
                to_core.clone(),
                Arc::clone(&counters),
            ));
        }
        if let Some(listener) = self.metrics {
            tasks.spawn(crate::metrics_http::serve(
                listener,
                to_core.clone(),
                Arc::clone(&counters),
            ));
        }
        let conn = ConnSettings {
            to_core: to_core.clone(),
            config: Arc::clone(&self.config),
            counters,
        };
        tokio::pin!(shutdown);
        loop {
            while tasks.try_join_next().is_some() {}
            tokio::select! {
                _ = &mut shutdown => break,
                ended = &mut owner => {
                    let why = match ended {
                        Err(e) if e.is_panic() => "it panicked".to_string(),
                        Err(e) => e.to_string(),
                        Ok(Err(e)) => e.to_string(),
                        Ok(Ok(())) => "it returned".to_string(),
                    };
                    tracing::error!("the server's core loop stopped ({why}): shutting down");
                    owner_ended = Some(why);
                    break;
                }
                accepted = self.listener.accept() => match accepted {
                    Ok((socket, remote)) => {
                        conn.counters.plain_connection(remote);
                        let conn = conn.clone();
                        tasks.spawn(async move {
                            let _ = socket.set_nodelay(true);
                            let (rd, wr) = socket.into_split();
                            serve_connection(conn, rd, wr, remote, Transport::plain()).await;
                        });
                    }
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                accepted = accept_secure(self.secure.as_deref()) => match accepted {
                    Ok((socket, remote)) => {
                        let conn = conn.clone();
                        if let Some(secure) = self.secure.clone() {
                            tasks.spawn(serve_tls(secure, conn, socket, remote));
                        }
                    }
                    Err(e) => {
                        tracing::warn!("accept on the secure client port failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }
        drop(self.listener);
        tasks.shutdown().await;
        let _ = stop_purge.send(());
        if let Some(purge) = purge {
            let _ = purge.await;
        }
        let _ = to_core.send(ToCore::Stop).await;
        drop(conn);
        drop(to_core);
        match owner_ended {
            Some(why) => Err(ServerError::CoreStopped(why)),
            None => {
                let _ = owner.await;
                Ok(())
            }
        }
    }
}

/// The next connection on the secure client port; never resolves when there is none.
async fn accept_secure(secure: Option<&SecurePort>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match secure {
        Some(s) => s.listener.accept().await,
        None => std::future::pending().await,
    }
}

/// A secure client port connection: the TLS handshake (bounded in time), the `x509` id of
/// the client's certificate (and `super` when it is the configured super user, as
/// ZooKeeper's X509AuthenticationProvider adds it), then the same protocol as in clear.
async fn serve_tls(
    secure: Arc<SecurePort>,
    conn: ConnSettings,
    socket: TcpStream,
    remote: SocketAddr,
) {
    let _ = socket.set_nodelay(true);
    let handshake = conn.counters.handshake();
    let accepted =
        tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, secure.acceptor.accept(socket)).await;
    drop(handshake);
    let stream = match accepted {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            conn.counters.handshake_failed();
            tracing::warn!("TLS handshake with {remote} failed: {e}");
            return;
        }
        Err(_) => {
            conn.counters.handshake_failed();
            tracing::warn!("TLS handshake with {remote} timed out");
            return;
        }
    };
    let mut ids = Vec::new();
    if let Some(subject) = corral_tls::peer_x509_id(stream.get_ref().1) {
        if secure.super_user.as_deref() == Some(subject.as_str()) {
            ids.push(Id {
                scheme: "super".into(),
                id: subject.clone(),
            });
        }
        tracing::info!("Authenticated Id '{subject}' for Scheme 'x509' ({remote})");
        ids.push(Id {
            scheme: "x509".into(),
            id: subject,
        });
    }
    let (rd, wr) = tokio::io::split(stream);
    let transport = Transport {
        secure: true,
        tls_ids: ids,
    };
    serve_connection(conn, rd, wr, remote, transport).await;
}

/// One client connection, in clear or over TLS (`transport`: which, and the ids a client
/// certificate authenticated). The reader hands every complete frame to the owner, the writer writes what
/// the owner queued (many frames per syscall); both run in this task.
async fn serve_connection<R, W>(
    settings: ConnSettings,
    mut rd: R,
    mut wr: W,
    remote: SocketAddr,
    transport: Transport,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let to_core = settings.to_core;
    let mut buf = BytesMut::with_capacity(4096);
    // The first four bytes say whether this is a four-letter word or a framed session. A
    // client that sends none is dropped as the core drops one without a session.
    if !read_sessionless(&mut rd, &mut buf, 4, &settings.counters).await {
        return;
    }
    if let Some(word) = fourlw::detect(&buf[..4]) {
        let mut io = fourlw::measure(word, &settings.config, &settings.counters);
        if word == "stmk" {
            // The new trace mask: 8 bytes (big-endian) after the word. Without them the
            // connection closes unanswered, as ZooKeeper's read fails.
            if !read_sessionless(&mut rd, &mut buf, 12, &settings.counters).await {
                return;
            }
            let mut mask = [0u8; 8];
            mask.copy_from_slice(&buf[4..12]);
            io.trace_mask = i64::from_be_bytes(mask);
        }
        let (reply, answer) = oneshot::channel();
        let asked = ToCore::FourLetter {
            word,
            remote,
            io,
            reply,
        };
        if to_core.send(asked).await.is_ok() {
            if let Ok(text) = answer.await {
                let _ = wr.write_all(text.as_bytes()).await;
            }
        }
        let _ = wr.shutdown().await;
        return;
    }
    let (reply, answer) = oneshot::channel();
    let open = ToCore::Open {
        remote,
        transport,
        reply,
    };
    if to_core.send(open).await.is_err() {
        return;
    }
    let Ok(Some((conn, outbox))) = answer.await else {
        return;
    };
    let max_buffer = settings.config.max_buffer;
    let (closed_tx, mut closed_rx) = oneshot::channel::<()>();
    let reader = async {
        'read: loop {
            // Frames the owner handed back come first: they were read before the buffer's.
            let mut frames = outbox.take_returned();
            let mut failed = false;
            loop {
                match decode_frame(&mut buf, max_buffer) {
                    Ok(Some(frame)) => {
                        // No nonce (the OS had no randomness): the core fails the exchange.
                        let nonce = if needs_nonce(&frame) {
                            let mut nonce: Nonce = Default::default();
                            os_random(&mut nonce).then_some(nonce)
                        } else {
                            None
                        };
                        frames.push((frame, nonce));
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!("closing connection from {remote}: {e}");
                        failed = true;
                        break;
                    }
                }
            }
            if !frames.is_empty() {
                outbox.batch_sent();
                if to_core.send(ToCore::Frames { conn, frames }).await.is_err() {
                    break 'read;
                }
            }
            if failed {
                break;
            }
            // Go on once the owner handled these frames, the server is not throttling this
            // connection and it is not owed too much (crate::outbox).
            tokio::select! {
                _ = outbox.readable() => {}
                _ = &mut closed_rx => break,
            }
            if outbox.has_returned() {
                continue;
            }
            let mut limited = (&mut rd).take(READ_LIMIT as u64);
            tokio::select! {
                read = limited.read_buf(&mut buf) => match read {
                    Ok(0) => {
                        if !buf.is_empty() {
                            tracing::warn!("connection from {remote} closed in the middle of a packet");
                        }
                        break;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!("read from {remote} failed: {e}");
                        break;
                    }
                },
                _ = &mut closed_rx => break,
            }
        }
        // The owner then forgets the outbox, which ends the writer once it has flushed.
        let _ = to_core.send(ToCore::Closed { conn }).await;
    };
    tokio::join!(reader, write_loop(&mut wr, &outbox, closed_tx));
}

/// How long a connection being closed may take to flush what it was sent (ZooKeeper closes
/// the socket at once; a little time lets a reading client get its last replies).
const CLOSE_FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// Bytes the writer gathers for one write at most.
const WRITE_BATCH: usize = 256 * 1024;

/// The writer's buffer is given back past this size once written, so an idle connection
/// does not keep the largest batch it ever wrote.
const WRITE_BUFFER_KEPT: usize = 64 * 1024;

async fn write_loop<W: AsyncWrite + Unpin>(
    wr: &mut W,
    outbox: &Outbox,
    closed: oneshot::Sender<()>,
) {
    let mut out = BytesMut::new();
    // Batch whatever is queued into one write.
    while let Some(Take::Write) = outbox.take(&mut out, WRITE_BATCH).await {
        // A client that stopped reading must not keep a closed connection (and what it is
        // owed) forever: once it is to be closed, its last flush gets a limited time.
        let cut = async {
            outbox.closing().await;
            tokio::time::sleep(CLOSE_FLUSH_LIMIT).await;
        };
        tokio::select! {
            written = wr.write_all(&out) => if written.is_err() {
                break;
            },
            _ = cut => {
                tracing::debug!("connection closed with {} bytes unwritten", out.len());
                break;
            }
        }
        outbox.written(out.len());
        if out.capacity() > WRITE_BUFFER_KEPT {
            out = BytesMut::new();
        } else {
            out.clear();
        }
    }
    let _ = wr.shutdown().await;
    let _ = closed.send(());
}

/// Reads until `buf` holds `len` bytes, within the sessionless timeout; false if the
/// connection ended or the time ran out (counted, as the core counts a connection it
/// expires without a session: ZooKeeper's sessionless_connections_expired).
async fn read_sessionless<R: AsyncRead + Unpin>(
    rd: &mut R,
    buf: &mut BytesMut,
    len: usize,
    counters: &NetCounters,
) -> bool {
    let read = async {
        while buf.len() < len {
            match rd.read_buf(buf).await {
                Ok(0) | Err(_) => return false,
                Ok(_) => {}
            }
        }
        true
    };
    let sessionless = Duration::from_millis(crate::core::SESSIONLESS_TIMEOUT_MS);
    match tokio::time::timeout(sessionless, read).await {
        Ok(read) => read,
        Err(_) => {
            counters.sessionless_expired();
            false
        }
    }
}

/// The core's input for one fsync of the log writer (standalone) or the quorum writer (an
/// ensemble member): the metrics' fsynctime and sync_processor_* values.
pub(crate) fn log_synced(s: &corral_storage::SyncStats) -> Input {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    Input::LogSynced {
        txns: s.txns,
        fsync_ms: ms(s.fsync),
        waits: s
            .waits
            .iter()
            .map(|w| (w.queue_len as u64, ms(w.queued), ms(w.flushed)))
            .collect(),
    }
}
