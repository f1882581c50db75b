//! A fair lock and a read-write lock (Curator's `InterProcessMutex` and
//! `InterProcessReadWriteLock`, kazoo's `Lock`, `ReadLock` and `WriteLock`).
//!
//! Each contender creates an ephemeral sequential node under the lock's path; the lowest
//! sequence number holds the lock. A waiter watches only the node just before it (a reader:
//! the nearest writer before it), so a release wakes one waiter, not all of them (no herd
//! effect), and the lock is granted in arrival order (FIFO).
//!
//! Connection loss and expiry, as Curator documents them:
//! - While waiting, `ConnectionLoss` is retried after the client reconnects; the watch on the
//!   predecessor survives the reconnect (setWatches2), and a predecessor deleted meanwhile
//!   fires it.
//! - While holding: a lost connection does not release the lock (the node is ephemeral and the
//!   session may well survive), but the holder cannot be sure it still holds it until the
//!   client reconnects; a careful holder pauses on `Disconnected`.
//! - Session expiry deletes the node: the lock is lost. [`Lock::wait_lost`] resolves,
//!   `acquire` fails with `SessionExpired`, and `release` succeeds (there is nothing left).

use std::time::Duration;

use bytes::Bytes;
use corral_jute::codes::ErrorCode;
use tokio::time::Instant;

use super::{ensure_path, protected_create, retry, sort_by_sequence};
use crate::client::Client;
use crate::error::{Error, Result};

/// What kind of lock a [`Lock`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// Excludes everyone (a plain mutex).
    Exclusive,
    /// Shared with other readers; excludes writers.
    Read,
    /// Excludes readers and writers (same as exclusive).
    Write,
}

impl LockKind {
    fn name(self) -> &'static str {
        match self {
            LockKind::Exclusive => "lock-",
            LockKind::Read => "read-",
            LockKind::Write => "write-",
        }
    }
}

fn is_read(name: &str) -> bool {
    name.contains("read-")
}

/// A distributed lock on a path. Not reentrant; one `Lock` value is one contender.
#[derive(Debug)]
pub struct Lock {
    client: Client,
    dir: String,
    kind: LockKind,
    node: Option<String>,
    held: bool,
}

impl Lock {
    /// An exclusive lock on `path`.
    pub fn new(client: &Client, path: &str) -> Lock {
        Lock::with_kind(client, path, LockKind::Exclusive)
    }

    /// The read side of the read-write lock on `path`.
    pub fn read(client: &Client, path: &str) -> Lock {
        Lock::with_kind(client, path, LockKind::Read)
    }

    /// The write side of the read-write lock on `path`.
    pub fn write(client: &Client, path: &str) -> Lock {
        Lock::with_kind(client, path, LockKind::Write)
    }

    /// A lock of the given kind.
    pub fn with_kind(client: &Client, path: &str, kind: LockKind) -> Lock {
        Lock {
            client: client.clone(),
            dir: path.trim_end_matches('/').to_string(),
            kind,
            node: None,
            held: false,
        }
    }

    /// Whether this contender holds the lock (as far as it knows).
    pub fn is_acquired(&self) -> bool {
        self.held
    }

    /// The full path of this contender's node, once it has one.
    pub fn node_path(&self) -> Option<String> {
        self.node.as_ref().map(|n| format!("{}/{n}", self.dir))
    }

    /// Waits for the lock without a time limit (until the session ends).
    pub async fn acquire(&mut self) -> Result<()> {
        match self.acquire_until(None).await? {
            true => Ok(()),
            false => Err(Error::Timeout("lock")),
        }
    }

    /// Waits at most `timeout` for the lock; `Ok(false)` if it was not granted in time (the
    /// contender's node is then removed, leaving the queue as it was).
    pub async fn try_acquire(&mut self, timeout: Duration) -> Result<bool> {
        self.acquire_until(Some(Instant::now() + timeout)).await
    }

    async fn acquire_until(&mut self, deadline: Option<Instant>) -> Result<bool> {
        if self.held {
            return Ok(true);
        }
        let result = self.contend(deadline).await;
        match &result {
            Ok(true) => self.held = true,
            Ok(false) | Err(Error::ConnectionLoss) | Err(Error::Timeout(_)) => {
                self.delete_node().await?;
            }
            Err(_) => self.node = None,
        }
        result
    }

    async fn contend(&mut self, deadline: Option<Instant>) -> Result<bool> {
        let client = self.client.clone();
        loop {
            let node = match &self.node {
                Some(n) => n.clone(),
                None => {
                    ensure_path(&client, &self.dir).await?;
                    let n = protected_create(&client, &self.dir, self.kind.name(), Bytes::new())
                        .await?;
                    self.node = Some(n.clone());
                    n
                }
            };
            let mut kids = retry(&client, || client.get_children(&self.dir)).await?;
            sort_by_sequence(&mut kids);
            let Some(me) = kids.iter().position(|k| *k == node) else {
                // Our node is gone although the session lives (someone deleted it): queue again.
                self.node = None;
                continue;
            };
            let blocker = match self.kind {
                LockKind::Read => kids[..me].iter().rev().find(|k| !is_read(k)),
                _ => me.checked_sub(1).map(|i| &kids[i]),
            };
            let Some(blocker) = blocker else {
                return Ok(true);
            };
            let path = format!("{}/{blocker}", self.dir);
            let (stat, watch) = retry(&client, || client.exists_w(&path)).await?;
            if stat.is_none() {
                continue;
            }
            match deadline {
                None => {
                    watch.await?;
                }
                Some(d) => match tokio::time::timeout_at(d, watch).await {
                    Ok(event) => {
                        event?;
                    }
                    Err(_) => return Ok(false),
                },
            }
        }
    }

    async fn delete_node(&mut self) -> Result<()> {
        if let Some(node) = self.node.take() {
            let path = format!("{}/{node}", self.dir);
            let client = self.client.clone();
            let r = retry(&client, || async {
                match client.delete(&path, None).await {
                    Err(e) if e.is(ErrorCode::NoNode) => Ok(()),
                    other => other,
                }
            })
            .await;
            match r {
                Ok(()) | Err(Error::SessionExpired) | Err(Error::Closed) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Releases the lock (deletes the node). Succeeds if the session already expired: the
    /// server removed the node then.
    pub async fn release(&mut self) -> Result<()> {
        self.held = false;
        self.delete_node().await
    }

    /// Resolves when the lock is lost: its node is deleted or the session ends. Resolves at
    /// once if the lock is not held.
    pub async fn wait_lost(&self) -> Result<()> {
        let Some(path) = self.node_path().filter(|_| self.held) else {
            return Ok(());
        };
        loop {
            let (stat, watch) = match retry(&self.client, || self.client.exists_w(&path)).await {
                Ok(v) => v,
                Err(Error::SessionExpired) | Err(Error::Closed) | Err(Error::AuthFailed) => {
                    return Ok(())
                }
                Err(e) => return Err(e),
            };
            if stat.is_none() {
                return Ok(());
            }
            match watch.await {
                Ok(ev) if ev.event_type == corral_jute::codes::EventType::NodeDeleted => {
                    return Ok(())
                }
                Ok(_) => continue,
                Err(_) => return Ok(()),
            }
        }
    }
}
