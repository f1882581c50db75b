//! The order of zxids. A zxid is 64 bits, the epoch in the high 32 and a counter in the low
//! 32 (ZooKeeper's `ZxidUtils`; corral-zab's `Zxid(u64)`). The storage API carries it as
//! `i64` (the jute type ZooKeeper's server uses) but orders it as the unsigned number it is:
//! compared as `i64`, every zxid of epoch 2^31 and above would sort before epoch 0.

use std::cmp::Ordering;

/// The zxid as the unsigned number that orders it.
pub fn zxid_key(zxid: i64) -> u64 {
    zxid as u64
}

/// Compares two zxids in log order.
pub fn zxid_cmp(a: i64, b: i64) -> Ordering {
    zxid_key(a).cmp(&zxid_key(b))
}

/// `a` comes after `b` in log order.
pub(crate) fn after(a: i64, b: i64) -> bool {
    zxid_key(a) > zxid_key(b)
}

/// The zxid right after `zxid` (`None` past the last one).
pub(crate) fn next(zxid: i64) -> Option<i64> {
    zxid_key(zxid).checked_add(1).map(|n| n as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Epoch `e`, counter `c`.
    fn z(e: u64, c: u64) -> i64 {
        ((e << 32) | c) as i64
    }

    #[test]
    fn epochs_past_the_sign_bit_sort_after_the_ones_before() {
        let ordered = [
            z(0, 0),
            z(1, 5),
            z(0x7fff_ffff, 0xffff_ffff),
            z(0x8000_0000, 0),
            z(0x8000_0000, 1),
            z(0xffff_fffe, 7),
            z(0xffff_ffff, 0),
            z(0xffff_ffff, 0xffff_ffff),
        ];
        for w in ordered.windows(2) {
            assert_eq!(
                zxid_cmp(w[0], w[1]),
                Ordering::Less,
                "{:#x} {:#x}",
                w[0],
                w[1]
            );
            assert!(after(w[1], w[0]));
        }
        assert_eq!(next(z(0x7fff_ffff, 0xffff_ffff)), Some(z(0x8000_0000, 0)));
        assert_eq!(next(z(0xffff_ffff, 0xffff_ffff)), None);
    }
}
