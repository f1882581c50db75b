//! The storage model: what was fsynced survives a crash; of what was written
//! after the last fsync, a crash keeps a random prefix (the disk wrote some of
//! it in order) whose last log record may be torn, in which case recovery
//! drops it (the crc check of a real log segment).

use bytes::Bytes;

use super::rng::Rng;
use crate::{Entry, Persist, Persisted, Zxid};

#[derive(Debug, Clone, Default)]
pub struct Stored {
    pub accepted_epoch: u32,
    pub current_epoch: u32,
    pub snapshot: Zxid,
    pub snapshot_data: Bytes,
    pub log: Vec<Entry>,
}

impl Stored {
    fn apply(&mut self, op: &Persist) {
        match op {
            Persist::Append(e) => self.log.push(e.clone()),
            Persist::Truncate { to } => self.log.retain(|e| e.zxid <= *to),
            Persist::InstallSnapshot { zxid, data } => {
                self.snapshot = *zxid;
                self.snapshot_data = data.clone();
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
    pub durable: Stored,
    pending: Vec<(u64, Persist)>,
}

impl Disk {
    /// A disk whose durable state is `stored` (a server's first start).
    pub fn with(stored: Stored) -> Disk {
        Disk {
            durable: stored,
            pending: Vec::new(),
        }
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
        for (_, op) in self.pending.drain(..keep) {
            self.durable.apply(&op);
        }
    }

    /// Power loss. Returns how many unsynced writes survived.
    pub fn crash(&mut self, rng: &mut Rng) -> usize {
        let mut keep = rng.below(self.pending.len() as u64 + 1) as usize;
        if keep > 0 && matches!(self.pending[keep - 1].1, Persist::Append(_)) && rng.chance(0.5) {
            keep -= 1; // torn last record, truncated by recovery
        }
        for (_, op) in self.pending.drain(..).take(keep) {
            self.durable.apply(&op);
        }
        keep
    }

    /// The caller's own snapshot of its applied state (log compaction).
    /// Only when nothing is pending, so snapshot and log stay consistent.
    pub fn compact(&mut self, zxid: Zxid, data: Bytes) {
        if self.has_pending() || zxid <= self.durable.snapshot {
            return;
        }
        self.durable.snapshot = zxid;
        self.durable.snapshot_data = data;
        self.durable.log.retain(|e| e.zxid > zxid);
    }

    pub fn persisted(&self) -> Persisted {
        let d = &self.durable;
        Persisted {
            accepted_epoch: d.accepted_epoch,
            current_epoch: d.current_epoch,
            snapshot: d.snapshot,
            log: d
                .log
                .iter()
                .filter(|e| e.zxid > d.snapshot)
                .cloned()
                .collect(),
        }
    }
}
