//! Changes prepped but not applied yet: ZooKeeper's `outstandingChanges` and
//! `outstandingChangesForPath`.

use crate::Zxid;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use corral_jute::records::Acl;

use crate::node::NodeStat;

/// What prep knows about a node once the in-flight changes are applied (ZooKeeper's
/// `ChangeRecord`): `None` when it will be deleted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NodeRecord {
    pub stat: NodeStat,
    pub child_count: i32,
    pub acl: Arc<[Acl]>,
    /// Its data length (ZooKeeper's `ChangeRecord.data`, which only the quota check reads).
    pub data_len: usize,
}

/// The changes prepped but not applied yet, keyed by path and by the zxid that made them.
///
/// Prep consults these before the tree, so that a request sees the effect of the requests
/// prepped before it (create `/a`, then create `/a/b` before `/a` is applied). The server
/// calls [`Pending::applied`] after applying each txn and [`Pending::rollback`] if it
/// abandons a prepped txn.
#[derive(Debug, Default, Clone)]
pub struct Pending {
    /// (zxid, path) of every record, oldest first.
    log: VecDeque<(Zxid, String)>,
    /// Per path, its records oldest first; the last one is current. A deque: applying takes
    /// the oldest, and a parent with many creates in flight has as many records.
    by_path: HashMap<String, VecDeque<(Zxid, Option<NodeRecord>)>>,
}

impl Pending {
    /// No changes in flight.
    pub fn new() -> Self {
        Pending::default()
    }

    /// Whether nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }

    /// How many change records are in flight.
    pub fn len(&self) -> usize {
        self.log.len()
    }

    /// Forgets the records of every txn up to and including `zxid` (it has been applied,
    /// so the tree now tells the same).
    pub fn applied(&mut self, zxid: Zxid) {
        while let Some((z, _)) = self.log.front() {
            if *z > zxid {
                break;
            }
            let Some((_, path)) = self.log.pop_front() else {
                break;
            };
            if let Some(stack) = self.by_path.get_mut(&path) {
                stack.pop_front();
                if stack.is_empty() {
                    self.by_path.remove(&path);
                }
            }
        }
    }

    /// Drops the records made by the txn `zxid`, restoring what earlier in-flight txns
    /// recorded for the same paths. Used for a failed multi, and by a server abandoning a
    /// prepped txn (then every later txn must be rolled back too, newest first).
    pub fn rollback(&mut self, zxid: Zxid) {
        let mut kept = VecDeque::with_capacity(self.log.len());
        for (z, path) in self.log.drain(..) {
            if z != zxid {
                kept.push_back((z, path));
                continue;
            }
            if let Some(stack) = self.by_path.get_mut(&path) {
                if let Some(pos) = stack.iter().rposition(|(rz, _)| *rz == zxid) {
                    stack.remove(pos);
                }
                if stack.is_empty() {
                    self.by_path.remove(&path);
                }
            }
        }
        self.log = kept;
    }

    /// The current in-flight record of a path: `None` if no change is in flight for it,
    /// `Some(None)` if it will be deleted.
    pub(crate) fn get(&self, path: &str) -> Option<&Option<NodeRecord>> {
        self.by_path
            .get(path)
            .and_then(|stack| stack.back())
            .map(|(_, r)| r)
    }

    pub(crate) fn add(&mut self, zxid: Zxid, path: &str, record: Option<NodeRecord>) {
        self.log.push_back((zxid, path.to_string()));
        self.by_path
            .entry(path.to_string())
            .or_default()
            .push_back((zxid, record));
    }

    /// Every record in the order it was made (ZooKeeper's `outstandingChanges` list).
    pub(crate) fn records_in_order(&self) -> Vec<(&str, &Option<NodeRecord>)> {
        // Walk the log; the n-th occurrence of a path in the log is the n-th record of its
        // stack.
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut out = Vec::with_capacity(self.log.len());
        for (_, path) in &self.log {
            let n = seen.entry(path.as_str()).or_insert(0);
            if let Some((_, rec)) = self.by_path.get(path).and_then(|s| s.get(*n)) {
                out.push((path.as_str(), rec));
            }
            *n += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(version: i32) -> Option<NodeRecord> {
        Some(NodeRecord {
            stat: NodeStat {
                version,
                ..NodeStat::default()
            },
            child_count: 0,
            acl: Arc::from(Vec::new()),
            data_len: 0,
        })
    }

    fn version(p: &Pending, path: &str) -> Option<Option<i32>> {
        p.get(path).map(|r| r.as_ref().map(|r| r.stat.version))
    }

    #[test]
    fn latest_record_wins_and_applied_drops_oldest() {
        let mut p = Pending::new();
        p.add(Zxid(1), "/a", rec(1));
        p.add(Zxid(2), "/a", rec(2));
        p.add(Zxid(2), "/b", None);
        assert_eq!(version(&p, "/a"), Some(Some(2)));
        assert_eq!(version(&p, "/b"), Some(None));
        p.applied(Zxid(1));
        assert_eq!(version(&p, "/a"), Some(Some(2)));
        assert_eq!(p.len(), 2);
        p.applied(Zxid(2));
        assert!(p.is_empty());
        assert_eq!(version(&p, "/a"), None);
    }

    #[test]
    fn rollback_restores_earlier_records() {
        let mut p = Pending::new();
        p.add(Zxid(1), "/a", rec(1));
        p.add(Zxid(2), "/a", rec(2));
        p.add(Zxid(2), "/a", rec(3));
        p.add(Zxid(2), "/c", rec(9));
        p.add(Zxid(3), "/d", rec(4));
        p.rollback(Zxid(2));
        assert_eq!(version(&p, "/a"), Some(Some(1)));
        assert_eq!(version(&p, "/c"), None);
        assert_eq!(version(&p, "/d"), Some(Some(4)));
        assert_eq!(p.len(), 2);
        let order: Vec<&str> = p.records_in_order().iter().map(|(p, _)| *p).collect();
        assert_eq!(order, vec!["/a", "/d"]);
    }
}
