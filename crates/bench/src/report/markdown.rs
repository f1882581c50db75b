//! results.md: the run's set-up, then throughput and latency, group commit, CPU, memory, disk
//! and restart, both systems side by side with Corral / ZooKeeper per row.

use std::fmt::Write;

use super::figures::{
    loadgen_bound, loadgen_us_per_op, median, median_u64, ms, ratio, server_us_per_op,
    LOADGEN_BOUND,
};
use super::group_commit;
use crate::load::Workload;
use crate::server::Kind;
use crate::suite::{Cell, Memory, Restart, Results};

pub fn markdown(res: &Results) -> String {
    let mut md = header(res);
    if let Some(e) = &res.error {
        let _ = writeln!(
            md,
            "**The run stopped early** (what follows is what was measured before): {e}\n"
        );
    }
    if !res.cells.is_empty() {
        throughput(&mut md, res);
    }
    group_commit::markdown(&mut md, res);
    if !res.cells.is_empty() {
        cpu(&mut md, res);
        md.push_str(&bottleneck_note(res));
    }
    if let Some(e) = &res.ensemble {
        super::ensemble::markdown(&mut md, res, e);
    }
    if let Some(s) = &res.snap_rejoin {
        super::snap_rejoin::markdown(&mut md, s);
    }
    if let (Some(memory), Some(restart)) = (&res.memory, &res.restart) {
        memory_and_restart(&mut md, res, memory, restart);
    }
    if let Some(import) = &res.import {
        crate::import_bench::markdown(&mut md, import);
    }
    md
}

/// The title and how the run was set up.
fn header(res: &Results) -> String {
    let o = &res.opts;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Corral vs Apache ZooKeeper 3.8 ({}run, {})\n",
        if o.quick { "--quick " } else { "" },
        res.started_utc
    );
    let _ = writeln!(
        md,
        "Machine: {} cores (shared: other builds and tests may run; see the CPU table's \
         `other` column). Total time {:.0} s.\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        res.total_secs
    );
    let _ = writeln!(
        md,
        "- Corral at {}\n- ZooKeeper: `{}`\n- Corral: `{}`\n- zoo.cfg of both: {}\n- Load generator: \
         corral-bench on corral-client, {}, in one process; each session is one client \
         connection.\n- Every workload starts both \
         servers afresh; levels alternate which server runs first. Warm-up {:.1} s{}, then {:.1} s \
         measured. Latency: call to reply as the client's caller sees it, for operations \
         completing in the measured window. `sessions x window` = sessions, each with that many \
         requests outstanding (closed loop), so at saturation latency ~ outstanding / \
         throughput; the 1 x 1 row is the unloaded (serial) latency.\n",
        crate::git_state(),
        o.launch.describe(Kind::ZooKeeper),
        o.launch.describe(Kind::Corral),
        o.launch
            .config(std::path::Path::new("<dir>/data"), 0)
            .lines()
            .filter(|l| !l.starts_with("dataDir") && !l.starts_with("clientPort="))
            .collect::<Vec<_>>()
            .join(", "),
        if o.loadgen_threads == 1 {
            "a current-thread tokio runtime (one core at most)".to_string()
        } else {
            format!("a {}-thread tokio runtime", o.loadgen_threads)
        },
        o.warmup.as_secs_f64(),
        if o.jit_burst.is_zero() {
            String::new()
        } else {
            format!(
                " (after a {:.0} s untimed 10 x 32 burst of the workload per fresh server for \
                 the JIT)",
                o.jit_burst.as_secs_f64()
            )
        },
        o.duration.as_secs_f64(),
    );

    md
}

/// Throughput and latency of both servers per workload and level, and the errors.
fn throughput(md: &mut String, res: &Results) {
    md.push_str("## Throughput and latency\n\n");
    throughput_table(md, &res.cells);
    md.push_str("\nWorkloads: ");
    let descs: Vec<String> = Workload::ALL
        .iter()
        .map(|w| format!("`{}` = {}", w.name(), w.describe()))
        .collect();
    md.push_str(&descs.join("; "));
    md.push_str(".\n");
    errors(md, &res.cells);
}

/// The throughput and latency table of `cells`, Corral / ZooKeeper per figure.
pub(super) fn throughput_table(md: &mut String, cells: &[Cell]) {
    md.push_str(
        "| workload | sessions x window | ZK ops/s | Corral ops/s | ratio | ZK p50 ms | \
         Corral p50 ms | ratio | ZK p99 ms | Corral p99 ms | ratio | ZK p999 ms | \
         Corral p999 ms | ratio |\n",
    );
    md.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for c in cells {
        let (z, k) = (&c.zookeeper, &c.corral);
        let _ = writeln!(
            md,
            "| {} | {} x {} | {:.0} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.workload.name(),
            c.sessions,
            c.window,
            z.ops_per_sec,
            k.ops_per_sec,
            ratio(k.ops_per_sec, z.ops_per_sec),
            ms(z.p50_us),
            ms(k.p50_us),
            ratio(k.p50_us, z.p50_us),
            ms(z.p99_us),
            ms(k.p99_us),
            ratio(k.p99_us, z.p99_us),
            ms(z.p999_us),
            ms(k.p999_us),
            ratio(k.p999_us, z.p999_us),
        );
    }
}

/// The operations that failed in `cells`, or that none did.
pub(super) fn errors(md: &mut String, cells: &[Cell]) {
    let errors: Vec<String> = cells
        .iter()
        .flat_map(|c| {
            [
                (Kind::ZooKeeper, c, &c.zookeeper),
                (Kind::Corral, c, &c.corral),
            ]
        })
        .filter(|(_, _, r)| r.error_count() > 0)
        .map(|(k, c, r)| {
            format!(
                "{} {}x{} on {}: {:?}",
                c.workload.name(),
                c.sessions,
                c.window,
                k.name(),
                r.errors
            )
        })
        .collect();
    if errors.is_empty() {
        md.push_str("\nNo operation failed.\n");
    } else {
        let _ = writeln!(md, "\nErrors: {}.", errors.join("; "));
    }
}

/// Where the CPU went during each measured window.
fn cpu(md: &mut String, res: &Results) {
    md.push_str(
        "\n## CPU during each measured window (cores; the machine has 2)\n\n\
         `loadgen` is this load generator (client), `other` everything else on the machine, \
         `idle` what nobody used. µs/op = CPU time per operation.\n\n",
    );
    md.push_str(
        "| workload | sessions x window | ZK server | loadgen | other | idle | Corral server \
         | loadgen | other | idle | ZK server µs/op | Corral server µs/op | loadgen µs/op \
         (ZK run) | loadgen µs/op (Corral run) |\n",
    );
    md.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for c in &res.cells {
        let (z, k) = (&c.zookeeper, &c.corral);
        let _ = writeln!(
            md,
            "| {} | {} x {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} \
             | {:.1} | {:.1} | {:.1} | {:.1} |",
            c.workload.name(),
            c.sessions,
            c.window,
            z.cpu.server_cores,
            z.cpu.bench_cores,
            z.cpu.other_cores,
            z.cpu.idle_cores,
            k.cpu.server_cores,
            k.cpu.bench_cores,
            k.cpu.other_cores,
            k.cpu.idle_cores,
            server_us_per_op(z),
            server_us_per_op(k),
            loadgen_us_per_op(z),
            loadgen_us_per_op(k),
        );
    }
}

/// RSS, disk use and restart times, after loading the same znodes and watches into both.
fn memory_and_restart(
    md: &mut String,
    res: &Results,
    (zm, cm): &(Memory, Memory),
    (zr, cr): &(Restart, Restart),
) {
    let o = &res.opts;
    let n = o.znodes as f64;
    let w = o.watches as f64;
    let _ = writeln!(
        md,
        "\n## Memory, disk and restart ({} znodes of {} bytes under {} parents; {} watches)\n",
        o.znodes,
        crate::load::VALUE_SIZE,
        o.znodes.div_ceil(1000),
        o.watches
    );
    md.push_str("| figure | ZooKeeper | Corral | Corral / ZooKeeper |\n|---|--:|--:|--:|\n");
    let mut row = |name: &str, z: f64, c: f64, fmt: &dyn Fn(f64) -> String| {
        let _ = writeln!(md, "| {name} | {} | {} | {} |", fmt(z), fmt(c), ratio(c, z));
    };
    let mb = |b: f64| format!("{:.1} MiB", b / (1024.0 * 1024.0));
    let bytes = |b: f64| format!("{b:.0}");
    let secs = |s: f64| format!("{s:.3} s");
    let rate = |r: f64| format!("{r:.0}");
    row(
        "RSS fresh (empty tree)",
        zm.rss_idle as f64,
        cm.rss_idle as f64,
        &mb,
    );
    row(
        "RSS after loading the znodes",
        zm.rss_loaded as f64,
        cm.rss_loaded as f64,
        &mb,
    );
    let per_znode = |m: &Memory| (m.rss_loaded as f64 - m.rss_idle as f64) / n;
    row(
        "bytes per znode (loaded - fresh) / N",
        per_znode(zm),
        per_znode(cm),
        &bytes,
    );
    row(
        "bytes per znode (RSS loaded / N)",
        zm.rss_loaded as f64 / n,
        cm.rss_loaded as f64 / n,
        &bytes,
    );
    row(
        "RSS with the watches set",
        zm.rss_watches as f64,
        cm.rss_watches as f64,
        &mb,
    );
    let per_watch = |m: &Memory| (m.rss_watches as f64 - m.rss_loaded as f64) / w;
    row(
        "bytes per watch (with - without) / W",
        per_watch(zm),
        per_watch(cm),
        &bytes,
    );
    row(
        "load: creates/s (4 sessions x 256)",
        n / zm.load_secs,
        n / cm.load_secs,
        &rate,
    );
    row(
        "data dir on disk (allocated)",
        zm.disk_allocated as f64,
        cm.disk_allocated as f64,
        &mb,
    );
    row(
        "data dir (apparent size)",
        zm.disk_apparent as f64,
        cm.disk_apparent as f64,
        &mb,
    );
    let k = zr.first_read_secs.len();
    row(
        &format!("restart: start to srvr ready (median of {k})"),
        median(&zr.ready_secs),
        median(&cr.ready_secs),
        &secs,
    );
    row(
        &format!("restart: start to first served read (median of {k})"),
        median(&zr.first_read_secs),
        median(&cr.first_read_secs),
        &secs,
    );
    row(
        "RSS after restart (1 s after the first read)",
        median_u64(&zr.rss_after),
        median_u64(&cr.rss_after),
        &mb,
    );
    let _ = writeln!(
        md,
        "\nmntr after loading: ZooKeeper zk_znode_count {:?} zk_watch_count {:?}; Corral \
         {:?} {:?}. Restart samples (first read, s): ZooKeeper {:?}, Corral {:?}. The data \
         files were just written, so restarts read them from the page cache (both alike).",
        zm.znode_count,
        zm.watch_count,
        cm.znode_count,
        cm.watch_count,
        zr.first_read_secs
            .iter()
            .map(|s| format!("{s:.3}"))
            .collect::<Vec<_>>(),
        cr.first_read_secs
            .iter()
            .map(|s| format!("{s:.3}"))
            .collect::<Vec<_>>(),
    );
}

/// Where the load generator, rather than the server, may have set the figure.
fn bottleneck_note(res: &Results) -> String {
    let threads = res.opts.loadgen_threads.max(1);
    let mut bound = Vec::new();
    for c in &res.cells {
        for (kind, r) in [(Kind::ZooKeeper, &c.zookeeper), (Kind::Corral, &c.corral)] {
            if loadgen_bound(r, threads) {
                bound.push(format!(
                    "{} {}x{} on {} ({:.2} cores)",
                    c.workload.name(),
                    c.sessions,
                    c.window,
                    kind.name(),
                    r.cpu.bench_cores
                ));
            }
        }
    }
    let mut out = format!(
        "\nLoad generator limit: it has {threads} runtime thread(s), so at >= {:.0}% of that \
         busy it, not the server, sets the figure. ",
        LOADGEN_BOUND * 100.0
    );
    if bound.is_empty() {
        out.push_str("No run reached that.\n");
    } else {
        let _ = writeln!(out, "Runs that did: {}.", bound.join("; "));
    }
    out.push_str(
        "On a 2-core machine client and server share the cores: when `idle` is near 0 the \
         machine, not one side, is saturated, and the µs/op columns say how the CPU was split.\n",
    );
    out
}
