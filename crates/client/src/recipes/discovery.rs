//! Service registry and discovery (Curator's `ServiceDiscovery` and `ServiceCache`).
//!
//! An instance registers as an ephemeral node `base/service/id` whose data is its payload
//! (an address, JSON, ...). A [`ServiceWatcher`] keeps the current list of a service's
//! instances with a child watch, re-armed after every change.
//!
//! Connection loss and expiry: a registration lives as long as the session; after a lost
//! connection it is still there if the client reconnects in time. On expiry the server
//! deletes it and the other watchers see the instance leave. (Curator re-registers with the
//! new session; a corral-client `Client` is one session, so register again through a new
//! client.) A watcher keeps its last list across a lost connection and refreshes it on
//! reconnect (the child watch is re-registered and fires for changes made meanwhile); on
//! expiry of its own session it stops updating and [`ServiceWatcher::is_running`] turns false.

use std::sync::Arc;

use bytes::Bytes;
use corral_jute::codes::{CreateMode, ErrorCode};
use tokio::sync::watch;

use super::{ensure_path, retry, wait_connected};
use crate::client::Client;
use crate::error::{Error, Result};

/// One registered instance of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInstance {
    /// The instance id (its node's name).
    pub id: String,
    /// What the instance published (address, metadata...).
    pub payload: Bytes,
}

/// A registration; dropping it does not unregister (the session's end does).
#[derive(Debug)]
pub struct Registration {
    client: Client,
    path: String,
}

impl Registration {
    /// Registers instance `id` of `service` under `base` with `payload`.
    pub async fn register(
        client: &Client,
        base: &str,
        service: &str,
        id: &str,
        payload: impl Into<Bytes>,
    ) -> Result<Registration> {
        let dir = format!("{}/{service}", base.trim_end_matches('/'));
        ensure_path(client, &dir).await?;
        let path = format!("{dir}/{id}");
        let payload = payload.into();
        let r = retry(client, || {
            client.create(&path, payload.clone(), CreateMode::Ephemeral)
        })
        .await;
        match r {
            Ok(_) => {}
            // Our own create whose reply was lost, or a stale registration of ours.
            Err(e) if e.is(ErrorCode::NodeExists) => {
                let stat = client.exists(&path).await?;
                if stat.map(|s| s.ephemeral_owner) != Some(client.session_id()) {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
        Ok(Registration {
            client: client.clone(),
            path,
        })
    }

    /// Changes the published payload.
    pub async fn update(&self, payload: impl Into<Bytes>) -> Result<()> {
        let payload = payload.into();
        retry(&self.client, || {
            self.client.set_data(&self.path, payload.clone(), None)
        })
        .await
        .map(|_| ())
    }

    /// Unregisters (deletes the node).
    pub async fn unregister(self) -> Result<()> {
        match retry(&self.client, || self.client.delete(&self.path, None)).await {
            Err(e) if e.is(ErrorCode::NoNode) => Ok(()),
            other => other,
        }
    }
}

/// The live list of a service's instances.
#[derive(Debug)]
pub struct ServiceWatcher {
    instances: watch::Receiver<Arc<Vec<ServiceInstance>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ServiceWatcher {
    /// Starts watching `service` under `base`; returns once the first list is loaded.
    pub async fn start(client: &Client, base: &str, service: &str) -> Result<ServiceWatcher> {
        let dir = format!("{}/{service}", base.trim_end_matches('/'));
        ensure_path(client, &dir).await?;
        let (list, w) = load(client, &dir).await?;
        let (tx, rx) = watch::channel(Arc::new(list));
        let task = tokio::spawn(run(client.clone(), dir, tx, w));
        Ok(ServiceWatcher {
            instances: rx,
            task,
        })
    }

    /// The instances now, sorted by id.
    pub fn instances(&self) -> Arc<Vec<ServiceInstance>> {
        self.instances.borrow().clone()
    }

    /// A receiver that is notified on every change of the list.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Vec<ServiceInstance>>> {
        self.instances.clone()
    }

    /// Whether the list is still kept current (false after the session ended).
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }
}

impl Drop for ServiceWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn load(client: &Client, dir: &str) -> Result<(Vec<ServiceInstance>, crate::types::Watch)> {
    let (mut kids, w) = client.get_children_w(dir).await?;
    kids.sort();
    let mut list = Vec::with_capacity(kids.len());
    for id in kids {
        match client.get_data(&format!("{dir}/{id}")).await {
            Ok((payload, _)) => list.push(ServiceInstance { id, payload }),
            Err(e) if e.is(ErrorCode::NoNode) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((list, w))
}

async fn run(
    client: Client,
    dir: String,
    tx: watch::Sender<Arc<Vec<ServiceInstance>>>,
    mut w: crate::types::Watch,
) {
    loop {
        if (&mut w).await.is_err() {
            return;
        }
        loop {
            match load(&client, &dir).await {
                Ok((list, next)) => {
                    tx.send_if_modified(|cur| {
                        if **cur != list {
                            *cur = Arc::new(list);
                            true
                        } else {
                            false
                        }
                    });
                    w = next;
                    break;
                }
                Err(Error::ConnectionLoss) => {
                    if wait_connected(&client).await.is_err() {
                        return;
                    }
                }
                Err(e) if e.is(ErrorCode::NoNode) => {
                    if ensure_path(&client, &dir).await.is_err() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    }
}
