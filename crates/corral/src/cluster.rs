//! `corral cluster`: a pseudo-cluster on this machine in one command, as ZooKeeper's
//! Getting Started guide builds one by hand: N servers on 127.0.0.1, one directory each
//! (zoo.cfg, dataDir with its `myid`, server.log), each a `corral server` process. Ctrl-C
//! stops them all; their data stays, so running the command again resumes the ensemble.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};

/// `corral cluster`'s options.
#[derive(Debug, clap::Args)]
pub struct ClusterOptions {
    /// Servers in the ensemble (3, 5, ...; an odd number tolerates the most failures)
    #[arg(long, default_value_t = 3)]
    pub size: u16,
    /// Where each server's zoo.cfg, data and log go (DIR/server.N/)
    #[arg(long, default_value = "corral-cluster")]
    pub dir: PathBuf,
    /// Server N's client port is this plus N-1; its quorum, election and AdminServer ports
    /// are 2888+N-1, 3888+N-1 and 8080+N-1 plus the same offset from 2181 (the AdminServer
    /// on 127.0.0.1)
    #[arg(long, default_value_t = 2181)]
    pub client_port: u16,
}

/// The zoo.cfg of server `id` of the pseudo-cluster, its data in `data_dir`.
pub fn zoo_cfg(options: &ClusterOptions, id: u16, data_dir: &Path) -> anyhow::Result<String> {
    let offset = options.client_port.saturating_sub(2181);
    let mut cfg = String::new();
    let _ = writeln!(cfg, "tickTime=2000");
    let _ = writeln!(cfg, "initLimit=10");
    let _ = writeln!(cfg, "syncLimit=5");
    let _ = writeln!(cfg, "dataDir={}", data_dir.display());
    let _ = writeln!(cfg, "clientPortAddress=127.0.0.1");
    let own = options
        .client_port
        .checked_add(id - 1)
        .context("port numbers past 65535: choose a lower --client-port")?;
    let _ = writeln!(cfg, "clientPort={own}");
    let _ = writeln!(cfg, "4lw.commands.whitelist=*");
    let admin = 8080u16
        .checked_add(offset + id - 1)
        .context("port numbers past 65535: choose a lower --client-port")?;
    let _ = writeln!(cfg, "admin.serverAddress=127.0.0.1");
    let _ = writeln!(cfg, "admin.serverPort={admin}");
    for n in 1..=options.size {
        let port = |base: u16| {
            base.checked_add(offset + n - 1)
                .context("port numbers past 65535: choose a lower --client-port")
        };
        let _ = writeln!(
            cfg,
            "server.{n}=127.0.0.1:{}:{};127.0.0.1:{}",
            port(2888)?,
            port(3888)?,
            port(2181)?
        );
    }
    Ok(cfg)
}

/// Writes the servers' directories, starts them and waits for Ctrl-C (or a server's exit).
pub fn run(options: &ClusterOptions) -> anyhow::Result<()> {
    if options.size < 2 {
        bail!(
            "--size {}: an ensemble has at least 2 servers (3 tolerates one failure)",
            options.size
        );
    }
    let exe = std::env::current_exe().context("finding the corral binary")?;
    let mut children: Vec<(u16, Child)> = Vec::new();
    let mut hosts = Vec::new();
    for id in 1..=options.size {
        let home = options.dir.join(format!("server.{id}"));
        let data = std::path::absolute(home.join("data")).context("resolving --dir")?;
        std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
        std::fs::write(data.join("myid"), format!("{id}\n")).context("writing myid")?;
        let cfg_path = home.join("zoo.cfg");
        std::fs::write(&cfg_path, zoo_cfg(options, id, &data)?)
            .with_context(|| format!("writing {}", cfg_path.display()))?;
        let log = std::fs::File::create(home.join("server.log")).context("creating server.log")?;
        let child = Command::new(&exe)
            .arg("server")
            .arg(&cfg_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting server {id}"))?;
        children.push((id, child));
        hosts.push(format!(
            "127.0.0.1:{}",
            u32::from(options.client_port) + u32::from(id) - 1
        ));
    }
    println!(
        "{} servers running (logs in {}/server.N/server.log). Connect with:\n  corral shell -server {}\nCtrl-C stops them.",
        options.size,
        options.dir.display(),
        hosts.join(",")
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let exited = runtime.block_on(async {
        let mut poll = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return None,
                _ = poll.tick() => {
                    for (id, child) in children.iter_mut() {
                        if let Ok(Some(status)) = child.try_wait() {
                            return Some((*id, status));
                        }
                    }
                }
            }
        }
    });
    for (_, child) in children.iter_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }
    match exited {
        None => Ok(()),
        Some((id, status)) => bail!(
            "server {id} exited ({status}); see {}/server.{id}/server.log",
            options.dir.display()
        ),
    }
}
