//! Speed and memory probes, ignored (they print; nothing is asserted about time):
//! `cargo test -p corral-datatree --release -- --ignored snapshot_speed --nocapture`
//! (`PROBE_READS=n` loads each snapshot n more times, alternating the versions). The one place
//! in this crate that reads a clock: a probe of speed, not part of the crate.
#![allow(clippy::disallowed_methods)]

use crate::Zxid;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::v1::write_v1;
use crate::{DataTree, DataTreeConfig, SnapshotProgress};

/// 1000 parents with 999 children each (1,000,005 znodes as ZooKeeper counts them).
#[test]
#[ignore]
fn snapshot_speed() {
    probe("1000 x 1000", |t, add| {
        for i in 0..1000 {
            let p = format!("/n{i:04}");
            add(t, &p);
            for j in 0..999 {
                add(t, &format!("{p}/c{j:04}"));
            }
        }
    });
}

/// One directory of 999,999 children (1,000,005 znodes).
#[test]
#[ignore]
fn snapshot_speed_flat() {
    probe("flat", |t, add| {
        add(t, "/flat");
        for j in 0..999_999 {
            add(t, &format!("/flat/c{j:07}"));
        }
    });
}

/// Something that adds the node at a path.
type Add<'a> = dyn FnMut(&mut DataTree, &str) + 'a;

fn probe(shape: &str, build: impl FnOnce(&mut DataTree, &mut Add<'_>)) {
    let mut t = DataTree::new();
    let acl = corral_acl::open_acl_unsafe();
    let data = Bytes::from(vec![b'x'; 100]);
    let mut zxid = 0;
    let mut ev = Vec::new();
    let started = Instant::now();
    build(&mut t, &mut |t: &mut DataTree, p: &str| {
        zxid += 1;
        t.create_node(
            p,
            Some(&data),
            &acl,
            0,
            -1,
            Zxid(zxid),
            zxid as i64,
            &mut ev,
        )
        .unwrap();
        ev.clear();
    });
    println!(
        "[{shape}] {} znodes built in {:?}",
        t.node_count(),
        started.elapsed()
    );

    let (v1, cpu_v1_write) = cpu(|| write_v1(&t));
    let (v2, cpu_v2_write) = cpu(|| {
        let mut out = Vec::with_capacity(v1.len() + (16 << 20));
        t.write_snapshot(&mut out).unwrap();
        out
    });
    let mb = v2.len() as f64 / 1e6;
    println!(
        "[{shape}] write: v1 {} bytes cpu {cpu_v1_write:?}; v2 {} bytes cpu {cpu_v2_write:?} ({:.0} MB/s)",
        v1.len(),
        v2.len(),
        mb / cpu_v2_write.as_secs_f64()
    );

    // Incremental, 1000 units a step, no writes in between.
    let mut steps = 0u32;
    let mut longest = Duration::ZERO;
    let (inc, cpu_inc) = cpu(|| {
        let mut out = Vec::with_capacity(v2.len() + (16 << 20));
        t.begin_snapshot().unwrap();
        loop {
            let s = Instant::now();
            let p = t.snapshot_step(1000, &mut out).unwrap();
            longest = longest.max(s.elapsed());
            steps += 1;
            if p == SnapshotProgress::Done {
                return out;
            }
        }
    });
    println!(
        "[{shape}] incremental: {steps} steps of 1000, cpu {cpu_inc:?} ({:?} a step, longest step {longest:?} wall)",
        cpu_inc / steps
    );

    drop(inc);

    // The first load of each (fresh memory), and the RSS it adds. `PROBE_FIRST=v1` loads v1
    // first (default v2): the second load can reuse memory the first one freed, so the RSS of
    // the first is the one to trust (run twice to have both).
    let v1_first = std::env::var("PROBE_FIRST").is_ok_and(|v| v == "v1");
    let order: [(&str, &[u8]); 2] = if v1_first {
        [("v1", &v1), ("v2", &v2)]
    } else {
        [("v2", &v2), ("v1", &v1)]
    };
    let mut kept = Vec::new();
    for (name, bytes) in order {
        let rss = rss_bytes();
        let (back, spent) = cpu(|| read(bytes));
        let added = rss
            .zip(rss_bytes())
            .map_or(0, |(a, b)| b.saturating_sub(a) / t.node_count() as u64);
        assert_eq!(back.node_count(), t.node_count());
        assert_eq!(back.approximate_data_size(), t.approximate_data_size());
        println!("[{shape}] {name} load: cpu {spent:?}, RSS {added} bytes per znode");
        kept.push(back);
    }
    drop(kept);
    let n: usize = std::env::var("PROBE_READS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let (mut best1, mut best2) = (Duration::MAX, Duration::MAX);
    for _ in 0..n {
        best1 = best1.min(cpu(|| read(&v1)).1);
        best2 = best2.min(cpu(|| read(&v2)).1);
    }
    if n > 0 {
        println!(
            "[{shape}] best of {n} more loads: v1 {best1:?}, v2 {best2:?} ({:+.1}%)",
            (best2.as_secs_f64() / best1.as_secs_f64() - 1.0) * 100.0
        );
    }
}

fn read(bytes: &[u8]) -> DataTree {
    DataTree::read_snapshot(&mut &bytes[..], DataTreeConfig::default()).unwrap()
}

/// Runs `f`, with the CPU time this thread spent in it (on a busy machine wall time says
/// little). Dropping the result is not counted.
fn cpu<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = cpu_time();
    let out = f();
    let spent = cpu_time()
        .zip(start)
        .map_or(Duration::ZERO, |(b, a)| b.saturating_sub(a));
    (out, spent)
}

/// CPU time this thread has run (Linux).
fn cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// The process's resident set size (Linux).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
