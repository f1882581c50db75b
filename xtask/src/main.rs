//! `cargo xtask`: project automation for Corral.
//!
//! - `cargo xtask ci`: set up everything a fresh Debian machine lacks (Apache
//!   ZooKeeper from Debian, a Python venv with kazoo and pytest), then run
//!   every check: rustfmt, clippy, the workspace tests, and the differential
//!   interop suite (Corral vs Apache ZooKeeper).
//! - `cargo xtask interop [--cluster] [pytest args...]`: only the set-up, the Corral
//!   build and the interop suite (`--cluster`: also kazoo's suite on 3-server ensembles).
//! - `cargo xtask kazoo [args]`: kazoo's own test suite on ZooKeeper and Corral
//!   (xtask/src/kazoo.rs; also a step of `ci` and `interop`).
//! - `cargo xtask bench [--quick]`: Corral vs Apache ZooKeeper (xtask/src/bench.rs).

mod bench;
mod fuzz;
mod kazoo;
mod runner;
mod setup;

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};

use runner::{run_cmd, Runner};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci                      set up (ZooKeeper, Python venv), then fmt, clippy,
                          tests, build corral, run the interop suite, kazoo's
                          suite (ZooKeeper vs Corral; then a 3-server Corral
                          ensemble alone) and bench --quick
  interop [--cluster] [pytest args]
                          set up, build corral, run only the interop suite
                          and kazoo's own test suite (with CORRAL_ORACLE_ONLY=1:
                          no build, Apache ZooKeeper on both sides, to check
                          the harness); --cluster: then kazoo's suite again
                          with 3-server ensembles of each (not part of ci)
  kazoo [run.py args]     set up, build corral, run kazoo's own test suite on
                          Apache ZooKeeper and Corral and compare
                          (interop/kazoo_suite; KAZOO_SUITE=off skips it in
                          ci/interop, KAZOO_SUITE_TESTS=a.py,b.py selects;
                          --cluster: 3-server ensembles)
  sim [--seeds N] [--start S]
                          run N seeds (default 10000) of the ZAB simulator
                          (corral-zab, release build); a failing seed prints
                          the command that replays it
  bench [--quick] [opts]  Corral vs Apache ZooKeeper 3.8 (release build):
                          throughput, latency, memory, restart; writes
                          target/bench/{results.md,results.json,chart.svg}
                          (--quick: debug build, short, target/bench/quick)
  fuzz [--seconds N] [target...]
                          cargo-fuzz (stable toolchain, RUSTC_BOOTSTRAP=1) of
                          the parsers of untrusted input that are ours:
                          jute_frame, sasl_digest_md5, jks, x509; N seconds
                          each (default 60); `cargo test` runs their bounded
                          proptest counterparts
  help                    this text
";

/// Paths and tools shared by all steps.
pub struct Ctx {
    /// The workspace root (parent of xtask/).
    pub root: PathBuf,
    /// The cargo that runs us (CARGO, set by cargo), else `cargo` from PATH.
    pub cargo: String,
    /// The cargo target directory: CARGO_TARGET_DIR if set, else root/target.
    pub target_dir: PathBuf,
    /// The interop venv: always root/target/interop-venv (git-ignored).
    pub venv: PathBuf,
}

impl Ctx {
    fn new() -> Result<Self> {
        let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let root = manifest_dir
            .parent()
            .context("xtask's manifest directory has no parent")?
            .to_path_buf();
        let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let target_dir = match env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => {
                let dir = PathBuf::from(dir);
                if dir.is_absolute() {
                    dir
                } else {
                    // cargo resolves it against its working directory, which is root
                    root.join(dir)
                }
            }
            _ => root.join("target"),
        };
        let venv = root.join("target").join("interop-venv");
        Ok(Ctx {
            root,
            cargo,
            target_dir,
            venv,
        })
    }

    pub fn cargo(&self) -> Command {
        let mut cmd = Command::new(&self.cargo);
        cmd.current_dir(&self.root);
        cmd
    }

    pub fn venv_python(&self) -> PathBuf {
        self.venv.join("bin").join("python")
    }

    pub fn corral_bin(&self) -> PathBuf {
        self.target_dir.join("debug").join("corral")
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") if args.len() == 1 => ci(),
        Some("ci") => Err(anyhow::anyhow!("`cargo xtask ci` takes no arguments")),
        Some("interop") => interop(&args[1..]),
        Some("sim") => sim(&args[1..]),
        Some("kazoo") => kazoo::command(&args[1..]),
        Some("bench") => bench::bench(&args[1..]),
        Some("fuzz") => fuzz::command(&args[1..]),
        Some("help") | Some("-h") | Some("--help") | None => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(anyhow::anyhow!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn oracle_only() -> bool {
    matches!(env::var("CORRAL_ORACLE_ONLY"), Ok(v) if !v.is_empty() && v != "0")
}

/// Everything CI checks. Set-up failures stop the run; a failing check does
/// not stop the later ones (one run reports all problems), but the exit
/// status is non-zero if anything failed.
fn ci() -> Result<bool> {
    let ctx = Ctx::new()?;
    let mut r = Runner::new("ci");
    if !setup_steps(&ctx, &mut r) {
        return Ok(r.finish());
    }
    r.step("cargo fmt --check", || {
        run_cmd(ctx.cargo().args(["fmt", "--all", "--", "--check"]))
    });
    r.step("cargo clippy", || {
        run_cmd(ctx.cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    });
    r.step("cargo test", || {
        run_cmd(ctx.cargo().args(["test", "--workspace"]))
    });
    // The ZAB runtime's gRPC transport is a default-off feature (embedders with their own
    // transport do not build tonic): lint it and run its tests (three processes, kill -9).
    r.step("corral-zab-runtime --features grpc", || {
        run_cmd(ctx.cargo().args([
            "clippy",
            "-p",
            "corral-zab-runtime",
            "--features",
            "grpc",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))?;
        run_cmd(
            ctx.cargo()
                .args(["test", "-p", "corral-zab-runtime", "--features", "grpc"]),
        )
    });
    let built = r.step("build corral", || build_corral(&ctx));
    if built {
        // CI always tests the real server, whatever the environment says.
        r.step("interop tests", || run_interop(&ctx, &[], true));
        kazoo::step(&ctx, &mut r, true, true, false);
        kazoo::ci_cluster_step(&ctx, &mut r, true);
        // A smoke test of the benchmark (debug binaries; asserts no time).
        r.step("bench --quick", || bench::ci_step(&ctx));
    } else {
        r.skip("interop tests", "the corral build failed");
        kazoo::step(&ctx, &mut r, false, true, false);
        kazoo::ci_cluster_step(&ctx, &mut r, false);
        r.skip("bench --quick", "the corral build failed");
    }
    Ok(r.finish())
}

fn interop(args: &[String]) -> Result<bool> {
    let cluster = args.iter().any(|a| a == "--cluster");
    let pytest_args: Vec<String> = args.iter().filter(|a| *a != "--cluster").cloned().collect();
    let pytest_args = pytest_args.as_slice();
    let ctx = Ctx::new()?;
    let mut r = Runner::new("interop");
    if !setup_steps(&ctx, &mut r) {
        return Ok(r.finish());
    }
    let oracle_only = oracle_only();
    let built = if oracle_only {
        r.skip(
            "build corral",
            "CORRAL_ORACLE_ONLY is set: Apache ZooKeeper on both sides",
        );
        true
    } else {
        r.step("build corral", || build_corral(&ctx))
    };
    if built {
        r.step("interop tests", || {
            run_interop(&ctx, pytest_args, !oracle_only)
        });
    } else {
        r.skip("interop tests", "the corral build failed");
    }
    kazoo::step(&ctx, &mut r, built, !oracle_only, !pytest_args.is_empty());
    if cluster {
        kazoo::cluster_step(&ctx, &mut r, built, !oracle_only);
    }
    Ok(r.finish())
}

/// `cargo xtask sim --seeds N --start S`: many seeds of corral-zab's simulator.
fn sim(args: &[String]) -> Result<bool> {
    let ctx = Ctx::new()?;
    let (mut seeds, mut start) = ("10000".to_string(), "0".to_string());
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .with_context(|| format!("`{flag}` needs a value"))?;
        if value.parse::<u64>().is_err() {
            bail!("`{flag}` takes a non-negative integer, got `{value}`");
        }
        match flag.as_str() {
            "--seeds" => seeds = value.clone(),
            "--start" => start = value.clone(),
            other => bail!("unknown option `{other}` (expected --seeds or --start)"),
        }
    }
    let mut r = Runner::new("sim");
    r.step(
        &format!("ZAB simulator: {seeds} seeds from {start}"),
        || {
            run_cmd(
                ctx.cargo()
                    .args(["test", "-p", "corral-zab", "--release", "--lib"])
                    .args(["sim::tests::many_seeds", "--", "--ignored", "--nocapture"])
                    .env("CORRAL_SIM_SEEDS", &seeds)
                    .env("CORRAL_SIM_START", &start),
            )
        },
    );
    Ok(r.finish())
}

/// Steps 1, 1b and 2; false if one failed (nothing later can work then).
fn setup_steps(ctx: &Ctx, r: &mut Runner) -> bool {
    let mut apt = setup::Apt::new();
    r.step("install Apache ZooKeeper", || {
        setup::ensure_zookeeper(&mut apt)
    }) && r.step("install Prometheus (server, promtool)", || {
        setup::ensure_prometheus(&mut apt)
    }) && r.step("python venv (kazoo, pytest)", || {
        setup::ensure_venv(ctx, &mut apt)
    })
}

fn build_corral(ctx: &Ctx) -> Result<()> {
    run_cmd(ctx.cargo().args(["build", "-p", "corral"]))?;
    let bin = ctx.corral_bin();
    if !bin.is_file() {
        bail!(
            "`cargo build -p corral` succeeded but {} does not exist",
            bin.display()
        );
    }
    Ok(())
}

fn run_interop(ctx: &Ctx, pytest_args: &[String], real_corral: bool) -> Result<()> {
    let mut cmd = Command::new(ctx.venv_python());
    cmd.current_dir(&ctx.root)
        .args(["-m", "pytest", "interop", "-v"])
        .args(pytest_args);
    if real_corral {
        cmd.env("CORRAL_BIN", ctx.corral_bin())
            .env_remove("CORRAL_ORACLE_ONLY");
    }
    run_cmd(&mut cmd)
}

/// `path` relative to the workspace root when it is inside it (for messages).
pub fn show(ctx: &Ctx, path: &Path) -> String {
    path.strip_prefix(&ctx.root)
        .unwrap_or(path)
        .display()
        .to_string()
}
