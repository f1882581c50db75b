//! The client's side of watches, as ZooKeeper's `ZKWatchManager` keeps them: which local
//! watchers wait on which path, how a server notification is routed to them, and the lists
//! re-registered with `setWatches2` after a reconnect.
//!
//! Paths here are client paths (the chroot stripped). Everything is driven by the connection
//! task, so events reach watchers in the order the server sent them, and before the reply of
//! any later request.

use std::collections::HashMap;

use corral_jute::codes::{ErrorCode, EventType, KeeperState, WatcherType};
use corral_jute::records::SetWatches2;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::types::WatchedEvent;

pub(crate) type OneShotTx = oneshot::Sender<Result<WatchedEvent>>;
pub(crate) type PersistentTx = mpsc::UnboundedSender<WatchedEvent>;

/// A watch a request wants registered when its reply comes back.
#[derive(Debug)]
pub(crate) enum WatchReg {
    /// getData / getChildren-free data watch: registered on success.
    Data(String, OneShotTx),
    /// exists: a data watch on success, an exist watch on NoNode.
    Exist(String, OneShotTx),
    /// getChildren / getChildren2: registered on success.
    Child(String, OneShotTx),
    /// addWatch PERSISTENT.
    Persistent(String, PersistentTx),
    /// addWatch PERSISTENT_RECURSIVE.
    Recursive(String, PersistentTx),
}

#[derive(Debug, Default)]
pub(crate) struct WatchRegistry {
    data: HashMap<String, Vec<OneShotTx>>,
    exist: HashMap<String, Vec<OneShotTx>>,
    child: HashMap<String, Vec<OneShotTx>>,
    persistent: HashMap<String, Vec<PersistentTx>>,
    recursive: HashMap<String, Vec<PersistentTx>>,
}

impl WatchRegistry {
    /// Registers `reg` according to the reply's error code.
    pub(crate) fn register(&mut self, reg: WatchReg, err: i32) {
        let ok = err == 0;
        match reg {
            WatchReg::Data(p, tx) if ok => self.data.entry(p).or_default().push(tx),
            WatchReg::Exist(p, tx) if ok => self.data.entry(p).or_default().push(tx),
            WatchReg::Exist(p, tx) if err == ErrorCode::NoNode.code() => {
                self.exist.entry(p).or_default().push(tx)
            }
            WatchReg::Child(p, tx) if ok => self.child.entry(p).or_default().push(tx),
            WatchReg::Persistent(p, tx) if ok => self.persistent.entry(p).or_default().push(tx),
            WatchReg::Recursive(p, tx) if ok => self.recursive.entry(p).or_default().push(tx),
            _ => {}
        }
    }

    /// Delivers a node event to every local watcher it concerns (`ZKWatchManager.materialize`).
    pub(crate) fn deliver(&mut self, event: WatchedEvent) {
        let path = event.path.clone();
        let mut one_shots = Vec::new();
        match event.event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                one_shots.extend(self.data.remove(&path).unwrap_or_default());
                one_shots.extend(self.exist.remove(&path).unwrap_or_default());
            }
            EventType::NodeDeleted => {
                one_shots.extend(self.data.remove(&path).unwrap_or_default());
                one_shots.extend(self.exist.remove(&path).unwrap_or_default());
                one_shots.extend(self.child.remove(&path).unwrap_or_default());
            }
            EventType::NodeChildrenChanged => {
                one_shots.extend(self.child.remove(&path).unwrap_or_default());
            }
            _ => {}
        }
        for tx in one_shots {
            let _ = tx.send(Ok(event.clone()));
        }
        send_all(&mut self.persistent, &path, &event);
        if event.event_type != EventType::NodeChildrenChanged {
            for ancestor in ancestors(&path) {
                send_all(&mut self.recursive, ancestor, &event);
            }
        }
    }

    /// Drops the local watchers a successful removeWatches removed, telling each with a
    /// `*WatchRemoved` event.
    pub(crate) fn remove(&mut self, path: &str, kind: WatcherType) {
        let removed = |event_type| WatchedEvent {
            event_type,
            state: KeeperState::SyncConnected,
            path: path.to_string(),
        };
        let data = matches!(kind, WatcherType::Data | WatcherType::Any);
        let child = matches!(kind, WatcherType::Children | WatcherType::Any);
        let persistent = matches!(kind, WatcherType::Persistent | WatcherType::Any);
        let recursive = matches!(kind, WatcherType::PersistentRecursive | WatcherType::Any);
        if data {
            let mut txs = self.data.remove(path).unwrap_or_default();
            txs.extend(self.exist.remove(path).unwrap_or_default());
            for tx in txs {
                let _ = tx.send(Ok(removed(EventType::DataWatchRemoved)));
            }
        }
        if child {
            for tx in self.child.remove(path).unwrap_or_default() {
                let _ = tx.send(Ok(removed(EventType::ChildWatchRemoved)));
            }
        }
        let mut gone = Vec::new();
        if persistent {
            gone.extend(self.persistent.remove(path).unwrap_or_default());
        }
        if recursive {
            gone.extend(self.recursive.remove(path).unwrap_or_default());
        }
        for tx in gone {
            let _ = tx.send(removed(EventType::PersistentWatchRemoved));
        }
    }

    /// Whether there is nothing to re-register.
    pub(crate) fn is_empty(&mut self) -> bool {
        self.prune();
        self.data.is_empty()
            && self.exist.is_empty()
            && self.child.is_empty()
            && self.persistent.is_empty()
            && self.recursive.is_empty()
    }

    /// The setWatches2 records that re-register every live watch, split so that no record
    /// exceeds about 128 KiB of paths (as ZooKeeper's client does).
    pub(crate) fn set_watches(
        &mut self,
        last_zxid: i64,
        to_server: impl Fn(&str) -> String,
    ) -> Vec<SetWatches2> {
        const LIMIT: usize = 128 * 1024;
        self.prune();
        let mut out = Vec::new();
        let mut cur = SetWatches2 {
            relative_zxid: last_zxid,
            ..Default::default()
        };
        let mut size = 0;
        let lists: [(u8, Vec<&String>); 5] = [
            (0, self.data.keys().collect()),
            (1, self.exist.keys().collect()),
            (2, self.child.keys().collect()),
            (3, self.persistent.keys().collect()),
            (4, self.recursive.keys().collect()),
        ];
        for (which, paths) in lists {
            for p in paths {
                let sp = to_server(p);
                if size + sp.len() > LIMIT && size > 0 {
                    out.push(std::mem::replace(
                        &mut cur,
                        SetWatches2 {
                            relative_zxid: last_zxid,
                            ..Default::default()
                        },
                    ));
                    size = 0;
                }
                size += sp.len() + 4;
                match which {
                    0 => cur.data_watches.push(sp),
                    1 => cur.exist_watches.push(sp),
                    2 => cur.child_watches.push(sp),
                    3 => cur.persistent_watches.push(sp),
                    _ => cur.persistent_recursive_watches.push(sp),
                }
            }
        }
        if size > 0 {
            out.push(cur);
        }
        out
    }

    /// Ends every watch with `err` (one-shot watches) or by closing the stream (persistent).
    pub(crate) fn fail_all(&mut self, err: &Error) {
        for (_, txs) in self
            .data
            .drain()
            .chain(self.exist.drain())
            .chain(self.child.drain())
        {
            for tx in txs {
                let _ = tx.send(Err(err.clone()));
            }
        }
        self.persistent.clear();
        self.recursive.clear();
    }

    /// Forgets watchers nobody listens to any more.
    fn prune(&mut self) {
        for map in [&mut self.data, &mut self.exist, &mut self.child] {
            map.retain(|_, txs| {
                txs.retain(|tx| !tx.is_closed());
                !txs.is_empty()
            });
        }
        for map in [&mut self.persistent, &mut self.recursive] {
            map.retain(|_, txs| {
                txs.retain(|tx| !tx.is_closed());
                !txs.is_empty()
            });
        }
    }
}

fn send_all(map: &mut HashMap<String, Vec<PersistentTx>>, path: &str, event: &WatchedEvent) {
    if let Some(txs) = map.get_mut(path) {
        txs.retain(|tx| tx.send(event.clone()).is_ok());
        if txs.is_empty() {
            map.remove(path);
        }
    }
}

/// `/a/b` yields `/a/b`, `/a`, `/`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(path);
    std::iter::from_fn(move || {
        let cur = next?;
        next = match cur.rfind('/') {
            _ if cur == "/" => None,
            Some(0) => Some("/"),
            Some(i) => Some(&cur[..i]),
            None => None,
        };
        Some(cur)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: EventType, p: &str) -> WatchedEvent {
        WatchedEvent {
            event_type: t,
            state: KeeperState::SyncConnected,
            path: p.into(),
        }
    }

    #[test]
    fn ancestors_walk_up_to_root() {
        assert_eq!(ancestors("/a/b").collect::<Vec<_>>(), ["/a/b", "/a", "/"]);
        assert_eq!(ancestors("/").collect::<Vec<_>>(), ["/"]);
    }

    #[test]
    fn routing_follows_zkwatchmanager() {
        let mut reg = WatchRegistry::default();
        let (d, mut drx) = oneshot::channel();
        let (e, mut erx) = oneshot::channel();
        let (c, mut crx) = oneshot::channel();
        let (r, mut rrx) = mpsc::unbounded_channel();
        reg.register(WatchReg::Data("/a".into(), d), 0);
        reg.register(WatchReg::Exist("/b".into(), e), ErrorCode::NoNode.code());
        reg.register(WatchReg::Child("/a".into(), c), 0);
        reg.register(WatchReg::Recursive("/".into(), r), 0);
        reg.deliver(ev(EventType::NodeChildrenChanged, "/a"));
        assert!(crx.try_recv().is_ok());
        assert!(drx.try_recv().is_err());
        assert!(
            rrx.try_recv().is_err(),
            "recursive watches skip child events"
        );
        reg.deliver(ev(EventType::NodeCreated, "/b"));
        assert!(erx.try_recv().is_ok());
        reg.deliver(ev(EventType::NodeDeleted, "/a"));
        assert!(drx.try_recv().is_ok());
        assert_eq!(rrx.try_recv().map(|e| e.path).ok().as_deref(), Some("/b"));
        assert_eq!(rrx.try_recv().map(|e| e.path).ok().as_deref(), Some("/a"));
        let sw = reg.set_watches(7, |p| format!("/root{p}"));
        assert_eq!(sw.len(), 1);
        assert_eq!(
            sw[0].persistent_recursive_watches,
            vec!["/root/".to_string()]
        );
        assert!(sw[0].data_watches.is_empty());
    }
}
