//! The ZooKeeper transaction id, one type for every crate that orders history.
//!
//! A zxid is 64 bits: the epoch of the leader that proposed the transaction in the
//! high 32, a counter that leader increments per proposal in the low 32
//! (ZooKeeper's `ZxidUtils`). corral-datatree stamps it into every Stat, corral-storage
//! names log segments and snapshots by it, corral-zab elects and synchronises by it;
//! all three use this [`Zxid`], so history is ordered one way everywhere: as the
//! unsigned number it is. (Compared as ZooKeeper's signed `long`, every zxid of epoch
//! 2^31 and above would sort before epoch 0.)
//!
//! What it is not: a wire type. ZooKeeper's records carry zxids as jute `long`s, and
//! some replies carry values that are no zxid at all (`-1` on a watch notification,
//! `-2` on a ping), so corral-jute keeps `i64` and converts at the boundary with
//! [`Zxid::from_wire`] / [`Zxid::to_wire`]. This crate has no dependencies.
//!
//! ```
//! use corral_zxid::Zxid;
//!
//! let z = Zxid::new(2, 7);
//! assert_eq!((z.epoch(), z.counter()), (2, 7));
//! assert_eq!(z.to_string(), "0x200000007");
//! assert_eq!(Zxid::from_wire(z.to_wire()), z);
//! // Epochs past the sign bit of ZooKeeper's long still sort last.
//! assert!(Zxid::new(0x8000_0000, 0) > Zxid::new(1, 5));
//! assert_eq!(z.next(), Some(Zxid::new(2, 8)));
//! ```

use std::fmt;

/// A ZooKeeper transaction id: the high 32 bits are the epoch of the leader
/// that proposed the transaction, the low 32 bits a counter that leader
/// increments for every proposal (ZooKeeper `ZxidUtils.makeZxid`).
///
/// Zxids order the whole history: comparing two zxids compares epochs first,
/// then counters. Counter `0` of an epoch names "the epoch itself" (the zxid a
/// new leader sends in NEWLEADER); proposals start at counter `1`. Counter
/// `0xffff_ffff` is never used: a leader whose next proposal would need it
/// refuses it and steps down so that a new epoch starts (corral-zab's
/// `ZabError::ZxidRollover`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Zxid(pub u64);

impl Zxid {
    /// The zxid before any transaction: epoch 0, counter 0.
    pub const ZERO: Zxid = Zxid(0);
    /// The largest counter a proposal may carry; `0xffff_ffff` is reserved.
    pub const MAX_COUNTER: u32 = u32::MAX - 1;
    /// The largest epoch a leader may propose. `0xffff_ffff` is reserved, as
    /// in ZooKeeper, whose ACKEPOCH reads the epoch as a signed int where it
    /// is -1, "no epoch": a FOLLOWERINFO or LEADERINFO carrying it is a
    /// protocol error. Once a server has accepted `MAX_EPOCH` there is no
    /// epoch after it to lead (corral-zab's `ZabError::EpochsExhausted`).
    pub const MAX_EPOCH: u32 = u32::MAX - 1;

    /// `epoch << 32 | counter`.
    pub const fn new(epoch: u32, counter: u32) -> Zxid {
        Zxid(((epoch as u64) << 32) | counter as u64)
    }

    /// The epoch of the leader that proposed this transaction.
    pub const fn epoch(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The position of the transaction within its epoch.
    pub const fn counter(self) -> u32 {
        self.0 as u32
    }

    /// The zxid as ZooKeeper's records carry it: a jute `long`, the same 64 bits.
    pub const fn to_wire(self) -> i64 {
        self.0 as i64
    }

    /// The zxid a jute `long` carries (the same 64 bits, read as unsigned).
    pub const fn from_wire(wire: i64) -> Zxid {
        Zxid(wire as u64)
    }

    /// The zxid right after this one in log order (`None` past the last one). Unlike
    /// [`Zxid::successor_in`] this is plain order, for seeking: the counter may carry
    /// into the epoch.
    pub const fn next(self) -> Option<Zxid> {
        match self.0.checked_add(1) {
            Some(n) => Some(Zxid(n)),
            None => None,
        }
    }

    /// The zxid a leader of `epoch` assigns to the proposal that follows
    /// `self` (the last zxid in its log): the next counter of the same epoch,
    /// or counter 1 of `epoch` when `self` belongs to an earlier one.
    /// `None` when the counter would reach the reserved `0xffff_ffff`.
    pub fn successor_in(self, epoch: u32) -> Option<Zxid> {
        if self.epoch() == epoch {
            if self.counter() >= Zxid::MAX_COUNTER {
                None
            } else {
                Some(Zxid(self.0 + 1))
            }
        } else {
            Some(Zxid::new(epoch, 1))
        }
    }
}

impl fmt::Debug for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.epoch(), self.counter())
    }
}

impl fmt::Display for Zxid {
    /// ZooKeeper prints zxids in hex: `0x200000001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

impl fmt::LowerHex for Zxid {
    /// The 64 bits in hex, as the names of ZooKeeper's files (`log.200000001`) spell them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_zxid_utils() {
        let z = Zxid::new(2, 7);
        assert_eq!(z.0, 0x2_0000_0007);
        assert_eq!((z.epoch(), z.counter()), (2, 7));
        assert_eq!(z.to_string(), "0x200000007");
        assert_eq!(format!("{z:?}"), "2:7");
        assert_eq!(
            format!("{z:x} {z:#x} {:016x}", Zxid(1)),
            "200000007 0x200000007 0000000000000001"
        );
        assert!(Zxid::new(1, u32::MAX) < Zxid::new(2, 0));
    }

    #[test]
    fn successor_moves_to_the_new_epoch_and_stops_before_rollover() {
        assert_eq!(Zxid::new(1, 5).successor_in(1), Some(Zxid::new(1, 6)));
        assert_eq!(Zxid::new(1, 5).successor_in(3), Some(Zxid::new(3, 1)));
        assert_eq!(Zxid::ZERO.successor_in(1), Some(Zxid::new(1, 1)));
        let last = Zxid::new(4, Zxid::MAX_COUNTER);
        assert_eq!(last.successor_in(4), None);
        assert_eq!(last.successor_in(5), Some(Zxid::new(5, 1)));
    }

    #[test]
    fn orders_as_unsigned_and_round_trips_the_wire_long() {
        let ordered = [
            Zxid::new(0, 0),
            Zxid::new(1, 5),
            Zxid::new(0x7fff_ffff, 0xffff_ffff),
            Zxid::new(0x8000_0000, 0),
            Zxid::new(0x8000_0000, 1),
            Zxid::new(0xffff_fffe, 7),
            Zxid::new(0xffff_ffff, 0),
            Zxid::new(0xffff_ffff, 0xffff_ffff),
        ];
        for w in ordered.windows(2) {
            assert!(w[0] < w[1], "{} {}", w[0], w[1]);
            assert_eq!(w[0].next().map(|n| n <= w[1]), Some(true));
        }
        for z in ordered {
            assert_eq!(Zxid::from_wire(z.to_wire()), z);
        }
        assert!(Zxid::new(0x8000_0000, 0).to_wire() < 0);
        assert_eq!(
            Zxid::new(0x7fff_ffff, 0xffff_ffff).next(),
            Some(Zxid::new(0x8000_0000, 0))
        );
        assert_eq!(Zxid(u64::MAX).next(), None);
    }
}
