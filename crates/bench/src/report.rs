//! The three outputs: a markdown report (both systems and Corral / ZooKeeper per row), a JSON
//! file with every raw figure, and an SVG chart (throughput and latency per workload) drawn by
//! hand.

use std::fmt::Write;

use crate::json::Json;
use crate::load::{RunResult, Workload};
use crate::server::Kind;
use crate::suite::{Cell, Memory, Restart, Results};

pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn ratio(corral: f64, zk: f64) -> String {
    if zk > 0.0 && corral.is_finite() && zk.is_finite() {
        format!("{:.2}", corral / zk)
    } else {
        "-".into()
    }
}

fn ms(us: f64) -> String {
    if !us.is_finite() {
        return "-".into();
    }
    let ms = us / 1000.0;
    if ms < 1.0 {
        format!("{ms:.3}")
    } else if ms < 100.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.0}")
    }
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

fn median_u64(v: &[u64]) -> f64 {
    median(&v.iter().map(|x| *x as f64).collect::<Vec<_>>())
}

/// Client CPU per operation, in µs (load generator cores x 1e6 / ops per second).
fn loadgen_us_per_op(r: &RunResult) -> f64 {
    if r.ops_per_sec > 0.0 {
        r.cpu.bench_cores * 1e6 / r.ops_per_sec
    } else {
        f64::NAN
    }
}

fn server_us_per_op(r: &RunResult) -> f64 {
    if r.ops_per_sec > 0.0 {
        r.cpu.server_cores * 1e6 / r.ops_per_sec
    } else {
        f64::NAN
    }
}

pub fn markdown(res: &Results) -> String {
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

    if let Some(e) = &res.error {
        let _ = writeln!(
            md,
            "**The run stopped early** (what follows is what was measured before): {e}\n"
        );
    }
    if !res.cells.is_empty() {
        md.push_str("## Throughput and latency\n\n");
        md.push_str(
            "| workload | sessions x window | ZK ops/s | Corral ops/s | ratio | ZK p50 ms | \
             Corral p50 ms | ratio | ZK p99 ms | Corral p99 ms | ratio | ZK p999 ms | \
             Corral p999 ms | ratio |\n",
        );
        md.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
        for c in &res.cells {
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
        md.push_str("\nWorkloads: ");
        let descs: Vec<String> = Workload::ALL
            .iter()
            .map(|w| format!("`{}` = {}", w.name(), w.describe()))
            .collect();
        md.push_str(&descs.join("; "));
        md.push_str(".\n");
        let errors: Vec<String> = res
            .cells
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
        md.push_str(&bottleneck_note(res));
    }

    if let (Some((zm, cm)), Some((zr, cr))) = (&res.memory, &res.restart) {
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
    md
}

/// The load generator runs on `loadgen_threads` runtime threads: at this share of them busy
/// it is taken to be the limit of the run rather than the server.
const LOADGEN_BOUND: f64 = 0.9;

fn loadgen_bound(r: &RunResult, threads: usize) -> bool {
    r.cpu.bench_cores >= LOADGEN_BOUND * threads as f64
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

fn run_json(r: &RunResult, threads: usize) -> Json {
    r.to_json()
        .with("load_generator_bound", loadgen_bound(r, threads))
        .with("server_cpu_us_per_op", server_us_per_op(r))
        .with("load_generator_cpu_us_per_op", loadgen_us_per_op(r))
}

fn cell_json(c: &Cell, threads: usize) -> Json {
    Json::obj()
        .with("workload", c.workload.name())
        .with("describe", c.workload.describe())
        .with("requests_per_op", c.workload.requests_per_op())
        .with("sessions", c.sessions)
        .with("window", c.window)
        .with("first", c.first.name())
        .with("zookeeper", run_json(&c.zookeeper, threads))
        .with("corral", run_json(&c.corral, threads))
        .with(
            "ratio_corral_over_zookeeper",
            Json::obj()
                .with(
                    "ops_per_sec",
                    c.corral.ops_per_sec / c.zookeeper.ops_per_sec,
                )
                .with("p50", c.corral.p50_us / c.zookeeper.p50_us)
                .with("p99", c.corral.p99_us / c.zookeeper.p99_us)
                .with("p999", c.corral.p999_us / c.zookeeper.p999_us),
        )
}

fn memory_json(m: &Memory, restart: &Restart, n: usize, w: usize) -> Json {
    Json::obj()
        .with("rss_fresh_bytes", m.rss_idle)
        .with("rss_loaded_bytes", m.rss_loaded)
        .with("rss_with_watches_bytes", m.rss_watches)
        .with(
            "bytes_per_znode_delta",
            (m.rss_loaded as f64 - m.rss_idle as f64) / n as f64,
        )
        .with("bytes_per_znode_total", m.rss_loaded as f64 / n as f64)
        .with(
            "bytes_per_watch",
            (m.rss_watches as f64 - m.rss_loaded as f64) / w as f64,
        )
        .with("load_secs", m.load_secs)
        .with("load_creates_per_sec", n as f64 / m.load_secs)
        .with("watch_set_secs", m.watch_secs)
        .with("mntr_znode_count", m.znode_count)
        .with("mntr_watch_count", m.watch_count)
        .with("data_dir_apparent_bytes", m.disk_apparent)
        .with("data_dir_allocated_bytes", m.disk_allocated)
        .with(
            "data_files",
            Json::Arr(
                m.files
                    .iter()
                    .map(|(name, len)| Json::obj().with("name", name.as_str()).with("bytes", *len))
                    .collect(),
            ),
        )
        .with(
            "restart",
            Json::obj()
                .with("srvr_ready_secs", restart.ready_secs.clone())
                .with("first_read_secs", restart.first_read_secs.clone())
                .with("rss_after_bytes", restart.rss_after.clone())
                .with("mntr_znode_count", restart.znode_count),
        )
}

pub fn json(res: &Results) -> Json {
    let o = &res.opts;
    let mut j = Json::obj()
        .with("started_utc", res.started_utc.as_str())
        .with("quick", o.quick)
        .with("total_secs", res.total_secs)
        .with("corral_source", crate::git_state())
        .with("error", res.error.clone())
        .with(
            "machine",
            Json::obj()
                .with(
                    "cores",
                    std::thread::available_parallelism().map_or(0, |n| n.get()),
                )
                .with("kernel", crate::command_line(&["uname", "-r"]))
                .with("java", crate::command_line(&["java", "-version"])),
        )
        .with(
            "config",
            Json::obj()
                .with("zookeeper_command", o.launch.describe(Kind::ZooKeeper))
                .with("corral_command", o.launch.describe(Kind::Corral))
                .with(
                    "zoo_cfg",
                    o.launch.config(std::path::Path::new("<dir>/data"), 0),
                )
                .with(
                    "levels",
                    Json::Arr(
                        o.levels
                            .iter()
                            .map(|(s, w)| Json::obj().with("sessions", *s).with("window", *w))
                            .collect(),
                    ),
                )
                .with("load_generator_threads", o.loadgen_threads)
                .with("warmup_secs", o.warmup.as_secs_f64())
                .with("duration_secs", o.duration.as_secs_f64())
                .with("jit_burst_secs", o.jit_burst.as_secs_f64())
                .with("value_bytes", crate::load::VALUE_SIZE)
                .with("data_nodes", crate::load::DATA_NODES)
                .with("children", crate::load::CHILDREN)
                .with("znodes", o.znodes)
                .with("watches", o.watches)
                .with("restart_rounds", o.restarts),
        )
        .with(
            "runs",
            Json::Arr(
                res.cells
                    .iter()
                    .map(|c| cell_json(c, o.loadgen_threads.max(1)))
                    .collect(),
            ),
        );
    if let (Some((zm, cm)), Some((zr, cr))) = (&res.memory, &res.restart) {
        j.push(
            "memory_and_restart",
            Json::obj()
                .with("zookeeper", memory_json(zm, zr, o.znodes, o.watches))
                .with("corral", memory_json(cm, cr, o.znodes, o.watches)),
        );
    }
    j
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

const ZK_COLOR: &str = "#7f7f7f";
const CORRAL_COLOR: &str = "#d95f02";

/// Two panels over the same cells: throughput (linear) and latency p50/p99 (log scale).
pub fn svg(res: &Results) -> String {
    let cells = &res.cells;
    if cells.is_empty() {
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"40\">\
                <text x=\"10\" y=\"25\" font-family=\"sans-serif\">no throughput runs \
                (see results.md)</text></svg>\n"
            .to_string();
    }
    let n = cells.len().max(1);
    let group = 34.0;
    let left = 80.0;
    let right = 20.0;
    let width = left + right + group * n as f64;
    let top1 = 50.0;
    let h = 220.0;
    let gap = 120.0;
    let top2 = top1 + h + gap;
    let height = top2 + h + 120.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"11\">"
    );
    let _ = writeln!(
        s,
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"20\" font-size=\"15\">Corral vs Apache ZooKeeper 3.8 {}({})</text>",
        if res.opts.quick { "--quick " } else { "" },
        esc(&res.started_utc)
    );
    // legend
    let lx = width - right - 230.0;
    let _ = writeln!(
        s,
        "<rect x=\"{lx}\" y=\"28\" width=\"10\" height=\"10\" fill=\"{ZK_COLOR}\"/>\
         <text x=\"{}\" y=\"37\">ZooKeeper</text>\
         <rect x=\"{}\" y=\"28\" width=\"10\" height=\"10\" fill=\"{CORRAL_COLOR}\"/>\
         <text x=\"{}\" y=\"37\">Corral</text>",
        lx + 14.0,
        lx + 90.0,
        lx + 104.0
    );

    // Panel 1: throughput, linear.
    let max_tp = cells
        .iter()
        .flat_map(|c| [c.zookeeper.ops_per_sec, c.corral.ops_per_sec])
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max);
    let top_tp = nice_ceiling(max_tp);
    let _ = writeln!(
        s,
        "<text x=\"{left}\" y=\"{}\" font-size=\"13\">throughput (operations/s); xN = Corral / \
         ZooKeeper</text>",
        top1 - 8.0
    );
    for i in 0..=5 {
        let v = top_tp * i as f64 / 5.0;
        let y = top1 + h - h * i as f64 / 5.0;
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            width - right,
            left - 4.0,
            y + 4.0,
            human(v)
        );
    }
    for (i, c) in cells.iter().enumerate() {
        let x0 = left + group * i as f64 + 4.0;
        for (j, (v, color)) in [
            (c.zookeeper.ops_per_sec, ZK_COLOR),
            (c.corral.ops_per_sec, CORRAL_COLOR),
        ]
        .into_iter()
        .enumerate()
        {
            let v = if v.is_finite() { v } else { 0.0 };
            let bh = h * v / top_tp;
            let _ = writeln!(
                s,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"12\" height=\"{bh:.1}\" fill=\"{color}\">\
                 <title>{} {}x{} {}: {v:.0} ops/s</title></rect>",
                x0 + 13.0 * j as f64,
                top1 + h - bh,
                c.workload.name(),
                c.sessions,
                c.window,
                if j == 0 { "ZooKeeper" } else { "Corral" },
            );
        }
    }
    // Corral / ZooKeeper above each pair.
    for (i, c) in cells.iter().enumerate() {
        let (z, k) = (c.zookeeper.ops_per_sec, c.corral.ops_per_sec);
        if !(z > 0.0 && k.is_finite()) {
            continue;
        }
        let top = z.max(k).min(top_tp);
        let x = left + group * i as f64 + 4.0 + 12.5;
        let y = top1 + h - h * top / top_tp - 4.0;
        let _ = writeln!(
            s,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\" font-size=\"9\">\
             x{:.1}</text>",
            k / z
        );
    }
    labels(&mut s, cells, left, group, top1 + h);

    // Panel 2: latency, log scale; bars to p99, a tick at p50.
    let lat: Vec<f64> = cells
        .iter()
        .flat_map(|c| {
            [
                c.zookeeper.p50_us,
                c.zookeeper.p99_us,
                c.corral.p50_us,
                c.corral.p99_us,
            ]
        })
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let lo = lat.iter().copied().fold(f64::INFINITY, f64::min);
    let lo = if lo.is_finite() { lo.max(1.0) } else { 1.0 };
    let hi = lat.iter().copied().fold(1.0, f64::max);
    // Decades of µs, at most 12 (1 µs .. 11 days).
    let d0 = lo.log10().floor().clamp(0.0, 11.0);
    let d1 = hi.log10().ceil().clamp(d0 + 1.0, 12.0);
    let y_of = |us: f64| top2 + h - h * (us.max(1.0).log10() - d0) / (d1 - d0);
    let _ = writeln!(
        s,
        "<text x=\"{left}\" y=\"{}\" font-size=\"13\">latency (ms, log scale): bar = p99, \
         black tick = p50</text>",
        top2 - 8.0
    );
    let mut d = d0;
    while d <= d1 {
        let y = y_of(10f64.powf(d));
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            width - right,
            left - 4.0,
            y + 4.0,
            fmt_ms(10f64.powf(d) / 1000.0)
        );
        d += 1.0;
    }
    for (i, c) in cells.iter().enumerate() {
        let x0 = left + group * i as f64 + 4.0;
        for (j, (r, color)) in [(&c.zookeeper, ZK_COLOR), (&c.corral, CORRAL_COLOR)]
            .into_iter()
            .enumerate()
        {
            if !r.p99_us.is_finite() {
                continue;
            }
            let x = x0 + 13.0 * j as f64;
            let y = y_of(r.p99_us);
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"12\" height=\"{:.1}\" fill=\"{color}\">\
                 <title>{} {}x{} {}: p50 {} ms, p99 {} ms, p999 {} ms</title></rect>",
                (top2 + h - y).max(0.0),
                c.workload.name(),
                c.sessions,
                c.window,
                if j == 0 { "ZooKeeper" } else { "Corral" },
                ms(r.p50_us),
                ms(r.p99_us),
                ms(r.p999_us),
            );
            if r.p50_us.is_finite() {
                let y50 = y_of(r.p50_us);
                let _ = writeln!(
                    s,
                    "<line x1=\"{x:.1}\" x2=\"{:.1}\" y1=\"{y50:.1}\" y2=\"{y50:.1}\" \
                     stroke=\"black\" stroke-width=\"2\"/>",
                    x + 12.0
                );
            }
        }
    }
    labels(&mut s, cells, left, group, top2 + h);
    s.push_str("</svg>\n");
    s
}

fn labels(s: &mut String, cells: &[Cell], left: f64, group: f64, base: f64) {
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{base:.1}\" y2=\"{base:.1}\" stroke=\"black\"/>",
        left + group * cells.len() as f64
    );
    for (i, c) in cells.iter().enumerate() {
        let x = left + group * i as f64 + group / 2.0;
        let y = base + 10.0;
        let _ = writeln!(
            s,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"end\" \
             transform=\"rotate(-50 {x:.1} {y:.1})\">{} {}x{}</text>",
            esc(c.workload.name()),
            c.sessions,
            c.window
        );
    }
}

fn nice_ceiling(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= v {
            return m * p;
        }
    }
    10.0 * p
}

fn human(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.0}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn fmt_ms(ms: f64) -> String {
    if ms >= 1.0 {
        format!("{ms:.0}")
    } else {
        format!("{ms}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(nice_ceiling(13_000.0), 20_000.0);
        assert_eq!(nice_ceiling(1.0), 1.0);
        assert_eq!(ratio(2.0, 4.0), "0.50");
        assert_eq!(ratio(2.0, 0.0), "-");
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(fmt_ms(0.01), "0.01");
        assert_eq!(esc("a<b"), "a&lt;b");
    }

    fn results(cells: Vec<Cell>) -> Results {
        let launch = crate::server::Launch {
            corral_bin: "corral".into(),
            java: "java".into(),
            jvm_flags: vec![],
            tick_time_ms: 2000,
            snap_count: 100_000,
        };
        Results {
            opts: crate::suite::Options::new(true, "out".into(), launch),
            started_utc: "now".into(),
            cells,
            memory: None,
            restart: None,
            total_secs: 1.0,
            error: None,
        }
    }

    fn run(ops: f64, p50: f64, p99: f64) -> RunResult {
        RunResult {
            ops: ops as u64,
            secs: 1.0,
            ops_per_sec: ops,
            mean_us: p50,
            p50_us: p50,
            p90_us: p99,
            p99_us: p99,
            p999_us: p99,
            max_us: p99,
            errors: Default::default(),
            cpu: Default::default(),
        }
    }

    #[test]
    fn outputs_with_no_runs_and_with_odd_figures() {
        // No throughput runs (--only memory) and runs without a single completed operation
        // must still render, quickly and finitely.
        let empty = results(Vec::new());
        assert!(svg(&empty).len() < 1000);
        markdown(&empty);
        json(&empty).render();
        let cells = vec![
            Cell {
                workload: Workload::GetData,
                sessions: 1,
                window: 1,
                first: Kind::ZooKeeper,
                zookeeper: run(0.0, f64::NAN, f64::NAN),
                corral: run(10.0, 5.0, 50.0),
            },
            Cell {
                workload: Workload::Lock,
                sessions: 10,
                window: 32,
                first: Kind::Corral,
                zookeeper: run(1e5, 1e9, 1e12),
                corral: run(f64::NAN, 0.0, 0.0),
            },
        ];
        let res = results(cells);
        let chart = svg(&res);
        assert!(chart.len() < 20_000 && chart.ends_with("</svg>\n"));
        assert!(markdown(&res).contains("| lock | 10 x 32 |"));
        assert!(json(&res).render().contains("\"workload\": \"lock\""));
    }
}
