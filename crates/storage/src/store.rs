//! [`LogStore`]: the contract every txn log keeps, implemented by the file log ([`TxnLog`])
//! and by an in-memory model ([`MemLog`]) that tests and simulators can use instead.

use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Unbounded};

use bytes::Bytes;

use crate::{StorageError, TxnLog, Zxid, MAX_PAYLOAD};

/// A txn log of opaque payloads keyed by zxid.
///
/// # To ensure correctness
/// - **No holes**: `append` takes strictly increasing zxids; a crash keeps every record a
///   successful `sync` covered, possibly plus a *prefix* of the later ones, never a record
///   without all the earlier ones.
/// - **Serialised writes**: calls come from one thread at a time, in the order the records
///   must have.
/// - **Durable before acknowledged**: a record counts as logged (ZAB ACK, client reply)
///   only once `sync` returned a zxid at or above it.
/// - **Failures are sticky**: after a failed write or sync, nothing more is accepted.
pub trait LogStore {
    /// Buffers a record (not yet durable).
    fn append(&mut self, zxid: Zxid, payload: &[u8]) -> Result<(), StorageError>;
    /// Makes every appended record durable; returns the highest durable zxid.
    fn sync(&mut self) -> Result<Option<Zxid>, StorageError>;
    /// Removes every record above `zxid`.
    fn truncate(&mut self, zxid: Zxid) -> Result<(), StorageError>;
    /// The durable records above `zxid`, in order.
    fn read_from(&self, zxid: Zxid) -> Result<Vec<(Zxid, Bytes)>, StorageError>;
    /// The last appended zxid.
    fn last_zxid(&self) -> Option<Zxid>;
    /// Syncs and starts a new segment (where there are segments).
    fn roll(&mut self) -> Result<(), StorageError>;
}

impl LogStore for TxnLog {
    fn append(&mut self, zxid: Zxid, payload: &[u8]) -> Result<(), StorageError> {
        TxnLog::append(self, zxid, payload)
    }
    fn sync(&mut self) -> Result<Option<Zxid>, StorageError> {
        TxnLog::sync(self)
    }
    fn truncate(&mut self, zxid: Zxid) -> Result<(), StorageError> {
        TxnLog::truncate(self, zxid)
    }
    fn read_from(&self, zxid: Zxid) -> Result<Vec<(Zxid, Bytes)>, StorageError> {
        TxnLog::read_from(self, zxid).collect()
    }
    fn last_zxid(&self) -> Option<Zxid> {
        TxnLog::last_zxid(self)
    }
    fn roll(&mut self) -> Result<(), StorageError> {
        TxnLog::roll(self)
    }
}

/// An in-memory [`LogStore`]: the reference model. `crash()` keeps what was synced plus a
/// chosen prefix of the rest, as a real disk may.
#[derive(Debug, Clone, Default)]
pub struct MemLog {
    /// In log order.
    records: BTreeMap<Zxid, Bytes>,
    durable: Option<Zxid>,
}

impl MemLog {
    /// An empty log.
    pub fn new() -> Self {
        MemLog::default()
    }

    /// Simulates a crash that kept the synced records and the first `extra` unsynced ones.
    pub fn crash(&mut self, extra: usize) {
        let keep: Vec<Zxid> = self
            .records
            .keys()
            .copied()
            .filter(|&z| above(self.durable, z))
            .skip(extra)
            .collect();
        for z in keep {
            self.records.remove(&z);
        }
        self.durable = self.last_zxid();
    }

    /// Every record, synced or not.
    pub fn records(&self) -> Vec<(Zxid, Bytes)> {
        self.records.iter().map(|(&z, p)| (z, p.clone())).collect()
    }

    /// The highest synced zxid.
    pub fn durable_zxid(&self) -> Option<Zxid> {
        self.durable
    }

    /// How many records are not synced.
    pub fn unsynced(&self) -> usize {
        self.records
            .keys()
            .filter(|&&z| above(self.durable, z))
            .count()
    }
}

/// True when `z` is above the durable point.
fn above(durable: Option<Zxid>, z: Zxid) -> bool {
    match durable {
        None => true,
        Some(d) => z > d,
    }
}

impl LogStore for MemLog {
    fn append(&mut self, zxid: Zxid, payload: &[u8]) -> Result<(), StorageError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(StorageError::TooLarge {
                len: payload.len(),
                max: MAX_PAYLOAD,
            });
        }
        if let Some(last) = self.last_zxid().filter(|&l| zxid <= l) {
            return Err(StorageError::ZxidOrder { zxid, last });
        }
        self.records.insert(zxid, Bytes::copy_from_slice(payload));
        Ok(())
    }

    fn sync(&mut self) -> Result<Option<Zxid>, StorageError> {
        self.durable = self.last_zxid();
        Ok(self.durable)
    }

    fn truncate(&mut self, zxid: Zxid) -> Result<(), StorageError> {
        if self.last_zxid().is_some_and(|last| last > zxid) {
            // As the file log: what is kept is made durable by the truncation.
            self.records.retain(|&z, _| z <= zxid);
            self.durable = self.last_zxid();
        }
        Ok(())
    }

    fn read_from(&self, zxid: Zxid) -> Result<Vec<(Zxid, Bytes)>, StorageError> {
        Ok(self
            .records
            .range((Excluded(zxid), Unbounded))
            .filter(|(&z, _)| !above(self.durable, z))
            .map(|(&z, p)| (z, p.clone()))
            .collect())
    }

    fn last_zxid(&self) -> Option<Zxid> {
        self.records.keys().next_back().copied()
    }

    fn roll(&mut self) -> Result<(), StorageError> {
        // The file log syncs the segment it closes.
        self.sync().map(|_| ())
    }
}
