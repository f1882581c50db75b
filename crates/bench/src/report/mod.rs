//! The three outputs of a suite run, one module each: results.md ([`markdown`]), results.json
//! with every raw figure ([`json`]) and chart.svg drawn by hand ([`svg`]); the figures they
//! derive from the measurements (ratios, medians, CPU per operation) and their number formats
//! are in `figures`, the group-commit figures (writes per raw fsync) in `group_commit`, the
//! 3-server ensemble section in `ensemble`, the SNAP rejoin section in `snap_rejoin`.

mod chart;
mod ensemble;
mod figures;
mod group_commit;
mod markdown;
mod results_json;
mod snap_rejoin;

pub use chart::svg;
pub use figures::mib;
pub use markdown::markdown;
pub use results_json::json;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::json::Render;
    use crate::load::{RunResult, Workload};
    use crate::server::Kind;
    use crate::suite::{Cell, Results};

    pub(crate) fn results(cells: Vec<Cell>) -> Results {
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
            fsync: None,
            memory: None,
            restart: None,
            ensemble: None,
            snap_rejoin: None,
            import: None,
            total_secs: 1.0,
            error: None,
        }
    }

    pub(crate) fn run(ops: f64, p50: f64, p99: f64) -> RunResult {
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

    /// A run of `workload` at `sessions x window` at these ops/s.
    pub(crate) fn cell(
        workload: Workload,
        sessions: usize,
        window: usize,
        zookeeper: f64,
        corral: f64,
    ) -> Cell {
        Cell {
            workload,
            sessions,
            window,
            first: Kind::ZooKeeper,
            zookeeper: run(zookeeper, 1000.0, 2000.0),
            corral: run(corral, 500.0, 1000.0),
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

    #[test]
    fn the_group_commit_figures_reach_all_three_outputs() {
        let mut res = results(vec![
            cell(Workload::Create, 1, 1, 1000.0, 1500.0),
            cell(Workload::Create, 10, 16, 9000.0, 24000.0),
        ]);
        let mut probe = crate::fsync::FsyncProbe::new("/".into());
        for (when, fsyncs) in [
            (crate::fsync::When::BeforeWorkloads, 2100),
            (crate::fsync::When::AfterWorkloads, 1900),
        ] {
            probe.loops.push(crate::fsync::FsyncLoop {
                when,
                cpus: crate::fsync::Cpus::Busy,
                fsyncs,
                secs: 1.0,
                mean_us: 500.0,
                p50_us: 450.0,
                p99_us: 1500.0,
                max_us: 4000.0,
            });
        }
        res.fsync = Some(probe);
        let md = markdown(&res);
        // After the throughput table, before the CPU table.
        let at = |s: &str| md.find(s).unwrap_or_else(|| panic!("no `{s}` in {md}"));
        assert!(
            at("## Throughput") < at("## Group commit") && at("## Group commit") < at("## CPU")
        );
        assert!(md.contains("| create | 10 x 16 | 9000 | 24000 | 2.67 | 4.50 | 12.00 |"));
        let j = json(&res).render();
        assert!(j.contains("\"raw_fsyncs_per_sec\": 2000"), "{j}");
        assert!(j.contains("\"writes_per_raw_fsync\""), "{j}");
        assert!(j.contains("\"fsync_loop_secs\": 1"), "{j}");
        assert!(svg(&res).contains("raw fsyncs/s"));
    }
}
