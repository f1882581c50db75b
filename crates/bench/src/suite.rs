//! The whole comparison: every workload at every concurrency level against Apache ZooKeeper
//! and Corral, alternating which server goes first; then memory (RSS after loading N znodes
//! and with W watches set) and restart time (start to first served read) on each server's
//! own data directory. Around the throughput workloads, a serial fsync loop on the same
//! filesystem measures the disk's raw fsync rate (see `fsync`). Writes results.md,
//! results.json and chart.svg.

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use tokio::task::JoinSet;

use crate::ensemble_suite::EnsembleResults;
use crate::fsync::{Cpus, FsyncProbe, When};
use crate::load::{self, RunResult, RunSpec, Workload};
use crate::report;
use crate::server::{mntr_value, Kind, Launch, Site};
use crate::snap_rejoin::{SnapOptions, SnapResults};

#[derive(Debug, Clone)]
pub struct Options {
    pub quick: bool,
    pub out: PathBuf,
    pub launch: Launch,
    pub workloads: Vec<Workload>,
    /// (sessions, outstanding requests per session)
    pub levels: Vec<(usize, usize)>,
    pub warmup: Duration,
    pub duration: Duration,
    /// An untimed burst of each workload against each freshly started server (JIT warm-up).
    pub jit_burst: Duration,
    pub znodes: usize,
    pub watches: usize,
    pub restarts: usize,
    pub throughput: bool,
    pub memory: bool,
    /// The 3-server ensemble part (see `ensemble_suite`).
    pub ensemble: bool,
    /// The migration row (see `import_bench`) and its znodes.
    pub import: bool,
    pub import_znodes: usize,
    pub ensemble_workloads: Vec<Workload>,
    /// (sessions, window) of the ensemble runs; sessions go round-robin over the servers.
    pub ensemble_levels: Vec<(usize, usize)>,
    /// Failover rounds per kind (0: none).
    pub failovers: usize,
    /// The SNAP rejoin row (see `snap_rejoin`) and its znodes.
    pub snap_rejoin: bool,
    pub snap_znodes: usize,
    /// Keep `out/work` (the servers' directories and logs) after a successful run.
    pub keep_work: bool,
    /// The load generator's runtime threads (1: current-thread), for the report.
    pub loadgen_threads: usize,
    /// How long each fsync loop runs (zero: no loop, no group-commit ratios). Four run: before
    /// and after the throughput workloads, each with the CPUs idle and kept busy.
    pub fsync_loop: Duration,
}

impl Options {
    pub fn new(quick: bool, out: PathBuf, launch: Launch) -> Options {
        let (ensemble_workloads, ensemble_levels, failovers) = if quick {
            (vec![Workload::Mixed], vec![(3, 8)], 1)
        } else {
            (
                vec![
                    Workload::Create,
                    Workload::SetData,
                    Workload::GetData,
                    Workload::Mixed,
                ],
                vec![(3, 1), (30, 32)],
                5,
            )
        };
        let (levels, warmup, duration, jit_burst, znodes, watches, restarts, fsync_loop) = if quick
        {
            (
                vec![(1, 1), (10, 16)],
                Duration::from_millis(200),
                Duration::from_millis(600),
                Duration::ZERO,
                10_000,
                1_000,
                1,
                Duration::from_secs(1),
            )
        } else {
            (
                vec![(1, 1), (1, 32), (10, 32), (100, 32)],
                Duration::from_secs(2),
                Duration::from_secs(10),
                Duration::from_secs(3),
                1_000_000,
                100_000,
                3,
                Duration::from_secs(3),
            )
        };
        Options {
            quick,
            out,
            launch,
            workloads: Workload::ALL.to_vec(),
            levels,
            warmup,
            duration,
            jit_burst,
            znodes,
            watches,
            restarts,
            throughput: true,
            memory: true,
            ensemble: true,
            import: true,
            import_znodes: if quick { 20_000 } else { 1_000_000 },
            ensemble_workloads,
            ensemble_levels,
            failovers,
            snap_rejoin: true,
            snap_znodes: if quick { 20_000 } else { 1_000_000 },
            keep_work: false,
            loadgen_threads: 1,
            fsync_loop,
        }
    }
}

/// Both servers' figures for one workload at one level.
#[derive(Debug, Clone)]
pub struct Cell {
    pub workload: Workload,
    pub sessions: usize,
    pub window: usize,
    /// Which server ran first.
    pub first: Kind,
    pub zookeeper: RunResult,
    pub corral: RunResult,
}

impl Cell {
    /// The cell of the two runs in `got` (one of each kind; `first` ran first).
    pub fn from_runs(
        workload: Workload,
        sessions: usize,
        window: usize,
        first: Kind,
        got: Vec<(Kind, RunResult)>,
    ) -> Result<Cell> {
        let take = |k: Kind| {
            got.iter()
                .find(|(kind, _)| *kind == k)
                .map(|(_, r)| r.clone())
                .context("a server's result is missing")
        };
        Ok(Cell {
            workload,
            sessions,
            window,
            first,
            zookeeper: take(Kind::ZooKeeper)?,
            corral: take(Kind::Corral)?,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct Memory {
    pub rss_idle: u64,
    pub rss_loaded: u64,
    pub rss_watches: u64,
    pub load_secs: f64,
    pub watch_secs: f64,
    pub znode_count: Option<u64>,
    pub watch_count: Option<u64>,
    pub disk_apparent: u64,
    pub disk_allocated: u64,
    pub files: Vec<(String, u64)>,
}

#[derive(Debug, Clone, Default)]
pub struct Restart {
    pub ready_secs: Vec<f64>,
    pub first_read_secs: Vec<f64>,
    pub rss_after: Vec<u64>,
    pub znode_count: Option<u64>,
}

pub struct Results {
    pub opts: Options,
    pub started_utc: String,
    pub cells: Vec<Cell>,
    /// The disk's raw fsync rate around the throughput workloads (none if they did not run or
    /// the loop was switched off).
    pub fsync: Option<FsyncProbe>,
    pub memory: Option<(Memory, Memory)>,
    pub restart: Option<(Restart, Restart)>,
    /// The 3-server ensembles' figures (none if that part did not run).
    pub ensemble: Option<EnsembleResults>,
    /// A follower's SNAP rejoin of each kind (none if that row did not run).
    pub snap_rejoin: Option<SnapResults>,
    /// The migration row (none if it did not run).
    pub import: Option<crate::import_bench::ImportResults>,
    pub total_secs: f64,
    /// Why the run stopped early (what ran before is still reported).
    pub error: Option<String>,
}

/// Where the workloads' nodes go (standalone and ensemble alike).
pub(crate) const PREFIX: &str = "/b";
const MEM_PREFIX: &str = "/mem";
const MEM_FANOUT: usize = 1_000;

fn mem_path(i: usize) -> String {
    format!("{MEM_PREFIX}/p{}/n{}", i / MEM_FANOUT, i % MEM_FANOUT)
}

pub async fn run(opts: Options) -> Result<Results> {
    let t0 = Instant::now();
    let started_utc = crate::utc_now();
    let work = opts.out.join("work");
    fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let ticks = crate::procfs::clock_ticks();
    let mut results = Results {
        opts: opts.clone(),
        started_utc,
        cells: Vec::new(),
        fsync: None,
        memory: None,
        restart: None,
        ensemble: None,
        snap_rejoin: None,
        import: None,
        total_secs: 0.0,
        error: None,
    };
    let mut outcome = Ok(());
    if opts.throughput {
        let mut probe = None;
        if !opts.fsync_loop.is_zero() {
            let p = FsyncProbe::new(work.clone());
            println!(
                "\n== raw fsync rate: serial loop of {}-byte writes each followed by fdatasync, \
                 on {}",
                crate::fsync::RECORD_BYTES,
                p.filesystem()
            );
            probe = Some(p);
        }
        if let Some(p) = &mut probe {
            outcome = fsync_loop(&opts, p, When::BeforeWorkloads).await;
        }
        if outcome.is_ok() {
            outcome = throughput(&opts, &work, ticks, &mut results.cells).await;
        }
        // Also after a failed workload: the rows measured before it still get their ratios.
        if let Some(p) = probe.as_mut().filter(|p| !p.loops.is_empty()) {
            println!();
            let after = fsync_loop(&opts, p, When::AfterWorkloads).await;
            outcome = outcome.and(after);
        }
        results.fsync = probe;
    }
    if opts.ensemble && outcome.is_ok() {
        let mut ens = EnsembleResults::default();
        outcome = crate::ensemble_suite::run(&opts, &work, ticks, &mut ens).await;
        results.ensemble = Some(ens);
    }
    if opts.snap_rejoin && outcome.is_ok() {
        let snap = SnapOptions::new(opts.snap_znodes, opts.launch.snap_count, opts.quick);
        let mut snap = SnapResults::new(snap);
        outcome = crate::snap_rejoin::run(&opts.launch, &work, opts.keep_work, &mut snap).await;
        results.snap_rejoin = Some(snap);
    }
    if opts.memory && outcome.is_ok() {
        match memory_and_restart(&opts, &work).await {
            Ok((mem, restart)) => {
                results.memory = Some(mem);
                results.restart = Some(restart);
            }
            Err(e) => outcome = Err(e),
        }
    }
    if opts.import && outcome.is_ok() {
        match crate::import_bench::run(&opts.launch, &work, opts.import_znodes, opts.keep_work)
            .await
        {
            Ok(r) => results.import = Some(r),
            Err(e) => outcome = Err(e),
        }
    }
    // Kept after a failure: the servers' logs are in there.
    if outcome.is_ok() && !opts.keep_work {
        if let Err(e) = fs::remove_dir_all(&work) {
            eprintln!("note: could not remove {}: {e}", work.display());
        }
    }
    results.total_secs = t0.elapsed().as_secs_f64();
    results.error = outcome.err().map(|e| format!("{e:#}"));
    Ok(results)
}

/// The fsync loops of one moment, CPUs idle then kept busy, in the work directory (the
/// filesystem of the servers' data directories) on a blocking thread; into `probe`.
async fn fsync_loop(opts: &Options, probe: &mut FsyncProbe, when: When) -> Result<()> {
    for cpus in Cpus::BOTH {
        let (dir, duration) = (probe.dir.clone(), opts.fsync_loop);
        let l = tokio::task::spawn_blocking(move || {
            crate::fsync::measure(&dir, when, cpus, duration, crate::fsync::MAX_FSYNCS)
        })
        .await
        .context("the fsync loop panicked")?
        .context("the fsync loop")?;
        println!(
            "  {:<21} CPUs {:<9} {:>7} fsyncs in {:.2} s = {:>7.0} fsyncs/s  p50 {:>7.3} ms  \
             p99 {:>7.3} ms",
            when.name(),
            cpus.name(),
            l.fsyncs,
            l.secs,
            l.per_sec(),
            l.p50_us / 1000.0,
            l.p99_us / 1000.0,
        );
        probe.loops.push(l);
    }
    Ok(())
}

async fn throughput(
    opts: &Options,
    work: &std::path::Path,
    ticks: f64,
    cells: &mut Vec<Cell>,
) -> Result<()> {
    let launch = &opts.launch;
    let mut cell_no = 0usize;
    for &workload in &opts.workloads {
        println!("\n== {} ({})", workload.name(), workload.describe());
        let zk_site = Site::create(Kind::ZooKeeper, work.join("tp-zookeeper"), launch)?;
        let corral_site = Site::create(Kind::Corral, work.join("tp-corral"), launch)?;
        let zk = zk_site.start(launch, Duration::from_secs(60)).await?;
        let corral = corral_site.start(launch, Duration::from_secs(60)).await?;
        for server in [&zk, &corral] {
            let client = load::connect_all(&server.addr, 1).await?;
            load::prepare(&client[0], workload, PREFIX)
                .await
                .with_context(|| {
                    format!("preparing {} on {}", workload.name(), server.kind.name())
                })?;
            load::close_all(client).await;
            if !opts.jit_burst.is_zero() {
                let spec = RunSpec {
                    workload,
                    sessions: 10,
                    window: 32,
                    warmup: Duration::ZERO,
                    duration: opts.jit_burst,
                };
                load::run(
                    std::slice::from_ref(&server.addr),
                    PREFIX,
                    &spec,
                    &[],
                    ticks,
                )
                .await?;
            }
        }
        for &(sessions, window) in &opts.levels {
            let spec = RunSpec {
                workload,
                sessions,
                window,
                warmup: opts.warmup,
                duration: opts.duration,
            };
            let order = if cell_no & 1 == 0 {
                [&zk, &corral]
            } else {
                [&corral, &zk]
            };
            cell_no += 1;
            let target = |s: &crate::server::Server| Target {
                kind: s.kind,
                addrs: vec![s.addr.clone()],
                pids: vec![s.pid],
                what: s.kind.name().to_string(),
            };
            cells.push(run_cell(&spec, [target(order[0]), target(order[1])], ticks).await?);
        }
        zk.stop()?;
        corral.stop()?;
        for dir in [&zk_site.dir, &corral_site.dir] {
            fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    Ok(())
}

/// What a cell's run goes to: one server, or an ensemble's servers.
pub(crate) struct Target {
    pub kind: Kind,
    /// The client addresses (sessions round-robin over them).
    pub addrs: Vec<String>,
    /// The server processes, for their CPU use.
    pub pids: Vec<u32>,
    /// For error messages: `zookeeper`, `the corral ensemble`.
    pub what: String,
}

/// Runs `spec` on both targets, in this order, printing each run.
pub(crate) async fn run_cell(spec: &RunSpec, order: [Target; 2], ticks: f64) -> Result<Cell> {
    let mut got: Vec<(Kind, RunResult)> = Vec::new();
    for t in &order {
        let r = load::run(&t.addrs, PREFIX, spec, &t.pids, ticks)
            .await
            .with_context(|| {
                format!(
                    "{} with {}x{} on {}",
                    spec.workload.name(),
                    spec.sessions,
                    spec.window,
                    t.what
                )
            })?;
        print_run(spec.workload, spec.sessions, spec.window, t.kind, &r);
        got.push((t.kind, r));
    }
    Cell::from_runs(
        spec.workload,
        spec.sessions,
        spec.window,
        order[0].kind,
        got,
    )
}

/// One measured run's line on stdout.
pub(crate) fn print_run(
    workload: Workload,
    sessions: usize,
    window: usize,
    kind: Kind,
    r: &RunResult,
) {
    println!(
        "  {:<11} {:>3} x {:<3} {:<9} {:>9.0} ops/s  p50 {:>8.3} ms  p99 {:>8.3} ms  \
         p999 {:>8.3} ms  cpu server {:.2} loadgen {:.2} other {:.2} idle {:.2}{}",
        workload.name(),
        sessions,
        window,
        kind.name(),
        r.ops_per_sec,
        r.p50_us / 1000.0,
        r.p99_us / 1000.0,
        r.p999_us / 1000.0,
        r.cpu.server_cores,
        r.cpu.bench_cores,
        r.cpu.other_cores,
        r.cpu.idle_cores,
        if r.error_count() > 0 {
            format!("  errors {:?}", r.errors)
        } else {
            String::new()
        }
    );
}

/// Sets `count` data watches (exists) on distinct loaded znodes, spread over `sessions`
/// sessions, which are returned open (the watches live as long as they do).
async fn set_watches(
    addr: &str,
    count: usize,
    sessions: usize,
) -> Result<Vec<corral_client::Client>> {
    let clients = load::connect_all(addr, sessions).await?;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for client in &clients {
        for _ in 0..64 {
            let (client, next) = (client.clone(), next.clone());
            tasks.spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= count {
                        return Ok::<_, corral_client::Error>(());
                    }
                    let (stat, _watch) = client.exists_w(&mem_path(i)).await?;
                    if stat.is_none() {
                        return Err(corral_client::Error::Protocol(format!(
                            "{} does not exist",
                            mem_path(i)
                        )));
                    }
                }
            });
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.context("a watch task panicked")?
            .context("setting watches")?;
    }
    Ok(clients)
}

async fn memory_and_restart(
    opts: &Options,
    work: &std::path::Path,
) -> Result<((Memory, Memory), (Restart, Restart))> {
    let launch = &opts.launch;
    let n = opts.znodes;
    let parents = n.div_ceil(MEM_FANOUT);
    println!(
        "\n== memory: {n} znodes of {} bytes ({parents} parents x {MEM_FANOUT}), then {} watches",
        load::VALUE_SIZE,
        opts.watches
    );
    let mut sites = Vec::new();
    let mut mems = Vec::new();
    for kind in [Kind::ZooKeeper, Kind::Corral] {
        let site = Site::create(kind, work.join(format!("mem-{}", kind.name())), launch)?;
        let server = site.start(launch, Duration::from_secs(60)).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut m = Memory {
            rss_idle: server.rss()?,
            ..Memory::default()
        };
        let clients = load::connect_all(&server.addr, 4).await?;
        load::create_many(
            &clients[..1],
            1,
            1,
            Bytes::new(),
            Arc::new(|_| MEM_PREFIX.to_string()),
        )
        .await?;
        load::create_many(
            &clients,
            parents,
            64,
            Bytes::new(),
            Arc::new(|i| format!("{MEM_PREFIX}/p{i}")),
        )
        .await?;
        m.load_secs = load::create_many(&clients, n, 256, load::value(), Arc::new(mem_path))
            .await?
            .as_secs_f64();
        load::close_all(clients).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        m.rss_loaded = server.rss()?;
        let t = Instant::now();
        let watchers = set_watches(&server.addr, opts.watches, 10).await?;
        m.watch_secs = t.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs(1)).await;
        m.rss_watches = server.rss()?;
        m.znode_count = mntr_value(&server.addr, "zk_znode_count").await?;
        m.watch_count = mntr_value(&server.addr, "zk_watch_count").await?;
        load::close_all(watchers).await;
        server.stop()?;
        (m.disk_apparent, m.disk_allocated) = crate::procfs::disk_usage(&site.data_dir())?;
        m.files = list_files(&site.data_dir())?;
        println!(
            "  {:<9} load {:.1} s ({:.0} creates/s); RSS idle {} loaded {} with watches {}; \
             mntr znodes {:?} watches {:?}; disk {} allocated",
            kind.name(),
            m.load_secs,
            n as f64 / m.load_secs,
            report::mib(m.rss_idle),
            report::mib(m.rss_loaded),
            report::mib(m.rss_watches),
            m.znode_count,
            m.watch_count,
            report::mib(m.disk_allocated),
        );
        sites.push(site);
        mems.push(m);
    }

    println!(
        "\n== restart on the data written above ({} rounds)",
        opts.restarts
    );
    let mut restarts = [Restart::default(), Restart::default()];
    for round in 0..opts.restarts {
        let order = if round & 1 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let site = &sites[i];
            let mut server = site.spawn(launch)?;
            let ready = server.wait_ready(Duration::from_secs(600)).await?;
            let client = load::connect_all(&server.addr, 1).await?;
            let last = mem_path(n - 1);
            client[0]
                .get_data(&last)
                .await
                .with_context(|| format!("reading {last} after the restart"))?;
            let first_read = server.started.elapsed();
            let r = &mut restarts[i];
            r.ready_secs.push(ready.as_secs_f64());
            r.first_read_secs.push(first_read.as_secs_f64());
            tokio::time::sleep(Duration::from_secs(1)).await;
            r.rss_after.push(server.rss()?);
            r.znode_count = mntr_value(&server.addr, "zk_znode_count").await?;
            load::close_all(client).await;
            println!(
                "  {:<9} round {}: srvr ready {:.3} s, first read {:.3} s, RSS {}",
                site.kind.name(),
                round + 1,
                ready.as_secs_f64(),
                first_read.as_secs_f64(),
                report::mib(*r.rss_after.last().unwrap_or(&0)),
            );
            server.stop()?;
        }
    }
    for site in &sites {
        fs::remove_dir_all(&site.dir)
            .with_context(|| format!("removing {}", site.dir.display()))?;
    }
    let [zr, cr] = restarts;
    let mut mems = mems.into_iter();
    let zm = mems.next().context("no ZooKeeper memory figures")?;
    let cm = mems.next().context("no Corral memory figures")?;
    Ok(((zm, cm), (zr, cr)))
}

fn list_files(dir: &std::path::Path) -> Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let entry = entry.with_context(|| format!("listing {}", d.display()))?;
            let meta = entry
                .metadata()
                .with_context(|| format!("stat {}", entry.path().display()))?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                let rel = entry
                    .path()
                    .strip_prefix(dir)
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                out.push((rel, meta.len()));
            }
        }
    }
    out.sort();
    Ok(out)
}
