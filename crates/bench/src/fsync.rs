//! The disk's raw fsync rate, measured in the same run as the servers and on the filesystem of
//! their data directories: a serial loop that writes one txn-sized record at the next offset of
//! a preallocated file and fdatasyncs it, one at a time. That is what a server which fsyncs
//! every write on its own does, so the loop's rate is the most writes per second such an
//! unbatched server could acknowledge; a server above it shares fsyncs between writes (group
//! commit). The suite runs the loop before and after the throughput workloads (disks drift)
//! and divides by the mean of the two.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::hist::Histogram;
use crate::json::Json;
use crate::procfs::Mount;

/// Bytes written before each fdatasync: one txn of the write workloads as the servers log it.
/// ZooKeeper 3.8 frames a txn as checksum (8) + length (4) + TxnHeader (32) + the txn + its
/// digest (12) + an end byte (1): a setData of 100 bytes on `/b/d/n1234` is 179 bytes, a
/// create of 100 bytes with the open ACL at a ~18-character path 215. Corral's frame (16 bytes)
/// around its own encoding comes to about the same (~170 and ~215).
pub const RECORD_BYTES: usize = 200;

/// The probe file is preallocated like both servers' txn logs (`preAllocSize`, 64 MiB): extended
/// to this size (zeros, blocks not yet written, as both servers do it), synced, then overwritten
/// sequentially from offset 0.
pub const PREALLOC_BYTES: u64 = 64 << 20;

/// At most this many fsyncs per loop, whatever the time (a disk that acknowledges fsync without
/// flushing would otherwise run through the file): 200,000 records of 200 bytes fill 40 MB of
/// the 64 MiB.
pub const MAX_FSYNCS: u64 = 200_000;

/// Which of the suite's two loops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    BeforeWorkloads,
    AfterWorkloads,
}

impl When {
    pub fn name(self) -> &'static str {
        match self {
            When::BeforeWorkloads => "before the workloads",
            When::AfterWorkloads => "after the workloads",
        }
    }

    fn key(self) -> &'static str {
        match self {
            When::BeforeWorkloads => "before",
            When::AfterWorkloads => "after",
        }
    }
}

/// One loop's figures. Latency is one iteration: the record's write plus its fdatasync.
#[derive(Debug, Clone)]
pub struct FsyncLoop {
    pub when: When,
    pub fsyncs: u64,
    pub secs: f64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

impl FsyncLoop {
    /// fsyncs per second; NaN when the loop took no time.
    pub fn per_sec(&self) -> f64 {
        if self.secs > 0.0 {
            self.fsyncs as f64 / self.secs
        } else {
            f64::NAN
        }
    }

    fn to_json(&self) -> Json {
        Json::obj()
            .with("when", self.when.key())
            .with("fsyncs", self.fsyncs)
            .with("secs", self.secs)
            .with("fsyncs_per_sec", self.per_sec())
            .with(
                "latency_us",
                Json::obj()
                    .with("mean", self.mean_us)
                    .with("p50", self.p50_us)
                    .with("p99", self.p99_us)
                    .with("max", self.max_us),
            )
    }
}

/// The suite's loops and where they ran.
#[derive(Debug, Clone)]
pub struct FsyncProbe {
    /// The directory of the probe file (next to the servers' data directories).
    pub dir: PathBuf,
    pub mount: Option<Mount>,
    pub loops: Vec<FsyncLoop>,
}

impl FsyncProbe {
    pub fn new(dir: PathBuf) -> FsyncProbe {
        let mount = crate::procfs::mount_of(&dir);
        FsyncProbe {
            dir,
            mount,
            loops: Vec::new(),
        }
    }

    /// The mean fsyncs/s of the loops that measured a rate: what the group-commit ratios
    /// divide by. `None` when no loop did.
    pub fn mean_per_sec(&self) -> Option<f64> {
        let rates: Vec<f64> = self
            .loops
            .iter()
            .map(FsyncLoop::per_sec)
            .filter(|r| r.is_finite() && *r > 0.0)
            .collect();
        if rates.is_empty() {
            None
        } else {
            Some(rates.iter().sum::<f64>() / rates.len() as f64)
        }
    }

    /// The filesystem, for the report: `ext4 (/dev/vda on /)`, or the directory when unknown.
    pub fn filesystem(&self) -> String {
        match &self.mount {
            Some(m) => format!("{} ({} on {})", m.fstype, m.device, m.point),
            None => format!("the filesystem of {}", self.dir.display()),
        }
    }

    pub fn to_json(&self) -> Json {
        Json::obj()
            .with("dir", self.dir.display().to_string())
            .with("filesystem", self.mount.as_ref().map(|m| m.fstype.clone()))
            .with("device", self.mount.as_ref().map(|m| m.device.clone()))
            .with("mount_point", self.mount.as_ref().map(|m| m.point.clone()))
            .with(
                "mount_options",
                self.mount.as_ref().map(|m| m.options.clone()),
            )
            .with("record_bytes", RECORD_BYTES)
            .with("preallocated_bytes", PREALLOC_BYTES)
            .with("max_fsyncs_per_loop", MAX_FSYNCS)
            .with(
                "method",
                "serial: write one record at the next offset, fdatasync, repeat; one fsync at a \
                 time is the most an unbatched server could acknowledge",
            )
            .with(
                "loops",
                Json::Arr(self.loops.iter().map(FsyncLoop::to_json).collect()),
            )
            .with("mean_fsyncs_per_sec", self.mean_per_sec())
    }
}

/// Runs one loop in `dir` for `duration` or `max_fsyncs` fsyncs, whichever ends first (and at
/// most as many records as the preallocated file holds). Blocks; the file is removed after.
pub fn measure(dir: &Path, when: When, duration: Duration, max_fsyncs: u64) -> Result<FsyncLoop> {
    let path = dir.join("fsync-probe.log");
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.set_len(PREALLOC_BYTES)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("preallocating {}", path.display()))?;
    let record = [b'x'; RECORD_BYTES];
    let limit = max_fsyncs.min(PREALLOC_BYTES / RECORD_BYTES as u64);
    let hist = Histogram::new();
    let start = Instant::now();
    let end = start + duration;
    let mut fsyncs = 0u64;
    while fsyncs < limit {
        let t = Instant::now();
        if t >= end {
            break;
        }
        file.write_all_at(&record, fsyncs * RECORD_BYTES as u64)
            .and_then(|()| file.sync_data())
            .with_context(|| format!("writing and syncing {}", path.display()))?;
        hist.record(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
        fsyncs += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    drop(file);
    fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    Ok(FsyncLoop {
        when,
        fsyncs,
        secs,
        mean_us: hist.mean_ns() / 1000.0,
        p50_us: hist.quantile_ns(0.5) / 1000.0,
        p99_us: hist.quantile_ns(0.99) / 1000.0,
        max_us: hist.max_ns() as f64 / 1000.0,
    })
}

/// Writes per raw fsync: a server's writes/s over the loop's fsyncs/s. Above 1, several writes
/// shared one fsync (group commit). NaN without a rate to divide by.
pub fn writes_per_fsync(writes_per_sec: f64, fsyncs_per_sec: Option<f64>) -> f64 {
    match fsyncs_per_sec {
        Some(f) if f > 0.0 && f.is_finite() => writes_per_sec / f,
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fsync_loop(when: When, fsyncs: u64, secs: f64) -> FsyncLoop {
        FsyncLoop {
            when,
            fsyncs,
            secs,
            mean_us: 1.0,
            p50_us: 1.0,
            p99_us: 2.0,
            max_us: 3.0,
        }
    }

    #[test]
    fn rates_and_their_mean() {
        let mut p = FsyncProbe {
            dir: "d".into(),
            mount: None,
            loops: Vec::new(),
        };
        assert_eq!(p.mean_per_sec(), None);
        p.loops.push(fsync_loop(When::BeforeWorkloads, 3000, 1.5));
        assert_eq!(p.loops[0].per_sec(), 2000.0);
        assert_eq!(p.mean_per_sec(), Some(2000.0));
        p.loops.push(fsync_loop(When::AfterWorkloads, 1000, 1.0));
        assert_eq!(p.mean_per_sec(), Some(1500.0));
        // A loop without a rate (no time, no fsync) does not drag the mean down.
        p.loops.push(fsync_loop(When::AfterWorkloads, 0, 0.0));
        assert!(p.loops[2].per_sec().is_nan());
        p.loops.push(fsync_loop(When::AfterWorkloads, 0, 1.0));
        assert_eq!(p.mean_per_sec(), Some(1500.0));
        assert_eq!(p.filesystem(), "the filesystem of d");
        let json = p.to_json().render();
        assert!(json.contains("\"mean_fsyncs_per_sec\": 1500"), "{json}");
        assert!(json.contains("\"when\": \"before\""), "{json}");
        assert!(json.contains("\"record_bytes\": 200"), "{json}");
    }

    #[test]
    fn writes_per_fsync_divides_by_a_real_rate_only() {
        assert_eq!(writes_per_fsync(3000.0, Some(1500.0)), 2.0);
        assert_eq!(writes_per_fsync(750.0, Some(1500.0)), 0.5);
        assert!(writes_per_fsync(3000.0, None).is_nan());
        assert!(writes_per_fsync(3000.0, Some(0.0)).is_nan());
        assert!(writes_per_fsync(3000.0, Some(f64::NAN)).is_nan());
    }

    #[test]
    fn the_loop_stops_at_its_count_bound_and_cleans_up() {
        // A generous time and a small count: the count ends it (no assertion on time).
        let dir = std::env::temp_dir().join(format!("corral-bench-fsync-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let l = measure(&dir, When::BeforeWorkloads, Duration::from_secs(600), 3).unwrap();
        assert_eq!(l.fsyncs, 3);
        assert_eq!(l.when, When::BeforeWorkloads);
        assert!(!dir.join("fsync-probe.log").exists());
        // No time at all: no fsync, and no rate.
        let l = measure(&dir, When::AfterWorkloads, Duration::ZERO, 3).unwrap();
        assert_eq!(l.fsyncs, 0);
        assert!(l.p50_us.is_nan());
        fs::remove_dir_all(&dir).unwrap();
    }
}
