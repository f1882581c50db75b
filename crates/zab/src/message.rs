//! The peer protocol: one enum, serialised by the caller however it likes.
//!
//! The variants are ZooKeeper's quorum packets (`Leader.java` constants) and
//! fast-leader-election notifications. Between any two servers messages
//! travel on one FIFO stream; when that stream breaks, the caller tells both
//! ends with [`Zab::disconnected`](crate::Zab::disconnected).

use bytes::Bytes;

use crate::{PeerId, Zxid};

/// What a server is doing (ZooKeeper `QuorumPeer.ServerState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Electing a leader.
    Looking,
    /// A voter that follows a leader.
    Following,
    /// The leader (established or still gathering its quorum).
    Leading,
    /// A non-voting learner.
    Observing,
}

/// How a learner was brought up to date with its leader (ZooKeeper's DIFF,
/// TRUNC and SNAP sync packets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SyncKind {
    /// The missing proposals only.
    Diff,
    /// Proposals the leader does not have removed, then the missing ones.
    Trunc,
    /// A snapshot of the leader's state, then the proposals after it.
    Snap,
}

/// A fast-leader-election notification (ZooKeeper `FastLeaderElection.Notification`):
/// the sender's vote, its election round and its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notification {
    /// The proposed (or, when not LOOKING, the elected) leader.
    pub leader: PeerId,
    /// The last logged zxid of the proposed leader.
    pub zxid: Zxid,
    /// The sender's logical clock (election round).
    pub election_epoch: u64,
    /// The current epoch of the proposed leader.
    pub peer_epoch: u32,
    /// The sender's state.
    pub state: Role,
}

/// One entry of the replicated log: a zxid and the caller's opaque payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The transaction id the leader assigned.
    pub zxid: Zxid,
    /// Whatever the caller proposed.
    pub payload: Bytes,
}

/// A message between two servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Leader election vote.
    Notification(Notification),
    /// Learner -> leader, discovery: the learner's accepted epoch
    /// (FOLLOWERINFO, or OBSERVERINFO when `observer`).
    FollowerInfo {
        /// The highest epoch the learner has accepted.
        accepted_epoch: u32,
        /// An observer registering.
        observer: bool,
    },
    /// Leader -> learner, discovery: the new epoch (LEADERINFO).
    LeaderInfo {
        /// The epoch the leader proposes.
        epoch: u32,
    },
    /// Learner -> leader, discovery: accepted the new epoch (ACKEPOCH).
    /// `current_epoch` is `None` when the learner had already accepted this
    /// epoch before (ZooKeeper sends -1).
    AckEpoch {
        /// The learner's current epoch, if it newly accepted the epoch.
        current_epoch: Option<u32>,
        /// The learner's last logged zxid.
        last_zxid: Zxid,
    },
    /// Sync header: the learner's log is a prefix of the leader's; the
    /// missing proposals follow (DIFF). `zxid` is where the stream will end.
    Diff {
        /// The last zxid the synchronisation brings the learner to.
        zxid: Zxid,
    },
    /// Sync header: drop every entry after `zxid`; proposals follow (TRUNC).
    Trunc {
        /// The last zxid to keep.
        zxid: Zxid,
    },
    /// Sync header: replace state and log with a snapshot of the leader's
    /// applied state at `zxid` (SNAP). The snapshot itself follows in
    /// [`Message::SnapChunk`]s, then the proposals after it.
    Snap {
        /// The zxid the snapshot state is at.
        zxid: Zxid,
    },
    /// A piece of the snapshot a SNAP announced, in order; the leader's
    /// caller produces them (see [`Ready::snapshot`](crate::Ready::snapshot))
    /// and sends them right after the SNAP header, before anything else to
    /// that learner. Bounded pieces keep a large state from being one message.
    SnapChunk {
        /// The bytes, in order.
        data: Bytes,
        /// The snapshot's last piece.
        last: bool,
    },
    /// A proposal to log (PROPOSAL); also used inside a synchronisation.
    Proposal {
        /// Its zxid.
        zxid: Zxid,
        /// Its payload.
        payload: Bytes,
    },
    /// End of synchronisation: the learner takes `zxid.epoch()` as its
    /// current epoch and acknowledges (NEWLEADER).
    NewLeader {
        /// `epoch << 32`.
        zxid: Zxid,
    },
    /// Follower -> leader: everything up to `zxid` is durable (ACK). The
    /// acknowledgement of NEWLEADER carries NEWLEADER's zxid.
    Ack {
        /// The acknowledged zxid.
        zxid: Zxid,
    },
    /// Leader -> follower: every proposal up to `zxid` is committed (COMMIT).
    Commit {
        /// The commit point.
        zxid: Zxid,
    },
    /// Leader -> observer: a committed proposal (INFORM).
    Inform {
        /// Its zxid.
        zxid: Zxid,
        /// Its payload.
        payload: Bytes,
    },
    /// Leader -> learner: the quorum is established, start serving (UPTODATE).
    UpToDate,
    /// Liveness check, both ways (PING).
    Ping,
}

impl Message {
    /// A short name for traces.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Notification(_) => "NOTIFICATION",
            Message::FollowerInfo {
                observer: false, ..
            } => "FOLLOWERINFO",
            Message::FollowerInfo { observer: true, .. } => "OBSERVERINFO",
            Message::LeaderInfo { .. } => "LEADERINFO",
            Message::AckEpoch { .. } => "ACKEPOCH",
            Message::Diff { .. } => "DIFF",
            Message::Trunc { .. } => "TRUNC",
            Message::Snap { .. } => "SNAP",
            Message::SnapChunk { .. } => "SNAPCHUNK",
            Message::Proposal { .. } => "PROPOSAL",
            Message::NewLeader { .. } => "NEWLEADER",
            Message::Ack { .. } => "ACK",
            Message::Commit { .. } => "COMMIT",
            Message::Inform { .. } => "INFORM",
            Message::UpToDate => "UPTODATE",
            Message::Ping => "PING",
        }
    }
}
