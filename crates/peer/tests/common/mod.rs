//! Helpers: transports on 127.0.0.1 ephemeral ports, bounded waits for events.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use corral_peer::{Backoff, Config, Event, Events, PeerId, PlainTcp, Transport};
use tokio::net::TcpListener;

/// The longest any single wait in these tests may take.
pub const WAIT: Duration = Duration::from_secs(20);

pub struct Node {
    pub id: PeerId,
    pub transport: Transport,
    pub events: Events,
}

/// Binds `n` listeners and returns them with the server list (ids 1..=n).
pub async fn bind(n: u64) -> (Vec<TcpListener>, BTreeMap<PeerId, SocketAddr>) {
    let mut listeners = Vec::new();
    let mut servers = BTreeMap::new();
    for id in 1..=n {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        servers.insert(id, l.local_addr().unwrap());
        listeners.push(l);
    }
    (listeners, servers)
}

/// A config with fast, unjittered backoff.
pub fn config(id: PeerId, servers: &BTreeMap<PeerId, SocketAddr>) -> Config {
    let mut c = Config::new(id, servers.clone());
    c.backoff = Backoff {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(200),
        jitter: Arc::new(|d| d),
    };
    c
}

pub fn start(cfg: Config, listener: TcpListener) -> Node {
    let id = cfg.my_id;
    let (transport, events) = Transport::start_with(cfg, listener, Arc::new(PlainTcp)).unwrap();
    Node {
        id,
        transport,
        events,
    }
}

/// `n` transports, ids 1..=n, all started.
pub async fn cluster(n: u64, tweak: impl Fn(&mut Config)) -> Vec<Node> {
    let (listeners, servers) = bind(n).await;
    listeners
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let mut c = config(i as u64 + 1, &servers);
            tweak(&mut c);
            start(c, l)
        })
        .collect()
}

/// The next event, or a panic after `WAIT`.
pub async fn next(events: &mut Events) -> Event {
    match tokio::time::timeout(WAIT, events.recv()).await {
        Ok(Some(e)) => e,
        Ok(None) => panic!("the transport stopped"),
        Err(_) => panic!("no event within {WAIT:?}"),
    }
}

/// Reads events until `done` says so; returns all of them (bounded in count and time).
pub async fn until(events: &mut Events, mut done: impl FnMut(&Event) -> bool) -> Vec<Event> {
    let mut seen = Vec::new();
    for _ in 0..1_000_000 {
        let e = next(events).await;
        let stop = done(&e);
        seen.push(e);
        if stop {
            return seen;
        }
    }
    panic!(
        "no matching event in a million: {:?}",
        &seen[seen.len().saturating_sub(5)..]
    );
}

/// Waits until the node has read `Connected` of every peer in `peers`; returns what it read.
pub async fn connected_to(node: &mut Node, peers: &[PeerId]) -> Vec<Event> {
    let mut missing: Vec<PeerId> = peers.to_vec();
    let seen = until(&mut node.events, |e| {
        if let Event::Connected(p) = e {
            missing.retain(|m| m != p);
        }
        missing.is_empty()
    })
    .await;
    seen
}

/// Waits until every node has read `Connected` of every other; returns what each read.
pub async fn all_connected(nodes: &mut [Node]) -> Vec<Vec<Event>> {
    let ids: Vec<PeerId> = nodes.iter().map(|n| n.id).collect();
    let mut all = Vec::new();
    for node in nodes.iter_mut() {
        let others: Vec<PeerId> = ids.iter().copied().filter(|p| *p != node.id).collect();
        all.push(connected_to(node, &others).await);
    }
    all
}

/// A frame's payload: its sequence number, then filler.
pub fn payload(seq: u32, len: usize) -> Bytes {
    let mut v = vec![(seq % 251) as u8; len.max(4)];
    v[..4].copy_from_slice(&seq.to_be_bytes());
    Bytes::from(v)
}

pub fn seq_of(b: &Bytes) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Polls `cond` every few milliseconds, at most `WAIT`; panics with `what` if it never holds.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..(WAIT.as_millis() / 5) {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("never happened: {what}");
}

/// Shuts a node down, at most `WAIT`.
pub async fn stop(node: Node) {
    let id = node.id;
    if tokio::time::timeout(WAIT, node.transport.shutdown())
        .await
        .is_err()
    {
        panic!("server {id} did not shut down within {WAIT:?}");
    }
}
