//! The per-path watcher set and the bit set of watch modes one watcher holds on one path.

use crate::WatchKind;
use std::collections::HashMap;
use std::hash::Hash;

/// The watches one watcher holds on one path, over both tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct Modes(u8);

impl Modes {
    pub(crate) const NONE: Modes = Modes(0);
    /// Data table, one-shot (`getData`, `exists`).
    pub(crate) const DATA: Modes = Modes(1);
    /// Data table, persistent.
    pub(crate) const DATA_PERSISTENT: Modes = Modes(1 << 1);
    /// Data table, persistent recursive (only ever in the data table).
    pub(crate) const RECURSIVE: Modes = Modes(1 << 2);
    /// Child table, one-shot (`getChildren`).
    pub(crate) const CHILD: Modes = Modes(1 << 3);
    /// Child table, persistent.
    pub(crate) const CHILD_PERSISTENT: Modes = Modes(1 << 4);

    /// Everything in the data table.
    pub(crate) const DATA_TABLE: Modes = Modes(0b00111);
    /// Everything in the child table.
    pub(crate) const CHILD_TABLE: Modes = Modes(0b11000);
    /// Every mode.
    pub(crate) const ALL: Modes = Modes(0b11111);

    /// The bits a watch of `kind` sets (ZooKeeper's `DataTree.addWatch`: a persistent watch
    /// goes into both tables, a recursive one into the data table only).
    pub(crate) const fn of_kind(kind: WatchKind) -> Modes {
        match kind {
            WatchKind::Data => Modes::DATA,
            WatchKind::Child => Modes::CHILD,
            WatchKind::Persistent => Modes(Modes::DATA_PERSISTENT.0 | Modes::CHILD_PERSISTENT.0),
            WatchKind::PersistentRecursive => Modes::RECURSIVE,
        }
    }

    pub(crate) const fn union(self, other: Modes) -> Modes {
        Modes(self.0 | other.0)
    }

    pub(crate) const fn minus(self, other: Modes) -> Modes {
        Modes(self.0 & !other.0)
    }

    pub(crate) const fn intersects(self, other: Modes) -> bool {
        self.0 & other.0 != 0
    }

    pub(crate) const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Above this many watchers a path's set becomes a hash map.
#[cfg(not(test))]
const SMALL_MAX: usize = 16;
/// At or below this many watchers a hash-map set goes back to a vector.
#[cfg(not(test))]
const SMALL_AGAIN: usize = 4;
// Smaller in tests, so that random sequences cross both thresholds often.
#[cfg(test)]
const SMALL_MAX: usize = 6;
#[cfg(test)]
const SMALL_AGAIN: usize = 2;

/// The watchers of one path with their modes. Most paths have one or a few watchers, which a
/// small vector holds at 16 bytes or so each; a path that many watch (a shared config node)
/// switches to a hash map so that adding and removing stay O(1). Iteration order is
/// unspecified: every output of the registry is sorted.
#[derive(Debug, Clone)]
pub(crate) enum WatcherSet<W> {
    Small(Vec<(W, Modes)>),
    /// Boxed on purpose: a large set is rare, and the box keeps the enum (so every path
    /// entry) at the three words of the small case instead of a hash map's six.
    #[allow(clippy::box_collection)]
    Large(Box<HashMap<W, Modes>>),
}

impl<W: Copy + Eq + Hash> WatcherSet<W> {
    pub(crate) fn new() -> Self {
        WatcherSet::Small(Vec::new())
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            WatcherSet::Small(v) => v.len(),
            WatcherSet::Large(m) => m.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The modes `w` holds here ([`Modes::NONE`] if none).
    pub(crate) fn get(&self, w: W) -> Modes {
        match self {
            WatcherSet::Small(v) => v
                .iter()
                .find(|(x, _)| *x == w)
                .map_or(Modes::NONE, |(_, m)| *m),
            WatcherSet::Large(m) => m.get(&w).copied().unwrap_or(Modes::NONE),
        }
    }

    /// Sets the modes of `w`; [`Modes::NONE`] removes it.
    pub(crate) fn set(&mut self, w: W, modes: Modes) {
        match self {
            WatcherSet::Small(v) => {
                let at = v.iter().position(|(x, _)| *x == w);
                match (at, modes.is_empty()) {
                    (Some(i), true) => {
                        v.swap_remove(i);
                        if v.is_empty() {
                            // Free the buffer: an emptied path is dropped soon anyway, but a
                            // path whose watchers come and go should not keep a large one.
                            *v = Vec::new();
                        }
                    }
                    (Some(i), false) => v[i].1 = modes,
                    (None, true) => {}
                    (None, false) => {
                        if v.len() < SMALL_MAX {
                            v.push((w, modes));
                        } else {
                            let mut m: HashMap<W, Modes> = v.drain(..).collect();
                            m.insert(w, modes);
                            *self = WatcherSet::Large(Box::new(m));
                        }
                    }
                }
            }
            WatcherSet::Large(m) => {
                if modes.is_empty() {
                    m.remove(&w);
                    if m.len() <= SMALL_AGAIN {
                        let v: Vec<(W, Modes)> = m.drain().collect();
                        *self = WatcherSet::Small(v);
                    }
                } else {
                    m.insert(w, modes);
                }
            }
        }
    }

    /// Every (watcher, modes), in no particular order.
    pub(crate) fn iter(&self) -> Iter<'_, W> {
        match self {
            WatcherSet::Small(v) => Iter::Small(v.iter()),
            WatcherSet::Large(m) => Iter::Large(m.iter()),
        }
    }
}

/// Iterator over a [`WatcherSet`].
pub(crate) enum Iter<'a, W> {
    Small(std::slice::Iter<'a, (W, Modes)>),
    Large(std::collections::hash_map::Iter<'a, W, Modes>),
}

impl<W: Copy> Iterator for Iter<'_, W> {
    type Item = (W, Modes);

    fn next(&mut self) -> Option<(W, Modes)> {
        match self {
            Iter::Small(it) => it.next().copied(),
            Iter::Large(it) => it.next().map(|(w, m)| (*w, *m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_their_tables() {
        assert!(Modes::of_kind(WatchKind::Data).intersects(Modes::DATA_TABLE));
        assert!(!Modes::of_kind(WatchKind::Data).intersects(Modes::CHILD_TABLE));
        assert!(Modes::of_kind(WatchKind::Child).intersects(Modes::CHILD_TABLE));
        assert!(!Modes::of_kind(WatchKind::Child).intersects(Modes::DATA_TABLE));
        let p = Modes::of_kind(WatchKind::Persistent);
        assert!(p.intersects(Modes::DATA_TABLE) && p.intersects(Modes::CHILD_TABLE));
        let r = Modes::of_kind(WatchKind::PersistentRecursive);
        assert!(r.intersects(Modes::DATA_TABLE) && !r.intersects(Modes::CHILD_TABLE));
        let all = WatchKind::ALL
            .iter()
            .fold(Modes::NONE, |acc, k| acc.union(Modes::of_kind(*k)));
        assert_eq!(all, Modes::ALL);
        assert!(all.minus(Modes::ALL).is_empty());
    }

    #[test]
    fn set_grows_into_a_map_and_shrinks_back() {
        let mut s: WatcherSet<u32> = WatcherSet::new();
        for w in 0..100 {
            s.set(w, Modes::DATA);
        }
        assert!(matches!(s, WatcherSet::Large(_)));
        assert_eq!(s.len(), 100);
        s.set(5, Modes::CHILD);
        assert_eq!(s.get(5), Modes::CHILD);
        for w in 0..98 {
            s.set(w, Modes::NONE);
        }
        assert!(matches!(s, WatcherSet::Small(_)));
        assert_eq!(s.len(), 2);
        assert_eq!(s.get(98), Modes::DATA);
        assert_eq!(s.get(3), Modes::NONE);
        let mut seen: Vec<u32> = s.iter().map(|(w, _)| w).collect();
        seen.sort_unstable();
        assert_eq!(seen, vec![98, 99]);
        s.set(98, Modes::NONE);
        s.set(99, Modes::NONE);
        s.set(99, Modes::NONE);
        assert!(s.is_empty());
    }

    #[test]
    fn small_set_is_three_words() {
        assert_eq!(
            std::mem::size_of::<WatcherSet<u64>>(),
            3 * std::mem::size_of::<usize>()
        );
    }

    proptest::proptest! {
        #[test]
        fn set_matches_a_map(ops in proptest::collection::vec((0u8..20, 0u8..32), 0..300)) {
            let mut s: WatcherSet<u8> = WatcherSet::new();
            let mut model = std::collections::BTreeMap::new();
            for (w, bits) in ops {
                s.set(w, Modes(bits));
                if bits == 0 {
                    model.remove(&w);
                } else {
                    model.insert(w, Modes(bits));
                }
                proptest::prop_assert_eq!(s.len(), model.len());
                proptest::prop_assert_eq!(s.get(w), Modes(bits));
                let mut all: Vec<(u8, Modes)> = s.iter().collect();
                all.sort_unstable_by_key(|(w, _)| *w);
                let expected: Vec<(u8, Modes)> = model.iter().map(|(w, m)| (*w, *m)).collect();
                proptest::prop_assert_eq!(all, expected);
            }
        }
    }
}
