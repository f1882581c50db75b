//! `cargo xtask bench [--quick] [corral-bench suite options]`: Corral against Apache
//! ZooKeeper 3.8 on this machine, in the same run (crates/bench does the work).
//!
//! The full run builds release binaries and writes target/bench/{results.md,results.json,
//! chart.svg}; `--quick` (CI's smoke test) uses debug binaries, short runs and small data, and
//! writes under target/bench/quick/. Besides the standalone rows, both kinds run as 3-server
//! ensembles (throughput rows with the sessions spread over the servers, then `kill -9` of the
//! leader: the failover time); `--quick` keeps one ensemble workload and one failover round
//! (about 20-25 s of the quick run). Then a follower's SNAP rejoin on a loaded 3-server
//! ensemble of each kind (1,000,000 znodes, about 4 minutes; `--quick` 20,000, about 21 s
//! of the quick run on the debug build); `cargo xtask bench --only snap-rejoin` runs that row alone. Nothing here
//! asserts a time.

use std::process::Command;

use anyhow::{bail, Result};

use crate::runner::{run_cmd, Runner};
use crate::{setup, show, Ctx};

pub fn bench(args: &[String]) -> Result<bool> {
    let ctx = Ctx::new()?;
    let quick = args.iter().any(|a| a == "--quick");
    for a in args {
        if matches!(a.as_str(), "--corral" | "--out") {
            bail!("`{a}` is chosen by `cargo xtask bench`; run corral-bench directly to set it");
        }
    }
    let mut r = Runner::new("bench");
    let mut apt = setup::Apt::new();
    if !r.step("install Apache ZooKeeper", || {
        setup::ensure_zookeeper(&mut apt)
    }) {
        return Ok(r.finish());
    }
    let built = r.step(
        if quick {
            "build corral and corral-bench (debug)"
        } else {
            "build corral and corral-bench (release)"
        },
        || build(&ctx, quick),
    );
    if built {
        r.step("benchmark: Corral vs Apache ZooKeeper", || {
            run(&ctx, quick, args)
        });
    } else {
        r.skip("benchmark: Corral vs Apache ZooKeeper", "the build failed");
    }
    Ok(r.finish())
}

/// The CI step: the quick benchmark on the debug binaries CI has built already.
pub fn ci_step(ctx: &Ctx) -> Result<()> {
    build(ctx, true)?;
    run(ctx, true, &["--quick".to_string()])
}

fn build(ctx: &Ctx, quick: bool) -> Result<()> {
    let mut cmd = ctx.cargo();
    cmd.args(["build", "-p", "corral", "-p", "corral-bench"]);
    if !quick {
        cmd.arg("--release");
    }
    run_cmd(&mut cmd)
}

fn run(ctx: &Ctx, quick: bool, args: &[String]) -> Result<()> {
    let profile = if quick { "debug" } else { "release" };
    let bin_dir = ctx.target_dir.join(profile);
    let out = if quick {
        ctx.target_dir.join("bench").join("quick")
    } else {
        ctx.target_dir.join("bench")
    };
    let mut cmd = Command::new(bin_dir.join("corral-bench"));
    cmd.current_dir(&ctx.root)
        .arg("suite")
        .arg("--corral")
        .arg(bin_dir.join("corral"))
        .arg("--out")
        .arg(&out)
        .args(args);
    run_cmd(&mut cmd)?;
    println!(
        "results: {0}/results.md, {0}/results.json, {0}/chart.svg",
        show(ctx, &out)
    );
    Ok(())
}
