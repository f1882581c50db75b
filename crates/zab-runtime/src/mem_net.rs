//! An in-memory [`Transport`] over tokio channels, for tests and examples: one FIFO
//! stream per pair, resets and cut links (partitions) reported as disconnections.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use corral_zab::PeerId;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::traits::{NetEvent, Transport};

#[derive(Default)]
struct Links {
    inboxes: BTreeMap<PeerId, UnboundedSender<NetEvent>>,
    cut: BTreeSet<(PeerId, PeerId)>,
}

fn pair(a: PeerId, b: PeerId) -> (PeerId, PeerId) {
    (a.min(b), a.max(b))
}

/// The network all in-memory transports of one process share.
#[derive(Clone, Default)]
pub struct MemNetwork {
    links: Arc<Mutex<Links>>,
}

impl MemNetwork {
    /// An empty network.
    pub fn new() -> MemNetwork {
        MemNetwork::default()
    }

    fn links(&self) -> std::sync::MutexGuard<'_, Links> {
        self.links.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Attaches server `id` (again, after a restart): its transport and its inbound events.
    /// Its peers see their old streams to it break.
    pub fn join(&self, id: PeerId) -> (MemTransport, UnboundedReceiver<NetEvent>) {
        let (tx, rx) = unbounded_channel();
        let old = self.links().inboxes.insert(id, tx);
        if old.is_some() {
            let peers: Vec<PeerId> = self.links().inboxes.keys().copied().collect();
            for p in peers.into_iter().filter(|&p| p != id) {
                self.deliver(p, NetEvent::Disconnected(id));
            }
        }
        let t = MemTransport {
            id,
            net: self.clone(),
        };
        (t, rx)
    }

    /// Cuts the link between `a` and `b` (both see it break) until [`MemNetwork::heal`].
    pub fn cut(&self, a: PeerId, b: PeerId) {
        self.links().cut.insert(pair(a, b));
        self.deliver(a, NetEvent::Disconnected(b));
        self.deliver(b, NetEvent::Disconnected(a));
    }

    /// Restores every cut link.
    pub fn heal(&self) {
        self.links().cut.clear();
    }

    fn deliver(&self, to: PeerId, event: NetEvent) {
        if let Some(tx) = self.links().inboxes.get(&to) {
            let _ = tx.send(event);
        }
    }
}

/// One server's end of a [`MemNetwork`].
pub struct MemTransport {
    id: PeerId,
    net: MemNetwork,
}

impl Transport for MemTransport {
    fn send(&mut self, to: PeerId, frame: Bytes) {
        if self.net.links().cut.contains(&pair(self.id, to)) {
            return;
        }
        self.net.deliver(
            to,
            NetEvent::Frame {
                from: self.id,
                frame,
            },
        );
    }

    fn reset(&mut self, peer: PeerId) {
        self.net.deliver(peer, NetEvent::Disconnected(self.id));
        self.net.deliver(self.id, NetEvent::Disconnected(peer));
    }
}
