//! The txn log's bytes: the segment header and the framed records, their encoding, and the
//! parsing that recovery and the readers share.
//!
//! ```text
//! segment  = header record* zero-fill
//! header   = magic "CRLG" | version u32 = 1 | first zxid u64          (16 bytes)
//! record   = len u32 | crc32c u32 | zxid u64 | payload                 (16 + payload bytes)
//!            len = 8 + payload length (so never 0); crc over zxid and payload
//! ```
//! All integers big-endian. A zero `len` marks the end of the valid data: the rest of a
//! segment is zeros (preallocated space).

use crate::crc::crc32c;
use crate::Zxid;

/// The first four bytes of a log segment.
pub const LOG_MAGIC: [u8; 4] = *b"CRLG";
/// The segment format version this build writes and reads.
pub const LOG_VERSION: u32 = 1;
/// Bytes before the first record of a segment.
pub const LOG_HEADER_LEN: u64 = 16;
/// Bytes of a record before its payload.
pub const RECORD_HEADER_LEN: usize = 16;
/// The largest payload a record may carry.
pub const MAX_PAYLOAD: usize = 64 << 20;

/// The encoded header of a segment whose first record is `first_zxid`.
pub(crate) fn log_header(first_zxid: Zxid) -> [u8; LOG_HEADER_LEN as usize] {
    let mut h = [0u8; LOG_HEADER_LEN as usize];
    h[..4].copy_from_slice(&LOG_MAGIC);
    h[4..8].copy_from_slice(&LOG_VERSION.to_be_bytes());
    h[8..16].copy_from_slice(&first_zxid.0.to_be_bytes());
    h
}

/// What a segment header says, or why it is not one.
pub(crate) enum Header {
    /// A good header.
    Valid { first_zxid: Zxid },
    /// Shorter than a header, or all zeros: a segment whose creation a crash interrupted.
    Torn,
    /// Not ours, or a version we do not know.
    Bad(String),
}

pub(crate) fn parse_log_header(buf: &[u8]) -> Header {
    let n = LOG_HEADER_LEN as usize;
    let k = buf.len().min(4);
    let magic_ok = buf[..k] == LOG_MAGIC[..k];
    let head = &buf[..buf.len().min(n)];
    if buf.len() < n || head.iter().all(|&b| b == 0) {
        return if magic_ok || head.iter().all(|&b| b == 0) {
            Header::Torn
        } else {
            Header::Bad(format!("magic {:02x?} is not {:?}", &buf[..k], "CRLG"))
        };
    }
    if buf[..4] != LOG_MAGIC {
        return Header::Bad(format!("magic {:02x?} is not {:?}", &buf[..4], "CRLG"));
    }
    let version = be_u32(&buf[4..8]);
    if version != LOG_VERSION {
        return Header::Bad(format!(
            "unknown log format version {version} (this build reads {LOG_VERSION})"
        ));
    }
    Header::Valid {
        first_zxid: be_zxid(&buf[8..16]),
    }
}

/// Appends one framed record.
pub(crate) fn encode_record(out: &mut Vec<u8>, zxid: Zxid, payload: &[u8]) {
    let z = zxid.0.to_be_bytes();
    let len = (8 + payload.len()) as u32;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&crc32c(&[&z, payload]).to_be_bytes());
    out.extend_from_slice(&z);
    out.extend_from_slice(payload);
}

/// The encoded size of a record with this payload.
#[cfg(test)]
pub(crate) fn record_len(payload_len: usize) -> u64 {
    (RECORD_HEADER_LEN + payload_len) as u64
}

/// What is at a position of a segment's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// A whole record with a good crc; the payload is `buf[payload.0..payload.1]`.
    Record {
        zxid: Zxid,
        payload: (usize, usize),
        end: usize,
    },
    /// The end of the data: a zero length, or the end of the buffer exactly.
    End,
    /// Not a record (short, bad length, bad crc).
    Bad(String),
}

pub(crate) fn parse_record(buf: &[u8], pos: usize) -> Parsed {
    let rest = buf.len().saturating_sub(pos);
    if rest == 0 {
        return Parsed::End;
    }
    if rest < 4 {
        return if buf[pos..].iter().all(|&b| b == 0) {
            Parsed::End
        } else {
            Parsed::Bad(format!(
                "{rest} stray bytes where a record length should be"
            ))
        };
    }
    let len = be_u32(&buf[pos..pos + 4]) as usize;
    if len == 0 {
        return Parsed::End;
    }
    if !(8..=8 + MAX_PAYLOAD).contains(&len) {
        return Parsed::Bad(format!("impossible record length {len}"));
    }
    let end = pos + 8 + len;
    if end > buf.len() {
        return Parsed::Bad(format!(
            "record of {len} bytes runs {} bytes past the end of the data",
            end - buf.len()
        ));
    }
    let crc = be_u32(&buf[pos + 4..pos + 8]);
    let body = &buf[pos + 8..end];
    let actual = crc32c(&[body]);
    if crc != actual {
        return Parsed::Bad(format!("crc {actual:#010x} does not match {crc:#010x}"));
    }
    Parsed::Record {
        zxid: be_zxid(&body[..8]),
        payload: (pos + 16, end),
        end,
    }
}

/// The first offset at or after `from` where a valid record with a zxid above `after` (any
/// zxid when `None`) starts, if any. Runs of zeros are skipped quickly (a record's length
/// field is never zero).
pub(crate) fn find_valid_record(buf: &[u8], from: usize, after: Option<Zxid>) -> Option<usize> {
    let mut o = from;
    while o + RECORD_HEADER_LEN <= buf.len() {
        if buf[o..o + 4] == [0, 0, 0, 0] {
            // Jump to just before the next non-zero byte (it may be the length's low byte).
            let next = buf[o + 4..].iter().position(|&b| b != 0)?;
            o = (o + 4 + next).saturating_sub(3).max(o + 1);
            continue;
        }
        if let Parsed::Record { zxid, .. } = parse_record(buf, o) {
            if after.is_none_or(|a| zxid > a) {
                return Some(o);
            }
        }
        o += 1;
    }
    None
}

pub(crate) fn be_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_be_bytes(a)
}

pub(crate) fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

pub(crate) fn be_zxid(b: &[u8]) -> Zxid {
    Zxid(be_u64(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip_and_end() {
        let mut buf = Vec::new();
        encode_record(&mut buf, Zxid(7), b"abc");
        encode_record(&mut buf, Zxid(9), b"");
        assert_eq!(buf.len() as u64, record_len(3) + record_len(0));
        let Parsed::Record { zxid, payload, end } = parse_record(&buf, 0) else {
            panic!("not a record")
        };
        assert_eq!((zxid, &buf[payload.0..payload.1]), (Zxid(7), &b"abc"[..]));
        let Parsed::Record {
            zxid,
            payload,
            end: end2,
        } = parse_record(&buf, end)
        else {
            panic!("not a record")
        };
        assert_eq!((zxid, payload.0, payload.1), (Zxid(9), end2, end2));
        assert_eq!(parse_record(&buf, end2), Parsed::End);
        buf.extend_from_slice(&[0; 10]);
        assert_eq!(parse_record(&buf, end2), Parsed::End);
    }

    #[test]
    fn every_cut_and_every_flip_is_bad() {
        let mut buf = Vec::new();
        encode_record(&mut buf, Zxid(0x1_0000_0001), b"hello world");
        for cut in 1..buf.len() {
            let p = parse_record(&buf[..cut], 0);
            // Kept bytes that are all zero (the length's high bytes) read as the end.
            let zeros = buf[..cut].iter().all(|&b| b == 0);
            assert!(
                matches!(p, Parsed::Bad(_)) || (zeros && p == Parsed::End),
                "cut {cut}: {p:?}"
            );
        }
        for byte in 0..buf.len() {
            for bit in 0..8 {
                let mut b = buf.clone();
                b[byte] ^= 1 << bit;
                let p = parse_record(&b, 0);
                assert!(
                    matches!(p, Parsed::Bad(_)) || (byte < 4 && p == Parsed::End),
                    "flip {byte}.{bit}: {p:?}"
                );
            }
        }
    }

    #[test]
    fn header_cases() {
        assert!(matches!(
            parse_log_header(&log_header(Zxid(5))),
            Header::Valid {
                first_zxid: Zxid(5)
            }
        ));
        assert!(matches!(parse_log_header(&[0; 16]), Header::Torn));
        assert!(matches!(parse_log_header(&LOG_MAGIC), Header::Torn));
        assert!(matches!(
            parse_log_header(b"ZKLG\0\0\0\x02"),
            Header::Bad(_)
        ));
        let mut h = log_header(Zxid(5));
        h[7] = 9;
        assert!(matches!(parse_log_header(&h), Header::Bad(_)));
    }

    #[test]
    fn finds_records_after_garbage() {
        let mut buf = vec![0u8; 100];
        buf[3] = 0xee;
        buf.extend_from_slice(&[0; 77]);
        let at = buf.len();
        encode_record(&mut buf, Zxid(42), b"x");
        buf.extend_from_slice(&[0; 50]);
        assert_eq!(find_valid_record(&buf, 0, Some(Zxid(0))), Some(at));
        assert_eq!(find_valid_record(&buf, 0, Some(Zxid(42))), None);
        assert_eq!(find_valid_record(&buf, at + 1, Some(Zxid(0))), None);
    }
}
