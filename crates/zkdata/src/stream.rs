//! `SnapStream`: a snapshot file is plain, gzip or snappy by its name's extension
//! (`snapshot.<zxid>`, `.gz`, `.snappy`); its Adler-32 checksums cover the uncompressed
//! bytes. ZooKeeper's snappy is xerial snappy-java's `SnappyOutputStream`: a 16-byte header
//! (`0x82 "SNAPPY" 0x00`, version 1, compatible version 1) then blocks, each an i32
//! compressed length and a raw Snappy block of at most 32 KiB uncompressed.

use std::io::{Read, Write};
use std::path::Path;

use crate::error::ZkDataError;

/// How a snapshot file is compressed (`zookeeper.snapshot.compression.method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// No compression (`snapshot.<zxid>`).
    None,
    /// gzip (`snapshot.<zxid>.gz`).
    Gzip,
    /// snappy-java's stream (`snapshot.<zxid>.snappy`).
    Snappy,
}

impl Compression {
    /// The file name extension ZooKeeper gives it (with the dot), or "".
    pub fn extension(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Snappy => ".snappy",
        }
    }

    /// The compression a snapshot file name implies (`SnapStream.getStreamMode`).
    pub fn of_name(name: &str) -> Compression {
        match name.rsplit_once('.').map(|(_, ext)| ext) {
            Some("gz") => Compression::Gzip,
            Some("snappy") => Compression::Snappy,
            _ => Compression::None,
        }
    }
}

const SNAPPY_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const SNAPPY_BLOCK: usize = 32 * 1024;

/// Reads a snapshot file and returns its uncompressed bytes.
pub(crate) fn read_uncompressed(path: &Path) -> Result<Vec<u8>, ZkDataError> {
    let raw = std::fs::read(path).map_err(|e| ZkDataError::io("read", path, e))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match Compression::of_name(name) {
        Compression::None => Ok(raw),
        Compression::Gzip => {
            let mut out = Vec::with_capacity(raw.len() * 4);
            let mut dec = flate2::read::GzDecoder::new(&raw[..]);
            if let Err(e) = dec.read_to_end(&mut out) {
                return Err(ZkDataError::corrupt(
                    path,
                    out.len() as u64,
                    format!(
                        "gzip stream broken after {} decompressed bytes: {e}",
                        out.len()
                    ),
                ));
            }
            Ok(out)
        }
        Compression::Snappy => snappy_decode(&raw).map_err(|(offset, reason)| {
            ZkDataError::corrupt(
                path,
                offset,
                format!("snappy stream (file offset): {reason}"),
            )
        }),
    }
}

fn snappy_decode(raw: &[u8]) -> Result<Vec<u8>, (u64, String)> {
    if raw.len() < 16 || raw[..8] != SNAPPY_MAGIC {
        return Err((0, "no snappy-java stream header".into()));
    }
    let mut out = Vec::with_capacity(raw.len() * 3);
    let mut pos = 16;
    let mut dec = snap::raw::Decoder::new();
    while pos < raw.len() {
        // A stream may be a concatenation: another header starts a new part.
        if raw.len() - pos >= 16 && raw[pos..pos + 8] == SNAPPY_MAGIC {
            pos += 16;
            continue;
        }
        if raw.len() - pos < 4 {
            return Err((pos as u64, "truncated block length".into()));
        }
        let mut len = [0u8; 4];
        len.copy_from_slice(&raw[pos..pos + 4]);
        let len = i32::from_be_bytes(len);
        if len < 0 || len as usize > raw.len() - pos - 4 {
            return Err((
                pos as u64,
                format!("block length {len} past the end of the file"),
            ));
        }
        let block = &raw[pos + 4..pos + 4 + len as usize];
        let n = snap::raw::decompress_len(block).map_err(|e| (pos as u64, e.to_string()))?;
        let start = out.len();
        out.resize(start + n, 0);
        dec.decompress(block, &mut out[start..])
            .map_err(|e| (pos as u64, e.to_string()))?;
        pos += 4 + len as usize;
    }
    Ok(out)
}

/// Compresses a whole snapshot's bytes as ZooKeeper would write them.
pub(crate) fn compress(bytes: &[u8], how: Compression) -> std::io::Result<Vec<u8>> {
    match how {
        Compression::None => Ok(bytes.to_vec()),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(bytes)?;
            enc.finish()
        }
        Compression::Snappy => {
            let mut out = Vec::with_capacity(bytes.len() / 2 + 16);
            out.extend_from_slice(&SNAPPY_MAGIC);
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            let mut enc = snap::raw::Encoder::new();
            for chunk in bytes.chunks(SNAPPY_BLOCK) {
                let block = enc
                    .compress_vec(chunk)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                out.extend_from_slice(&(block.len() as i32).to_be_bytes());
                out.extend_from_slice(&block);
            }
            Ok(out)
        }
    }
}

/// Adler-32 (`java.util.zip.Adler32`) of `bytes`.
pub fn adler32(bytes: &[u8]) -> u32 {
    let mut a = adler2::Adler32::new();
    a.write_slice(bytes);
    a.checksum()
}
