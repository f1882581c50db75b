//! The engine's in-memory view of the log: a base zxid (the snapshot or the
//! oldest trimmed point) and the entries after it.
//!
//! The caller's storage holds the real log; the engine keeps every entry it
//! has not applied yet plus a window of applied ones, from which a leader can
//! synchronise a lagging learner with a DIFF (ZooKeeper's `committedLog`).

use std::collections::VecDeque;

use crate::{Entry, Zxid};

#[derive(Debug, Clone, Default)]
pub(crate) struct Log {
    base: Zxid,
    entries: VecDeque<Entry>,
}

impl Log {
    pub(crate) fn new(base: Zxid, entries: Vec<Entry>) -> Log {
        Log {
            base,
            entries: entries.into(),
        }
    }

    /// The zxid everything before which is no longer held.
    #[cfg(any(test, feature = "sim"))]
    pub(crate) fn base(&self) -> Zxid {
        self.base
    }

    /// The last zxid, or the base when there are no entries.
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

    /// The greatest zxid held (the base included) that is `<= z`, or `None`
    /// when `z` lies before the base.
    pub(crate) fn floor(&self, z: Zxid) -> Option<Zxid> {
        if z < self.base {
            return None;
        }
        match self.entries.binary_search_by_key(&z, |e| e.zxid) {
            Ok(i) => Some(self.entries[i].zxid),
            Err(0) => Some(self.base),
            Err(i) => Some(self.entries[i - 1].zxid),
        }
    }

    /// Entries with `after < zxid <= upto`, in order.
    pub(crate) fn range(&self, after: Zxid, upto: Zxid) -> impl Iterator<Item = &Entry> + '_ {
        let start = self.entries.partition_point(|e| e.zxid <= after);
        self.entries
            .range(start..)
            .take_while(move |e| e.zxid <= upto)
    }

    /// Drops every entry after `to`.
    pub(crate) fn truncate(&mut self, to: Zxid) {
        let keep = self.entries.partition_point(|e| e.zxid <= to);
        self.entries.truncate(keep);
    }

    /// Forgets everything: the log now starts at `base` (a snapshot).
    pub(crate) fn reset(&mut self, base: Zxid) {
        self.entries.clear();
        self.base = base;
    }

    /// Keeps at most `window` entries at or before `applied`.
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

    fn log(base: (u32, u32), zs: &[(u32, u32)]) -> Log {
        let e = zs
            .iter()
            .map(|&(a, b)| Entry {
                zxid: Zxid::new(a, b),
                payload: Default::default(),
            })
            .collect();
        Log::new(Zxid::new(base.0, base.1), e)
    }

    #[test]
    fn floor_range_truncate_trim() {
        let mut l = log((1, 2), &[(1, 3), (1, 4), (3, 1)]);
        assert_eq!(l.floor(Zxid::new(1, 1)), None);
        assert_eq!(l.floor(Zxid::new(1, 2)), Some(Zxid::new(1, 2)));
        assert_eq!(l.floor(Zxid::new(1, 9)), Some(Zxid::new(1, 4)));
        assert_eq!(l.floor(Zxid::new(9, 9)), Some(Zxid::new(3, 1)));
        let r: Vec<_> = l
            .range(Zxid::new(1, 3), Zxid::new(9, 0))
            .map(|e| e.zxid)
            .collect();
        assert_eq!(r, vec![Zxid::new(1, 4), Zxid::new(3, 1)]);
        l.trim(Zxid::new(1, 4), 1);
        assert_eq!((l.base(), l.len()), (Zxid::new(1, 3), 2));
        l.truncate(Zxid::new(2, 0));
        assert_eq!(l.last(), Zxid::new(1, 4));
        l.reset(Zxid::new(5, 5));
        assert_eq!((l.last(), l.len()), (Zxid::new(5, 5), 0));
    }
}
