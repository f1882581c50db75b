//! When to snapshot (ZooKeeper's `SyncRequestProcessor` rule) and what to purge (ZooKeeper's
//! `PurgeTxnLog` rule). Both are pure or take their inputs from the caller: this crate reads
//! no clock and no RNG.

use crate::Zxid;
use std::path::PathBuf;

use crate::view::LogView;
use crate::{SnapshotStore, StorageError};

/// ZooKeeper's snapshot trigger. After each snapshot the caller draws a fresh
/// `random_roll` uniformly from `0..roll_bound()` (and a `size_roll` from
/// `0..size_roll_bound()`), so the servers of an ensemble do not all snapshot at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapPolicy {
    /// ZooKeeper's `snapCount` (default 100,000).
    pub snap_count: u64,
    /// ZooKeeper's `zookeeper.snapSizeLimitInKb` in bytes (default 4 GiB; 0 disables).
    pub snap_size_bytes: u64,
}

impl Default for SnapPolicy {
    fn default() -> Self {
        SnapPolicy {
            snap_count: 100_000,
            snap_size_bytes: 4 << 30,
        }
    }
}

impl SnapPolicy {
    /// The exclusive upper bound of `random_roll`: `snap_count / 2` (at least 1).
    pub fn roll_bound(&self) -> u64 {
        (self.snap_count / 2).max(1)
    }

    /// The exclusive upper bound of `size_roll`: `snap_size_bytes / 2` (at least 1).
    pub fn size_roll_bound(&self) -> u64 {
        (self.snap_size_bytes / 2).max(1)
    }

    /// True when `txns_since_last > snap_count / 2 + random_roll`: a snapshot every
    /// `snap_count / 2 ..= snap_count` txns. A roll out of range is taken modulo the bound.
    pub fn should_snapshot(&self, txns_since_last: u64, random_roll: u64) -> bool {
        txns_since_last > self.snap_count / 2 + random_roll % self.roll_bound()
    }

    /// The size half of ZooKeeper's rule: `bytes_since_last > snap_size_bytes / 2 +
    /// size_roll`; never when the size limit is 0.
    pub fn should_snapshot_for_size(&self, bytes_since_last: u64, size_roll: u64) -> bool {
        self.snap_size_bytes > 0
            && bytes_since_last > self.snap_size_bytes / 2 + size_roll % self.size_roll_bound()
    }
}

/// ZooKeeper's lower limit on `autopurge.snapRetainCount`.
pub const MIN_SNAP_RETAIN_COUNT: usize = 3;

/// What [`purge`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// The zxid of the oldest snapshot kept (`None`: nothing to purge against).
    pub oldest_kept: Option<Zxid>,
    /// Snapshot files removed.
    pub removed_snapshots: Vec<PathBuf>,
    /// Log segments removed.
    pub removed_segments: Vec<PathBuf>,
}

/// ZooKeeper's `PurgeTxnLog.purge`: keeps the newest `retain_count` complete snapshots (at
/// least [`MIN_SNAP_RETAIN_COUNT`]) and the log segments needed to replay from the oldest
/// kept one (the segment holding its zxid and every later one); removes older snapshots and
/// segments. The interval (`autopurge.purgeInterval`) is the caller's to schedule.
pub fn purge(
    snapshots: &SnapshotStore,
    log: &LogView,
    retain_count: usize,
) -> Result<PurgeReport, StorageError> {
    let retain = if retain_count < MIN_SNAP_RETAIN_COUNT {
        tracing::warn!(
            retain_count,
            "autopurge.snapRetainCount below {MIN_SNAP_RETAIN_COUNT}; using {MIN_SNAP_RETAIN_COUNT}"
        );
        MIN_SNAP_RETAIN_COUNT
    } else {
        retain_count
    };
    let all = snapshots.list()?;
    let kept: Vec<Zxid> = all
        .iter()
        .rev()
        .filter(|(_, p)| SnapshotStore::looks_complete(p))
        .take(retain)
        .map(|&(z, _)| z)
        .collect();
    let Some(&oldest) = kept.last() else {
        return Ok(PurgeReport::default());
    };
    let doomed: Vec<PathBuf> = all
        .into_iter()
        .filter(|&(z, _)| oldest > z)
        .map(|(_, p)| p)
        .collect();
    snapshots.remove(&doomed)?;
    let removed_segments = log.remove_segments_before(oldest)?;
    Ok(PurgeReport {
        oldest_kept: Some(oldest),
        removed_snapshots: doomed,
        removed_segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_every_half_to_whole_snap_count() {
        let p = SnapPolicy {
            snap_count: 100,
            snap_size_bytes: 0,
        };
        assert_eq!(p.roll_bound(), 50);
        assert!(!p.should_snapshot(50, 0));
        assert!(p.should_snapshot(51, 0));
        assert!(!p.should_snapshot(99, 49));
        assert!(p.should_snapshot(100, 49));
        // Out-of-range rolls wrap instead of postponing forever.
        assert!(p.should_snapshot(51, 50));
        assert!(!p.should_snapshot_for_size(u64::MAX, 0));
        let tiny = SnapPolicy {
            snap_count: 1,
            snap_size_bytes: 10,
        };
        assert!(tiny.should_snapshot(1, 7));
        assert!(tiny.should_snapshot_for_size(6, 0));
        assert!(!tiny.should_snapshot_for_size(5, 0));
        assert!(!tiny.should_snapshot_for_size(9, 4));
    }
}
