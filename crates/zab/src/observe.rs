//! What the engine did that an operator measures: [`Observation`]s, the
//! facts behind ZooKeeper's quorum metrics (`ServerMetrics`: `diff_count`,
//! `snap_count`, `inflight_*_count`, `learner_*_received_count`, the
//! proposal / ack / commit latencies).
//!
//! The engine reads no clock, so it reports events, not durations: the
//! caller stamps each with its own clock as it takes it (a latency is the
//! caller's "now" minus the time its payload carries). Observing is off
//! unless the caller asks for it ([`Zab::set_observing`](crate::Zab::set_observing)),
//! and the caller then drains them with
//! [`Zab::take_observations`](crate::Zab::take_observations) after every
//! call (they are produced by `step`, `tick`, `advance`, `propose` and
//! `ready`).

use bytes::Bytes;

use crate::{PeerId, SyncKind, Zxid};

/// One observed event, in the order the engine went through them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// Any role: an entry was handed to the log (a leader's proposal, a
    /// learner's synchronisation or broadcast proposal). The payload is the
    /// caller's own (whatever it proposed), for the time it carries.
    Logged {
        /// Its zxid.
        zxid: Zxid,
        /// Its payload.
        payload: Bytes,
    },
    /// A leader began synchronising a learner (sent the DIFF, TRUNC or SNAP
    /// header: ZooKeeper's `LearnerHandler` begins a sync with its diff or
    /// snap throttler). `in_progress` counts this learner and every other
    /// whose synchronisation of the same class (SNAP, or DIFF / TRUNC) has
    /// begun and not ended.
    SyncBegun {
        /// The learner.
        learner: PeerId,
        /// How.
        kind: SyncKind,
        /// Synchronisations of this class in progress, this one included.
        in_progress: usize,
    },
    /// A learner acknowledged NEWLEADER: its synchronisation ended
    /// (ZooKeeper's `syncThrottler.endSync`). `in_progress` counts the
    /// others of the same class still going.
    SyncEnded {
        /// The learner.
        learner: PeerId,
        /// How it was synchronised.
        kind: SyncKind,
        /// Synchronisations of this class still in progress.
        in_progress: usize,
    },
    /// A follower in broadcast (UPTODATE seen) received a PROPOSAL
    /// (ZooKeeper's `Follower.processPacket`).
    ProposalReceived {
        /// Its zxid.
        zxid: Zxid,
    },
    /// A learner in broadcast (UPTODATE seen) learnt that the proposals in
    /// `(after, upto]` are committed: a COMMIT (cumulative here; ZooKeeper
    /// sends one per proposal, so `proposals` counts what it would have
    /// sent) or an observer's INFORM (one proposal).
    CommitReceived {
        /// The commit point before.
        after: Zxid,
        /// The commit point now.
        upto: Zxid,
        /// Proposals in between.
        proposals: u64,
    },
    /// A voter's log is durable up to `upto` (from `after`): a follower's
    /// ACK for those proposals leaves now, a leader counts its own
    /// acknowledgement (ZooKeeper's `SendAckRequestProcessor` and
    /// `AckRequestProcessor`). Observers, which acknowledge nothing, do not
    /// report it.
    Acknowledged {
        /// Durable up to here before.
        after: Zxid,
        /// Durable up to here now.
        upto: Zxid,
    },
    /// A leader still waiting for the quorum of its new epoch quit leading: `voter`, which
    /// had voted for it, is LOOKING again, and it had waited longer than
    /// [`Config::max_wait_for_epoch`](crate::Config::max_wait_for_epoch) (ZooKeeper's
    /// `quitLeading`).
    QuitLeading {
        /// The voter that changed its mind.
        voter: PeerId,
    },
    /// A leader: its own proposals in `(after, upto]` got a quorum of
    /// acknowledgements and are committed (ZooKeeper's `Leader.tryToCommit`).
    /// Entries of earlier epochs, committed when it took the lead, are not
    /// reported: `after` is at least the leader's epoch with counter 0.
    QuorumAcked {
        /// The commit point before.
        after: Zxid,
        /// The commit point now.
        upto: Zxid,
    },
}
