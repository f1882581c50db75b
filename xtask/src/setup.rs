//! Machine set-up: Debian's Apache ZooKeeper and Prometheus, and the interop Python venv.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::runner::{probe, run_cmd};
use crate::{show, Ctx};

const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";
const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";
/// The C client's header: interop/test_migrate.py builds interop/c/zk_writes.c against it.
const C_CLIENT_HEADER: &str = "/usr/include/zookeeper/zookeeper.h";
const ZOOKEEPER_PACKAGES: &[&str] = &["zookeeper", "zookeeper-bin", "libzookeeper-mt-dev"];
/// Debian's Prometheus server and promtool: interop/test_prometheus.py scrapes Corral's
/// `/metrics` with them.
const PROMETHEUS_BINS: &[&str] = &["/usr/bin/prometheus", "/usr/bin/promtool"];
const PROMETHEUS_PACKAGES: &[&str] = &["prometheus"];

/// Pinned Python packages of the interop suite (pure-sasl: kazoo's SASL client, for
/// interop/test_sasl.py and kazoo's test_sasl.py), then the extra needs of kazoo's own test
/// suite (interop/kazoo_suite; pyOpenSSL 24.3 dropped an API its harness uses).
const PY_PACKAGES: &[&str] = &[
    "kazoo==2.11.0",
    "pure-sasl==0.6.2",
    "pytest==9.2.0",
    "pytest-timeout==2.4.0",
    "pyjks==20.0.0",
    "objgraph==3.7.0",
    "gevent==26.9.0",
    "eventlet==0.41.3",
    "pyopenssl==24.2.1",
];
/// Exits 0 only if the venv has what the suites need, at the pinned kazoo and pyOpenSSL.
const PY_CHECK: &str = "\
import importlib.metadata as m, sys
import kazoo, puresasl, pytest, pytest_timeout, jks, objgraph, gevent, eventlet, OpenSSL
sys.exit(0 if (m.version('kazoo'), m.version('pyopenssl')) == ('2.11.0', '24.2.1') else 1)
";

/// apt-get, through sudo when we are not root; `update` runs at most once.
pub struct Apt {
    updated: bool,
}

impl Apt {
    pub fn new() -> Self {
        Apt { updated: false }
    }

    fn command(&self, args: &[&str]) -> Result<Command> {
        let mut cmd = if is_root()? {
            Command::new("apt-get")
        } else {
            if !probe(Command::new("sudo").arg("-n").arg("true")) {
                bail!(
                    "not root and `sudo -n` does not work: install the packages by hand: \
                     apt-get install {}",
                    args.join(" ")
                );
            }
            let mut c = Command::new("sudo");
            c.args(["-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
            c
        };
        cmd.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        Ok(cmd)
    }

    pub fn install(&mut self, packages: &[&str]) -> Result<()> {
        if !self.updated {
            run_cmd(&mut self.command(&["update"])?)?;
            self.updated = true;
        }
        let mut args = vec!["install", "-y", "--no-install-recommends"];
        args.extend_from_slice(packages);
        run_cmd(&mut self.command(&args)?)
    }
}

fn is_root() -> Result<bool> {
    let status = fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().next())
        .context("no Uid line in /proc/self/status")?;
    Ok(uid == "0")
}

/// Step 1: Debian's zookeeper (the oracle server jar), zookeeper-bin and the C client's
/// headers (libzookeeper-mt-dev).
pub fn ensure_zookeeper(apt: &mut Apt) -> Result<()> {
    let needed = [ZOOKEEPER_JAR, ZKCLI, C_CLIENT_HEADER];
    let missing: Vec<&str> = needed
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        println!("{} are present", needed.join(", "));
    } else {
        println!("missing: {}; installing", missing.join(", "));
        apt.install(ZOOKEEPER_PACKAGES)?;
        for p in needed {
            if !Path::new(p).exists() {
                bail!("{p} is still missing after installing {ZOOKEEPER_PACKAGES:?}");
            }
        }
    }
    if !probe(Command::new("java").arg("-version")) {
        bail!("`java -version` fails: Apache ZooKeeper needs a Java runtime (default-jre)");
    }
    Ok(())
}

/// Step 1b: Debian's Prometheus (server and promtool), installed the same way.
pub fn ensure_prometheus(apt: &mut Apt) -> Result<()> {
    let missing: Vec<&str> = PROMETHEUS_BINS
        .iter()
        .copied()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        println!("{} are present", PROMETHEUS_BINS.join(" and "));
        return Ok(());
    }
    println!("missing: {}; installing", missing.join(", "));
    apt.install(PROMETHEUS_PACKAGES)?;
    for p in PROMETHEUS_BINS {
        if !Path::new(p).exists() {
            bail!("{p} is still missing after installing {PROMETHEUS_PACKAGES:?}");
        }
    }
    Ok(())
}

/// Step 2: target/interop-venv with the pinned kazoo, pytest, pytest-timeout.
pub fn ensure_venv(ctx: &Ctx, apt: &mut Apt) -> Result<()> {
    let python = ctx.venv_python();
    if probe(Command::new(&python).args(["-c", PY_CHECK])) {
        println!("{} has kazoo and pytest", show(ctx, &ctx.venv));
        return Ok(());
    }
    if !probe(Command::new(&python).args(["-c", "import sys"])) {
        let parent = ctx
            .venv
            .parent()
            .context("the venv path has no parent directory")?;
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        let create = |clear: bool| {
            let mut cmd = Command::new("python3");
            cmd.current_dir(&ctx.root).args(["-m", "venv"]);
            if clear {
                cmd.arg("--clear");
            }
            cmd.arg(&ctx.venv);
            run_cmd(&mut cmd)
        };
        if let Err(e) = create(true) {
            // Debian's python3 has no ensurepip without python3-venv.
            println!("creating the venv failed ({e:#}); installing python3-venv and retrying");
            apt.install(&["python3-venv"])?;
            create(true)?;
        }
    }
    let mut pip = Command::new(&python);
    pip.current_dir(&ctx.root)
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
        ])
        .args(PY_PACKAGES);
    run_cmd(&mut pip)?;
    if !probe(Command::new(&python).args(["-c", PY_CHECK])) {
        bail!(
            "{} still lacks one of {PY_PACKAGES:?} after pip install",
            python.display()
        );
    }
    Ok(())
}
