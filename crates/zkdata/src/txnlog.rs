//! Txn log files (`FileTxnLog`): `FileHeader` ("ZKLG", version 2, dbid), then records, each
//! the Adler-32 of the txn bytes (a long), the txn bytes (i32 length, then `TxnHeader`, the
//! body and, 3.6+, a `TxnDigest`), and the end-of-record byte `'B'`. ZooKeeper grows a log in
//! 64 MiB steps of zeros: a record of length 0 is the end (`Util.readTxnBytes`). A record
//! cut short or without its `'B'` is a partial last write (ZooKeeper stops reading the file
//! there); a checksum that does not match refuses the file ("CRC check failed").

use std::path::Path;

use crate::error::ZkDataError;
use crate::jute::Put;
use crate::records::TxnEntry;
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

/// Reads a log file, calling `each` with every record's offset and entry in order. A bad
/// checksum, an undecodable txn or a bad header is an error naming file and offset; a
/// partial last record ends the reading and is reported in the [`LogEnd`].
pub fn read_log(
    path: &Path,
    mut each: impl FnMut(u64, TxnEntry) -> Result<(), ZkDataError>,
) -> Result<LogEnd, ZkDataError> {
    let bytes = std::fs::read(path).map_err(|e| ZkDataError::io("read", path, e))?;
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
    let mut pos = HEADER_LEN;
    loop {
        let left = bytes.len() - pos;
        let torn = |reason: String| LogEnd::Torn {
            offset: pos as u64,
            reason,
        };
        if left == 0 {
            return Ok(LogEnd::Clean { offset: pos as u64 });
        }
        if left < 12 {
            if bytes[pos..].iter().all(|&b| b == 0) {
                return Ok(LogEnd::Clean { offset: pos as u64 });
            }
            return Ok(torn(format!("{left} bytes, not a whole record header")));
        }
        let mut crc = [0u8; 8];
        crc.copy_from_slice(&bytes[pos..pos + 8]);
        let crc = i64::from_be_bytes(crc);
        let len = int(pos + 8);
        if len == 0 {
            return Ok(LogEnd::Clean { offset: pos as u64 });
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
            return Ok(torn(format!(
                "a {len}-byte txn, {} bytes left in the file",
                left - 12
            )));
        }
        let txn = &bytes[pos + 12..pos + 12 + len];
        if bytes[pos + 12 + len] != EOR {
            return Ok(torn(format!(
                "no end-of-record 'B' at offset {} (partial last transaction)",
                pos + 12 + len
            )));
        }
        let actual = adler32(txn);
        if i64::from(actual) != crc {
            return Err(ZkDataError::corrupt(
                path,
                pos as u64,
                format!(
                    "txn checksum (Adler-32) is {actual:#x}, the record says {crc:#x}: CRC check failed"
                ),
            ));
        }
        let entry = TxnEntry::decode(txn).map_err(|e| e.in_file(path, pos as u64 + 12))?;
        each(pos as u64, entry)?;
        pos += 12 + len + 1;
    }
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
