//! Txn log files (`FileTxnLog`): `FileHeader` ("ZKLG", version 2, dbid), then records, each
//! the Adler-32 of the txn bytes (a long), the txn bytes (i32 length, then `TxnHeader`, the
//! body and, 3.6+, a `TxnDigest`), and the end-of-record byte `'B'`. ZooKeeper grows a log in
//! 64 MiB steps of zeros: a record of length 0 is the end (`Util.readTxnBytes`). A record
//! cut short or without its `'B'` is a partial last write (ZooKeeper stops reading the file
//! there); a checksum that does not match refuses the file ("CRC check failed").

use std::path::{Path, PathBuf};

use crate::error::ZkDataError;
use crate::jute::Put;
use crate::records::TxnEntry;
use crate::snapshot::write_atomically;
use crate::stream::adler32;

/// "ZKLG".
pub const LOG_MAGIC: i32 = 0x5a4b_4c47;
/// The log format version.
pub const LOG_VERSION: i32 = 2;
/// The file name prefix.
pub const LOG_PREFIX: &str = "log.";
const HEADER_LEN: usize = 16;
/// The end-of-record marker.
const EOR: u8 = b'B';

/// How a log file ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEnd {
    /// At the end of the file or at the preallocated zeros.
    Clean {
        /// Where the last record ends.
        offset: u64,
    },
    /// A partial record (a write cut short by a crash): what follows `offset` is not read.
    Torn {
        /// Where the partial record starts.
        offset: u64,
        /// What is missing.
        reason: String,
    },
}

/// One framed record of a log, as read: where it is, the checksum it carries and its txn
/// bytes (neither checked nor decoded yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRecord<'a> {
    /// The record's offset in the file.
    pub offset: u64,
    /// The Adler-32 the record carries.
    pub stored_crc: i64,
    /// The txn bytes.
    pub txn: &'a [u8],
}

impl RawRecord<'_> {
    /// The Adler-32 of its txn bytes.
    pub fn actual_crc(&self) -> i64 {
        i64::from(adler32(self.txn))
    }

    /// Its txn decoded; an error names `path` and the offset.
    pub fn entry(&self, path: &Path) -> Result<TxnEntry, ZkDataError> {
        TxnEntry::decode(self.txn).map_err(|e| e.in_file(path, self.offset + 12))
    }
}

/// A log file's header (`FileHeader`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogHeader {
    /// The format version (2).
    pub version: i32,
    /// `dbid`.
    pub dbid: i64,
}

/// Reads a log file's header and calls `each` with every whole record in order, checksums
/// not checked (what `TxnLogToolkit` does before it looks at them). A bad header or an
/// impossible length is an error naming file and offset; a partial last record ends the
/// walk and is reported in the [`LogEnd`].
pub fn walk_log(
    path: &Path,
    bytes: &[u8],
    mut each: impl FnMut(RawRecord<'_>) -> Result<(), ZkDataError>,
) -> Result<(LogHeader, LogEnd), ZkDataError> {
    if bytes.len() < HEADER_LEN {
        return Err(ZkDataError::corrupt(
            path,
            0,
            format!("{} bytes: shorter than the file header", bytes.len()),
        ));
    }
    let int = |at: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(&bytes[at..at + 4]);
        i32::from_be_bytes(b)
    };
    let long = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[at..at + 8]);
        i64::from_be_bytes(b)
    };
    if int(0) != LOG_MAGIC {
        return Err(ZkDataError::corrupt(
            path,
            0,
            format!("magic {:#x} is not ZKLG", int(0)),
        ));
    }
    if int(4) != LOG_VERSION {
        return Err(ZkDataError::corrupt(
            path,
            4,
            format!("log version {}, not 2", int(4)),
        ));
    }
    let header = LogHeader {
        version: int(4),
        dbid: long(8),
    };
    let mut pos = HEADER_LEN;
    let end = loop {
        let left = bytes.len() - pos;
        let torn = |reason: String| LogEnd::Torn {
            offset: pos as u64,
            reason,
        };
        if left == 0 {
            break LogEnd::Clean { offset: pos as u64 };
        }
        if left < 12 {
            if bytes[pos..].iter().all(|&b| b == 0) {
                break LogEnd::Clean { offset: pos as u64 };
            }
            break torn(format!("{left} bytes, not a whole record header"));
        }
        let stored_crc = long(pos);
        let len = int(pos + 8);
        if len == 0 {
            break LogEnd::Clean { offset: pos as u64 };
        }
        if len < 0 {
            return Err(ZkDataError::corrupt(
                path,
                pos as u64 + 8,
                format!("txn length {len}"),
            ));
        }
        let len = len as usize;
        if len + 1 > left - 12 {
            break torn(format!(
                "a {len}-byte txn, {} bytes left in the file",
                left - 12
            ));
        }
        if bytes[pos + 12 + len] != EOR {
            break torn(format!(
                "no end-of-record 'B' at offset {} (partial last transaction)",
                pos + 12 + len
            ));
        }
        each(RawRecord {
            offset: pos as u64,
            stored_crc,
            txn: &bytes[pos + 12..pos + 12 + len],
        })?;
        pos += 12 + len + 1;
    };
    Ok((header, end))
}

/// Reads a log file, calling `each` with every record's offset and entry in order. A bad
/// checksum, an undecodable txn or a bad header is an error naming file and offset; a
/// partial last record ends the reading and is reported in the [`LogEnd`].
pub fn read_log(
    path: &Path,
    mut each: impl FnMut(u64, TxnEntry) -> Result<(), ZkDataError>,
) -> Result<LogEnd, ZkDataError> {
    let bytes = std::fs::read(path).map_err(|e| ZkDataError::io("read", path, e))?;
    let (_, end) = walk_log(path, &bytes, |record| {
        let actual = record.actual_crc();
        if actual != record.stored_crc {
            return Err(ZkDataError::corrupt(
                path,
                record.offset,
                format!(
                    "txn checksum (Adler-32) is {actual:#x}, the record says {:#x}: CRC check \
                     failed",
                    record.stored_crc
                ),
            ));
        }
        each(record.offset, record.entry(path)?)
    })?;
    Ok(end)
}

/// A record whose checksum [`recover_log`] recomputed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrcFix {
    /// The record's offset.
    pub offset: u64,
    /// The checksum it carried.
    pub stored: i64,
    /// The Adler-32 of its txn bytes, now written.
    pub actual: i64,
    /// Its txn, when the bytes decode.
    pub entry: Option<TxnEntry>,
}

/// What [`recover_log`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredLog {
    /// The file written (`<log>.fixed`).
    pub path: PathBuf,
    /// The records written.
    pub records: u64,
    /// The records whose checksum was recomputed.
    pub fixed: Vec<CrcFix>,
    /// How the original ends (a partial last record is not copied).
    pub end: LogEnd,
}

/// `TxnLogToolkit --recover --yes`: writes `<log>.fixed`, the log's header and every whole
/// record with each bad Adler-32 recomputed (no preallocated zeros: ZooKeeper reads the end
/// of the file as the end of the log). The original is left as it is; an existing
/// `.fixed` file is refused.
pub fn recover_log(path: &Path) -> Result<RecoveredLog, ZkDataError> {
    let bytes = std::fs::read(path).map_err(|e| ZkDataError::io("read", path, e))?;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".fixed");
    let target = path.with_file_name(&name);
    if target.exists() {
        return Err(ZkDataError::io(
            "create",
            &target,
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "the recovery file exists already",
            ),
        ));
    }
    let mut out = bytes[..HEADER_LEN.min(bytes.len())].to_vec();
    let mut fixed = Vec::new();
    let mut records = 0;
    let (_, end) = walk_log(path, &bytes, |record| {
        let actual = record.actual_crc();
        if actual != record.stored_crc {
            fixed.push(CrcFix {
                offset: record.offset,
                stored: record.stored_crc,
                actual,
                entry: record.entry(path).ok(),
            });
        }
        out.put_i64(actual);
        out.put_buffer(Some(record.txn));
        out.push(EOR);
        records += 1;
        Ok(())
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let written = write_atomically(dir, &name.to_string_lossy(), &out)?;
    Ok(RecoveredLog {
        path: written,
        records,
        fixed,
        end,
    })
}

/// What [`chop_log`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoppedLog {
    /// The file written (`<log>.chopped<zxid>`).
    pub path: PathBuf,
    /// The records kept (up to and including the zxid).
    pub kept: u64,
    /// The records after it, left out.
    pub removed: u64,
}

/// `TxnLogToolkit --chop --zxid Z` (`LogChopper`): writes `<log>.chopped<Z>` (Z in decimal,
/// as ZooKeeper names it) holding the log's header and its records up to and including zxid
/// `Z`. The original is left as it is. Refused: a log without a record of zxid `Z`, a log
/// that ends at `Z` (nothing to chop), a bad checksum before the cut, an existing target.
pub fn chop_log(path: &Path, zxid: i64) -> Result<ChoppedLog, ZkDataError> {
    let bytes = std::fs::read(path).map_err(|e| ZkDataError::io("read", path, e))?;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".chopped{zxid}"));
    let target = path.with_file_name(&name);
    if target.exists() {
        return Err(ZkDataError::io(
            "create",
            &target,
            std::io::Error::new(std::io::ErrorKind::AlreadyExists, "the chopped log exists"),
        ));
    }
    let mut out = bytes[..HEADER_LEN.min(bytes.len())].to_vec();
    let (mut kept, mut removed) = (0u64, 0u64);
    let (mut has_zxid, mut passed) = (false, false);
    walk_log(path, &bytes, |record| {
        if passed {
            removed += 1;
            return Ok(());
        }
        let actual = record.actual_crc();
        if actual != record.stored_crc {
            return Err(ZkDataError::corrupt(
                path,
                record.offset,
                format!(
                    "txn checksum (Adler-32) is {actual:#x}, the record says {:#x}",
                    record.stored_crc
                ),
            ));
        }
        let z = record.entry(path)?.header.zxid;
        if z > zxid {
            removed += 1;
            passed = true;
            return Ok(());
        }
        out.put_i64(actual);
        out.put_buffer(Some(record.txn));
        out.push(EOR);
        kept += 1;
        has_zxid |= z == zxid;
        Ok(())
    })?;
    if !has_zxid {
        return Err(ZkDataError::Inconsistent(format!(
            "{} does not contain zxid {zxid:#x}",
            path.display()
        )));
    }
    if removed == 0 {
        return Err(ZkDataError::Inconsistent(format!(
            "{} ends at zxid {zxid:#x}: nothing to chop",
            path.display()
        )));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let written = write_atomically(dir, &name.to_string_lossy(), &out)?;
    Ok(ChoppedLog {
        path: written,
        kept,
        removed,
    })
}

/// The bytes of a log file holding `entries` (as `FileTxnLog` writes them, without the
/// preallocated zeros).
pub fn encode_log(dbid: i64, entries: &[TxnEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    out.put_i32(LOG_MAGIC);
    out.put_i32(LOG_VERSION);
    out.put_i64(dbid);
    for e in entries {
        let txn = e.encode();
        out.put_i64(i64::from(adler32(&txn)));
        out.put_buffer(Some(&txn));
        out.push(EOR);
    }
    out
}
