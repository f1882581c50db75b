//! Random operation sequences against a model written the way ZooKeeper's server is built:
//! two independent managers (data and child), each path -> watcher -> set of modes, with
//! `DataTree`'s calls into them. The registry packs all of that into one table; the model
//! does not.

use crate::{WatchFilter, WatchKind, WatchRegistry, WatchScope, WatchSummary};
use corral_jute::codes::EventType;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mode {
    Standard,
    Persistent,
    Recursive,
}

/// One of ZooKeeper's `WatchManager`s.
#[derive(Debug, Default)]
struct Manager {
    table: BTreeMap<String, BTreeMap<u64, BTreeSet<Mode>>>,
}

fn ancestors(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut p = path.to_owned();
    while p != "/" {
        p = match p.rfind('/') {
            Some(0) => "/".to_owned(),
            Some(i) => p[..i].to_owned(),
            None => break,
        };
        out.push(p.clone());
    }
    out
}

impl Manager {
    fn add(&mut self, path: &str, w: u64, mode: Mode) -> bool {
        self.table
            .entry(path.to_owned())
            .or_default()
            .entry(w)
            .or_default()
            .insert(mode)
    }

    fn modes(&self, path: &str, w: u64) -> BTreeSet<Mode> {
        self.table
            .get(path)
            .and_then(|ws| ws.get(&w))
            .cloned()
            .unwrap_or_default()
    }

    fn contains(&self, path: &str, w: u64, mode: Option<Mode>) -> bool {
        let Some(m) = self.table.get(path).and_then(|ws| ws.get(&w)) else {
            return false;
        };
        match mode {
            Some(mode) => m.contains(&mode),
            None => true,
        }
    }

    fn set(&mut self, path: &str, w: u64, modes: BTreeSet<Mode>) {
        let ws = self.table.entry(path.to_owned()).or_default();
        if modes.is_empty() {
            ws.remove(&w);
        } else {
            ws.insert(w, modes);
        }
        if ws.is_empty() {
            self.table.remove(path);
        }
    }

    fn remove(&mut self, path: &str, w: u64, mode: Option<Mode>) -> bool {
        let mut m = self.modes(path, w);
        let changed = match mode {
            Some(mode) => m.remove(&mode),
            None => {
                let had = !m.is_empty();
                m.clear();
                had
            }
        };
        self.set(path, w, m);
        changed
    }

    /// `WatchManager.triggerWatch`: everything on the path fires and loses its standard
    /// mode; recursive watches on ancestors fire.
    fn trigger(&mut self, path: &str) -> BTreeSet<u64> {
        let mut out = BTreeSet::new();
        let here: Vec<(u64, BTreeSet<Mode>)> = self
            .table
            .get(path)
            .map(|ws| ws.iter().map(|(w, m)| (*w, m.clone())).collect())
            .unwrap_or_default();
        for (w, mut m) in here {
            out.insert(w);
            m.remove(&Mode::Standard);
            self.set(path, w, m);
        }
        for a in ancestors(path) {
            if let Some(ws) = self.table.get(&a) {
                out.extend(
                    ws.iter()
                        .filter(|(_, m)| m.contains(&Mode::Recursive))
                        .map(|(w, _)| *w),
                );
            }
        }
        out
    }

    fn remove_watcher(&mut self, w: u64) {
        for ws in self.table.values_mut() {
            ws.remove(&w);
        }
        self.table.retain(|_, ws| !ws.is_empty());
    }

    fn pairs(&self) -> BTreeSet<(String, u64)> {
        self.table
            .iter()
            .flat_map(|(p, ws)| ws.keys().map(move |w| (p.clone(), *w)))
            .collect()
    }
}

/// `DataTree`'s use of its two managers.
#[derive(Debug, Default)]
struct Model {
    data: Manager,
    child: Manager,
}

impl Model {
    fn add(&mut self, path: &str, kind: WatchKind, w: u64) -> bool {
        match kind {
            WatchKind::Data => self.data.add(path, w, Mode::Standard),
            WatchKind::Child => self.child.add(path, w, Mode::Standard),
            WatchKind::Persistent => {
                let c = self.child.add(path, w, Mode::Persistent);
                let d = self.data.add(path, w, Mode::Persistent);
                c || d
            }
            WatchKind::PersistentRecursive => self.data.add(path, w, Mode::Recursive),
        }
    }

    fn contains(&self, path: &str, filter: WatchFilter, w: u64) -> bool {
        match filter {
            WatchFilter::Kind(WatchKind::Child) => {
                self.child.contains(path, w, Some(Mode::Standard))
            }
            WatchFilter::Kind(WatchKind::Data) => self.data.contains(path, w, Some(Mode::Standard)),
            WatchFilter::Kind(WatchKind::Persistent) => {
                self.data.contains(path, w, Some(Mode::Persistent))
            }
            WatchFilter::Kind(WatchKind::PersistentRecursive) => {
                self.data.contains(path, w, Some(Mode::Recursive))
            }
            WatchFilter::Any => {
                self.child.contains(path, w, None) || self.data.contains(path, w, None)
            }
        }
    }

    fn remove(&mut self, path: &str, filter: WatchFilter, w: u64) -> bool {
        match filter {
            WatchFilter::Kind(WatchKind::Child) => self.child.remove(path, w, Some(Mode::Standard)),
            WatchFilter::Kind(WatchKind::Data) => self.data.remove(path, w, Some(Mode::Standard)),
            WatchFilter::Kind(WatchKind::Persistent) => {
                let c = self.child.remove(path, w, Some(Mode::Persistent));
                let d = self.data.remove(path, w, Some(Mode::Persistent));
                c || d
            }
            WatchFilter::Kind(WatchKind::PersistentRecursive) => {
                self.data.remove(path, w, Some(Mode::Recursive))
            }
            WatchFilter::Any => {
                let c = self.child.remove(path, w, None);
                let d = self.data.remove(path, w, None);
                c || d
            }
        }
    }

    fn trigger(&mut self, path: &str, event: EventType) -> Vec<u64> {
        let fired = match event {
            EventType::NodeCreated | EventType::NodeDataChanged => self.data.trigger(path),
            EventType::NodeChildrenChanged => self.child.trigger(path),
            EventType::NodeDeleted => {
                // The child trigger runs with the data trigger's watchers suppressed: they
                // lose their one-shot child watches but are not notified twice.
                let mut notified = self.data.trigger(path);
                notified.extend(self.child.trigger(path));
                notified
            }
            _ => BTreeSet::new(),
        };
        fired.into_iter().collect()
    }

    fn remove_watcher(&mut self, w: u64) {
        self.data.remove_watcher(w);
        self.child.remove_watcher(w);
    }

    fn pairs(&self, scope: WatchScope) -> BTreeSet<(String, u64)> {
        match scope {
            WatchScope::Data => self.data.pairs(),
            WatchScope::Child => self.child.pairs(),
            WatchScope::All => self
                .data
                .pairs()
                .union(&self.child.pairs())
                .cloned()
                .collect(),
        }
    }

    fn summary(&self, scope: WatchScope) -> WatchSummary {
        let pairs = self.pairs(scope);
        let watches = match scope {
            WatchScope::All => self.data.pairs().len() + self.child.pairs().len(),
            _ => pairs.len(),
        };
        WatchSummary {
            watchers: pairs.iter().map(|(_, w)| *w).collect::<BTreeSet<_>>().len(),
            paths: pairs.iter().map(|(p, _)| p).collect::<BTreeSet<_>>().len(),
            watches,
        }
    }

    fn by_watcher(&self, scope: WatchScope) -> Vec<(u64, Vec<String>)> {
        let mut m: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for (p, w) in self.pairs(scope) {
            m.entry(w).or_default().push(p);
        }
        for ps in m.values_mut() {
            ps.sort();
        }
        m.into_iter().collect()
    }

    fn by_path(&self, scope: WatchScope) -> Vec<(String, Vec<u64>)> {
        let mut m: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (p, w) in self.pairs(scope) {
            m.entry(p).or_default().push(w);
        }
        m.into_iter().collect()
    }
}

const PATHS: [&str; 7] = ["/", "/a", "/a/b", "/a/b/c", "/a/c", "/b", "/ab"];
const EVENTS: [EventType; 4] = [
    EventType::NodeCreated,
    EventType::NodeDeleted,
    EventType::NodeDataChanged,
    EventType::NodeChildrenChanged,
];
const FILTERS: [WatchFilter; 5] = [
    WatchFilter::Kind(WatchKind::Data),
    WatchFilter::Kind(WatchKind::Child),
    WatchFilter::Kind(WatchKind::Persistent),
    WatchFilter::Kind(WatchKind::PersistentRecursive),
    WatchFilter::Any,
];
const SCOPES: [WatchScope; 3] = [WatchScope::Data, WatchScope::Child, WatchScope::All];

#[derive(Debug, Clone)]
enum Op {
    Add(usize, usize, u64),
    Trigger(usize, usize),
    Remove(usize, usize, u64),
    RemoveWatcher(u64),
}

/// An operation on one of the first `paths` of [`PATHS`] by one of `watchers` watchers; adds
/// weigh `adds` against 3 for triggers and 1 for each kind of removal.
fn op(paths: usize, watchers: u64, adds: u32) -> impl Strategy<Value = Op> {
    let p = 0..paths;
    prop_oneof![
        adds => (p.clone(), 0..WatchKind::ALL.len(), 0..watchers).prop_map(|(p, k, w)| Op::Add(p, k, w)),
        3 => (p.clone(), 0..EVENTS.len()).prop_map(|(p, e)| Op::Trigger(p, e)),
        1 => (p, 0..FILTERS.len(), 0..watchers).prop_map(|(p, f, w)| Op::Remove(p, f, w)),
        1 => (0..watchers).prop_map(Op::RemoveWatcher),
    ]
}

/// Runs `ops` on both, comparing every answer, and all counts and dumps after each step;
/// `contains` for every (path, filter, watcher) after each step if `every_step`, else at the
/// end.
fn run(ops: &[Op], watchers: u64, every_step: bool) -> Result<(), TestCaseError> {
    let mut reg: WatchRegistry<u64> = WatchRegistry::new();
    let mut model = Model::default();
    for op in ops {
        match *op {
            Op::Add(p, k, w) => {
                let kind = WatchKind::ALL[k];
                prop_assert_eq!(reg.add(PATHS[p], kind, w), model.add(PATHS[p], kind, w));
            }
            Op::Trigger(p, e) => {
                let got = reg.trigger(PATHS[p], EVENTS[e]);
                prop_assert_eq!(got, model.trigger(PATHS[p], EVENTS[e]), "{:?}", op);
            }
            Op::Remove(p, f, w) => {
                let (path, filter) = (PATHS[p], FILTERS[f]);
                prop_assert_eq!(reg.remove(path, filter, w), model.remove(path, filter, w));
            }
            Op::RemoveWatcher(w) => {
                reg.remove_watcher(w);
                model.remove_watcher(w);
            }
        }
        reg.assert_consistent();
        for scope in SCOPES {
            prop_assert_eq!(reg.summary(scope), model.summary(scope), "{:?}", scope);
            let by_w: Vec<(u64, Vec<String>)> = reg
                .dump_by_watcher(scope)
                .into_iter()
                .map(|(w, ps)| (w, ps.into_iter().map(str::to_owned).collect()))
                .collect();
            prop_assert_eq!(by_w, model.by_watcher(scope));
            let by_p: Vec<(String, Vec<u64>)> = reg
                .dump_by_path(scope)
                .into_iter()
                .map(|(p, ws)| (p.to_owned(), ws))
                .collect();
            prop_assert_eq!(by_p, model.by_path(scope));
        }
        if every_step {
            check_contains(&reg, &model, watchers)?;
        }
    }
    check_contains(&reg, &model, watchers)?;
    prop_assert_eq!(reg.is_empty(), model.pairs(WatchScope::All).is_empty());
    Ok(())
}

fn check_contains(
    reg: &WatchRegistry<u64>,
    model: &Model,
    watchers: u64,
) -> Result<(), TestCaseError> {
    for path in PATHS {
        for filter in FILTERS {
            for w in 0..watchers {
                prop_assert_eq!(
                    reg.contains(path, filter, w),
                    model.contains(path, filter, w),
                    "{} {:?} {}",
                    path,
                    filter,
                    w
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn registry_matches_zookeeper_model(ops in prop::collection::vec(op(PATHS.len(), 4, 4), 0..60)) {
        run(&ops, 4, true)?;
    }
}

proptest! {
    // Fewer, longer cases: 40 watchers push paths past the small-vector size and back.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn registry_matches_model_with_crowded_paths(ops in prop::collection::vec(op(3, 40, 15), 0..200)) {
        run(&ops, 40, false)?;
    }
}
