//! The ensemble part of the suite: a 3-server ZooKeeper and a 3-server Corral ensemble, both
//! running; the ensemble workloads at the ensemble levels with the sessions spread round-robin
//! over the three servers, alternating which kind runs first; each server's RSS after them;
//! then the failover rounds of each kind (see `failover`).

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::ensemble::Ensemble;
use crate::failover::{self, Failover};
use crate::load::{self, RunSpec};
use crate::server::Kind;
use crate::suite::{run_cell, Cell, Options, Target, PREFIX};

/// Servers per ensemble.
pub const SIZE: usize = 3;
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// What the ensemble part measured.
#[derive(Debug, Clone, Default)]
pub struct EnsembleResults {
    pub cells: Vec<Cell>,
    /// Each server's RSS after the workloads: (ZooKeeper, Corral).
    pub rss: Option<(Vec<u64>, Vec<u64>)>,
    /// (ZooKeeper, Corral).
    pub failover: Option<(Failover, Failover)>,
    /// Seconds from spawning the three servers to all serving with a leader.
    pub start_secs: (f64, f64),
}

/// Runs the ensemble part into `out` (what was measured before an error stays there).
pub async fn run(opts: &Options, work: &Path, ticks: f64, out: &mut EnsembleResults) -> Result<()> {
    let launch = &opts.launch;
    println!(
        "\n== {SIZE}-server ensembles: {} at {}, sessions round-robin over the servers (cpu \
         server: the {SIZE} processes together); then {} failover round(s) each",
        opts.ensemble_workloads
            .iter()
            .map(|w| w.name())
            .collect::<Vec<_>>()
            .join(", "),
        opts.ensemble_levels
            .iter()
            .map(|(s, w)| format!("{s}x{w}"))
            .collect::<Vec<_>>()
            .join(", "),
        opts.failovers
    );
    let dirs = [work.join("ens-zookeeper"), work.join("ens-corral")];
    let mut zk = Ensemble::create(Kind::ZooKeeper, &dirs[0], launch, SIZE)?;
    let mut corral = Ensemble::create(Kind::Corral, &dirs[1], launch, SIZE)?;
    let mut start_secs = [0.0; 2];
    for (i, ens) in [&mut zk, &mut corral].into_iter().enumerate() {
        let t = Instant::now();
        ens.start(launch, START_TIMEOUT).await?;
        start_secs[i] = t.elapsed().as_secs_f64();
        prepare(opts, ens, ticks).await?;
    }
    out.start_secs = (start_secs[0], start_secs[1]);
    println!(
        "  started and prepared; all serving with a leader {:.2} s (zookeeper), {:.2} s (corral) \
         after the spawn",
        start_secs[0], start_secs[1]
    );
    workloads(opts, [&zk, &corral], ticks, &mut out.cells).await?;
    out.rss = Some((zk.rss()?, corral.rss()?));
    if opts.failovers > 0 {
        println!(
            "\n== failover: {} writers per server (setData, one outstanding each), kill -9 of \
             the leader",
            failover::WRITERS_PER_SERVER
        );
        let zf = failover::measure(&mut zk, launch, opts.failovers).await?;
        let cf = failover::measure(&mut corral, launch, opts.failovers).await?;
        out.failover = Some((zf, cf));
    }
    zk.stop()?;
    corral.stop()?;
    for dir in dirs.iter().filter(|_| !opts.keep_work) {
        fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    Ok(())
}

/// Creates every ensemble workload's nodes through server 1, has every server catch up
/// (`sync`), then gives each workload an untimed burst (the JIT's warm-up).
async fn prepare(opts: &Options, ens: &Ensemble, ticks: f64) -> Result<()> {
    let addrs = ens.addrs();
    let client = load::connect_all(&addrs[0], 1).await?;
    for &w in &opts.ensemble_workloads {
        load::prepare(&client[0], w, PREFIX)
            .await
            .with_context(|| {
                format!("preparing {} on the {} ensemble", w.name(), ens.kind.name())
            })?;
    }
    load::close_all(client).await;
    let clients = load::connect_spread(&addrs, addrs.len()).await?;
    for c in &clients {
        c.sync(PREFIX)
            .await
            .with_context(|| format!("sync on the {} ensemble", ens.kind.name()))?;
    }
    load::close_all(clients).await;
    if !opts.jit_burst.is_zero() {
        for &workload in &opts.ensemble_workloads {
            let spec = RunSpec {
                workload,
                sessions: 10 * SIZE,
                window: 32,
                warmup: Duration::ZERO,
                duration: opts.jit_burst,
            };
            load::run(&addrs, PREFIX, &spec, &[], ticks).await?;
        }
    }
    Ok(())
}

async fn workloads(
    opts: &Options,
    [zk, corral]: [&Ensemble; 2],
    ticks: f64,
    cells: &mut Vec<Cell>,
) -> Result<()> {
    for &workload in &opts.ensemble_workloads {
        for &(sessions, window) in &opts.ensemble_levels {
            let spec = RunSpec {
                workload,
                sessions,
                window,
                warmup: opts.warmup,
                duration: opts.duration,
            };
            let order = if cells.len() & 1 == 0 {
                [zk, corral]
            } else {
                [corral, zk]
            };
            let target = |e: &Ensemble| Target {
                kind: e.kind,
                addrs: e.addrs(),
                pids: e.pids(),
                what: format!("the {} ensemble", e.kind.name()),
            };
            cells.push(run_cell(&spec, [target(order[0]), target(order[1])], ticks).await?);
        }
    }
    Ok(())
}
