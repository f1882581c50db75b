//! corral-peer's gRPC transport as the runtime's [`Transport`] (feature `grpc`).
//!
//! [`attach`] takes a started [`corral_peer::Transport`] and its [`corral_peer::Events`] and
//! returns what [`crate::Runtime::start`] takes: a [`GrpcTransport`] and the inbound
//! [`NetEvent`]s. Engine frames travel on [`Channel::ENGINE`]; frames of other channels are
//! not the engine's and are dropped there.
//!
//! A service with messages of its own between servers (ZooKeeper's learners forward
//! requests and session touches to the leader on the stream that carries the protocol) uses
//! [`attach_with_service`]: its [`Inbound`] queue carries the engine's events and the other
//! channels' frames in the one order they arrived, and [`GrpcTransport::send_service`] sends
//! on the link the engine's frames go on. A message sent after the engine's frames reaches
//! the peer after them (one FIFO stream): a leader's answer to a learner's `sync` follows the
//! COMMITs it must come after.
//!
//! ```no_run
//! # async fn demo<S: corral_zab_runtime::StateMachine>(
//! #     servers: std::collections::BTreeMap<u64, std::net::SocketAddr>,
//! #     config: corral_zab_runtime::RuntimeConfig,
//! #     sm: S,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! let (peer, events) = corral_peer::Transport::start(corral_peer::Config::new(1, servers)).await?;
//! let (transport, inbound) = corral_zab_runtime::attach(peer, events);
//! let runtime = corral_zab_runtime::Runtime::start(config, sm, transport, inbound)?;
//! # let _ = runtime; Ok(()) }
//! ```
//!
//! # One stream, as the engine sees it
//!
//! corral-peer puts a frame on a link once its owner has read that link's `Connected`. The
//! owner here is a small pump task that hands events on to the runtime's task, so the
//! transport's "read" comes before the engine's: a frame the engine meant for a link that
//! broke could otherwise go out on the next one, which the peer takes for a fresh stream.
//! The adapter closes that gap: each `Connected` carries the id of its link through the
//! queue, [`Transport::connected`] (called when the runtime reads it) opens that id, and
//! every frame goes out with [`corral_peer::Transport::send_on`] on the open id only.
//!
//! A send that fails on the open link (`NotConnected`: it broke; `Overflow`: the peer fell
//! behind and is being dropped) is a frame lost on a broken stream: the link is closed for
//! the engine at once, and corral-peer's `Disconnected` for it (one per `Connected`, in
//! order, before the next `Connected`) tells the engine. A frame over the transport's bound
//! breaks the link the same way. A frame sent while no link is open is dropped: the engine
//! has been (or will be) told `Disconnected`, or never had a stream.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use corral_peer::{Channel, Event, Events, PeerError};
use corral_zab::PeerId;
use parking_lot::Mutex;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::traits::{NetEvent, Transport};

#[derive(Default)]
struct Links {
    /// Per peer, the link ids of the `Connected` events the runtime has not read yet.
    announced: BTreeMap<PeerId, VecDeque<Option<u64>>>,
    /// Per peer, the link the runtime's frames go on.
    open: BTreeMap<PeerId, u64>,
}

/// The runtime's end of a corral-peer transport (see the module docs).
pub struct GrpcTransport {
    peer: Arc<corral_peer::Transport>,
    links: Arc<Mutex<Links>>,
    /// Frames handed to each peer's link since the start (engine and service frames).
    sent: BTreeMap<PeerId, u64>,
}

/// Hands `transport` and `events` to a runtime: the [`Transport`] and the inbound events
/// [`crate::Runtime::start`] takes. A pump task (spawned here: call inside a tokio runtime)
/// forwards the events until the runtime drops its receiver or the transport stops.
pub fn attach(
    transport: corral_peer::Transport,
    events: Events,
) -> (GrpcTransport, UnboundedReceiver<NetEvent>) {
    let peer = Arc::new(transport);
    let links = Arc::new(Mutex::new(Links::default()));
    let (tx, rx) = unbounded_channel();
    tokio::spawn(pump(
        Arc::downgrade(&peer),
        links.clone(),
        events,
        tx,
        engine_only,
    ));
    let transport = GrpcTransport {
        peer,
        links,
        sent: BTreeMap::new(),
    };
    (transport, rx)
}

fn engine_only(inbound: Inbound) -> Option<NetEvent> {
    match inbound {
        Inbound::Net(ev) => Some(ev),
        Inbound::Service { from, channel, .. } => {
            tracing::debug!(peer = from, channel = channel.0, "frame not for the engine");
            None
        }
    }
}

/// What [`attach_with_service`] delivers, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// For the engine: hand to [`crate::Node::receive`].
    Net(NetEvent),
    /// A frame of another channel than [`Channel::ENGINE`], for the service.
    Service {
        /// The sender.
        from: PeerId,
        /// Its channel.
        channel: Channel,
        /// The frame.
        frame: Bytes,
    },
}

/// As [`attach`], for a service that also sends messages of its own between servers (see
/// the module docs): the engine's events and the service's frames arrive on one queue, in
/// order.
pub fn attach_with_service(
    transport: corral_peer::Transport,
    events: Events,
) -> (GrpcTransport, UnboundedReceiver<Inbound>) {
    let peer = Arc::new(transport);
    let links = Arc::new(Mutex::new(Links::default()));
    let (tx, rx) = unbounded_channel();
    tokio::spawn(pump(Arc::downgrade(&peer), links.clone(), events, tx, Some));
    let transport = GrpcTransport {
        peer,
        links,
        sent: BTreeMap::new(),
    };
    (transport, rx)
}

/// Hands corral-peer's events on, as `deliver` makes them (`None`: dropped).
async fn pump<T: Send + 'static>(
    peer: std::sync::Weak<corral_peer::Transport>,
    links: Arc<Mutex<Links>>,
    mut events: Events,
    tx: UnboundedSender<T>,
    deliver: fn(Inbound) -> Option<T>,
) {
    loop {
        let event = tokio::select! {
            e = events.recv() => e,
            _ = tx.closed() => None,
        };
        let Some(event) = event else { return };
        let net = match event {
            Event::Connected(p) => {
                // Read right after its `Connected`, the active link is that one (or gone).
                let link = peer.upgrade().and_then(|t| t.active_link(p));
                links.lock().announced.entry(p).or_default().push_back(link);
                Inbound::Net(NetEvent::Connected(p))
            }
            Event::Disconnected(p) => Inbound::Net(NetEvent::Disconnected(p)),
            Event::Frame(p, Channel::ENGINE, frame) => {
                Inbound::Net(NetEvent::Frame { from: p, frame })
            }
            Event::Frame(from, channel, frame) => Inbound::Service {
                from,
                channel,
                frame,
            },
        };
        let Some(out) = deliver(net) else { continue };
        if tx.send(out).is_err() {
            return;
        }
    }
}

impl GrpcTransport {
    /// The corral-peer transport underneath (its address, stats).
    pub fn peer(&self) -> &corral_peer::Transport {
        &self.peer
    }

    /// Sends a service frame on `channel` (not [`Channel::ENGINE`]) to `to`, on the link the
    /// engine's frames go on; `false` when no link is open or the send broke it (as an
    /// engine frame's failure, the engine then hears `Disconnected`).
    pub fn send_service(&mut self, to: PeerId, channel: Channel, frame: Bytes) -> bool {
        debug_assert!(
            channel != Channel::ENGINE,
            "the engine's channel is the runtime's"
        );
        self.send_frame(to, channel, frame)
    }

    /// Frames (engine and service) handed to `peer`'s links since the start.
    pub fn frames_sent(&self, peer: PeerId) -> u64 {
        self.sent.get(&peer).copied().unwrap_or(0)
    }

    fn send_frame(&mut self, to: PeerId, channel: Channel, frame: Bytes) -> bool {
        let Some(link) = self.links.lock().open.get(&to).copied() else {
            return false;
        };
        match self.peer.send_on(to, link, channel, frame) {
            Ok(()) => {
                *self.sent.entry(to).or_default() += 1;
                true
            }
            Err(e) => {
                self.links.lock().open.remove(&to);
                match e {
                    PeerError::NotConnected(_) | PeerError::Overflow(_) => {}
                    e => {
                        tracing::warn!(peer = to, error = %e, "frame not sent: dropping the link");
                        self.peer.disconnect(to, Some(link));
                    }
                }
                false
            }
        }
    }
}

impl Transport for GrpcTransport {
    fn send(&mut self, to: PeerId, frame: Bytes) {
        self.send_frame(to, Channel::ENGINE, frame);
    }

    fn reset(&mut self, peer: PeerId) {
        if let Some(link) = self.links.lock().open.remove(&peer) {
            self.peer.disconnect(peer, Some(link));
        }
    }

    fn connected(&mut self, peer: PeerId) {
        let mut links = self.links.lock();
        let link = links.announced.get_mut(&peer).and_then(|q| q.pop_front());
        match link.flatten() {
            Some(id) => links.open.insert(peer, id),
            None => links.open.remove(&peer),
        };
    }

    fn has_room(&self, peer: PeerId) -> bool {
        self.peer.has_room(peer)
    }
}
