//! The load generator: workloads run by many sessions, each pipelining `window` outstanding
//! requests (one tokio task per outstanding request, all sharing the session's connection),
//! for a warm-up and then a fixed measured duration. Latency is what the caller of the
//! client sees (from the call to its reply), recorded for the operations that complete
//! inside the measured window; throughput is their count divided by the window.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use corral_client::{Client, CreateMode, Error, ErrorCode};
use tokio::task::JoinSet;

use crate::hist::Histogram;
use crate::json::{json, Json};
use crate::procfs::{CpuSnapshot, CpuUse};

/// Bytes of data of every node the benchmark creates or sets.
pub const VALUE_SIZE: usize = 100;
/// Nodes read and written by getData, setData, exists and mixed.
pub const DATA_NODES: usize = 10_000;
/// Children of the node getChildren reads.
pub const CHILDREN: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Create,
    CreateSeq,
    SetData,
    GetData,
    GetChildren,
    Exists,
    Mixed,
    Lock,
}

impl Workload {
    pub const ALL: [Workload; 8] = [
        Workload::Create,
        Workload::CreateSeq,
        Workload::SetData,
        Workload::GetData,
        Workload::GetChildren,
        Workload::Exists,
        Workload::Mixed,
        Workload::Lock,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::CreateSeq => "create-seq",
            Workload::SetData => "setData",
            Workload::GetData => "getData",
            Workload::GetChildren => "getChildren",
            Workload::Exists => "exists",
            Workload::Mixed => "mixed",
            Workload::Lock => "lock",
        }
    }

    pub fn parse(s: &str) -> Result<Workload> {
        Workload::ALL
            .into_iter()
            .find(|w| w.name().eq_ignore_ascii_case(s))
            .with_context(|| {
                let names: Vec<&str> = Workload::ALL.iter().map(|w| w.name()).collect();
                format!("unknown workload `{s}` (one of {})", names.join(", "))
            })
    }

    /// What one operation is.
    pub fn describe(self) -> &'static str {
        match self {
            Workload::Create => "create of a new persistent node, 100 bytes",
            Workload::CreateSeq => "create of a persistent sequential node, 100 bytes",
            Workload::SetData => "setData of 100 bytes on one of 10,000 nodes (random)",
            Workload::GetData => "getData of one of 10,000 100-byte nodes (random)",
            Workload::GetChildren => "getChildren of a node with 1,000 children",
            Workload::Exists => "exists on one of 10,000 nodes (random)",
            Workload::Mixed => "90% getData / 10% setData on 10,000 nodes (random)",
            Workload::Lock => {
                "lock cycle: create ephemeral sequential, getChildren, delete \
                 (3 requests; each worker its own lock node, uncontended)"
            }
        }
    }

    /// Whether every operation is one write: one txn, one txn log record (create, create-seq,
    /// setData). Their ops/s are writes/s, which the group-commit figures compare with the
    /// disk's fsync rate.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Workload::Create | Workload::CreateSeq | Workload::SetData
        )
    }

    /// Requests one operation sends.
    pub fn requests_per_op(self) -> u32 {
        if self == Workload::Lock {
            3
        } else {
            1
        }
    }
}

/// One measured run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub workload: Workload,
    pub sessions: usize,
    /// Outstanding requests per session.
    pub window: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

#[derive(Debug, Clone)]
pub struct RunResult {
    pub ops: u64,
    pub secs: f64,
    pub ops_per_sec: f64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    /// Errors by kind over the whole run (warm-up included).
    pub errors: BTreeMap<String, u64>,
    pub cpu: CpuUse,
}

impl RunResult {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn to_json(&self) -> Json {
        json!({
            "ops": self.ops,
            "secs": self.secs,
            "ops_per_sec": self.ops_per_sec,
            "latency_us": {
                "mean": self.mean_us,
                "p50": self.p50_us,
                "p90": self.p90_us,
                "p99": self.p99_us,
                "p999": self.p999_us,
                "max": self.max_us,
            },
            "errors": self.errors,
            "cpu_cores": {
                "server": self.cpu.server_cores,
                "load_generator": self.cpu.bench_cores,
                "other": self.cpu.other_cores,
                "idle": self.cpu.idle_cores,
            },
        })
    }
}

/// A small xorshift generator (no rand crate needed for picking nodes).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

pub fn value() -> Bytes {
    Bytes::from(vec![b'x'; VALUE_SIZE])
}

fn ignore_exists<T>(r: corral_client::Result<T>) -> corral_client::Result<()> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.is(ErrorCode::NodeExists) => Ok(()),
        Err(e) => Err(e),
    }
}

/// How often one create of [`create_many`] is sent again after a connection loss (the client
/// reconnects meanwhile), 100 ms apart.
const CREATE_ATTEMPTS: u32 = 100;

/// Creates `count` nodes named by `path(i)` with `data`, pipelined: `window` requests in
/// flight on each client. Nodes that already exist are fine (so is a create sent again after
/// a connection loss that had reached the server; how many were sent again is printed).
/// Returns the elapsed time.
pub async fn create_many(
    clients: &[Client],
    count: usize,
    window: usize,
    data: Bytes,
    path: Arc<dyn Fn(usize) -> String + Send + Sync>,
) -> Result<Duration> {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    let next = Arc::new(AtomicUsize::new(0));
    let resent = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for client in clients {
        for _ in 0..window {
            let (client, next, resent, data, path) = (
                client.clone(),
                next.clone(),
                resent.clone(),
                data.clone(),
                path.clone(),
            );
            tasks.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Relaxed);
                    if i >= count {
                        return Ok::<_, Error>(());
                    }
                    let p = path(i);
                    let mut attempt = 1;
                    loop {
                        match client
                            .create(&p, data.clone(), CreateMode::Persistent)
                            .await
                        {
                            Err(Error::ConnectionLoss) if attempt < CREATE_ATTEMPTS => {
                                attempt += 1;
                                resent.fetch_add(1, Relaxed);
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                            r => break ignore_exists(r)?,
                        }
                    }
                }
            });
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.context("a create task panicked")?
            .context("creating nodes")?;
    }
    let resent = resent.load(Relaxed);
    if resent > 0 {
        println!("  ({resent} creates sent again after a connection loss)");
    }
    Ok(start.elapsed())
}

pub fn data_path(prefix: &str, i: usize) -> String {
    format!("{prefix}/d/n{i}")
}

/// Creates what `workload` needs under `prefix` (on a fresh or an already prepared tree).
pub async fn prepare(client: &Client, workload: Workload, prefix: &str) -> Result<()> {
    let empty = Bytes::new();
    let mut path = String::new();
    for part in prefix.split('/').filter(|p| !p.is_empty()) {
        path.push('/');
        path.push_str(part);
        ignore_exists(
            client
                .create(&path, empty.clone(), CreateMode::Persistent)
                .await,
        )
        .with_context(|| format!("creating {path}"))?;
    }
    let sub = match workload {
        Workload::Create => "c",
        Workload::CreateSeq => "s",
        Workload::SetData | Workload::GetData | Workload::Exists | Workload::Mixed => "d",
        Workload::GetChildren => "k",
        Workload::Lock => "l",
    };
    let dir = format!("{prefix}/{sub}");
    ignore_exists(client.create(&dir, empty, CreateMode::Persistent).await)
        .with_context(|| format!("creating {dir}"))?;
    let clients = [client.clone()];
    match sub {
        "d" => {
            let p = prefix.to_string();
            create_many(
                &clients,
                DATA_NODES,
                256,
                value(),
                Arc::new(move |i| data_path(&p, i)),
            )
            .await?;
        }
        "k" => {
            create_many(
                &clients,
                CHILDREN,
                256,
                value(),
                Arc::new(move |i| format!("{dir}/n{i}")),
            )
            .await?;
        }
        _ => {}
    }
    Ok(())
}

static RUN_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

struct Shared {
    workload: Workload,
    prefix: String,
    data: Bytes,
    data_paths: Vec<String>,
    children_path: String,
    seq_path: String,
    /// Distinguishes this run's node names from earlier runs' on the same tree.
    run_id: u64,
    hist: Histogram,
    errors: Mutex<BTreeMap<String, u64>>,
    warm_end: Instant,
    end: Instant,
}

impl Shared {
    fn error(&self, e: &Error) {
        let key = match e.code() {
            Some(code) => format!("{code:?}"),
            None => format!("{e}"),
        };
        if let Ok(mut m) = self.errors.lock() {
            *m.entry(key).or_default() += 1;
        }
    }
}

async fn one_op(
    sh: &Shared,
    client: &Client,
    rng: &mut Rng,
    seq: &mut u64,
    own: &str,
) -> corral_client::Result<()> {
    match sh.workload {
        Workload::Create => {
            *seq += 1;
            let path = format!("{own}{seq}");
            client
                .create(&path, sh.data.clone(), CreateMode::Persistent)
                .await?;
        }
        Workload::CreateSeq => {
            client
                .create(
                    &sh.seq_path,
                    sh.data.clone(),
                    CreateMode::PersistentSequential,
                )
                .await?;
        }
        Workload::SetData => {
            let path = &sh.data_paths[rng.below(sh.data_paths.len())];
            client.set_data(path, sh.data.clone(), None).await?;
        }
        Workload::GetData => {
            let path = &sh.data_paths[rng.below(sh.data_paths.len())];
            client.get_data(path).await?;
        }
        Workload::Exists => {
            let path = &sh.data_paths[rng.below(sh.data_paths.len())];
            client.exists(path).await?;
        }
        Workload::GetChildren => {
            client.get_children(&sh.children_path).await?;
        }
        Workload::Mixed => {
            let path = &sh.data_paths[rng.below(sh.data_paths.len())];
            if rng.below(10) == 0 {
                client.set_data(path, sh.data.clone(), None).await?;
            } else {
                client.get_data(path).await?;
            }
        }
        Workload::Lock => {
            // `own` is this worker's lock node; the recipe's lowest-sequence check is done,
            // and always succeeds since nobody else uses this lock node.
            let me = client
                .create(
                    &format!("{own}/lock-"),
                    Bytes::new(),
                    CreateMode::EphemeralSequential,
                )
                .await?;
            let children = client.get_children(own).await?;
            let mine = me.rsplit('/').next().unwrap_or_default();
            if children.iter().min().map(String::as_str) != Some(mine) {
                return Err(Error::Protocol("lock: own node is not the lowest".into()));
            }
            client.delete(&me, None).await?;
        }
    }
    Ok(())
}

async fn worker(sh: Arc<Shared>, client: Client, session: usize, slot: usize) {
    let mut rng = Rng::new(((session as u64) << 32) ^ slot as u64 ^ 0x5bd1_e995);
    let mut seq = 0u64;
    let own = match sh.workload {
        Workload::Create => format!("{}/c/r{}s{session}w{slot}n", sh.prefix, sh.run_id),
        Workload::Lock => {
            let dir = format!("{}/l/r{}s{session}w{slot}", sh.prefix, sh.run_id);
            if let Err(e) = ignore_exists(
                client
                    .create(&dir, Bytes::new(), CreateMode::Persistent)
                    .await,
            ) {
                sh.error(&e);
            }
            dir
        }
        _ => String::new(),
    };
    loop {
        let t0 = Instant::now();
        if t0 >= sh.end {
            return;
        }
        let r = one_op(&sh, &client, &mut rng, &mut seq, &own).await;
        let t1 = Instant::now();
        match r {
            Ok(()) => {
                if t1 >= sh.warm_end && t1 <= sh.end {
                    sh.hist.record((t1 - t0).as_nanos() as u64);
                }
            }
            Err(e) => {
                sh.error(&e);
                if matches!(
                    e,
                    Error::ConnectionLoss | Error::SessionExpired | Error::Closed
                ) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
}

/// Connects `n` sessions to `addr`.
pub async fn connect_all(addr: &str, n: usize) -> Result<Vec<Client>> {
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let addr = addr.to_string();
        tasks.spawn(async move {
            Client::builder(&addr)
                .session_timeout(Duration::from_secs(30))
                .connect_timeout(Duration::from_secs(20))
                .connect()
                .await
                .map(|c| (i, c))
        });
    }
    let mut clients = Vec::with_capacity(n);
    while let Some(r) = tasks.join_next().await {
        let (i, c) = r
            .context("a connect task panicked")?
            .with_context(|| format!("connecting to {addr}"))?;
        clients.push((i, c));
    }
    clients.sort_by_key(|(i, _)| *i);
    Ok(clients.into_iter().map(|(_, c)| c).collect())
}

pub async fn close_all(clients: Vec<Client>) {
    let mut tasks = JoinSet::new();
    for c in clients {
        tasks.spawn(async move { c.close().await });
    }
    while tasks.join_next().await.is_some() {}
}

/// Connects `n` sessions, session `i` to `addrs[i % addrs.len()]` (round-robin over an
/// ensemble's servers; each connect string names one server, so a session stays where it was
/// put).
pub async fn connect_spread(addrs: &[String], n: usize) -> Result<Vec<Client>> {
    if addrs.is_empty() {
        bail!("no server address to connect to");
    }
    let mut per_server: Vec<std::vec::IntoIter<Client>> = Vec::with_capacity(addrs.len());
    for (s, addr) in addrs.iter().enumerate() {
        let count = (n + addrs.len() - 1 - s) / addrs.len();
        per_server.push(connect_all(addr, count).await?.into_iter());
    }
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        let next = per_server[i % addrs.len()].next();
        clients.push(next.context("a session is missing")?);
    }
    Ok(clients)
}

/// Runs one workload against a prepared tree under `prefix`, its sessions spread round-robin
/// over `addrs` (one address for a standalone server). `server_pids` (when the servers are
/// local) lets the run measure the servers' CPU use, summed, next to its own.
pub async fn run(
    addrs: &[String],
    prefix: &str,
    spec: &RunSpec,
    server_pids: &[u32],
    ticks_per_s: f64,
) -> Result<RunResult> {
    if spec.sessions == 0 || spec.window == 0 || spec.duration.is_zero() {
        bail!("sessions, window and duration must be positive");
    }
    let clients = connect_spread(addrs, spec.sessions).await?;
    let start = Instant::now() + Duration::from_millis(20);
    let warm_end = start + spec.warmup;
    let end = warm_end + spec.duration;
    let sh = Arc::new(Shared {
        workload: spec.workload,
        prefix: prefix.to_string(),
        data: value(),
        data_paths: (0..DATA_NODES).map(|i| data_path(prefix, i)).collect(),
        children_path: format!("{prefix}/k"),
        seq_path: format!("{prefix}/s/n-"),
        run_id: RUN_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        hist: Histogram::new(),
        errors: Mutex::new(BTreeMap::new()),
        warm_end,
        end,
    });
    tokio::time::sleep_until(tokio::time::Instant::from_std(start)).await;
    let mut tasks = JoinSet::new();
    for (s, client) in clients.iter().enumerate() {
        for w in 0..spec.window {
            tasks.spawn(worker(sh.clone(), client.clone(), s, w));
        }
    }
    tokio::time::sleep_until(tokio::time::Instant::from_std(warm_end)).await;
    let (c0, i0) = (CpuSnapshot::take(server_pids)?, Instant::now());
    tokio::time::sleep_until(tokio::time::Instant::from_std(end)).await;
    let (c1, i1) = (CpuSnapshot::take(server_pids)?, Instant::now());
    while let Some(r) = tasks.join_next().await {
        r.context("a load worker panicked")?;
    }
    close_all(clients).await;
    let secs = spec.duration.as_secs_f64();
    let h = &sh.hist;
    let us = |ns: f64| ns / 1000.0;
    let errors = sh.errors.lock().map(|m| m.clone()).unwrap_or_default();
    Ok(RunResult {
        ops: h.count(),
        secs,
        ops_per_sec: h.count() as f64 / secs,
        mean_us: us(h.mean_ns()),
        p50_us: us(h.quantile_ns(0.50)),
        p90_us: us(h.quantile_ns(0.90)),
        p99_us: us(h.quantile_ns(0.99)),
        p999_us: us(h.quantile_ns(0.999)),
        max_us: us(h.max_ns() as f64),
        errors,
        cpu: CpuUse::between(&c0, &c1, (i1 - i0).as_secs_f64(), ticks_per_s),
    })
}
