//! A shared counter (Curator's `SharedCount` / `DistributedAtomicLong`, kazoo's `Counter`).
//!
//! The value is the node's data as decimal text. [`Counter::add`] reads it with its version
//! and writes the new value with `setData(version)`; a `BadVersion` means someone else won
//! the race, so it reads again (optimistic compare-and-set).
//!
//! Connection loss and expiry: a lost `setData` reply is ambiguous, so after `ConnectionLoss`
//! the counter re-reads and checks whether its own write landed (the version moved by one and
//! the value is the one it wrote) before trying again; an increment is never applied twice by
//! that path, though a concurrent writer producing the same value could make it look applied.
//! Expiry fails the call with `SessionExpired`; the value itself is persistent.

use bytes::Bytes;
use corral_jute::codes::{CreateMode, ErrorCode};

use super::{ensure_path, retry, wait_connected};
use crate::client::Client;
use crate::error::{Error, Result};

/// A counter at a path.
#[derive(Debug, Clone)]
pub struct Counter {
    client: Client,
    path: String,
}

fn parse(data: &[u8]) -> Result<i64> {
    if data.is_empty() {
        return Ok(0);
    }
    std::str::from_utf8(data)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| Error::InvalidArgument("counter node does not hold an integer".into()))
}

impl Counter {
    /// The counter stored at `path` (created as 0 on first use).
    pub fn new(client: &Client, path: &str) -> Counter {
        Counter {
            client: client.clone(),
            path: path.to_string(),
        }
    }

    async fn read(&self) -> Result<(i64, i32)> {
        let c = &self.client;
        loop {
            match retry(c, || c.get_data(&self.path)).await {
                Ok((data, stat)) => return Ok((parse(&data)?, stat.version)),
                Err(e) if e.is(ErrorCode::NoNode) => {
                    if let Some(parent) = self.path.rsplit_once('/').map(|p| p.0) {
                        if !parent.is_empty() {
                            ensure_path(c, parent).await?;
                        }
                    }
                    match retry(c, || c.create(&self.path, "0", CreateMode::Persistent)).await {
                        Ok(_) => {}
                        Err(e) if e.is(ErrorCode::NodeExists) => {}
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The current value.
    pub async fn get(&self) -> Result<i64> {
        Ok(self.read().await?.0)
    }

    /// Adds `delta` atomically; returns the new value.
    pub async fn add(&self, delta: i64) -> Result<i64> {
        let (mut value, mut version) = self.read().await?;
        loop {
            let new = value
                .checked_add(delta)
                .ok_or_else(|| Error::InvalidArgument("counter overflow".into()))?;
            let text = Bytes::from(new.to_string());
            match self
                .client
                .set_data(&self.path, text.clone(), Some(version))
                .await
            {
                Ok(_) => return Ok(new),
                Err(e) if e.is(ErrorCode::BadVersion) => {
                    (value, version) = self.read().await?;
                }
                Err(Error::ConnectionLoss) => {
                    wait_connected(&self.client).await?;
                    let (now, now_version) = self.read().await?;
                    if now_version == version + 1 && now == new {
                        return Ok(new);
                    }
                    (value, version) = (now, now_version);
                }
                Err(e) => return Err(e),
            }
        }
    }
}
