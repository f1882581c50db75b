//! Leader election as a latch (Curator's `LeaderLatch`, kazoo's `Election`).
//!
//! Every participant creates an ephemeral sequential node under the election path, with its
//! identifier as data; the lowest node is the leader. A participant watches only its
//! predecessor (the leader watches its own node), so a leader's departure wakes exactly one
//! participant: the next in line.
//!
//! Connection loss and expiry, as Curator's `LeaderLatch` handles them:
//! - On `Disconnected` the latch reports leadership lost at once (another participant may be
//!   elected if the session expires meanwhile, and this one cannot know); once reconnected with
//!   the same session it checks again and regains leadership if its node is still first.
//! - On `Expired` the node is gone: the latch reports no leadership and stops. (Curator would
//!   rejoin with the new session; a corral-client `Client` is one session, so rejoin by
//!   starting a new latch on a new client.)
//! - If its node is deleted by someone else while the session lives, the latch rejoins at the
//!   end of the line (Curator's `reset`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use corral_jute::codes::ErrorCode;
use tokio::sync::{oneshot, watch};

use super::{ensure_path, protected_create, retry, sort_by_sequence, wait_connected};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::types::SessionState;

/// A participant in a leader election.
#[derive(Debug)]
pub struct LeaderLatch {
    client: Client,
    dir: String,
    leader: watch::Receiver<bool>,
    node: Arc<Mutex<Option<String>>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl LeaderLatch {
    /// Joins the election at `path` with this identifier (stored as the node's data).
    pub async fn start(client: &Client, path: &str, id: &str) -> Result<LeaderLatch> {
        let dir = path.trim_end_matches('/').to_string();
        ensure_path(client, &dir).await?;
        let name = protected_create(client, &dir, "latch-", Bytes::from(id.to_string())).await?;
        let node = Arc::new(Mutex::new(Some(name)));
        let (tx, rx) = watch::channel(false);
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(run(
            client.clone(),
            dir.clone(),
            Bytes::from(id.to_string()),
            node.clone(),
            tx,
            stop_rx,
        ));
        Ok(LeaderLatch {
            client: client.clone(),
            dir,
            leader: rx,
            node,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }

    /// Whether this participant is the leader now.
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// Waits at most `timeout` to become leader; `Ok(true)` if it is.
    pub async fn wait_leader(&mut self, timeout: Duration) -> Result<bool> {
        let mut rx = self.leader.clone();
        let wait = async move { rx.wait_for(|l| *l).await.map(|_| ()) };
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(_)) => Ok(true),
            Ok(Err(_)) => Err(self.client.state().terminal_error()),
            Err(_) => Ok(false),
        }
    }

    /// Leadership changes (true = leader), for `changed().await` loops.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.leader.clone()
    }

    /// The identifiers of every participant, the leader first.
    pub async fn participants(client: &Client, path: &str) -> Result<Vec<String>> {
        let dir = path.trim_end_matches('/');
        let mut kids = retry(client, || client.get_children(dir)).await?;
        sort_by_sequence(&mut kids);
        let mut out = Vec::new();
        for k in kids {
            match client.get_data(&format!("{dir}/{k}")).await {
                Ok((data, _)) => out.push(String::from_utf8_lossy(&data).into_owned()),
                Err(e) if e.is(ErrorCode::NoNode) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The leader's identifier, if there is a participant.
    pub async fn leader_id(client: &Client, path: &str) -> Result<Option<String>> {
        Ok(LeaderLatch::participants(client, path)
            .await?
            .into_iter()
            .next())
    }

    /// Leaves the election (deletes the node; the next participant takes over).
    pub async fn close(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let node = match self.node.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        if let Some(n) = node {
            let path = format!("{}/{n}", self.dir);
            match retry(&self.client, || self.client.delete(&path, None)).await {
                Ok(()) => {}
                Err(e) if e.is(ErrorCode::NoNode) => {}
                Err(Error::SessionExpired) | Err(Error::Closed) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Drop for LeaderLatch {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn current(node: &Mutex<Option<String>>) -> Option<String> {
    match node.lock() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

fn set_node(node: &Mutex<Option<String>>, v: Option<String>) {
    match node.lock() {
        Ok(mut g) => *g = v,
        Err(p) => *p.into_inner() = v,
    }
}

async fn run(
    client: Client,
    dir: String,
    id: Bytes,
    node: Arc<Mutex<Option<String>>>,
    leader: watch::Sender<bool>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut states = client.state_stream();
    loop {
        let step = async {
            let mine = match current(&node) {
                Some(n) => n,
                None => {
                    let n = protected_create(&client, &dir, "latch-", id.clone()).await?;
                    set_node(&node, Some(n.clone()));
                    n
                }
            };
            let mut kids = client.get_children(&dir).await?;
            sort_by_sequence(&mut kids);
            let Some(me) = kids.iter().position(|k| *k == mine) else {
                set_node(&node, None);
                return Ok::<_, Error>(None);
            };
            let watched = if me == 0 { &kids[0] } else { &kids[me - 1] };
            let (stat, w) = client.exists_w(&format!("{dir}/{watched}")).await?;
            if stat.is_none() {
                return Ok(None);
            }
            let _ = leader.send_replace(me == 0);
            Ok(Some(w))
        };
        let watch = match step.await {
            Ok(Some(w)) => w,
            Ok(None) => continue,
            Err(Error::ConnectionLoss) => {
                let _ = leader.send_replace(false);
                if wait_connected(&client).await.is_err() {
                    break;
                }
                continue;
            }
            Err(e) => {
                tracing::debug!(%e, "leader latch stops");
                break;
            }
        };
        tokio::select! {
            _ = &mut stop => break,
            _ = watch => {}
            s = states.next() => match s {
                Some(SessionState::Disconnected) => {
                    let _ = leader.send_replace(false);
                    if wait_connected(&client).await.is_err() {
                        break;
                    }
                }
                Some(s) if s.is_terminal() => break,
                None => break,
                Some(_) => {}
            },
        }
    }
    let _ = leader.send_replace(false);
}
