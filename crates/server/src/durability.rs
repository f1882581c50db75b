//! Durability: corral-storage under the server. At start the newest valid snapshot is
//! loaded and the txn log replayed from its zxid (tree and sessions); while serving, every
//! txn goes through the log writer (group commit: one fsync for every txn queued meanwhile)
//! and is applied and answered only once it is durable; every snapCount txns (randomised as
//! ZooKeeper's SyncRequestProcessor does) a snapshot of the tree and the sessions is written in
//! the background; `autopurge.*` removes old snapshots and segments.
//!
//! Snapshot consistency: a snapshot is the exact state at its zxid (not ZooKeeper's fuzzy
//! snapshot), and taking it never pauses the server for long. The core starts an incremental
//! snapshot of the tree ([`DataTree::begin_snapshot`], O(1)) and copies the session table;
//! then the owner loop (crate::net), between inputs, has the tree serialise the next
//! [`SNAPSHOT_STEP_RECORDS`] records ([`DataTree::snapshot_step`]) and sends them to the
//! snapshot thread, which writes them to the snapshot's temp file. Writes applied between
//! steps first save what they change as it was (the tree's copy-before-write), so the bytes
//! decode to the tree at the snapshot's zxid. The file is fsynced and renamed after the last
//! step.
//!
//! An ensemble member does not use this module's log: its txns go through
//! corral-zab-runtime's quorum writer (crate::member), whose TRUNC only drops log entries that
//! were never committed, so never applied: its state needs no rebuild.

use corral_zxid::Zxid;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use corral_datatree::{DataTree, DataTreeConfig, Txn};
use corral_storage::{
    purge, LogIter, LogView, LogWriter, LogWriterHandle, Snapshot, SnapshotStore, Storage,
    StorageConfig, StorageError,
};

use crate::config::ServerConfig;
use crate::core::metrics::StartupTimes;
use crate::ServerError;

/// The tree and sessions found on disk.
pub struct RecoveredState {
    /// The tree, with every durable txn applied.
    pub tree: DataTree,
    /// Sessions alive at the last durable txn: id -> timeout (ms).
    pub sessions: BTreeMap<i64, i32>,
    /// Txns replayed from the log.
    pub replayed: usize,
    /// What the recovery took (ZooKeeper's startup metrics).
    pub times: StartupTimes,
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

/// Records one snapshot step serialises on the owner's task (tens of microseconds of work):
/// the longest a snapshot makes a request wait.
pub const SNAPSHOT_STEP_RECORDS: usize = 256;

/// Records per call of the tree's step within one turn's step.
pub const SNAPSHOT_SUBSTEP_RECORDS: usize = 8;

/// A turn's snapshot step stops once it has serialised about this many bytes.
pub const SNAPSHOT_STEP_BYTES: usize = 256 << 10;

/// The capacity a snapshot step's buffer starts with.
const SNAPSHOT_BUFFER: usize = 256 << 10;

/// A snapshot's payload: the tree, then the sessions (count, then id and timeout each).
pub fn snapshot_payload(tree: &DataTree, sessions: &BTreeMap<i64, i32>) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = tree.write_snapshot(&mut out);
    snapshot_payload_from_tree_bytes(out, sessions)
}

/// A snapshot's payload from a tree snapshot already written (`DataTree::write_snapshot`'s
/// or `TreeSnapshotBuilder`'s bytes) and the sessions: what [`snapshot_payload`] writes,
/// without serialising a tree again (`corral import` has the builder's bytes).
pub fn snapshot_payload_from_tree_bytes(
    mut tree: Vec<u8>,
    sessions: &BTreeMap<i64, i32>,
) -> Vec<u8> {
    tree.extend_from_slice(&session_table(sessions));
    tree
}

/// The session table that ends a snapshot's payload.
pub(crate) fn session_table(sessions: &BTreeMap<i64, i32>) -> Vec<u8> {
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

/// Replays one logged txn into the tree and the session table (id -> timeout), exactly as
/// the running server applies a committed txn ([`crate::core::state::apply_txn`]).
pub fn replay_txn(tree: &mut DataTree, sessions: &mut BTreeMap<i64, i32>, txn: &Txn) {
    crate::core::state::apply_txn(tree, sessions, txn);
}

/// Loads the newest valid snapshot and replays the log after it. A data directory with
/// neither gets `snapshot.0` of the empty tree, as ZooKeeper writes on first start.
pub fn recover(storage: &Storage, config: DataTreeConfig) -> Result<RecoveredState, ServerError> {
    let started = Instant::now();
    let recovered = storage.recover().map_err(ServerError::Storage)?;
    let mut initial_snapshot_ms = None;
    if recovered.snapshot.is_none() {
        let writing = Instant::now();
        let payload = snapshot_payload(&DataTree::with_config(config), &BTreeMap::new());
        storage
            .snapshots
            .write(Zxid::ZERO, &payload)
            .map_err(ServerError::Storage)?;
        initial_snapshot_ms = Some(elapsed_ms(writing));
    }
    let mut state = rebuild(recovered.snapshot.as_ref(), recovered.txns, config, started)?;
    state.times.db_init_ms = elapsed_ms(started);
    state.times.initial_snapshot_ms = initial_snapshot_ms;
    Ok(state)
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The state a snapshot (or the empty tree) plus the log records after it make.
/// `started`: when loading began (the snapshot's load time runs from it).
fn rebuild(
    snapshot: Option<&Snapshot>,
    txns: LogIter,
    config: DataTreeConfig,
    started: Instant,
) -> Result<RecoveredState, ServerError> {
    let (mut tree, mut sessions) = match snapshot {
        Some(snap) => parse_snapshot_payload(&snap.payload, config).map_err(|message| {
            ServerError::Recovery {
                what: snap.path.display().to_string(),
                message,
            }
        })?,
        None => (DataTree::with_config(config), BTreeMap::new()),
    };
    let snap_load_ms = elapsed_ms(started);
    let replay_started = Instant::now();
    let mut replayed = 0;
    for record in txns {
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
        times: StartupTimes {
            snap_load_ms,
            txns_load_ms: elapsed_ms(replay_started),
            txns_loaded: replayed as u64,
            db_init_ms: elapsed_ms(started),
            initial_snapshot_ms: None,
        },
    })
}

/// The storage of a running server: the log writer thread, the snapshots, what purge needs.
/// Dropping it (or [`Durability::shutdown`]) stops the log writer once what was queued is
/// durable.
pub struct Durability {
    writer: Arc<LogWriterHandle>,
    /// Snapshot buffers the snapshot thread has written, to serialise the next steps into
    /// (a fresh 256 KiB buffer per step made the allocator consolidate its free lists every
    /// time: a fifth of the server's CPU under a create load).
    spent: (
        std::sync::mpsc::Sender<Vec<u8>>,
        std::sync::mpsc::Receiver<Vec<u8>>,
    ),
    snapshots: Arc<SnapshotStore>,
    log_view: LogView,
    retain: usize,
}

/// What the log writer reports: every txn up to a zxid is durable, or the log failed.
pub type DurableReport = Result<Zxid, StorageError>;

impl Durability {
    /// Opens the data directories, recovers the state (newest snapshot, then the log) and
    /// starts the log writer, whose reports go to `on_durable` (on the writer's thread: it
    /// should only pass them on).
    pub fn open(
        config: &ServerConfig,
        disk: Option<Arc<dyn corral_storage::Disk>>,
        on_durable: impl FnMut(DurableReport) + Send + 'static,
    ) -> Result<(RecoveredState, Durability), ServerError> {
        Durability::open_observed(config, disk, on_durable, |_| {})
    }

    /// As [`Durability::open`]; `on_sync` is told of every group commit (txns, fsync time),
    /// on the writer's thread too.
    pub fn open_observed(
        config: &ServerConfig,
        disk: Option<Arc<dyn corral_storage::Disk>>,
        on_durable: impl FnMut(DurableReport) + Send + 'static,
        on_sync: impl FnMut(corral_storage::SyncStats) + Send + 'static,
    ) -> Result<(RecoveredState, Durability), ServerError> {
        let mut storage_cfg = storage_config(config);
        if let Some(disk) = disk {
            storage_cfg.disk = disk;
        }
        if !config.force_sync {
            tracing::warn!(
                "forceSync is off: writes are acknowledged before they are on disk, and a crash \
                 or power loss can lose acknowledged writes"
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
        let writer =
            LogWriter::spawn_observed(log, on_durable, on_sync).map_err(ServerError::Storage)?;
        let log_view = writer.view();
        Ok((
            state,
            Durability {
                writer: Arc::new(writer),
                spent: std::sync::mpsc::channel(),
                snapshots: Arc::new(snapshots),
                log_view,
                retain: config.snap_retain_count,
            },
        ))
    }

    /// Queues a txn for the log (its durability is reported to `on_durable`). When the writer
    /// has failed, its report of the failure stops writes; nothing more is done here.
    pub fn append(&self, zxid: Zxid, txn: Bytes) {
        if let Err(e) = self.writer.append(zxid, txn) {
            tracing::error!("cannot append txn 0x{zxid:x} to the log: {e}");
        }
    }

    /// The highest durable zxid.
    pub fn durable_zxid(&self) -> Option<Zxid> {
        self.writer.durable_zxid()
    }

    /// An empty buffer for the next snapshot step: one the snapshot thread is done with, or a
    /// new one.
    pub fn snapshot_buffer(&self) -> Vec<u8> {
        match self.spent.1.try_recv() {
            Ok(mut buf) => {
                buf.clear();
                buf
            }
            Err(_) => Vec::with_capacity(SNAPSHOT_BUFFER),
        }
    }

    /// Writes the snapshot begun at `zxid` on a new thread: a new log segment first, then the
    /// chunks the owner sends (the tree's records, see [`SNAPSHOT_STEP_RECORDS`]), then the
    /// session table; fsynced and renamed after the last chunk. A channel closed before the
    /// last chunk abandons it. `finished` is told whether the file was written.
    pub fn write_snapshot(
        &self,
        zxid: Zxid,
        sessions: BTreeMap<i64, i32>,
        chunks: tokio::sync::mpsc::Receiver<SnapshotChunk>,
        finished: impl FnOnce(bool) + Send + 'static,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let writer = Arc::clone(&self.writer);
        let store = Arc::clone(&self.snapshots);
        let spent = self.spent.0.clone();
        std::thread::Builder::new()
            .name("corral-snapshot".into())
            .spawn(move || {
                if let Err(e) = writer.roll() {
                    tracing::error!("cannot start a new log segment: {e}");
                }
                let ok = match write_chunks(&store, zxid, &sessions, chunks, &spent) {
                    Ok(path) => {
                        tracing::info!("Snapshotting: 0x{zxid:x} to {}", path.display());
                        true
                    }
                    Err(e) => {
                        tracing::error!("snapshot 0x{zxid:x} failed: {e}");
                        false
                    }
                };
                finished(ok);
            })
    }

    /// What `autopurge` needs, to run on its own schedule.
    pub fn purger(&self) -> Arc<Purger> {
        Arc::new(Purger {
            snapshots: Arc::clone(&self.snapshots),
            log_view: self.log_view.clone(),
            retain: self.retain,
        })
    }

    /// Stops the log writer after what was queued is durable, and waits for its thread.
    /// Snapshot threads still holding the writer must have been joined first, or the writer
    /// stops when the last of them ends.
    pub fn shutdown(self) {
        match Arc::try_unwrap(self.writer) {
            Ok(writer) => {
                if let Err(e) = writer.shutdown() {
                    tracing::warn!("log writer shutdown: {e}");
                }
            }
            Err(_) => tracing::warn!("log writer still shared at shutdown"),
        }
    }
}

/// `autopurge`: old snapshots and the log segments only they need.
pub struct Purger {
    snapshots: Arc<SnapshotStore>,
    log_view: LogView,
    retain: usize,
}

impl Purger {
    /// Runs `autopurge` once (blocking).
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

/// What the owner sends the snapshot thread: the next serialised records of the tree, and
/// whether they are the last (then the session table follows and the file is finished).
#[derive(Debug)]
pub struct SnapshotChunk {
    /// Serialised records.
    pub records: Vec<u8>,
    /// Whether the tree is complete with them.
    pub last: bool,
}

/// The snapshot thread's work: the tree's records as they come, then the session table;
/// fsync and rename at the end.
fn write_chunks(
    store: &SnapshotStore,
    zxid: Zxid,
    sessions: &BTreeMap<i64, i32>,
    mut chunks: tokio::sync::mpsc::Receiver<SnapshotChunk>,
    spent: &std::sync::mpsc::Sender<Vec<u8>>,
) -> Result<std::path::PathBuf, String> {
    let mut file = store.begin(zxid).map_err(|e| e.to_string())?;
    loop {
        let Some(chunk) = chunks.blocking_recv() else {
            return Err("abandoned (the server stopped)".into());
        };
        file.write_all(&chunk.records).map_err(|e| e.to_string())?;
        // Only a few buffers circulate (the channel to this thread holds four chunks); one
        // that grew for big znodes is not kept.
        if chunk.records.capacity() <= 4 * SNAPSHOT_BUFFER {
            let _ = spent.send(chunk.records);
        }
        if chunk.last {
            break;
        }
    }
    file.write_all(&session_table(sessions))
        .map_err(|e| e.to_string())?;
    file.finish().map_err(|e| e.to_string())
}
