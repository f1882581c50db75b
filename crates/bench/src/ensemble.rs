//! A 3-server (N-server) ensemble of either kind on 127.0.0.1: one directory per server
//! (`zoo.cfg`, `data/myid`, `server.log`), ephemeral client, quorum and election ports, and
//! the same zoo.cfg keys for both kinds (the standalone keys plus initLimit, syncLimit and the
//! `server.N=127.0.0.1:quorumPort:electionPort;127.0.0.1:clientPort` lines). Servers are
//! started, killed (`kill -9`) and stopped by pid, as `server::Server` does.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::server::{four_letter, free_port, Kind, Launch, Server, Site};

/// initLimit and syncLimit of both kinds (in ticks; `corral cluster`'s values too).
const INIT_LIMIT: u32 = 10;
const SYNC_LIMIT: u32 = 5;

/// The ensemble keys appended to `Launch::config` (without dataDir and ports: the report
/// prints them).
pub fn describe_keys() -> String {
    format!(
        "initLimit={INIT_LIMIT}, syncLimit={SYNC_LIMIT}, \
         server.N=127.0.0.1:quorumPort:electionPort;127.0.0.1:clientPort, myid in dataDir"
    )
}

/// One server's ports.
#[derive(Debug, Clone, Copy)]
struct Ports {
    client: u16,
    quorum: u16,
    election: u16,
}

/// The zoo.cfg of an ensemble member: the standalone keys, then the ensemble's.
fn config(launch: &Launch, data_dir: &Path, own: Ports, all: &[Ports]) -> String {
    let mut cfg = launch.config(data_dir, own.client);
    let _ = writeln!(cfg, "initLimit={INIT_LIMIT}");
    let _ = writeln!(cfg, "syncLimit={SYNC_LIMIT}");
    for (i, p) in all.iter().enumerate() {
        let _ = writeln!(
            cfg,
            "server.{}=127.0.0.1:{}:{};127.0.0.1:{}",
            i + 1,
            p.quorum,
            p.election,
            p.client
        );
    }
    cfg
}

/// What `srvr` says of a server's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Leader,
    Follower,
    Other,
}

/// The `Mode:` line of a `srvr` answer (`None` when the server does not serve).
pub fn parse_mode(srvr: &str) -> Option<Mode> {
    let mode = srvr.lines().find_map(|l| l.strip_prefix("Mode:"))?.trim();
    Some(match mode {
        "leader" => Mode::Leader,
        "follower" => Mode::Follower,
        _ => Mode::Other,
    })
}

/// N servers of one kind; `servers[i]` is `None` while server i is down.
pub struct Ensemble {
    pub kind: Kind,
    sites: Vec<Site>,
    servers: Vec<Option<Server>>,
}

impl Ensemble {
    /// Fresh directories `dir/server.N` (emptied if they exist) and free loopback ports.
    pub fn create(kind: Kind, dir: &Path, launch: &Launch, size: usize) -> Result<Ensemble> {
        if dir.exists() {
            fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        let mut ports = Vec::with_capacity(size);
        for _ in 0..size {
            ports.push(Ports {
                client: free_port()?,
                quorum: free_port()?,
                election: free_port()?,
            });
        }
        let mut sites = Vec::with_capacity(size);
        for (i, own) in ports.iter().enumerate() {
            let site_dir = dir.join(format!("server.{}", i + 1));
            let data = site_dir.join("data");
            fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
            let write = |name: &Path, text: String| {
                fs::write(name, text).with_context(|| format!("writing {}", name.display()))
            };
            write(&data.join("myid"), format!("{}\n", i + 1))?;
            write(
                &site_dir.join("zoo.cfg"),
                config(launch, &data, *own, &ports),
            )?;
            sites.push(Site {
                kind,
                dir: site_dir,
                port: own.client,
            });
        }
        Ok(Ensemble {
            kind,
            servers: sites.iter().map(|_| None).collect(),
            sites,
        })
    }

    pub fn size(&self) -> usize {
        self.sites.len()
    }

    /// The client addresses, server 1 first.
    pub fn addrs(&self) -> Vec<String> {
        self.sites.iter().map(Site::addr).collect()
    }

    /// The pids of the running servers.
    pub fn pids(&self) -> Vec<u32> {
        self.servers.iter().flatten().map(|s| s.pid).collect()
    }

    /// The pid of server `i`, if it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.servers.get(i)?.as_ref().map(|s| s.pid)
    }

    /// Server `i`'s dataDir (`myid` and `version-2`).
    pub fn data_dir(&self, i: usize) -> Option<std::path::PathBuf> {
        self.sites.get(i).map(Site::data_dir)
    }

    /// Server `i`'s log (its stdout and stderr, appended over restarts).
    pub fn log_path(&self, i: usize) -> Option<std::path::PathBuf> {
        self.sites.get(i).map(|s| s.dir.join("server.log"))
    }

    /// Spawns server `i` (down) without waiting for it, with these environment variables
    /// set; returns when it was spawned.
    pub fn spawn(&mut self, i: usize, launch: &Launch, env: &[(&str, &str)]) -> Result<Instant> {
        let (site, slot) = self
            .sites
            .get(i)
            .zip(self.servers.get_mut(i))
            .with_context(|| format!("no server {}", i + 1))?;
        if slot.is_some() {
            bail!("server {} is already running", i + 1);
        }
        let server = site.spawn_with_env(launch, env)?;
        let at = server.started;
        *slot = Some(server);
        Ok(at)
    }

    /// Fails (with its log's tail) if server `i` was started and has exited.
    pub fn check_running(&mut self, i: usize) -> Result<()> {
        match self.servers.get_mut(i).and_then(Option::as_mut) {
            Some(server) => server.check_running(),
            None => Ok(()),
        }
    }

    /// RSS of each server (0 for one that is down).
    pub fn rss(&self) -> Result<Vec<u64>> {
        self.servers
            .iter()
            .map(|s| s.as_ref().map_or(Ok(0), Server::rss))
            .collect()
    }

    /// Starts every server that is down, then waits until all serve with one leader.
    pub async fn start(&mut self, launch: &Launch, timeout: Duration) -> Result<()> {
        for (site, slot) in self.sites.iter().zip(self.servers.iter_mut()) {
            if slot.is_none() {
                *slot = Some(site.spawn(launch)?);
            }
        }
        self.wait_serving(timeout).await
    }

    /// Waits until every server answers `srvr` with a Mode line (so serves clients) and
    /// exactly one says leader. Fails if a server exits or after `timeout`.
    pub async fn wait_serving(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        for server in self.servers.iter_mut().flatten() {
            let left = deadline.saturating_duration_since(server.started);
            server.wait_ready(left).await?;
        }
        loop {
            let modes = self.modes().await;
            let leaders = modes.iter().filter(|m| **m == Some(Mode::Leader)).count();
            if leaders == 1 && modes.iter().all(Option::is_some) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} ensemble at {:?}: no single leader with every server serving after \
                     {timeout:?} (modes {modes:?})",
                    self.kind.name(),
                    self.addrs()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Each server's `srvr` Mode (`None`: down, not serving or not answering).
    pub async fn modes(&self) -> Vec<Option<Mode>> {
        let mut modes = Vec::with_capacity(self.size());
        for (site, server) in self.sites.iter().zip(&self.servers) {
            let mode = match server {
                None => None,
                Some(_) => four_letter(&site.addr(), "srvr", Duration::from_secs(1))
                    .await
                    .ok()
                    .and_then(|r| parse_mode(&r)),
            };
            modes.push(mode);
        }
        modes
    }

    /// The index of the leader, by `srvr`.
    pub async fn leader(&self) -> Result<usize> {
        let modes = self.modes().await;
        modes
            .iter()
            .position(|m| *m == Some(Mode::Leader))
            .with_context(|| format!("no server says it leads (modes {modes:?})"))
    }

    /// `kill -9` of server `i`; returns when the signal was sent.
    pub fn kill9(&mut self, i: usize) -> Result<Instant> {
        let mut server = self
            .servers
            .get_mut(i)
            .and_then(Option::take)
            .with_context(|| format!("server {} is not running", i + 1))?;
        let at = server.kill9()?;
        drop(server); // reaps it
        Ok(at)
    }

    /// Stops every server (SIGTERM, then SIGKILL), by pid.
    pub fn stop(mut self) -> Result<()> {
        let mut first_error = Ok(());
        for server in self.servers.iter_mut().filter_map(Option::take) {
            let r = server.stop();
            if first_error.is_ok() {
                first_error = r;
            }
        }
        first_error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_lines() {
        let srvr = "Zookeeper version: 3.8.4\nLatency min/avg/max: 0/0.0/0\nMode: leader\n";
        assert_eq!(parse_mode(srvr), Some(Mode::Leader));
        assert_eq!(parse_mode("Mode: follower\n"), Some(Mode::Follower));
        assert_eq!(parse_mode("Mode: standalone\n"), Some(Mode::Other));
        assert_eq!(
            parse_mode("This ZooKeeper instance is not currently serving requests\n"),
            None
        );
    }

    #[test]
    fn both_kinds_get_the_same_ensemble_keys() {
        let launch = Launch {
            corral_bin: "corral".into(),
            java: "java".into(),
            jvm_flags: vec![],
            tick_time_ms: 2000,
            snap_count: 100_000,
        };
        let dir = std::env::temp_dir().join(format!("corral-bench-ens-{}", std::process::id()));
        let zk = Ensemble::create(Kind::ZooKeeper, &dir.join("zk"), &launch, 3).unwrap();
        let corral = Ensemble::create(Kind::Corral, &dir.join("corral"), &launch, 3).unwrap();
        let keys = |e: &Ensemble, i: usize| -> Vec<String> {
            let cfg = fs::read_to_string(e.sites[i].dir.join("zoo.cfg")).unwrap();
            cfg.lines()
                .map(|l| l.split('=').next().unwrap_or_default().to_string())
                .collect()
        };
        assert_eq!(keys(&zk, 0), keys(&corral, 0));
        let cfg = fs::read_to_string(zk.sites[1].dir.join("zoo.cfg")).unwrap();
        assert!(cfg.contains(&format!("clientPort={}\n", zk.sites[1].port)));
        assert!(cfg.contains(&format!(";127.0.0.1:{}\n", zk.sites[2].port)));
        assert_eq!(cfg.lines().filter(|l| l.starts_with("server.")).count(), 3);
        let myid = fs::read_to_string(zk.sites[2].dir.join("data/myid")).unwrap();
        assert_eq!(myid.trim(), "3");
        assert_eq!(zk.addrs().len(), 3);
        fs::remove_dir_all(&dir).unwrap();
    }
}
