//! What a run reports: [`Failure`] with its replay command, or [`Summary`].

use std::fmt;

use super::checkers::Violation;
use crate::Faults;

/// A run that broke a property or did not converge.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// The step at which it was caught.
    pub step: u64,
    /// What broke.
    pub violation: Violation,
    /// The last events before it, oldest first.
    pub trace: Vec<String>,
    /// The faults the engine ran with.
    pub faults: Faults,
    /// The run's initial epoch (`SimOptions::initial_epoch`).
    pub initial_epoch: u32,
    /// The checkers that were off (`SimOptions::disabled`).
    pub disabled: Vec<String>,
}

impl Failure {
    /// The command that replays this run.
    pub fn replay_command(&self) -> String {
        let mut env = String::new();
        let faults = self.faults.names();
        if !faults.is_empty() {
            env += &format!("CORRAL_SIM_FAULTS={} ", faults.join(","));
        }
        if self.initial_epoch != 0 {
            env += &format!("CORRAL_SIM_EPOCH={} ", self.initial_epoch);
        }
        if !self.disabled.is_empty() {
            env += &format!("CORRAL_SIM_DISABLED={} ", self.disabled.join(","));
        }
        format!(
            "{env}CORRAL_SIM_SEED={} cargo test -p corral-zab --lib sim::tests::replay -- --nocapture",
            self.seed
        )
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "ZAB simulation failed: seed {} step {}: [{}] {}",
            self.seed, self.step, self.violation.invariant, self.violation.detail
        )?;
        writeln!(f, "replay: {}", self.replay_command())?;
        writeln!(f, "last {} events:", self.trace.len())?;
        for line in &self.trace {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

/// What a successful run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Servers.
    pub servers: usize,
    /// Entries committed.
    pub committed: usize,
    /// Proposals accepted by leaders.
    pub proposed: usize,
    /// Epochs that had an established leader.
    pub epochs: usize,
    /// Crashes injected.
    pub crashes: usize,
    /// Messages delivered.
    pub delivered: u64,
    /// Steps run.
    pub steps: u64,
    /// DIFF / TRUNC / SNAP synchronisations delivered.
    pub diffs: u64,
    /// See `diffs`.
    pub truncs: u64,
    /// See `diffs`.
    pub snaps: u64,
    /// Proposals refused for zxid rollover.
    pub rollovers: u64,
    /// Messages the engines refused as protocol violations.
    pub refused: u64,
}

impl Summary {
    /// Adds another run's counts.
    pub fn add(&mut self, o: &Summary) {
        self.servers += o.servers;
        self.committed += o.committed;
        self.proposed += o.proposed;
        self.epochs += o.epochs;
        self.crashes += o.crashes;
        self.delivered += o.delivered;
        self.steps += o.steps;
        self.diffs += o.diffs;
        self.truncs += o.truncs;
        self.snaps += o.snaps;
        self.rollovers += o.rollovers;
        self.refused += o.refused;
    }
}
