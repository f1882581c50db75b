//! Real processes, real kill -9 (feature `grpc`): three `kv_grpc` example processes with
//! their own data directories on 127.0.0.1 ephemeral ports, a write load, then in a loop
//! the leader (even cycles) or a follower (odd cycles) is killed with SIGKILL and restarted;
//! afterwards every acknowledged write is on every server. `ZAB_KILL_CYCLES` sets the number
//! of cycles (3 by default); the sync each rejoin used (DIFF, TRUNC, SNAP) is printed
//! (`--nocapture`). Every child is killed and reaped by its handle in every path; every wait
//! is bounded.
//!
//! It runs the example binary cargo built last: `cargo test -p corral-zab-runtime --features
//! grpc` builds it; after changing the example or the runtime with a filtered run (`--test
//! kill9`), `cargo build -p corral-zab-runtime --features grpc --example kv_grpc` first.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "support/example_bin.rs"]
mod example_bin;

const WAIT: Duration = Duration::from_secs(60);

/// Three servers: ports, directories, children. Dropping it kills and reaps them.
struct Ensemble {
    bin: PathBuf,
    dir: PathBuf,
    servers: String,
    client_ports: BTreeMap<u64, u16>,
    children: BTreeMap<u64, Child>,
}

impl Ensemble {
    fn new(dir: PathBuf) -> Ensemble {
        let mut ports = Vec::new();
        for _ in 0..6 {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            ports.push(l.local_addr().expect("addr").port());
        }
        let servers = (1..=3u64)
            .map(|id| format!("{id}=127.0.0.1:{}", ports[id as usize - 1]))
            .collect::<Vec<_>>()
            .join(",");
        let client_ports = (1..=3u64).map(|id| (id, ports[id as usize + 2])).collect();
        let mut e = Ensemble {
            bin: example_bin::kv_grpc(),
            dir,
            servers,
            client_ports,
            children: BTreeMap::new(),
        };
        for id in 1..=3 {
            e.start(id);
        }
        e
    }

    fn start(&mut self, id: u64) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("server{id}.log")))
            .expect("log file");
        let child = Command::new(&self.bin)
            .args(["--id", &id.to_string(), "--servers", &self.servers])
            .arg("--data")
            .arg(self.dir.join(id.to_string()))
            .args(["--port", &self.client_ports[&id].to_string()])
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start the example");
        self.children.insert(id, child);
    }

    /// SIGKILL, then reap.
    fn kill9(&mut self, id: u64) {
        if let Some(mut c) = self.children.remove(&id) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The established leader, asked of every server (bounded).
    fn leader(&self) -> u64 {
        let deadline = Instant::now() + WAIT;
        loop {
            for (&id, &port) in &self.client_ports {
                if let Some(s) = ask(port, "status") {
                    if s.starts_with("status Leading") && s.contains(" true ") {
                        return id;
                    }
                }
            }
            assert!(Instant::now() < deadline, "no established leader");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `id` is established again; its last sync (DIFF/TRUNC/SNAP, or `none`
    /// when it came back as the leader).
    fn rejoined(&self, id: u64) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(s) = ask(self.client_ports[&id], "status") {
                let w: Vec<&str> = s.split_whitespace().collect();
                if w.len() == 5 && w[3] == "true" {
                    return format!("{} as {}", w[4], w[1]);
                }
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.join(format!("server{id}.log")))
                    .unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                panic!(
                    "server {id} did not rejoin (data and logs kept in {}); its log ends:\n{}",
                    self.dir.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        let ids: Vec<u64> = self.children.keys().copied().collect();
        for id in ids {
            self.kill9(id);
        }
    }
}

/// One command, its answer (all `entry` lines and the closing one); `None` on any failure.
fn ask(port: u16, line: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(format!("{line}\n").as_bytes()).ok()?;
    let mut out = String::new();
    for l in BufReader::new(s).lines() {
        let l = l.ok()?;
        let done = !l.starts_with("entry ");
        out.push_str(&l);
        out.push('\n');
        if done {
            return Some(out);
        }
    }
    None
}

/// Writes `w<n>=<n>` through whoever leads until `stop`; records what was acknowledged.
fn writer(ports: Vec<u16>, stop: Arc<AtomicBool>, acked: Arc<Mutex<Vec<u64>>>) {
    let mut n = 0u64;
    let mut leader: Option<u16> = None;
    while !stop.load(Ordering::Relaxed) {
        let port = match leader {
            Some(p) => p,
            None => {
                leader = ports.iter().copied().find(|&p| {
                    ask(p, "status")
                        .is_some_and(|s| s.starts_with("status Leading") && s.contains(" true "))
                });
                if leader.is_none() {
                    std::thread::sleep(Duration::from_millis(50));
                }
                continue;
            }
        };
        match ask(port, &format!("set w{n} {n}")) {
            Some(a) if a.starts_with("ok ") => acked.lock().expect("acked").push(n),
            _ => leader = None,
        }
        n += 1;
    }
}

#[test]
fn every_acknowledged_write_survives_kill_9_of_leaders_and_followers() {
    let cycles: u32 = std::env::var("ZAB_KILL_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let dir = std::env::temp_dir().join(format!("corral-zab-kill9-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test dir");
    let mut ens = Ensemble::new(dir.clone());
    ens.leader();

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let ports: Vec<u16> = ens.client_ports.values().copied().collect();
    let w = {
        let (stop, acked) = (stop.clone(), acked.clone());
        std::thread::spawn(move || writer(ports, stop, acked))
    };

    let mut syncs = Vec::new();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for cycle in 0..cycles {
            let leader = ens.leader();
            let victim = if cycle % 2 == 0 {
                leader
            } else {
                (1..=3).find(|&i| i != leader).unwrap_or(1)
            };
            let before = acked.lock().expect("acked").len();
            ens.kill9(victim);
            // Writes go on without it (a new leader is elected when it led).
            std::thread::sleep(Duration::from_millis(700));
            ens.start(victim);
            let how = ens.rejoined(victim);
            let after = acked.lock().expect("acked").len();
            eprintln!(
                "cycle {cycle}: kill -9 server {victim} ({}), rejoined by {how}; {} writes acknowledged meanwhile",
                if victim == leader { "leader" } else { "follower" },
                after - before
            );
            syncs.push(how);
        }
    }));
    stop.store(true, Ordering::Relaxed);
    let _ = w.join();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }

    let acked = acked.lock().expect("acked").clone();
    assert!(!acked.is_empty(), "no write was acknowledged");
    // Every acknowledged write on every server (each catches up, bounded).
    for (&id, &port) in &ens.client_ports {
        let deadline = Instant::now() + WAIT;
        loop {
            let map: BTreeMap<String, String> = ask(port, "dump")
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.strip_prefix("entry "))
                .filter_map(|l| l.split_once(' '))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let missing: Vec<u64> = acked
                .iter()
                .copied()
                .filter(|n| map.get(&format!("w{n}")) != Some(&n.to_string()))
                .collect();
            if missing.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "server {id} lacks {} acknowledged writes, first {:?}",
                missing.len(),
                &missing[..missing.len().min(10)]
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    eprintln!(
        "{cycles} kill -9 cycles, {} acknowledged writes on all three servers; rejoins: {syncs:?}",
        acked.len()
    );
    drop(ens);
    let _ = std::fs::remove_dir_all(&dir);
}
