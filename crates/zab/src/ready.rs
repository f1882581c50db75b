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
    /// Write `data` at `offset` of the snapshot at `zxid` being received
    /// (ZAB SNAP). Offset 0 starts a new one; whatever an earlier, unfinished
    /// reception left is discarded. Nothing is installed yet.
    SnapshotChunk {
        /// The zxid the snapshot is at.
        zxid: Zxid,
        /// Where `data` goes in the snapshot.
        offset: u64,
        /// The bytes.
        data: Bytes,
    },
    /// The snapshot received at `zxid` is complete: make it durable, then
    /// replace the state machine and the whole log with it, atomically (a
    /// crash leaves either the old state and log, or the new snapshot and an
    /// empty log after it). Restore the state machine from it before applying
    /// this `Ready`'s `committed`.
    InstallSnapshot {
        /// The zxid the snapshot is at.
        zxid: Zxid,
    },
    /// Store the accepted epoch (ZooKeeper's `acceptedEpoch` file).
    AcceptedEpoch(u32),
    /// Store the current epoch (ZooKeeper's `currentEpoch` file).
    CurrentEpoch(u32),
}

/// A request to stream the caller's state machine to a learner that is too
/// far behind for a DIFF: the state at `zxid` (once this `Ready`'s
/// `committed` is applied), as [`Message::SnapChunk`]s sent right after the
/// `Snap { zxid }` header to `to` and before anything that follows it. The
/// caller may serialise it later (from a snapshot it took at `zxid`), as long
/// as that order holds; [`Ready::insert_snapshots`] does it at once.
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
/// 3. `snapshot`: for each request, take a snapshot of the state machine
///    (now at its `zxid`) and stream it behind the `Snap` header (see
///    [`SnapshotRequest`]).
/// 4. `messages`: send, in order.
/// 5. Once the operations of this and every earlier `Ready` are durable
///    (fsync): send `send_after_persist`, in order, then call
///    [`Zab::advance`](crate::Zab::advance) with `number`.
///
/// `role` is the server's new role if it changed since the last `Ready`, and
/// `established` whether the server is now part of an established quorum
/// (a leader: a quorum acknowledged NEWLEADER; a learner: UPTODATE seen) if
/// that changed. `reset` lists the peers whose stream the caller must break
/// before sending this `Ready`'s messages (see [`Ready::reset`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use = "a Ready must be persisted, applied and sent"]
pub struct Ready {
    /// Increasing number of this `Ready`; pass it to `advance` once durable.
    pub number: u64,
    /// The new role, when it changed.
    pub role: Option<Role>,
    /// `Some(true)` when the quorum this server belongs to became
    /// established, `Some(false)` when it was lost; `None` if unchanged.
    pub established: Option<bool>,
    /// Break the FIFO stream to each of these peers (close the connection;
    /// the peer sees it break, as a ZooKeeper learner sees its leader's
    /// socket close) before sending `messages`. The engine has already
    /// forgotten their session and dropped what it had queued for them;
    /// messages of this `Ready` to them go on the next stream.
    pub reset: Vec<PeerId>,
    /// Storage operations, in order.
    pub persist: Vec<Persist>,
    /// Messages that may be sent at once.
    pub messages: Vec<(PeerId, Message)>,
    /// Messages that may leave only after `persist` is durable (a follower's
    /// ACK, ACKEPOCH after the accepted epoch is stored, ...).
    pub send_after_persist: Vec<(PeerId, Message)>,
    /// Committed entries to apply, in zxid order.
    pub committed: Vec<Entry>,
    /// The engine could not read its log (see
    /// [`LogSource`](crate::LogSource)): it stops handing out committed
    /// entries. The caller should stop and restart from its disk.
    pub failed: Option<crate::ZabError>,
    /// Snapshots to stream behind the `Snap` headers of `messages` or
    /// `send_after_persist`.
    pub snapshot: Vec<SnapshotRequest>,
}

impl Ready {
    /// Nothing to do at all.
    pub fn is_empty(&self) -> bool {
        self.role.is_none()
            && self.established.is_none()
            && self.reset.is_empty()
            && self.persist.is_empty()
            && self.messages.is_empty()
            && self.send_after_persist.is_empty()
            && self.committed.is_empty()
            && self.snapshot.is_empty()
            && self.failed.is_none()
    }

    /// Puts the chunks `stream(request)` returns right after the `Snap`
    /// header of every [`SnapshotRequest`], for a caller that serialises its
    /// state synchronously. Call it after applying `committed`.
    pub fn insert_snapshots(&mut self, mut stream: impl FnMut(&SnapshotRequest) -> Vec<Message>) {
        for req in std::mem::take(&mut self.snapshot) {
            for list in [&mut self.messages, &mut self.send_after_persist] {
                let at = list.iter().position(|(to, m)| {
                    *to == req.to && matches!(m, Message::Snap { zxid } if *zxid == req.zxid)
                });
                if let Some(at) = at {
                    let chunks = stream(&req);
                    let tail = list.split_off(at + 1);
                    list.extend(chunks.into_iter().map(|m| (req.to, m)));
                    list.extend(tail);
                    break;
                }
            }
        }
    }
}

/// Cuts a serialised snapshot into [`Message::SnapChunk`]s of at most
/// `chunk` bytes (at least one, the last marked).
pub fn snapshot_chunks(data: &Bytes, chunk: usize) -> Vec<Message> {
    let chunk = chunk.max(1);
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let end = (at + chunk).min(data.len());
        out.push(Message::SnapChunk {
            data: data.slice(at..end),
            last: end == data.len(),
        });
        if end == data.len() {
            return out;
        }
        at = end;
    }
}
