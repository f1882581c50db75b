//! The storage model: what was fsynced survives a crash; of what was written
//! after the last fsync, a crash keeps a random prefix (the disk wrote some of
//! it in order) whose last log record may be torn, in which case recovery
//! drops it (the crc check of a real log segment).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

use super::rng::Rng;
use crate::{Entry, LogSource, Persist, Persisted, ZabError, Zxid};

#[derive(Debug, Clone, Default)]
pub struct Stored {
    pub accepted_epoch: u32,
    pub current_epoch: u32,
    pub snapshot: Zxid,
    pub snapshot_data: Bytes,
    pub log: Vec<Entry>,
    /// A snapshot being received: its zxid and the bytes so far.
    pub staging: (Zxid, Vec<u8>),
}

impl Stored {
    fn apply(&mut self, op: &Persist) {
        match op {
            Persist::Append(e) => self.log.push(e.clone()),
            Persist::Truncate { to } => self.log.retain(|e| e.zxid <= *to),
            Persist::SnapshotChunk { zxid, offset, data } => {
                if *offset == 0 {
                    self.staging = (*zxid, Vec::new());
                }
                let buf = &mut self.staging.1;
                buf.truncate(*offset as usize);
                buf.extend_from_slice(data);
            }
            Persist::InstallSnapshot { zxid } => {
                // Atomic: a snapshot of another zxid than the one staged is a
                // bug in the engine's stream, caught by the checkers through
                // the state it leaves.
                let staged = std::mem::take(&mut self.staging);
                self.snapshot = *zxid;
                self.snapshot_data = if staged.0 == *zxid {
                    Bytes::from(staged.1)
                } else {
                    Bytes::new()
                };
                self.log.clear();
            }
            Persist::AcceptedEpoch(e) => self.accepted_epoch = *e,
            Persist::CurrentEpoch(e) => self.current_epoch = *e,
        }
    }

    /// Is `zxid` on this disk (in the log, or covered by the snapshot)?
    pub fn holds(&self, zxid: Zxid) -> bool {
        zxid <= self.snapshot || self.log.binary_search_by_key(&zxid, |e| e.zxid).is_ok()
    }
}

#[derive(Debug, Default)]
pub struct Disk {
    durable: Arc<Mutex<Stored>>,
    pending: Vec<(u64, Persist)>,
}

impl Disk {
    /// A disk whose durable state is `stored` (a server's first start).
    pub fn with(stored: Stored) -> Disk {
        Disk {
            durable: Arc::new(Mutex::new(stored)),
            pending: Vec::new(),
        }
    }

    /// What survives a crash now.
    pub fn durable(&self) -> MutexGuard<'_, Stored> {
        self.durable.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn write(&mut self, ready: u64, op: Persist) {
        self.pending.push((ready, op));
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// fsync: every write of `Ready`s up to `ready` is durable.
    pub fn sync(&mut self, ready: u64) {
        let keep = self.pending.partition_point(|(n, _)| *n <= ready);
        let mut d = self.durable.lock().unwrap_or_else(PoisonError::into_inner);
        for (_, op) in self.pending.drain(..keep) {
            d.apply(&op);
        }
    }

    /// Power loss. Returns how many unsynced writes survived.
    pub fn crash(&mut self, rng: &mut Rng) -> usize {
        let mut keep = rng.below(self.pending.len() as u64 + 1) as usize;
        if keep > 0 && matches!(self.pending[keep - 1].1, Persist::Append(_)) && rng.chance(0.5) {
            keep -= 1; // torn last record, truncated by recovery
        }
        let mut d = self.durable.lock().unwrap_or_else(PoisonError::into_inner);
        for (_, op) in self.pending.drain(..).take(keep) {
            d.apply(&op);
        }
        keep
    }

    /// The caller's own snapshot of its applied state (log compaction).
    /// Only when nothing is pending, so snapshot and log stay consistent.
    pub fn compact(&mut self, zxid: Zxid, data: Bytes) {
        let mut d = self.durable.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.pending.is_empty() || zxid <= d.snapshot {
            return;
        }
        d.snapshot = zxid;
        d.snapshot_data = data;
        d.log.retain(|e| e.zxid > zxid);
    }

    pub fn persisted(&self) -> Persisted {
        let d = self.durable();
        Persisted {
            accepted_epoch: d.accepted_epoch,
            current_epoch: d.current_epoch,
            snapshot: d.snapshot,
        }
    }

    /// The engine's view of the durable log.
    pub fn source(&self) -> SimLog {
        SimLog(Arc::clone(&self.durable))
    }
}

/// The durable log of a simulated disk, as the engine reads it.
#[derive(Debug, Clone)]
pub struct SimLog(Arc<Mutex<Stored>>);

impl SimLog {
    fn stored(&self) -> MutexGuard<'_, Stored> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl LogSource for SimLog {
    fn start(&self) -> Zxid {
        self.stored().snapshot
    }

    fn last(&self) -> Zxid {
        let d = self.stored();
        d.log.last().map_or(d.snapshot, |e| e.zxid.max(d.snapshot))
    }

    fn entries(&self, after: Zxid, upto: Zxid, max: usize) -> Result<Vec<Entry>, ZabError> {
        let d = self.stored();
        let after = after.max(d.snapshot);
        Ok(crate::log::entries_in(&d.log, after, upto, max))
    }

    fn floor(&self, zxid: Zxid) -> Result<Option<Zxid>, ZabError> {
        let d = self.stored();
        Ok(crate::log::floor_in(&d.log, d.snapshot, zxid))
    }
}
