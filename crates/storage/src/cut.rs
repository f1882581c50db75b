//! The operator's cut of a txn log (`corral log truncate`): everything after a given zxid, or
//! after a given record boundary of a segment, goes, and what goes is kept aside.
//!
//! [`TxnLog::truncate`](crate::TxnLog::truncate) is ZAB's TRUNC on a log that opened cleanly.
//! This is for a log that does not open: damage followed by a valid record (a power cut that
//! persisted a later page of the last unsynced batch but not an earlier one) makes recovery
//! refuse to start, and only an operator can decide to drop the records after the damage
//! (they were never acknowledged if the damage is in the last batch). It works on the files
//! alone, with no server running.
//!
//! [`plan_cut`] reads and decides, and changes nothing: a cut must fall on a record
//! boundary of the records that read in order (never inside a record, never inside damaged
//! bytes whose boundaries cannot be known), and it names every record, segment and snapshot
//! it would remove. [`CutPlan::apply`] then keeps the removed bytes of the cut segment in a
//! side file (`log.<zxid>.removed-from-<offset>`), renames the newer segments and snapshots
//! to `<name>.removed` (names the log and the snapshot store do not read), zeros the cut
//! segment from the cut on (its size stays: the zeros are the preallocated space), and
//! fsyncs the files and directories.

use crate::Zxid;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::format::{self, Header, LOG_HEADER_LEN};
use crate::segment::{self, read_file, scan, Tail, LOG_PREFIX};
use crate::StorageError;

const SNAP_PREFIX: &str = "snapshot.";
/// The suffix of a segment or snapshot a cut removed.
pub const REMOVED_SUFFIX: &str = ".removed";

/// Where to cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CutAt {
    /// Keep the records up to and including this zxid (it must be in the log).
    Zxid(Zxid),
    /// Keep the records of `segment` before this byte offset (a record boundary).
    Offset {
        /// The segment file (in the log directory).
        segment: PathBuf,
        /// The byte offset in it.
        offset: u64,
    },
}

/// A record a cut removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutRecord {
    /// Its offset in the cut segment.
    pub offset: u64,
    /// Its zxid.
    pub zxid: Zxid,
}

/// The cut inside one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentCut {
    /// The segment.
    pub path: PathBuf,
    /// Where its data is cut (the end of the last record kept).
    pub offset: u64,
    /// Records kept before the cut.
    pub kept: u64,
    /// The zxid of the last record kept.
    pub last_kept: Option<Zxid>,
    /// The valid records after the cut, in order.
    pub removed: Vec<CutRecord>,
    /// Bytes that are not records after them: offset, length, what is wrong there.
    pub damage: Option<(u64, u64, String)>,
    /// Where the non-zero bytes end (what the cut zeros is `offset..data_end`).
    pub data_end: u64,
}

/// A segment or snapshot file a cut removes whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedFile {
    /// The file.
    pub path: PathBuf,
    /// The zxid its name carries.
    pub zxid: Zxid,
    /// For a segment: its valid records (damage after them is removed too).
    pub records: u64,
}

/// What a cut removes; nothing is changed until [`CutPlan::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutPlan {
    /// The log directory.
    pub log_dir: PathBuf,
    /// The cut inside a segment (`None`: nothing in it goes, only newer files).
    pub cut: Option<SegmentCut>,
    /// Newer segments, removed whole.
    pub segments: Vec<RemovedFile>,
    /// Snapshots above the last zxid kept (they hold the txns cut), removed.
    pub snapshots: Vec<RemovedFile>,
}

/// What [`CutPlan::apply`] left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutDone {
    /// The side file holding the cut segment's removed bytes, if it had any.
    pub tail_backup: Option<PathBuf>,
    /// Files renamed: from, to.
    pub renamed: Vec<(PathBuf, PathBuf)>,
}

fn refuse(reason: impl Into<String>) -> StorageError {
    StorageError::CutRefused {
        reason: reason.into(),
    }
}

/// Reads the log in `log_dir` (ZooKeeper's `dataLogDir/version-2`) and the snapshots in
/// `snap_dir` (when given) and says what cutting at `at` removes. Refuses a cut that is not
/// on a record boundary, a zxid the log does not hold in order, and a cut that would remove
/// nothing.
pub fn plan_cut(
    log_dir: &Path,
    snap_dir: Option<&Path>,
    at: &CutAt,
) -> Result<CutPlan, StorageError> {
    let segments = segment::list_by_zxid(log_dir, LOG_PREFIX)?;
    if segments.is_empty() {
        return Err(refuse(format!(
            "{} holds no log segment",
            log_dir.display()
        )));
    }
    let index = match at {
        CutAt::Zxid(zxid) => segments
            .iter()
            .rposition(|(first, _)| first <= zxid)
            .ok_or_else(|| {
                refuse(format!(
                    "zxid {zxid:#x} is below the log's first record {:#x}",
                    segments[0].0
                ))
            })?,
        CutAt::Offset { segment, .. } => {
            let name = segment.file_name();
            segments
                .iter()
                .position(|(_, p)| p.file_name() == name)
                .ok_or_else(|| {
                    refuse(format!(
                        "{} is not a segment of {}",
                        segment.display(),
                        log_dir.display()
                    ))
                })?
        }
    };
    let (first_zxid, path) = &segments[index];
    let cut = cut_in_segment(path, *first_zxid, at)?;
    let mut removed_segments = Vec::new();
    for (zxid, path) in &segments[index + 1..] {
        let buf = read_file(path, None)?;
        let s = scan(&buf, None, |_, _, _| {});
        removed_segments.push(RemovedFile {
            path: path.clone(),
            zxid: *zxid,
            records: s.records,
        });
    }
    // The last zxid kept: in the cut segment, or before it.
    let last_kept = match cut.last_kept {
        Some(z) => z,
        None => Zxid(first_zxid.0.saturating_sub(1)),
    };
    let mut snapshots = Vec::new();
    if let Some(dir) = snap_dir {
        for (zxid, path) in segment::list_by_zxid(dir, SNAP_PREFIX)? {
            if zxid > last_kept {
                snapshots.push(RemovedFile {
                    path,
                    zxid,
                    records: 0,
                });
            }
        }
    }
    let cuts_nothing = cut.removed.is_empty() && cut.damage.is_none();
    if cuts_nothing && removed_segments.is_empty() && snapshots.is_empty() {
        return Err(refuse(format!(
            "nothing to cut: the log ends there ({}, offset {})",
            path.display(),
            cut.offset
        )));
    }
    Ok(CutPlan {
        log_dir: log_dir.to_path_buf(),
        cut: Some(cut).filter(|_| !cuts_nothing),
        segments: removed_segments,
        snapshots,
    })
}

fn cut_in_segment(path: &Path, first_zxid: Zxid, at: &CutAt) -> Result<SegmentCut, StorageError> {
    let buf = read_file(path, None)?;
    let bad_header = match format::parse_log_header(&buf) {
        Header::Valid { first_zxid: z } if z == first_zxid => None,
        Header::Valid { first_zxid: z } => Some(format!(
            "header zxid {z:#x} differs from the name's {first_zxid:#x}"
        )),
        Header::Torn => Some("an incomplete segment header".into()),
        Header::Bad(reason) => Some(reason),
    };
    if let Some(reason) = bad_header {
        return Err(StorageError::BadHeader {
            path: path.into(),
            reason,
        });
    }
    let mut records: Vec<(u64, Zxid, u64)> = Vec::new();
    let s = scan(&buf, None, |offset, zxid, (_, end)| {
        records.push((offset, zxid, end as u64))
    });
    let data_end = buf
        .iter()
        .rposition(|&b| b != 0)
        .map_or(LOG_HEADER_LEN, |p| (p as u64 + 1).max(LOG_HEADER_LEN));
    let damage = match &s.tail {
        Tail::Clean => None,
        Tail::Torn { reason } | Tail::Corrupt { reason, .. } => Some(reason.clone()),
    };
    let describe_damage = || match &s.tail {
        Tail::Clean => String::new(),
        Tail::Torn { reason } => format!(" (damaged from offset {}: {reason})", s.end),
        Tail::Corrupt { reason, valid_at } => format!(
            " (damaged from offset {}: {reason}; a valid record follows at {valid_at})",
            s.end
        ),
    };
    // The number of records kept.
    let kept = match at {
        CutAt::Zxid(zxid) => match records.iter().position(|r| r.1 == *zxid) {
            Some(i) => i + 1,
            None => {
                return Err(refuse(format!(
                    "{} holds no record with zxid {zxid:#x} among the {} that read in order \
                     from its start{}",
                    path.display(),
                    records.len(),
                    describe_damage()
                )))
            }
        },
        CutAt::Offset { offset, .. } => {
            let offset = *offset;
            if offset == LOG_HEADER_LEN {
                0
            } else if let Some(i) = records.iter().position(|r| r.2 == offset) {
                i + 1
            } else if let Some(r) = records.iter().find(|r| r.0 < offset && offset < r.2) {
                return Err(refuse(format!(
                    "offset {offset} is inside the record of zxid {:#x} at {}..{}: cut at {} \
                     or {}",
                    r.1, r.0, r.2, r.0, r.2
                )));
            } else if offset < LOG_HEADER_LEN {
                return Err(refuse(format!(
                    "offset {offset} is inside the segment header (the first record starts \
                     at {LOG_HEADER_LEN})"
                )));
            } else {
                return Err(refuse(format!(
                    "offset {offset} is past the records that read in order, which end at \
                     {}{}: a record boundary there cannot be known; cut at {}",
                    s.end,
                    describe_damage(),
                    s.end
                )));
            }
        }
    };
    let offset = if kept == 0 {
        LOG_HEADER_LEN
    } else {
        records[kept - 1].2
    };
    let removed = records[kept..]
        .iter()
        .map(|&(offset, zxid, _)| CutRecord { offset, zxid })
        .collect();
    let damage = damage.map(|reason| (s.end, data_end.saturating_sub(s.end), reason));
    Ok(SegmentCut {
        path: path.to_path_buf(),
        offset,
        kept: kept as u64,
        last_kept: kept.checked_sub(1).map(|i| records[i].1),
        removed,
        damage,
        data_end: data_end.max(offset),
    })
}

/// `path` with `suffix` added to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

impl CutPlan {
    /// The side file the cut segment's removed bytes go to.
    pub fn tail_backup_path(&self) -> Option<PathBuf> {
        self.cut
            .as_ref()
            .map(|c| with_suffix(&c.path, &format!("{REMOVED_SUFFIX}-from-{}", c.offset)))
    }

    /// Carries the cut out: backups first (the removed tail to its side file, fsynced; the
    /// newer files renamed), then the cut segment zeroed from the cut, fsynced, and the
    /// directories fsynced. Refuses, before changing anything, when a backup name is taken.
    pub fn apply(&self) -> Result<CutDone, StorageError> {
        let renames: Vec<(PathBuf, PathBuf)> = self
            .segments
            .iter()
            .chain(&self.snapshots)
            .map(|f| (f.path.clone(), with_suffix(&f.path, REMOVED_SUFFIX)))
            .collect();
        let tail_backup = self.tail_backup_path();
        for to in renames.iter().map(|(_, to)| to).chain(&tail_backup) {
            if to.exists() {
                return Err(refuse(format!(
                    "{} exists already (an earlier cut's backup?): move it away first",
                    to.display()
                )));
            }
        }
        let mut dirs: Vec<PathBuf> = vec![self.log_dir.clone()];
        if let (Some(cut), Some(backup)) = (&self.cut, &tail_backup) {
            let buf = read_file(&cut.path, Some(cut.data_end))?;
            let removed = buf.get(cut.offset as usize..).unwrap_or_default();
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(backup)
                .map_err(|e| StorageError::io("create", backup, e))?;
            f.write_all(removed)
                .and_then(|()| f.sync_all())
                .map_err(|e| StorageError::io("write", backup, e))?;
        }
        for (from, to) in &renames {
            fs::rename(from, to).map_err(|e| StorageError::io("rename", from, e))?;
            if let Some(dir) = from.parent() {
                if !dirs.iter().any(|d| d == dir) {
                    dirs.push(dir.to_path_buf());
                }
            }
        }
        if let Some(cut) = &self.cut {
            let file = OpenOptions::new()
                .write(true)
                .open(&cut.path)
                .map_err(|e| StorageError::io("open", &cut.path, e))?;
            let len = file
                .metadata()
                .map_err(|e| StorageError::io("stat", &cut.path, e))?
                .len();
            file.set_len(cut.offset)
                .and_then(|()| file.set_len(len.max(cut.offset)))
                .and_then(|()| file.sync_all())
                .map_err(|e| StorageError::io("truncate", &cut.path, e))?;
        }
        for dir in &dirs {
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| StorageError::io("fsync", dir, e))?;
        }
        Ok(CutDone {
            tail_backup: tail_backup.filter(|_| self.cut.is_some()),
            renamed: renames,
        })
    }
}
