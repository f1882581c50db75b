//! At most one established leader per epoch.
//!
//! ZAB paper, section III (Primary uniqueness, as the paper's "a primary is
//! established for an epoch" and the uniqueness of the epoch a quorum
//! accepted): two processes can never both be the established leader of the
//! same epoch, at any time, even if one of them is long gone.

use std::collections::BTreeMap;

use super::{violation, Violation};
use crate::{PeerId, Role, Status};

#[derive(Debug, Default)]
pub struct OneLeaderPerEpoch {
    leaders: BTreeMap<u32, PeerId>,
}

impl OneLeaderPerEpoch {
    pub fn observe(&mut self, s: &Status) -> Result<(), Violation> {
        if s.role != Role::Leading || !s.established {
            return Ok(());
        }
        let first = *self.leaders.entry(s.epoch).or_insert(s.id);
        if first != s.id {
            return violation(
                "one_leader_per_epoch",
                format!(
                    "servers {first} and {} both established leaders of epoch {}",
                    s.id, s.epoch
                ),
            );
        }
        Ok(())
    }

    pub fn epochs(&self) -> usize {
        self.leaders.len()
    }
}
