//! results.json: every raw figure of the run (the fsync loops' too), with the derived ones next
//! to them.

use super::figures::{loadgen_bound, loadgen_us_per_op, server_us_per_op};
use super::group_commit;
use crate::fsync::FsyncProbe;
use crate::json::{json, Json};
use crate::load::RunResult;
use crate::server::Kind;
use crate::suite::{Cell, Memory, Restart, Results};

pub(super) fn run_json(r: &RunResult, threads: usize) -> Json {
    let mut j = r.to_json();
    j["load_generator_bound"] = json!(loadgen_bound(r, threads));
    j["server_cpu_us_per_op"] = json!(server_us_per_op(r));
    j["load_generator_cpu_us_per_op"] = json!(loadgen_us_per_op(r));
    j
}

fn cell_json(c: &Cell, threads: usize, res: &Results) -> Json {
    let mut j = runs_json(c, threads);
    if let Some(g) = group_commit::cell_json(c, res) {
        j["group_commit"] = g;
    }
    j
}

/// One cell's runs of both kinds and their ratios.
pub(super) fn runs_json(c: &Cell, threads: usize) -> Json {
    json!({
        "workload": c.workload.name(),
        "describe": c.workload.describe(),
        "requests_per_op": c.workload.requests_per_op(),
        "sessions": c.sessions,
        "window": c.window,
        "first": c.first.name(),
        "zookeeper": run_json(&c.zookeeper, threads),
        "corral": run_json(&c.corral, threads),
        "ratio_corral_over_zookeeper": {
            "ops_per_sec": c.corral.ops_per_sec / c.zookeeper.ops_per_sec,
            "p50": c.corral.p50_us / c.zookeeper.p50_us,
            "p99": c.corral.p99_us / c.zookeeper.p99_us,
            "p999": c.corral.p999_us / c.zookeeper.p999_us,
        },
    })
}

fn memory_json(m: &Memory, restart: &Restart, n: usize, w: usize) -> Json {
    json!({
        "rss_fresh_bytes": m.rss_idle,
        "rss_loaded_bytes": m.rss_loaded,
        "rss_with_watches_bytes": m.rss_watches,
        "bytes_per_znode_delta": (m.rss_loaded as f64 - m.rss_idle as f64) / n as f64,
        "bytes_per_znode_total": m.rss_loaded as f64 / n as f64,
        "bytes_per_watch": (m.rss_watches as f64 - m.rss_loaded as f64) / w as f64,
        "load_secs": m.load_secs,
        "load_creates_per_sec": n as f64 / m.load_secs,
        "watch_set_secs": m.watch_secs,
        "mntr_znode_count": m.znode_count,
        "mntr_watch_count": m.watch_count,
        "data_dir_apparent_bytes": m.disk_apparent,
        "data_dir_allocated_bytes": m.disk_allocated,
        "data_files": m
            .files
            .iter()
            .map(|(name, len)| json!({ "name": name, "bytes": len }))
            .collect::<Vec<_>>(),
        "restart": {
            "srvr_ready_secs": restart.ready_secs,
            "first_read_secs": restart.first_read_secs,
            "rss_after_bytes": restart.rss_after,
            "mntr_znode_count": restart.znode_count,
        },
    })
}

pub fn json(res: &Results) -> Json {
    let o = &res.opts;
    let mut j = json!({
        "started_utc": res.started_utc,
        "quick": o.quick,
        "total_secs": res.total_secs,
        "corral_source": crate::git_state(),
        "error": res.error,
        "machine": {
            "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "kernel": crate::command_line(&["uname", "-r"]),
            "java": crate::command_line(&["java", "-version"]),
        },
        "config": {
            "zookeeper_command": o.launch.describe(Kind::ZooKeeper),
            "corral_command": o.launch.describe(Kind::Corral),
            "zoo_cfg": o.launch.config(std::path::Path::new("<dir>/data"), 0),
            "levels": o
                .levels
                .iter()
                .map(|(s, w)| json!({ "sessions": s, "window": w }))
                .collect::<Vec<_>>(),
            "load_generator_threads": o.loadgen_threads,
            "warmup_secs": o.warmup.as_secs_f64(),
            "duration_secs": o.duration.as_secs_f64(),
            "jit_burst_secs": o.jit_burst.as_secs_f64(),
            "fsync_loop_secs": o.fsync_loop.as_secs_f64(),
            "value_bytes": crate::load::VALUE_SIZE,
            "data_nodes": crate::load::DATA_NODES,
            "children": crate::load::CHILDREN,
            "znodes": o.znodes,
            "watches": o.watches,
            "restart_rounds": o.restarts,
        },
        "runs": res
            .cells
            .iter()
            .map(|c| cell_json(c, o.loadgen_threads.max(1), res))
            .collect::<Vec<_>>(),
        "fsync_loop": res.fsync.as_ref().map(FsyncProbe::to_json),
    });
    if let Some(e) = &res.ensemble {
        j["ensemble"] = super::ensemble::json(e, res);
    }
    if let Some(s) = &res.snap_rejoin {
        j["snap_rejoin"] = super::snap_rejoin::json(s);
    }
    if let Some(import) = &res.import {
        j["import"] = crate::import_bench::json(import);
    }
    if let (Some((zm, cm)), Some((zr, cr))) = (&res.memory, &res.restart) {
        j["memory_and_restart"] = json!({
            "zookeeper": memory_json(zm, zr, o.znodes, o.watches),
            "corral": memory_json(cm, cr, o.znodes, o.watches),
        });
    }
    j
}
