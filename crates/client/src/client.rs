//! The client handle and its builder.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use corral_jute::codes::{OpCode, WatcherType};
use tokio::sync::{mpsc, oneshot};

use crate::conn::{Command, Config, Reply, Req, Shared, Task};
use crate::connect_string::{to_client, to_server, validate_path, ConnectString};
use crate::error::{Error, Result};
use crate::types::{SessionState, StateStream};
use crate::watches::WatchReg;

/// A ZooKeeper session. Cheap to clone: every clone shares the one session and connection.
///
/// All paths are relative to the connect string's chroot. Requests may be issued from many
/// tasks at once; they are pipelined on the one connection and answered in the order they
/// were sent. When the last clone is dropped the session is closed.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    tx: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
    chroot: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.inner.shared.session();
        f.debug_struct("Client")
            .field("session_id", &format_args!("{:#x}", s.id))
            .field("state", &self.state())
            .field("chroot", &self.inner.chroot)
            .finish()
    }
}

/// Options for [`Client::builder`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    connect_string: String,
    session_timeout: Duration,
    connect_timeout: Option<Duration>,
    session: Option<(i64, Bytes)>,
}

impl ClientBuilder {
    /// The session timeout to ask for (the server clamps it to its
    /// `[minSessionTimeout, maxSessionTimeout]`). Default 30 s.
    pub fn session_timeout(mut self, t: Duration) -> Self {
        self.session_timeout = t;
        self
    }

    /// How long [`ClientBuilder::connect`] tries before failing with `ConnectionLoss`.
    /// Default: the session timeout.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = Some(t);
        self
    }

    /// Resume an existing session (from [`Client::session_id`] and
    /// [`Client::session_password`]) instead of creating one.
    pub fn session(mut self, id: i64, password: Bytes) -> Self {
        self.session = Some((id, password));
        self
    }

    /// Connects, returning once a session is established.
    ///
    /// Fails with [`Error::InvalidArgument`] for a bad connect string, with
    /// [`Error::ConnectionLoss`] if no server answered in time and with
    /// [`Error::SessionExpired`] if the resumed session is gone.
    pub async fn connect(self) -> Result<Client> {
        let cs = ConnectString::parse(&self.connect_string)?;
        let timeout_ms = i32::try_from(self.session_timeout.as_millis())
            .map_err(|_| Error::InvalidArgument("session timeout too large".into()))?;
        let shared = Arc::new(Shared::new());
        let (tx, rx) = mpsc::unbounded_channel();
        let cfg = Config {
            hosts: cs.hosts,
            chroot: cs.chroot.clone(),
            session_timeout_ms: timeout_ms,
            session: self.session,
            connect_deadline: self.connect_timeout.unwrap_or(self.session_timeout),
        };
        let (first_tx, first_rx) = oneshot::channel();
        tokio::spawn(Task::new(cfg, rx, shared.clone()).run(first_tx));
        first_rx.await.map_err(|_| Error::ConnectionLoss)??;
        Ok(Client {
            inner: Arc::new(Inner {
                tx,
                shared,
                chroot: cs.chroot,
            }),
        })
    }
}

impl Client {
    /// Connects to `connect_string` (`host:port[,host:port...][/chroot]`) with the default
    /// options.
    pub async fn connect(connect_string: &str) -> Result<Client> {
        Client::builder(connect_string).connect().await
    }

    /// A builder for the less common options.
    pub fn builder(connect_string: &str) -> ClientBuilder {
        ClientBuilder {
            connect_string: connect_string.to_string(),
            session_timeout: Duration::from_secs(30),
            connect_timeout: None,
            session: None,
        }
    }

    /// The session id (0 before the first connection).
    pub fn session_id(&self) -> i64 {
        self.inner.shared.session().id
    }

    /// The session password, to resume the session from another client.
    pub fn session_password(&self) -> Bytes {
        self.inner.shared.session().passwd
    }

    /// The session timeout the server granted.
    pub fn session_timeout(&self) -> Duration {
        Duration::from_millis(self.inner.shared.session().timeout_ms.max(0) as u64)
    }

    /// The current session state.
    pub fn state(&self) -> SessionState {
        *self.inner.shared.state.borrow()
    }

    /// A stream of the state changes from now on.
    pub fn state_stream(&self) -> StateStream {
        StateStream {
            rx: self.inner.shared.events.subscribe(),
            ended: self.state().is_terminal(),
        }
    }

    /// Waits until the state satisfies `pred` (checked against the current state first).
    pub async fn wait_for_state(&self, pred: impl Fn(SessionState) -> bool) -> SessionState {
        let mut rx = self.inner.shared.state.subscribe();
        loop {
            let s = *rx.borrow_and_update();
            if pred(s) || s.is_terminal() {
                return s;
            }
            if rx.changed().await.is_err() {
                return *rx.borrow();
            }
        }
    }

    /// Closes the session: its ephemerals are deleted and its watches removed. Later calls
    /// fail with [`Error::Closed`].
    pub async fn close(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        if self.inner.tx.send(Command::Close { reply: tx }).is_err() {
            return Ok(());
        }
        let _ = tokio::time::timeout(self.session_timeout().max(Duration::from_secs(1)), rx).await;
        Ok(())
    }

    /// Adds credentials to the session (`addauth scheme auth`); they are sent again after every
    /// reconnect. A refusal makes the session unusable ([`SessionState::AuthFailed`]), as in
    /// ZooKeeper's client.
    pub async fn add_auth(&self, scheme: &str, auth: impl Into<Bytes>) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .tx
            .send(Command::Auth {
                scheme: scheme.to_string(),
                auth: auth.into(),
                reply: tx,
            })
            .map_err(|_| self.terminal_error())?;
        rx.await.map_err(|_| self.terminal_error())?
    }

    pub(crate) fn terminal_error(&self) -> Error {
        self.state().terminal_error()
    }

    pub(crate) fn server_path(&self, path: &str, sequential: bool) -> Result<String> {
        validate_path(path, sequential)?;
        Ok(to_server(self.inner.chroot.as_deref(), path))
    }

    pub(crate) fn client_path(&self, path: &str) -> String {
        to_client(self.inner.chroot.as_deref(), path)
    }

    /// Sends one request and waits for its raw reply; a non-zero error code becomes an error
    /// unless `raw_errors`.
    pub(crate) async fn call(
        &self,
        op: OpCode,
        body: impl FnOnce(&mut BytesMut),
        watch: Option<WatchReg>,
        remove: Option<(String, WatcherType)>,
        raw_errors: bool,
    ) -> Result<Reply> {
        let mut buf = BytesMut::new();
        body(&mut buf);
        let (tx, rx) = oneshot::channel();
        self.inner
            .tx
            .send(Command::Request(Req {
                op,
                body: buf.freeze(),
                watch,
                remove,
                reply: tx,
            }))
            .map_err(|_| self.terminal_error())?;
        let reply = rx.await.map_err(|_| self.terminal_error())??;
        if reply.err != 0 && !raw_errors {
            return Err(Error::from_raw(reply.err));
        }
        Ok(reply)
    }
}
