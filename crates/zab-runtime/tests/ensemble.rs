//! Three servers in one process, each with its own real data directory, over the
//! in-memory network: replication, a follower restarting from its disk (it catches up by
//! DIFF from the leader's log, or by SNAP), a leader crash. Every wait is bounded.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use corral_storage::StorageConfig;
use corral_zab::{Config, PeerId, Role, SyncKind, VoterSet, Zxid};
use corral_zab_runtime::{MemNetwork, Runtime, RuntimeConfig, RuntimeError};

// The example's state machine (a key-value map), so test and example share one.
#[path = "../examples/kv.rs"]
#[allow(dead_code)]
mod kv;
use kv::Kv;

struct Cluster {
    net: MemNetwork,
    dirs: BTreeMap<PeerId, PathBuf>,
    servers: BTreeMap<PeerId, Runtime<Kv>>,
    /// Local snapshots every this many entries (0: none).
    snap_count: u64,
}

const IDS: [PeerId; 3] = [1, 2, 3];
const WAIT: Duration = Duration::from_secs(60);

impl Cluster {
    fn new(tag: &str) -> Cluster {
        Cluster::with_snapshots(tag, 0)
    }

    fn with_snapshots(tag: &str, snap_count: u64) -> Cluster {
        let base =
            std::env::temp_dir().join(format!("corral-zab-runtime-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let dirs = IDS
            .iter()
            .map(|&id| (id, base.join(id.to_string())))
            .collect();
        let mut c = Cluster {
            net: MemNetwork::new(),
            dirs,
            servers: BTreeMap::new(),
            snap_count,
        };
        for id in IDS {
            c.start(id);
        }
        c
    }

    fn start(&mut self, id: PeerId) {
        let (transport, inbound) = self.net.join(id);
        let config = RuntimeConfig {
            zab: Config {
                id,
                voters: VoterSet::new(IDS),
                diff_window: 5,
                ..Config::default()
            },
            tick: Duration::from_millis(10),
            storage: StorageConfig {
                pre_alloc_size: 64 << 10,
                snap_count: 5, // log segments of 5 records, so that purging has some to remove
                ..StorageConfig::new(&self.dirs[&id])
            },
            snap_count: self.snap_count,
        };
        let rt = Runtime::start(config, Kv::default(), transport, inbound).expect("start");
        self.servers.insert(id, rt);
    }

    async fn stop(&mut self, id: PeerId) {
        if let Some(rt) = self.servers.remove(&id) {
            rt.shutdown().await;
        }
        // Its peers see the streams break, as a killed process's would.
        let (_t, _rx) = self.net.join(id);
    }

    /// The established leader, once there is one.
    async fn leader(&self) -> PeerId {
        let wait = async {
            loop {
                for (&id, rt) in &self.servers {
                    let s = rt.status().borrow().clone();
                    if s.role == Role::Leading && s.established {
                        return id;
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(WAIT, wait)
            .await
            .expect("a leader within the bound")
    }

    /// Proposes on whoever leads, retrying refusals and lost leaderships.
    async fn write(&self, key: &str, value: &str) -> Zxid {
        let payload = Bytes::from(format!("{key}={value}"));
        for _ in 0..200 {
            let leader = self.leader().await;
            match self.servers[&leader].propose(payload.clone()).await {
                Ok(z) => return z,
                Err(RuntimeError::Refused(_)) | Err(RuntimeError::LeadershipLost { .. }) => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Err(e) => panic!("write failed: {e}"),
            }
        }
        panic!("no write accepted");
    }

    async fn map_of(&self, id: PeerId) -> (Option<Zxid>, BTreeMap<String, String>) {
        self.servers[&id]
            .read(|kv: &Kv| (kv.applied, kv.map.clone()))
            .await
            .expect("running")
    }

    /// Waits until every running server applied `zxid`; returns their maps.
    async fn converged(&self, zxid: Zxid) -> Vec<BTreeMap<String, String>> {
        let wait = async {
            loop {
                let mut maps = Vec::new();
                for &id in self.servers.keys() {
                    let (applied, map) = self.map_of(id).await;
                    if applied.is_some_and(|a| a >= zxid) {
                        maps.push(map);
                    }
                }
                if maps.len() == self.servers.len() {
                    return maps;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(WAIT, wait)
            .await
            .expect("converged within the bound")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(dir) = self.dirs.values().next().and_then(|d| d.parent()) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn expected(n: usize, prefix: &str) -> BTreeMap<String, String> {
    (0..n)
        .map(|i| (format!("{prefix}{i}"), i.to_string()))
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn three_servers_replicate_and_a_restarted_follower_catches_up_from_disk() {
    let mut c = Cluster::new("follower");
    let mut last = Zxid::ZERO;
    for i in 0..20 {
        last = c.write(&format!("a{i}"), &i.to_string()).await;
    }
    for map in c.converged(last).await {
        assert_eq!(map, expected(20, "a"));
    }
    // A follower goes away; the others go on without it.
    let leader = c.leader().await;
    let follower = *IDS.iter().find(|&&i| i != leader).expect("a follower");
    c.stop(follower).await;
    for i in 0..30 {
        last = c.write(&format!("b{i}"), &i.to_string()).await;
    }
    // It restarts from its own disk (log, epochs) and is brought up to date: 30 entries
    // behind a window of 5.
    c.start(follower);
    let maps = c.converged(last).await;
    let mut want = expected(20, "a");
    want.extend(expected(30, "b"));
    for map in maps {
        assert_eq!(map, want);
    }
    // 30 proposals behind a window of 5: the leader read them from its log on disk.
    let rejoined = c.servers[&follower].status().borrow().clone();
    assert_eq!(rejoined.last_sync, Some(SyncKind::Diff));
}

#[tokio::test(flavor = "current_thread")]
async fn a_new_leader_takes_over_and_nothing_committed_is_lost() {
    let mut c = Cluster::new("leader");
    let mut last = Zxid::ZERO;
    for i in 0..10 {
        last = c.write(&format!("a{i}"), &i.to_string()).await;
    }
    let old = c.leader().await;
    c.stop(old).await;
    for i in 0..10 {
        last = c.write(&format!("b{i}"), &i.to_string()).await;
    }
    assert_ne!(c.leader().await, old);
    c.start(old);
    let mut want = expected(10, "a");
    want.extend(expected(10, "b"));
    for map in c.converged(last).await {
        assert_eq!(map, want);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_follower_refuses_proposals_with_the_leader_named() {
    let c = Cluster::new("refuse");
    let leader = c.leader().await;
    let follower = *IDS.iter().find(|&&i| i != leader).expect("a follower");
    // The follower must know its leader first.
    let status = tokio::time::timeout(
        WAIT,
        c.servers[&follower].established(Some(Role::Following)),
    )
    .await
    .expect("bounded")
    .expect("running");
    let r = c.servers[&follower]
        .propose(Bytes::from_static(b"x=1"))
        .await;
    assert_eq!(
        r,
        Err(RuntimeError::Refused(corral_zab::ZabError::NotLeader {
            leader: status.leader
        }))
    );
}

/// The files in `dir/version-2` whose names start with `prefix`.
fn files(dir: &std::path::Path, prefix: &str) -> usize {
    std::fs::read_dir(dir.join("version-2"))
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().to_string();
                    n.starts_with(prefix) && !n.ends_with(".tmp")
                })
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "current_thread")]
async fn local_snapshots_purge_old_files_and_a_follower_behind_them_gets_a_snap() {
    let mut c = Cluster::with_snapshots("compact", 10);
    let mut last = Zxid::ZERO;
    for i in 0..20 {
        last = c.write(&format!("a{i}"), &i.to_string()).await;
    }
    c.converged(last).await;
    let leader = c.leader().await;
    let follower = *IDS.iter().find(|&&i| i != leader).expect("a follower");
    c.stop(follower).await;
    for i in 0..60 {
        last = c.write(&format!("b{i}"), &i.to_string()).await;
    }
    c.converged(last).await;
    // Snapshots are written off the runtime's task: wait (bounded) for the purge to keep
    // the newest three.
    let dir = c.dirs[&leader].clone();
    tokio::time::timeout(WAIT, async {
        while files(&dir, "snapshot.") != 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("three snapshots within the bound");
    assert!(
        files(&dir, "log.") < 80 / 5,
        "old log segments purged: {} left",
        files(&dir, "log.")
    );
    // The follower's last zxid is before the leader's log now starts: a SNAP.
    c.start(follower);
    let mut want = expected(20, "a");
    want.extend(expected(60, "b"));
    for map in c.converged(last).await {
        assert_eq!(map, want);
    }
    let rejoined = c.servers[&follower].status().borrow().clone();
    assert_eq!(rejoined.last_sync, Some(SyncKind::Snap));
    // Everyone restarts from its own snapshot and log.
    for id in IDS {
        c.stop(id).await;
    }
    for id in IDS {
        c.start(id);
    }
    last = c.write("c", "1").await;
    want.insert("c".into(), "1".into());
    for map in c.converged(last).await {
        assert_eq!(map, want);
    }
}
