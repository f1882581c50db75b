//! The crate's one error type.

use corral_zab::{PeerId, ZabError, Zxid};

/// What the runtime reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// A frame from a peer that is not a well-formed engine message.
    #[error("malformed frame from peer {from}: {reason}")]
    Malformed {
        /// The sender.
        from: PeerId,
        /// What is wrong.
        reason: String,
    },
    /// The proposal was refused: not the established leader, or the zxid counter is
    /// exhausted (a new epoch is being started). Nothing was proposed.
    #[error("proposal refused: {0}")]
    Refused(ZabError),
    /// The leader lost its quorum (or stepped down) before this proposal was committed.
    /// It may still be committed by the next leader: read before retrying.
    #[error("leadership lost before {zxid} was committed; its outcome is unknown")]
    LeadershipLost {
        /// The zxid the proposal had.
        zxid: Zxid,
    },
    /// The disk failed (or the log could not be read): the runtime stopped. Restart it;
    /// recovery keeps what reached the disk.
    #[error("storage failed: {0}")]
    Storage(String),
    /// The configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The runtime has stopped.
    #[error("the runtime has stopped")]
    Stopped,
}
