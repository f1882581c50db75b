//! The shared, read-side view of a txn log: the segment index, reads across segments
//! (`read_from`, for ZAB's DIFF and for replay at start), and segment removal (purge).

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::disk::Disk;
use crate::segment::{read_file, scan, Tail};
use crate::{StorageError, Zxid};

/// What the log knows about one segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The file.
    pub path: PathBuf,
    /// Its first record's zxid (the one in its name).
    pub first_zxid: Zxid,
    /// Offset just past its last durable record, when known (the newest segment, and any
    /// segment written since the log was opened); older segments are scanned when read.
    pub end: Option<u64>,
    /// Its last durable zxid, when known.
    pub last_zxid: Option<Zxid>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub segments: RwLock<Vec<SegmentInfo>>,
    pub durable_zxid: Mutex<Option<Zxid>>,
    pub dir: PathBuf,
    pub disk: Arc<dyn Disk>,
}

/// A cloneable, thread-safe view of a [`crate::TxnLog`]'s durable records, usable while the
/// log (or its [`crate::LogWriter`]) keeps appending: reads see only records already
/// fsynced.
///
/// # To ensure correctness
/// - Reads never return a record that is not durable, and never skip one: a damaged
///   record in the range read is an error naming the file and offset, not a gap.
/// - Removing segments ([`LogView::remove_segments_before`]) while a read of them is in
///   flight makes that read fail; schedule purges away from DIFF reads, or retry.
#[derive(Debug, Clone)]
pub struct LogView {
    pub(crate) shared: Arc<Shared>,
}

impl LogView {
    /// The segments, oldest first.
    pub fn segments(&self) -> Vec<SegmentInfo> {
        self.shared.segments.read().clone()
    }

    /// The zxid of the oldest record in the log.
    pub fn first_zxid(&self) -> Option<Zxid> {
        self.shared.segments.read().first().map(|s| s.first_zxid)
    }

    /// The highest zxid known durable (fsynced, or written when `force_sync` is off).
    pub fn durable_zxid(&self) -> Option<Zxid> {
        *self.shared.durable_zxid.lock()
    }

    /// True when the log holds every record after `zxid` (so a DIFF from it is possible):
    /// `zxid` is at or after the first record, or just before it.
    pub fn covers(&self, zxid: Zxid) -> bool {
        self.first_zxid()
            .is_some_and(|first| first <= zxid || zxid.next() == Some(first))
    }

    /// Every durable record with a zxid above `zxid`, in order, across segments. The
    /// iterator reads one segment into memory at a time; payloads share its buffer.
    pub fn read_from(&self, zxid: Zxid) -> LogIter {
        let segments = self.segments();
        // Records after `zxid` start in the newest segment whose first record is at most
        // `zxid + 1` (older ones end before that first record).
        let start = segments
            .iter()
            .rposition(|s| zxid.next().is_none_or(|n| s.first_zxid <= n))
            .unwrap_or(0);
        self.iter(segments.into_iter().skip(start).collect(), Some(zxid))
    }

    /// The greatest durable zxid at or below `zxid`, if a record is. Seeks by the segment
    /// names (each carries its first zxid): it reads the newest segment starting at or
    /// below `zxid` (none when its last durable zxid is known and at or below `zxid`), and an
    /// older one only when that one holds no durable record; never the log from its start.
    pub fn floor(&self, zxid: Zxid) -> Result<Option<Zxid>, StorageError> {
        let segments = self.segments();
        let Some(at) = segments.iter().rposition(|s| s.first_zxid <= zxid) else {
            return Ok(None);
        };
        for seg in segments[..=at].iter().rev() {
            if let Some(last) = seg.last_zxid.filter(|&l| l <= zxid) {
                return Ok(Some(last));
            }
            let mut best = None;
            for record in self.iter(vec![seg.clone()], None) {
                let (z, _) = record?;
                if z > zxid {
                    break;
                }
                best = Some(z);
            }
            if best.is_some() {
                return Ok(best);
            }
        }
        Ok(None)
    }

    /// Reads `segments` in order, yielding the records after `after` (all when `None`).
    fn iter(&self, segments: Vec<SegmentInfo>, after: Option<Zxid>) -> LogIter {
        LogIter {
            shared: Arc::clone(&self.shared),
            segments,
            next_segment: 0,
            after,
            prev_last: None,
            buf: Bytes::new(),
            records: Vec::new(),
            next_record: 0,
            done: false,
        }
    }

    /// Removes the segments not needed to replay records after `zxid`: every segment
    /// except those starting after `zxid`, the newest one starting at or before it, and the
    /// newest segment of all (ZooKeeper's `PurgeTxnLog` rule). Returns the removed files.
    pub fn remove_segments_before(&self, zxid: Zxid) -> Result<Vec<PathBuf>, StorageError> {
        let removed: Vec<SegmentInfo> = {
            let mut segs = self.shared.segments.write();
            let keep_from = segs.iter().rposition(|s| s.first_zxid <= zxid).unwrap_or(0);
            let keep_from = keep_from.min(segs.len().saturating_sub(1));
            segs.drain(..keep_from).collect()
        };
        let mut paths = Vec::new();
        for s in removed {
            tracing::info!(file = %s.path.display(), "purge: removing txn log segment");
            std::fs::remove_file(&s.path).map_err(|e| StorageError::io("remove", &s.path, e))?;
            paths.push(s.path);
        }
        if !paths.is_empty() {
            self.shared
                .disk
                .sync_dir(&self.shared.dir)
                .map_err(|e| StorageError::io("fsync", &self.shared.dir, e))?;
        }
        Ok(paths)
    }
}

/// Iterator over `(zxid, payload)` of a [`LogView::read_from`]. Yields an error (and then
/// ends) on damage or an unreadable file.
#[derive(Debug)]
pub struct LogIter {
    shared: Arc<Shared>,
    segments: Vec<SegmentInfo>,
    next_segment: usize,
    after: Option<Zxid>,
    prev_last: Option<Zxid>,
    buf: Bytes,
    records: Vec<(Zxid, (usize, usize))>,
    next_record: usize,
    done: bool,
}

/// How many times a segment is read again when a truncation moved its end meanwhile.
const TRUNCATED_RETRIES: usize = 4;

impl LogIter {
    /// Loads `seg`, as the log holds it now: a ZAB TRUNC running while this read is in
    /// flight zeroes the segment past its new end (recording the new end first), so a read
    /// that finds its records ending before the end it was given reads the segment again at
    /// the end the log now records. Anything else wrong is an error, as before.
    fn load_current(&mut self, mut seg: SegmentInfo) -> Result<(), StorageError> {
        let mut retries = 0;
        loop {
            let err = match self.load(&seg) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let now = self
                .shared
                .segments
                .read()
                .iter()
                .find(|s| s.path == seg.path)
                .cloned();
            match now {
                Some(now) if now.end != seg.end && retries < TRUNCATED_RETRIES => {
                    retries += 1;
                    seg = now;
                }
                _ => return Err(err),
            }
        }
    }

    fn load(&mut self, seg: &SegmentInfo) -> Result<(), StorageError> {
        let buf = read_file(&seg.path, seg.end)?;
        if let Some(end) = seg.end {
            if (buf.len() as u64) < end {
                return Err(StorageError::Corrupt {
                    path: seg.path.clone(),
                    offset: buf.len() as u64,
                    reason: format!("file ends before its durable end {end}"),
                });
            }
        }
        let mut records = Vec::new();
        let s = scan(&buf, self.prev_last, |_, zxid, range| {
            records.push((zxid, range))
        });
        let bad = match s.tail {
            Tail::Clean => None,
            Tail::Torn { reason } => Some(reason),
            Tail::Corrupt { reason, valid_at } => Some(format!(
                "{reason}; a valid record follows at offset {valid_at}"
            )),
        };
        if let Some(reason) = bad {
            return Err(StorageError::Corrupt {
                path: seg.path.clone(),
                offset: s.end,
                reason,
            });
        }
        if let Some(end) = seg.end {
            if s.end != end {
                return Err(StorageError::Corrupt {
                    path: seg.path.clone(),
                    offset: s.end,
                    reason: format!("records end before the durable end {end}"),
                });
            }
        }
        if let Some(&(first, _)) = records.first() {
            if first != seg.first_zxid {
                return Err(StorageError::Corrupt {
                    path: seg.path.clone(),
                    offset: crate::format::LOG_HEADER_LEN,
                    reason: format!(
                        "first record zxid {first:#x} differs from the segment's {:#x}",
                        seg.first_zxid
                    ),
                });
            }
        }
        if s.last_zxid.is_some() {
            self.prev_last = s.last_zxid;
        }
        self.buf = buf;
        self.records = records;
        self.next_record = 0;
        Ok(())
    }
}

impl Iterator for LogIter {
    type Item = Result<(Zxid, Bytes), StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            while let Some(&(zxid, (a, b))) = self.records.get(self.next_record) {
                self.next_record += 1;
                if self.after.is_none_or(|a| zxid > a) {
                    return Some(Ok((zxid, self.buf.slice(a..b))));
                }
            }
            let Some(seg) = self.segments.get(self.next_segment).cloned() else {
                self.done = true;
                break;
            };
            self.next_segment += 1;
            if let Err(e) = self.load_current(seg) {
                self.done = true;
                return Some(Err(e));
            }
        }
        None
    }
}
