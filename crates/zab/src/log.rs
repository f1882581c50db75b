//! The engine's view of the log: the caller's durable log, read through a
//! [`LogSource`], and in memory the entries after `base` (what is not applied
//! yet, plus a window of applied ones: ZooKeeper's `committedLog`).
//!
//! The engine never holds the whole log: after a restart it knows only where
//! the log ends, and reads entries from the source when it hands them out in
//! `Ready::committed` or sends them in a DIFF (ZooKeeper's
//! `LearnerHandler.syncFollower` reads the txn log the same way once the
//! in-memory window is too short).

use std::collections::VecDeque;
use std::fmt;

use crate::{Entry, ZabError, Zxid};

/// Read access to the durable log the caller keeps (raft-rs's `Storage`).
/// The engine only reads through it; it writes through `Ready::persist`.
///
/// # To ensure correctness
/// - It holds every entry whose `Persist::Append` the caller reported durable
///   with `Zab::advance`, minus what a later `Persist::Truncate` or
///   `Persist::InstallSnapshot` removed, once that too is reported durable.
/// - No holes: every entry after [`LogSource::start`] up to the last one is
///   held. A caller that purges old entries (after a snapshot of its own)
///   moves `start` up first.
/// - The engine asks only for entries at or below what it knows durable;
///   anything else may be answered with an error.
pub trait LogSource: Send {
    /// The zxid the held log starts after: the snapshot it was last
    /// compacted to (`Zxid::ZERO` when it holds the log from the beginning).
    fn start(&self) -> Zxid;
    /// The last durable entry's zxid, or `start` when there is none. Read
    /// once, by `Zab::new`.
    fn last(&self) -> Zxid;
    /// The entries with `after < zxid <= upto`, in zxid order, at most
    /// `max` of them (fewer only where the log ends).
    fn entries(&self, after: Zxid, upto: Zxid, max: usize) -> Result<Vec<Entry>, ZabError>;
    /// The greatest zxid held that is `<= zxid`: an entry's, or `start` when
    /// no entry is at or below `zxid`. `None` when `zxid < start`.
    fn floor(&self, zxid: Zxid) -> Result<Option<Zxid>, ZabError>;
}

/// A [`LogSource`] held in memory: tests, examples and callers whose log fits
/// in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryLog {
    /// The zxid the log starts after.
    pub start: Zxid,
    /// The entries after `start`, in zxid order.
    pub entries: Vec<Entry>,
}

impl MemoryLog {
    /// A log starting after `start` with `entries`.
    pub fn new(start: Zxid, entries: Vec<Entry>) -> MemoryLog {
        MemoryLog { start, entries }
    }
}

/// [`LogSource::entries`] over entries in zxid order.
pub(crate) fn entries_in(entries: &[Entry], after: Zxid, upto: Zxid, max: usize) -> Vec<Entry> {
    let from = entries.partition_point(|e| e.zxid <= after);
    entries[from..]
        .iter()
        .take_while(|e| e.zxid <= upto)
        .take(max)
        .cloned()
        .collect()
}

/// [`LogSource::floor`] over entries in zxid order after `start`.
pub(crate) fn floor_in(entries: &[Entry], start: Zxid, zxid: Zxid) -> Option<Zxid> {
    if zxid < start {
        return None;
    }
    let n = entries.partition_point(|e| e.zxid <= zxid);
    Some(
        n.checked_sub(1)
            .map_or(start, |i| entries[i].zxid.max(start)),
    )
}

impl LogSource for MemoryLog {
    fn start(&self) -> Zxid {
        self.start
    }

    fn last(&self) -> Zxid {
        self.entries.last().map_or(self.start, |e| e.zxid)
    }

    fn entries(&self, after: Zxid, upto: Zxid, max: usize) -> Result<Vec<Entry>, ZabError> {
        Ok(entries_in(&self.entries, after, upto, max))
    }

    fn floor(&self, zxid: Zxid) -> Result<Option<Zxid>, ZabError> {
        Ok(floor_in(&self.entries, self.start, zxid))
    }
}

pub(crate) struct Log {
    /// Nothing at or below it is part of the log (a snapshot installed since
    /// the start; the source may not know yet).
    floor_base: Zxid,
    /// Entries after it are in memory; `(start, base]` is on the source.
    base: Zxid,
    entries: VecDeque<Entry>,
    source: Box<dyn LogSource>,
}

impl fmt::Debug for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Log")
            .field("floor_base", &self.floor_base)
            .field("base", &self.base)
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl Log {
    /// The log a restarted server holds: everything on `source`.
    pub(crate) fn new(source: Box<dyn LogSource>) -> Log {
        Log {
            floor_base: source.start(),
            base: source.last(),
            entries: VecDeque::new(),
            source,
        }
    }

    /// The zxid every entry after which is in memory.
    #[cfg(any(test, feature = "sim"))]
    pub(crate) fn base(&self) -> Zxid {
        self.base
    }

    /// The zxid the log starts after (nothing at or below it can be read).
    fn start(&self) -> Zxid {
        self.floor_base.max(self.source.start())
    }

    /// The last zxid, or the base when there are no entries in memory.
    pub(crate) fn last(&self) -> Zxid {
        self.entries.back().map_or(self.base, |e| e.zxid)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn append(&mut self, entry: Entry) {
        self.entries.push_back(entry);
    }

    /// The greatest zxid held (the start included) that is `<= z`, or `None`
    /// when `z` lies before the start.
    pub(crate) fn floor(&self, z: Zxid) -> Result<Option<Zxid>, ZabError> {
        if z < self.start() {
            return Ok(None);
        }
        if z < self.base {
            return Ok(self.source.floor(z)?.map(|f| f.max(self.start())));
        }
        Ok(Some(
            match self.entries.binary_search_by_key(&z, |e| e.zxid) {
                Ok(i) => self.entries[i].zxid,
                Err(0) => self.base,
                Err(i) => self.entries[i - 1].zxid,
            },
        ))
    }

    /// Entries with `after < zxid <= upto`, in order, at most `max`; from the
    /// source for what is no longer in memory.
    pub(crate) fn range(
        &self,
        after: Zxid,
        upto: Zxid,
        max: usize,
    ) -> Result<Vec<Entry>, ZabError> {
        let mut out = Vec::new();
        if after < self.base && max > 0 {
            let stored = self.source.entries(after, upto.min(self.base), max)?;
            let expected_end = upto.min(self.base);
            if stored.len() < max && stored.last().map_or(after, |e| e.zxid) < expected_end {
                return Err(ZabError::Storage(format!(
                    "the log source ends before {expected_end:?} (asked after {after:?})"
                )));
            }
            out = stored;
        }
        if out.len() < max {
            let start = self.entries.partition_point(|e| e.zxid <= after);
            out.extend(
                self.entries
                    .range(start..)
                    .take_while(|e| e.zxid <= upto)
                    .take(max - out.len())
                    .cloned(),
            );
        }
        Ok(out)
    }

    /// How many of the entries in memory have `after < zxid <= upto` (every
    /// entry after the applied point is in memory).
    pub(crate) fn count_in_memory(&self, after: Zxid, upto: Zxid) -> u64 {
        let from = self.entries.partition_point(|e| e.zxid <= after);
        let to = self.entries.partition_point(|e| e.zxid <= upto);
        to.saturating_sub(from) as u64
    }

    /// Drops every entry after `to`.
    pub(crate) fn truncate(&mut self, to: Zxid) {
        let keep = self.entries.partition_point(|e| e.zxid <= to);
        self.entries.truncate(keep);
        self.base = self.base.min(to);
    }

    /// Forgets everything: the log now starts at `base` (a snapshot).
    pub(crate) fn reset(&mut self, base: Zxid) {
        self.entries.clear();
        self.base = base;
        self.floor_base = base;
    }

    /// Keeps at most `window` entries at or before `applied` in memory; the
    /// others are durable (applied implies durable), so on the source.
    pub(crate) fn trim(&mut self, applied: Zxid, window: usize) {
        let done = self.entries.partition_point(|e| e.zxid <= applied);
        if done > window {
            let drop = done - window;
            self.base = self.entries[drop - 1].zxid;
            self.entries.drain(..drop);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(zs: &[(u32, u32)]) -> Vec<Entry> {
        zs.iter()
            .map(|&(a, b)| Entry {
                zxid: Zxid::new(a, b),
                payload: Default::default(),
            })
            .collect()
    }

    fn zxids(es: &[Entry]) -> Vec<Zxid> {
        es.iter().map(|e| e.zxid).collect()
    }

    #[test]
    fn floor_range_truncate_trim_in_memory() {
        let mut l = Log::new(Box::new(MemoryLog::new(Zxid::new(1, 2), Vec::new())));
        for e in entries(&[(1, 3), (1, 4), (3, 1)]) {
            l.append(e);
        }
        assert_eq!(l.floor(Zxid::new(1, 1)), Ok(None));
        assert_eq!(l.floor(Zxid::new(1, 2)), Ok(Some(Zxid::new(1, 2))));
        assert_eq!(l.floor(Zxid::new(1, 9)), Ok(Some(Zxid::new(1, 4))));
        assert_eq!(l.floor(Zxid::new(9, 9)), Ok(Some(Zxid::new(3, 1))));
        let r = l
            .range(Zxid::new(1, 3), Zxid::new(9, 0), usize::MAX)
            .unwrap();
        assert_eq!(zxids(&r), vec![Zxid::new(1, 4), Zxid::new(3, 1)]);
        l.trim(Zxid::new(1, 4), 1);
        assert_eq!((l.base(), l.len()), (Zxid::new(1, 3), 2));
        l.truncate(Zxid::new(2, 0));
        assert_eq!(l.last(), Zxid::new(1, 4));
        l.reset(Zxid::new(5, 5));
        assert_eq!((l.last(), l.len()), (Zxid::new(5, 5), 0));
        assert_eq!(l.floor(Zxid::new(5, 4)), Ok(None), "below the snapshot");
    }

    #[test]
    fn what_is_not_in_memory_is_read_from_the_source() {
        let source = MemoryLog::new(
            Zxid::new(1, 0),
            entries(&[(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)]),
        );
        let mut l = Log::new(Box::new(source));
        assert_eq!((l.last(), l.len()), (Zxid::new(2, 2), 0));
        l.append(entries(&[(2, 3)]).remove(0));
        let all = l
            .range(Zxid::new(1, 1), Zxid::new(9, 9), usize::MAX)
            .unwrap();
        assert_eq!(
            zxids(&all),
            vec![
                Zxid::new(1, 2),
                Zxid::new(1, 3),
                Zxid::new(2, 1),
                Zxid::new(2, 2),
                Zxid::new(2, 3)
            ]
        );
        let two = l.range(Zxid::new(1, 1), Zxid::new(9, 9), 2).unwrap();
        assert_eq!(zxids(&two), vec![Zxid::new(1, 2), Zxid::new(1, 3)]);
        assert_eq!(l.floor(Zxid::new(1, 7)), Ok(Some(Zxid::new(1, 3))));
        assert_eq!(l.floor(Zxid::new(0, 7)), Ok(None));
        // TRUNC below the base: nothing above `to` is read from the source
        // again, although it still holds it until the caller truncates.
        l.truncate(Zxid::new(1, 3));
        assert_eq!(l.last(), Zxid::new(1, 3));
        let kept = l
            .range(Zxid::new(1, 0), Zxid::new(9, 9), usize::MAX)
            .unwrap();
        assert_eq!(zxids(&kept).last(), Some(&Zxid::new(1, 3)));
    }

    #[test]
    fn a_source_with_a_hole_is_an_error() {
        struct Short;
        impl LogSource for Short {
            fn start(&self) -> Zxid {
                Zxid::ZERO
            }
            fn last(&self) -> Zxid {
                Zxid::new(1, 5)
            }
            fn entries(&self, _: Zxid, _: Zxid, _: usize) -> Result<Vec<Entry>, ZabError> {
                Ok(entries(&[(1, 1)]))
            }
            fn floor(&self, z: Zxid) -> Result<Option<Zxid>, ZabError> {
                Ok(Some(z))
            }
        }
        let l = Log::new(Box::new(Short));
        assert!(matches!(
            l.range(Zxid::ZERO, Zxid::new(1, 5), 10),
            Err(ZabError::Storage(_))
        ));
    }
}
