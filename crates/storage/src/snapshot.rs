//! [`SnapshotStore`]: `snapshot.<zxid hex>` files holding an opaque payload, written
//! atomically, read back with their crc checked.
//!
//! ```text
//! snapshot = magic "CRSN" | version u32 = 1 | zxid Zxid | payload | payload length u64 | crc32c u32
//! ```
//! Big-endian; the crc covers the 16-byte header and the payload. A snapshot is written to
//! `snapshot.<zxid>.tmp`, fsynced, renamed, and the directory fsynced: a crash leaves either
//! the previous state or the whole new file (a stale `.tmp` is ignored and removed at open).

use crate::Zxid;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::crc::Crc32c;
use crate::disk::{self, Disk};
use crate::format::{be_u32, be_u64, be_zxid};
use crate::segment::{self, read_file};
use crate::StorageError;

/// The first four bytes of a snapshot file.
pub const SNAP_MAGIC: [u8; 4] = *b"CRSN";
/// The snapshot format version this build writes and reads.
pub const SNAP_VERSION: u32 = 1;
const HEADER_LEN: usize = 16;
const TRAILER_LEN: usize = 12;
const SNAP_PREFIX: &str = "snapshot.";
const TMP_SUFFIX: &str = ".tmp";
const WRITE_CHUNK: usize = 1 << 20;

/// A snapshot read back: its zxid, file and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The zxid of the last txn the payload includes.
    pub zxid: Zxid,
    /// The file it came from.
    pub path: PathBuf,
    /// The opaque payload (the tree and the sessions, as the server encoded them).
    pub payload: Bytes,
}

/// The snapshot files of a directory (ZooKeeper's `dataDir/version-2`).
///
/// # To ensure correctness
/// - A snapshot's zxid is the last txn it includes; replay the log from there.
/// - A snapshot exists under its final name only complete and fsynced, so
///   [`SnapshotStore::latest_valid`] may trust the newest valid one and skip damaged ones.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    dir: PathBuf,
    disk: Arc<dyn Disk>,
}

impl SnapshotStore {
    /// Opens (creating) the directory with the real disk; removes stale temp files.
    pub fn open(dir: impl Into<PathBuf>) -> Result<SnapshotStore, StorageError> {
        SnapshotStore::open_with(dir, disk::real())
    }

    /// As [`SnapshotStore::open`], writing through `disk`.
    pub fn open_with(
        dir: impl Into<PathBuf>,
        disk: Arc<dyn Disk>,
    ) -> Result<SnapshotStore, StorageError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| StorageError::io("create", &dir, e))?;
        let entries = fs::read_dir(&dir).map_err(|e| StorageError::io("list", &dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(SNAP_PREFIX) && name.ends_with(TMP_SUFFIX) {
                tracing::warn!(file = %entry.path().display(), "removing an unfinished snapshot");
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(SnapshotStore { dir, disk })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path a snapshot of `zxid` has.
    pub fn path_of(&self, zxid: Zxid) -> PathBuf {
        self.dir.join(format!("{SNAP_PREFIX}{zxid:x}"))
    }

    /// Starts writing the snapshot of `zxid`; write the payload into it, then
    /// [`SnapshotWriter::finish`]. Dropping it unfinished removes the temp file.
    pub fn begin(&self, zxid: Zxid) -> Result<SnapshotWriter, StorageError> {
        let path = self.path_of(zxid);
        let tmp = self.dir.join(format!("{SNAP_PREFIX}{zxid:x}{TMP_SUFFIX}"));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| StorageError::io("create", &tmp, e))?;
        let mut header = Vec::with_capacity(WRITE_CHUNK);
        header.extend_from_slice(&SNAP_MAGIC);
        header.extend_from_slice(&SNAP_VERSION.to_be_bytes());
        header.extend_from_slice(&zxid.0.to_be_bytes());
        let mut crc = Crc32c::new();
        crc.update(&header);
        Ok(SnapshotWriter {
            file,
            tmp,
            path,
            dir: self.dir.clone(),
            disk: Arc::clone(&self.disk),
            zxid,
            buf: header,
            offset: 0,
            payload_len: 0,
            crc,
            done: false,
        })
    }

    /// Writes a whole snapshot at once.
    pub fn write(&self, zxid: Zxid, payload: &[u8]) -> Result<PathBuf, StorageError> {
        let mut w = self.begin(zxid)?;
        w.write_all(payload)
            .map_err(|e| StorageError::io("write", &w.tmp, e))?;
        w.finish()
    }

    /// The snapshot files by zxid, oldest first (not checked).
    pub fn list(&self) -> Result<Vec<(Zxid, PathBuf)>, StorageError> {
        segment::list_by_zxid(&self.dir, SNAP_PREFIX)
    }

    /// The newest snapshot whose crc checks out. Damaged or truncated ones are skipped
    /// (and logged with the reason), falling back to older ones. `None` if there is none.
    pub fn latest_valid(&self) -> Result<Option<Snapshot>, StorageError> {
        for (_, path) in self.list()?.into_iter().rev() {
            match read_snapshot_file(&path) {
                Ok(s) => return Ok(Some(s)),
                Err(e @ StorageError::InvalidSnapshot { .. }) => {
                    tracing::warn!(error = %e, "skipping an invalid snapshot");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Removes snapshots newer than `zxid` (after a ZAB TRUNC to `zxid`). Returns them.
    pub fn remove_after(&self, zxid: Zxid) -> Result<Vec<PathBuf>, StorageError> {
        let doomed: Vec<PathBuf> = self
            .list()?
            .into_iter()
            .filter(|&(z, _)| z > zxid)
            .map(|(_, p)| p)
            .collect();
        self.remove(&doomed)?;
        Ok(doomed)
    }

    pub(crate) fn remove(&self, paths: &[PathBuf]) -> Result<(), StorageError> {
        for p in paths {
            tracing::info!(file = %p.display(), "removing snapshot");
            fs::remove_file(p).map_err(|e| StorageError::io("remove", p, e))?;
        }
        if !paths.is_empty() {
            self.disk
                .sync_dir(&self.dir)
                .map_err(|e| StorageError::io("fsync", &self.dir, e))?;
        }
        Ok(())
    }

    /// A cheap check (header and length, no crc) used by purge to count snapshots.
    pub(crate) fn looks_complete(path: &Path) -> bool {
        let Ok(meta) = fs::metadata(path) else {
            return false;
        };
        let len = meta.len();
        if len < (HEADER_LEN + TRAILER_LEN) as u64 {
            return false;
        }
        let Ok(head) = read_file(path, Some(HEADER_LEN as u64)) else {
            return false;
        };
        let Ok(mut f) = File::open(path) else {
            return false;
        };
        let mut trailer = [0u8; TRAILER_LEN];
        let ok = io::Seek::seek(&mut f, io::SeekFrom::Start(len - TRAILER_LEN as u64)).is_ok()
            && io::Read::read_exact(&mut f, &mut trailer).is_ok();
        ok && head[..4] == SNAP_MAGIC && be_u64(&trailer) == len - (HEADER_LEN + TRAILER_LEN) as u64
    }
}

/// A snapshot being written ([`SnapshotStore::begin`]). `io::Write`; buffered.
#[derive(Debug)]
pub struct SnapshotWriter {
    file: File,
    tmp: PathBuf,
    path: PathBuf,
    dir: PathBuf,
    disk: Arc<dyn Disk>,
    zxid: Zxid,
    buf: Vec<u8>,
    offset: u64,
    payload_len: u64,
    crc: Crc32c,
    done: bool,
}

impl SnapshotWriter {
    fn flush_buf(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.disk.write_at(&self.file, self.offset, &self.buf)?;
            self.offset += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes the trailer, fsyncs, renames into place and fsyncs the directory. Returns the
    /// final path. On error the temp file is removed and no snapshot appears.
    pub fn finish(mut self) -> Result<PathBuf, StorageError> {
        let crc = self.crc.finish();
        self.buf.extend_from_slice(&self.payload_len.to_be_bytes());
        self.buf.extend_from_slice(&crc.to_be_bytes());
        self.flush_buf()
            .map_err(|e| StorageError::io("write", &self.tmp, e))?;
        self.disk
            .sync_data(&self.file)
            .map_err(|e| StorageError::io("fsync", &self.tmp, e))?;
        fs::rename(&self.tmp, &self.path).map_err(|e| StorageError::io("rename", &self.tmp, e))?;
        self.done = true;
        self.disk
            .sync_dir(&self.dir)
            .map_err(|e| StorageError::io("fsync", &self.dir, e))?;
        tracing::info!(
            file = %self.path.display(),
            zxid = format_args!("{:#x}", self.zxid),
            bytes = self.payload_len,
            "snapshot written"
        );
        Ok(self.path.clone())
    }
}

impl Write for SnapshotWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.crc.update(data);
        self.payload_len += data.len() as u64;
        self.buf.extend_from_slice(data);
        if self.buf.len() >= WRITE_CHUNK {
            self.flush_buf()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_buf()
    }
}

impl Drop for SnapshotWriter {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Reads and checks one snapshot file (`corral snapshot dump <file>`, and recovery): header,
/// length, crc, and that the zxid matches the file name when the name carries one.
pub fn read_snapshot_file(path: &Path) -> Result<Snapshot, StorageError> {
    let buf = read_file(path, None)?;
    let invalid = |reason: String| StorageError::InvalidSnapshot {
        path: path.into(),
        reason,
    };
    if buf.len() < HEADER_LEN + TRAILER_LEN {
        return Err(invalid(format!(
            "{} bytes is shorter than a header and trailer",
            buf.len()
        )));
    }
    if buf[..4] != SNAP_MAGIC {
        return Err(invalid(format!("magic {:02x?} is not \"CRSN\"", &buf[..4])));
    }
    let version = be_u32(&buf[4..8]);
    if version != SNAP_VERSION {
        return Err(invalid(format!(
            "unknown snapshot format version {version} (this build reads {SNAP_VERSION})"
        )));
    }
    let zxid = be_zxid(&buf[8..16]);
    let trailer = buf.len() - TRAILER_LEN;
    let payload_len = be_u64(&buf[trailer..]);
    let actual = (trailer - HEADER_LEN) as u64;
    if payload_len != actual {
        return Err(invalid(format!(
            "trailer at offset {trailer} says {payload_len} payload bytes, the file holds \
             {actual} (truncated or damaged)"
        )));
    }
    let stored = be_u32(&buf[trailer + 8..]);
    let mut crc = Crc32c::new();
    crc.update(&buf[..trailer]);
    let crc = crc.finish();
    if crc != stored {
        return Err(invalid(format!(
            "crc {crc:#010x} does not match the stored {stored:#010x} (offset {})",
            trailer + 8
        )));
    }
    let named = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| segment::zxid_from_name(n, SNAP_PREFIX));
    if let Some(n) = named.filter(|&n| n != zxid) {
        return Err(invalid(format!(
            "header zxid {zxid:#x} differs from the name's {n:#x}"
        )));
    }
    Ok(Snapshot {
        zxid,
        path: path.into(),
        payload: buf.slice(HEADER_LEN..trailer),
    })
}
