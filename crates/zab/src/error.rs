//! The crate's one error type.

use crate::{PeerId, Zxid};

/// Everything the engine can refuse. Messages from the network never panic
/// the engine: a message that breaks the protocol is answered the way
/// ZooKeeper answers it (usually by dropping the connection's state and
/// going back to LOOKING) and reported as [`ZabError::Protocol`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ZabError {
    /// `propose` on a server that is not the established leader.
    #[error("not the established leader (leader: {leader:?})")]
    NotLeader {
        /// The leader this server follows, when it knows one.
        leader: Option<PeerId>,
    },
    /// The epoch's counter is exhausted: the proposal was refused, and the
    /// leader steps down once what it already proposed is committed, so that
    /// the next leader starts a new epoch. Retry against the new leader.
    #[error("zxid counter of epoch {epoch} exhausted; a new epoch is being started")]
    ZxidRollover {
        /// The exhausted epoch.
        epoch: u32,
    },
    /// Elected leader, this server found no epoch left to propose: its own
    /// accepted epoch, or that of a learner registering, is already
    /// [`Zxid::MAX_EPOCH`]. It refused to lead and is LOOKING again; epochs
    /// are never reused, so this ensemble can elect no leader any more.
    #[error("no epoch left after accepted epoch {accepted_epoch}: refused to lead")]
    EpochsExhausted {
        /// The accepted epoch that has no successor.
        accepted_epoch: u32,
    },
    /// A configuration value is unusable.
    #[error("invalid config `{key}`: {reason}")]
    InvalidConfig {
        /// The `Config` field at fault.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The persisted state handed to [`Zab::new`](crate::Zab::new) is
    /// inconsistent (fatal: the caller's storage is damaged).
    #[error("inconsistent persisted state: {0}")]
    Storage(String),
    /// A message from a server that is neither a voter nor an observer.
    #[error("message from unknown peer {0}")]
    UnknownPeer(PeerId),
    /// A message that breaks the protocol; the engine already reacted.
    #[error("protocol violation by peer {from}: {reason}")]
    Protocol {
        /// The sender.
        from: PeerId,
        /// What was wrong.
        reason: String,
    },
    /// A zxid that the engine cannot place (for instance a snapshot or
    /// truncation point below what was already applied).
    #[error("zxid {zxid:?} out of range: {reason}")]
    ZxidOutOfRange {
        /// The zxid.
        zxid: Zxid,
        /// Why it cannot be used.
        reason: &'static str,
    },
}
