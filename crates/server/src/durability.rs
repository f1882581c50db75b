//! Durability: corral-storage under the server. At start the newest valid snapshot is
//! loaded and the txn log replayed from its zxid (tree and sessions); while serving, every
//! txn goes through the log writer (group commit: one fsync for every txn queued meanwhile)
//! and is applied and answered only once it is durable; every snapCount txns (randomised as
//! ZooKeeper's SyncRequestProcessor does) a snapshot of the tree and the sessions is written in
//! the background; `autopurge.*` removes old snapshots and segments.
//!
//! Snapshot consistency: a snapshot is the exact state at its zxid (not ZooKeeper's fuzzy
//! snapshot), and taking it never pauses the server for long. Under the server's lock the
//! tree starts an incremental snapshot ([`DataTree::begin_snapshot`], O(1)) and the session
//! table is copied; then a background thread repeatedly takes the lock, has the tree serialise
//! the next [`SNAPSHOT_STEP_RECORDS`] records ([`DataTree::snapshot_step`]), releases it and
//! writes them to the snapshot's temp file. Writes applied between steps first save what they
//! change as it was (the tree's copy-before-write), so the bytes decode to the tree at the
//! snapshot's zxid. The file is fsynced and renamed when the last step is written.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use corral_datatree::{DataTree, DataTreeConfig, SnapshotProgress, Txn, TxnBody};
use corral_storage::{
    purge, LogView, LogWriter, LogWriterHandle, SnapPolicy, SnapshotStore, Storage, StorageConfig,
    StorageError,
};
use parking_lot::Mutex;

use crate::config::ServerConfig;
use crate::core::{Core, Now};
use crate::pipeline::TxnSink;
use crate::ServerError;

/// The tree and sessions found on disk.
pub struct RecoveredState {
    /// The tree, with every durable txn applied.
    pub tree: DataTree,
    /// Sessions alive at the last durable txn: id -> timeout (ms).
    pub sessions: BTreeMap<i64, i32>,
    /// Txns replayed from the log.
    pub replayed: usize,
}

/// The storage settings a zoo.cfg implies.
pub fn storage_config(config: &ServerConfig) -> StorageConfig {
    StorageConfig {
        data_log_dir: config.data_log_dir.clone(),
        pre_alloc_size: config.pre_alloc_size_kb.saturating_mul(1024),
        snap_count: config.snap_count,
        force_sync: config.force_sync,
        ..StorageConfig::new(config.data_dir.clone())
    }
}

/// Records a snapshot step serialises under the server's lock (tens of microseconds of
/// work): the longest a snapshot makes a request wait.
pub const SNAPSHOT_STEP_RECORDS: usize = 256;

/// A snapshot's payload: the tree, then the sessions (count, then id and timeout each).
pub fn snapshot_payload(tree: &DataTree, sessions: &BTreeMap<i64, i32>) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = tree.write_snapshot(&mut out);
    out.extend_from_slice(&session_table(sessions));
    out
}

/// The session table that ends a snapshot's payload.
fn session_table(sessions: &BTreeMap<i64, i32>) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + 12 * sessions.len());
    out.extend_from_slice(&(sessions.len() as u64).to_be_bytes());
    for (id, timeout) in sessions {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&timeout.to_be_bytes());
    }
    out
}

/// Reads what [`snapshot_payload`] wrote.
pub fn parse_snapshot_payload(
    payload: &[u8],
    config: DataTreeConfig,
) -> Result<(DataTree, BTreeMap<i64, i32>), String> {
    let mut rest = payload;
    let tree = DataTree::read_snapshot(&mut rest, config).map_err(|e| e.to_string())?;
    let take = |rest: &mut &[u8], n: usize| -> Result<Vec<u8>, String> {
        if rest.len() < n {
            return Err("snapshot session table is truncated".into());
        }
        let (head, tail) = rest.split_at(n);
        *rest = tail;
        Ok(head.to_vec())
    };
    let mut count = [0u8; 8];
    count.copy_from_slice(&take(&mut rest, 8)?);
    let count = u64::from_be_bytes(count);
    if count.saturating_mul(12) > rest.len() as u64 {
        return Err(format!("snapshot claims {count} sessions but is too short"));
    }
    let mut sessions = BTreeMap::new();
    for _ in 0..count {
        let raw = take(&mut rest, 12)?;
        let mut id = [0u8; 8];
        id.copy_from_slice(&raw[..8]);
        let mut timeout = [0u8; 4];
        timeout.copy_from_slice(&raw[8..]);
        sessions.insert(i64::from_be_bytes(id), i32::from_be_bytes(timeout));
    }
    if !rest.is_empty() {
        return Err(format!(
            "{} unexpected bytes after the session table",
            rest.len()
        ));
    }
    Ok((tree, sessions))
}

/// Replays one logged txn into the tree and the session table (id -> timeout), as recovery
/// does.
pub fn replay_txn(tree: &mut DataTree, sessions: &mut BTreeMap<i64, i32>, txn: &Txn) {
    match &txn.body {
        TxnBody::CreateSession { timeout_ms } => {
            sessions.insert(txn.session_id, *timeout_ms);
        }
        TxnBody::CloseSession { .. } => {
            sessions.remove(&txn.session_id);
        }
        _ => {}
    }
    tree.apply(txn);
}

/// Loads the newest valid snapshot and replays the log after it. A data directory with
/// neither gets `snapshot.0` of the empty tree, as ZooKeeper writes on first start.
pub fn recover(storage: &Storage, config: DataTreeConfig) -> Result<RecoveredState, ServerError> {
    let recovered = storage.recover().map_err(ServerError::Storage)?;
    let (mut tree, mut sessions) = match &recovered.snapshot {
        Some(snap) => parse_snapshot_payload(&snap.payload, config).map_err(|message| {
            ServerError::Recovery {
                what: snap.path.display().to_string(),
                message,
            }
        })?,
        None => {
            let tree = DataTree::with_config(config);
            let payload = snapshot_payload(&tree, &BTreeMap::new());
            storage
                .snapshots
                .write(0, &payload)
                .map_err(ServerError::Storage)?;
            (tree, BTreeMap::new())
        }
    };
    let mut replayed = 0;
    for record in recovered.txns {
        let (zxid, payload) = record.map_err(ServerError::Storage)?;
        let txn = Txn::decode(&payload).map_err(|e| ServerError::Recovery {
            what: format!("txn 0x{zxid:x}"),
            message: e.to_string(),
        })?;
        replay_txn(&mut tree, &mut sessions, &txn);
        replayed += 1;
    }
    Ok(RecoveredState {
        tree,
        sessions,
        replayed,
    })
}

/// The log writer as the server's [`TxnSink`]: txns are durable once `on_durable` says so.
pub struct LogSink {
    handle: Arc<OnceLock<LogWriterHandle>>,
}

impl TxnSink for LogSink {
    fn submit(&mut self, zxid: i64, txn: Bytes) -> bool {
        match self.handle.get() {
            Some(h) => {
                if let Err(e) = h.append(zxid, txn) {
                    // The writer has failed; its on_durable(Err) stops writes.
                    tracing::error!("cannot append txn 0x{zxid:x} to the log: {e}");
                }
            }
            None => tracing::error!("txn 0x{zxid:x} submitted before the log writer started"),
        }
        false
    }
}

/// What snapshots need, shared with the writer thread's callback.
struct Snapshotter {
    core: Weak<Mutex<Core>>,
    store: Arc<SnapshotStore>,
    policy: SnapPolicy,
    roll: u64,
    in_progress: Arc<AtomicBool>,
}

impl Snapshotter {
    fn next_roll(&mut self) {
        let bound = self.policy.roll_bound().max(1);
        let noise = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64 ^ d.as_secs().rotate_left(17))
            .unwrap_or(0);
        self.roll = noise % bound;
    }

    /// Takes a snapshot if the policy says so: begun now (under the caller's lock), serialised
    /// step by step and written on a background thread (see the module docs). Skipped while
    /// the previous one is still being written.
    ///
    /// This runs on the log writer's thread (its on_durable callback), so nothing here may wait
    /// for that thread: the segment roll, which does, happens on the snapshot thread.
    fn maybe_snapshot(&mut self, core: &mut Core, handle: &Arc<OnceLock<LogWriterHandle>>) {
        if !self
            .policy
            .should_snapshot(core.txns_since_snapshot, self.roll)
        {
            return;
        }
        if self.in_progress.swap(true, Ordering::AcqRel) {
            tracing::warn!("Too busy to snap, skipping");
            return;
        }
        let (zxid, sessions) = match core.begin_snapshot() {
            Ok(started) => started,
            Err(e) => {
                tracing::error!("cannot start a snapshot: {e}");
                self.in_progress.store(false, Ordering::Release);
                return;
            }
        };
        self.next_roll();
        let handle = Arc::clone(handle);
        let store = Arc::clone(&self.store);
        let done = Arc::clone(&self.in_progress);
        let core_ref = self.core.clone();
        let spawned = std::thread::Builder::new()
            .name("corral-snapshot".into())
            .spawn(move || {
                if let Some(Err(e)) = handle.get().map(LogWriterHandle::roll) {
                    tracing::error!("cannot start a new log segment: {e}");
                }
                match write_snapshot(&core_ref, &store, zxid, &sessions) {
                    Ok(path) => tracing::info!("Snapshotting: 0x{zxid:x} to {}", path.display()),
                    Err(e) => {
                        tracing::error!("snapshot 0x{zxid:x} failed: {e}");
                        if let Some(core) = core_ref.upgrade() {
                            core.lock().tree.abort_snapshot();
                        }
                    }
                }
                done.store(false, Ordering::Release);
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the snapshot thread: {e}");
            core.tree.abort_snapshot();
            self.in_progress.store(false, Ordering::Release);
        }
    }
}

/// The snapshot thread's work: the tree's steps, each under the lock, written as they come,
/// then the session table; fsync and rename at the end.
fn write_snapshot(
    core: &Weak<Mutex<Core>>,
    store: &SnapshotStore,
    zxid: i64,
    sessions: &BTreeMap<i64, i32>,
) -> Result<std::path::PathBuf, String> {
    let mut file = store.begin(zxid).map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(256 << 10);
    loop {
        buf.clear();
        let progress = {
            let Some(core) = core.upgrade() else {
                return Err("the server stopped".into());
            };
            let mut core = core.lock();
            core.tree
                .snapshot_step(SNAPSHOT_STEP_RECORDS, &mut buf)
                .map_err(|e| e.to_string())?
        };
        file.write_all(&buf).map_err(|e| e.to_string())?;
        if progress == SnapshotProgress::Done {
            break;
        }
    }
    file.write_all(&session_table(sessions))
        .map_err(|e| e.to_string())?;
    file.finish().map_err(|e| e.to_string())
}

/// The storage the running server keeps: what purge needs.
pub struct Durability {
    /// Snapshots, for purge.
    pub snapshots: Arc<SnapshotStore>,
    /// The log, for purge (and later DIFF).
    pub log_view: LogView,
    /// `autopurge.snapRetainCount`.
    pub retain: usize,
}

impl Durability {
    /// Runs `autopurge` once.
    pub fn purge(&self) {
        match purge(&self.snapshots, &self.log_view, self.retain) {
            Ok(report) => tracing::info!(
                "Purge: removed {} snapshots and {} log segments",
                report.removed_snapshots.len(),
                report.removed_segments.len()
            ),
            Err(e) => tracing::warn!("purge failed: {e}"),
        }
    }
}

/// Opens the data directories, recovers, and returns the core (behind its lock, with the log
/// writer as its sink) and what purge needs.
pub fn open(
    config: ServerConfig,
    disk: Option<Arc<dyn corral_storage::Disk>>,
    now: Now,
    clock: impl Fn() -> Now + Send + 'static,
) -> Result<(Arc<Mutex<Core>>, Durability), ServerError> {
    let mut storage_cfg = storage_config(&config);
    if let Some(disk) = disk {
        storage_cfg.disk = disk;
    }
    if !config.force_sync {
        tracing::warn!(
            "forceSync is off: writes are acknowledged before they are on disk, and a crash or \
             power loss can lose acknowledged writes"
        );
    }
    let storage = Storage::open(&storage_cfg).map_err(ServerError::Storage)?;
    let tree_config = DataTreeConfig {
        extended_types_enabled: config.extended_types_enabled,
        enforce_quota: config.enforce_quota,
    };
    let state = recover(&storage, tree_config)?;
    tracing::info!(
        "Recovered {} znodes and {} sessions at zxid 0x{:x} ({} txns replayed from the log)",
        state.tree.node_count(),
        state.sessions.len(),
        state.tree.last_zxid(),
        state.replayed
    );
    let Storage { log, snapshots } = storage;
    let snapshots = Arc::new(snapshots);
    let handle = Arc::new(OnceLock::new());
    let sink = LogSink {
        handle: Arc::clone(&handle),
    };
    let retain = config.snap_retain_count;
    let policy = SnapPolicy {
        snap_count: config.snap_count,
        ..SnapPolicy::default()
    };
    let core = Core::restore(config, Box::new(sink), state.tree, &state.sessions, now)?;
    let core = Arc::new(Mutex::new(core));
    let mut snapshotter = Snapshotter {
        core: Arc::downgrade(&core),
        store: Arc::clone(&snapshots),
        policy,
        roll: 0,
        in_progress: Arc::new(AtomicBool::new(false)),
    };
    snapshotter.next_roll();
    let callback_core = Arc::clone(&core);
    let callback_handle = Arc::clone(&handle);
    let writer = LogWriter::spawn(log, move |result: Result<i64, StorageError>| {
        let mut core = callback_core.lock();
        match result {
            Ok(zxid) => {
                core.durable(zxid, clock());
                snapshotter.maybe_snapshot(&mut core, &callback_handle);
            }
            Err(e) => core.storage_failed(&e.to_string()),
        }
    })
    .map_err(ServerError::Storage)?;
    let log_view = writer.view();
    // Only this function sets it, once.
    let _ = handle.set(writer);
    Ok((
        core,
        Durability {
            snapshots,
            log_view,
            retain,
        },
    ))
}
