//! One simulated server's parts: the state machine (checked at every delivery), the transport
//! (an outbox the simulator drains), and the checkers they share.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use corral_zab::sim::checkers::{Checkers, Violation};
use corral_zab::sim::{decode_state as decode, encode_state as encode};
use corral_zab::{Config, PeerId, Zxid};
use corral_zab_runtime::{Node, StateMachine, Transport};

use crate::disk::SimDisk;

pub(crate) type Shared<T> = Arc<Mutex<T>>;

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The checkers, shared with the state machines (which check each delivery as it happens).
#[derive(Default)]
pub(crate) struct Watch {
    pub(crate) checkers: Checkers,
    pub(crate) first: Option<Violation>,
}

impl Watch {
    pub(crate) fn keep(&mut self, r: Result<(), Violation>) {
        if let Err(v) = self.checkers.keep(r) {
            self.first.get_or_insert(v);
        }
    }
}

/// The replicated state: every applied (zxid, payload), in order.
pub(crate) struct SimSm {
    pub(crate) id: PeerId,
    pub(crate) state: Vec<(Zxid, Bytes)>,
    pub(crate) receiving: Vec<u8>,
    pub(crate) chunk: usize,
    pub(crate) watch: Shared<Watch>,
}

impl StateMachine for SimSm {
    type Snapshot = std::vec::IntoIter<Bytes>;

    fn apply(&mut self, zxid: Zxid, payload: &Bytes) {
        let mut w = lock(&self.watch);
        let r = w.checkers.delivered(self.id, &self.state, zxid, payload);
        w.keep(r);
        drop(w);
        self.state.push((zxid, payload.clone()));
    }

    /// A copy taken now, streamed later while proposals are applied meanwhile.
    fn snapshot(&mut self) -> Self::Snapshot {
        let data = encode(&self.state);
        let chunk = self.chunk;
        (0..data.len())
            .step_by(chunk)
            .map(|i| data.slice(i..(i + chunk).min(data.len())))
            .collect::<Vec<_>>()
            .into_iter()
    }

    fn restore_chunk(&mut self, _zxid: Zxid, offset: u64, data: &Bytes) {
        self.receiving.truncate(offset as usize);
        self.receiving.extend_from_slice(data);
    }

    fn restore(&mut self, _zxid: Zxid) -> Result<(), String> {
        self.state = decode(&std::mem::take(&mut self.receiving))?;
        let mut w = lock(&self.watch);
        let r = w.checkers.recovered(self.id, &self.state);
        w.keep(r);
        Ok(())
    }
}

pub(crate) enum Out {
    Frame(PeerId, Bytes),
    Reset(PeerId),
}

/// The node's transport: what it sends waits in an outbox the simulator drains.
#[derive(Clone, Default)]
pub(crate) struct SimNet(pub(crate) Shared<Vec<Out>>);

impl Transport for SimNet {
    fn send(&mut self, to: PeerId, frame: Bytes) {
        lock(&self.0).push(Out::Frame(to, frame));
    }
    fn reset(&mut self, peer: PeerId) {
        lock(&self.0).push(Out::Reset(peer));
    }
}

/// A runtime node on the simulated disk and network.
pub(crate) type SimNode = Node<SimSm, SimDisk, SimNet>;

/// A server of the simulation: its config, its node while it is up, its disk (kept across
/// crashes) and its outbox.
pub(crate) struct Server {
    pub(crate) cfg: Config,
    pub(crate) node: Option<SimNode>,
    pub(crate) disk: SimDisk,
    pub(crate) outbox: SimNet,
}
