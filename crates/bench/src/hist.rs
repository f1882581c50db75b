//! A log-linear latency histogram (HdrHistogram's layout, ~1.6% bucket width) with atomic
//! counters, so every worker of a run records into one shared histogram without a lock.

use std::sync::atomic::{AtomicU64, Ordering};

/// Sub-buckets per power of two: 2^SUB_BITS. Relative bucket width is 1/2^SUB_BITS.
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Values up to 2^MAX_BITS ns (about 137 s) are kept exactly to a bucket; larger ones are
/// clamped into the last bucket.
const MAX_BITS: u32 = 37;
const BUCKETS: usize = (MAX_BITS - SUB_BITS + 1) as usize * SUB as usize;

/// Latencies in nanoseconds.
pub struct Histogram {
    counts: Vec<AtomicU64>,
    total: AtomicU64,
    sum_ns: AtomicU64,
    max_ns: AtomicU64,
}

fn index(v: u64) -> usize {
    let v = v.min((1u64 << MAX_BITS) - 1);
    if v < 2 * SUB {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // >= SUB_BITS + 1
    let shift = exp - SUB_BITS;
    (shift as usize + 1) * SUB as usize + ((v >> shift) - SUB) as usize
}

/// The middle of bucket `i`.
fn value_of(i: usize) -> u64 {
    if i < 2 * SUB as usize {
        return i as u64;
    }
    let shift = (i / SUB as usize - 1) as u32;
    let sub = (i % SUB as usize) as u64 + SUB;
    (sub << shift) + (1u64 << shift) / 2
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            total: AtomicU64::new(0),
            sum_ns: AtomicU64::new(0),
            max_ns: AtomicU64::new(0),
        }
    }

    pub fn record(&self, ns: u64) {
        self.counts[index(ns)].fetch_add(1, Ordering::Relaxed);
        self.total.fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
        self.max_ns.fetch_max(ns, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub fn mean_ns(&self) -> f64 {
        let n = self.count();
        if n == 0 {
            return f64::NAN;
        }
        self.sum_ns.load(Ordering::Relaxed) as f64 / n as f64
    }

    pub fn max_ns(&self) -> u64 {
        self.max_ns.load(Ordering::Relaxed)
    }

    /// The value at quantile `q` (0..=1), in ns; NaN when empty.
    pub fn quantile_ns(&self, q: f64) -> f64 {
        let n = self.count();
        if n == 0 {
            return f64::NAN;
        }
        // The smallest value with at least ceil(q * n) samples at or below it.
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c.load(Ordering::Relaxed);
            if seen >= rank {
                return (value_of(i) as f64).min(self.max_ns() as f64);
            }
        }
        self.max_ns() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_monotonic_and_value_inside_bucket() {
        let mut last = 0;
        let small = 0..200_000u64;
        let large = (10..MAX_BITS).flat_map(|b| [(1u64 << b) - 1, 1u64 << b, (1u64 << b) + 1]);
        let mut values: Vec<u64> = small.chain(large).collect();
        values.sort_unstable();
        for v in values {
            let i = index(v);
            assert!(i >= last && i < BUCKETS, "v={v}");
            last = i;
            let mid = value_of(i);
            let err = (mid as f64 - v as f64).abs() / (v.max(1) as f64);
            assert!(err <= 1.0 / SUB as f64, "v={v} mid={mid}");
        }
        assert_eq!(index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles() {
        let h = Histogram::new();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let p50 = h.quantile_ns(0.5);
        assert!((p50 - 500_000.0).abs() / 500_000.0 < 0.02, "{p50}");
        let p99 = h.quantile_ns(0.99);
        assert!((p99 - 990_000.0).abs() / 990_000.0 < 0.02, "{p99}");
        assert_eq!(h.quantile_ns(1.0), 1_000_000.0);
        assert_eq!(h.count(), 1000);
        assert!(Histogram::new().quantile_ns(0.5).is_nan());
    }
}
