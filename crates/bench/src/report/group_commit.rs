//! The group-commit figures: each write workload's writes/s on both servers divided by the
//! disk's raw fsync rate, measured in the same run by the serial loops of `crate::fsync`; for
//! results.md (a section of its own) and results.json (a field of each write run).

use std::fmt::Write;

use super::figures::{ms, ratio};
use crate::fsync::{
    writes_per_fsync, Cpus, FsyncProbe, When, MAX_FSYNCS, PREALLOC_BYTES, RECORD_BYTES,
};
use crate::json::{json, Json};
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

/// The raw fsyncs/s the ratios divide by, if any loop measured one.
fn divisor(res: &Results) -> Option<f64> {
    res.fsync
        .as_ref()
        .and_then(FsyncProbe::ceiling)
        .map(|(_, r)| r)
}

/// The "Group commit" section: the fsync loops, then writes/s and writes per raw fsync of both
/// servers per write workload and level. Nothing when neither was measured.
pub(crate) fn markdown(md: &mut String, res: &Results) {
    let probe = res.fsync.as_ref();
    if probe.is_none() && write_cells(res).next().is_none() {
        return;
    }
    md.push_str("\n## Group commit: writes per raw fsync\n\n");
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
    let fsyncs_per_sec = divisor(res);
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
        match probe.and_then(FsyncProbe::ceiling) {
            Some((cpus, f)) => format!(
                "{f:.0}, the mean of the loops with the CPUs {}",
                cpus.name()
            ),
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
         write workloads in either server's log: setData ~180, create ~215-230 bytes) written at \
         the next offset and fdatasync'd, again and again for {secs:.1} s (at most {MAX_FSYNCS} \
         times), before and after the throughput workloads (disks drift; means are used). \
         **The loop is serial: one fsync at a time is the most an unbatched server (one fsync \
         per write, each acknowledged after its own) could acknowledge.** Each time it runs \
         twice: with the CPUs idle (the loop alone) and with every core kept busy by a spinning \
         thread at SCHED_IDLE priority (it takes only time nothing else wants), as the cores are \
         while a server is under load (the CPU table's `idle`). On a \
         virtual machine an fdatasync that leaves its CPU idle may return only at the next timer \
         tick (4 ms at 250 Hz), so the two can differ many times over on the same disk; the \
         ratios below divide by the faster mean, the stricter ceiling. Latency = one write plus \
         its fdatasync.\n",
        p.filesystem(),
        PREALLOC_BYTES >> 20,
    );
    md.push_str(
        "| fsync loop | CPUs | fsyncs | s | fsyncs/s | p50 ms | p99 ms |\n\
         |---|---|--:|--:|--:|--:|--:|\n",
    );
    for l in &p.loops {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.2} | {:.0} | {} | {} |",
            l.when.name(),
            l.cpus.name(),
            l.fsyncs,
            l.secs,
            l.per_sec(),
            ms(l.p50_us),
            ms(l.p99_us),
        );
    }
    let ceiling = p.ceiling();
    for cpus in Cpus::BOTH {
        let Some(mean) = p.mean_per_sec(cpus) else {
            continue;
        };
        let divides = if ceiling.map(|(c, _)| c) == Some(cpus) {
            " (divides the ratios)"
        } else {
            ""
        };
        let _ = writeln!(
            md,
            "| mean{divides} | {} | | | {mean:.0} | | |",
            cpus.name()
        );
    }
    if ceiling.is_none() {
        md.push_str("| no loop measured a rate | | | | - | | |\n");
    }
    let drift: Vec<String> = Cpus::BOTH
        .into_iter()
        .filter_map(|cpus| {
            let before = p.rate(When::BeforeWorkloads, cpus)?;
            let after = p.rate(When::AfterWorkloads, cpus)?;
            Some(format!("CPUs {} {}", cpus.name(), ratio(after, before)))
        })
        .collect();
    if !drift.is_empty() {
        let _ = writeln!(md, "\nAfter / before (fsyncs/s): {}.", drift.join(", "));
    }
    if let Some((cpus, _)) = ceiling {
        let before = p.rate(When::BeforeWorkloads, cpus);
        let after = p.rate(When::AfterWorkloads, cpus);
        if let (Some(b), Some(a)) = (before, after) {
            if !(0.5..=2.0).contains(&(a / b)) {
                let _ = writeln!(
                    md,
                    "\n**The two loops with the CPUs {} disagree by more than 2x**: the disk or \
                     the machine changed during the run, and the ratios below are that uncertain.",
                    cpus.name()
                );
            }
        }
    }
}

/// `group_commit` of a write run in results.json; `None` for other workloads.
pub(crate) fn cell_json(c: &Cell, res: &Results) -> Option<Json> {
    if !c.workload.is_write() {
        return None;
    }
    let fsyncs_per_sec = divisor(res);
    let (z, k) = (c.zookeeper.ops_per_sec, c.corral.ops_per_sec);
    Some(json!({
        "writes_per_sec": { "zookeeper": z, "corral": k },
        "raw_fsyncs_per_sec": fsyncs_per_sec,
        "writes_per_raw_fsync": {
            "zookeeper": writes_per_fsync(z, fsyncs_per_sec),
            "corral": writes_per_fsync(k, fsyncs_per_sec),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsync::FsyncLoop;
    use crate::json::Render;
    use crate::load::Workload;
    use crate::report::tests::{cell, results};

    /// Loops of (when, cpus, fsyncs in one second).
    fn probe(loops: &[(When, Cpus, u64)]) -> FsyncProbe {
        FsyncProbe {
            dir: "/work".into(),
            mount: None,
            loops: loops
                .iter()
                .map(|&(when, cpus, fsyncs)| FsyncLoop {
                    when,
                    cpus,
                    fsyncs,
                    secs: 1.0,
                    mean_us: 500.0,
                    p50_us: 450.0,
                    p99_us: 1500.0,
                    max_us: 4000.0,
                })
                .collect(),
        }
    }

    #[test]
    fn ratios_per_write_run_against_the_faster_mean() {
        use Cpus::{Busy, Idle};
        use When::{AfterWorkloads as After, BeforeWorkloads as Before};
        let mut res = results(vec![
            cell(Workload::Create, 1, 1, 1000.0, 500.0),
            cell(Workload::SetData, 10, 16, 8000.0, 20000.0),
            cell(Workload::GetData, 10, 16, 30000.0, 90000.0),
        ]);
        // Busy: 2400/s before, 1600/s after; their mean, 2000/s, beats idle's 250/s and divides.
        res.fsync = Some(probe(&[
            (Before, Idle, 250),
            (Before, Busy, 2400),
            (After, Idle, 250),
            (After, Busy, 1600),
        ]));
        let mut md = String::new();
        markdown(&mut md, &res);
        assert!(md.contains("## Group commit"), "{md}");
        assert!(
            md.contains("| before the workloads | kept busy | 2400 | 1.00 | 2400 | 0.450 | 1.50 |")
        );
        assert!(
            md.contains("| after the workloads | idle | 250 | 1.00 | 250 |"),
            "{md}"
        );
        assert!(md.contains("| mean | idle | | | 250 | | |"), "{md}");
        assert!(
            md.contains("| mean (divides the ratios) | kept busy | | | 2000 | | |"),
            "{md}"
        );
        assert!(md.contains("After / before (fsyncs/s): CPUs idle 1.00, CPUs kept busy 0.67."));
        assert!(!md.contains("disagree"), "{md}");
        assert!(
            md.contains("| create | 1 x 1 | 1000 | 500 | 0.50 | 0.50 | 0.25 |"),
            "{md}"
        );
        assert!(md.contains("| setData | 10 x 16 | 8000 | 20000 | 2.50 | 4.00 | 10.00 |"));
        assert!(
            md.contains("(2000, the mean of the loops with the CPUs kept busy)"),
            "{md}"
        );
        assert!(!md.contains("| getData |"), "reads have no row: {md}");
        assert!(md.contains("one fsync at a time is the most an unbatched server"));
        assert!(md.contains("> 1 means several writes share one fsync"));

        let j = cell_json(&res.cells[1], &res).unwrap().render();
        assert!(j.contains("\"raw_fsyncs_per_sec\": 2000"), "{j}");
        assert!(
            j.contains("\"zookeeper\": 4,") && j.contains("\"corral\": 10\n"),
            "{j}"
        );
        assert!(cell_json(&res.cells[2], &res).is_none());
    }

    #[test]
    fn loops_that_disagree_by_more_than_2x_are_flagged() {
        let mut res = results(vec![cell(Workload::Create, 10, 16, 8000.0, 16000.0)]);
        res.fsync = Some(probe(&[
            (When::BeforeWorkloads, Cpus::Busy, 7700),
            (When::AfterWorkloads, Cpus::Busy, 750),
        ]));
        let mut md = String::new();
        markdown(&mut md, &res);
        assert!(md.contains("CPUs kept busy 0.10."), "{md}");
        assert!(md.contains("**The two loops with the CPUs kept busy disagree by more than 2x**"));
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
        res.fsync = Some(probe(&[(When::BeforeWorkloads, Cpus::Idle, 0)]));
        let mut md = String::new();
        markdown(&mut md, &res);
        assert!(
            md.contains("| no loop measured a rate | | | | - | | |"),
            "{md}"
        );
        assert!(
            md.contains("| create-seq | 1 x 1 | 900 | 1800 | 2.00 | - | - |"),
            "{md}"
        );
        assert!(!md.contains("After / before"), "{md}");
        let j = cell_json(&res.cells[0], &res).unwrap().render();
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
