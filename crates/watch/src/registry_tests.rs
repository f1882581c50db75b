use super::*;
use corral_jute::codes::{AddWatchMode, ErrorCode, WatcherType};
use EventType::{NodeChildrenChanged, NodeCreated, NodeDataChanged, NodeDeleted};
use WatchKind::{Child, Data, Persistent, PersistentRecursive};

fn reg() -> WatchRegistry<u64> {
    WatchRegistry::new()
}

/// Triggers and checks the invariants afterwards.
fn fire(r: &mut WatchRegistry<u64>, path: &str, event: EventType) -> Vec<u64> {
    let out = r.trigger(path, event);
    r.assert_consistent();
    out
}

#[test]
fn parent_of_paths() {
    assert_eq!(parent("/"), None);
    assert_eq!(parent("/a"), Some("/"));
    assert_eq!(parent("/a/b"), Some("/a"));
    assert_eq!(parent("/a/b/c"), Some("/a/b"));
    assert_eq!(parent(""), None);
    assert_eq!(parent("a"), None);
    assert_eq!(parent("/a/"), Some("/a"));
    assert_eq!(parent("/ä/ö"), Some("/ä"));
}

#[test]
fn add_reports_new_and_duplicate() {
    let mut r = reg();
    assert!(r.add("/a", Data, 1));
    assert!(!r.add("/a", Data, 1));
    assert!(r.add("/a", Child, 1));
    assert!(r.add("/a", Data, 2));
    assert!(r.add("/a", Persistent, 1));
    assert!(!r.add("/a", Persistent, 1));
    assert!(r.add("/a", PersistentRecursive, 1));
    assert!(!r.add("/a", PersistentRecursive, 1));
    assert_eq!(r.kinds("/a", 1), WatchKind::ALL.to_vec());
    assert_eq!(r.kinds("/a", 2), vec![Data]);
    assert!(r.kinds("/b", 1).is_empty());
    r.assert_consistent();
}

#[test]
fn data_watch_fires_on_created_changed_deleted_only() {
    for event in [NodeCreated, NodeDataChanged, NodeDeleted] {
        let mut r = reg();
        r.add("/a", Data, 1);
        assert!(fire(&mut r, "/a", NodeChildrenChanged).is_empty());
        assert!(fire(&mut r, "/a/b", event).is_empty(), "child path");
        assert!(fire(&mut r, "/", event).is_empty(), "parent path");
        assert_eq!(fire(&mut r, "/a", event), vec![1]);
        assert!(r.is_empty());
    }
}

#[test]
fn exists_watch_on_missing_node_fires_on_create() {
    // exists("/new", watch) on a missing node leaves a data watch; create fires it.
    let mut r = reg();
    r.add("/new", Data, 5);
    assert_eq!(fire(&mut r, "/new", NodeCreated), vec![5]);
    assert!(fire(&mut r, "/new", NodeCreated).is_empty());
}

#[test]
fn child_watch_fires_on_children_changed_and_deleted_only() {
    let mut r = reg();
    r.add("/a", Child, 1);
    assert!(fire(&mut r, "/a", NodeCreated).is_empty());
    assert!(fire(&mut r, "/a", NodeDataChanged).is_empty());
    assert!(fire(&mut r, "/a/b", NodeChildrenChanged).is_empty());
    assert_eq!(fire(&mut r, "/a", NodeChildrenChanged), vec![1]);
    assert!(fire(&mut r, "/a", NodeChildrenChanged).is_empty());

    r.add("/a", Child, 1);
    assert_eq!(fire(&mut r, "/a", NodeDeleted), vec![1]);
    assert!(r.is_empty());
}

#[test]
fn one_shot_watches_fire_once() {
    let mut r = reg();
    for w in [3, 1, 2] {
        r.add("/x", Data, w);
    }
    assert_eq!(fire(&mut r, "/x", NodeDataChanged), vec![1, 2, 3]);
    assert!(fire(&mut r, "/x", NodeDataChanged).is_empty());
    assert!(fire(&mut r, "/x", NodeDeleted).is_empty());
    assert!(r.is_empty());
    assert_eq!(r.summary(WatchScope::All), WatchSummary::default());
}

#[test]
fn delete_notifies_each_watcher_once_and_consumes_both_one_shots() {
    let mut r = reg();
    r.add("/a", Data, 1);
    r.add("/a", Child, 1);
    r.add("/a", Child, 2);
    r.add("/a", Data, 3);
    r.add("/a/b", Data, 4);
    assert_eq!(fire(&mut r, "/a", NodeDeleted), vec![1, 2, 3]);
    // Watcher 1's child watch was consumed although it was notified through its data watch.
    assert!(!r.contains("/a", Child, 1));
    assert!(fire(&mut r, "/a", NodeChildrenChanged).is_empty());
    assert!(r.contains("/a/b", Data, 4));
    assert_eq!(r.summary(WatchScope::All).paths, 1);
}

#[test]
fn persistent_watch_fires_on_every_event_of_its_node_and_stays() {
    let mut r = reg();
    r.add("/p", Persistent, 1);
    for event in [
        NodeCreated,
        NodeDataChanged,
        NodeChildrenChanged,
        NodeDeleted,
    ] {
        assert_eq!(fire(&mut r, "/p", event), vec![1], "{event:?}");
    }
    // Not for events on a child or the parent.
    for event in [
        NodeCreated,
        NodeDataChanged,
        NodeChildrenChanged,
        NodeDeleted,
    ] {
        assert!(fire(&mut r, "/p/c", event).is_empty());
        assert!(fire(&mut r, "/", event).is_empty());
    }
    assert!(r.contains("/p", Persistent, 1));
    // In both tables, as ZooKeeper's DataTree.addWatch puts it.
    assert_eq!(r.summary(WatchScope::Data).watches, 1);
    assert_eq!(r.summary(WatchScope::Child).watches, 1);
    assert_eq!(r.summary(WatchScope::All).watches, 2);
}

#[test]
fn persistent_and_one_shot_on_one_path() {
    let mut r = reg();
    r.add("/p", Persistent, 1);
    r.add("/p", Data, 1);
    r.add("/p", Child, 1);
    assert_eq!(fire(&mut r, "/p", NodeDataChanged), vec![1]);
    assert_eq!(r.kinds("/p", 1), vec![Child, Persistent]);
    assert_eq!(fire(&mut r, "/p", NodeDeleted), vec![1]);
    assert_eq!(r.kinds("/p", 1), vec![Persistent]);
}

#[test]
fn recursive_watch_fires_for_node_and_descendants_but_not_children_changed() {
    let mut r = reg();
    r.add("/a", PersistentRecursive, 1);
    for event in [NodeCreated, NodeDataChanged, NodeDeleted] {
        assert_eq!(fire(&mut r, "/a", event), vec![1]);
        assert_eq!(fire(&mut r, "/a/b", event), vec![1]);
        assert_eq!(fire(&mut r, "/a/b/c/d", event), vec![1]);
        assert!(fire(&mut r, "/", event).is_empty());
        assert!(
            fire(&mut r, "/ab", event).is_empty(),
            "a sibling sharing a prefix"
        );
        assert!(fire(&mut r, "/b/a", event).is_empty());
    }
    assert!(fire(&mut r, "/a", NodeChildrenChanged).is_empty());
    assert!(fire(&mut r, "/a/b", NodeChildrenChanged).is_empty());
    assert!(r.contains("/a", PersistentRecursive, 1));
    // Data table only.
    assert_eq!(r.summary(WatchScope::Child).watches, 0);
    assert_eq!(r.summary(WatchScope::Data).watches, 1);
}

#[test]
fn recursive_watch_on_root_sees_everything() {
    let mut r = reg();
    r.add("/", PersistentRecursive, 9);
    assert_eq!(fire(&mut r, "/", NodeDataChanged), vec![9]);
    assert_eq!(fire(&mut r, "/x", NodeCreated), vec![9]);
    assert_eq!(fire(&mut r, "/x/y/z", NodeDeleted), vec![9]);
    assert!(fire(&mut r, "/", NodeChildrenChanged).is_empty());
}

#[test]
fn one_trigger_notifies_a_watcher_once_across_paths() {
    let mut r = reg();
    r.add("/", PersistentRecursive, 1);
    r.add("/a", PersistentRecursive, 1);
    r.add("/a/b", Data, 1);
    r.add("/a/b", Child, 1);
    r.add("/a", PersistentRecursive, 2);
    r.add("/a/b", Persistent, 3);
    assert_eq!(fire(&mut r, "/a/b", NodeDeleted), vec![1, 2, 3]);
    // The one-shot watches on /a/b were consumed, the ancestors' recursive ones stay.
    assert_eq!(r.kinds("/a/b", 1), Vec::<WatchKind>::new());
    assert_eq!(r.kinds("/a/b", 3), vec![Persistent]);
    assert_eq!(fire(&mut r, "/a/b", NodeDataChanged), vec![1, 2, 3]);
}

#[test]
fn other_event_types_reach_nothing() {
    let mut r = reg();
    for kind in WatchKind::ALL {
        r.add("/a", kind, 1);
    }
    for event in [
        EventType::None,
        EventType::DataWatchRemoved,
        EventType::ChildWatchRemoved,
        EventType::PersistentWatchRemoved,
    ] {
        assert!(fire(&mut r, "/a", event).is_empty());
    }
    assert_eq!(r.kinds("/a", 1), WatchKind::ALL.to_vec());
}

#[test]
fn contains_and_remove_follow_datatree() {
    let mut r = reg();
    r.add("/a", Persistent, 1);
    assert!(r.contains("/a", Persistent, 1));
    assert!(r.contains("/a", WatcherType::Persistent, 1));
    assert!(r.contains("/a", WatchFilter::Any, 1));
    // checkWatches(Data) looks for the one-shot data watch only.
    assert!(!r.contains("/a", Data, 1));
    assert!(!r.contains("/a", WatcherType::Children, 1));
    assert!(!r.remove("/a", Data, 1));
    assert!(!r.remove("/a", PersistentRecursive, 1));
    assert!(!r.remove("/a", Persistent, 2));
    assert!(!r.remove("/b", Persistent, 1));
    // removeWatches(Persistent) takes it out of both tables.
    assert!(r.remove("/a", WatcherType::Persistent, 1));
    assert!(r.is_empty());

    for kind in WatchKind::ALL {
        r.add("/a", kind, 1);
    }
    assert!(r.remove("/a", WatcherType::Data, 1));
    assert_eq!(
        r.kinds("/a", 1),
        vec![Child, Persistent, PersistentRecursive]
    );
    assert!(r.remove("/a", WatcherType::PersistentRecursive, 1));
    assert!(r.remove("/a", WatcherType::Children, 1));
    assert_eq!(r.kinds("/a", 1), vec![Persistent]);
    r.add("/a", Data, 1);
    assert!(r.remove("/a", WatcherType::Any, 1));
    assert!(!r.remove("/a", WatcherType::Any, 1));
    assert!(r.is_empty());
    r.assert_consistent();
}

#[test]
fn check_and_remove_checked_give_no_watcher() {
    let mut r = reg();
    r.add("/a", Child, 1);
    assert_eq!(r.check("/a", WatcherType::Children, 1), Ok(()));
    let err = r.check("/a", WatcherType::Data, 1).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NoWatcher);
    assert_eq!(err.to_string(), "no such watcher for /a (type: Data)");
    assert_eq!(r.remove_checked("/a", WatcherType::Children, 1), Ok(()));
    let err = r.remove_checked("/a", WatcherType::Any, 1).unwrap_err();
    assert_eq!(
        err,
        WatchError::NoWatcher {
            path: "/a".into(),
            filter: WatchFilter::Any
        }
    );
    assert_eq!(err.to_string(), "no such watcher for /a (type: Any)");
}

#[test]
fn conversions_from_wire_codes() {
    assert_eq!(WatchKind::from(AddWatchMode::Persistent), Persistent);
    assert_eq!(
        WatchKind::from(AddWatchMode::PersistentRecursive),
        PersistentRecursive
    );
    assert_eq!(
        WatchFilter::from(WatcherType::Children),
        WatchFilter::Kind(Child)
    );
    assert_eq!(WatchFilter::from(WatcherType::Any).to_string(), "Any");
    assert_eq!(
        WatchFilter::from(WatcherType::Children).to_string(),
        "Children"
    );
    assert!(Persistent.is_persistent() && PersistentRecursive.is_persistent());
    assert!(!Data.is_persistent() && !Child.is_persistent());
}

#[test]
fn remove_watcher_cleans_every_table_and_frees_paths() {
    let mut r = reg();
    r.add("/a", Data, 1);
    r.add("/a", Child, 1);
    r.add("/b", Persistent, 1);
    r.add("/c", PersistentRecursive, 1);
    r.add("/a", Data, 2);
    assert_eq!(r.remove_watcher(1), 3);
    r.assert_consistent();
    assert_eq!(r.remove_watcher(1), 0);
    assert_eq!(
        r.summary(WatchScope::All),
        WatchSummary {
            watchers: 1,
            paths: 1,
            watches: 1
        }
    );
    assert_eq!(r.dump_by_path(WatchScope::All), vec![("/a", vec![2])]);
    // The recursive watch is gone: nothing walks up any more.
    assert!(fire(&mut r, "/c/d", NodeCreated).is_empty());
    assert_eq!(r.remove_watcher(2), 1);
    assert!(r.is_empty());
    assert_eq!(r.summary(WatchScope::Data), WatchSummary::default());
    assert_eq!(r.summary(WatchScope::Child), WatchSummary::default());
    r.assert_consistent();
}

#[test]
fn freed_path_ids_are_reused_and_shrunk() {
    let mut r = reg();
    for i in 0..100u64 {
        r.add(&format!("/n{i}"), Data, i % 7);
    }
    for w in 0..7 {
        r.remove_watcher(w);
    }
    r.assert_consistent();
    assert_eq!(r.names.len(), 100);
    r.add("/again", Data, 1);
    assert_eq!(r.names.len(), 100, "a free id is reused");
    r.assert_consistent();
    r.remove_watcher(1);
    r.shrink_to_fit();
    assert!(r.names.is_empty() && r.free.is_empty());
    r.add("/z", Child, 1);
    r.assert_consistent();
}

#[test]
fn counts_per_scope_as_wchs() {
    let mut r = reg();
    r.add("/a", Data, 1);
    r.add("/a", Child, 1);
    r.add("/b", Data, 1);
    r.add("/b", Data, 2);
    r.add("/c", Child, 3);
    r.add("/d", Persistent, 4);
    r.add("/e", PersistentRecursive, 5);
    r.add("/e", Data, 5);
    r.assert_consistent();
    assert_eq!(
        r.summary(WatchScope::Data),
        WatchSummary {
            watchers: 4,
            paths: 4,
            watches: 5
        }
    );
    assert_eq!(
        r.summary(WatchScope::Child),
        WatchSummary {
            watchers: 3,
            paths: 3,
            watches: 3
        }
    );
    assert_eq!(
        r.summary(WatchScope::All),
        WatchSummary {
            watchers: 5,
            paths: 5,
            watches: 8
        }
    );
}

#[test]
fn dumps_are_sorted_and_scoped() {
    let mut r = reg();
    r.add("/z", Data, 2);
    r.add("/a", Child, 2);
    r.add("/m", Data, 1);
    r.add("/a", Data, 3);
    r.add("/a", Data, 1);
    r.add("/p", Persistent, 3);
    assert_eq!(
        r.dump_by_watcher(WatchScope::Data),
        vec![
            (1, vec!["/a", "/m"]),
            (2, vec!["/z"]),
            (3, vec!["/a", "/p"])
        ]
    );
    assert_eq!(
        r.dump_by_watcher(WatchScope::Child),
        vec![(2, vec!["/a"]), (3, vec!["/p"])]
    );
    assert_eq!(
        r.dump_by_path(WatchScope::Data),
        vec![
            ("/a", vec![1, 3]),
            ("/m", vec![1]),
            ("/p", vec![3]),
            ("/z", vec![2])
        ]
    );
    assert_eq!(
        r.dump_by_path(WatchScope::All),
        vec![
            ("/a", vec![1, 2, 3]),
            ("/m", vec![1]),
            ("/p", vec![3]),
            ("/z", vec![2])
        ]
    );
    assert_eq!(
        r.dump_by_path(WatchScope::Child),
        vec![("/a", vec![2]), ("/p", vec![3])]
    );
}

#[test]
fn many_watchers_on_one_path() {
    let mut r = reg();
    for w in (0..1000u64).rev() {
        r.add("/config", Data, w);
        if w % 2 == 0 {
            r.add("/config", Child, w);
        }
    }
    r.add("/config", PersistentRecursive, 5000);
    r.assert_consistent();
    let all: Vec<u64> = (0..1000).chain([5000]).collect();
    assert_eq!(fire(&mut r, "/config", NodeDataChanged), all);
    assert_eq!(r.summary(WatchScope::All).watchers, 501);
    let evens: Vec<u64> = (0..1000).step_by(2).collect();
    assert_eq!(fire(&mut r, "/config", NodeChildrenChanged), evens);
    assert_eq!(fire(&mut r, "/config/x", NodeCreated), vec![5000]);
    assert_eq!(r.summary(WatchScope::All).watchers, 1);
}

#[test]
fn generic_over_the_watcher_id() {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    struct Conn(u32);
    let mut r: WatchRegistry<Conn> = WatchRegistry::default();
    r.add("/a", Data, Conn(2));
    r.add("/a", Data, Conn(1));
    assert_eq!(r.trigger("/a", NodeDeleted), vec![Conn(1), Conn(2)]);
}
