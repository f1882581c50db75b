//! A server promises only what is on its stable storage.
//!
//! ZAB paper, section III-B: a follower accepts a proposal by writing it to
//! its history on stable storage, then acknowledges (phase 3, broadcast); it
//! records a new epoch on stable storage before it acknowledges it (phase 1,
//! discovery: the follower's promise not to accept an earlier epoch). And
//! ZooKeeper's pipeline (`SyncRequestProcessor` before
//! `SendAckRequestProcessor`; `QuorumPeer.setAcceptedEpoch` writes the
//! `acceptedEpoch` file before `Learner.registerWithLeader` answers, and
//! before `Leader.getEpochToPropose` lets LEADERINFO out). Checked when the
//! message actually leaves a server:
//!
//! * ACK: the acknowledged zxid (or, for NEWLEADER, the new current epoch)
//!   is already on the durable part of its disk;
//! * ACKEPOCH: the accepted epoch the engine holds is durable, so that a
//!   crash cannot make the learner accept an earlier epoch afterwards;
//! * LEADERINFO: the epoch it proposes is durable as the leader's accepted
//!   epoch, so that a restarted leader cannot propose it again.

use super::{violation, Violation};
use crate::sim::storage::Stored;
use crate::{PeerId, Zxid};

#[derive(Debug, Default)]
pub struct AckDurable;

impl AckDurable {
    pub fn ack_sent(&mut self, id: PeerId, zxid: Zxid, durable: &Stored) -> Result<(), Violation> {
        let ok = if zxid.counter() == 0 {
            durable.current_epoch >= zxid.epoch()
        } else {
            durable.holds(zxid)
        };
        if !ok {
            return violation(
                "ack_durable",
                format!("server {id} acknowledged {zxid:?} before it was durable"),
            );
        }
        Ok(())
    }

    /// Server `id`, whose engine has accepted epoch `accepted`, sent
    /// ACKEPOCH.
    pub fn ackepoch_sent(
        &mut self,
        id: PeerId,
        accepted: u32,
        durable: &Stored,
    ) -> Result<(), Violation> {
        if durable.accepted_epoch < accepted {
            return violation(
                "ack_durable",
                format!(
                    "server {id} sent ACKEPOCH for epoch {accepted}, its disk holds accepted epoch {}",
                    durable.accepted_epoch
                ),
            );
        }
        Ok(())
    }

    /// Server `id` sent LEADERINFO proposing `epoch`.
    pub fn leaderinfo_sent(
        &mut self,
        id: PeerId,
        epoch: u32,
        durable: &Stored,
    ) -> Result<(), Violation> {
        if durable.accepted_epoch < epoch {
            return violation(
                "ack_durable",
                format!(
                    "server {id} sent LEADERINFO({epoch}), its disk holds accepted epoch {}",
                    durable.accepted_epoch
                ),
            );
        }
        Ok(())
    }
}
