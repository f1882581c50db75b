//! The disk's raw fsync rate, measured in the same run as the servers and on the filesystem of
//! their data directories: a serial loop that writes one txn-sized record at the next offset of
//! a preallocated file and fdatasyncs it, one at a time. That is what a server which fsyncs
//! every write on its own does, so the loop's rate is the most writes per second such an
//! unbatched server could acknowledge; a server above it shares fsyncs between writes (group
//! commit).
//!
//! The suite runs the loop before and after the throughput workloads (disks drift), each time
//! twice: with the CPUs left idle, and with every core kept busy by spinning threads (at
//! SCHED_IDLE priority), as the cores are while a server is under load. On a virtual machine an fdatasync that leaves its
//! CPU idle can return only at the next timer tick: on the Firecracker VMs this was written on,
//! 4 ms idle against 0.1 ms busy, on the same disk. The ratios divide by the faster of the two
//! conditions (the mean of its loops), the stricter ceiling.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::hist::Histogram;
use crate::json::{json, Json};
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

/// What the machine's other cores do while a loop runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cpus {
    /// Nothing of ours: the loop alone, as a lone process sees the disk.
    Idle,
    /// One spinning thread per core at SCHED_IDLE priority, so that no CPU goes idle, as
    /// under a server's load.
    Busy,
}

impl Cpus {
    pub const BOTH: [Cpus; 2] = [Cpus::Idle, Cpus::Busy];

    pub fn name(self) -> &'static str {
        match self {
            Cpus::Idle => "idle",
            Cpus::Busy => "kept busy",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Cpus::Idle => "idle",
            Cpus::Busy => "busy",
        }
    }
}

/// One loop's figures. Latency is one iteration: the record's write plus its fdatasync.
#[derive(Debug, Clone)]
pub struct FsyncLoop {
    pub when: When,
    pub cpus: Cpus,
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
        json!({
            "when": self.when.key(),
            "cpus": self.cpus.key(),
            "fsyncs": self.fsyncs,
            "secs": self.secs,
            "fsyncs_per_sec": self.per_sec(),
            "latency_us": {
                "mean": self.mean_us,
                "p50": self.p50_us,
                "p99": self.p99_us,
                "max": self.max_us,
            },
        })
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

    /// The mean fsyncs/s of the loops run with `cpus` that measured a rate; `None` when none
    /// did.
    pub fn mean_per_sec(&self, cpus: Cpus) -> Option<f64> {
        let rates: Vec<f64> = self
            .loops
            .iter()
            .filter(|l| l.cpus == cpus)
            .map(FsyncLoop::per_sec)
            .filter(|r| r.is_finite() && *r > 0.0)
            .collect();
        if rates.is_empty() {
            None
        } else {
            Some(rates.iter().sum::<f64>() / rates.len() as f64)
        }
    }

    /// The raw fsync rate the group-commit ratios divide by: the faster condition's mean, the
    /// most an unbatched server could acknowledge. `None` when no loop measured a rate.
    pub fn ceiling(&self) -> Option<(Cpus, f64)> {
        Cpus::BOTH
            .into_iter()
            .filter_map(|c| self.mean_per_sec(c).map(|r| (c, r)))
            .fold(None, |best, (c, r)| match best {
                Some((_, b)) if b >= r => best,
                _ => Some((c, r)),
            })
    }

    /// The fsyncs/s of the loop run `when` with `cpus`, if it ran.
    pub fn rate(&self, when: When, cpus: Cpus) -> Option<f64> {
        self.loops
            .iter()
            .find(|l| l.when == when && l.cpus == cpus)
            .map(FsyncLoop::per_sec)
    }

    /// The filesystem, for the report: `ext4 (/dev/vda on /)`, or the directory when unknown.
    pub fn filesystem(&self) -> String {
        match &self.mount {
            Some(m) => format!("{} ({} on {})", m.fstype, m.device, m.point),
            None => format!("the filesystem of {}", self.dir.display()),
        }
    }

    pub fn to_json(&self) -> Json {
        let mount = self.mount.as_ref();
        json!({
            "dir": self.dir.display().to_string(),
            "filesystem": mount.map(|m| &m.fstype),
            "device": mount.map(|m| &m.device),
            "mount_point": mount.map(|m| &m.point),
            "mount_options": mount.map(|m| &m.options),
            "record_bytes": RECORD_BYTES,
            "preallocated_bytes": PREALLOC_BYTES,
            "max_fsyncs_per_loop": MAX_FSYNCS,
            "method": "serial: write one record at the next offset, fdatasync, repeat; one fsync \
                at a time is the most an unbatched server could acknowledge. cpus idle: the loop \
                alone; busy: one spinning SCHED_IDLE thread per core meanwhile, as under a \
                server's load",
            "loops": self.loops.iter().map(FsyncLoop::to_json).collect::<Vec<_>>(),
            "mean_fsyncs_per_sec": {
                "idle": self.mean_per_sec(Cpus::Idle),
                "busy": self.mean_per_sec(Cpus::Busy),
            },
            "ratios_divide_by": self.ceiling().map(|(c, _)| c.key()),
            "raw_fsyncs_per_sec": self.ceiling().map(|(_, r)| r),
        })
    }
}

/// Threads that spin until dropped, one per core, at SCHED_IDLE priority: no CPU goes idle,
/// yet they only take time nothing else wants (any other thread that wakes, the loop's too,
/// preempts them at once; at normal priority they would delay its wake-ups by a time slice).
struct Spinners {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Spinners {
    fn start() -> Result<Spinners> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let mut spinners = Spinners {
            stop: stop.clone(),
            threads: Vec::new(),
        };
        for _ in 0..cores {
            let (stop, ready) = (stop.clone(), ready_tx.clone());
            spinners.threads.push(std::thread::spawn(move || {
                let idle = sched_idle();
                let ok = idle.is_ok();
                let _ = ready.send(idle);
                while ok && !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            }));
        }
        for _ in 0..cores {
            ready_rx
                .recv()
                .context("a spinning thread ended before it started")?
                .context("making the spinning threads SCHED_IDLE")?;
        }
        Ok(spinners)
    }
}

impl Drop for Spinners {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Puts the calling thread under SCHED_IDLE, with util-linux's `chrt` on its thread id (std
/// has no call for it, and this crate takes no libc dependency for one).
fn sched_idle() -> Result<()> {
    let me = fs::read_link("/proc/thread-self").context("reading /proc/thread-self")?;
    let tid = me
        .file_name()
        .and_then(|t| t.to_str())
        .with_context(|| format!("no thread id in {}", me.display()))?;
    let out = Command::new("chrt")
        .args(["--idle", "--pid", "0", tid])
        .output()
        .context("running chrt")?;
    if !out.status.success() {
        bail!(
            "chrt --idle --pid 0 {tid}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Runs one loop in `dir` for `duration` or `max_fsyncs` fsyncs, whichever ends first (and at
/// most as many records as the preallocated file holds), with the other cores as `cpus` says.
/// Blocks; the file is removed after.
pub fn measure(
    dir: &Path,
    when: When,
    cpus: Cpus,
    duration: Duration,
    max_fsyncs: u64,
) -> Result<FsyncLoop> {
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
    let spinners = match cpus {
        Cpus::Busy => Some(Spinners::start()?),
        Cpus::Idle => None,
    };
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
    drop(spinners);
    drop(file);
    fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    Ok(FsyncLoop {
        when,
        cpus,
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
    use crate::json::Render;

    fn fsync_loop(when: When, cpus: Cpus, fsyncs: u64, secs: f64) -> FsyncLoop {
        FsyncLoop {
            when,
            cpus,
            fsyncs,
            secs,
            mean_us: 1.0,
            p50_us: 1.0,
            p99_us: 2.0,
            max_us: 3.0,
        }
    }

    #[test]
    fn rates_their_means_and_the_ceiling() {
        use Cpus::{Busy, Idle};
        use When::{AfterWorkloads as After, BeforeWorkloads as Before};
        let mut p = FsyncProbe {
            dir: "d".into(),
            mount: None,
            loops: Vec::new(),
        };
        assert_eq!(p.mean_per_sec(Idle), None);
        assert_eq!(p.ceiling(), None);
        p.loops.push(fsync_loop(Before, Idle, 375, 1.5));
        assert_eq!(p.loops[0].per_sec(), 250.0);
        assert_eq!(p.ceiling(), Some((Idle, 250.0)));
        p.loops.push(fsync_loop(Before, Busy, 6000, 1.0));
        p.loops.push(fsync_loop(After, Idle, 350, 1.0));
        p.loops.push(fsync_loop(After, Busy, 4000, 1.0));
        assert_eq!(p.mean_per_sec(Idle), Some(300.0));
        assert_eq!(p.mean_per_sec(Busy), Some(5000.0));
        // The faster condition divides: the most an unbatched server could acknowledge.
        assert_eq!(p.ceiling(), Some((Busy, 5000.0)));
        assert_eq!(p.rate(After, Busy), Some(4000.0));
        // A loop without a rate (no time, or no fsync) does not drag a mean down.
        p.loops.push(fsync_loop(After, Idle, 0, 0.0));
        assert!(p.loops[4].per_sec().is_nan());
        p.loops.push(fsync_loop(After, Idle, 0, 1.0));
        assert_eq!(p.mean_per_sec(Idle), Some(300.0));
        // Where idle is the faster, idle divides.
        p.loops.push(fsync_loop(After, Idle, 30_000, 1.0));
        assert_eq!(p.ceiling(), Some((Idle, 10_200.0)));
        assert_eq!(p.filesystem(), "the filesystem of d");
        let json = p.to_json().render();
        assert!(json.contains("\"raw_fsyncs_per_sec\": 10200"), "{json}");
        assert!(json.contains("\"ratios_divide_by\": \"idle\""), "{json}");
        assert!(json.contains("\"busy\": 5000"), "{json}");
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
        for cpus in Cpus::BOTH {
            let l = measure(
                &dir,
                When::BeforeWorkloads,
                cpus,
                Duration::from_secs(600),
                3,
            )
            .unwrap();
            assert_eq!((l.fsyncs, l.cpus), (3, cpus));
            assert!(!dir.join("fsync-probe.log").exists());
        }
        // No time at all: no fsync, and no rate.
        let l = measure(&dir, When::AfterWorkloads, Cpus::Idle, Duration::ZERO, 3).unwrap();
        assert_eq!(l.fsyncs, 0);
        assert!(l.p50_us.is_nan());
        fs::remove_dir_all(&dir).unwrap();
    }
}
