//! Three servers in one process, on the same driver code `corral server` runs: writes through
//! any member, `sync` then read on another, a new leader after the leader stops, and a
//! stopped member that catches up when it comes back. (The interop suite runs the same with
//! real clients and real processes; this is the quick check `cargo test` gives.)

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use corral_jute::codes::OpCode;
use corral_jute::io::Jute;
use corral_jute::records::PathRequest;
use corral_server::{EnsembleConfig, LearnerType, QuorumServer, Server, ServerConfig};
use support::{fresh_dir, RawClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A free port on 127.0.0.1 (bound, then released for the server to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Member {
    client: SocketAddr,
    dir: std::path::PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), corral_server::ServerError>>>,
}

struct Ensemble {
    servers: BTreeMap<u64, QuorumServer>,
    members: BTreeMap<u64, Member>,
}

impl Ensemble {
    fn new(size: u64) -> Ensemble {
        let mut servers = BTreeMap::new();
        let mut members = BTreeMap::new();
        for id in 1..=size {
            let client: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
            let quorum: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
            servers.insert(
                id,
                QuorumServer {
                    id,
                    quorum_addr: quorum,
                    election_addr: quorum,
                    learner_type: LearnerType::Participant,
                    client_addr: Some(client),
                },
            );
            members.insert(
                id,
                Member {
                    client,
                    dir: fresh_dir(&format!("ensemble-{id}")),
                    stop: None,
                    task: None,
                },
            );
        }
        Ensemble { servers, members }
    }

    async fn start(&mut self, id: u64) {
        let m = self.members.get_mut(&id).expect("member");
        let mut cfg = ServerConfig::parse(&format!(
            "dataDir={}\ntickTime=200\nclientPort={}\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nadmin.enableServer=false\n",
            m.dir.display(),
            m.client.port()
        ))
        .expect("config");
        cfg.server_id = id as u8;
        cfg.ensemble = Some(EnsembleConfig {
            my_id: id,
            servers: self.servers.clone(),
            init_limit: 10,
            sync_limit: 5,
        });
        let server = Server::bind(cfg).await.expect("bind");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        m.task = Some(tokio::spawn(server.run(async {
            let _ = stopped.await;
        })));
        m.stop = Some(stop);
    }

    async fn stop(&mut self, id: u64) {
        let m = self.members.get_mut(&id).expect("member");
        if let Some(s) = m.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = m.task.take() {
            let _ = t.await;
        }
    }

    /// `srvr`'s Mode line of a member ("" while it does not answer).
    async fn mode(&self, id: u64) -> String {
        let addr = self.members[&id].client;
        let Ok(Ok(mut s)) =
            tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr))
                .await
        else {
            return String::new();
        };
        let _ = s.write_all(b"srvr").await;
        let mut out = String::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_string(&mut out)).await;
        out.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .unwrap_or_default()
            .to_string()
    }

    /// Waits (bounded) until every running member serves; the leader's id.
    async fn settled(&self, running: &[u64]) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut leader = None;
            let mut serving = 0;
            for &id in running {
                match self.mode(id).await.as_str() {
                    "leader" => {
                        leader = Some(id);
                        serving += 1;
                    }
                    "follower" | "observer" => serving += 1,
                    _ => {}
                }
            }
            if let (Some(l), true) = (leader, serving == running.len()) {
                return l;
            }
            assert!(
                Instant::now() < deadline,
                "the ensemble {running:?} did not settle in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn sync(c: &mut RawClient, xid: i32) {
    let (h, _) = c
        .request(xid, OpCode::Sync, |o| {
            PathRequest { path: "/".into() }.write(o)
        })
        .await;
    assert_eq!(h.err, 0, "sync");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_through_any_member_are_read_everywhere_and_survive_the_leader() {
    let mut e = Ensemble::new(3);
    for id in 1..=3 {
        e.start(id).await;
    }
    let leader = e.settled(&[1, 2, 3]).await;
    let followers: Vec<u64> = (1..=3).filter(|&i| i != leader).collect();

    // A write through each member, read on every other after a sync.
    for id in 1..=3u64 {
        let mut c = RawClient::connect(e.members[&id].client).await;
        let h = c.create(1, &format!("/from{id}"), b"v", 0).await;
        assert_eq!(h.map(|h| h.err), Some(0), "create through server {id}");
    }
    for id in 1..=3u64 {
        let mut c = RawClient::connect(e.members[&id].client).await;
        sync(&mut c, 1).await;
        for from in 1..=3 {
            let got = c.get(2 + from, &format!("/from{from}")).await;
            assert!(got.is_ok(), "server {id} sees /from{from}");
        }
    }

    // The leader stops: the two others elect a new one and take writes.
    e.stop(leader).await;
    let new_leader = e.settled(&followers).await;
    assert_ne!(new_leader, leader);
    for &id in &followers {
        let mut c = RawClient::connect(e.members[&id].client).await;
        let h = c.create(1, &format!("/after{id}"), b"v", 0).await;
        assert_eq!(h.map(|h| h.err), Some(0), "create through server {id}");
    }

    // The old leader comes back as a follower and catches up.
    e.start(leader).await;
    e.settled(&[1, 2, 3]).await;
    let mut c = RawClient::connect(e.members[&leader].client).await;
    sync(&mut c, 1).await;
    for &id in &followers {
        assert!(
            c.get(2, &format!("/after{id}")).await.is_ok(),
            "the restarted server has /after{id}"
        );
    }
    for id in 1..=3 {
        e.stop(id).await;
    }
}
