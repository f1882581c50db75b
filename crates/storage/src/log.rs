//! [`TxnLog`]: segment files of framed records, appended in zxid order, made durable by
//! `sync`, repaired at open, truncated for ZAB's TRUNC.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::disk::{self, Disk};
use crate::format::{self, Header, LOG_HEADER_LEN, MAX_PAYLOAD};
use crate::segment::{self, read_file, scan, segment_name, Tail, LOG_PREFIX};
use crate::view::{LogIter, LogView, SegmentInfo, Shared};
use crate::{StorageError, Zxid};

/// Buffered records are written out once they reach this many bytes, even before a sync.
const WRITE_CHUNK: usize = 1 << 20;

/// Settings of a [`TxnLog`].
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// The directory of the segment files (ZooKeeper's `dataLogDir/version-2`).
    pub dir: PathBuf,
    /// ZooKeeper's `preAllocSize` in bytes (default 64 MiB): segment files grow in steps of
    /// this many zero bytes, so an fsync rarely has to change the file's size.
    pub pre_alloc_size: u64,
    /// Records per segment before the log starts a new one (default 100,000, ZooKeeper's
    /// `snapCount`). The caller may also [`TxnLog::roll`] when it snapshots, as ZooKeeper does.
    pub segment_txns: u64,
    /// ZooKeeper's `forceSync` (default true). When false nothing is fsynced and records
    /// are reported durable once written: a machine crash can lose acknowledged writes.
    pub force_sync: bool,
    /// The disk (the fault-injection seam).
    pub disk: Arc<dyn Disk>,
}

impl LogConfig {
    /// Defaults for a log in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LogConfig {
            dir: dir.into(),
            pre_alloc_size: 64 << 20,
            segment_txns: 100_000,
            force_sync: true,
            disk: disk::real(),
        }
    }

    /// Checks the values, naming the bad key.
    pub fn validate(&self) -> Result<(), StorageError> {
        if self.pre_alloc_size == 0 {
            return Err(StorageError::Config {
                key: "preAllocSize",
                reason: "must be at least 1 byte".into(),
            });
        }
        if self.segment_txns == 0 {
            return Err(StorageError::Config {
                key: "snapCount",
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

/// What [`TxnLog::open`] repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogRecovery {
    /// A torn tail cut off: file, offset, what was wrong.
    pub truncated: Option<(PathBuf, u64, String)>,
    /// Newest segments removed because they held no record (a crash while creating them).
    pub removed_empty: Vec<PathBuf>,
    /// The last zxid in the log after repair.
    pub last_zxid: Option<Zxid>,
}

#[derive(Debug)]
struct Active {
    file: File,
    path: PathBuf,
    /// Offset just past the last written byte.
    written: u64,
    /// The file's size (data plus zero preallocation).
    allocated: u64,
    /// Records in this segment, buffered ones included.
    txns: u64,
}

/// The txn log.
///
/// # To ensure correctness
/// - **No holes, no reordering**: zxids are appended strictly increasing
///   ([`StorageError::ZxidOrder`] otherwise); a crash keeps a prefix of what was appended,
///   always including everything a returned `sync` covered.
/// - **Serialised writes**: one `TxnLog` per directory, used from one thread at a time
///   (`&mut self`); hand it to a [`crate::LogWriter`] to share it.
/// - **Durable before acknowledged**: `append` only buffers; a record may be acknowledged
///   (ACK to the leader, reply to a client) only after a `sync` that returned its zxid or a
///   higher one.
/// - **Sticky failure**: after a failed write, resize or fsync every call returns
///   [`StorageError::Failed`]; what is on disk is unknown until a restart recovers it.
#[derive(Debug)]
pub struct TxnLog {
    config: LogConfig,
    shared: Arc<Shared>,
    active: Option<Active>,
    buf: Vec<u8>,
    last_zxid: Option<Zxid>,
    failed: Option<String>,
    recovery: LogRecovery,
}

impl TxnLog {
    /// Opens (creating if needed) the log in `config.dir`, repairing a torn tail of the
    /// newest segment. Fails on corruption that a crash cannot explain (see the crate docs).
    pub fn open(config: LogConfig) -> Result<TxnLog, StorageError> {
        config.validate()?;
        let dir = config.dir.clone();
        fs::create_dir_all(&dir).map_err(|e| StorageError::io("create", &dir, e))?;
        if !config.force_sync {
            tracing::warn!(
                dir = %dir.display(),
                "forceSync=no: the txn log is never fsynced; a machine crash can lose \
                 acknowledged writes"
            );
        }
        let mut files = segment::list_by_zxid(&dir, LOG_PREFIX)?;
        let mut recovery = LogRecovery::default();
        let mut active = None;
        let mut newest: Option<SegmentInfo> = None;
        let mut last_zxid = None;
        while let Some((zxid, path)) = files.pop() {
            let buf = read_file(&path, None)?;
            match format::parse_log_header(&buf) {
                Header::Valid { first_zxid } if first_zxid == zxid => {}
                Header::Valid { first_zxid } => {
                    return Err(StorageError::BadHeader {
                        path,
                        reason: format!("header zxid {first_zxid:#x} differs from the name"),
                    })
                }
                Header::Bad(reason) => return Err(StorageError::BadHeader { path, reason }),
                Header::Torn => {
                    tracing::warn!(file = %path.display(), "removing a segment with a torn header");
                    remove(&path)?;
                    recovery.removed_empty.push(path);
                    continue;
                }
            }
            let mut first = None;
            let s = scan(&buf, None, |_, z, _| {
                first.get_or_insert(z);
            });
            if let Some(f) = first.filter(|&f| f != zxid) {
                return Err(StorageError::Corrupt {
                    path,
                    offset: LOG_HEADER_LEN,
                    reason: format!("first record zxid {f:#x} differs from the segment's"),
                });
            }
            match s.tail {
                Tail::Clean => {}
                Tail::Corrupt { reason, valid_at } => {
                    return Err(StorageError::Corrupt {
                        path,
                        offset: s.end,
                        reason: format!("{reason}; a valid record follows at offset {valid_at}"),
                    })
                }
                Tail::Torn { reason } => {
                    tracing::warn!(
                        file = %path.display(), offset = s.end, %reason,
                        discarded = buf.len() as u64 - s.end,
                        "txn log: truncating a torn tail"
                    );
                    let file = open_rw(&path)?;
                    zero_from(&config, &file, &path, s.end, buf.len() as u64)?;
                    recovery.truncated = Some((path.clone(), s.end, reason));
                }
            }
            if s.records == 0 {
                tracing::warn!(file = %path.display(), "removing a segment without records");
                remove(&path)?;
                recovery.removed_empty.push(path);
                continue;
            }
            let file = open_rw(&path)?;
            let allocated = file
                .metadata()
                .map_err(|e| StorageError::io("stat", &path, e))?
                .len();
            last_zxid = s.last_zxid;
            newest = Some(SegmentInfo {
                path: path.clone(),
                first_zxid: zxid,
                end: Some(s.end),
                last_zxid: s.last_zxid,
            });
            active = Some(Active {
                file,
                path,
                written: s.end,
                allocated,
                txns: s.records,
            });
            break;
        }
        for (_, path) in &files {
            check_header(path)?;
        }
        let mut segments: Vec<SegmentInfo> = files
            .into_iter()
            .map(|(first_zxid, path)| SegmentInfo {
                path,
                first_zxid,
                end: None,
                last_zxid: None,
            })
            .collect();
        segments.extend(newest);
        if !recovery.removed_empty.is_empty() {
            sync_dir(&config)?;
        }
        recovery.last_zxid = last_zxid;
        let shared = Arc::new(Shared {
            segments: RwLock::new(segments),
            durable_zxid: Mutex::new(last_zxid),
            dir,
            disk: Arc::clone(&config.disk),
        });
        Ok(TxnLog {
            config,
            shared,
            active,
            buf: Vec::new(),
            last_zxid,
            failed: None,
            recovery,
        })
    }

    /// What `open` repaired.
    pub fn recovery(&self) -> &LogRecovery {
        &self.recovery
    }

    /// The settings.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// A read view that stays valid (and current) while this log appends.
    pub fn view(&self) -> LogView {
        LogView {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The last appended zxid (buffered or durable).
    pub fn last_zxid(&self) -> Option<Zxid> {
        self.last_zxid
    }

    /// The highest durable zxid.
    pub fn durable_zxid(&self) -> Option<Zxid> {
        *self.shared.durable_zxid.lock()
    }

    /// The first error, if the log has failed (sticky).
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Durable records after `zxid`, across segments (see [`LogView::read_from`]).
    pub fn read_from(&self, zxid: Zxid) -> LogIter {
        self.view().read_from(zxid)
    }

    fn check(&self) -> Result<(), StorageError> {
        match &self.failed {
            Some(cause) => Err(StorageError::Failed {
                cause: cause.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Marks the log failed (sticky) and returns the error.
    fn fail(&mut self, e: StorageError) -> StorageError {
        tracing::error!(error = %e, "txn log failed; it accepts no more writes");
        self.failed.get_or_insert_with(|| e.to_string());
        e
    }

    /// Buffers a record. Nothing is durable until [`TxnLog::sync`]; the record may reach the
    /// disk earlier (buffers are written out in chunks), which recovery handles.
    pub fn append(&mut self, zxid: Zxid, payload: &[u8]) -> Result<(), StorageError> {
        self.check()?;
        if payload.len() > MAX_PAYLOAD {
            return Err(StorageError::TooLarge {
                len: payload.len(),
                max: MAX_PAYLOAD,
            });
        }
        if let Some(last) = self.last_zxid.filter(|&l| zxid <= l) {
            return Err(StorageError::ZxidOrder { zxid, last });
        }
        if self
            .active
            .as_ref()
            .is_some_and(|a| a.txns >= self.config.segment_txns)
        {
            self.roll()?;
        }
        if self.active.is_none() {
            let active = self.create_segment(zxid).map_err(|e| self.fail(e))?;
            self.active = Some(active);
        }
        format::encode_record(&mut self.buf, zxid, payload);
        if let Some(a) = self.active.as_mut() {
            a.txns += 1;
        }
        self.last_zxid = Some(zxid);
        if self.buf.len() >= WRITE_CHUNK {
            self.write_buffer().map_err(|e| self.fail(e))?;
        }
        Ok(())
    }

    /// Writes the buffered records and fsyncs (fdatasync) the newest segment. Returns the
    /// highest durable zxid: every record appended before this call is durable once it
    /// returns `Ok`.
    pub fn sync(&mut self) -> Result<Option<Zxid>, StorageError> {
        self.check()?;
        self.write_buffer().map_err(|e| self.fail(e))?;
        if let Some(a) = &self.active {
            if self.config.force_sync {
                if let Err(e) = self.config.disk.sync_data(&a.file) {
                    let e = StorageError::io("fsync", &a.path, e);
                    return Err(self.fail(e));
                }
            }
            let mut segs = self.shared.segments.write();
            if let Some(s) = segs.last_mut().filter(|s| s.path == a.path) {
                s.end = Some(a.written);
                s.last_zxid = self.last_zxid;
            }
        }
        *self.shared.durable_zxid.lock() = self.last_zxid;
        Ok(self.last_zxid)
    }

    /// Closes the current segment (synced) so the next append starts a new one, as ZooKeeper
    /// rolls its log when it snapshots.
    pub fn roll(&mut self) -> Result<(), StorageError> {
        if self.active.is_some() {
            self.sync()?;
            self.active = None;
        }
        Ok(())
    }

    /// Writes the buffered records without fsync (tests use it to leave unsynced bytes on
    /// disk before a simulated crash).
    #[cfg(test)]
    pub(crate) fn write_unsynced(&mut self) -> Result<(), StorageError> {
        self.write_buffer()
    }

    fn create_segment(&self, first_zxid: Zxid) -> Result<Active, StorageError> {
        let path = self.config.dir.join(segment_name(first_zxid));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| StorageError::io("create", &path, e))?;
        let disk = &self.config.disk;
        let allocated = self.config.pre_alloc_size.max(LOG_HEADER_LEN);
        disk.write_at(&file, 0, &format::log_header(first_zxid))
            .map_err(|e| StorageError::io("write", &path, e))?;
        disk.set_len(&file, allocated)
            .map_err(|e| StorageError::io("preallocate", &path, e))?;
        if self.config.force_sync {
            disk.sync_data(&file)
                .map_err(|e| StorageError::io("fsync", &path, e))?;
            sync_dir(&self.config)?;
        }
        self.shared.segments.write().push(SegmentInfo {
            path: path.clone(),
            first_zxid,
            end: Some(LOG_HEADER_LEN),
            last_zxid: None,
        });
        tracing::debug!(file = %path.display(), "txn log: new segment");
        Ok(Active {
            file,
            path,
            written: LOG_HEADER_LEN,
            allocated,
            txns: 0,
        })
    }

    fn write_buffer(&mut self) -> Result<(), StorageError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let Some(a) = self.active.as_mut() else {
            return Ok(());
        };
        let disk = &self.config.disk;
        let needed = a.written + self.buf.len() as u64;
        if needed > a.allocated {
            let step = self.config.pre_alloc_size;
            let grown = needed.div_ceil(step).saturating_mul(step);
            disk.set_len(&a.file, grown)
                .map_err(|e| StorageError::io("preallocate", &a.path, e))?;
            a.allocated = grown;
        }
        disk.write_at(&a.file, a.written, &self.buf)
            .map_err(|e| StorageError::io("write", &a.path, e))?;
        a.written = needed;
        self.buf.clear();
        Ok(())
    }

    /// Removes every record after `zxid`, across segments (ZAB's TRUNC), durably. Records
    /// still buffered go too. Truncating below the first record empties the log. The
    /// caller also removes snapshots newer than `zxid`
    /// ([`crate::SnapshotStore::remove_after`]) before it reloads.
    pub fn truncate(&mut self, zxid: Zxid) -> Result<(), StorageError> {
        self.check()?;
        self.write_buffer().map_err(|e| self.fail(e))?;
        if self.last_zxid.is_none_or(|last| last <= zxid) {
            // Nothing above zxid.
            return Ok(());
        }
        let result = self.truncate_inner(zxid);
        result.map_err(|e| self.fail(e))
    }

    fn truncate_inner(&mut self, zxid: Zxid) -> Result<(), StorageError> {
        let mut removed_any = false;
        loop {
            let newest = self.shared.segments.read().last().cloned();
            let Some(seg) = newest else {
                self.active = None;
                self.last_zxid = None;
                break;
            };
            if seg.first_zxid > zxid {
                self.drop_newest(&seg.path)?;
                removed_any = true;
                continue;
            }
            // Scan the data written so far (the active segment) or the whole file.
            let limit = self
                .active
                .as_ref()
                .filter(|a| a.path == seg.path)
                .map(|a| a.written);
            let buf = read_file(&seg.path, limit)?;
            // Where the segment is cut, and its last record kept (None: nothing kept).
            let mut cut: Option<(u64, Option<Zxid>)> = None;
            let mut kept = 0;
            let s = scan(&buf, None, |offset, z, (_, end)| {
                if z > zxid {
                    cut.get_or_insert((offset, None));
                } else {
                    cut = Some((end as u64, Some(z)));
                    kept += 1;
                }
            });
            if let Tail::Corrupt { reason, .. } = &s.tail {
                return Err(StorageError::Corrupt {
                    path: seg.path.clone(),
                    offset: s.end,
                    reason: reason.clone(),
                });
            }
            let Some((cut_at, Some(last))) = cut else {
                // Nothing at or below zxid in this segment.
                self.drop_newest(&seg.path)?;
                removed_any = true;
                continue;
            };
            let file = match self.active.take().filter(|a| a.path == seg.path) {
                Some(a) => a.file,
                None => open_rw(&seg.path)?,
            };
            let allocated = (buf.len() as u64).max(cut_at);
            let len = file
                .metadata()
                .map_err(|e| StorageError::io("stat", &seg.path, e))?
                .len();
            // The new end is recorded before the bytes past it are zeroed, so that a read in
            // flight which finds its records cut short sees why and reads again (LogIter).
            if let Some(info) = self.shared.segments.write().last_mut() {
                info.end = Some(cut_at);
                info.last_zxid = Some(last);
            }
            zero_from(&self.config, &file, &seg.path, cut_at, len.max(allocated))?;
            self.active = Some(Active {
                file,
                path: seg.path.clone(),
                written: cut_at,
                allocated: len.max(allocated),
                txns: kept,
            });
            self.last_zxid = Some(last);
            break;
        }
        if removed_any {
            sync_dir(&self.config)?;
        }
        // The cut file was fsynced (and older segments were synced when rolled): everything
        // kept is durable.
        *self.shared.durable_zxid.lock() = self.last_zxid;
        tracing::info!(zxid = format_args!("{zxid:#x}"), "txn log truncated");
        Ok(())
    }

    fn drop_newest(&mut self, path: &Path) -> Result<(), StorageError> {
        if self.active.as_ref().is_some_and(|a| a.path == path) {
            self.active = None;
        }
        self.shared.segments.write().pop();
        remove(path)
    }
}

fn open_rw(path: &Path) -> Result<File, StorageError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| StorageError::io("open", path, e))
}

/// Zeros a file from `from` on, keeping its size `len`, durably.
fn zero_from(
    config: &LogConfig,
    file: &File,
    path: &Path,
    from: u64,
    len: u64,
) -> Result<(), StorageError> {
    let disk = &config.disk;
    disk.set_len(file, from)
        .and_then(|()| disk.set_len(file, len.max(from)))
        .map_err(|e| StorageError::io("truncate", path, e))?;
    disk.sync_data(file)
        .map_err(|e| StorageError::io("fsync", path, e))
}

fn remove(path: &Path) -> Result<(), StorageError> {
    fs::remove_file(path).map_err(|e| StorageError::io("remove", path, e))
}

fn sync_dir(config: &LogConfig) -> Result<(), StorageError> {
    config
        .disk
        .sync_dir(&config.dir)
        .map_err(|e| StorageError::io("fsync", &config.dir, e))
}

fn check_header(path: &Path) -> Result<(), StorageError> {
    let head = read_file(path, Some(LOG_HEADER_LEN))?;
    match format::parse_log_header(&head) {
        Header::Valid { .. } => Ok(()),
        Header::Torn => Err(StorageError::BadHeader {
            path: path.into(),
            reason: "incomplete header in a segment that is not the newest".into(),
        }),
        Header::Bad(reason) => Err(StorageError::BadHeader {
            path: path.into(),
            reason,
        }),
    }
}
