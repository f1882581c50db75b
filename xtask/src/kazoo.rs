//! kazoo's own test suite (`kazoo.tests`, shipped in the kazoo wheel) against Apache
//! ZooKeeper 3.8 and against Corral in one run: interop/kazoo_suite/run.py.
//!
//! The step fails if Corral does not pass what ZooKeeper passes, skip what it skips and fail
//! the rest with the same exception, unless interop/kazoo_suite/expected_failures.txt lists
//! the test (with a reason); tests that are flaky on ZooKeeper itself are in flaky.txt.
//!
//! The whole suite runs (about 5 minutes: both servers at once). `KAZOO_SUITE=off` skips the
//! step; `KAZOO_SUITE_TESTS=test_lock.py,test_client.py::TestClient` runs only those.
//! `cargo xtask interop --cluster` (or `cargo xtask kazoo --cluster`) runs it once more with
//! three servers per side (ZooKeeper's harness with ZOOKEEPER_CLUSTER_SIZE=3).

use std::env;
use std::process::Command;

use anyhow::{bail, Result};

use crate::runner::{run_cmd, Runner};
use crate::{build_corral, oracle_only, setup_steps, Ctx};

const STEP: &str = "kazoo's own test suite (ZooKeeper vs Corral)";
const CLUSTER_STEP: &str = "kazoo's own test suite, 3-server ensembles (ZooKeeper vs Corral)";

/// `KAZOO_SUITE`: unset, empty or `on` runs the step, `off` (or `0`) skips it.
fn enabled() -> Result<bool> {
    match env::var("KAZOO_SUITE").as_deref() {
        Err(_) | Ok("") | Ok("on") | Ok("1") => Ok(true),
        Ok("off") | Ok("0") => Ok(false),
        Ok(other) => bail!("KAZOO_SUITE={other:?}: expected on or off"),
    }
}

/// The step of `ci` and `interop`, after the interop tests. `built`: corral was built (or
/// CORRAL_ORACLE_ONLY needs no build). `filtered`: `interop` got pytest arguments, which ask
/// for those interop tests only; then the suite runs only if `KAZOO_SUITE=on`.
pub fn step(ctx: &Ctx, r: &mut Runner, built: bool, real_corral: bool, filtered: bool) {
    match enabled() {
        Err(e) => {
            r.step(STEP, || Err(e));
        }
        Ok(false) => r.skip(STEP, "KAZOO_SUITE=off"),
        Ok(true) if filtered && env::var("KAZOO_SUITE").as_deref() != Ok("on") => {
            r.skip(STEP, "pytest arguments given (KAZOO_SUITE=on runs it too)")
        }
        Ok(true) if !built => r.skip(STEP, "the corral build failed"),
        Ok(true) => {
            r.step(STEP, || run(ctx, real_corral, &[]));
        }
    }
}

/// The step `cargo xtask interop --cluster` adds (not part of `ci`): the suite with
/// ZOOKEEPER_CLUSTER_SIZE=3, a ZooKeeper ensemble against a Corral ensemble (`run.py
/// --cluster`; about 6 minutes for ZooKeeper's side, 4 for Corral's). A corral binary that
/// cannot run an ensemble fails the step.
pub fn cluster_step(ctx: &Ctx, r: &mut Runner, built: bool, real_corral: bool) {
    if built {
        r.step(CLUSTER_STEP, || {
            run(ctx, real_corral, &["--cluster".into()])
        });
    } else {
        r.skip(CLUSTER_STEP, "the corral build failed");
    }
}

const CI_CLUSTER_STEP: &str = "kazoo's own test suite, 3-server Corral ensemble";

/// The ensemble step of `ci`: the whole suite on a 3-server Corral ensemble alone (about 4
/// minutes on CI's 2 cores), every test passing but the listed expected failures
/// (expected_failures_cluster.txt: reconfig, read-only mode). ZooKeeper's own 3-server run
/// (another 6 minutes, every test passing) is left to `cargo xtask kazoo --cluster` to keep
/// CI under 30 minutes. `KAZOO_SUITE=off` skips it as it skips the other.
pub fn ci_cluster_step(ctx: &Ctx, r: &mut Runner, built: bool) {
    match enabled() {
        Err(e) => {
            r.step(CI_CLUSTER_STEP, || Err(e));
        }
        Ok(false) => r.skip(CI_CLUSTER_STEP, "KAZOO_SUITE=off"),
        Ok(true) if !built => r.skip(CI_CLUSTER_STEP, "the corral build failed"),
        Ok(true) => {
            r.step(CI_CLUSTER_STEP, || {
                run(
                    ctx,
                    true,
                    &["--cluster".into(), "--servers".into(), "corral".into()],
                )
            });
        }
    }
}

/// `cargo xtask kazoo [run.py args]`: set-up, the corral build and only this suite; the
/// arguments go to interop/kazoo_suite/run.py (`--tests test_lock.py`, `--keep`, `-- -x`).
pub fn command(args: &[String]) -> Result<bool> {
    let ctx = Ctx::new()?;
    let mut r = Runner::new("kazoo");
    if !setup_steps(&ctx, &mut r) {
        return Ok(r.finish());
    }
    let real_corral = !oracle_only();
    let built = if real_corral {
        r.step("build corral", || build_corral(&ctx))
    } else {
        r.skip("build corral", "CORRAL_ORACLE_ONLY is set");
        true
    };
    if built {
        r.step(STEP, || run(&ctx, real_corral, args));
    } else {
        r.skip(STEP, "the corral build failed");
    }
    Ok(r.finish())
}

/// Runs the suite on both servers and compares. `real_corral` false means CORRAL_ORACLE_ONLY:
/// run.py then starts Apache ZooKeeper on the corral side too.
fn run(ctx: &Ctx, real_corral: bool, args: &[String]) -> Result<()> {
    let mut cmd = Command::new(ctx.venv_python());
    cmd.current_dir(&ctx.root)
        .arg(ctx.root.join("interop").join("kazoo_suite").join("run.py"));
    if let Ok(tests) = env::var("KAZOO_SUITE_TESTS") {
        if !tests.is_empty() {
            cmd.args(["--tests", &tests]);
        }
    }
    cmd.args(args);
    if real_corral {
        cmd.env("CORRAL_BIN", ctx.corral_bin())
            .env_remove("CORRAL_ORACLE_ONLY");
    }
    run_cmd(&mut cmd)
}
