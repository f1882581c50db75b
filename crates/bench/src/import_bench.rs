//! The migration row: N znodes written into Apache ZooKeeper 3.8, `kill -9`, then `corral
//! import` of its dataDir timed (wall time, peak RSS) against ZooKeeper's own restart on the
//! same files (spawn to the first served read, peak RSS), and Corral started on the import
//! (spawn to the first served read). The ratio is import / ZooKeeper's restart: what moving to
//! Corral costs compared to simply restarting ZooKeeper.
//!
//! Order: the import reads ZooKeeper's files first, then ZooKeeper restarts on them; both
//! read them from the page cache (they were just written). Corral's znode count after it
//! starts must equal ZooKeeper's, or the row is an error.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use serde_json::{json, Value as Json};

use crate::load;
use crate::report::mib;
use crate::server::{mntr_value, Kind, Launch, Site};

const PREFIX: &str = "/imp";
const FANOUT: usize = 1_000;

fn path(i: usize) -> String {
    format!("{PREFIX}/p{}/n{}", i / FANOUT, i % FANOUT)
}

/// The row's figures.
#[derive(Debug, Clone, Default)]
pub struct ImportResults {
    /// Znodes asked for.
    pub znodes: usize,
    /// ZooKeeper's `zk_znode_count` after the load.
    pub zk_znode_count: Option<u64>,
    /// Seconds the load took (4 sessions x 256 in flight).
    pub load_secs: f64,
    /// `corral import`: spawn to exit.
    pub import_secs: f64,
    /// Its peak RSS (its own VmHWM, which it prints).
    pub import_peak_rss: Option<u64>,
    /// Its summary line.
    pub import_line: String,
    /// ZooKeeper restarted on the same dataDir: spawn to the first served read.
    pub zk_first_read_secs: f64,
    /// ZooKeeper's peak RSS by then (VmHWM).
    pub zk_peak_rss: u64,
    /// Corral started on the import: spawn to the first served read.
    pub corral_first_read_secs: f64,
    /// Corral's peak RSS by then (VmHWM).
    pub corral_peak_rss: u64,
    /// Corral's `zk_znode_count` on the import.
    pub corral_znode_count: Option<u64>,
}

impl ImportResults {
    /// import / ZooKeeper's restart.
    pub fn ratio(&self) -> f64 {
        self.import_secs / self.zk_first_read_secs
    }
}

/// Spawn of a server on `site` to its first served read of `last`: seconds and peak RSS.
async fn first_read(site: &Site, launch: &Launch, last: &str) -> Result<(f64, u64, Option<u64>)> {
    let mut server = site.spawn(launch)?;
    server.wait_ready(Duration::from_secs(900)).await?;
    let client = load::connect_all(&server.addr, 1).await?;
    client[0]
        .get_data(last)
        .await
        .with_context(|| format!("reading {last} on {}", site.kind.name()))?;
    let secs = server.started.elapsed().as_secs_f64();
    let rss = crate::procfs::peak_rss_bytes(server.pid)?;
    let count = mntr_value(&server.addr, "zk_znode_count").await?;
    load::close_all(client).await;
    server.stop()?;
    Ok((secs, rss, count))
}

/// Runs the row with `znodes` znodes under `work` (its directories kept when `keep`).
pub async fn run(launch: &Launch, work: &Path, znodes: usize, keep: bool) -> Result<ImportResults> {
    let parents = znodes.div_ceil(FANOUT);
    println!(
        "\n== import: {znodes} znodes of {} bytes written into ZooKeeper, kill -9, `corral \
         import` vs ZooKeeper's restart",
        load::VALUE_SIZE
    );
    let mut r = ImportResults {
        znodes,
        ..ImportResults::default()
    };
    let zk_site = Site::create(Kind::ZooKeeper, work.join("import-zookeeper"), launch)?;
    let corral_site = Site::create(Kind::Corral, work.join("import-corral"), launch)?;
    let mut zk = zk_site.start(launch, Duration::from_secs(60)).await?;
    let clients = load::connect_all(&zk.addr, 4).await?;
    let dir = |_| PREFIX.to_string();
    load::create_many(&clients[..1], 1, 1, Bytes::new(), Arc::new(dir)).await?;
    let parent = |i| format!("{PREFIX}/p{i}");
    load::create_many(&clients, parents, 64, Bytes::new(), Arc::new(parent)).await?;
    let value = load::value();
    r.load_secs = load::create_many(&clients, znodes, 256, value, Arc::new(path))
        .await?
        .as_secs_f64();
    load::close_all(clients).await;
    r.zk_znode_count = mntr_value(&zk.addr, "zk_znode_count").await?;
    zk.kill9()?;
    drop(zk);

    let t = Instant::now();
    let out = Command::new(&launch.corral_bin)
        .arg("import")
        .arg("--from")
        .arg(zk_site.data_dir())
        .arg("--to")
        .arg(corral_site.data_dir())
        .env("RUST_LOG", "warn")
        .output()
        .context("running corral import")?;
    r.import_secs = t.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "corral import failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    r.import_line = stdout
        .lines()
        .find(|l| l.starts_with("imported "))
        .unwrap_or_default()
        .to_string();
    r.import_peak_rss = r
        .import_line
        .split("peak RSS ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|k| k.parse::<u64>().ok())
        .map(|k| k * 1024);

    let last = path(znodes - 1);
    (r.zk_first_read_secs, r.zk_peak_rss, _) = first_read(&zk_site, launch, &last).await?;
    let corral_count;
    (r.corral_first_read_secs, r.corral_peak_rss, corral_count) =
        first_read(&corral_site, launch, &last).await?;
    r.corral_znode_count = corral_count;
    if r.corral_znode_count != r.zk_znode_count {
        bail!(
            "Corral serves {:?} znodes after the import, ZooKeeper had {:?}",
            r.corral_znode_count,
            r.zk_znode_count
        );
    }
    println!(
        "  loaded {znodes} in {:.1} s; corral import {:.2} s (peak RSS {}), ZooKeeper restart \
         to first read {:.2} s (peak RSS {}): ratio {:.2}; Corral on the import to first \
         read {:.2} s (peak RSS {})",
        r.load_secs,
        r.import_secs,
        r.import_peak_rss.map_or("-".into(), mib),
        r.zk_first_read_secs,
        mib(r.zk_peak_rss),
        r.ratio(),
        r.corral_first_read_secs,
        mib(r.corral_peak_rss),
    );
    for site in [&zk_site, &corral_site].into_iter().filter(|_| !keep) {
        std::fs::remove_dir_all(&site.dir)
            .with_context(|| format!("removing {}", site.dir.display()))?;
    }
    Ok(r)
}

/// The results.md section.
pub fn markdown(md: &mut String, r: &ImportResults) {
    let _ = writeln!(
        md,
        "\n## Migration: {} znodes from ZooKeeper ({} bytes each, {} parents)\n",
        r.znodes,
        crate::load::VALUE_SIZE,
        r.znodes.div_ceil(FANOUT)
    );
    md.push_str("| figure | value |\n|---|--:|\n");
    let mut row = |name: &str, value: String| {
        let _ = writeln!(md, "| {name} | {value} |");
    };
    row(
        "`corral import` (spawn to exit)",
        format!("{:.3} s", r.import_secs),
    );
    row(
        "`corral import` peak RSS",
        r.import_peak_rss.map_or("-".into(), mib),
    );
    row(
        "ZooKeeper restart on the same data (spawn to first read)",
        format!("{:.3} s", r.zk_first_read_secs),
    );
    row("ZooKeeper peak RSS by then", mib(r.zk_peak_rss));
    row(
        "**import / ZooKeeper restart**",
        format!("**{:.2}**", r.ratio()),
    );
    row(
        "Corral on the import (spawn to first read)",
        format!("{:.3} s", r.corral_first_read_secs),
    );
    row("Corral peak RSS by then", mib(r.corral_peak_rss));
    let _ = writeln!(
        md,
        "\nZooKeeper was killed with SIGKILL after the load ({:.1} s); its zk_znode_count \
         {}, Corral's on the import {}. The import read ZooKeeper's files first, then \
         ZooKeeper restarted on them (both from the page cache). Import: {}",
        r.load_secs,
        count(r.zk_znode_count),
        count(r.corral_znode_count),
        r.import_line
    );
}

fn count(n: Option<u64>) -> String {
    n.map_or("-".into(), |n| n.to_string())
}

/// The results.json object.
pub fn json(r: &ImportResults) -> Json {
    json!({
        "znodes": r.znodes,
        "value_bytes": crate::load::VALUE_SIZE,
        "load_secs": r.load_secs,
        "zookeeper_znode_count": r.zk_znode_count,
        "import_secs": r.import_secs,
        "import_peak_rss_bytes": r.import_peak_rss,
        "import_output": r.import_line,
        "zookeeper_restart_first_read_secs": r.zk_first_read_secs,
        "zookeeper_peak_rss_bytes": r.zk_peak_rss,
        "import_over_zookeeper_restart": r.ratio(),
        "corral_on_import_first_read_secs": r.corral_first_read_secs,
        "corral_peak_rss_bytes": r.corral_peak_rss,
        "corral_znode_count": r.corral_znode_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_and_json_carry_the_ratio() {
        let r = ImportResults {
            znodes: 20_000,
            import_secs: 1.5,
            zk_first_read_secs: 3.0,
            import_peak_rss: Some(64 << 20),
            zk_peak_rss: 128 << 20,
            ..ImportResults::default()
        };
        let mut md = String::new();
        markdown(&mut md, &r);
        assert!(
            md.contains("| **import / ZooKeeper restart** | **0.50** |"),
            "{md}"
        );
        assert!(
            md.contains("| `corral import` peak RSS | 64.0 MiB |"),
            "{md}"
        );
        let j = json(&r);
        assert_eq!(j["import_over_zookeeper_restart"], json!(0.5));
        assert_eq!(j["import_peak_rss_bytes"], json!(64u64 << 20));
        assert_eq!(path(1_234), "/imp/p1/n234");
    }
}
