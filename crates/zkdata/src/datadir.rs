//! Loading a ZooKeeper dataDir / dataLogDir as ZooKeeper restarts from it
//! (`FileTxnSnapLog.restore`): the newest snapshot that reads and checks out, then every
//! logged txn after its zxid, replayed with `processTxn`'s rules (which make the fuzzy
//! snapshot exact), sessions opened and closed by createSession / closeSession txns, and
//! the digests compared: the snapshot's when the replay reaches its zxid, then each txn's.
//!
//! Stricter than ZooKeeper, because an import must not lose data silently: a gap in the
//! zxids after the snapshot, a log that ends before the txn the snapshot's digest names, and
//! a digest mismatch are errors (ZooKeeper logs the last and goes on).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::ZkDataError;
use crate::records::{Txn, TxnEntry};
use crate::snapshot::{read_snapshot, zxid_from_name, Snapshot, ZxidDigest, SNAP_PREFIX};
use crate::tree::{DataTree, DIGEST_VERSION};
use crate::txnlog::{read_log, LogEnd, LOG_PREFIX};

/// The subdirectory ZooKeeper keeps its files in.
pub const VERSION_DIR: &str = "version-2";

/// Choices for [`load`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Refuse when a digest does not match (default); when off, a mismatch is a note.
    pub verify_digests: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            verify_digests: true,
        }
    }
}

/// A dataDir loaded.
#[derive(Debug)]
pub struct Loaded {
    /// The tree at the last txn.
    pub tree: DataTree,
    /// Live sessions: id -> timeout (ms).
    pub sessions: BTreeMap<i64, i32>,
    /// The snapshot started from (`None`: there was none and no log either).
    pub snapshot: Option<PathBuf>,
    /// Its zxid.
    pub snapshot_zxid: i64,
    /// Txns replayed from the logs.
    pub replayed: u64,
    /// When the snapshot is fuzzy (its digest's zxid is above its name's): that zxid, up to
    /// which replayed txns could already be in it.
    pub fuzzy_until: Option<i64>,
    /// Digests compared (the snapshot's and the txns').
    pub digests_checked: u64,
    /// Things an operator should know (a damaged older snapshot skipped, a torn tail).
    pub notes: Vec<String>,
}

/// `dir/version-2` when it exists, else `dir`.
pub fn version_dir(dir: &Path) -> PathBuf {
    let v = dir.join(VERSION_DIR);
    if v.is_dir() {
        v
    } else {
        dir.to_path_buf()
    }
}

/// The files in `dir` named `<prefix><hex zxid>[.ext]`, by zxid, oldest first.
pub fn list_by_zxid(dir: &Path, prefix: &str) -> Result<Vec<(i64, PathBuf)>, ZkDataError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ZkDataError::io("list", dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| ZkDataError::io("list", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".tmp") {
            continue;
        }
        if let Some(z) = zxid_from_name(name, prefix) {
            files.push((z, entry.path()));
        }
    }
    files.sort();
    Ok(files)
}

fn epoch(zxid: i64) -> i64 {
    zxid >> 32
}

/// Loads ZooKeeper's `dataDir` and `dataLogDir` (the zoo.cfg values; their `version-2` is
/// used when present).
pub fn load(
    data_dir: &Path,
    data_log_dir: &Path,
    options: LoadOptions,
) -> Result<Loaded, ZkDataError> {
    let snap_dir = version_dir(data_dir);
    let log_dir = version_dir(data_log_dir);
    let mut notes = Vec::new();
    let snaps = list_by_zxid(&snap_dir, SNAP_PREFIX)?;
    let logs = list_by_zxid(&log_dir, LOG_PREFIX)?;
    let mut chosen: Option<Snapshot> = None;
    let mut first_error = None;
    for (_, path) in snaps.iter().rev() {
        match read_snapshot(path) {
            Ok(s) => {
                chosen = Some(s);
                break;
            }
            Err(e @ ZkDataError::Corrupt { .. }) => {
                notes.push(format!("skipped a damaged snapshot: {e}"));
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    let Some(snap) = chosen else {
        if let Some(e) = first_error {
            return Err(e);
        }
        if let Some((_, first)) = logs.first() {
            return Err(ZkDataError::Inconsistent(format!(
                "no snapshot in {} but there are txn logs ({}): ZooKeeper refuses this too",
                snap_dir.display(),
                first.display()
            )));
        }
        return Ok(Loaded {
            tree: DataTree::new(),
            sessions: BTreeMap::new(),
            snapshot: None,
            snapshot_zxid: 0,
            replayed: 0,
            fuzzy_until: None,
            digests_checked: 0,
            notes,
        });
    };
    let fuzzy_until = snap.digest.map(|d| d.zxid).filter(|&z| z > snap.zxid);
    let mut replay = Replay {
        snapshot: snap.path.clone(),
        tree: snap.tree,
        sessions: snap.sessions,
        pending_digest: None,
        last: snap.zxid,
        replayed: 0,
        digests_checked: 0,
        options,
        notes: Vec::new(),
    };
    match snap.digest {
        Some(d) if d.zxid > 0 && d.zxid >= snap.zxid && d.digest_version == DIGEST_VERSION => {
            replay.pending_digest = Some(d);
            replay.check_snapshot_digest(snap.zxid)?;
        }
        Some(d) if d.zxid > 0 && d.zxid >= snap.zxid => notes.push(format!(
            "{}: digest version {} is not {DIGEST_VERSION}: not compared",
            snap.path.display(),
            d.digest_version
        )),
        _ => {}
    }
    // The last log starting at or before the snapshot, and every later one.
    let start = logs.iter().rposition(|(z, _)| *z <= snap.zxid).unwrap_or(0);
    let chosen_logs = logs.get(start..).unwrap_or(&[]);
    for (i, (_, path)) in chosen_logs.iter().enumerate() {
        let end = read_log(path, |offset, entry| replay.entry(path, offset, entry))?;
        if let LogEnd::Torn { offset, reason } = end {
            let newest = i + 1 == chosen_logs.len();
            notes.push(format!(
                "{}: offset {offset}: partial record not replayed ({reason}){}",
                path.display(),
                if newest {
                    ", a write cut short at the end of the newest log (never acknowledged)"
                } else {
                    ""
                }
            ));
        }
    }
    if let Some(d) = replay.pending_digest {
        return Err(ZkDataError::Inconsistent(format!(
            "{} was finished at zxid {:#x} but the logs end at {:#x}: the txns in between are \
             missing, the snapshot alone is not a consistent tree",
            snap.path.display(),
            d.zxid,
            replay.last
        )));
    }
    let mut tree = replay.tree;
    for (path, node) in tree.iter() {
        if !tree.acls.contains(node.acl) {
            return Err(ZkDataError::Inconsistent(format!(
                "node {:?} refers to ACL {} which neither the snapshot nor the log defines",
                if path.is_empty() { "/" } else { path },
                node.acl
            )));
        }
    }
    tree.purge_unused_acls();
    notes.extend(replay.notes);
    Ok(Loaded {
        tree,
        sessions: replay.sessions,
        snapshot: Some(snap.path),
        snapshot_zxid: snap.zxid,
        replayed: replay.replayed,
        fuzzy_until,
        digests_checked: replay.digests_checked,
        notes,
    })
}

struct Replay {
    snapshot: PathBuf,
    tree: DataTree,
    sessions: BTreeMap<i64, i32>,
    /// The snapshot's digest, until the replay reaches its zxid (the fuzzy range).
    pending_digest: Option<ZxidDigest>,
    last: i64,
    replayed: u64,
    digests_checked: u64,
    options: LoadOptions,
    notes: Vec<String>,
}

impl Replay {
    fn mismatch(&mut self, what: String) -> Result<(), ZkDataError> {
        if self.options.verify_digests {
            Err(ZkDataError::Inconsistent(what))
        } else {
            self.notes.push(what);
            Ok(())
        }
    }

    fn check_snapshot_digest(&mut self, zxid: i64) -> Result<(), ZkDataError> {
        let Some(d) = self.pending_digest.filter(|d| d.zxid == zxid) else {
            return Ok(());
        };
        self.pending_digest = None;
        self.digests_checked += 1;
        if self.tree.digest() != d.digest {
            return self.mismatch(format!(
                "digest of the tree at zxid {zxid:#x} is {:#x}, the snapshot {} says {:#x}",
                self.tree.digest(),
                self.snapshot.display(),
                d.digest
            ));
        }
        Ok(())
    }

    fn entry(&mut self, file: &Path, offset: u64, entry: TxnEntry) -> Result<(), ZkDataError> {
        let zxid = entry.header.zxid;
        if zxid <= self.last {
            if self.replayed > 0 {
                return Err(ZkDataError::corrupt(
                    file,
                    offset,
                    format!("zxid {zxid:#x} is not above the previous {:#x}", self.last),
                ));
            }
            return Ok(());
        }
        if epoch(zxid) == epoch(self.last) && zxid != self.last + 1 {
            return Err(ZkDataError::Inconsistent(format!(
                "{}: offset {offset}: zxid {zxid:#x} follows {:#x}: the txns in between are \
                 missing",
                file.display(),
                self.last
            )));
        }
        match &entry.txn {
            Txn::CreateSession { timeout } => {
                self.sessions.insert(entry.header.client_id, *timeout);
            }
            Txn::CloseSession { .. } => {
                self.sessions.remove(&entry.header.client_id);
            }
            _ => {}
        }
        self.tree.process(&entry);
        self.last = zxid;
        self.replayed += 1;
        if self.pending_digest.is_some() {
            self.check_snapshot_digest(zxid)?;
            if self.pending_digest.is_some() {
                // Still in the fuzzy range: the tree is not yet what the txn's digest covers.
                return Ok(());
            }
        }
        if let Some(d) = entry.digest.filter(|d| d.version == DIGEST_VERSION) {
            self.digests_checked += 1;
            if d.tree_digest != self.tree.digest() {
                return self.mismatch(format!(
                    "{}: offset {offset}: txn {zxid:#x} logs the digest {:#x}, the replayed \
                     tree's is {:#x}",
                    file.display(),
                    d.tree_digest,
                    self.tree.digest()
                ));
            }
        }
        Ok(())
    }
}
