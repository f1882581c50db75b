//! The SNAP rejoin section of results.md and results.json: both kinds' rejoin times, the
//! leader's probe latency before and during the rejoin, the memory of both processes, and the
//! checks (same znode count and digest everywhere, the catch-up was a SNAP).

use std::fmt::Write;

use super::figures::{mib, ms, ratio};
use crate::ensemble_suite::SIZE;
use crate::json::{json, Json};
use crate::load::VALUE_SIZE;
use crate::snap_rejoin::{Pause, Rejoin, SnapResults, DIGEST_WRITES, WRITES_WHILE_DOWN};

/// One table row: a name and each kind's figure as a number (for the ratio) and as text.
type Row = (String, Option<f64>, Option<f64>, fn(f64) -> String);
/// One of a rejoin's four probe windows.
type PauseOf = fn(&Rejoin) -> &Pause;
/// One of a rejoin's memory figures, in bytes.
type BytesOf = fn(&Rejoin) -> u64;

fn secs(s: f64) -> String {
    format!("{s:.3}")
}

fn ms_of_us(us: f64) -> String {
    ms(us)
}

fn mib_of(b: f64) -> String {
    mib(b as u64)
}

fn rows(z: Option<&Rejoin>, c: Option<&Rejoin>) -> Vec<Row> {
    let f = |get: fn(&Rejoin) -> Option<f64>| (z.and_then(get), c.and_then(get));
    let mut rows: Vec<Row> = Vec::new();
    let mut add = |name: &str, (zv, cv): (Option<f64>, Option<f64>), fmt: fn(f64) -> String| {
        rows.push((name.to_string(), zv, cv, fmt));
    };
    add(
        "rejoin: restart to the newest znode read on the follower and its zxid caught up (s)",
        f(|r| r.rejoin_secs()),
        secs,
    );
    add(
        "restart to the follower's srvr Mode line (s)",
        f(|r| r.serving_secs),
        secs,
    );
    add(
        "restart to the follower's srvr Zxid at the leader's (s)",
        f(|r| r.zxid_secs),
        secs,
    );
    add(
        "restart to the newest znode read on the follower (s)",
        f(|r| r.read_secs),
        secs,
    );
    let pauses: [(&str, PauseOf); 4] = [
        ("leader getData before", |r| &r.get_before),
        ("leader getData during the rejoin", |r| &r.get_during),
        ("leader setData before", |r| &r.set_before),
        ("leader setData during the rejoin", |r| &r.set_during),
    ];
    for (name, pause) in pauses {
        let p99 = (z.map(|r| pause(r).p99_us), c.map(|r| pause(r).p99_us));
        let max = (z.map(|r| pause(r).max_us), c.map(|r| pause(r).max_us));
        let n = (
            z.map(|r| pause(r).requests as f64),
            c.map(|r| pause(r).requests as f64),
        );
        add(&format!("{name}: p99 (ms)"), p99, ms_of_us);
        add(&format!("{name}: max (ms)"), max, ms_of_us);
        add(&format!("{name}: requests"), n, |v| format!("{v:.0}"));
    }
    let errors = |r: &Rejoin| {
        [&r.get_before, &r.get_during, &r.set_before, &r.set_during]
            .iter()
            .map(|p| p.errors)
            .sum::<usize>() as f64
    };
    add(
        "probe requests failed (all windows)",
        (z.map(errors), c.map(errors)),
        |v| format!("{v:.0}"),
    );
    let memory: [(&str, BytesOf); 5] = [
        ("leader RSS before the restart", |r| r.leader_rss_before),
        ("leader peak RSS during the rejoin", |r| r.leader_peak_rss),
        ("follower peak RSS at the end of the rejoin", |r| {
            r.follower_peak_rss_rejoined
        }),
        ("follower peak RSS 1 s after the rejoin", |r| {
            r.follower_peak_rss
        }),
        ("follower RSS 1 s after the rejoin", |r| {
            r.follower_rss_after
        }),
    ];
    for (name, get) in memory {
        add(
            name,
            (z.map(|r| get(r) as f64), c.map(|r| get(r) as f64)),
            mib_of,
        );
    }
    rows
}

/// The checks and facts of one kind, as text.
fn facts(r: Option<&Rejoin>) -> [String; 5] {
    let Some(r) = r else {
        return Default::default();
    };
    let list = |v: Vec<String>| v.join(" / ");
    let opt = |v: &Option<u64>| v.map_or("-".into(), |n| n.to_string());
    [
        format!("{} / {}", r.leader, r.follower),
        list(r.znode_counts.iter().map(opt).collect()),
        if r.consistent() {
            format!(
                "yes ({})",
                r.digests.first().cloned().flatten().unwrap_or_default()
            )
        } else {
            format!(
                "NO: {}",
                list(
                    r.digests
                        .iter()
                        .map(|d| d.clone().unwrap_or("-".into()))
                        .collect()
                )
            )
        },
        format!(
            "{} ({}; snapshot 0x{} in the wiped dir)",
            if r.by_snap() { "yes" } else { "NOT SHOWN" },
            match (&r.leader_snaps_sent, r.follower_syncs.as_slice()) {
                (Some(n), _) => format!("leader zk_snap_count +{n}"),
                (None, []) => "no metric, no log line".into(),
                (None, syncs) => format!("follower log: by {}", syncs.join(", then by ")),
            },
            r.follower_snapshot_zxid
                .map_or("-".into(), |z| format!("{z:x}")),
        ),
        if r.timed_out {
            "timed out".into()
        } else {
            "no".into()
        },
    ]
}

pub fn markdown(md: &mut String, s: &SnapResults) {
    let o = &s.opts;
    let _ = writeln!(
        md,
        "\n## SNAP rejoin of a follower\n\n\
         Per kind, one after the other: a {SIZE}-server ensemble (the keys above with \
         snapCount {}, plus {}) \
         loaded with {} znodes of {VALUE_SIZE} bytes (pipelined creates over sessions on all \
         servers); `kill -9` of a follower, its `dataDir/version-2` deleted (`myid` kept), \
         {WRITES_WHILE_DOWN} + 1 creates through the leader, then the follower restarted: it \
         can only catch up by SNAP. Two sessions on the leader only run closed loops (getData \
         of one znode, setData of another, one request outstanding each); a request counts in \
         the window it was sent in: {:.0} s before the restart (2 servers up) and the rejoin \
         (from the restart until the follower serves a read of the newest znode and its `srvr` \
         Zxid reached the leader's at the restart). Leader peak RSS: VmHWM reset at the restart \
         (and 10 ms samples); follower peak: its VmHWM since its restart. Afterwards \
         {DIGEST_WRITES} creates, `sync` on every server, then `mntr` zk_znode_count and the \
         newest `hash` digest of each.\n",
        o.snap_count,
        crate::ensemble::describe_keys(),
        o.znodes,
        o.before.as_secs_f64(),
    );
    let (z, c) = (s.zookeeper.as_ref(), s.corral.as_ref());
    md.push_str("| figure | ZooKeeper | Corral | Corral / ZooKeeper |\n|---|--:|--:|--:|\n");
    let load_rate = |r: &Rejoin| o.znodes as f64 / r.load_secs;
    let mut all = rows(z, c);
    all.push((
        format!("load of {} znodes: creates/s", o.znodes),
        z.map(load_rate),
        c.map(load_rate),
        |v| format!("{v:.0}"),
    ));
    for (name, zv, cv, fmt) in all {
        let text = |v: Option<f64>| v.filter(|v| v.is_finite()).map_or("-".into(), fmt);
        let r = match (zv, cv) {
            (Some(zv), Some(cv)) => ratio(cv, zv),
            _ => "-".into(),
        };
        let _ = writeln!(md, "| {name} | {} | {} | {r} |", text(zv), text(cv));
    }
    let names = [
        "leader / follower (server numbers)",
        "zk_znode_count per server after the rejoin",
        "newest `hash` digest the same on every server",
        "caught up by SNAP",
        "rejoin timed out",
    ];
    let (zf, cf) = (facts(z), facts(c));
    for ((name, zt), ct) in names.iter().zip(zf).zip(cf) {
        let _ = writeln!(md, "| {name} | {zt} | {ct} | |");
    }
}

fn pause_json(p: &Pause) -> Json {
    json!({
        "secs": p.secs,
        "requests": p.requests,
        "errors": p.errors,
        "p50_us": p.p50_us,
        "p99_us": p.p99_us,
        "max_us": p.max_us,
    })
}

fn rejoin_json(r: &Rejoin, znodes: usize) -> Json {
    json!({
        "load_secs": r.load_secs,
        "load_creates_per_sec": znodes as f64 / r.load_secs,
        "leader": r.leader,
        "follower": r.follower,
        "leader_zxid_at_restart": format!("0x{:x}", r.target_zxid),
        "rejoin_secs": r.rejoin_secs(),
        "serving_secs": r.serving_secs,
        "zxid_caught_up_secs": r.zxid_secs,
        "newest_read_secs": r.read_secs,
        "timed_out": r.timed_out,
        "leader_get": { "before": pause_json(&r.get_before), "during": pause_json(&r.get_during) },
        "leader_set": { "before": pause_json(&r.set_before), "during": pause_json(&r.set_during) },
        "leader_rss_before_bytes": r.leader_rss_before,
        "leader_peak_rss_during_bytes": r.leader_peak_rss,
        "leader_peak_from_vmhwm": r.leader_peak_from_hwm,
        "follower_peak_rss_at_rejoin_bytes": r.follower_peak_rss_rejoined,
        "follower_peak_rss_bytes": r.follower_peak_rss,
        "follower_rss_after_bytes": r.follower_rss_after,
        "znode_counts": r.znode_counts,
        "newest_digests": r.digests,
        "consistent": r.consistent(),
        "follower_snapshot_zxid": r.follower_snapshot_zxid.map(|z| format!("0x{z:x}")),
        "leader_snaps_sent": r.leader_snaps_sent,
        "follower_syncs_logged": r.follower_syncs,
        "by_snap": r.by_snap(),
    })
}

pub fn json(s: &SnapResults) -> Json {
    let o = &s.opts;
    let mut j = json!({
        "servers": SIZE,
        "znodes": o.znodes,
        "value_bytes": VALUE_SIZE,
        "snap_count": o.snap_count,
        "writes_while_down": WRITES_WHILE_DOWN + 1,
        "before_window_secs": o.before.as_secs_f64(),
        "rejoin_timeout_secs": o.rejoin_timeout.as_secs_f64(),
    });
    if let Some(z) = &s.zookeeper {
        j["zookeeper"] = rejoin_json(z, o.znodes);
    }
    if let Some(c) = &s.corral {
        j["corral"] = rejoin_json(c, o.znodes);
    }
    if let (Some(z), Some(c)) = (&s.zookeeper, &s.corral) {
        let r = |c: Option<f64>, z: Option<f64>| c.zip(z).map(|(c, z)| c / z);
        let f = |get: fn(&Rejoin) -> f64| get(c) / get(z);
        j["ratio_corral_over_zookeeper"] = json!({
            "rejoin_secs": r(c.rejoin_secs(), z.rejoin_secs()),
            "leader_get_p99_during": f(|r| r.get_during.p99_us),
            "leader_get_max_during": f(|r| r.get_during.max_us),
            "leader_set_p99_during": f(|r| r.set_during.p99_us),
            "leader_set_max_during": f(|r| r.set_during.max_us),
            "leader_peak_rss": f(|r| r.leader_peak_rss as f64),
            "follower_peak_rss": f(|r| r.follower_peak_rss as f64),
        });
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Render;
    use crate::report::tests::results;
    use crate::snap_rejoin::SnapOptions;

    fn pause(p99_ms: f64, max_ms: f64) -> Pause {
        Pause {
            secs: 5.0,
            requests: 1000,
            errors: 0,
            p50_us: 100.0,
            p99_us: p99_ms * 1e3,
            max_us: max_ms * 1e3,
        }
    }

    fn rejoin(read: f64, get_max_ms: f64, digest: &str) -> Rejoin {
        Rejoin {
            load_secs: 10.0,
            leader: 2,
            follower: 1,
            target_zxid: 0x1_0000_0100,
            serving_secs: Some(read - 0.5),
            zxid_secs: Some(read - 0.1),
            read_secs: Some(read),
            timed_out: false,
            get_before: pause(0.2, 1.0),
            get_during: pause(0.4, get_max_ms),
            set_before: pause(2.0, 5.0),
            set_during: pause(3.0, get_max_ms),
            leader_rss_before: 100 << 20,
            leader_peak_rss: 300 << 20,
            leader_peak_from_hwm: true,
            follower_peak_rss_rejoined: 200 << 20,
            follower_peak_rss: 210 << 20,
            follower_rss_after: 150 << 20,
            znode_counts: vec![Some(1005); 3],
            digests: vec![Some(format!("100000100: {digest}")); 3],
            follower_snapshot_zxid: Some(0x1_0000_00f0),
            leader_snaps_sent: None,
            follower_syncs: Vec::new(),
        }
    }

    #[test]
    fn the_snap_rejoin_section_reaches_results_md_and_json() {
        let mut res = results(Vec::new());
        let mut z = rejoin(4.0, 20.0, "77");
        z.leader_snaps_sent = Some(1);
        let mut c = rejoin(1.0, 800.0, "77");
        c.follower_syncs = vec!["Snap up to 0x1000000f0".into()];
        c.digests[2] = Some("100000100: 78".into());
        res.snap_rejoin = Some(SnapResults {
            opts: SnapOptions::new(1000, 100_000, true),
            zookeeper: Some(z),
            corral: Some(c),
        });
        let md = crate::report::markdown(&res);
        assert!(md.contains("## SNAP rejoin of a follower"), "{md}");
        assert!(md.contains("snapCount 250"), "{md}");
        assert!(
            md.contains("| rejoin: restart to the newest znode read on the follower and its zxid caught up (s) | 4.000 | 1.000 | 0.25 |"),
            "{md}"
        );
        assert!(
            md.contains("| leader getData during the rejoin: max (ms) | 20.00 | 800 | 40.00 |"),
            "{md}"
        );
        assert!(
            md.contains("| leader peak RSS during the rejoin | 300.0 MiB | 300.0 MiB | 1.00 |"),
            "{md}"
        );
        assert!(
            md.contains("| load of 1000 znodes: creates/s | 100 | 100 | 1.00 |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| newest `hash` digest the same on every server | yes (100000100: 77) | NO: "
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "| caught up by SNAP | yes (leader zk_snap_count +1; snapshot 0x1000000f0 in the \
                 wiped dir) | yes (follower log: by Snap up to 0x1000000f0; snapshot"
            ),
            "{md}"
        );
        let j = crate::report::json(&res).render();
        assert!(j.contains("\"snap_rejoin\""), "{j}");
        assert!(j.contains("\"leader_get_max_during\": 40"), "{j}");
        assert!(j.contains("\"consistent\": false"), "{j}");
        assert!(j.contains("\"rejoin_secs\": 0.25"), "{j}");
    }

    #[test]
    fn a_missing_kind_or_a_timeout_still_renders() {
        let mut res = results(Vec::new());
        let mut z = rejoin(4.0, 20.0, "1");
        z.timed_out = true;
        z.read_secs = None;
        res.snap_rejoin = Some(SnapResults {
            opts: SnapOptions::new(1000, 100_000, true),
            zookeeper: Some(z),
            corral: None,
        });
        let md = crate::report::markdown(&res);
        assert!(md.contains("| rejoin timed out | timed out |  | |"), "{md}");
        assert!(md.contains("caught up (s) | - | - | - |"), "{md}");
        assert!(!crate::report::json(&res)
            .render()
            .contains("ratio_corral_over_zookeeper"));
    }
}
