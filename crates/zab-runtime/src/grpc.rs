//! corral-peer's gRPC transport as the runtime's [`Transport`] (feature `grpc`).
//!
//! [`attach`] takes a started [`corral_peer::Transport`] and its [`corral_peer::Events`] and
//! returns what [`crate::Runtime::start`] takes: a [`GrpcTransport`] and the inbound
//! [`NetEvent`]s. Engine frames travel on [`Channel::ENGINE`]; frames of other channels are
//! not the engine's and are dropped here.
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
    tokio::spawn(pump(Arc::downgrade(&peer), links.clone(), events, tx));
    (GrpcTransport { peer, links }, rx)
}

async fn pump(
    peer: std::sync::Weak<corral_peer::Transport>,
    links: Arc<Mutex<Links>>,
    mut events: Events,
    tx: UnboundedSender<NetEvent>,
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
                NetEvent::Connected(p)
            }
            Event::Disconnected(p) => NetEvent::Disconnected(p),
            Event::Frame(p, Channel::ENGINE, frame) => NetEvent::Frame { from: p, frame },
            Event::Frame(p, channel, _) => {
                tracing::debug!(peer = p, channel = channel.0, "frame not for the engine");
                continue;
            }
        };
        if tx.send(net).is_err() {
            return;
        }
    }
}

impl GrpcTransport {
    /// The corral-peer transport underneath (its address, stats).
    pub fn peer(&self) -> &corral_peer::Transport {
        &self.peer
    }
}

impl Transport for GrpcTransport {
    fn send(&mut self, to: PeerId, frame: Bytes) {
        let Some(link) = self.links.lock().open.get(&to).copied() else {
            return;
        };
        match self.peer.send_on(to, link, Channel::ENGINE, frame) {
            Ok(()) => {}
            Err(e) => {
                self.links.lock().open.remove(&to);
                match e {
                    PeerError::NotConnected(_) | PeerError::Overflow(_) => {}
                    e => {
                        tracing::warn!(peer = to, error = %e, "frame not sent: dropping the link");
                        self.peer.disconnect(to, Some(link));
                    }
                }
            }
        }
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
