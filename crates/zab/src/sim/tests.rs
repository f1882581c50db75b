//! The simulator's entry points: the seeds CI runs, the many-seeds run, the
//! replay of one seed, and the proof that the checkers catch broken engines.

use super::{run, Failure, SimOptions, Summary};
use crate::Faults;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn faults_from_env() -> Faults {
    let spec = std::env::var("CORRAL_SIM_FAULTS").unwrap_or_default();
    Faults {
        ack_before_durable: spec.contains("ack_before_durable"),
        commit_out_of_order: spec.contains("commit_out_of_order"),
        skip_sync: spec.contains("skip_sync"),
    }
}

fn run_seeds(start: u64, count: u64) -> Vec<Failure> {
    let mut failures = Vec::new();
    let mut total = Summary::default();
    for seed in start..start + count {
        match run(SimOptions::from_seed(seed)) {
            Ok(s) => total.add(&s),
            Err(f) => {
                eprintln!("{f}");
                failures.push(f);
                if failures.len() >= 3 {
                    break;
                }
            }
        }
    }
    println!("seeds {start}..{}: {total:?}", start + count);
    failures
}

/// The seeds every `cargo test` runs.
#[test]
fn seeds() {
    let failures = run_seeds(0, 300);
    assert!(
        failures.is_empty(),
        "failing seeds: {:?}",
        failures.iter().map(|f| f.seed).collect::<Vec<_>>()
    );
}

/// `CORRAL_SIM_SEEDS=N [CORRAL_SIM_START=S] cargo test -p corral-zab --release --lib sim::tests::many_seeds -- --ignored --nocapture`
#[test]
#[ignore]
fn many_seeds() {
    let count = env_u64("CORRAL_SIM_SEEDS").unwrap_or(1000);
    let start = env_u64("CORRAL_SIM_START").unwrap_or(0);
    let failures = run_seeds(start, count);
    println!("{count} seeds from {start}: {} failed", failures.len());
    assert!(failures.is_empty());
}

/// `CORRAL_SIM_SEED=S cargo test -p corral-zab --lib sim::tests::replay -- --nocapture`
/// replays one seed printing every event; without the variable it does nothing.
#[test]
fn replay() {
    let Some(seed) = env_u64("CORRAL_SIM_SEED") else {
        return;
    };
    let mut opts = SimOptions::from_seed(seed);
    opts.faults = faults_from_env();
    opts.verbose = true;
    println!("replaying {opts:?}");
    match run(opts) {
        Ok(s) => println!("seed {seed} passed: {s:?}"),
        Err(f) => panic!("{f}"),
    }
}

/// Runs seeds with `faults` until a safety property fails (a liveness
/// failure alone does not count: a broken engine may also just stall).
/// Returns (seeds run, invariant).
fn first_catch(
    faults: Faults,
    check_ack_durable: bool,
    budget: u64,
) -> Option<(u64, &'static str)> {
    (0..budget).find_map(|seed| {
        let mut opts = SimOptions::from_seed(seed);
        opts.faults = faults;
        opts.check_ack_durable = check_ack_durable;
        match run(opts) {
            Err(f) if f.violation.invariant != "liveness" => {
                Some((seed + 1, f.violation.invariant))
            }
            _ => None,
        }
    })
}

#[test]
fn catches_ack_before_durable() {
    let faults = Faults {
        ack_before_durable: true,
        ..Faults::default()
    };
    let direct = first_catch(faults, true, 5);
    println!("ack_before_durable, ack check on: {direct:?}");
    assert_eq!(direct.map(|c| c.1), Some("ack_durable"));
    let end_to_end = first_catch(faults, false, 300);
    println!("ack_before_durable, end-to-end properties only: {end_to_end:?}");
    assert!(end_to_end.is_some());
}

#[test]
fn catches_commit_out_of_order() {
    let caught = first_catch(
        Faults {
            commit_out_of_order: true,
            ..Faults::default()
        },
        true,
        20,
    );
    println!("commit_out_of_order: {caught:?}");
    assert!(caught.is_some());
}

#[test]
fn catches_skip_sync() {
    let caught = first_catch(
        Faults {
            skip_sync: true,
            ..Faults::default()
        },
        true,
        100,
    );
    println!("skip_sync: {caught:?}");
    assert!(caught.is_some());
}
