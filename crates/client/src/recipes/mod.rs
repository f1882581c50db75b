//! Recipes built on the client, as kazoo and Curator offer them.
//!
//! | recipe | module | Curator / kazoo counterpart |
//! |---|---|---|
//! | fair lock, read-write lock | [`lock`] | `InterProcessMutex`, `InterProcessReadWriteLock` / `Lock`, `ReadLock`, `WriteLock` |
//! | leader election (latch) | [`election`] | `LeaderLatch` / `Election` |
//! | barrier, double barrier | [`barrier`] | `DistributedBarrier`, `DistributedDoubleBarrier` / `Barrier`, `DoubleBarrier` |
//! | queue | [`queue`] | `DistributedQueue` / `Queue` |
//! | counter | [`counter`] | `SharedCount`, `DistributedAtomicLong` / `Counter` |
//! | service registry and discovery | [`discovery`] | `ServiceDiscovery`, `ServiceCache` |
//! | tree cache | [`tree_cache`] | `CuratorCache` (persistent recursive watch) / `TreeCache` |
//!
//! What happens on connection loss and session expiry is documented on each recipe. The rules
//! they share, as Curator states them: `ConnectionLoss` is not a failure of the recipe (the
//! session, and so every ephemeral node, may still be alive), so recipes retry the step after
//! the client reconnects; `SessionExpired` is final for everything the session owned (locks,
//! leadership, registrations), and the recipe reports it. Ephemeral sequential nodes are
//! created "protected" (their name carries a unique prefix), so that a create whose reply was
//! lost can be found again instead of leaving an orphan that blocks every other waiter.

pub mod barrier;
pub mod counter;
pub mod discovery;
pub mod election;
pub mod lock;
pub mod queue;
pub mod tree_cache;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use corral_jute::codes::{CreateMode, ErrorCode};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::types::SessionState;

/// How many times a recipe step is retried after `ConnectionLoss` before giving up.
const RETRIES: u32 = 50;

/// Creates `path` and its missing ancestors as empty persistent nodes (kazoo's
/// `ensure_path`, Curator's `creatingParentsIfNeeded`).
pub async fn ensure_path(client: &Client, path: &str) -> Result<()> {
    if path == "/" {
        return Ok(());
    }
    let mut cur = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        cur.push('/');
        cur.push_str(part);
        retry(client, || async {
            match client
                .create(&cur, Bytes::new(), CreateMode::Persistent)
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if e.is(ErrorCode::NodeExists) => Ok(()),
                Err(e) => Err(e),
            }
        })
        .await?;
    }
    Ok(())
}

/// Runs `step` again after `ConnectionLoss`, once the client is connected again; any other
/// outcome is returned. Gives up with `ConnectionLoss` after [`RETRIES`] tries.
pub(crate) async fn retry<T, F, Fut>(client: &Client, mut step: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut tries = 0;
    loop {
        match step().await {
            Err(Error::ConnectionLoss) if tries < RETRIES => {
                tries += 1;
                wait_connected(client).await?;
            }
            other => return other,
        }
    }
}

/// Waits until the client is connected; fails with the terminal error if the session ends.
pub(crate) async fn wait_connected(client: &Client) -> Result<()> {
    let s = tokio::time::timeout(
        Duration::from_secs(60),
        client.wait_for_state(|s| s == SessionState::SyncConnected),
    )
    .await
    .map_err(|_| Error::ConnectionLoss)?;
    if s.is_terminal() {
        return Err(s.terminal_error());
    }
    // Let the connection settle a little so that retries do not spin.
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}

static NONCE: AtomicU64 = AtomicU64::new(0);

/// A prefix unique to this create: `_c_<session>-<counter>-`. Curator calls it a protected
/// name; kazoo uses a uuid the same way.
pub(crate) fn protected_prefix(client: &Client) -> String {
    let n = NONCE.fetch_add(1, Ordering::Relaxed);
    format!("_c_{:x}-{:x}-", client.session_id() as u64, n)
}

/// Creates `dir/<protected prefix><name>` ephemeral sequential, finding it again if the reply
/// was lost. Returns the node's name (not the whole path).
pub(crate) async fn protected_create(
    client: &Client,
    dir: &str,
    name: &str,
    data: Bytes,
) -> Result<String> {
    let prefix = protected_prefix(client);
    let path = format!("{dir}/{prefix}{name}");
    let mut tries = 0;
    loop {
        match client
            .create(&path, data.clone(), CreateMode::EphemeralSequential)
            .await
        {
            Ok(created) => {
                return Ok(created.rsplit('/').next().unwrap_or_default().to_string());
            }
            Err(Error::ConnectionLoss) if tries < RETRIES => {
                tries += 1;
                wait_connected(client).await?;
                // Did the create go through before the connection died?
                let kids = retry(client, || client.get_children(dir)).await?;
                if let Some(found) = kids.into_iter().find(|k| k.starts_with(&prefix)) {
                    return Ok(found);
                }
            }
            Err(e) if e.is(ErrorCode::NoNode) => {
                ensure_path(client, dir).await?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The 10-digit sequence suffix of a sequential node's name.
pub(crate) fn sequence(name: &str) -> Option<u64> {
    let tail = name.get(name.len().checked_sub(10)?..)?;
    tail.parse().ok()
}

/// Names sorted by sequence number (names without one last).
pub(crate) fn sort_by_sequence(names: &mut [String]) {
    names.sort_by_key(|n| (sequence(n).unwrap_or(u64::MAX), n.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_sort_numerically_across_prefixes() {
        let mut v = vec![
            "_c_b-1-lock-0000000010".to_string(),
            "_c_a-2-lock-0000000002".to_string(),
            "junk".to_string(),
            "x-0000000001".to_string(),
        ];
        sort_by_sequence(&mut v);
        assert_eq!(
            v,
            [
                "x-0000000001",
                "_c_a-2-lock-0000000002",
                "_c_b-1-lock-0000000010",
                "junk"
            ]
        );
        assert_eq!(sequence("a"), None);
    }
}
