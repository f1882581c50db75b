//! A local copy of a subtree kept current by one persistent recursive watch (Curator's
//! `CuratorCache`, which replaced `TreeCache` for ZooKeeper 3.6+).
//!
//! The cache sets the watch first, then reads the subtree, then applies events: a created or
//! changed node is read again, a deleted node is dropped with its descendants. Every read
//! stores the latest Stat, and an older read never replaces a newer one (`mzxid` order), so
//! the order of events and reads cannot make the copy go backwards.
//!
//! Connection loss and expiry: a persistent watch survives a reconnect, but the server does
//! not replay what changed while the client was away, so after every reconnect the cache
//! reads the whole subtree again (as Curator's cache does). On expiry the cache stops updating
//! and [`TreeCache::is_running`] turns false; its last contents stay readable.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use corral_jute::codes::{AddWatchMode, ErrorCode, EventType};
use tokio::sync::watch;

use super::wait_connected;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::types::{PersistentWatch, SessionState, StateStream};
use crate::Stat;

type Nodes = BTreeMap<String, (Bytes, Stat)>;

/// A cached subtree.
#[derive(Debug)]
pub struct TreeCache {
    nodes: Arc<Mutex<Nodes>>,
    version: watch::Receiver<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl TreeCache {
    /// Starts caching the subtree at `root`; returns once the first full read is done.
    pub async fn start(client: &Client, root: &str) -> Result<TreeCache> {
        let root = root.to_string();
        let states = client.state_stream();
        let events = client
            .add_watch(&root, AddWatchMode::PersistentRecursive)
            .await?;
        let nodes = Arc::new(Mutex::new(Nodes::new()));
        reload(client, &root, &nodes).await?;
        let (tx, rx) = watch::channel(0);
        let task = tokio::spawn(run(client.clone(), root, nodes.clone(), tx, events, states));
        Ok(TreeCache {
            nodes,
            version: rx,
            task,
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Nodes) -> T) -> T {
        match self.nodes.lock() {
            Ok(g) => f(&g),
            Err(p) => f(&p.into_inner()),
        }
    }

    /// The cached data and Stat of `path`.
    pub fn get(&self, path: &str) -> Option<(Bytes, Stat)> {
        self.with(|n| n.get(path).cloned())
    }

    /// Every cached path, sorted.
    pub fn paths(&self) -> Vec<String> {
        self.with(|n| n.keys().cloned().collect())
    }

    /// A receiver notified after every change applied to the cache.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.clone()
    }

    /// Whether the cache is still kept current.
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }
}

impl Drop for TreeCache {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(nodes: &Mutex<Nodes>) -> std::sync::MutexGuard<'_, Nodes> {
    match nodes.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Stores a read unless the cache already holds a newer one.
fn store(nodes: &Mutex<Nodes>, path: &str, data: Bytes, stat: Stat) {
    let mut n = lock(nodes);
    let newer = n.get(path).is_some_and(|(_, s)| s.mzxid > stat.mzxid);
    if !newer {
        n.insert(path.to_string(), (data, stat));
    }
}

fn remove_subtree(nodes: &Mutex<Nodes>, path: &str) {
    let mut n = lock(nodes);
    let prefix = if path == "/" {
        "/".to_string()
    } else {
        format!("{path}/")
    };
    n.retain(|k, _| k != path && !k.starts_with(&prefix));
}

fn child_path(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// Reads the whole subtree and replaces the cache's contents with it.
async fn reload(client: &Client, root: &str, nodes: &Mutex<Nodes>) -> Result<()> {
    let mut fresh = Nodes::new();
    let mut todo = vec![root.to_string()];
    while let Some(path) = todo.pop() {
        let (data, stat) = match client.get_data(&path).await {
            Ok(v) => v,
            Err(e) if e.is(ErrorCode::NoNode) => continue,
            Err(e) => return Err(e),
        };
        if stat.num_children > 0 {
            match client.get_children(&path).await {
                Ok(kids) => todo.extend(kids.iter().map(|k| child_path(&path, k))),
                Err(e) if e.is(ErrorCode::NoNode) => continue,
                Err(e) => return Err(e),
            }
        }
        fresh.insert(path, (data, stat));
    }
    *lock(nodes) = fresh;
    Ok(())
}

async fn run(
    client: Client,
    root: String,
    nodes: Arc<Mutex<Nodes>>,
    version: watch::Sender<u64>,
    mut events: PersistentWatch,
    mut states: StateStream,
) {
    let bump = |v: &watch::Sender<u64>| v.send_modify(|n| *n += 1);
    loop {
        tokio::select! {
            ev = events.next() => {
                let Some(ev) = ev else { return };
                let result = match ev.event_type {
                    EventType::NodeCreated | EventType::NodeDataChanged => {
                        match client.get_data(&ev.path).await {
                            Ok((data, stat)) => {
                                store(&nodes, &ev.path, data, stat);
                                Ok(())
                            }
                            Err(e) if e.is(ErrorCode::NoNode) => Ok(()),
                            Err(e) => Err(e),
                        }
                    }
                    EventType::NodeDeleted => {
                        remove_subtree(&nodes, &ev.path);
                        Ok(())
                    }
                    _ => Ok(()),
                };
                match result {
                    Ok(()) => bump(&version),
                    Err(Error::ConnectionLoss) => {
                        // The reload after the reconnect catches up.
                    }
                    Err(_) => return,
                }
            }
            s = states.next() => match s {
                Some(SessionState::SyncConnected) => loop {
                    match reload(&client, &root, &nodes).await {
                        Ok(()) => {
                            bump(&version);
                            break;
                        }
                        Err(Error::ConnectionLoss) => {
                            if wait_connected(&client).await.is_err() {
                                return;
                            }
                        }
                        Err(_) => return,
                    }
                },
                Some(s) if s.is_terminal() => return,
                None => return,
                Some(_) => {}
            },
        }
    }
}
