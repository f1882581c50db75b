//! Crate tests: the log against its rules and a model, the writer, snapshots, purge.

mod crash;
mod cut;
mod log;
mod quorum;
mod snapshot;
mod suite;
mod writer;

use crate::Zxid;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::{Disk, LogConfig, TxnLog};

/// A directory removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let p =
            std::env::temp_dir().join(format!("corral-storage-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Small sizes so tests roll and preallocate often.
pub(crate) fn small_config(dir: &Path) -> LogConfig {
    LogConfig {
        pre_alloc_size: 512,
        segment_txns: 5,
        ..LogConfig::new(dir)
    }
}

pub(crate) fn small_config_on(dir: &Path, disk: Arc<dyn Disk>) -> LogConfig {
    LogConfig {
        disk,
        ..small_config(dir)
    }
}

pub(crate) fn payload(zxid: Zxid) -> Vec<u8> {
    format!("payload of {zxid}").into_bytes()
}

/// Appends zxids `range` (as plain numbers) with `payload(z)` and syncs.
pub(crate) fn fill(log: &mut TxnLog, range: std::ops::RangeInclusive<u64>) {
    for z in range.map(Zxid) {
        log.append(z, &payload(z)).unwrap();
    }
    log.sync().unwrap();
}

/// The zxids after `from`, as plain numbers for comparing with literals.
pub(crate) fn zxids(log: &TxnLog, from: Zxid) -> Vec<u64> {
    log.read_from(from).map(|r| r.unwrap().0 .0).collect()
}

/// Flips one bit of a file.
pub(crate) fn flip_bit(path: &Path, offset: u64, bit: u8) {
    let mut b = std::fs::read(path).unwrap();
    b[offset as usize] ^= 1 << bit;
    std::fs::write(path, b).unwrap();
}

/// The segment files of a log directory, oldest first.
pub(crate) fn segment_files(dir: &Path) -> Vec<PathBuf> {
    crate::segment::list_by_zxid(dir, "log.")
        .unwrap()
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}
