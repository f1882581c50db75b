//! A follower's SNAP rejoin on a loaded 3-server ensemble, both kinds in the same run (issue
//! 15's "a follower's SNAP rejoin with 1,000,000 znodes: time, leader pause, memory").
//!
//! Per kind, one after the other (the other kind's ensemble is not running meanwhile):
//! 1. start 3 servers (the suite's zoo.cfg keys; snapCount at most a quarter of the znodes, so
//!    the leader has snapshotted and can only catch a wiped follower up by SNAP), load N
//!    100-byte znodes (`/snap/pI/nJ`, 1,000 per parent) with pipelined creates over sessions
//!    spread on the three servers;
//! 2. `kill -9` a follower (by `srvr` Mode), delete its `dataDir/version-2` (snapshots, txn
//!    log, epoch files; `myid` stays), write [`WRITES_WHILE_DOWN`] znodes and then the newest,
//!    `/snap/newest`, through the leader;
//! 3. two sessions connected to the leader only run closed loops, one getData, one setData,
//!    recording each request's latency by the time it was sent: [`BEFORE`] windows before the
//!    restart and the rejoin window after it (see [`Pause`]);
//! 4. restart the follower; the rejoin ends when the follower serves a read of `/snap/newest`
//!    and its `srvr` Zxid has reached the leader's at the restart (bounded by a timeout);
//!    meanwhile both processes' RSS are sampled, and the leader's VmHWM was reset at the
//!    restart, so its peak is the rejoin's;
//! 5. after 1 s: the follower's VmHWM (its peak since it started) and RSS; what shows the
//!    catch-up was a SNAP (a snapshot file in the follower's wiped directory, ZooKeeper's leader
//!    `zk_snap_count`); then [`DIGEST_WRITES`] creates cross a 128-zxid mark, every server
//!    `sync`s, and the servers' newest `hash` digests and `mntr` zk_znode_count must agree.
//!
//! Nothing here asserts a time; the tests below check the parsing and the window arithmetic.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use corral_client::{Client, CreateMode};

use crate::ensemble::{parse_mode, Ensemble, Mode};
use crate::ensemble_suite::SIZE;
use crate::load;
use crate::procfs::{peak_rss_bytes, reset_peak_rss, rss_bytes};
use crate::server::{four_letter, mntr_value, Kind, Launch};

mod probe;

pub use probe::Pause;
use probe::{sample_rss, window, Probes};

const PREFIX: &str = "/snap";
const FANOUT: usize = 1_000;
/// Znodes written through the leader while the follower is down (its data deleted).
pub const WRITES_WHILE_DOWN: usize = 100;
/// Creates after the rejoin: more than 128 zxids, so every server records a digest (`hash`)
/// at the same zxid.
pub const DIGEST_WRITES: usize = 130;
/// Load sessions (spread round-robin over the servers) and creates outstanding on each.
pub const LOAD_SESSIONS: usize = 6;
pub const LOAD_WINDOW: usize = 128;
/// The probes' "before" window in the full run (`--quick`: 1 s).
pub const BEFORE: Duration = Duration::from_secs(5);
const START_TIMEOUT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(10);
/// Time after the rejoin before the follower's memory is read.
const SETTLE: Duration = Duration::from_secs(1);

fn node_path(i: usize) -> String {
    format!("{PREFIX}/p{}/n{}", i / FANOUT, i % FANOUT)
}

/// What the row runs with.
#[derive(Debug, Clone)]
pub struct SnapOptions {
    pub znodes: usize,
    /// The ensembles' snapCount: the suite's, at most a quarter of `znodes`.
    pub snap_count: u32,
    /// How long the probes run before the restart.
    pub before: Duration,
    /// The longest a rejoin may take before it counts as timed out.
    pub rejoin_timeout: Duration,
}

impl SnapOptions {
    pub fn new(znodes: usize, suite_snap_count: u32, quick: bool) -> SnapOptions {
        let quarter = u32::try_from(znodes / 4).unwrap_or(u32::MAX).max(100);
        SnapOptions {
            znodes,
            snap_count: suite_snap_count.min(quarter),
            before: if quick {
                Duration::from_secs(1)
            } else {
                BEFORE
            },
            rejoin_timeout: Duration::from_secs(if quick { 120 } else { 900 }),
        }
    }
}

/// The `Zxid: 0x…` line of a `srvr` answer.
pub fn parse_zxid(srvr: &str) -> Option<u64> {
    let hex = srvr.lines().find_map(|l| l.strip_prefix("Zxid:"))?.trim();
    u64::from_str_radix(hex.strip_prefix("0x").unwrap_or(hex), 16).ok()
}

/// The newest `zxid: digest` line of a `hash` answer (ZooKeeper and Corral record one every
/// 128 zxids, so servers that applied the same txns print the same newest line).
pub fn newest_digest(hash: &str) -> Option<String> {
    hash.lines()
        .map(str::trim)
        .rfind(|l| l.contains(':'))
        .map(str::to_string)
}

/// Each `synchronised with leader … by KIND up to ZXID` line of a Corral log, oldest first,
/// as `KIND up to ZXID` (KIND: `Snap`, `Diff`, `Trunc`).
pub fn syncs_logged(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("synchronised with leader"))
        .filter_map(|l| l.split_once(" by "))
        .map(|(_, how)| how.trim().to_string())
        .collect()
}

/// The zxid of a `snapshot.<hex>` file name.
pub fn snapshot_zxid(name: &str) -> Option<u64> {
    let hex = name.strip_prefix("snapshot.")?;
    u64::from_str_radix(hex, 16).ok()
}

/// The newest snapshot's zxid in `dir` (none when there is no snapshot file).
fn newest_snapshot(dir: &Path) -> Result<Option<u64>> {
    let mut newest = None;
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        if let Some(z) = entry.file_name().to_str().and_then(snapshot_zxid) {
            newest = newest.max(Some(z));
        }
    }
    Ok(newest)
}

/// One kind's rejoin.
#[derive(Debug, Clone, Default)]
pub struct Rejoin {
    pub load_secs: f64,
    /// 1-based server numbers.
    pub leader: usize,
    pub follower: usize,
    /// The leader's zxid when the follower was restarted.
    pub target_zxid: u64,
    /// From the restart (the spawn) to: the follower answering `srvr` with a Mode line, its
    /// Zxid reaching `target_zxid`, its serving a read of the newest znode. `None`: not within
    /// the timeout.
    pub serving_secs: Option<f64>,
    pub zxid_secs: Option<f64>,
    pub read_secs: Option<f64>,
    pub timed_out: bool,
    /// The leader's probes before the restart and during the rejoin.
    pub get_before: Pause,
    pub get_during: Pause,
    pub set_before: Pause,
    pub set_during: Pause,
    pub leader_rss_before: u64,
    /// The leader's peak RSS from the restart to the end of the rejoin (VmHWM after a reset at
    /// the restart, or the largest sample where the reset failed).
    pub leader_peak_rss: u64,
    pub leader_peak_from_hwm: bool,
    /// The follower's VmHWM (peak since its restart) at the end of the rejoin and after the
    /// settle time, and its RSS then.
    pub follower_peak_rss_rejoined: u64,
    pub follower_peak_rss: u64,
    pub follower_rss_after: u64,
    /// `mntr` zk_znode_count of each server after the digest writes and `sync`.
    pub znode_counts: Vec<Option<u64>>,
    /// The newest `hash` line of each server then.
    pub digests: Vec<Option<String>>,
    /// The newest snapshot file's zxid in the follower's (wiped) directory after the rejoin.
    pub follower_snapshot_zxid: Option<u64>,
    /// How many SNAPs the leader sent during the round, by its `mntr` zk_snap_count (a
    /// ZooKeeper metric; `None` where the key is missing).
    pub leader_snaps_sent: Option<u64>,
    /// How the follower says it caught up after its restart, each time it did (Corral's
    /// `synchronised with leader … by Snap up to 0x…` lines, logged at info by
    /// `corral_server::member`; empty where no such line is logged). More than one: it
    /// lost the leader and synchronised again.
    pub follower_syncs: Vec<String>,
}

impl Rejoin {
    /// The rejoin time: to the read of the newest znode and the zxid caught up, whichever is
    /// later.
    pub fn rejoin_secs(&self) -> Option<f64> {
        Some(self.read_secs?.max(self.zxid_secs?))
    }

    /// Every server counts the same znodes and prints the same newest digest.
    pub fn consistent(&self) -> bool {
        fn same<T: PartialEq>(v: &[Option<T>]) -> bool {
            v.first().is_some_and(Option::is_some) && v.windows(2).all(|w| w[0] == w[1])
        }
        !self.timed_out && same(&self.znode_counts) && same(&self.digests)
    }

    /// Whether the catch-up was a SNAP, as the server says: ZooKeeper's leader counted one
    /// sent (`zk_snap_count`), Corral's follower logged `by Snap` first. (A snapshot file in
    /// the wiped directory is no proof: a follower that DIFFs more than snapCount txns writes
    /// one.)
    pub fn by_snap(&self) -> bool {
        self.leader_snaps_sent.is_some_and(|n| n > 0)
            || self
                .follower_syncs
                .first()
                .is_some_and(|s| s.starts_with("Snap "))
    }
}

/// Both kinds' rejoins.
#[derive(Debug, Clone)]
pub struct SnapResults {
    pub opts: SnapOptions,
    pub zookeeper: Option<Rejoin>,
    pub corral: Option<Rejoin>,
}

impl SnapResults {
    pub fn new(opts: SnapOptions) -> SnapResults {
        SnapResults {
            opts,
            zookeeper: None,
            corral: None,
        }
    }
}

/// Runs the row for ZooKeeper, then Corral, into `out` (what was measured before an error
/// stays there); removes each ensemble's directory unless `keep_work`.
pub async fn run(
    launch: &Launch,
    work: &Path,
    keep_work: bool,
    out: &mut SnapResults,
) -> Result<()> {
    let o = out.opts.clone();
    println!(
        "\n== SNAP rejoin: {SIZE}-server ensembles, {} znodes of {} bytes, snapCount {}; kill -9 \
         of a follower, its data deleted, {WRITES_WHILE_DOWN} writes, restart; leader probes \
         {:.0} s before and during the rejoin",
        o.znodes,
        load::VALUE_SIZE,
        o.snap_count,
        o.before.as_secs_f64()
    );
    let launch = Launch {
        snap_count: o.snap_count,
        ..launch.clone()
    };
    for kind in [Kind::ZooKeeper, Kind::Corral] {
        let dir = work.join(format!("snap-{}", kind.name()));
        let mut ens = Ensemble::create(kind, &dir, &launch, SIZE)?;
        ens.start(&launch, START_TIMEOUT).await?;
        let measured = round(&mut ens, &launch, &o).await;
        let stopped = ens.stop();
        let r = measured.with_context(|| format!("the {} SNAP rejoin", kind.name()))?;
        stopped?;
        print(kind, &r);
        match kind {
            Kind::ZooKeeper => out.zookeeper = Some(r),
            Kind::Corral => out.corral = Some(r),
        }
        if !keep_work {
            fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    Ok(())
}

fn print(kind: Kind, r: &Rejoin) {
    let s = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.3} s"));
    let mib = crate::report::mib;
    println!(
        "  {:<9} load {:.1} s; server {} (follower) of leader {}: serving {}, zxid {}, newest \
         read {}{}; leader getData p99/max {:.2}/{:.1} ms before, {:.2}/{:.1} ms during; \
         setData {:.2}/{:.1} ms before, {:.2}/{:.1} ms during; leader RSS {} -> peak {}; \
         follower peak {}; znodes {:?}; digests agree {}; by SNAP {}",
        kind.name(),
        r.load_secs,
        r.follower,
        r.leader,
        s(r.serving_secs),
        s(r.zxid_secs),
        s(r.read_secs),
        if r.timed_out { " (timed out)" } else { "" },
        r.get_before.p99_us / 1e3,
        r.get_before.max_us / 1e3,
        r.get_during.p99_us / 1e3,
        r.get_during.max_us / 1e3,
        r.set_before.p99_us / 1e3,
        r.set_before.max_us / 1e3,
        r.set_during.p99_us / 1e3,
        r.set_during.max_us / 1e3,
        mib(r.leader_rss_before),
        mib(r.leader_peak_rss),
        mib(r.follower_peak_rss),
        r.znode_counts,
        r.consistent(),
        r.by_snap(),
    );
}

/// Creates `/snap`, its parents and the znodes, sessions spread over the servers; the time
/// the znodes took.
async fn load_tree(addrs: &[String], n: usize) -> Result<f64> {
    let clients = load::connect_spread(addrs, LOAD_SESSIONS).await?;
    let prefix = |_: usize| PREFIX.to_string();
    load::create_many(&clients[..1], 1, 1, Bytes::new(), Arc::new(prefix)).await?;
    let parents = n.div_ceil(FANOUT);
    let parent = |i: usize| format!("{PREFIX}/p{i}");
    load::create_many(&clients, parents, 64, Bytes::new(), Arc::new(parent)).await?;
    let took = load::create_many(&clients, n, LOAD_WINDOW, load::value(), Arc::new(node_path))
        .await?
        .as_secs_f64();
    load::close_all(clients).await;
    Ok(took)
}

/// When the restarted follower served, caught up and answered the read (since `restart`).
#[derive(Debug, Default)]
struct Marks {
    serving: Option<Duration>,
    zxid: Option<Duration>,
    read: Option<Duration>,
}

/// Polls the follower until it serves a read of `newest` and its zxid reaches `target`, or
/// `timeout` after `restart`.
async fn await_rejoin(
    ens: &mut Ensemble,
    follower: usize,
    restart: Instant,
    target: u64,
    newest: &str,
    timeout: Duration,
) -> Result<Marks> {
    let addr = ens.addrs()[follower].clone();
    let mut m = Marks::default();
    let mut reader: Option<Client> = None;
    while m.read.is_none() || m.zxid.is_none() {
        ens.check_running(follower)?;
        if restart.elapsed() >= timeout {
            break;
        }
        if let Ok(srvr) = four_letter(&addr, "srvr", Duration::from_secs(1)).await {
            let at = restart.elapsed();
            if parse_mode(&srvr).is_some() {
                m.serving.get_or_insert(at);
            }
            if parse_zxid(&srvr).is_some_and(|z| z >= target) {
                m.zxid.get_or_insert(at);
            }
        }
        if m.serving.is_some() && m.read.is_none() {
            if reader.is_none() {
                reader = Client::builder(&addr)
                    .session_timeout(Duration::from_secs(30))
                    .connect_timeout(Duration::from_secs(5))
                    .connect()
                    .await
                    .ok();
            }
            if let Some(c) = &reader {
                if c.get_data(newest).await.is_ok() {
                    m.read = Some(restart.elapsed());
                }
            }
        }
        tokio::time::sleep(POLL).await;
    }
    if let Some(c) = reader {
        let _ = c.close().await;
    }
    Ok(m)
}

/// The leader and a follower (0-based), by `srvr` Mode.
async fn roles(ens: &Ensemble) -> Result<(usize, usize)> {
    let modes = ens.modes().await;
    let leader = ens.leader().await?;
    let follower = modes
        .iter()
        .position(|m| *m == Some(Mode::Follower))
        .with_context(|| format!("no server says it follows (modes {modes:?})"))?;
    Ok((leader, follower))
}

/// `kill -9` of server `i`, then its `dataDir/version-2` deleted (`myid` stays); returns the
/// deleted directory.
fn kill_and_wipe(ens: &mut Ensemble, i: usize) -> Result<PathBuf> {
    ens.kill9(i)?;
    let data = ens.data_dir(i).context("the follower's dataDir")?;
    let wiped = data.join("version-2");
    fs::remove_dir_all(&wiped).with_context(|| format!("removing {}", wiped.display()))?;
    if !data.join("myid").exists() {
        bail!("{} lost its myid", data.display());
    }
    Ok(wiped)
}

/// Creates `/snap/<name>` (empty), then `count` znodes under it, `window` at a time, with
/// `data`.
async fn create_under(
    c: &Client,
    name: &str,
    count: usize,
    window: usize,
    data: Bytes,
) -> Result<()> {
    let dir = format!("{PREFIX}/{name}");
    c.create(&dir, Bytes::new(), CreateMode::Persistent)
        .await
        .with_context(|| format!("creating {dir}"))?;
    let path = move |i: usize| format!("{dir}/n{i}");
    load::create_many(std::slice::from_ref(c), count, window, data, Arc::new(path)).await?;
    Ok(())
}

/// Kills the follower, wipes its data, writes, and measures its rejoin (see the module docs).
async fn round(ens: &mut Ensemble, launch: &Launch, o: &SnapOptions) -> Result<Rejoin> {
    let addrs = ens.addrs();
    let mut r = Rejoin {
        load_secs: load_tree(&addrs, o.znodes).await?,
        ..Rejoin::default()
    };
    let (leader, follower) = roles(ens).await?;
    (r.leader, r.follower) = (leader + 1, follower + 1);
    let leader_addr = addrs[leader].clone();
    let leader_pid = ens.pid(leader).context("the leader's pid")?;
    let snaps_before = mntr_value(&leader_addr, "zk_snap_count").await?;
    let wiped = kill_and_wipe(ens, follower)?;

    let clients = load::connect_all(&leader_addr, 3).await?;
    create_under(&clients[0], "down", WRITES_WHILE_DOWN, 32, load::value()).await?;
    let (newest, probe_path) = (format!("{PREFIX}/newest"), format!("{PREFIX}/probe"));
    for p in [&probe_path, &newest] {
        clients[0]
            .create(p, load::value(), CreateMode::Persistent)
            .await
            .with_context(|| format!("creating {p}"))?;
    }
    let get_path = node_path(o.znodes / 2);
    let probes = Probes::start(clients[1].clone(), get_path, clients[2].clone(), probe_path);
    tokio::time::sleep(o.before).await;

    let srvr = four_letter(&leader_addr, "srvr", Duration::from_secs(5)).await?;
    r.target_zxid =
        parse_zxid(&srvr).with_context(|| format!("no Zxid in the leader's srvr: {srvr:?}"))?;
    r.leader_rss_before = rss_bytes(leader_pid)?;
    r.leader_peak_from_hwm = reset_peak_rss(leader_pid).is_ok();
    // Corral logs how it caught up at info (the suite runs it at warn).
    let env: &[(&str, &str)] = match ens.kind {
        Kind::Corral => &[("RUST_LOG", "warn,corral_server::member=info")],
        Kind::ZooKeeper => &[],
    };
    let restart = ens.spawn(follower, launch, env)?;
    let follower_pid = ens.pid(follower).context("the follower's pid")?;
    let sampling = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn(sample_rss(vec![leader_pid, follower_pid], sampling.clone()));
    let marks = await_rejoin(
        ens,
        follower,
        restart,
        r.target_zxid,
        &newest,
        o.rejoin_timeout,
    )
    .await;
    let done = Instant::now();
    let (from, to) = (probes.ns(restart), probes.ns(done));
    let since = from.saturating_sub(o.before.as_nanos() as u64);
    let (gets, sets) = probes.stop().await;
    sampling.store(true, Ordering::Relaxed);
    let peaks = sampler.await.context("the RSS sampler panicked")?;
    let marks = marks?;

    let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64());
    (r.serving_secs, r.zxid_secs, r.read_secs) =
        (secs(marks.serving), secs(marks.zxid), secs(marks.read));
    r.timed_out = marks.read.is_none() || marks.zxid.is_none();
    (r.get_before, r.get_during) = (window(&gets, since, from), window(&gets, from, to));
    (r.set_before, r.set_during) = (window(&sets, since, from), window(&sets, from, to));
    let hwm = if r.leader_peak_from_hwm {
        peak_rss_bytes(leader_pid)?
    } else {
        0
    };
    let sampled = |i: usize| peaks.get(i).copied().unwrap_or(0);
    r.leader_peak_rss = hwm.max(sampled(0));
    r.follower_peak_rss_rejoined = peak_rss_bytes(follower_pid)?.max(sampled(1));
    if r.timed_out {
        load::close_all(clients).await;
        return Ok(r);
    }

    tokio::time::sleep(SETTLE).await;
    // VmHWM lags a little behind VmRSS (the kernel folds per-thread counts in batches), so a
    // sample may exceed it.
    r.follower_peak_rss = peak_rss_bytes(follower_pid)?.max(r.follower_peak_rss_rejoined);
    r.follower_rss_after = rss_bytes(follower_pid)?;
    r.follower_snapshot_zxid = newest_snapshot(&wiped)?;
    if let Some(log) = ens.log_path(follower) {
        let text = fs::read(&log).with_context(|| format!("reading {}", log.display()))?;
        r.follower_syncs = syncs_logged(&String::from_utf8_lossy(&text));
    }
    let snaps_after = mntr_value(&leader_addr, "zk_snap_count").await?;
    r.leader_snaps_sent = snaps_before
        .zip(snaps_after)
        .map(|(a, b)| b.saturating_sub(a));
    create_under(&clients[0], "digest", DIGEST_WRITES, 1, Bytes::new()).await?;
    load::close_all(clients).await;
    same_everywhere(&addrs, &mut r).await?;
    Ok(r)
}

/// Every server `sync`s, then its `mntr` zk_znode_count and newest `hash` line go into `r`.
async fn same_everywhere(addrs: &[String], r: &mut Rejoin) -> Result<()> {
    let everywhere = load::connect_spread(addrs, addrs.len()).await?;
    for c in &everywhere {
        c.sync(PREFIX).await.context("sync after the rejoin")?;
    }
    load::close_all(everywhere).await;
    for addr in addrs {
        r.znode_counts
            .push(mntr_value(addr, "zk_znode_count").await?);
        let hash = four_letter(addr, "hash", Duration::from_secs(5)).await?;
        r.digests.push(newest_digest(&hash));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srvr_hash_and_snapshot_names() {
        let srvr = "Zookeeper version: 3.8.4\nLatency min/avg/max: 0/0.1/9\nZxid: 0x1000f4243\nMode: follower\n";
        assert_eq!(parse_zxid(srvr), Some(0x1_000f_4243));
        assert_eq!(parse_zxid("Zxid: 0xzz\n"), None);
        assert_eq!(
            parse_zxid("This ZooKeeper instance is not currently serving requests\n"),
            None
        );
        let hash = "100000080: 1234\n100000100: -987\n";
        assert_eq!(newest_digest(hash).as_deref(), Some("100000100: -987"));
        assert_eq!(newest_digest(""), None);
        assert_eq!(snapshot_zxid("snapshot.1000f4240"), Some(0x1_000f_4240));
        assert_eq!(snapshot_zxid("snapshot.0"), Some(0));
        assert_eq!(snapshot_zxid("log.100000001"), None);
        assert_eq!(snapshot_zxid("snapshot.1000f4240.tmp"), None);
        let log = "2026-12-07T17:46:30Z  INFO corral_server::member: synchronised with leader \
                   Some(3) by Diff up to 0x100000005\n...\n\
                   2026-12-07T17:48:00Z  INFO corral_server::member: synchronised with leader \
                   Some(3) by Snap up to 0x100005530\nzab status: Following\n";
        assert_eq!(
            syncs_logged(log),
            ["Diff up to 0x100000005", "Snap up to 0x100005530"]
        );
        assert!(syncs_logged("zab status: Following\n").is_empty());
    }

    #[test]
    fn the_verdicts() {
        let mut r = Rejoin {
            read_secs: Some(2.0),
            zxid_secs: Some(2.5),
            znode_counts: vec![Some(10); 3],
            digests: vec![Some("80: 1".into()); 3],
            follower_snapshot_zxid: Some(0x1_0000_0040),
            ..Rejoin::default()
        };
        assert_eq!(r.rejoin_secs(), Some(2.5));
        assert!(
            r.consistent() && !r.by_snap(),
            "a snapshot file alone is no SNAP"
        );
        r.follower_syncs = vec!["Snap up to 0x10".into(), "Diff up to 0x20".into()];
        assert!(r.by_snap());
        r.follower_syncs = vec!["Diff up to 0x20".into()];
        assert!(!r.by_snap());
        r.leader_snaps_sent = Some(1);
        assert!(r.by_snap());
        r.digests[1] = Some("80: 2".into());
        assert!(!r.consistent());
        r.digests = vec![None; 3];
        assert!(!r.consistent(), "no digest at all proves nothing");
        r.leader_snaps_sent = Some(0);
        assert!(!r.by_snap());
        r.zxid_secs = None;
        assert_eq!(r.rejoin_secs(), None);
    }

    #[test]
    fn snap_count_is_at_most_a_quarter_of_the_znodes() {
        assert_eq!(
            SnapOptions::new(1_000_000, 100_000, false).snap_count,
            100_000
        );
        assert_eq!(SnapOptions::new(20_000, 100_000, true).snap_count, 5_000);
        assert_eq!(SnapOptions::new(10, 100_000, true).snap_count, 100);
        assert_eq!(node_path(1_234_567), "/snap/p1234/n567");
    }
}
