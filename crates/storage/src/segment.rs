//! One segment file: its name, a full scan of its records (what recovery and the readers
//! build on), and [`SegmentFile`], the inspection view `corral log dump` prints.

use crate::Zxid;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::format::{self, find_valid_record, parse_record, Header, Parsed, LOG_HEADER_LEN};
use crate::StorageError;

/// Segment file names: `log.<first zxid in lower-case hex>`, as ZooKeeper's `log.<zxid>`.
pub(crate) const LOG_PREFIX: &str = "log.";

pub(crate) fn segment_name(first_zxid: Zxid) -> String {
    format!("{LOG_PREFIX}{first_zxid:x}")
}

/// The zxid a `prefix.<hex>` file name carries (`None` for other names, temp files included).
pub(crate) fn zxid_from_name(name: &str, prefix: &str) -> Option<Zxid> {
    let hex = name.strip_prefix(prefix)?;
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(Zxid)
}

/// The `prefix.<hex>` files of a directory, sorted by zxid.
pub(crate) fn list_by_zxid(dir: &Path, prefix: &str) -> Result<Vec<(Zxid, PathBuf)>, StorageError> {
    let mut out = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| StorageError::io("list", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StorageError::io("list", dir, e))?;
        let name = entry.file_name();
        if let Some(z) = name.to_str().and_then(|n| zxid_from_name(n, prefix)) {
            out.push((z, entry.path()));
        }
    }
    out.sort_by_key(|&(z, _)| z);
    Ok(out)
}

/// Reads a whole file (or its first `limit` bytes).
pub(crate) fn read_file(path: &Path, limit: Option<u64>) -> Result<Bytes, StorageError> {
    let file = fs::File::open(path).map_err(|e| StorageError::io("open", path, e))?;
    let mut buf = Vec::new();
    let res = match limit {
        Some(n) => file.take(n).read_to_end(&mut buf),
        None => (&file).read_to_end(&mut buf),
    };
    res.map_err(|e| StorageError::io("read", path, e))?;
    Ok(Bytes::from(buf))
}

/// How the valid records of a segment end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tail {
    /// A zero length or the end of the file, and only zeros after.
    Clean,
    /// Damaged bytes with no valid record after them: what a crash during a write leaves.
    Torn { reason: String },
    /// Damaged bytes followed by a valid record (at `valid_at`): not a crash, corruption.
    Corrupt { reason: String, valid_at: u64 },
}

/// The result of scanning a segment's bytes.
#[derive(Debug, Clone)]
pub(crate) struct Scan {
    /// Offset just past the last valid record (where the next one goes).
    pub end: u64,
    /// The zxid of the last valid record.
    pub last_zxid: Option<Zxid>,
    /// How many valid records.
    pub records: u64,
    pub tail: Tail,
}

/// Scans records from `LOG_HEADER_LEN`, each zxid above the previous one (and above
/// `after`), calling `visit(offset, zxid, payload range)` for each.
pub(crate) fn scan(
    buf: &[u8],
    after: Option<Zxid>,
    mut visit: impl FnMut(u64, Zxid, (usize, usize)),
) -> Scan {
    let mut pos = (LOG_HEADER_LEN as usize).min(buf.len());
    let mut last = after;
    let mut records = 0;
    let bad = loop {
        match parse_record(buf, pos) {
            Parsed::Record { zxid, payload, end } => {
                if last.is_some_and(|l| zxid <= l) {
                    break Some(format!(
                        "record zxid {zxid:#x} is not above the previous {:#x}",
                        last.unwrap_or_default()
                    ));
                }
                visit(pos as u64, zxid, payload);
                last = Some(zxid);
                records += 1;
                pos = end;
            }
            Parsed::End => break None,
            Parsed::Bad(reason) => break Some(reason),
        }
    };
    let tail = match bad {
        None if buf[pos..].iter().all(|&b| b == 0) => Tail::Clean,
        None | Some(_) => {
            let reason = bad.unwrap_or_else(|| "non-zero bytes after the end marker".into());
            match find_valid_record(buf, pos + 1, last) {
                Some(at) => Tail::Corrupt {
                    reason,
                    valid_at: at as u64,
                },
                None => Tail::Torn { reason },
            }
        }
    };
    Scan {
        end: pos as u64,
        last_zxid: last.filter(|_| records > 0),
        records,
        tail,
    }
}

/// A record as the inspection helpers show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Byte offset of the record in its segment file.
    pub offset: u64,
    /// Its zxid.
    pub zxid: Zxid,
    /// The opaque payload.
    pub payload: Bytes,
}

/// A single segment file read for inspection (`corral log dump <file>`): the header, every
/// valid record with its offset, and how the data ends. Opening checks only the header;
/// damage after it shows in [`SegmentFile::end`].
///
/// ```no_run
/// let seg = corral_storage::SegmentFile::open("/var/lib/zk/version-2/log.100000001".as_ref())?;
/// println!("first zxid {:#x}", seg.first_zxid());
/// for r in seg.records() {
///     println!("{:>10} {:#x} {} bytes", r.offset, r.zxid, r.payload.len());
/// }
/// println!("{:?}", seg.end());
/// # Ok::<(), corral_storage::StorageError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SegmentFile {
    path: PathBuf,
    first_zxid: Zxid,
    records: Vec<LogRecord>,
    end: SegmentEnd,
}

/// How a segment's valid data ends.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SegmentEnd {
    /// The records end at `offset`; only zeros (preallocation) follow.
    Clean {
        /// Offset of the end marker.
        offset: u64,
    },
    /// Damaged bytes at `offset` and no valid record after: a torn tail, which recovery
    /// truncates when this is the newest segment.
    Torn {
        /// Where the damage starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// Damaged bytes at `offset` followed by a valid record at `valid_at`: recovery refuses.
    Corrupt {
        /// Where the damage starts.
        offset: u64,
        /// What is wrong.
        reason: String,
        /// Where a valid record was found after it.
        valid_at: u64,
    },
}

impl SegmentFile {
    /// Reads and scans a segment file. Fails if it cannot be read or its header is not a
    /// Corral log header.
    pub fn open(path: &Path) -> Result<SegmentFile, StorageError> {
        let buf = read_file(path, None)?;
        let first_zxid = match format::parse_log_header(&buf) {
            Header::Valid { first_zxid } => first_zxid,
            Header::Torn => {
                return Err(StorageError::BadHeader {
                    path: path.into(),
                    reason: format!("{} bytes: an incomplete segment header", buf.len()),
                })
            }
            Header::Bad(reason) => {
                return Err(StorageError::BadHeader {
                    path: path.into(),
                    reason,
                })
            }
        };
        let mut records = Vec::new();
        let s = scan(&buf, None, |offset, zxid, (a, b)| {
            records.push(LogRecord {
                offset,
                zxid,
                payload: buf.slice(a..b),
            })
        });
        let end = match s.tail {
            Tail::Clean => SegmentEnd::Clean { offset: s.end },
            Tail::Torn { reason } => SegmentEnd::Torn {
                offset: s.end,
                reason,
            },
            Tail::Corrupt { reason, valid_at } => SegmentEnd::Corrupt {
                offset: s.end,
                reason,
                valid_at,
            },
        };
        Ok(SegmentFile {
            path: path.into(),
            first_zxid,
            records,
            end,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The first zxid its header names.
    pub fn first_zxid(&self) -> Zxid {
        self.first_zxid
    }

    /// The valid records, in order.
    pub fn records(&self) -> &[LogRecord] {
        &self.records
    }

    /// How the data ends.
    pub fn end(&self) -> &SegmentEnd {
        &self.end
    }
}
