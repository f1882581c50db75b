//! The properties checked after every step, one module per property. Each
//! cites where it comes from: the ZAB paper (Junqueira, Reed, Serafini,
//! "Zab: High-performance broadcast for primary-backup systems", DSN 2011,
//! section III) or ZooKeeper's implementation.

mod ack_durable;
mod agreement;
mod durability;
mod integrity;
mod one_leader;
mod primary_order;

use bytes::Bytes;

use crate::{PeerId, Status, Zxid};

pub use ack_durable::AckDurable;
pub use agreement::Agreement;
pub use durability::Durability;
pub use integrity::Integrity;
pub use one_leader::OneLeaderPerEpoch;
pub use primary_order::PrimaryOrder;

/// A broken property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The checker that caught it.
    pub invariant: &'static str,
    /// What it saw.
    pub detail: String,
}

pub(crate) fn violation(invariant: &'static str, detail: String) -> Result<(), Violation> {
    Err(Violation { invariant, detail })
}

/// Every checker, fed by the simulator.
#[derive(Debug, Default)]
pub struct Checkers {
    pub one_leader: OneLeaderPerEpoch,
    pub agreement: Agreement,
    pub durability: Durability,
    pub primary_order: PrimaryOrder,
    pub integrity: Integrity,
    pub ack_durable: AckDurable,
}

impl Checkers {
    pub fn status(&mut self, s: &Status) -> Result<(), Violation> {
        self.one_leader.observe(s)
    }

    pub fn proposed(
        &mut self,
        leader: PeerId,
        zxid: Zxid,
        payload: &Bytes,
    ) -> Result<(), Violation> {
        self.integrity.proposed(leader, zxid, payload)
    }

    /// Server `id` applied `(zxid, payload)` on top of `state`.
    pub fn delivered(
        &mut self,
        id: PeerId,
        state: &[(Zxid, Bytes)],
        zxid: Zxid,
        payload: &Bytes,
    ) -> Result<(), Violation> {
        self.integrity.delivered(id, zxid, payload)?;
        self.durability.delivered(id, state, zxid)?;
        let appended = self.agreement.delivered(id, state.len(), zxid, payload)?;
        if appended {
            self.primary_order.committed(self.agreement.global())?;
        }
        Ok(())
    }

    /// Server `id` (re)built its state (restart or SNAP).
    pub fn recovered(&mut self, id: PeerId, state: &[(Zxid, Bytes)]) -> Result<(), Violation> {
        self.durability
            .recovered(id, state, self.agreement.global())
    }
}
