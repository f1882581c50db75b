//! Barriers (Curator's `DistributedBarrier` and `DistributedDoubleBarrier`, kazoo's `Barrier`
//! and `DoubleBarrier`).
//!
//! A [`Barrier`] is a node: while it exists, [`Barrier::wait`] blocks; removing it releases
//! every waiter. A [`DoubleBarrier`] lets `n` participants start together ([`DoubleBarrier::enter`]
//! returns once `n` have entered) and finish together ([`DoubleBarrier::leave`] returns once
//! all have left).
//!
//! Connection loss and expiry: waits survive a lost connection (the watch is re-registered
//! and fires for changes made meanwhile; calls are retried after reconnecting). Expiry fails
//! the wait with `SessionExpired`; a double-barrier participant's node is ephemeral, so an
//! expired participant counts as having left (it can no longer hold the others at `leave`).

use std::time::Duration;

use bytes::Bytes;
use corral_jute::codes::{CreateMode, ErrorCode};
use tokio::time::Instant;

use super::{ensure_path, retry};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::types::Watch;

/// A barrier node.
#[derive(Debug, Clone)]
pub struct Barrier {
    client: Client,
    path: String,
}

impl Barrier {
    /// The barrier at `path`.
    pub fn new(client: &Client, path: &str) -> Barrier {
        Barrier {
            client: client.clone(),
            path: path.to_string(),
        }
    }

    /// Raises the barrier (creates the node; already raised is fine).
    pub async fn create(&self) -> Result<()> {
        ensure_path(&self.client, &self.path).await
    }

    /// Lowers the barrier, releasing every waiter (already lowered is fine).
    pub async fn remove(&self) -> Result<()> {
        match retry(&self.client, || self.client.delete(&self.path, None)).await {
            Err(e) if e.is(ErrorCode::NoNode) => Ok(()),
            other => other,
        }
    }

    /// Waits until the barrier is lowered; `Ok(false)` if `timeout` passed first.
    pub async fn wait(&self, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            let (stat, watch) = retry(&self.client, || self.client.exists_w(&self.path)).await?;
            if stat.is_none() {
                return Ok(true);
            }
            if !wait_until(watch, deadline).await? {
                return Ok(false);
            }
        }
    }
}

/// Awaits a watch until `deadline`: `Ok(false)` on timeout.
async fn wait_until(watch: Watch, deadline: Instant) -> Result<bool> {
    match tokio::time::timeout_at(deadline, watch).await {
        Ok(ev) => ev.map(|_| true),
        Err(_) => Ok(false),
    }
}

const READY: &str = "ready";

/// A double barrier for `count` participants.
#[derive(Debug)]
pub struct DoubleBarrier {
    client: Client,
    dir: String,
    id: String,
    count: usize,
}

impl DoubleBarrier {
    /// Participant `id` (unique among them) of the double barrier at `path` for `count`
    /// participants.
    pub fn new(client: &Client, path: &str, id: &str, count: usize) -> DoubleBarrier {
        DoubleBarrier {
            client: client.clone(),
            dir: path.trim_end_matches('/').to_string(),
            id: id.to_string(),
            count,
        }
    }

    fn participants(kids: &[String]) -> usize {
        kids.iter().filter(|k| k.as_str() != READY).count()
    }

    /// Enters and waits until `count` participants have entered; `Ok(false)` on timeout (the
    /// participant then leaves again).
    pub async fn enter(&self, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        let c = &self.client;
        ensure_path(c, &self.dir).await?;
        let ready = format!("{}/{READY}", self.dir);
        let me = format!("{}/{}", self.dir, self.id);
        // Watch the ready node first, so that its creation cannot be missed.
        let (mut ready_stat, mut ready_watch) = retry(c, || c.exists_w(&ready)).await?;
        retry(c, || async {
            match c.create(&me, Bytes::new(), CreateMode::Ephemeral).await {
                Err(e) if e.is(ErrorCode::NodeExists) => Ok(String::new()),
                other => other,
            }
        })
        .await?;
        loop {
            if ready_stat.is_some() {
                return Ok(true);
            }
            let kids = retry(c, || c.get_children(&self.dir)).await?;
            if Self::participants(&kids) >= self.count {
                retry(c, || async {
                    match c.create(&ready, Bytes::new(), CreateMode::Persistent).await {
                        Err(e) if e.is(ErrorCode::NodeExists) => Ok(String::new()),
                        other => other,
                    }
                })
                .await?;
                return Ok(true);
            }
            if !wait_until(ready_watch, deadline).await? {
                let _ = self.leave_node().await;
                return Ok(false);
            }
            (ready_stat, ready_watch) = retry(c, || c.exists_w(&ready)).await?;
        }
    }

    async fn leave_node(&self) -> Result<()> {
        let me = format!("{}/{}", self.dir, self.id);
        match retry(&self.client, || self.client.delete(&me, None)).await {
            Err(e) if e.is(ErrorCode::NoNode) => Ok(()),
            other => other,
        }
    }

    /// Leaves and waits until every participant has left; `Ok(false)` on timeout.
    pub async fn leave(&self, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        let c = &self.client;
        self.leave_node().await?;
        loop {
            let (kids, watch) = match retry(c, || c.get_children_w(&self.dir)).await {
                Ok(v) => v,
                Err(e) if e.is(ErrorCode::NoNode) => return Ok(true),
                Err(e) => return Err(e),
            };
            if Self::participants(&kids) == 0 {
                // The last one out clears the ready flag for the next round.
                let ready = format!("{}/{READY}", self.dir);
                match c.delete(&ready, None).await {
                    Ok(()) | Err(Error::Api { .. }) => {}
                    Err(e) => return Err(e),
                }
                return Ok(true);
            }
            if !wait_until(watch, deadline).await? {
                return Ok(false);
            }
        }
    }
}
