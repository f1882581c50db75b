//! A delivered proposal was proposed.
//!
//! ZAB paper, section III, Integrity: if some process delivers ⟨v, z⟩, then
//! some process has broadcast ⟨v, z⟩. Also, a zxid names one proposal only:
//! two primaries never hand out the same zxid.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::{violation, Violation};
use crate::{PeerId, Zxid};

#[derive(Debug, Default)]
pub struct Integrity {
    proposals: BTreeMap<Zxid, (PeerId, Bytes)>,
}

impl Integrity {
    pub fn proposed(
        &mut self,
        leader: PeerId,
        zxid: Zxid,
        payload: &Bytes,
    ) -> Result<(), Violation> {
        if let Some((other, p)) = self.proposals.get(&zxid) {
            if p != payload {
                return violation(
                    "integrity",
                    format!("zxid {zxid:?} proposed by {other} and again by {leader} with another payload"),
                );
            }
        }
        self.proposals.insert(zxid, (leader, payload.clone()));
        Ok(())
    }

    pub fn delivered(&mut self, id: PeerId, zxid: Zxid, payload: &Bytes) -> Result<(), Violation> {
        match self.proposals.get(&zxid) {
            Some((_, p)) if p == payload => Ok(()),
            Some(_) => violation(
                "integrity",
                format!("server {id} delivered {zxid:?} with a changed payload"),
            ),
            None => violation(
                "integrity",
                format!("server {id} delivered {zxid:?}, which nobody proposed"),
            ),
        }
    }

    pub fn count(&self) -> usize {
        self.proposals.len()
    }
}
