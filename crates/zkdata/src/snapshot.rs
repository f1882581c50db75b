//! Snapshot files (`FileSnap`): `FileHeader` ("ZKSN", version 2, dbid), the sessions (count,
//! then id and timeout each), the tree (the ACL cache: count, then reference and ACL list
//! each; then every node in pre-order as path and `DataNode` record — data, ACL reference,
//! `StatPersisted` — the root under `""`; `"/"` ends the nodes), then a seal: the Adler-32 of
//! every byte so far as a long, and `"/"`. ZooKeeper 3.6+ appends the digest (zxid, digest
//! version, digest) and a second seal; 3.9+ may append the last processed zxid and a third.
//! The file name's zxid is the last txn applied when the snapshot *began*: it is fuzzy, and
//! the digest's zxid (at its end) is where the tree it describes is consistent again.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{DecodeError, ZkDataError};
use crate::jute::{Put, Reader};
use crate::records::{decode_acls, encode_acls, StatPersisted};
use crate::stream::{adler32, compress, read_uncompressed, Compression};
use crate::tree::{DataNode, DataTree, DIGEST_VERSION};

/// "ZKSN".
pub const SNAP_MAGIC: i32 = 0x5a4b_534e;
/// The snapshot format version ZooKeeper writes.
pub const SNAP_VERSION: i32 = 2;
/// The file name prefix.
pub const SNAP_PREFIX: &str = "snapshot.";

/// The digest a snapshot ends with (`DataTree.ZxidDigest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZxidDigest {
    /// The last txn applied when the snapshot ended.
    pub zxid: i64,
    /// The digest calculator's version.
    pub digest_version: i32,
    /// The tree's digest after that txn.
    pub digest: i64,
}

/// A snapshot file read and checked.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The file.
    pub path: PathBuf,
    /// The zxid in its name (the last txn applied when it began).
    pub zxid: i64,
    /// `FileHeader.dbid`.
    pub dbid: i64,
    /// Sessions: id -> timeout (ms).
    pub sessions: BTreeMap<i64, i32>,
    /// The tree as written (fuzzy until the log after `zxid` is replayed).
    pub tree: DataTree,
    /// The digest at its end, when it has one (3.6+).
    pub digest: Option<ZxidDigest>,
    /// The last processed zxid it records (3.9+), when it has one.
    pub last_processed_zxid: Option<i64>,
}

/// The zxid in a `snapshot.<hex>` / `log.<hex>` file name (before any extension).
pub fn zxid_from_name(name: &str, prefix: &str) -> Option<i64> {
    let rest = name.strip_prefix(prefix)?;
    let hex = rest.split('.').next()?;
    u64::from_str_radix(hex, 16).ok().map(|z| z as i64)
}

/// Reads and checks one snapshot file (any compression). A damaged file is an error naming
/// the file and the offset (in the decompressed stream for a compressed one).
pub fn read_snapshot(path: &Path) -> Result<Snapshot, ZkDataError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let zxid = zxid_from_name(name, SNAP_PREFIX).ok_or_else(|| {
        ZkDataError::corrupt(path, 0, "the name is not snapshot.<hex zxid>[.gz|.snappy]")
    })?;
    let bytes = read_uncompressed(path)?;
    let compressed = Compression::of_name(name) != Compression::None;
    decode(&bytes, path, zxid).map_err(|e| {
        let mut err = e.in_file(path, 0);
        if let ZkDataError::Corrupt { reason, .. } = &mut err {
            if compressed {
                reason.push_str(" (offset in the decompressed stream)");
            }
        }
        err
    })
}

fn seal(r: &mut Reader<'_>, bytes: &[u8], which: &str) -> Result<(), DecodeError> {
    let at = r.pos();
    let expected = adler32(&bytes[..at as usize]);
    let stored = r.i64("checksum")?;
    let slash = r.string("seal path")?;
    if stored != i64::from(expected) {
        return Err(DecodeError::at(
            at,
            format!(
                "{which} Adler-32 is {expected:#x}, the file says {stored:#x} (CRC corruption)"
            ),
        ));
    }
    if slash != "/" {
        return Err(DecodeError::at(
            at + 8,
            format!("seal ends with {slash:?}, not \"/\""),
        ));
    }
    Ok(())
}

fn decode(bytes: &[u8], path: &Path, zxid: i64) -> Result<Snapshot, DecodeError> {
    let mut r = Reader::new(bytes);
    let magic = r.i32("magic")?;
    if magic != SNAP_MAGIC {
        return Err(DecodeError::at(0, format!("magic {magic:#x} is not ZKSN")));
    }
    let version = r.i32("version")?;
    if version != SNAP_VERSION {
        return Err(DecodeError::at(
            4,
            format!("snapshot version {version}, not 2"),
        ));
    }
    let dbid = r.i64("dbid")?;
    let n = r.count("session count", 12)?.unwrap_or(0);
    let mut sessions = BTreeMap::new();
    for _ in 0..n {
        let id = r.i64("session id")?;
        sessions.insert(id, r.i32("session timeout")?);
    }
    let mut tree = DataTree::empty();
    let n = r.count("ACL map size", 12)?.unwrap_or(0);
    for _ in 0..n {
        let id = r.i64("ACL reference")?;
        let acl = decode_acls(&mut r)?.unwrap_or_default();
        tree.acls.insert(id, acl);
    }
    loop {
        let at = r.pos();
        let node_path = r.string("node path")?;
        if node_path == "/" {
            break;
        }
        let data = r.buffer("node data")?.map(<[u8]>::to_vec);
        let acl = r.i64("node ACL reference")?;
        let stat = StatPersisted::decode(&mut r)?;
        tree.acls.reserve(acl);
        let node = DataNode {
            data,
            acl,
            stat,
            children: Default::default(),
        };
        tree.insert_loaded(&node_path, node)
            .map_err(|reason| DecodeError::at(at, reason))?;
    }
    if tree.get("").is_none() {
        return Err(DecodeError::at(r.pos(), "the tree has no root"));
    }
    seal(&mut r, bytes, "snapshot")?;
    let mut digest = None;
    let mut last_processed_zxid = None;
    if r.remaining() > 0 {
        let d_zxid = r.i64("digest zxid")?;
        let digest_version = r.i32("digest version")?;
        let value = if digest_version < 2 {
            let at = r.pos();
            let text = r.string("digest")?;
            i64::from_str_radix(&text, 16)
                .or_else(|_| u64::from_str_radix(&text, 16).map(|v| v as i64))
                .map_err(|_| DecodeError::at(at, format!("digest {text:?} is not hex")))?
        } else {
            r.i64("digest")?
        };
        seal(&mut r, bytes, "digest")?;
        digest = Some(ZxidDigest {
            zxid: d_zxid,
            digest_version,
            digest: value,
        });
    }
    if r.remaining() > 0 {
        last_processed_zxid = Some(r.i64("last processed zxid")?);
        seal(&mut r, bytes, "last processed zxid")?;
    }
    if r.remaining() > 0 {
        return Err(DecodeError::at(
            r.pos(),
            format!("{} unexpected bytes after the snapshot", r.remaining()),
        ));
    }
    tree.last_processed_zxid = zxid;
    Ok(Snapshot {
        path: path.to_path_buf(),
        zxid,
        dbid,
        sessions,
        tree,
        digest,
        last_processed_zxid,
    })
}

/// The bytes (uncompressed) of a snapshot of `tree` and `sessions`, with the digest of the
/// tree at `tree.last_processed_zxid`, as ZooKeeper 3.8 writes one.
pub fn encode_snapshot(tree: &DataTree, sessions: &BTreeMap<i64, i32>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + tree.len() * 96);
    out.put_i32(SNAP_MAGIC);
    out.put_i32(SNAP_VERSION);
    out.put_i64(-1);
    out.put_i32(sessions.len() as i32);
    for (id, timeout) in sessions {
        out.put_i64(*id);
        out.put_i32(*timeout);
    }
    let acls: Vec<_> = tree.acls.iter().collect();
    out.put_i32(acls.len() as i32);
    for (id, acl) in acls {
        out.put_i64(id);
        encode_acls(Some(acl), &mut out);
    }
    let _ = tree.visit_preorder(|path, node| {
        let Some(node) = node else {
            return Ok::<(), ()>(());
        };
        out.put_string(path);
        out.put_buffer(node.data.as_deref());
        out.put_i64(node.acl);
        node.stat.encode(&mut out);
        Ok::<(), ()>(())
    });
    out.put_string("/");
    let sum = adler32(&out);
    out.put_i64(i64::from(sum));
    out.put_string("/");
    out.put_i64(tree.last_processed_zxid);
    out.put_i32(DIGEST_VERSION);
    out.put_i64(tree.digest());
    let sum = adler32(&out);
    out.put_i64(i64::from(sum));
    out.put_string("/");
    out
}

/// Writes `snapshot.<zxid>[.gz|.snappy]` into `dir` (ZooKeeper's `dataDir/version-2`):
/// to a temp file, fsynced, renamed, the directory fsynced. Returns the path.
pub fn write_snapshot(
    dir: &Path,
    tree: &DataTree,
    sessions: &BTreeMap<i64, i32>,
    compression: Compression,
) -> Result<PathBuf, ZkDataError> {
    let bytes = compress(&encode_snapshot(tree, sessions), compression)
        .map_err(|e| ZkDataError::io("compress", dir, e))?;
    let name = format!(
        "{SNAP_PREFIX}{:x}{}",
        tree.last_processed_zxid,
        compression.extension()
    );
    write_atomically(dir, &name, &bytes)
}

pub(crate) fn write_atomically(
    dir: &Path,
    name: &str,
    bytes: &[u8],
) -> Result<PathBuf, ZkDataError> {
    std::fs::create_dir_all(dir).map_err(|e| ZkDataError::io("create", dir, e))?;
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(|e| ZkDataError::io("create", &tmp, e))?;
    f.write_all(bytes)
        .map_err(|e| ZkDataError::io("write", &tmp, e))?;
    f.sync_all()
        .map_err(|e| ZkDataError::io("fsync", &tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(|e| ZkDataError::io("rename", &tmp, e))?;
    if let Ok(d) = std::fs::File::open(dir) {
        d.sync_all().map_err(|e| ZkDataError::io("fsync", dir, e))?;
    }
    Ok(path)
}
