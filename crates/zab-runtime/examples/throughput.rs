//! Replication throughput on this machine, the same load measured two ways, printed side by
//! side: `n` proposals of about 16 bytes, at most `window` in flight, three voters.
//!
//! 1. **engine**: corral-zab's `Zab` alone, three engines in one thread, messages handed
//!    over in memory and storage durable at once (no disk, no network, no tokio): what the
//!    protocol's bookkeeping costs.
//! 2. **runtime**: three corral-zab-runtime `Runtime`s in one process over the in-memory
//!    transport, each with its own data directory on the real disk (corral-storage, fsync
//!    before every ACK), as a user embeds it.
//!
//! Three processes over the gRPC transport: `kv_grpc --ensemble DIR --bench N` (feature
//! `grpc`). Measure in release:
//!
//! ```text
//! cargo run -p corral-zab-runtime --release --example throughput -- \
//!     [--engine N] [--runtime N] [--window W] [--dir DIR]
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use corral_storage::StorageConfig;
use corral_zab::{Config, MemoryLog, Message, PeerId, Persisted, Role, VoterSet, Zab, Zxid};
use corral_zab_runtime::{MemNetwork, Runtime, RuntimeConfig};

#[path = "kv.rs"]
#[allow(dead_code)]
mod kv;
#[path = "support/window.rs"]
mod window;
use kv::Kv;
use window::{quantile, Figures};

const IDS: [PeerId; 3] = [1, 2, 3];

struct Args {
    engine: usize,
    runtime: usize,
    window: usize,
    dir: PathBuf,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        engine: 200_000,
        runtime: 20_000,
        window: 64,
        dir: std::env::temp_dir().join(format!("corral-throughput-{}", std::process::id())),
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let value = argv.next().ok_or(format!("{flag} needs a value"))?;
        let count = || {
            value
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=10_000_000).contains(n))
                .ok_or(format!("{flag} {value}: a count from 1 to 10000000"))
        };
        match flag.as_str() {
            "--engine" => a.engine = count()?,
            "--runtime" => a.runtime = count()?,
            "--window" => a.window = count()?,
            "--dir" => a.dir = PathBuf::from(value),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("throughput: {e}");
            return ExitCode::from(2);
        }
    };
    let engine = engine(args.engine, args.window);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| rt.block_on(runtime(&args)));
    let _ = std::fs::remove_dir_all(&args.dir);
    println!("window {}, 3 voters", args.window);
    println!(
        "{:<8} {:>9} {:>14} {:>10} {:>10}",
        "what", "proposals", "commits/s", "p50 µs", "p99 µs"
    );
    let row = |what: &str, n: usize, f: &Figures| {
        println!(
            "{what:<8} {n:>9} {:>14.0} {:>10} {:>10}",
            f.per_sec,
            f.p50.as_micros(),
            f.p99.as_micros()
        )
    };
    row("engine", args.engine, &engine);
    match runtime {
        Ok(f) => {
            row("runtime", args.runtime, &f);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("throughput: runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The engines alone: `n` proposals through the leader, `window` in flight; a proposal's
/// latency runs from `propose` to the leader's commit of it.
fn engine(n: usize, window: usize) -> Figures {
    let mut nodes: BTreeMap<PeerId, Zab> = IDS
        .iter()
        .map(|&id| {
            let cfg = Config {
                id,
                voters: VoterSet::new(IDS),
                diff_window: 1_000,
                ..Config::default()
            };
            let zab = Zab::new(cfg, Persisted::default(), MemoryLog::default());
            (id, zab.expect("a valid config"))
        })
        .collect();
    let mut wire = VecDeque::new();
    let mut commits: BTreeMap<PeerId, Vec<Zxid>> = BTreeMap::new();
    let leader = loop {
        for z in nodes.values_mut() {
            z.tick().expect("a fresh ensemble has epochs to spare");
        }
        deliver(&mut nodes, &mut wire, &mut commits);
        let found = nodes
            .iter()
            .find(|(_, z)| z.status().role == Role::Leading && z.status().established);
        if let Some((&id, _)) = found {
            break id;
        }
    };
    let payload = Bytes::from_static(b"bench0000=00000");
    let mut in_flight: VecDeque<(Zxid, Instant)> = VecDeque::new();
    let mut latencies = Vec::with_capacity(n);
    let mut proposed = 0;
    let start = Instant::now();
    while latencies.len() < n {
        while proposed < n && in_flight.len() < window {
            let leading = nodes.get_mut(&leader).expect("the leader");
            let zxid = leading
                .propose(payload.clone())
                .expect("an established leader");
            in_flight.push_back((zxid, Instant::now()));
            proposed += 1;
        }
        deliver(&mut nodes, &mut wire, &mut commits);
        let committed = commits.remove(&leader).unwrap_or_default();
        commits.clear();
        for zxid in committed {
            if let Some((first, at)) = in_flight.front().copied() {
                if first == zxid {
                    in_flight.pop_front();
                    latencies.push(at.elapsed());
                }
            }
        }
    }
    figures(n, start.elapsed(), latencies)
}

/// Handles every `Ready` (durable at once) and delivers every message until quiet; what each
/// engine committed is added to `commits`.
fn deliver(
    nodes: &mut BTreeMap<PeerId, Zab>,
    wire: &mut VecDeque<(PeerId, PeerId, Message)>,
    commits: &mut BTreeMap<PeerId, Vec<Zxid>>,
) {
    loop {
        for (&id, z) in nodes.iter_mut() {
            while z.has_ready() {
                let r = z.ready();
                let applied = commits.entry(id).or_default();
                applied.extend(r.committed.iter().map(|e| e.zxid));
                for (to, m) in r.messages.into_iter().chain(r.send_after_persist) {
                    wire.push_back((id, to, m));
                }
                z.advance(r.number);
            }
        }
        if wire.is_empty() {
            return;
        }
        while let Some((from, to, m)) = wire.pop_front() {
            if let Some(z) = nodes.get_mut(&to) {
                let _ = z.step(from, m);
            }
        }
    }
}

fn figures(n: usize, took: Duration, mut latencies: Vec<Duration>) -> Figures {
    latencies.sort_unstable();
    Figures {
        per_sec: n as f64 / took.as_secs_f64(),
        p50: quantile(&latencies, 0.50),
        p99: quantile(&latencies, 0.99),
    }
}

/// Three runtimes on the real disk, the load through the leader.
async fn runtime(args: &Args) -> Result<Figures, String> {
    let net = MemNetwork::new();
    let mut servers = BTreeMap::new();
    for id in IDS {
        let (transport, inbound) = net.join(id);
        let config = RuntimeConfig {
            zab: Config {
                id,
                voters: VoterSet::new(IDS),
                ..Config::default()
            },
            tick: Duration::from_millis(50),
            storage: StorageConfig::new(args.dir.join(id.to_string())),
            snap_count: 0,
        };
        let rt = Runtime::start(config, Kv::default(), transport, inbound)
            .map_err(|e| format!("server {id}: {e}"))?;
        servers.insert(id, Arc::new(rt));
    }
    let leader = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            for rt in servers.values() {
                let s = rt.status().borrow().clone();
                if s.role == Role::Leading && s.established {
                    return rt.clone();
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .map_err(|_| "no established leader within 60 s".to_string())?;
    let figures = window::load(&leader, args.runtime, args.window)
        .await
        .map_err(|e| e.to_string());
    drop(leader);
    for (_, rt) in servers {
        if let Ok(rt) = Arc::try_unwrap(rt) {
            rt.shutdown().await;
        }
    }
    figures
}
