//! Readings from /proc: a process's RSS and CPU time, the machine's CPU counters, the disk
//! space a directory takes and the filesystem it is on.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

/// Clock ticks per second for /proc CPU times (`getconf CLK_TCK`, else Linux's usual 100).
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// VmRSS of a process, in bytes.
pub fn rss_bytes(pid: u32) -> Result<u64> {
    status_bytes(pid, "VmRSS:")
}

/// VmHWM (peak resident memory so far) of a process, in bytes.
pub fn peak_rss_bytes(pid: u32) -> Result<u64> {
    status_bytes(pid, "VmHWM:")
}

/// A `key: N kB` line of /proc/PID/status, in bytes.
fn status_bytes(pid: u32, key: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .with_context(|| format!("no {key} line in {path}"))?;
    Ok(kb * 1024)
}

/// User + system CPU time of a process (all its threads), in clock ticks. `None` for self.
pub fn cpu_ticks(pid: Option<u32>) -> Result<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    let rest = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .with_context(|| format!("unexpected format of {path}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    let num = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .with_context(|| format!("field {} missing in {path}", i + 3))
    };
    Ok(num(11)? + num(12)?)
}

/// The machine's CPU counters from /proc/stat's first line: (busy, total) in clock ticks.
pub fn machine_ticks() -> Result<(u64, u64)> {
    let stat = fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .context("no cpu line in /proc/stat")?;
    let nums: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest counted in user already)
    let total: u64 = nums.iter().take(8).sum();
    let idle = nums.get(3).copied().unwrap_or(0) + nums.get(4).copied().unwrap_or(0);
    Ok((total.saturating_sub(idle), total))
}

/// Bytes of the files under `dir`: (apparent size, allocated on disk).
pub fn disk_usage(dir: &Path) -> Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut apparent = 0;
    let mut allocated = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let entry = entry.with_context(|| format!("listing {}", d.display()))?;
            let meta = entry
                .metadata()
                .with_context(|| format!("stat {}", entry.path().display()))?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                apparent += meta.len();
                allocated += meta.blocks() * 512;
            }
        }
    }
    Ok((apparent, allocated))
}

/// A line of /proc/self/mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub device: String,
    /// Where it is mounted.
    pub point: String,
    pub fstype: String,
    pub options: String,
}

/// The mount `path` is on (the path resolved first), if /proc says.
pub fn mount_of(path: &Path) -> Option<Mount> {
    let path = fs::canonicalize(path).ok()?;
    let mounts = fs::read_to_string("/proc/self/mounts").ok()?;
    find_mount(&mounts, &path)
}

/// The mount with the longest mount point that is `path` or a parent of it; of equal ones the
/// last (a later mount hides an earlier one at the same point).
fn find_mount(mounts: &str, path: &Path) -> Option<Mount> {
    mounts
        .lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace().map(unescape_mount_field);
            Some(Mount {
                device: f.next()?,
                point: f.next()?,
                fstype: f.next()?,
                options: f.next()?,
            })
        })
        .filter(|m| path.starts_with(&m.point))
        .fold(None, |best: Option<Mount>, m| match best {
            Some(b) if b.point.len() > m.point.len() => Some(b),
            _ => Some(m),
        })
}

/// /proc/self/mounts writes space, tab, newline and backslash as `\040`-style octal escapes.
fn unescape_mount_field(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push(d.iter().fold(0u8, |v, c| v.wrapping_mul(8) + (c - b'0')));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// CPU times of the server (all its processes, summed), of this process and of the machine
/// at one instant.
#[derive(Debug, Clone, Copy)]
pub struct CpuSnapshot {
    pub server: u64,
    pub bench: u64,
    pub machine_busy: u64,
    pub machine_total: u64,
}

impl CpuSnapshot {
    /// `server_pids`: the server's processes (three for an ensemble; none when not local).
    pub fn take(server_pids: &[u32]) -> Result<CpuSnapshot> {
        let mut server = 0;
        for &pid in server_pids {
            server += cpu_ticks(Some(pid))?;
        }
        let bench = cpu_ticks(None)?;
        let (machine_busy, machine_total) = machine_ticks()?;
        Ok(CpuSnapshot {
            server,
            bench,
            machine_busy,
            machine_total,
        })
    }
}

/// CPU use over an interval, in cores (1.0 = one core busy the whole time).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    pub server_cores: f64,
    pub bench_cores: f64,
    /// Everything else on the machine (other engineers' builds and tests).
    pub other_cores: f64,
    /// Cores not busy at all.
    pub idle_cores: f64,
}

impl CpuUse {
    pub fn between(a: &CpuSnapshot, b: &CpuSnapshot, secs: f64, ticks_per_s: f64) -> CpuUse {
        let cores = |t: u64| t as f64 / ticks_per_s / secs;
        let server = cores(b.server.saturating_sub(a.server));
        let bench = cores(b.bench.saturating_sub(a.bench));
        let busy = cores(b.machine_busy.saturating_sub(a.machine_busy));
        let total = cores(b.machine_total.saturating_sub(a.machine_total));
        CpuUse {
            server_cores: server,
            bench_cores: bench,
            other_cores: (busy - server - bench).max(0.0),
            idle_cores: (total - busy).max(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_self() {
        let pid = std::process::id();
        assert!(rss_bytes(pid).unwrap() > 0);
        cpu_ticks(Some(pid)).unwrap();
        cpu_ticks(None).unwrap();
        let (busy, total) = machine_ticks().unwrap();
        assert!(total >= busy && total > 0);
    }

    #[test]
    fn finds_the_mount_of_a_path() {
        let mounts = "/dev/vda / ext4 rw,relatime 0 0\n\
                      proc /proc proc rw 0 0\n\
                      tmpfs /work/my\\040disk tmpfs rw 0 0\n\
                      /dev/vdb /work ext4 rw 0 0\n\
                      /dev/vdc /work xfs rw,noatime 0 0\n";
        let at = |p: &str| find_mount(mounts, Path::new(p)).map(|m| (m.device, m.fstype));
        assert_eq!(at("/home/x"), Some(("/dev/vda".into(), "ext4".into())));
        // The later of two mounts at one point hides the earlier.
        assert_eq!(at("/work/target"), Some(("/dev/vdc".into(), "xfs".into())));
        assert_eq!(
            at("/work/my disk/a"),
            Some(("tmpfs".into(), "tmpfs".into()))
        );
        // A sibling whose name merely starts like a mount point is not under it.
        assert_eq!(at("/procfoo"), Some(("/dev/vda".into(), "ext4".into())));
        assert_eq!(find_mount("", Path::new("/")), None);
        let m = find_mount(mounts, Path::new("/work")).unwrap();
        assert_eq!(
            (m.point.as_str(), m.options.as_str()),
            ("/work", "rw,noatime")
        );
        assert!(mount_of(Path::new("/")).is_some());
    }
}
