//! results.json: every raw figure of the run (the fsync loops' too), with the derived ones next
//! to them.

use super::figures::{loadgen_bound, loadgen_us_per_op, server_us_per_op};
use super::group_commit;
use crate::fsync::FsyncProbe;
use crate::json::Json;
use crate::load::RunResult;
use crate::server::Kind;
use crate::suite::{Cell, Memory, Restart, Results};

fn run_json(r: &RunResult, threads: usize) -> Json {
    r.to_json()
        .with("load_generator_bound", loadgen_bound(r, threads))
        .with("server_cpu_us_per_op", server_us_per_op(r))
        .with("load_generator_cpu_us_per_op", loadgen_us_per_op(r))
}

fn cell_json(c: &Cell, threads: usize, res: &Results) -> Json {
    let mut j = Json::obj()
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
        );
    if let Some(g) = group_commit::cell_json(c, res) {
        j.push("group_commit", g);
    }
    j
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
                .with("fsync_loop_secs", o.fsync_loop.as_secs_f64())
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
                    .map(|c| cell_json(c, o.loadgen_threads.max(1), res))
                    .collect(),
            ),
        )
        .with("fsync_loop", res.fsync.as_ref().map(FsyncProbe::to_json));
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
