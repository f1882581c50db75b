//! The simulator's entry points: the seeds CI runs, the many-seeds run, the
//! replay of one seed, and the proof that the checkers catch broken engines.

use super::{run, Failure, Sim, SimOptions, Summary};
use crate::Faults;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Seed `seed` with what the environment adds (as `Failure::replay_command`
/// prints it): `CORRAL_SIM_FAULTS`, `CORRAL_SIM_EPOCH`, `CORRAL_SIM_DISABLED`.
fn options_from_env(seed: u64) -> SimOptions {
    let spec = std::env::var("CORRAL_SIM_FAULTS").unwrap_or_default();
    let mut opts = SimOptions::from_seed(seed);
    opts.faults = Faults::parse(&spec).unwrap_or_else(|e| panic!("CORRAL_SIM_FAULTS: {e}"));
    opts.initial_epoch = env_u64("CORRAL_SIM_EPOCH").map_or(0, |e| e as u32);
    let off = std::env::var("CORRAL_SIM_DISABLED").unwrap_or_default();
    opts.disabled = off
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect();
    opts
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
    let mut opts = options_from_env(seed);
    opts.verbose = true;
    println!("replaying {opts:?}");
    match run(opts) {
        Ok(s) => println!("seed {seed} passed: {s:?}"),
        Err(f) => panic!("{f}"),
    }
}

/// Runs `seeds`, each with `setup` applied to its options, until a safety
/// property fails (a liveness failure alone does not count: a broken engine
/// may also just stall). Returns (seeds run, the invariant that fired).
fn first_catch(
    seeds: impl IntoIterator<Item = u64>,
    setup: impl Fn(&mut SimOptions),
) -> Option<(u64, &'static str)> {
    seeds.into_iter().enumerate().find_map(|(i, seed)| {
        let mut opts = SimOptions::from_seed(seed);
        setup(&mut opts);
        match run(opts) {
            Err(f) if f.violation.invariant != "liveness" => {
                Some((i as u64 + 1, f.violation.invariant))
            }
            _ => None,
        }
    })
}

fn faults(names: &str) -> Faults {
    Faults::parse(names).expect("known faults")
}

/// Seeds on which the end-to-end properties alone (`ack_durable` off) notice
/// `ack_before_durable`: 1 of seeds 0..3000, by `agreement`. Found with
/// `CORRAL_SIM_FAULTS=ack_before_durable CORRAL_SIM_DISABLED=ack_durable
/// CORRAL_SIM_SEEDS=3000 cargo test -p corral-zab --release --lib
/// sim::tests::scan -- --ignored --nocapture`; look again after a change to
/// the simulator's draws.
const ACK_BEFORE_DURABLE_END_TO_END: [u64; 1] = [525];

#[test]
fn catches_ack_before_durable() {
    let f = faults("ack_before_durable");
    let direct = first_catch(0..5, |o| o.faults = f);
    println!("ack_before_durable, ack check on: {direct:?}");
    assert_eq!(direct.map(|c| c.1), Some("ack_durable"));
    for seed in ACK_BEFORE_DURABLE_END_TO_END {
        let end_to_end = first_catch([seed], |o| {
            o.faults = f;
            o.disabled = vec!["ack_durable".into()];
        });
        println!("ack_before_durable, end-to-end properties only, seed {seed}: {end_to_end:?}");
        assert_eq!(end_to_end, Some((1, "agreement")), "seed {seed}");
    }
}

/// Seeds 0..20 all catch it: `primary_order` on 15, `agreement` first on 5
/// (seed 0 among them: the leader's own delivery departs from the order the
/// others agreed on).
#[test]
fn catches_commit_out_of_order() {
    let f = faults("commit_out_of_order");
    let caught = first_catch(0..20, |o| o.faults = f);
    println!("commit_out_of_order: {caught:?}");
    assert_eq!(caught.map(|c| c.1), Some("agreement"));
    let second = first_catch(1..20, |o| o.faults = f);
    assert_eq!(second.map(|c| c.1), Some("primary_order"));
}

/// A learner left unsynchronised believes its log holds what it never got:
/// the first read of that log through its `LogSource` finds the hole
/// (`log_source`); with that check off, `agreement` sees the divergence.
#[test]
fn catches_skip_sync() {
    let f = faults("skip_sync");
    let caught = first_catch(0..100, |o| o.faults = f);
    println!("skip_sync: {caught:?}");
    assert_eq!(caught.map(|c| c.1), Some("log_source"));
    let end_to_end = first_catch(0..100, |o| {
        o.faults = f;
        o.disabled = vec!["log_source".into()];
    });
    println!("skip_sync, log_source off: {end_to_end:?}");
    assert_eq!(end_to_end.map(|c| c.1), Some("agreement"));
}

/// A DIFF read from the learner's last zxid where a TRUNC was due leaves the
/// learner with a proposal the history does not have.
#[test]
fn catches_diff_from_wrong_offset() {
    let f = faults("diff_from_wrong_offset");
    let caught = first_catch(0..300, |o| o.faults = f);
    println!("diff_from_wrong_offset: {caught:?}");
    assert_eq!(caught.map(|c| c.1), Some("agreement"));
}

/// How often each checker fires with `CORRAL_SIM_FAULTS` on, over
/// `CORRAL_SIM_SEEDS` seeds from `CORRAL_SIM_START` (optionally from initial
/// epoch `CORRAL_SIM_EPOCH`, with the checkers of `CORRAL_SIM_DISABLED`
/// off): the numbers behind the seeds of the `catches_*` tests.
/// `CORRAL_SIM_FAULTS=skip_sync CORRAL_SIM_SEEDS=1000 cargo test -p corral-zab --release --lib sim::tests::scan -- --ignored --nocapture`
#[test]
#[ignore]
fn scan() {
    let count = env_u64("CORRAL_SIM_SEEDS").unwrap_or(1000);
    let start = env_u64("CORRAL_SIM_START").unwrap_or(0);
    let mut caught = std::collections::BTreeMap::<&str, Vec<u64>>::new();
    for seed in start..start + count {
        if let Err(f) = run(options_from_env(seed)) {
            caught.entry(f.violation.invariant).or_default().push(seed);
        }
    }
    let faults = options_from_env(start).faults;
    println!("{:?}, seeds {start}..{}:", faults.names(), start + count);
    for (invariant, seeds) in &caught {
        let first: Vec<u64> = seeds.iter().copied().take(20).collect();
        println!("  {invariant}: {} seeds, first {first:?}", seeds.len());
    }
}

/// Two leaders of one epoch: what the engine did before an ACKEPOCH without
/// an epoch stopped counting and before epochs stopped saturating. Near the
/// end of the epoch space every leader proposes the same saturated epoch and
/// the learners, having accepted it, answer without an epoch. (Each fault
/// alone: counting such an ACKEPOCH was caught on none of 3000 seeds from
/// epoch 0, where two leaders seldom propose one epoch at once; saturating
/// alone on 7 of 200 seeds from here.)
fn epoch_reuse(o: &mut SimOptions) {
    o.faults = faults("count_ackepoch_without_epoch,saturate_epochs");
    o.initial_epoch = crate::Zxid::MAX_EPOCH - 2;
}

#[test]
fn one_leader_per_epoch_catches_epoch_reuse() {
    let caught = first_catch(0..10, epoch_reuse);
    println!("epoch reuse: {caught:?}");
    assert_eq!(caught.map(|c| c.1), Some("one_leader_per_epoch"));
}

/// The second leader of the epoch hands out zxids the first one already
/// used, with other payloads. `one_leader_per_epoch` would fire first (a
/// leader is established before it proposes), so it is off here.
#[test]
fn integrity_catches_epoch_reuse() {
    let caught = first_catch(0..30, |o| {
        epoch_reuse(o);
        o.disabled = vec!["one_leader_per_epoch".into()];
    });
    println!("epoch reuse, one_leader_per_epoch off: {caught:?}");
    assert_eq!(caught.map(|c| c.1), Some("integrity"));
}

/// Both epoch promises of discovery must be durable before they leave: the
/// end-to-end properties noticed neither variant on 300 seeds.
#[test]
fn catches_epochs_sent_before_durable() {
    for name in ["ackepoch_before_durable", "leaderinfo_before_durable"] {
        let f = faults(name);
        let caught = first_catch(0..3, |o| o.faults = f);
        println!("{name}: {caught:?}");
        assert_eq!(caught.map(|c| c.1), Some("ack_durable"), "{name}");
    }
}

/// Only `Zab::validate` sees this at once (the end-to-end properties first
/// on seed 24, by `agreement`).
#[test]
fn validate_catches_a_leader_without_its_current_epoch() {
    let f = faults("leader_skips_current_epoch");
    let caught = first_catch(0..3, |o| o.faults = f);
    println!("leader_skips_current_epoch: {caught:?}");
    assert_eq!(caught.map(|c| c.1), Some("validate"));
}

/// The checks run after every call into an engine, not once per step: a
/// leadership is on record as soon as the fsync that established it
/// returns. (Sampled once per step, leaderships shorter than a step went
/// unseen: 18 epochs on seeds 0..3000.)
#[test]
fn a_leader_is_on_record_as_soon_as_it_is_established() {
    let mut opts = SimOptions::from_seed(0);
    opts.voters = 1;
    opts.observers = 0;
    let mut sim = Sim::new(opts);
    sim.start(1).unwrap();
    // The finalize wait: one tick, then the epochs are written.
    let z = sim.nodes.get_mut(&1).and_then(|n| n.zab.as_mut()).unwrap();
    z.tick().unwrap();
    sim.drive(1).unwrap();
    assert_eq!(sim.checkers.one_leader.epochs(), 0, "not durable yet");
    sim.fsync(1).unwrap();
    let s = sim.nodes[&1].zab.as_ref().unwrap().status();
    assert!(s.established);
    assert_eq!(sim.checkers.one_leader.epochs(), 1);
}
