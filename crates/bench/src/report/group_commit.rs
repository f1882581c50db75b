//! The group-commit figures: each write workload's writes/s on both servers divided by the
//! disk's raw fsync rate, measured in the same run by the serial loop of `crate::fsync`; for
//! results.md (a section of its own) and results.json (a field of each write run).

use std::fmt::Write;

use super::figures::{ms, ratio};
use crate::fsync::{writes_per_fsync, FsyncProbe, MAX_FSYNCS, PREALLOC_BYTES, RECORD_BYTES};
use crate::json::Json;
use crate::suite::{Cell, Results};

/// A writes-per-fsync figure as the table prints it.
fn per_fsync(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}")
    } else {
        "-".into()
    }
}

/// The runs of workloads whose every operation is one write.
fn write_cells(res: &Results) -> impl Iterator<Item = &Cell> {
    res.cells.iter().filter(|c| c.workload.is_write())
}

/// The "Group commit" section: the fsync loops, then writes/s and writes per raw fsync of both
/// servers per write workload and level. Nothing when neither was measured.
pub(crate) fn markdown(md: &mut String, res: &Results) {
    let probe = res.fsync.as_ref();
    if probe.is_none() && write_cells(res).next().is_none() {
        return;
    }
    md.push_str("\n## Group commit: writes per raw fsync\n\n");
    let fsyncs_per_sec = probe.and_then(FsyncProbe::mean_per_sec);
    match probe {
        Some(p) => loops(md, p, res.opts.fsync_loop.as_secs_f64()),
        None => md.push_str(
            "The disk's raw fsync rate was not measured (`--fsync-loop 0`), so there are no \
             writes per fsync.\n",
        ),
    }
    if write_cells(res).next().is_none() {
        return;
    }
    md.push_str(
        "\n| workload | sessions x window | ZK writes/s | Corral writes/s | Corral / ZK | ZK \
         writes / raw fsync | Corral writes / raw fsync |\n|---|---|--:|--:|--:|--:|--:|\n",
    );
    for c in write_cells(res) {
        let (z, k) = (c.zookeeper.ops_per_sec, c.corral.ops_per_sec);
        let _ = writeln!(
            md,
            "| {} | {} x {} | {z:.0} | {k:.0} | {} | {} | {} |",
            c.workload.name(),
            c.sessions,
            c.window,
            ratio(k, z),
            per_fsync(writes_per_fsync(z, fsyncs_per_sec)),
            per_fsync(writes_per_fsync(k, fsyncs_per_sec)),
        );
    }
    let _ = writeln!(
        md,
        "\nwrites/s = the ops/s of the throughput table (every operation of these workloads is \
         one write: one txn, one log record). Corral / ZK as there. writes / raw fsync = \
         writes/s over the raw fsyncs/s ({}): **> 1 means several writes share one fsync: group \
         commit**. At 1 x 1 a single write is outstanding at a time, so ~1 is the ceiling there \
         (above it the disk drifted, or a server did not fsync each write) and the figure says \
         how close a server comes to the bare fsync.",
        match fsyncs_per_sec {
            Some(f) => format!("{f:.0}, the mean of the two loops"),
            None => "not measured".into(),
        }
    );
}

/// The loops' table and what they did.
fn loops(md: &mut String, p: &FsyncProbe, secs: f64) {
    let _ = writeln!(
        md,
        "The disk's raw fsync rate, measured in this run on the filesystem of both servers' data \
         directories, {}: a file preallocated to {} MiB as both servers' txn logs are (extended \
         with zeros, not written), then a {RECORD_BYTES}-byte record (about one txn of these \
         write workloads in either server's log: setData ~180, create ~215 bytes) written at the \
         next offset and fdatasync'd, again and again for {secs:.1} s (at most {MAX_FSYNCS} \
         times), once before and once after the throughput workloads (disks drift; the mean is \
         used). **The loop is serial: one fsync at a time is the most an unbatched server (one \
         fsync per write, each acknowledged after its own) could acknowledge.** Latency = one \
         write plus its fdatasync.\n",
        p.filesystem(),
        PREALLOC_BYTES >> 20,
    );
    md.push_str(
        "| fsync loop | fsyncs | s | fsyncs/s | p50 ms | p99 ms |\n|---|--:|--:|--:|--:|--:|\n",
    );
    for l in &p.loops {
        let _ = writeln!(
            md,
            "| {} | {} | {:.2} | {:.0} | {} | {} |",
            l.when.name(),
            l.fsyncs,
            l.secs,
            l.per_sec(),
            ms(l.p50_us),
            ms(l.p99_us),
        );
    }
    match p.mean_per_sec() {
        Some(f) => {
            let _ = writeln!(md, "| mean (what the ratios divide by) | | | {f:.0} | | |");
        }
        None => md.push_str("| no loop measured a rate | | | - | | |\n"),
    }
    if let [a, b] = &p.loops[..] {
        let _ = writeln!(
            md,
            "\nAfter / before: {} (fsyncs/s).",
            ratio(b.per_sec(), a.per_sec())
        );
    }
}

/// `group_commit` of a write run in results.json; `None` for other workloads.
pub(crate) fn cell_json(c: &Cell, probe: Option<&FsyncProbe>) -> Option<Json> {
    if !c.workload.is_write() {
        return None;
    }
    let fsyncs_per_sec = probe.and_then(FsyncProbe::mean_per_sec);
    let (z, k) = (c.zookeeper.ops_per_sec, c.corral.ops_per_sec);
    Some(
        Json::obj()
            .with(
                "writes_per_sec",
                Json::obj().with("zookeeper", z).with("corral", k),
            )
            .with("raw_fsyncs_per_sec", fsyncs_per_sec)
            .with(
                "writes_per_raw_fsync",
                Json::obj()
                    .with("zookeeper", writes_per_fsync(z, fsyncs_per_sec))
                    .with("corral", writes_per_fsync(k, fsyncs_per_sec)),
            ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsync::{FsyncLoop, When};
    use crate::load::Workload;
    use crate::report::tests::{cell, results};

    fn probe(rates: &[(u64, f64)]) -> FsyncProbe {
        let whens = [When::BeforeWorkloads, When::AfterWorkloads];
        FsyncProbe {
            dir: "/work".into(),
            mount: None,
            loops: rates
                .iter()
                .zip(whens)
                .map(|(&(fsyncs, secs), when)| FsyncLoop {
                    when,
                    fsyncs,
                    secs,
                    mean_us: 500.0,
                    p50_us: 450.0,
                    p99_us: 1500.0,
                    max_us: 4000.0,
                })
                .collect(),
        }
    }

    #[test]
    fn ratios_per_write_run_against_the_mean_of_both_loops() {
        let mut res = results(vec![
            cell(Workload::Create, 1, 1, 1000.0, 500.0),
            cell(Workload::SetData, 10, 16, 8000.0, 20000.0),
            cell(Workload::GetData, 10, 16, 30000.0, 90000.0),
        ]);
        // 2400/s before, 1600/s after: the mean, 2000/s, divides.
        res.fsync = Some(probe(&[(2400, 1.0), (1600, 1.0)]));
        let mut md = String::new();
        markdown(&mut md, &res);
        assert!(md.contains("## Group commit"), "{md}");
        assert!(md.contains("| before the workloads | 2400 | 1.00 | 2400 | 0.450 | 1.50 |"));
        assert!(
            md.contains("| after the workloads | 1600 | 1.00 | 1600 |"),
            "{md}"
        );
        assert!(
            md.contains("| mean (what the ratios divide by) | | | 2000 | | |"),
            "{md}"
        );
        assert!(md.contains("After / before: 0.67"), "{md}");
        assert!(
            md.contains("| create | 1 x 1 | 1000 | 500 | 0.50 | 0.50 | 0.25 |"),
            "{md}"
        );
        assert!(md.contains("| setData | 10 x 16 | 8000 | 20000 | 2.50 | 4.00 | 10.00 |"));
        assert!(!md.contains("| getData |"), "reads have no row: {md}");
        assert!(md.contains("one fsync at a time is the most an unbatched server"));
        assert!(md.contains("> 1 means several writes share one fsync"));

        let j = cell_json(&res.cells[1], res.fsync.as_ref())
            .unwrap()
            .render();
        assert!(j.contains("\"raw_fsyncs_per_sec\": 2000"), "{j}");
        assert!(
            j.contains("\"zookeeper\": 4,") && j.contains("\"corral\": 10\n"),
            "{j}"
        );
        assert!(cell_json(&res.cells[2], res.fsync.as_ref()).is_none());
    }

    #[test]
    fn without_a_rate_the_ratios_are_dashes() {
        let mut res = results(vec![cell(Workload::CreateSeq, 1, 1, 900.0, 1800.0)]);
        let mut md = String::new();
        markdown(&mut md, &res);
        assert!(md.contains("was not measured (`--fsync-loop 0`)"), "{md}");
        assert!(
            md.contains("| create-seq | 1 x 1 | 900 | 1800 | 2.00 | - | - |"),
            "{md}"
        );
        // A loop that ran out of time before its first fsync has no rate either.
        res.fsync = Some(probe(&[(0, 1.0)]));
        let mut md = String::new();
        markdown(&mut md, &res);
        assert!(
            md.contains("| no loop measured a rate | | | - | | |"),
            "{md}"
        );
        assert!(
            md.contains("| create-seq | 1 x 1 | 900 | 1800 | 2.00 | - | - |"),
            "{md}"
        );
        let j = cell_json(&res.cells[0], res.fsync.as_ref())
            .unwrap()
            .render();
        assert!(j.contains("\"raw_fsyncs_per_sec\": null"), "{j}");
        // No write workload and no loop: no section at all.
        let mut md = String::new();
        markdown(
            &mut md,
            &results(vec![cell(Workload::Exists, 1, 1, 5.0, 5.0)]),
        );
        assert_eq!(md, "");
    }

    #[test]
    fn per_fsync_format() {
        assert_eq!(per_fsync(1.234), "1.23");
        assert_eq!(per_fsync(f64::NAN), "-");
    }
}
