//! `corral-bench`: load generator and benchmark driver, Corral vs Apache ZooKeeper 3.8.
//!
//! ```text
//! corral-bench suite --corral target/release/corral --out target/bench [--quick] [options]
//! corral-bench run --addr 127.0.0.1:2181 --workload getData [--sessions 10] [--window 32]
//!                  [--warmup 2] [--duration 10]
//! corral-bench apply [--txns 100000]
//! ```
//! `suite` (what `cargo xtask bench` runs) starts both servers itself, runs every workload at
//! every concurrency level on each, alternating, then measures memory and restart time, and
//! writes results.md, results.json and chart.svg into `--out`. `run` measures one workload
//! against a server that is already running. `apply` times the tree alone (corral-datatree's
//! `DataTree::apply` per create / setData / delete), no server, no I/O.
//!
//! Suite options: `--workloads a,b`, `--levels 1x1,10x32`, `--warmup S`, `--duration S`,
//! `--jit-burst S`, `--znodes N`, `--watches N`, `--restarts N`, `--heap 3g` (ZooKeeper's
//! -Xmx), `--java PATH`, `--only throughput|memory|ensemble|snap-rejoin|import`, `--threads N`
//! (the load generator's runtime threads; default 1, a current-thread runtime), `--fsync-loop S` (each of
//! the four serial fsync loops around the throughput workloads; 0 = none), `--failovers N`
//! (kill -9 rounds per 3-server ensemble; 0 = none), `--ensemble-workloads a,b`,
//! `--ensemble-levels 3x1,30x32`, `--snap-znodes N` (the SNAP rejoin row's znodes), `--keep-work`
//! (keep out/work after a successful run: the ensembles' directories and server logs).
//!
//! Last, the migration row (`import_bench`): `--import-znodes N` (default 1,000,000; 20,000
//! with `--quick`) written into ZooKeeper, `kill -9`, `corral import` timed against
//! ZooKeeper's own restart on the same data.
//!
//! Between the standalone throughput workloads and memory, a 3-server ensemble of each kind
//! runs create, setData, getData and mixed with the sessions spread round-robin over the
//! servers, then the failover rounds (`--quick`: mixed only, one round); then a follower's
//! SNAP rejoin on a loaded 3-server ensemble of each kind (`snap_rejoin`; 1,000,000 znodes,
//! `--quick` 20,000; alone: `--only snap-rejoin`).

mod apply;
mod ensemble;
mod ensemble_suite;
mod failover;
mod fsync;
mod hist;
mod import_bench;
mod json;
mod load;
mod procfs;
mod report;
mod server;
mod snap_rejoin;
mod suite;

use crate::json::Render;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::load::{RunSpec, Workload};
use crate::server::Launch;

/// Runtime threads of the load generator (see `--threads`). One current-thread runtime costs
/// the least CPU per request on these 2-core machines (measured: about 2 µs per getData against
/// 8 µs with a 2-worker multi-thread runtime, whose cross-thread wake-ups dominate), and leaves
/// the other core to the server.
const DEFAULT_THREADS: usize = 1;

const USAGE: &str = "\
usage:
  corral-bench suite --corral BIN --out DIR [--quick] [--workloads a,b] [--levels 1x1,10x32]
                     [--warmup S] [--duration S] [--jit-burst S] [--znodes N] [--watches N]
                     [--restarts N] [--heap 3g] [--java PATH]
                     [--only throughput|memory|ensemble|snap-rejoin|import] [--threads N]
                     [--fsync-loop S] [--failovers N] [--ensemble-workloads a,b]
                     [--ensemble-levels 3x1,30x32] [--snap-znodes N] [--import-znodes N]
                     [--keep-work]
  corral-bench run --addr HOST:PORT --workload NAME [--sessions N] [--window N]
                   [--warmup S] [--duration S] [--server-pid PID] [--threads N]
  corral-bench apply [--txns N]
--threads N: the load generator's tokio threads (default 1: a current-thread runtime)
--fsync-loop S: each serial fsync loop (the disk's raw fsync rate; before and after the
  throughput workloads, CPUs idle and kept busy: four) (default 3, 1 with --quick; 0: none)
workloads: create, create-seq, setData, getData, getChildren, exists, mixed, lock";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // `--threads N` (anywhere): the load generator's runtime threads; 1 = current-thread.
    let mut threads = DEFAULT_THREADS;
    if let Some(i) = args.iter().position(|a| a == "--threads") {
        match args.get(i + 1).and_then(|v| v.parse::<usize>().ok()) {
            Some(n) if n > 0 => threads = n,
            _ => {
                eprintln!("corral-bench: --threads takes a positive number");
                return ExitCode::from(2);
            }
        }
        args.drain(i..i + 2);
    }
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("corral-bench: starting the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => return Err(anyhow::anyhow!("installing a SIGTERM handler: {e}")),
            };
        tokio::select! {
            r = dispatch(&args, threads) => r,
            // Dropping the running suite kills the servers it started (by pid).
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
            _ = term.recv() => Err(anyhow::anyhow!("terminated")),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("corral-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(args: &[String], threads: usize) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("suite") => suite_cmd(&args[1..], threads).await,
        Some("run") => run_cmd(&args[1..]).await,
        Some("apply") => {
            let n = match args.get(1..) {
                Some([flag, n]) if flag == "--txns" => n.parse().context("--txns")?,
                Some([]) | None => 100_000,
                _ => bail!("{USAGE}"),
            };
            apply::run(n);
            Ok(())
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => bail!("{USAGE}"),
    }
}

/// `--flag value` pairs and the bare `--quick` and `--keep-work`.
struct Flags {
    pairs: Vec<(String, String)>,
    quick: bool,
    keep_work: bool,
}

impl Flags {
    fn parse(args: &[String]) -> Result<Flags> {
        let mut pairs = Vec::new();
        let mut quick = false;
        let mut keep_work = false;
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--quick" {
                quick = true;
                continue;
            }
            if flag == "--keep-work" {
                keep_work = true;
                continue;
            }
            if !flag.starts_with("--") {
                bail!("unexpected argument `{flag}`\n{USAGE}");
            }
            let value = it
                .next()
                .with_context(|| format!("`{flag}` needs a value"))?;
            pairs.push((flag.trim_start_matches("--").to_string(), value.clone()));
        }
        Ok(Flags {
            pairs,
            quick,
            keep_work,
        })
    }

    fn take(&mut self, name: &str) -> Option<String> {
        let i = self.pairs.iter().position(|(k, _)| k == name)?;
        Some(self.pairs.remove(i).1)
    }

    fn num<T: std::str::FromStr>(&mut self, name: &str) -> Result<Option<T>> {
        match self.take(name) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| anyhow::anyhow!("--{name} takes a number, got `{v}`")),
        }
    }

    fn secs(&mut self, name: &str) -> Result<Option<Duration>> {
        Ok(self
            .num::<f64>(name)?
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64))
    }

    fn finish(self) -> Result<()> {
        if let Some((k, _)) = self.pairs.first() {
            bail!("unknown option `--{k}`\n{USAGE}");
        }
        Ok(())
    }
}

async fn suite_cmd(args: &[String], threads: usize) -> Result<()> {
    let mut f = Flags::parse(args)?;
    let corral_bin = PathBuf::from(f.take("corral").context("--corral BIN is required")?);
    let out = PathBuf::from(f.take("out").context("--out DIR is required")?);
    let corral_bin = fs::canonicalize(&corral_bin)
        .with_context(|| format!("the Corral binary {}", corral_bin.display()))?;
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let out = fs::canonicalize(&out).with_context(|| format!("resolving {}", out.display()))?;
    let heap = f.take("heap").unwrap_or_else(|| "3g".into());
    let launch = Launch {
        corral_bin,
        java: f.take("java").unwrap_or_else(|| "java".into()),
        jvm_flags: vec![format!("-Xmx{heap}")],
        tick_time_ms: 2000,
        snap_count: 100_000,
    };
    let mut opts = suite::Options::new(f.quick, out.clone(), launch);
    opts.loadgen_threads = threads;
    opts.keep_work = f.keep_work;
    if let Some(list) = f.take("workloads") {
        opts.workloads = parse_workloads(&list)?;
    }
    if let Some(list) = f.take("levels") {
        opts.levels = parse_levels(&list)?;
    }
    if let Some(list) = f.take("ensemble-workloads") {
        opts.ensemble_workloads = parse_workloads(&list)?;
    }
    if let Some(list) = f.take("ensemble-levels") {
        opts.ensemble_levels = parse_levels(&list)?;
    }
    if let Some(d) = f.secs("warmup")? {
        opts.warmup = d;
    }
    if let Some(d) = f.secs("duration")? {
        opts.duration = d;
    }
    if let Some(d) = f.secs("jit-burst")? {
        opts.jit_burst = d;
    }
    if let Some(d) = f.secs("fsync-loop")? {
        opts.fsync_loop = d;
    }
    if let Some(n) = f.num("znodes")? {
        opts.znodes = n;
    }
    if let Some(n) = f.num("watches")? {
        opts.watches = n;
    }
    if let Some(n) = f.num("restarts")? {
        opts.restarts = n;
    }
    if let Some(n) = f.num("failovers")? {
        opts.failovers = n;
    }
    if let Some(n) = f.num("snap-znodes")? {
        opts.snap_znodes = n;
    }
    if let Some(n) = f.num("import-znodes")? {
        opts.import_znodes = n;
    }
    match f.take("only").as_deref() {
        None => {}
        Some(part @ ("throughput" | "memory" | "ensemble" | "snap-rejoin" | "import")) => {
            opts.throughput = part == "throughput";
            opts.memory = part == "memory";
            opts.ensemble = part == "ensemble";
            opts.snap_rejoin = part == "snap-rejoin";
            opts.import = part == "import";
        }
        Some(other) => {
            bail!("--only takes throughput, memory, ensemble, snap-rejoin or import, got `{other}`")
        }
    }
    f.finish()?;
    if opts.duration.is_zero() {
        bail!("--duration must be positive");
    }
    if opts.import && opts.import_znodes == 0 {
        bail!("the import row needs --import-znodes > 0");
    }
    if opts.memory && (opts.znodes == 0 || opts.watches > opts.znodes || opts.restarts == 0) {
        bail!("memory needs --znodes > 0, --watches <= --znodes and --restarts > 0");
    }
    if opts.snap_rejoin && opts.snap_znodes == 0 {
        bail!("the SNAP rejoin row needs --snap-znodes > 0");
    }
    for p in [server::ZK_JAR, server::SLF4J_NOP] {
        if !std::path::Path::new(p).exists() {
            bail!("{p} is missing (`cargo xtask bench` installs Apache ZooKeeper)");
        }
    }

    let results = suite::run(opts).await?;
    let md = report::markdown(&results);
    let files = [
        ("results.md", md.clone()),
        ("results.json", report::json(&results).render()),
        ("chart.svg", report::svg(&results)),
    ];
    for (name, text) in files {
        let path = out.join(name);
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    println!("\n{md}");
    println!(
        "wrote {0}/results.md, {0}/results.json, {0}/chart.svg",
        out.display()
    );
    match &results.error {
        None => Ok(()),
        Some(e) => bail!("the benchmark stopped early: {e}"),
    }
}

fn parse_workloads(list: &str) -> Result<Vec<Workload>> {
    list.split(',').map(Workload::parse).collect()
}

/// `1x1,10x32`: (sessions, window) pairs.
fn parse_levels(list: &str) -> Result<Vec<(usize, usize)>> {
    list.split(',')
        .map(|l| {
            let (s, w) = l
                .split_once('x')
                .with_context(|| format!("a level is SESSIONSxWINDOW, got `{l}`"))?;
            let s: usize = s.parse().with_context(|| format!("in level `{l}`"))?;
            let w: usize = w.parse().with_context(|| format!("in level `{l}`"))?;
            if s == 0 || w == 0 {
                bail!("a level needs at least one session and one request, got `{l}`");
            }
            Ok((s, w))
        })
        .collect()
}

async fn run_cmd(args: &[String]) -> Result<()> {
    let mut f = Flags::parse(args)?;
    let addr = f.take("addr").context("--addr HOST:PORT is required")?;
    let workload = Workload::parse(&f.take("workload").context("--workload is required")?)?;
    let spec = RunSpec {
        workload,
        sessions: f.num("sessions")?.unwrap_or(10),
        window: f.num("window")?.unwrap_or(32),
        warmup: f.secs("warmup")?.unwrap_or(Duration::from_secs(2)),
        duration: f.secs("duration")?.unwrap_or(Duration::from_secs(10)),
    };
    let pid = f.num::<u32>("server-pid")?;
    f.finish()?;
    let prefix = format!("/corral-bench-{}", std::process::id());
    let clients = load::connect_all(&addr, 1).await?;
    load::prepare(&clients[0], workload, &prefix).await?;
    let pids: Vec<u32> = pid.into_iter().collect();
    let r = load::run(
        std::slice::from_ref(&addr),
        &prefix,
        &spec,
        &pids,
        procfs::clock_ticks(),
    )
    .await?;
    println!(
        "{} {}x{}: {:.0} ops/s, p50 {:.3} ms, p99 {:.3} ms, p999 {:.3} ms, errors {:?}; cpu: \
         load generator {:.2} cores{} (the nodes under {prefix} are left in place)",
        workload.name(),
        spec.sessions,
        spec.window,
        r.ops_per_sec,
        r.p50_us / 1000.0,
        r.p99_us / 1000.0,
        r.p999_us / 1000.0,
        r.errors,
        r.cpu.bench_cores,
        pid.map(|_| format!(", server {:.2} cores", r.cpu.server_cores))
            .unwrap_or_default(),
    );
    load::close_all(clients).await;
    Ok(())
}

/// The current UTC time from `date`, else seconds since the epoch.
pub fn utc_now() -> String {
    command_line(&["date", "-u", "+%Y-%m-%dT%H:%M:%SZ"]).unwrap_or_else(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        format!("unix {secs}")
    })
}

/// The first line a command prints (stdout, else stderr), if it runs.
pub fn command_line(argv: &[&str]) -> Option<String> {
    let (prog, args) = argv.split_first()?;
    let out = Command::new(prog).args(args).output().ok()?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .map(|l| l.trim().to_string())
}

/// The git commit of the working directory and whether crates/ has local changes (what the
/// Corral binary was presumably built from); `CORRAL_BENCH_SOURCE` overrides it (for a build
/// from an exported tree without .git).
pub fn git_state() -> String {
    if let Ok(s) = std::env::var("CORRAL_BENCH_SOURCE") {
        if !s.is_empty() {
            return s;
        }
    }
    let Some(rev) = command_line(&["git", "rev-parse", "--short", "HEAD"]) else {
        return "an unknown revision (no git)".into();
    };
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--", "crates"])
        .output()
        .map(|o| o.stdout.iter().filter(|b| **b == b'\n').count())
        .unwrap_or(0);
    if dirty == 0 {
        format!("commit {rev}")
    } else {
        format!("commit {rev} with {dirty} changed file(s) under crates/")
    }
}
