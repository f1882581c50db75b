//! The owner's handle ([`Transport`], [`Events`]) and the state the tasks share.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::layer::{PlainTcp, StreamLayer};
use crate::link::Link;
use crate::wire::{PeerMessage, ENVELOPE};
use crate::{accept, dial, Channel, Config, PeerError, PeerId};

/// What the transport tells its owner, in order per peer: `Connected`, its frames in the
/// order the peer sent them, `Disconnected`, then maybe `Connected` again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A link to the peer is up; `send` to it now reaches it.
    Connected(PeerId),
    /// The link broke (or was dropped: overflow, bad message, replaced); frames sent before
    /// may or may not have arrived. The transport reconnects by itself.
    Disconnected(PeerId),
    /// A frame from the peer.
    Frame(PeerId, Channel, Bytes),
}

pub(crate) enum Internal {
    Connected(Arc<Link>),
    Disconnected(PeerId),
    Frame(PeerId, Channel, Bytes),
}

/// A link as [`Transport::link_info`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkInfo {
    /// The other end's socket address (the dialer's own port when it dialed us).
    pub remote: SocketAddr,
    /// Frames in its outbound queue.
    pub queued_frames: usize,
    /// Their payload bytes.
    pub queued_bytes: usize,
}

/// Counters of a transport's life, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Links announced with `Connected`.
    pub links_opened: u64,
    /// Links ended (each announced one ends with `Disconnected`).
    pub links_closed: u64,
    /// Our dials answered "dial back" (we have the lower id).
    pub dial_backs: u64,
    /// Dials from lower ids that asked us to dial them.
    pub nudges: u64,
    /// Incoming connections refused (bad handshake, wrong id or ensemble, malformed).
    pub refused: u64,
    /// Peers dropped because their outbound queue was full.
    pub overflows: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    links_opened: AtomicU64,
    links_closed: AtomicU64,
    dial_backs: AtomicU64,
    nudges: AtomicU64,
    refused: AtomicU64,
    overflows: AtomicU64,
}

impl Counters {
    pub(crate) fn opened(&self) {
        self.links_opened.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn closed(&self) {
        self.links_closed.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn dial_back(&self) {
        self.dial_backs.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn nudge(&self) {
        self.nudges.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }
    fn overflow(&self) {
        self.overflows.fetch_add(1, Ordering::Relaxed);
    }
    fn snapshot(&self) -> Stats {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            links_opened: r(&self.links_opened),
            links_closed: r(&self.links_closed),
            dial_backs: r(&self.dial_backs),
            nudges: r(&self.nudges),
            refused: r(&self.refused),
            overflows: r(&self.overflows),
        }
    }
}

/// Per peer: the newest link, the one the owner was told about, and the order lock.
#[derive(Default)]
pub(crate) struct Slot {
    /// The newest established link (announced or about to be).
    pub current: Option<Arc<Link>>,
    /// The link the owner has read `Connected` of: where `send` goes.
    pub active: Option<Arc<Link>>,
    /// The id of the last link to this peer, dialed or accepted (0: none): what our next
    /// `Hello` to it names as `last_link`.
    pub last_link: u64,
}

pub(crate) type Slots = Mutex<BTreeMap<PeerId, Slot>>;

pub(crate) struct Shared {
    pub cfg: Config,
    pub layer: Arc<dyn StreamLayer>,
    pub slots: Arc<Slots>,
    pub stats: Counters,
    pub cancel: CancellationToken,
    pub tracker: TaskTracker,
    events: mpsc::Sender<Internal>,
    /// Serialises Connected .. Disconnected per peer.
    order: BTreeMap<PeerId, Arc<tokio::sync::Mutex<()>>>,
    /// Wakes a peer's dial loop (a link ended, or a lower id asked to be dialed).
    wake: BTreeMap<PeerId, Notify>,
}

impl Shared {
    pub(crate) fn order(&self, peer: PeerId) -> Arc<tokio::sync::Mutex<()>> {
        self.order.get(&peer).cloned().unwrap_or_default()
    }

    pub(crate) fn wake(&self, peer: PeerId) -> Option<&Notify> {
        self.wake.get(&peer)
    }

    /// Hands an event to the owner, waiting for room; false when the transport is stopping
    /// or the owner has dropped its `Events`.
    pub(crate) async fn emit(&self, event: Internal) -> bool {
        tokio::select! {
            sent = self.events.send(event) => sent.is_ok(),
            _ = self.cancel.cancelled() => false,
        }
    }

    /// Makes `link` the peer's newest link. `named`: for a link accepted from a higher id,
    /// the link its `Hello` named as its last with us; a link we still hold is then replaced
    /// only when named (the dialer saw that very link and believes it broken), and any other
    /// second connection claiming the id (a duplicate, a spoofed id, or a restarted peer
    /// whose old link has not yet been seen to break) is refused, the working link kept: the
    /// dialer retries with backoff and gets through once the old link ends (its socket
    /// closes, or keepalive finds it dead). `None` for a link we dialed: the dial loop dials
    /// only while the peer has no link, so one that appeared meanwhile is replaced.
    pub(crate) fn install(&self, link: &Arc<Link>, named: Option<u64>) -> Result<(), String> {
        let mut slots = self.slots.lock();
        let slot = slots.entry(link.peer).or_default();
        if let Some(old) = slot.current.as_ref() {
            if named.is_some_and(|n| n != old.id) && !old.kill.is_cancelled() {
                return Err(format!(
                    "server {} already has a working link ({:016x}); a second connection \
                     claiming its id is refused until that one ends",
                    link.peer, old.id
                ));
            }
            tracing::info!(
                peer = link.peer,
                "peer {}: link {:016x} replaced by {:016x}",
                link.peer,
                old.id,
                link.id
            );
            old.kill.cancel();
        }
        slot.last_link = link.id;
        slot.current = Some(link.clone());
        Ok(())
    }

    /// Removes `link` from its peer's slot (it ended).
    pub(crate) fn forget(&self, link: &Arc<Link>) {
        let mut slots = self.slots.lock();
        if let Some(slot) = slots.get_mut(&link.peer) {
            if slot.current.as_ref().is_some_and(|l| Arc::ptr_eq(l, link)) {
                slot.current = None;
            }
            if slot.active.as_ref().is_some_and(|l| Arc::ptr_eq(l, link)) {
                slot.active = None;
            }
        }
    }

    /// A link of `peer` ended: its dial loop may act.
    pub(crate) fn link_ended(&self, peer: PeerId) {
        if let Some(w) = self.wake(peer) {
            w.notify_one();
        }
    }

    pub(crate) fn has_link(&self, peer: PeerId) -> bool {
        self.slots
            .lock()
            .get(&peer)
            .is_some_and(|s| s.current.is_some())
    }
}

/// A running transport. Dropping it (or [`Transport::shutdown`]) stops every task it started
/// and closes every connection.
pub struct Transport {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
}

/// The owner's stream of [`Event`]s.
pub struct Events {
    rx: mpsc::Receiver<Internal>,
    slots: Arc<Slots>,
}

impl Events {
    /// The next event; `None` once the transport has stopped.
    pub async fn recv(&mut self) -> Option<Event> {
        let internal = self.rx.recv().await?;
        Some(self.open(internal))
    }

    /// The next event if one is ready.
    pub fn try_recv(&mut self) -> Option<Event> {
        let internal = self.rx.try_recv().ok()?;
        Some(self.open(internal))
    }

    /// Reading `Connected` is what makes `send` use that link: a frame sent before the owner
    /// has seen a link is never put on it (it would belong to the link the owner thinks of).
    fn open(&mut self, internal: Internal) -> Event {
        match internal {
            Internal::Connected(link) => {
                let mut slots = self.slots.lock();
                let slot = slots.entry(link.peer).or_default();
                if slot.current.as_ref().is_some_and(|l| Arc::ptr_eq(l, &link)) {
                    slot.active = Some(link.clone());
                }
                Event::Connected(link.peer)
            }
            Internal::Disconnected(peer) => Event::Disconnected(peer),
            Internal::Frame(peer, channel, bytes) => Event::Frame(peer, channel, bytes),
        }
    }
}

impl Transport {
    /// Binds this server's address from the config and starts, on plain TCP.
    pub async fn start(cfg: Config) -> Result<(Transport, Events), PeerError> {
        cfg.validate()?;
        let addr = cfg.address(cfg.my_id).ok_or(PeerError::Config {
            field: "my_id",
            why: "not in the server list".into(),
        })?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| PeerError::Bind(addr, e))?;
        Transport::start_with(cfg, listener, Arc::new(PlainTcp))
    }

    /// Starts on a listener the caller bound, with a stream layer (e.g. [`crate::RustlsLayer`]).
    /// Must be called inside a tokio runtime.
    pub fn start_with(
        cfg: Config,
        listener: TcpListener,
        layer: Arc<dyn StreamLayer>,
    ) -> Result<(Transport, Events), PeerError> {
        cfg.validate()?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| PeerError::Bind(cfg.servers[&cfg.my_id], e))?;
        let (events_tx, events_rx) = mpsc::channel(cfg.events);
        let peers: Vec<PeerId> = cfg
            .servers
            .keys()
            .copied()
            .filter(|p| *p != cfg.my_id)
            .collect();
        let slots: Arc<Slots> = Arc::new(Mutex::new(BTreeMap::new()));
        let shared = Arc::new(Shared {
            layer,
            slots: slots.clone(),
            stats: Counters::default(),
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            events: events_tx,
            order: peers.iter().map(|p| (*p, Arc::default())).collect(),
            wake: peers.iter().map(|p| (*p, Notify::new())).collect(),
            cfg,
        });
        shared
            .tracker
            .spawn(accept::listen(shared.clone(), listener));
        for peer in peers {
            shared.tracker.spawn(dial::dial_loop(shared.clone(), peer));
        }
        Ok((
            Transport { shared, local_addr },
            Events {
                rx: events_rx,
                slots,
            },
        ))
    }

    /// Queues a frame for `peer`; never waits. Fails when the owner has no link to the peer
    /// (frames are not kept for a later link: the owner resynchronises on `Connected`), when
    /// the frame is over `max_frame`, or when the peer's queue is full, which also drops the
    /// link (a `Disconnected` follows).
    pub fn send(&self, peer: PeerId, channel: Channel, payload: Bytes) -> Result<(), PeerError> {
        self.send_to(peer, None, channel, payload)
    }

    /// As [`Transport::send`], but only on the link [`Transport::active_link`] named
    /// (`NotConnected` if that link is gone, even when a newer one is up): an owner that
    /// hands `Connected` on to another task (a replication engine) keeps the frames it
    /// sent for one link off the next.
    pub fn send_on(
        &self,
        peer: PeerId,
        link: u64,
        channel: Channel,
        payload: Bytes,
    ) -> Result<(), PeerError> {
        self.send_to(peer, Some(link), channel, payload)
    }

    fn send_to(
        &self,
        peer: PeerId,
        only: Option<u64>,
        channel: Channel,
        payload: Bytes,
    ) -> Result<(), PeerError> {
        let max = self.shared.cfg.max_frame;
        if payload.len() > max {
            return Err(PeerError::FrameTooLarge {
                len: payload.len(),
                max,
            });
        }
        let mut slots = self.shared.slots.lock();
        let Some(slot) = slots.get_mut(&peer) else {
            return Err(PeerError::NotConnected(peer));
        };
        let Some(link) = slot
            .active
            .as_ref()
            .filter(|l| only.is_none_or(|id| l.id == id))
        else {
            return Err(PeerError::NotConnected(peer));
        };
        let len = payload.len();
        let bytes_full = link.queued.load(Ordering::Relaxed) + len > self.shared.cfg.queue_bytes;
        let sent = if bytes_full {
            Err("bytes")
        } else {
            link.queued.fetch_add(len, Ordering::Relaxed);
            match link.out.try_send(PeerMessage::frame(channel.0, payload)) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    link.queued.fetch_sub(len, Ordering::Relaxed);
                    return Err(PeerError::NotConnected(peer));
                }
                Err(mpsc::error::TrySendError::Full(_)) => Err("frames"),
            }
        };
        if let Err(bound) = sent {
            tracing::warn!(
                peer,
                "peer {peer}: outbound queue full ({} {bound} at most); disconnecting it to be resynchronised",
                if bound == "bytes" { self.shared.cfg.queue_bytes } else { self.shared.cfg.queue },
            );
            link.kill.cancel();
            slot.active = None;
            self.shared.stats.overflow();
            return Err(PeerError::Overflow(peer));
        }
        Ok(())
    }

    /// Whether the owner has a link to `peer` (has read its `Connected`, not yet broken).
    pub fn is_connected(&self, peer: PeerId) -> bool {
        self.shared
            .slots
            .lock()
            .get(&peer)
            .is_some_and(|s| s.active.is_some())
    }

    /// The id of the link `send` uses for `peer`: the one whose `Connected` the owner read
    /// last, while it is up. Read right after that `Connected`, it names that link.
    pub fn active_link(&self, peer: PeerId) -> Option<u64> {
        let slots = self.shared.slots.lock();
        slots
            .get(&peer)
            .and_then(|s| s.active.as_ref())
            .map(|l| l.id)
    }

    /// The link `send` uses for `peer`, while it is up: its other end's address and what
    /// waits in its outbound queue.
    pub fn link_info(&self, peer: PeerId) -> Option<LinkInfo> {
        let slots = self.shared.slots.lock();
        let l = slots.get(&peer)?.active.as_ref()?;
        Some(LinkInfo {
            remote: l.remote,
            queued_frames: l.out.max_capacity().saturating_sub(l.out.capacity()),
            queued_bytes: l.queued.load(Ordering::Relaxed),
        })
    }

    /// Is there room for more frames to `peer` (its active link's queue under half full, in
    /// frames and bytes)? A sender of bulk data (snapshot chunks) waits while there is not.
    pub fn has_room(&self, peer: PeerId) -> bool {
        let slots = self.shared.slots.lock();
        slots
            .get(&peer)
            .and_then(|s| s.active.as_ref())
            .is_some_and(|l| {
                l.queued.load(Ordering::Relaxed) < self.shared.cfg.queue_bytes / 2
                    && l.out.capacity() > self.shared.cfg.queue / 2
            })
    }

    /// Ends the link to `peer` now if it is `link` (any link when `None`): both ends see
    /// it break (a `Disconnected` follows) and the transport reconnects.
    pub fn disconnect(&self, peer: PeerId, link: Option<u64>) {
        let mut slots = self.shared.slots.lock();
        let Some(slot) = slots.get_mut(&peer) else {
            return;
        };
        if let Some(l) = slot
            .active
            .as_ref()
            .filter(|l| link.is_none_or(|id| l.id == id))
        {
            tracing::info!(peer, link = l.id, "peer {peer}: link dropped by its owner");
            l.kill.cancel();
            slot.active = None;
        }
    }

    /// The id of the newest link to `peer` (for tests of the tie-break).
    #[doc(hidden)]
    pub fn link_id(&self, peer: PeerId) -> Option<u64> {
        let slots = self.shared.slots.lock();
        slots
            .get(&peer)
            .and_then(|s| s.current.as_ref())
            .map(|l| l.id)
    }

    /// The address the transport listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.shared.cfg
    }

    /// Counters since the start.
    pub fn stats(&self) -> Stats {
        self.shared.stats.snapshot()
    }

    /// Stops every task and closes every connection, and waits until they are gone.
    pub async fn shutdown(self) {
        self.shared.cancel.cancel();
        self.shared.tracker.close();
        self.shared.tracker.wait().await;
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
        self.shared.tracker.close();
    }
}

/// The largest gRPC message a transport with this bound accepts.
pub(crate) fn max_message(cfg: &Config) -> usize {
    cfg.max_frame + ENVELOPE
}
