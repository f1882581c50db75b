//! The disk model: separate files with their own durability, executed in the order the
//! runtime submitted, as corral-storage's QuorumWriter executes them.
//!
//! - the txn log: appends are written (not durable) until an fsync; a crash keeps a random
//!   prefix of what was written since, and a torn last record is dropped by recovery;
//! - `acceptedEpoch` / `currentEpoch`: each replaced atomically and durably when written;
//!   the writer fsyncs the log first (the fault `epoch_before_log` skips that);
//! - a received snapshot: chunks go to a temp file (lost in a crash); the install is durable
//!   at once, then the log above it is cut;
//! - submitted batches not executed yet are lost in a crash; durability is reported per tag,
//!   after an fsync that covers the whole batch.
//!
//! Its own crash-consistency check: a `currentEpoch` on disk never refers to log entries the
//! disk lost (the writer must not write an epoch before the log it follows is durable).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use corral_zab::sim::rng::Rng;
use corral_zab::sim::storage::Stored;
use corral_zab::{Entry, LogSource, Persist, Persisted, ZabError, Zxid};
use corral_zab_runtime::DiskIo;

#[derive(Debug, Default)]
pub struct Model {
    queue: VecDeque<(u64, Vec<Persist>)>,
    /// Durable log records.
    log: Vec<Entry>,
    /// Written since the last fsync.
    unsynced: Vec<Entry>,
    accepted: u32,
    current: u32,
    snapshot: (Zxid, Bytes),
    staging: Option<(Zxid, Vec<u8>)>,
    executed: u64,
    /// The last tag reported durable.
    reported: u64,
    /// The last log zxid the durable `currentEpoch` relies on.
    current_requires: Zxid,
    pub epoch_before_log: bool,
}

impl Model {
    fn last_written(&self) -> Zxid {
        self.unsynced
            .last()
            .or(self.log.last())
            .map_or(self.snapshot.0, |e| e.zxid.max(self.snapshot.0))
    }

    fn durable_last(&self) -> Zxid {
        self.log
            .last()
            .map_or(self.snapshot.0, |e| e.zxid.max(self.snapshot.0))
    }

    fn sync_log(&mut self) {
        self.log.append(&mut self.unsynced);
    }

    fn execute(&mut self, op: Persist) {
        match op {
            Persist::Append(e) => self.unsynced.push(e),
            Persist::Truncate { to } => {
                self.sync_log();
                self.log.retain(|e| e.zxid <= to);
                self.current_requires = self.current_requires.min(to);
            }
            Persist::SnapshotChunk { zxid, offset, data } => {
                if offset == 0 {
                    self.staging = Some((zxid, Vec::new()));
                }
                if let Some((z, buf)) = self.staging.as_mut().filter(|(z, _)| *z == zxid) {
                    let _ = z;
                    buf.truncate(offset as usize);
                    buf.extend_from_slice(&data);
                }
            }
            Persist::InstallSnapshot { zxid } => {
                self.sync_log();
                let data = self
                    .staging
                    .take()
                    .filter(|(z, _)| *z == zxid)
                    .map(|(_, b)| Bytes::from(b))
                    .unwrap_or_default();
                self.snapshot = (zxid, data);
                self.log.retain(|e| e.zxid <= zxid);
                self.current_requires = self.current_requires.min(zxid);
            }
            Persist::AcceptedEpoch(e) => {
                if !self.epoch_before_log {
                    self.sync_log();
                }
                self.accepted = e;
            }
            Persist::CurrentEpoch(e) => {
                if !self.epoch_before_log {
                    self.sync_log();
                }
                self.current = e;
                self.current_requires = self.last_written();
            }
        }
    }

    /// The writer thread takes the queued batches and writes them (no fsync yet).
    pub fn write_queued(&mut self) {
        while let Some((tag, ops)) = self.queue.pop_front() {
            for op in ops {
                self.execute(op);
            }
            self.executed = tag;
        }
    }

    /// fsync: everything executed is durable. Returns the tag to report, if any.
    pub fn fsync(&mut self) -> Option<u64> {
        self.sync_log();
        if self.executed > self.reported {
            self.reported = self.executed;
            return Some(self.executed);
        }
        None
    }

    pub fn has_work(&self) -> bool {
        !self.queue.is_empty() || !self.unsynced.is_empty() || self.executed > self.reported
    }

    /// Power loss. `Err` when the disk holds an epoch whose log it lost.
    pub fn crash(&mut self, rng: &mut Rng) -> Result<usize, String> {
        self.queue.clear();
        self.staging = None;
        let mut keep = rng.below(self.unsynced.len() as u64 + 1) as usize;
        if keep > 0 && rng.chance(0.5) {
            keep -= 1; // torn last record, cut by recovery
        }
        self.unsynced.truncate(keep);
        self.sync_log();
        self.executed = 0;
        self.reported = 0;
        if self.durable_last() < self.current_requires {
            return Err(format!(
                "currentEpoch {} is on disk, but the log it follows ends at {:?} instead of {:?}",
                self.current,
                self.durable_last(),
                self.current_requires
            ));
        }
        Ok(keep)
    }

    pub fn persisted(&self) -> Persisted {
        Persisted {
            accepted_epoch: self.accepted,
            current_epoch: self.current,
            snapshot: self.snapshot.0,
        }
    }

    pub fn snapshot_data(&self) -> Bytes {
        self.snapshot.1.clone()
    }

    /// What survives a crash now, as the checkers see it.
    pub fn stored(&self) -> Stored {
        Stored {
            accepted_epoch: self.accepted,
            current_epoch: self.current,
            snapshot: self.snapshot.0,
            snapshot_data: self.snapshot.1.clone(),
            log: self
                .log
                .iter()
                .filter(|e| e.zxid > self.snapshot.0)
                .cloned()
                .collect(),
            staging: Default::default(),
        }
    }
}

/// The shared model: the runtime's `DiskIo`, its `LogSource`, and the simulator's handle.
#[derive(Debug, Clone, Default)]
pub struct SimDisk(pub Arc<Mutex<Model>>);

impl SimDisk {
    pub fn model(&self) -> MutexGuard<'_, Model> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl DiskIo for SimDisk {
    fn submit(&mut self, tag: u64, ops: Vec<Persist>) {
        self.model().queue.push_back((tag, ops));
    }
}

impl LogSource for SimDisk {
    fn start(&self) -> Zxid {
        self.model().snapshot.0
    }

    fn last(&self) -> Zxid {
        self.model().durable_last()
    }

    fn entries(&self, after: Zxid, upto: Zxid, max: usize) -> Result<Vec<Entry>, ZabError> {
        let m = self.model();
        let after = after.max(m.snapshot.0);
        // The engine reads only what it knows durable; written-but-unsynced records are
        // readable from a real file too.
        Ok(m.log
            .iter()
            .chain(m.unsynced.iter())
            .filter(|e| e.zxid > after && e.zxid <= upto)
            .take(max)
            .cloned()
            .collect())
    }

    fn floor(&self, zxid: Zxid) -> Result<Option<Zxid>, ZabError> {
        let m = self.model();
        let start = m.snapshot.0;
        if zxid < start {
            return Ok(None);
        }
        Ok(Some(
            m.log
                .iter()
                .chain(m.unsynced.iter())
                .map(|e| e.zxid)
                .filter(|&z| z <= zxid)
                .last()
                .map_or(start, |z| z.max(start)),
        ))
    }
}
