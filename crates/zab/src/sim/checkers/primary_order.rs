//! Primary order.
//!
//! ZAB paper, section III, Local primary order (if a primary broadcasts
//! ⟨v, z⟩ before ⟨v', z'⟩, a process that delivers ⟨v', z'⟩ delivers ⟨v, z⟩
//! before it) and Global primary order (transactions of an earlier primary
//! come first). A primary numbers its proposals 1, 2, 3, ... within its
//! epoch, so on the committed sequence: epochs never go back, and within an
//! epoch the counters run without a gap from the epoch's first proposal.

use bytes::Bytes;

use super::{violation, Violation};
use crate::Zxid;

#[derive(Debug, Default)]
pub struct PrimaryOrder {
    /// Where the run started (the servers' initial snapshot).
    pub base: Zxid,
}

impl PrimaryOrder {
    /// The global sequence just grew by one entry.
    pub fn committed(&mut self, global: &[(Zxid, Bytes)]) -> Result<(), Violation> {
        let Some(&(z, _)) = global.last() else {
            return Ok(());
        };
        let prev = global
            .len()
            .checked_sub(2)
            .map_or(self.base, |i| global[i].0);
        let ok = if z.epoch() == prev.epoch() {
            prev.counter().checked_add(1) == Some(z.counter())
        } else {
            z.epoch() > prev.epoch() && z.counter() == 1
        };
        if !ok {
            return violation(
                "primary_order",
                format!("{z:?} committed right after {prev:?}: a primary's proposal was skipped or reordered"),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_of_u32_max_is_reported_not_an_overflow() {
        let e = |c| (Zxid::new(1, c), Bytes::new());
        let mut p = PrimaryOrder::default();
        let global = vec![e(1), e(2)];
        assert_eq!(p.committed(&global), Ok(()));
        let global = vec![e(u32::MAX), e(0)];
        assert!(p.committed(&global).is_err());
    }
}
