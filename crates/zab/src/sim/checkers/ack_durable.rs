//! A follower acknowledges only what is on its stable storage.
//!
//! ZAB paper, section III-B (phase 3, broadcast: a follower accepts a
//! proposal by writing it to its history on stable storage, then
//! acknowledges) and ZooKeeper's pipeline (`SyncRequestProcessor` before
//! `SendAckRequestProcessor`). Checked when an ACK actually leaves a server:
//! the acknowledged zxid (or, for NEWLEADER, the new current epoch) must
//! already be on the durable part of its disk.

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
}
