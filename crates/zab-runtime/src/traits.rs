//! What the user and the environment plug in: the state machine, the disk, the network.

use bytes::Bytes;
use corral_zab::{Observation, PeerId, Persist, Zxid};

/// The replicated state: what a committed payload does, and its snapshots.
///
/// # To ensure correctness
/// - `apply` is deterministic: every server applies the same payloads in the same zxid
///   order and must reach the same state.
/// - `snapshot` describes the state as of the last applied zxid, even if it is read while
///   later payloads are applied (take a copy-on-write view, or an incremental snapshot as
///   corral-datatree's).
pub trait StateMachine: Send + 'static {
    /// The chunks of a snapshot, produced lazily while the runtime streams them: any
    /// `Iterator<Item = Bytes>`, or a [`SnapshotSource`] whose chunks may not be ready yet.
    type Snapshot: SnapshotSource;

    /// Applies a committed payload.
    fn apply(&mut self, zxid: Zxid, payload: &Bytes);

    /// A snapshot of the state as of the last applied zxid, as chunks (a learner too far
    /// behind for a DIFF receives it).
    fn snapshot(&mut self) -> Self::Snapshot;

    /// A snapshot of the leader's state at `zxid` arrives: `data` at `offset` (offset 0
    /// starts over).
    fn restore_chunk(&mut self, zxid: Zxid, offset: u64, data: &Bytes);

    /// The snapshot of `zxid` is complete: replace the whole state with it. `Err` says why
    /// it cannot be read (the runtime stops: the leader sent garbage or the transfer broke).
    fn restore(&mut self, zxid: Zxid) -> Result<(), String>;

    /// Whether a snapshot is still being produced (a state machine that produces them a step
    /// at a time): the local snapshot schedule waits rather than ask for another one.
    fn snapshot_busy(&self) -> bool {
        false
    }

    /// What the engine just did, for the embedder's metrics (ZooKeeper's quorum
    /// `ServerMetrics`): called only after [`Node::set_observing`](crate::Node::set_observing),
    /// in order, as soon as the engine reports it (within the call that caused it, so the
    /// embedder's clock reading for that call dates it), before the `Ready` it came with is
    /// carried out. The default ignores them.
    fn observe(&mut self, observation: &Observation) {
        let _ = observation;
    }
}

/// What [`SnapshotSource::poll_chunk`] has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotChunk {
    /// The next chunk.
    Data(Bytes),
    /// The next chunk is not produced yet (the state machine produces it later, e.g. one
    /// step of an incremental snapshot per turn of its loop): ask again.
    NotYet,
    /// Every chunk was given.
    End,
    /// The snapshot cannot be completed (say why): a learner receiving it must start over.
    Failed(String),
}

/// A snapshot's chunks, which the runtime pulls while it streams them to a learner (never
/// blocking) or writes them to a local snapshot file (on a thread that may block).
///
/// Every `Iterator<Item = Bytes>` is one (its chunks are always ready). A state machine that
/// produces its snapshot a step at a time from its own loop, so that a big state never
/// pauses it, implements it directly.
pub trait SnapshotSource: Send + 'static {
    /// The next chunk if it is ready; never blocks.
    fn poll_chunk(&mut self) -> SnapshotChunk;

    /// The next chunk, waiting until it is produced (`Ok(None)` at the end). Called only
    /// on threads that may block, never on the thread that produces the chunks.
    fn wait_chunk(&mut self) -> Result<Option<Bytes>, String>;
}

impl<I: Iterator<Item = Bytes> + Send + 'static> SnapshotSource for I {
    fn poll_chunk(&mut self) -> SnapshotChunk {
        match self.next() {
            Some(data) => SnapshotChunk::Data(data),
            None => SnapshotChunk::End,
        }
    }

    fn wait_chunk(&mut self) -> Result<Option<Bytes>, String> {
        Ok(self.next())
    }
}

/// Where the engine's storage operations go.
///
/// # To ensure correctness
/// - Operations take effect in the order submitted, across files (a current epoch never
///   becomes durable before the log entries submitted before it).
/// - Report `tag` durable (the runtime's [`crate::Node::durable`]) only once every
///   operation of this and every earlier submission is on stable storage; reports are
///   cumulative and may skip tags.
pub trait DiskIo {
    /// Queues `ops` under `tag` (a `Ready` number, increasing).
    fn submit(&mut self, tag: u64, ops: Vec<Persist>);
}

/// How frames reach the other servers (the peer transport implements it).
///
/// # To ensure correctness
/// - One FIFO stream per peer: frames to one peer arrive in the order sent, or the stream
///   breaks and both ends learn it (the transport then reports
///   [`NetEvent::Disconnected`]); nothing after a lost frame may be delivered on the same
///   stream.
/// - `send` never blocks the runtime: queue, and when a peer falls too far behind, break
///   its stream.
pub trait Transport: Send + 'static {
    /// Sends one frame to `to` (dropped if no stream is up: the peer resynchronises).
    fn send(&mut self, to: PeerId, frame: Bytes);
    /// Breaks the stream to `peer` now (drop what is queued); both ends see it break.
    fn reset(&mut self, peer: PeerId);
    /// The runtime has read [`NetEvent::Connected`] for `peer`: frames it sends from now on
    /// may go on that new stream (never before: they would belong to the one that broke).
    fn connected(&mut self, _peer: PeerId) {}
    /// Is there room in `peer`'s queue for another frame? The runtime sends snapshot
    /// chunks only while there is, so a large SNAP does not overflow a bounded queue.
    fn has_room(&self, _peer: PeerId) -> bool {
        true
    }
}

/// What the transport reports to the runtime, per peer in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetEvent {
    /// A frame arrived from `from`.
    Frame {
        /// The sender (as the transport authenticated it).
        from: PeerId,
        /// The frame.
        frame: Bytes,
    },
    /// A new stream to `peer` is up (after the `Disconnected` of any earlier one); a
    /// transport whose streams are always up (as [`crate::MemNetwork`]) never says it.
    Connected(PeerId),
    /// The stream to `peer` broke; whatever was in flight may be lost.
    Disconnected(PeerId),
}
