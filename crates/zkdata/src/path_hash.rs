//! The hasher of the tree's path map: a multiply-rotate hash of 8 bytes at a time (the
//! scheme rustc's FxHasher uses), several times cheaper than std's SipHash on paths.
//!
//! SipHash's point is resistance to keys chosen to collide. The keys here are the paths in
//! an operator's own ZooKeeper files, read once by an offline tool, so that resistance buys
//! nothing and its cost was a tenth of a 1,000,000-znode import.

use std::hash::{BuildHasherDefault, Hasher};

/// The multiplier (an odd constant with well-spread bits; rustc's FxHasher's).
const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// See the module docs.
#[derive(Default, Clone, Copy)]
pub(crate) struct PathHasher {
    hash: u64,
}

impl PathHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for PathHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, b: u8) {
        self.add(u64::from(b));
    }

    /// The state, its high bits folded into the low ones (MurmurHash3's fmix64): a multiply
    /// moves bits only upwards, and the map picks a bucket by the low bits, so without this
    /// the last bytes of `/p1/n345` would not choose the bucket.
    fn finish(&self) -> u64 {
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

/// The `BuildHasher` of [`PathHasher`].
pub(crate) type PathState = BuildHasherDefault<PathHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    #[test]
    fn paths_that_differ_hash_apart() {
        let s = PathState::default();
        let mut seen = HashSet::new();
        for i in 0..10_000 {
            for p in [
                format!("/imp/p{}/n{}", i / 1000, i % 1000),
                format!("/a{i}"),
            ] {
                assert!(seen.insert(s.hash_one(p.as_str())), "collision at {p}");
            }
        }
        // The low bits (a bucket of a map of 2^20) tell apart paths that differ only in
        // their last bytes.
        let buckets: HashSet<u64> = (0..1000)
            .map(|i| s.hash_one(format!("/imp/p1/n{i}").as_str()) & ((1 << 20) - 1))
            .collect();
        assert!(buckets.len() > 990, "{} buckets of 1000", buckets.len());
        // Same bytes, same hash; a trailing byte past 8 matters.
        assert_eq!(s.hash_one("/zookeeper"), s.hash_one("/zookeeper"));
        assert_ne!(s.hash_one("/abcdefgh"), s.hash_one("/abcdefg"));
    }
}
