//! Starting and stopping the two servers: Apache ZooKeeper 3.8 (QuorumPeerMain on Debian's
//! jar) and Corral, on the same zoo.cfg keys, loopback, a data directory each on the same disk.
//! Processes are always stopped by pid (SIGTERM, then SIGKILL), also when a `Server` is dropped.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const ZK_JAR: &str = "/usr/share/java/zookeeper.jar";
pub const SLF4J_NOP: &str = "/usr/share/java/slf4j-nop.jar";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ZooKeeper,
    Corral,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::ZooKeeper => "zookeeper",
            Kind::Corral => "corral",
        }
    }
}

/// How to start the servers.
#[derive(Debug, Clone)]
pub struct Launch {
    pub corral_bin: PathBuf,
    pub java: String,
    pub jvm_flags: Vec<String>,
    pub tick_time_ms: u32,
    pub snap_count: u32,
}

impl Launch {
    /// The zoo.cfg both servers get (only dataDir and clientPort differ).
    pub fn config(&self, data_dir: &Path, port: u16) -> String {
        let keys: Vec<(&str, String)> = vec![
            ("tickTime", self.tick_time_ms.to_string()),
            ("dataDir", data_dir.display().to_string()),
            ("clientPort", port.to_string()),
            ("clientPortAddress", "127.0.0.1".into()),
            ("maxClientCnxns", "0".into()),
            ("forceSync", "yes".into()),
            ("snapCount", self.snap_count.to_string()),
            ("4lw.commands.whitelist", "*".into()),
            ("admin.enableServer", "false".into()),
            ("autopurge.purgeInterval", "0".into()),
        ];
        keys.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
    }

    pub fn command(&self, kind: Kind, cfg: &Path) -> Command {
        match kind {
            Kind::ZooKeeper => {
                let mut cmd = Command::new(&self.java);
                cmd.args(&self.jvm_flags)
                    .arg("-cp")
                    .arg(format!("{ZK_JAR}:{SLF4J_NOP}"))
                    .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
                    .arg(cfg);
                cmd
            }
            Kind::Corral => {
                let mut cmd = Command::new(&self.corral_bin);
                cmd.arg("server").arg(cfg).env("RUST_LOG", "warn");
                cmd
            }
        }
    }

    pub fn describe(&self, kind: Kind) -> String {
        let cmd = self.command(kind, Path::new("<dir>/zoo.cfg"));
        let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
        parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
        parts.join(" ")
    }
}

/// A server's directory: `dir/zoo.cfg`, `dir/data/`, `dir/server.log`.
#[derive(Debug, Clone)]
pub struct Site {
    pub kind: Kind,
    pub dir: PathBuf,
    pub port: u16,
}

impl Site {
    /// A fresh directory (emptied if it exists) and a free loopback port.
    pub fn create(kind: Kind, dir: PathBuf, launch: &Launch) -> Result<Site> {
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        let data = dir.join("data");
        fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
        let port = free_port()?;
        let cfg = launch.config(&data, port);
        let path = dir.join("zoo.cfg");
        fs::write(&path, cfg).with_context(|| format!("writing {}", path.display()))?;
        Ok(Site { kind, dir, port })
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Spawns the server (its output appended to server.log) without waiting for it.
    pub fn spawn(&self, launch: &Launch) -> Result<Server> {
        self.spawn_with_env(launch, &[])
    }

    /// [`Site::spawn`] with these environment variables set (over `Launch::command`'s).
    pub fn spawn_with_env(&self, launch: &Launch, env: &[(&str, &str)]) -> Result<Server> {
        let cfg = self.dir.join("zoo.cfg");
        let log_path = self.dir.join("server.log");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let log2 = log
            .try_clone()
            .with_context(|| format!("opening {}", log_path.display()))?;
        let mut cmd = launch.command(self.kind, &cfg);
        cmd.envs(env.iter().copied())
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        let started = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", launch.describe(self.kind)))?;
        Ok(Server {
            kind: self.kind,
            pid: child.id(),
            child: Some(child),
            addr: self.addr(),
            log_path,
            started,
        })
    }

    /// Spawns the server and waits until `srvr` answers with a `Mode:` line.
    pub async fn start(&self, launch: &Launch, timeout: Duration) -> Result<Server> {
        let mut server = self.spawn(launch)?;
        server.wait_ready(timeout).await?;
        Ok(server)
    }
}

/// A running server process.
pub struct Server {
    pub kind: Kind,
    pub pid: u32,
    child: Option<Child>,
    pub addr: String,
    pub log_path: PathBuf,
    /// When the process was spawned.
    pub started: Instant,
}

impl Server {
    /// Fails (with the log's tail) if the process has exited.
    pub fn check_running(&mut self) -> Result<()> {
        if let Some(child) = self.child.as_mut() {
            if let Some(status) = child.try_wait().context("waiting for the server")? {
                self.child = None;
                bail!(
                    "{} exited with {status}; log {}:\n{}",
                    self.kind.name(),
                    self.log_path.display(),
                    log_tail(&self.log_path)
                );
            }
        }
        Ok(())
    }

    /// Polls `srvr` every 5 ms until it answers a `Mode:` line; returns the time since spawn.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<Duration> {
        let deadline = self.started + timeout;
        loop {
            self.check_running()
                .context("the server stopped before it was ready")?;
            let last = match four_letter(&self.addr, "srvr", Duration::from_secs(1)).await {
                Ok(reply) if reply.contains("Mode:") => return Ok(self.started.elapsed()),
                Ok(reply) => format!("srvr answered {:?}", reply.trim()),
                Err(e) => format!("srvr: {e:#}"),
            };
            if Instant::now() >= deadline {
                bail!(
                    "{} at {} not ready after {:?} ({last}); log {}:\n{}",
                    self.kind.name(),
                    self.addr,
                    timeout,
                    self.log_path.display(),
                    log_tail(&self.log_path)
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn rss(&self) -> Result<u64> {
        crate::procfs::rss_bytes(self.pid)
    }

    /// SIGKILL (`kill -9`) by pid, without waiting for the process to be reaped; returns the
    /// instant the signal was sent. Dropping the `Server` reaps it.
    pub fn kill9(&mut self) -> Result<Instant> {
        let child = self
            .child
            .as_mut()
            .context("the server was already stopped")?;
        child.kill().context("kill -9 of the server")?;
        Ok(Instant::now())
    }

    /// SIGTERM by pid, up to 10 s to exit, then SIGKILL.
    pub fn stop(mut self) -> Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if child
            .try_wait()
            .context("waiting for the server")?
            .is_some()
        {
            return Ok(());
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if child
                .try_wait()
                .context("waiting for the server")?
                .is_some()
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().context("killing the server")?;
        child.wait().context("waiting for the killed server")?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub(crate) fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("binding a free port")?;
    Ok(l.local_addr().context("reading a bound port")?.port())
}

/// Sends a four-letter word and reads the answer until the server closes the connection.
pub async fn four_letter(addr: &str, word: &str, timeout: Duration) -> Result<String> {
    let exchange = async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(word.as_bytes()).await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&buf).into_owned())
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(r) => r.with_context(|| format!("{word} to {addr}")),
        Err(_) => bail!("{word} to {addr}: no answer in {timeout:?}"),
    }
}

/// A `key<TAB>value` line of `mntr`, as a number.
pub async fn mntr_value(addr: &str, key: &str) -> Result<Option<u64>> {
    let text = four_letter(addr, "mntr", Duration::from_secs(5)).await?;
    Ok(text.lines().find_map(|l| {
        let (k, v) = l.split_once(char::is_whitespace)?;
        if k == key {
            v.trim().parse().ok()
        } else {
            None
        }
    }))
}

fn log_tail(path: &Path) -> String {
    match fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(20);
            lines[from..]
                .iter()
                .map(|l| format!("    | {l}\n"))
                .collect()
        }
        Err(e) => format!("    (cannot read: {e})\n"),
    }
}
