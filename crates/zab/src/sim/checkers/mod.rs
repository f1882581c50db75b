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

use crate::sim::storage::Stored;
use crate::{Message, PeerId, Status, Zxid};

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
    /// Invariants whose violations are let through, by name (see
    /// `SimOptions::disabled`).
    pub disabled: Vec<String>,
}

impl Checkers {
    /// `r`, unless it reports a disabled invariant.
    pub fn keep<T: Default>(&self, r: Result<T, Violation>) -> Result<T, Violation> {
        match r {
            Err(v) if self.disabled.iter().any(|d| d == v.invariant) => Ok(T::default()),
            r => r,
        }
    }

    pub fn status(&mut self, s: &Status) -> Result<(), Violation> {
        let r = self.one_leader.observe(s);
        self.keep(r)
    }

    pub fn proposed(
        &mut self,
        leader: PeerId,
        zxid: Zxid,
        payload: &Bytes,
    ) -> Result<(), Violation> {
        let r = self.integrity.proposed(leader, zxid, payload);
        self.keep(r)
    }

    /// Server `id` applied `(zxid, payload)` on top of `state`.
    pub fn delivered(
        &mut self,
        id: PeerId,
        state: &[(Zxid, Bytes)],
        zxid: Zxid,
        payload: &Bytes,
    ) -> Result<(), Violation> {
        let r = self.integrity.delivered(id, zxid, payload);
        self.keep(r)?;
        let r = self.durability.delivered(id, state, zxid);
        self.keep(r)?;
        let r = self.agreement.delivered(id, state.len(), zxid, payload);
        if self.keep(r)? {
            let r = self.primary_order.committed(self.agreement.global());
            self.keep(r)?;
        }
        Ok(())
    }

    /// Server `id` (re)built its state (restart or SNAP).
    pub fn recovered(&mut self, id: PeerId, state: &[(Zxid, Bytes)]) -> Result<(), Violation> {
        let r = self
            .durability
            .recovered(id, state, self.agreement.global());
        self.keep(r)
    }

    /// Server `id` ends the run with `state`.
    pub fn complete(&self, id: PeerId, state: &[(Zxid, Bytes)]) -> Result<(), Violation> {
        let r = self.durability.complete(id, state, self.agreement.global());
        self.keep(r)
    }

    /// Server `id`, whose engine has accepted epoch `accepted`, sends `msg`
    /// with `durable` on its disk.
    pub fn sent(
        &mut self,
        id: PeerId,
        msg: &Message,
        accepted: u32,
        durable: &Stored,
    ) -> Result<(), Violation> {
        let r = match msg {
            Message::Ack { zxid } => self.ack_durable.ack_sent(id, *zxid, durable),
            Message::AckEpoch { .. } => self.ack_durable.ackepoch_sent(id, accepted, durable),
            Message::LeaderInfo { epoch } => self.ack_durable.leaderinfo_sent(id, *epoch, durable),
            _ => Ok(()),
        };
        self.keep(r)
    }
}
