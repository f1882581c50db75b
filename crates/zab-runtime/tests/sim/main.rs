//! The seeded simulator driving the runtime itself: N [`Node`]s (the same type the tokio
//! `Runtime` drives), each with a state machine, a disk model of separate files with their
//! own durability ([`disk`]) and a FIFO network with delays, resets and partitions
//! (corral-zab's model), frames encoded and decoded by the runtime's codec. Crashes at any
//! step (losing unsynced writes, tearing the last log record), restarts from the disk,
//! snapshots streamed in chunks while proposals go on. After every call into a node
//! corral-zab's checkers run (one leader per epoch, agreement, durability, primary order,
//! integrity, nothing promised before it is durable), the state machine checks every
//! delivery, and the disk checks its own crash consistency. Then the network heals and a
//! leader must commit new proposals everywhere.
//!
//! `CORRAL_RT_SIM_SEEDS=N [CORRAL_RT_SIM_START=S] cargo test -p corral-zab-runtime --release
//! --test sim many_seeds -- --ignored --nocapture`; a failure prints its replay command.

mod disk;
mod options;
mod phases;
mod server;
mod step;
mod variants;
mod world;

use std::collections::BTreeMap;

use corral_zab::Faults;
use options::{Options, Summary};
use variants::invariant_of;
use world::Sim;

fn scan_options(seed: u64) -> Options {
    let mut o = Options::from_seed(seed);
    let spec = std::env::var("CORRAL_RT_SIM_FAULTS").unwrap_or_default();
    o.engine_faults = Faults::parse(&spec).unwrap_or_else(|e| panic!("CORRAL_RT_SIM_FAULTS: {e}"));
    o.tight = env_u64("CORRAL_RT_SIM_TIGHT") == Some(1);
    o
}

/// Which checkers fire with `CORRAL_RT_SIM_FAULTS` on over `CORRAL_RT_SIM_SEEDS` seeds.
#[test]
#[ignore]
fn scan() {
    let count = env_u64("CORRAL_RT_SIM_SEEDS").unwrap_or(1000);
    let start = env_u64("CORRAL_RT_SIM_START").unwrap_or(0);
    let mut caught = BTreeMap::<String, Vec<u64>>::new();
    for seed in start..start + count {
        if let Err(f) = Sim::new(scan_options(seed)).run() {
            let invariant = invariant_of(&f);
            caught.entry(invariant).or_default().push(seed);
        }
    }
    for (invariant, seeds) in &caught {
        let first: Vec<u64> = seeds.iter().copied().take(20).collect();
        println!("  {invariant}: {} seeds, first {first:?}", seeds.len());
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn run_seeds(start: u64, count: u64) -> (Summary, Vec<String>) {
    let mut committed = Summary::default();
    let mut failures = Vec::new();
    for seed in start..start + count {
        match Sim::new(Options::from_seed(seed)).run() {
            Ok(s) => committed.add(&s),
            Err(f) => {
                eprintln!("{f}");
                failures.push(f);
                if failures.len() >= 3 {
                    break;
                }
            }
        }
    }
    (committed, failures)
}

#[test]
fn seeds() {
    let (committed, failures) = run_seeds(0, 100);
    println!("runtime sim seeds 0..100: {committed:?}");
    assert!(failures.is_empty(), "{} failing seeds", failures.len());
}

#[test]
#[ignore]
fn many_seeds() {
    let count = env_u64("CORRAL_RT_SIM_SEEDS").unwrap_or(1000);
    let start = env_u64("CORRAL_RT_SIM_START").unwrap_or(0);
    let (committed, failures) = run_seeds(start, count);
    println!(
        "runtime sim: {count} seeds from {start}: {} failed; {committed:?}",
        failures.len()
    );
    assert!(failures.is_empty());
}

#[test]
fn replay() {
    let Some(seed) = env_u64("CORRAL_RT_SIM_SEED") else {
        return;
    };
    match Sim::new(Options::from_seed(seed)).run() {
        Ok(s) => println!("seed {seed} passed: {s:?}"),
        Err(f) => panic!("{f}"),
    }
}
