//! What the caller must do after the engine moved: [`Ready`].

use bytes::Bytes;

use crate::{Entry, Message, PeerId, Role, Zxid};

/// One storage operation, to be applied in order after every operation of
/// earlier `Ready`s. The caller may write asynchronously but must make the
/// operations durable in this order, and report it with
/// [`Zab::advance`](crate::Zab::advance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Persist {
    /// Append one entry to the log.
    Append(Entry),
    /// Remove every log entry whose zxid is greater than `to` (ZAB TRUNC).
    Truncate {
        /// The last zxid to keep.
        to: Zxid,
    },
    /// Replace the state machine and the whole log with this snapshot, taken
    /// at `zxid` (ZAB SNAP). Restore the state machine from `data` before
    /// applying this `Ready`'s `committed`.
    InstallSnapshot {
        /// The zxid the snapshot is at.
        zxid: Zxid,
        /// The leader's serialised state.
        data: Bytes,
    },
    /// Store the accepted epoch (ZooKeeper's `acceptedEpoch` file).
    AcceptedEpoch(u32),
    /// Store the current epoch (ZooKeeper's `currentEpoch` file).
    CurrentEpoch(u32),
}

/// A request to serialise the caller's state machine for a learner that is
/// too far behind for a DIFF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotRequest {
    /// The learner that receives it.
    pub to: PeerId,
    /// The zxid the state is at once this `Ready`'s `committed` is applied.
    pub zxid: Zxid,
}

/// Everything the caller must do, in this order:
///
/// 1. `persist`: start writing these operations, in order, after those of
///    earlier `Ready`s. An `InstallSnapshot` also replaces the state machine.
/// 2. `committed`: apply these entries to the state machine, in order. They
///    are already durable on this server.
/// 3. `snapshot`: if not empty, call [`Ready::fill_snapshots`] with a
///    function that serialises the state machine (now at `zxid`).
/// 4. `messages`: send, in order.
/// 5. Once the operations of this and every earlier `Ready` are durable
///    (fsync): send `send_after_persist`, in order, then call
///    [`Zab::advance`](crate::Zab::advance) with `number`.
///
/// `role` is the server's new role if it changed since the last `Ready`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use = "a Ready must be persisted, applied and sent"]
pub struct Ready {
    /// Increasing number of this `Ready`; pass it to `advance` once durable.
    pub number: u64,
    /// The new role, when it changed.
    pub role: Option<Role>,
    /// Storage operations, in order.
    pub persist: Vec<Persist>,
    /// Messages that may be sent at once.
    pub messages: Vec<(PeerId, Message)>,
    /// Messages that may leave only after `persist` is durable (a follower's
    /// ACK, ACKEPOCH after the accepted epoch is stored, ...).
    pub send_after_persist: Vec<(PeerId, Message)>,
    /// Committed entries to apply, in zxid order.
    pub committed: Vec<Entry>,
    /// Snapshots to serialise into the `Snap` messages of `messages`.
    pub snapshot: Vec<SnapshotRequest>,
}

impl Ready {
    /// Nothing to do at all.
    pub fn is_empty(&self) -> bool {
        self.role.is_none()
            && self.persist.is_empty()
            && self.messages.is_empty()
            && self.send_after_persist.is_empty()
            && self.committed.is_empty()
            && self.snapshot.is_empty()
    }

    /// Fills the data of every `Snap` message with `serialize(zxid)`, the
    /// caller's state machine serialised at `zxid`. Call it after applying
    /// `committed`.
    pub fn fill_snapshots(&mut self, mut serialize: impl FnMut(Zxid) -> Bytes) {
        if self.snapshot.is_empty() {
            return;
        }
        for (_, msg) in self
            .messages
            .iter_mut()
            .chain(self.send_after_persist.iter_mut())
        {
            if let Message::Snap { zxid, data } = msg {
                *data = serialize(*zxid);
            }
        }
    }
}
