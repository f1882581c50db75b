//! Three runtimes in one process over real corral-peer transports on 127.0.0.1 ephemeral
//! ports (feature `grpc`): they elect a leader, replicate, and survive the leader's
//! shutdown (the two others elect again and keep every committed entry). Every wait is
//! bounded.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use corral_storage::StorageConfig;
use corral_zab::{Config, PeerId, Role, VoterSet};
use corral_zab_runtime::{attach, Runtime, RuntimeConfig};

#[path = "../examples/kv.rs"]
#[allow(dead_code)]
mod kv;
use kv::Kv;

const WAIT: Duration = Duration::from_secs(60);

async fn start(
    id: PeerId,
    servers: &BTreeMap<PeerId, SocketAddr>,
    listener: tokio::net::TcpListener,
    dir: &std::path::Path,
) -> Runtime<Kv> {
    let cfg = corral_peer::Config::new(id, servers.clone());
    let (transport, events) =
        corral_peer::Transport::start_with(cfg, listener, Arc::new(corral_peer::PlainTcp))
            .expect("peer transport");
    let (transport, inbound) = attach(transport, events);
    let config = RuntimeConfig {
        zab: Config {
            id,
            voters: VoterSet::new(servers.keys().copied()),
            max_election_ticks: 10,
            ..Config::default()
        },
        tick: Duration::from_millis(20),
        storage: StorageConfig::new(dir.join(id.to_string())),
        snap_count: 0,
    };
    Runtime::start(config, Kv::default(), transport, inbound).expect("runtime")
}

async fn leader(servers: &BTreeMap<PeerId, Runtime<Kv>>) -> PeerId {
    tokio::time::timeout(WAIT, async {
        loop {
            for (id, rt) in servers {
                let s = rt.status().borrow().clone();
                if s.role == Role::Leading && s.established {
                    return *id;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("an established leader")
}

/// Waits until every server's map holds `want`.
async fn converged(servers: &BTreeMap<PeerId, Runtime<Kv>>, want: &BTreeMap<String, String>) {
    let r = tokio::time::timeout(WAIT, async {
        loop {
            let mut all = true;
            for rt in servers.values() {
                let map = rt.read(|kv: &Kv| kv.map.clone()).await.expect("read");
                all &= &map == want;
            }
            if all {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    if r.is_err() {
        for (id, rt) in servers {
            let map = rt.read(|kv: &Kv| kv.map.clone()).await.expect("read");
            eprintln!("server {id}: {} keys; want {}", map.len(), want.len());
        }
        panic!("servers did not converge");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_runtimes_replicate_over_grpc_and_survive_a_leader_shutdown() {
    let dir = std::env::temp_dir().join(format!("corral-zab-grpc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut listeners = BTreeMap::new();
    for id in 1..=3 {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        listeners.insert(id as PeerId, l);
    }
    let addrs: BTreeMap<PeerId, SocketAddr> = listeners
        .iter()
        .map(|(id, l)| (*id, l.local_addr().expect("addr")))
        .collect();
    let mut servers = BTreeMap::new();
    for (id, l) in listeners {
        servers.insert(id, start(id, &addrs, l, &dir).await);
    }

    let first = leader(&servers).await;
    let mut want = BTreeMap::new();
    for i in 0..50 {
        servers[&first]
            .propose(Bytes::from(format!("k{i}=v{i}")))
            .await
            .expect("committed");
        want.insert(format!("k{i}"), format!("v{i}"));
    }
    converged(&servers, &want).await;

    // The leader goes away: the two others elect one of them and keep everything.
    if let Some(rt) = servers.remove(&first) {
        rt.shutdown().await;
    }
    let second = leader(&servers).await;
    assert_ne!(second, first);
    for i in 50..80 {
        servers[&second]
            .propose(Bytes::from(format!("k{i}=w{i}")))
            .await
            .expect("committed after the leader's shutdown");
        want.insert(format!("k{i}"), format!("w{i}"));
    }
    converged(&servers, &want).await;
    for (_, rt) in servers {
        rt.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A frame the runtime sends before it has read a link's `Connected` is not put on that
/// link (it belongs to the stream the runtime thinks of); after `connected`, frames flow,
/// and the peer's first frame is the first one sent after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_go_only_on_a_link_the_runtime_has_read() {
    use corral_zab_runtime::{NetEvent, Transport as _};
    let (la, lb) = (
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind"),
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind"),
    );
    let servers: BTreeMap<PeerId, SocketAddr> = [
        (1, la.local_addr().expect("addr")),
        (2, lb.local_addr().expect("addr")),
    ]
    .into();
    let tcp = || Arc::new(corral_peer::PlainTcp);
    let (a, a_events) =
        corral_peer::Transport::start_with(corral_peer::Config::new(1, servers.clone()), la, tcp())
            .expect("peer 1");
    let (b, mut b_events) =
        corral_peer::Transport::start_with(corral_peer::Config::new(2, servers), lb, tcp())
            .expect("peer 2");
    let (mut a, mut inbound) = attach(a, a_events);
    let up = tokio::time::timeout(WAIT, inbound.recv())
        .await
        .expect("an event");
    assert_eq!(up, Some(NetEvent::Connected(2)));
    // The pump has read `Connected`, the runtime has not: nothing goes out.
    a.send(2, Bytes::from_static(b"before"));
    a.connected(2);
    a.send(2, Bytes::from_static(b"after"));
    let first = tokio::time::timeout(WAIT, async {
        loop {
            match b_events.recv().await {
                Some(corral_peer::Event::Frame(1, _, bytes)) => return bytes,
                Some(_) => continue,
                None => panic!("peer 2 stopped"),
            }
        }
    })
    .await
    .expect("a frame");
    assert_eq!(first, Bytes::from_static(b"after"));
    // `reset` breaks the stream: both ends see it.
    a.reset(2);
    let down = tokio::time::timeout(WAIT, inbound.recv())
        .await
        .expect("an event");
    assert_eq!(down, Some(NetEvent::Disconnected(2)));
    let seen = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(corral_peer::Event::Disconnected(1)) = b_events.recv().await {
                return;
            }
        }
    })
    .await;
    assert!(seen.is_ok(), "peer 2 did not see the reset");
    b.shutdown().await;
}
