//! A distributed FIFO queue (Curator's `DistributedQueue`, kazoo's `Queue`).
//!
//! [`Queue::put`] creates a persistent sequential node holding the item; [`Queue::take`]
//! reads the lowest one and deletes it, and whoever deletes it owns the item (a consumer that
//! loses the race moves on to the next). An empty queue is waited on with a child watch.
//!
//! Connection loss and expiry: items are persistent, so neither loses any. A `put` whose reply
//! was lost is retried, which may enqueue the item twice (at-least-once, as Curator's queue
//! without a lock); a `take` retried after a loss may skip an item it deleted but never got
//! the reply for (at-most-once for that item). Expiry fails the call with `SessionExpired`.

use std::time::Duration;

use bytes::Bytes;
use corral_jute::codes::{CreateMode, ErrorCode};
use tokio::time::Instant;

use super::{ensure_path, retry, sort_by_sequence};
use crate::client::Client;
use crate::error::Result;

/// A queue at a path.
#[derive(Debug, Clone)]
pub struct Queue {
    client: Client,
    dir: String,
}

impl Queue {
    /// The queue whose items live under `path`.
    pub fn new(client: &Client, path: &str) -> Queue {
        Queue {
            client: client.clone(),
            dir: path.trim_end_matches('/').to_string(),
        }
    }

    /// Appends an item.
    pub async fn put(&self, item: impl Into<Bytes>) -> Result<()> {
        let item = item.into();
        let path = format!("{}/item-", self.dir);
        let c = &self.client;
        let r = retry(c, || {
            c.create(&path, item.clone(), CreateMode::PersistentSequential)
        })
        .await;
        match r {
            Err(e) if e.is(ErrorCode::NoNode) => {
                ensure_path(c, &self.dir).await?;
                retry(c, || {
                    c.create(&path, item.clone(), CreateMode::PersistentSequential)
                })
                .await?;
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }

    /// Takes the oldest item, waiting at most `timeout` for one; `Ok(None)` on timeout.
    pub async fn take(&self, timeout: Duration) -> Result<Option<Bytes>> {
        let deadline = Instant::now() + timeout;
        let c = &self.client;
        ensure_path(c, &self.dir).await?;
        loop {
            let (mut kids, watch) = retry(c, || c.get_children_w(&self.dir)).await?;
            sort_by_sequence(&mut kids);
            for k in kids {
                let path = format!("{}/{k}", self.dir);
                let data = match retry(c, || c.get_data(&path)).await {
                    Ok((data, _)) => data,
                    Err(e) if e.is(ErrorCode::NoNode) => continue,
                    Err(e) => return Err(e),
                };
                match retry(c, || c.delete(&path, None)).await {
                    Ok(()) => return Ok(Some(data)),
                    Err(e) if e.is(ErrorCode::NoNode) => continue,
                    Err(e) => return Err(e),
                }
            }
            match tokio::time::timeout_at(deadline, watch).await {
                Ok(ev) => {
                    ev?;
                }
                Err(_) => return Ok(None),
            }
        }
    }

    /// The number of items waiting.
    pub async fn len(&self) -> Result<usize> {
        match retry(&self.client, || self.client.get_children(&self.dir)).await {
            Ok(k) => Ok(k.len()),
            Err(e) if e.is(ErrorCode::NoNode) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Whether no item is waiting.
    pub async fn is_empty(&self) -> Result<bool> {
        Ok(self.len().await? == 0)
    }
}
