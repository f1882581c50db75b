//! Failover time of an ensemble: writers on every server (each session's connect string names
//! its own server only, so the figure is the ensemble's recovery, not the client's choice of
//! another host) write in a closed loop; the leader (by `srvr` Mode) gets `kill -9`; the time
//! from the kill to the first write accepted that was sent after the kill is one sample. Then
//! the killed server is started again and the next round waits until all servers serve.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use corral_client::{Client, CreateMode, ErrorCode};
use tokio::task::JoinSet;

use crate::ensemble::Ensemble;
use crate::load;
use crate::server::Launch;

/// Writers per server.
pub const WRITERS_PER_SERVER: usize = 2;
/// A round that sees no write accepted within this long after the kill counts as timed out.
pub const ROUND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the restarted ensemble may take to serve again between rounds.
const RESTART_TIMEOUT: Duration = Duration::from_secs(120);
const PREFIX: &str = "/failover";

/// One kind's failover figures.
#[derive(Debug, Clone, Default)]
pub struct Failover {
    /// Seconds from the kill to the first accepted write sent after it, per round.
    pub secs: Vec<f64>,
    /// Rounds in which no write sent after the kill was accepted within `ROUND_TIMEOUT`.
    pub timeouts: usize,
    /// Which server (1-based) led, per round.
    pub leaders: Vec<usize>,
    /// Seconds from starting the killed server again to all servers serving, per round.
    pub rejoin_secs: Vec<f64>,
    /// Writes accepted over all rounds (the load the kill happened under).
    pub writes: u64,
}

/// What the writers and the round share.
#[derive(Default)]
struct Watch {
    /// When the current round's kill signal was sent.
    kill_at: Option<Instant>,
    /// When the first write sent after `kill_at` was accepted.
    first_after: Option<Instant>,
    writes: u64,
}

async fn writer(client: Client, path: String, watch: Arc<Mutex<Watch>>, end: Arc<AtomicBool>) {
    let data = Bytes::from_static(b"failover");
    loop {
        if end.load(Ordering::Relaxed) {
            return;
        }
        let sent = Instant::now();
        let r = client.set_data(&path, data.clone(), None).await;
        let acked = Instant::now();
        match r {
            Ok(_) => {
                if let Ok(mut w) = watch.lock() {
                    w.writes += 1;
                    if w.first_after.is_none() && w.kill_at.is_some_and(|k| sent >= k) {
                        w.first_after = Some(acked);
                    }
                }
            }
            // Connection loss and the like while the ensemble recovers: try again at once
            // (the client itself pauses between failed connection attempts).
            Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }
}

/// Runs `rounds` failover rounds on a serving ensemble; leaves it serving.
pub async fn measure(ens: &mut Ensemble, launch: &Launch, rounds: usize) -> Result<Failover> {
    let addrs = ens.addrs();
    let n = addrs.len() * WRITERS_PER_SERVER;
    let setup = load::connect_all(&addrs[0], 1).await?;
    let paths: Vec<String> = (0..n).map(|i| format!("{PREFIX}/w{i}")).collect();
    for p in std::iter::once(PREFIX).chain(paths.iter().map(String::as_str)) {
        match setup[0]
            .create(p, Bytes::new(), CreateMode::Persistent)
            .await
        {
            Err(e) if !e.is(ErrorCode::NodeExists) => {
                return Err(e).with_context(|| format!("creating {p}"));
            }
            _ => {}
        }
    }
    load::close_all(setup).await;
    let clients = load::connect_spread(&addrs, n).await?;
    let watch = Arc::new(Mutex::new(Watch::default()));
    let end = Arc::new(AtomicBool::new(false));
    let mut tasks = JoinSet::new();
    for (client, path) in clients.iter().zip(&paths) {
        tasks.spawn(writer(
            client.clone(),
            path.clone(),
            watch.clone(),
            end.clone(),
        ));
    }
    let result = rounds_under_load(ens, launch, rounds, &watch).await;
    end.store(true, Ordering::Relaxed);
    // A writer ends when its request in flight completes or fails; bounded all the same.
    let drained = tokio::time::timeout(Duration::from_secs(30), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tasks.abort_all();
    }
    load::close_all(clients).await;
    let mut f = result?;
    f.writes = watch.lock().map_or(0, |w| w.writes);
    Ok(f)
}

async fn rounds_under_load(
    ens: &mut Ensemble,
    launch: &Launch,
    rounds: usize,
    watch: &Mutex<Watch>,
) -> Result<Failover> {
    let mut f = Failover::default();
    // Let every writer get going before the first kill.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for round in 0..rounds {
        let leader = ens.leader().await?;
        let kill_at = ens.kill9(leader)?;
        if let Ok(mut w) = watch.lock() {
            w.kill_at = Some(kill_at);
            w.first_after = None;
        }
        let first = loop {
            let seen = watch.lock().ok().and_then(|w| w.first_after);
            if seen.is_some() || kill_at.elapsed() >= ROUND_TIMEOUT {
                break seen;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        if let Ok(mut w) = watch.lock() {
            w.kill_at = None;
        }
        f.leaders.push(leader + 1);
        match first {
            Some(t) => f.secs.push((t - kill_at).as_secs_f64()),
            None => f.timeouts += 1,
        }
        println!(
            "  {:<9} round {}: killed server {} (leader); first write after the kill {}",
            ens.kind.name(),
            round + 1,
            leader + 1,
            match first {
                Some(t) => format!("accepted {:.3} s later", (t - kill_at).as_secs_f64()),
                None => format!("not accepted within {ROUND_TIMEOUT:?}"),
            }
        );
        let restarted = Instant::now();
        ens.start(launch, RESTART_TIMEOUT).await.with_context(|| {
            format!("restarting server {} after round {}", leader + 1, round + 1)
        })?;
        let rejoin = restarted.elapsed().as_secs_f64();
        println!(
            "            server {} started again; all serving {rejoin:.2} s later",
            leader + 1
        );
        f.rejoin_secs.push(rejoin);
    }
    Ok(f)
}
