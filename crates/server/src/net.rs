//! The tokio side: the listeners (the client port, and the secure client port with a TLS
//! handshake first), one task pair per connection (reader and batching writer), and the
//! session-expiry ticker.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use corral_jute::frame::decode_frame;
use corral_jute::records::Id;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

use crate::config::ServerConfig;
use crate::core::{Core, Now, Outbound};
use crate::{fourlw, ServerError};

/// Reads the clocks the core needs.
#[derive(Debug, Clone, Copy)]
struct Clock {
    start: Instant,
}

impl Clock {
    fn now(&self) -> Now {
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Now {
            mono_ms: self.start.elapsed().as_millis() as u64,
            wall_ms,
        }
    }
}

/// How long a TLS client may take over its handshake before the connection is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The secure client port: its listener and what its handshakes need.
struct SecurePort {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    /// `X509AuthenticationProvider.superUser`.
    super_user: Option<String>,
}

/// A standalone Corral server bound to its client port (and secure client port, if set).
pub struct Server {
    core: Arc<Mutex<Core>>,
    listener: TcpListener,
    secure: Option<Arc<SecurePort>>,
    clock: Clock,
    max_buffer: usize,
    tick: Duration,
    container_check: Duration,
    durability: crate::durability::Durability,
    purge_every: Option<Duration>,
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
        let clock = Clock {
            start: Instant::now(),
        };
        let max_buffer = config.max_buffer;
        let tick = Duration::from_millis(u64::from(config.tick_time_ms.clamp(20, 2000) / 4));
        let container_check = Duration::from_millis(u64::from(config.container_check_interval_ms));
        let purge_every = (config.purge_interval_hours > 0)
            .then(|| Duration::from_secs(u64::from(config.purge_interval_hours) * 3600));
        let (core, durability) =
            crate::durability::open(config, disk, clock.now(), move || clock.now())?;
        Ok(Server {
            core,
            listener,
            secure,
            clock,
            max_buffer,
            tick,
            container_check,
            durability,
            purge_every,
        })
    }

    /// The address the client port is bound to.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The address the secure (TLS) client port is bound to, when one is configured.
    pub fn secure_local_addr(&self) -> Option<std::io::Result<SocketAddr>> {
        self.secure.as_ref().map(|s| s.listener.local_addr())
    }

    /// Serves clients until `shutdown` completes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let ticker = {
            let core = self.core.clone();
            let clock = self.clock;
            let tick = self.tick;
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(tick);
                loop {
                    interval.tick().await;
                    core.lock().expire_sessions(clock.now());
                }
            })
        };
        let reaper = {
            let core = self.core.clone();
            let clock = self.clock;
            let every = self.container_check;
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(every);
                interval.tick().await;
                loop {
                    interval.tick().await;
                    core.lock().reap_containers(clock.now());
                }
            })
        };
        let purger = self.purge_every.map(|every| {
            let durability = Arc::new(self.durability);
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(every);
                loop {
                    interval.tick().await;
                    let d = Arc::clone(&durability);
                    let _ = tokio::task::spawn_blocking(move || d.purge()).await;
                }
            })
        });
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((socket, remote)) => {
                        let core = self.core.clone();
                        let clock = self.clock;
                        let max_buffer = self.max_buffer;
                        tokio::spawn(async move {
                            let _ = socket.set_nodelay(true);
                            let (rd, wr) = socket.into_split();
                            serve_connection(core, clock, rd, wr, remote, max_buffer, Vec::new())
                                .await;
                        });
                    }
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                accepted = accept_secure(self.secure.as_deref()) => match accepted {
                    Ok((socket, remote)) => {
                        let core = self.core.clone();
                        let clock = self.clock;
                        let max_buffer = self.max_buffer;
                        if let Some(secure) = self.secure.clone() {
                            tokio::spawn(async move {
                                serve_tls(secure, core, clock, socket, remote, max_buffer).await;
                            });
                        }
                    }
                    Err(e) => {
                        tracing::warn!("accept on the secure client port failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }
        ticker.abort();
        reaper.abort();
        if let Some(p) = purger {
            p.abort();
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
    core: Arc<Mutex<Core>>,
    clock: Clock,
    socket: TcpStream,
    remote: SocketAddr,
    max_buffer: usize,
) {
    let _ = socket.set_nodelay(true);
    let stream =
        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, secure.acceptor.accept(socket)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::warn!("TLS handshake with {remote} failed: {e}");
                return;
            }
            Err(_) => {
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
    serve_connection(core, clock, rd, wr, remote, max_buffer, ids).await;
}

/// One client connection, in clear or over TLS: `tls_ids` are the ids its certificate
/// authenticated.
async fn serve_connection<R, W>(
    core: Arc<Mutex<Core>>,
    clock: Clock,
    mut rd: R,
    mut wr: W,
    remote: SocketAddr,
    max_buffer: usize,
    tls_ids: Vec<Id>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let mut buf = BytesMut::with_capacity(4096);
    // The first four bytes say whether this is a four-letter word or a framed session.
    while buf.len() < 4 {
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
    if let Some(word) = fourlw::detect(&buf[..4]) {
        let text = core.lock().four_letter_word(word, clock.now(), remote);
        let _ = wr.write_all(text.as_bytes()).await;
        let _ = wr.shutdown().await;
        return;
    }
    let Some((conn, rx)) = core.lock().open_connection(remote, tls_ids) else {
        return;
    };
    let (closed_tx, mut closed_rx) = oneshot::channel::<()>();
    let writer = tokio::spawn(write_loop(wr, rx, closed_tx));
    'read: loop {
        loop {
            match decode_frame(&mut buf, max_buffer) {
                Ok(Some(frame)) => {
                    let result = core.lock().handle_frame(conn, frame, clock.now());
                    if let Err(e) = result {
                        tracing::warn!("closing connection from {remote}: {e}");
                        break 'read;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!("closing connection from {remote}: {e}");
                    break 'read;
                }
            }
        }
        tokio::select! {
            read = rd.read_buf(&mut buf) => match read {
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
    core.lock().close_connection(conn);
    // Dropping the core's sender ends the writer once it has flushed what was queued.
    let _ = writer.await;
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut rx: UnboundedReceiver<Outbound>,
    closed: oneshot::Sender<()>,
) {
    let mut out = BytesMut::with_capacity(16 * 1024);
    let mut closing = false;
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        // Batch whatever is already queued into one write.
        while let Some(item) = next {
            match item {
                Outbound::Frame(frame) => out.extend_from_slice(&frame),
                Outbound::Close => {
                    closing = true;
                    break;
                }
            }
            if out.len() >= 256 * 1024 {
                break;
            }
            next = rx.try_recv().ok();
        }
        if !out.is_empty() {
            if wr.write_all(&out).await.is_err() {
                break;
            }
            out.clear();
        }
        if closing {
            break;
        }
    }
    let _ = wr.shutdown().await;
    let _ = closed.send(());
}
