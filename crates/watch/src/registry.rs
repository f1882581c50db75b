//! [`WatchRegistry`]: the tables, their counts and the trigger rules.

use crate::set::{Modes, WatcherSet};
use crate::{WatchError, WatchFilter, WatchKind, WatchScope, WatchSummary};
use corral_jute::codes::EventType;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::Arc;

/// A small number standing for an interned path on the watcher side.
type PathId = u32;

/// One watched path: its watchers and how many of them are in each table.
#[derive(Debug, Clone)]
struct PathEntry<W> {
    id: PathId,
    watchers: WatcherSet<W>,
    /// Watchers with a data-table watch here.
    data: u32,
    /// Watchers with a child-table watch here.
    child: u32,
    /// Watchers with a persistent recursive watch here.
    recursive: u32,
}

/// One watcher: the paths it watches and in how many of them per table.
#[derive(Debug, Clone, Default)]
struct WatcherEntry {
    paths: HashSet<PathId>,
    data: u32,
    child: u32,
}

/// Counts for one table, kept up to date on every change.
#[derive(Debug, Clone, Copy, Default)]
struct TableCounts {
    watches: usize,
    paths: usize,
    watchers: usize,
}

impl TableCounts {
    fn summary(self) -> WatchSummary {
        WatchSummary {
            watchers: self.watchers,
            paths: self.paths,
            watches: self.watches,
        }
    }
}

/// The watch registry of one server, generic over the watcher id `W`.
///
/// Each watched path is stored once (shared by the path table and an id table), the watcher
/// side refers to paths by a 4-byte id, and a path's entry is freed with its last watch. All
/// counts are kept incrementally, so [`summary`](Self::summary) is O(1). Everything the
/// registry returns is in a deterministic order: watchers ascending by `W`, paths ascending
/// by bytes.
#[derive(Debug, Clone)]
pub struct WatchRegistry<W> {
    /// Path -> its watchers. The key is the one copy of the path string.
    paths: HashMap<Arc<str>, PathEntry<W>>,
    /// Path id -> path (a shared handle to the same string); `None` for a free id.
    names: Vec<Option<Arc<str>>>,
    /// Ids of `names` that are free to reuse.
    free: Vec<PathId>,
    /// Watcher -> the ids of the paths it watches.
    watchers: HashMap<W, WatcherEntry>,
    data: TableCounts,
    child: TableCounts,
    /// Paths holding a persistent recursive watch: when zero, triggers skip the ancestor walk.
    recursive: usize,
}

impl<W> Default for WatchRegistry<W> {
    fn default() -> Self {
        WatchRegistry {
            paths: HashMap::new(),
            names: Vec::new(),
            free: Vec::new(),
            watchers: HashMap::new(),
            data: TableCounts::default(),
            child: TableCounts::default(),
            recursive: 0,
        }
    }
}

/// The parent of a path: `/a/b` -> `/a`, `/a` -> `/`, `/` (and anything without a `/`) -> none.
fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => path.get(..i),
        None => None,
    }
}

/// Moves one owner's count up or down by one, keeping `owners` = owners with a non-zero count.
fn step(count: &mut u32, owners: &mut usize, up: bool) {
    if up {
        *count += 1;
        if *count == 1 {
            *owners += 1;
        }
    } else {
        *count -= 1;
        if *count == 0 {
            *owners -= 1;
        }
    }
}

/// The modes a filter selects.
fn filter_modes(filter: WatchFilter) -> Modes {
    match filter {
        WatchFilter::Kind(kind) => Modes::of_kind(kind),
        WatchFilter::Any => Modes::ALL,
    }
}

/// The modes in a scope.
fn scope_modes(scope: WatchScope) -> Modes {
    match scope {
        WatchScope::Data => Modes::DATA_TABLE,
        WatchScope::Child => Modes::CHILD_TABLE,
        WatchScope::All => Modes::ALL,
    }
}

impl<W: Copy + Eq + Ord + Hash> WatchRegistry<W> {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a watch of `kind` by `watcher` on `path`. Returns `false` if that watch was
    /// already there (nothing changes), as ZooKeeper's `WatchManager.addWatch`.
    ///
    /// The registry does not check the path: the caller registers exactly the paths it read
    /// (ZooKeeper keeps a data watch left by `exists` on a node that does not exist). It also
    /// returns `false`, registering nothing, in the unreachable case that 2^32 distinct paths
    /// are already watched.
    pub fn add(&mut self, path: &str, kind: WatchKind, watcher: W) -> bool {
        let old = self.modes(path, watcher);
        let new = old.union(Modes::of_kind(kind));
        if new == old {
            return false;
        }
        if !self.paths.contains_key(path) && !self.intern(path) {
            return false;
        }
        self.apply(path, watcher, old, new);
        true
    }

    /// Whether `watcher` has a watch on `path` matching `filter`, as ZooKeeper's
    /// `DataTree.containsWatcher` (checkWatches): `Data` and `Child` look for the one-shot
    /// watch of that table only, `Any` for a watch of any kind.
    pub fn contains(&self, path: &str, filter: impl Into<WatchFilter>, watcher: W) -> bool {
        self.modes(path, watcher)
            .intersects(filter_modes(filter.into()))
    }

    /// Removes `watcher`'s watches on `path` matching `filter` (removeWatches): `Data`,
    /// `Child` or `PersistentRecursive` remove that one watch, `Persistent` removes the
    /// persistent watch from both tables, `Any` removes every kind. Returns whether anything
    /// was removed, as ZooKeeper's `DataTree.removeWatch`.
    pub fn remove(&mut self, path: &str, filter: impl Into<WatchFilter>, watcher: W) -> bool {
        let old = self.modes(path, watcher);
        let mask = filter_modes(filter.into());
        if !old.intersects(mask) {
            return false;
        }
        self.apply(path, watcher, old, old.minus(mask));
        true
    }

    /// [`contains`](Self::contains) as the checkWatches reply: `Err(NoWatcher)` if there is no
    /// matching watch.
    pub fn check(
        &self,
        path: &str,
        filter: impl Into<WatchFilter>,
        watcher: W,
    ) -> Result<(), WatchError> {
        let filter = filter.into();
        if self.contains(path, filter, watcher) {
            Ok(())
        } else {
            Err(WatchError::NoWatcher {
                path: path.to_owned(),
                filter,
            })
        }
    }

    /// [`remove`](Self::remove) as the removeWatches reply: `Err(NoWatcher)` if nothing
    /// matched.
    pub fn remove_checked(
        &mut self,
        path: &str,
        filter: impl Into<WatchFilter>,
        watcher: W,
    ) -> Result<(), WatchError> {
        let filter = filter.into();
        if self.remove(path, filter, watcher) {
            Ok(())
        } else {
            Err(WatchError::NoWatcher {
                path: path.to_owned(),
                filter,
            })
        }
    }

    /// Drops every watch of `watcher` (its connection closed), freeing paths nobody else
    /// watches. Returns on how many paths it had watches.
    pub fn remove_watcher(&mut self, watcher: W) -> usize {
        let ids: Vec<PathId> = match self.watchers.get(&watcher) {
            Some(entry) => entry.paths.iter().copied().collect(),
            None => return 0,
        };
        for id in &ids {
            let Some(path) = self.name(*id) else {
                continue;
            };
            let old = self.modes(&path, watcher);
            self.apply(&path, watcher, old, Modes::NONE);
        }
        ids.len()
    }

    /// The watchers to notify of `event` on `path`, sorted ascending and without duplicates;
    /// the one-shot watches among those that fired are removed. See the crate docs for which
    /// watches each event type reaches; event types other than `NodeCreated`, `NodeDeleted`,
    /// `NodeDataChanged` and `NodeChildrenChanged` reach none.
    pub fn trigger(&mut self, path: &str, event: EventType) -> Vec<W> {
        // (watches on the path that fire, the one-shot ones among them, walk up for
        // recursive watches?) -- ZooKeeper's DataTree sends the node events to the data
        // table (NodeDeleted to the child table too) and NodeChildrenChanged to the child
        // table; only the data table holds recursive watches.
        let (fire, consume, ancestors) = match event {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                (Modes::DATA_TABLE, Modes::DATA, true)
            }
            EventType::NodeDeleted => (Modes::ALL, Modes::DATA.union(Modes::CHILD), true),
            EventType::NodeChildrenChanged => (Modes::CHILD_TABLE, Modes::CHILD, false),
            EventType::None
            | EventType::DataWatchRemoved
            | EventType::ChildWatchRemoved
            | EventType::PersistentWatchRemoved => return Vec::new(),
        };
        let fired: Vec<(W, Modes)> = match self.paths.get(path) {
            Some(entry) => entry
                .watchers
                .iter()
                .filter(|(_, m)| m.intersects(fire))
                .collect(),
            None => Vec::new(),
        };
        let mut out: Vec<W> = Vec::with_capacity(fired.len());
        for (w, old) in fired {
            out.push(w);
            self.apply(path, w, old, old.minus(consume));
        }
        if ancestors && self.recursive > 0 {
            let mut at = parent(path);
            while let Some(p) = at {
                if let Some(entry) = self.paths.get(p).filter(|e| e.recursive > 0) {
                    out.extend(
                        entry
                            .watchers
                            .iter()
                            .filter(|(_, m)| m.intersects(Modes::RECURSIVE))
                            .map(|(w, _)| w),
                    );
                }
                at = parent(p);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Counts for a scope. [`WatchScope::Data`] is what ZooKeeper's `wchs` prints;
    /// `summary(WatchScope::All).watches` is its `mntr` `zk_watch_count`.
    pub fn summary(&self, scope: WatchScope) -> WatchSummary {
        match scope {
            WatchScope::Data => self.data.summary(),
            WatchScope::Child => self.child.summary(),
            WatchScope::All => WatchSummary {
                watchers: self.watchers.len(),
                paths: self.paths.len(),
                watches: self.data.watches + self.child.watches,
            },
        }
    }

    /// Whether no watch is registered.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Watches by watcher (`wchc`): each watcher with a watch in scope, ascending, with its
    /// watched paths in scope, ascending.
    pub fn dump_by_watcher(&self, scope: WatchScope) -> Vec<(W, Vec<&str>)> {
        let mask = scope_modes(scope);
        let mut out: Vec<(W, Vec<&str>)> = Vec::new();
        for (w, entry) in &self.watchers {
            let mut paths: Vec<&str> = entry
                .paths
                .iter()
                .filter_map(|id| self.names.get(*id as usize)?.as_deref())
                .filter(|p| {
                    self.paths
                        .get(*p)
                        .is_some_and(|e| e.watchers.get(*w).intersects(mask))
                })
                .collect();
            if !paths.is_empty() {
                paths.sort_unstable();
                out.push((*w, paths));
            }
        }
        out.sort_unstable_by_key(|a| a.0);
        out
    }

    /// Watches by path (`wchp`): each path with a watch in scope, ascending, with its
    /// watchers in scope, ascending.
    pub fn dump_by_path(&self, scope: WatchScope) -> Vec<(&str, Vec<W>)> {
        let mask = scope_modes(scope);
        let mut out: Vec<(&str, Vec<W>)> = Vec::new();
        for (path, entry) in &self.paths {
            let mut ws: Vec<W> = entry
                .watchers
                .iter()
                .filter(|(_, m)| m.intersects(mask))
                .map(|(w, _)| w)
                .collect();
            if !ws.is_empty() {
                ws.sort_unstable();
                out.push((path, ws));
            }
        }
        out.sort_unstable_by(|a, b| a.0.cmp(b.0));
        out
    }

    /// The kinds of watch `watcher` holds on `path`, in [`WatchKind::ALL`] order.
    pub fn kinds(&self, path: &str, watcher: W) -> Vec<WatchKind> {
        let held = self.modes(path, watcher);
        WatchKind::ALL
            .into_iter()
            .filter(|k| held.intersects(Modes::of_kind(*k)))
            .collect()
    }

    /// Gives back spare capacity of the registry's own tables (for instance after a burst of
    /// connections closed).
    pub fn shrink_to_fit(&mut self) {
        while let Some(None) = self.names.last() {
            self.names.pop();
        }
        let live = self.names.len();
        self.free.retain(|id| (*id as usize) < live);
        self.names.shrink_to_fit();
        self.free.shrink_to_fit();
        self.paths.shrink_to_fit();
        self.watchers.shrink_to_fit();
    }

    /// The modes `watcher` holds on `path`.
    fn modes(&self, path: &str, watcher: W) -> Modes {
        self.paths
            .get(path)
            .map_or(Modes::NONE, |e| e.watchers.get(watcher))
    }

    /// The path of an id.
    fn name(&self, id: PathId) -> Option<Arc<str>> {
        self.names.get(id as usize)?.clone()
    }

    /// Creates an empty entry for `path`; `false` if no path id is left.
    fn intern(&mut self, path: &str) -> bool {
        let id = match self.free.pop() {
            Some(id) => id,
            None => match PathId::try_from(self.names.len()) {
                Ok(id) => {
                    self.names.push(None);
                    id
                }
                Err(_) => return false,
            },
        };
        let name: Arc<str> = Arc::from(path);
        if let Some(slot) = self.names.get_mut(id as usize) {
            *slot = Some(Arc::clone(&name));
        }
        self.paths.insert(
            name,
            PathEntry {
                id,
                watchers: WatcherSet::new(),
                data: 0,
                child: 0,
                recursive: 0,
            },
        );
        true
    }

    /// Changes the modes `watcher` holds on `path` from `old` (its current modes) to `new`,
    /// keeping every table and count in step, and frees the path and the watcher entries
    /// that end up empty. All changes go through here. The path's entry must exist.
    fn apply(&mut self, path: &str, watcher: W, old: Modes, new: Modes) {
        if old == new {
            return;
        }
        let Some(entry) = self.paths.get_mut(path) else {
            return;
        };
        let id = entry.id;
        entry.watchers.set(watcher, new);
        let w = self.watchers.entry(watcher).or_default();
        if old.is_empty() {
            w.paths.insert(id);
        } else if new.is_empty() {
            w.paths.remove(&id);
        }

        let (d_old, d_new) = (
            old.intersects(Modes::DATA_TABLE),
            new.intersects(Modes::DATA_TABLE),
        );
        if d_old != d_new {
            step(&mut entry.data, &mut self.data.paths, d_new);
            step(&mut w.data, &mut self.data.watchers, d_new);
            if d_new {
                self.data.watches += 1;
            } else {
                self.data.watches -= 1;
            }
        }
        let (c_old, c_new) = (
            old.intersects(Modes::CHILD_TABLE),
            new.intersects(Modes::CHILD_TABLE),
        );
        if c_old != c_new {
            step(&mut entry.child, &mut self.child.paths, c_new);
            step(&mut w.child, &mut self.child.watchers, c_new);
            if c_new {
                self.child.watches += 1;
            } else {
                self.child.watches -= 1;
            }
        }
        let (r_old, r_new) = (
            old.intersects(Modes::RECURSIVE),
            new.intersects(Modes::RECURSIVE),
        );
        if r_old != r_new {
            step(&mut entry.recursive, &mut self.recursive, r_new);
        }

        if w.paths.is_empty() {
            self.watchers.remove(&watcher);
        }
        if entry.watchers.is_empty() {
            if let Some(slot) = self.names.get_mut(id as usize) {
                *slot = None;
            }
            self.free.push(id);
            self.paths.remove(path);
        }
    }

    /// Checks every internal invariant against a recount (tests only).
    #[cfg(test)]
    pub(crate) fn assert_consistent(&self) {
        let mut data = TableCounts::default();
        let mut child = TableCounts::default();
        let mut recursive = 0usize;
        let mut per_watcher: HashMap<W, (HashSet<PathId>, u32, u32)> = HashMap::new();
        for (path, e) in &self.paths {
            assert!(!e.watchers.is_empty(), "empty entry kept for {path}");
            assert_eq!(self.names[e.id as usize].as_deref(), Some(&**path));
            let (mut d, mut c, mut r) = (0u32, 0u32, 0u32);
            for (w, m) in e.watchers.iter() {
                assert!(!m.is_empty());
                let pw = per_watcher.entry(w).or_default();
                pw.0.insert(e.id);
                if m.intersects(Modes::DATA_TABLE) {
                    d += 1;
                    pw.1 += 1;
                }
                if m.intersects(Modes::CHILD_TABLE) {
                    c += 1;
                    pw.2 += 1;
                }
                if m.intersects(Modes::RECURSIVE) {
                    r += 1;
                }
            }
            assert_eq!(
                (e.data, e.child, e.recursive),
                (d, c, r),
                "counts of {path}"
            );
            data.watches += d as usize;
            child.watches += c as usize;
            data.paths += usize::from(d > 0);
            child.paths += usize::from(c > 0);
            recursive += usize::from(r > 0);
        }
        assert_eq!(per_watcher.len(), self.watchers.len());
        for (w, (ids, d, c)) in &per_watcher {
            let e = &self.watchers[w];
            assert_eq!((&e.paths, e.data, e.child), (ids, *d, *c));
            data.watchers += usize::from(*d > 0);
            child.watchers += usize::from(*c > 0);
        }
        assert_eq!(self.data.summary(), data.summary());
        assert_eq!(self.child.summary(), child.summary());
        assert_eq!(self.recursive, recursive);
        let live = self.names.iter().filter(|n| n.is_some()).count();
        assert_eq!(live, self.paths.len());
        assert_eq!(live + self.free.len(), self.names.len());
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
