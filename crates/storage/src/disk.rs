//! The fault-injection seam: every write, fsync and resize of a log or snapshot file goes
//! through a [`Disk`]. [`RealDisk`] calls the OS; [`FaultyDisk`] fails on demand (tests, and
//! the server's own fault tests).

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

/// The file operations corral-storage performs on data it must keep. The default methods do
/// the real thing.
///
/// # To ensure correctness
/// An implementation must not report success for a write or a sync that did not happen: the
/// log acknowledges a record durable only after `sync_data` returned `Ok` for its file.
pub trait Disk: Send + Sync + std::fmt::Debug {
    /// Writes all of `buf` at `offset`.
    fn write_at(&self, file: &File, offset: u64, buf: &[u8]) -> io::Result<()> {
        write_all_at(file, offset, buf)
    }

    /// fdatasync.
    fn sync_data(&self, file: &File) -> io::Result<()> {
        file.sync_data()
    }

    /// Resizes a file (growing fills with zeros).
    fn set_len(&self, file: &File, len: u64) -> io::Result<()> {
        file.set_len(len)
    }

    /// Makes a directory's entries (created, renamed, removed files) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        sync_dir(dir)
    }
}

/// The operating system's disk.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealDisk;

impl Disk for RealDisk {}

/// The default disk, shared.
pub(crate) fn real() -> Arc<dyn Disk> {
    Arc::new(RealDisk)
}

#[cfg(unix)]
fn write_all_at(file: &File, offset: u64, buf: &[u8]) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(not(unix))]
fn write_all_at(mut file: &File, offset: u64, buf: &[u8]) -> io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(buf)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Which error an injected fault returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// ENOSPC (no space left on device).
    NoSpace,
    /// EIO.
    Io,
}

impl Fault {
    fn error(self) -> io::Error {
        match self {
            Fault::NoSpace => io::Error::other("injected ENOSPC: no space left on device"),
            Fault::Io => io::Error::other("injected EIO: input/output error"),
        }
    }
}

#[derive(Debug, Default)]
struct Faults {
    write: Option<Fault>,
    sync: Option<Fault>,
    set_len: Option<Fault>,
}

/// A [`Disk`] that does the real thing until told to fail. A failing write first writes half
/// of its buffer (as a disk filling up mid-write would), then returns the error.
#[derive(Debug, Default)]
pub struct FaultyDisk {
    faults: Mutex<Faults>,
    syncs: AtomicU64,
    writes: AtomicU64,
}

impl FaultyDisk {
    /// A disk with no faults armed.
    pub fn new() -> Arc<FaultyDisk> {
        Arc::new(FaultyDisk::default())
    }

    /// Makes every following write fail (`None` heals).
    pub fn fail_writes(&self, fault: Option<Fault>) {
        self.faults.lock().write = fault;
    }

    /// Makes every following fsync (file or directory) fail (`None` heals).
    pub fn fail_syncs(&self, fault: Option<Fault>) {
        self.faults.lock().sync = fault;
    }

    /// Makes every following resize (preallocation, truncation) fail (`None` heals).
    pub fn fail_set_len(&self, fault: Option<Fault>) {
        self.faults.lock().set_len = fault;
    }

    /// How many file fsyncs succeeded so far (directory syncs not counted).
    pub fn sync_count(&self) -> u64 {
        self.syncs.load(Ordering::SeqCst)
    }

    /// How many writes succeeded so far.
    pub fn write_count(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }
}

impl Disk for FaultyDisk {
    fn write_at(&self, file: &File, offset: u64, buf: &[u8]) -> io::Result<()> {
        if let Some(f) = self.faults.lock().write {
            write_all_at(file, offset, &buf[..buf.len() / 2])?;
            return Err(f.error());
        }
        write_all_at(file, offset, buf)?;
        self.writes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn sync_data(&self, file: &File) -> io::Result<()> {
        if let Some(f) = self.faults.lock().sync {
            return Err(f.error());
        }
        file.sync_data()?;
        self.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn set_len(&self, file: &File, len: u64) -> io::Result<()> {
        if let Some(f) = self.faults.lock().set_len {
            return Err(f.error());
        }
        file.set_len(len)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        if let Some(f) = self.faults.lock().sync {
            return Err(f.error());
        }
        sync_dir(dir)
    }
}
