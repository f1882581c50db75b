//! The fault phase's draws, shared by every simulator built on these models (this crate's,
//! and corral-zab-runtime's, which drives the runtime itself): a crash, a restart, a
//! partition, a heal, a link reset, each with its own probability per step.

use super::checkers::Violation;
use super::network::Network;
use super::rng::Rng;
use crate::PeerId;

/// Per-step probabilities, drawn from the seed by each simulator.
#[derive(Debug, Clone, Copy)]
pub struct Chaos {
    /// A running server crashes.
    pub p_crash: f64,
    /// A crashed server restarts.
    pub p_restart: f64,
    /// A random side of the ensemble is cut from the rest.
    pub p_partition: f64,
    /// Every cut link is restored.
    pub p_heal: f64,
    /// One link is reset (what is in flight is lost, both ends hear it).
    pub p_reset: f64,
}

impl Chaos {
    /// A run's probabilities drawn from its seed, in one fixed order (so that a seed replays
    /// the same run): crashes only if `crashy`; restarts, partitions, heals and link resets.
    pub fn draw(rng: &mut Rng, crashy: bool) -> Chaos {
        Chaos {
            p_crash: if crashy {
                0.001 + rng.below(8) as f64 / 1000.0
            } else {
                0.0
            },
            p_restart: 0.01 + rng.below(5) as f64 / 100.0,
            p_partition: rng.below(4) as f64 / 1000.0,
            p_heal: 0.01 + rng.below(3) as f64 / 100.0,
            p_reset: rng.below(5) as f64 / 1000.0,
        }
    }
}

/// What a simulator does when the dice say so.
pub trait Chaotic {
    /// The run's random source.
    fn rng(&mut self) -> &mut Rng;
    /// The run's network.
    fn net(&mut self) -> &mut Network;
    /// Crash `id` (unsynced writes partly lost).
    fn crash(&mut self, id: PeerId) -> Result<(), Violation>;
    /// Restart `id` from its disk.
    fn restart(&mut self, id: PeerId) -> Result<(), Violation>;
    /// Drop what is in flight between `a` and `b`; both ends hear the stream break.
    fn break_link(&mut self, a: PeerId, b: PeerId);
    /// A line for the trace.
    fn trace(&mut self, line: String);
}

impl Chaos {
    /// One step of faults over `ids`, of which `up` are running.
    pub fn step<C: Chaotic>(
        &self,
        sim: &mut C,
        ids: &[PeerId],
        up: &[PeerId],
    ) -> Result<(), Violation> {
        if sim.rng().chance(self.p_crash) && !up.is_empty() {
            let id = up[sim.rng().below(up.len() as u64) as usize];
            sim.crash(id)?;
        }
        let down: Vec<PeerId> = ids.iter().copied().filter(|id| !up.contains(id)).collect();
        if !down.is_empty() && sim.rng().chance(self.p_restart) {
            let id = down[sim.rng().below(down.len() as u64) as usize];
            sim.restart(id)?;
        }
        if sim.rng().chance(self.p_partition) {
            let side: Vec<PeerId> = ids
                .iter()
                .copied()
                .filter(|_| sim.rng().chance(0.5))
                .collect();
            sim.trace(format!("PARTITION {side:?} | rest"));
            for &a in &side {
                for &b in ids {
                    if !side.contains(&b) && !sim.net().is_cut(a, b) {
                        sim.net().cut(a, b);
                        sim.break_link(a, b);
                    }
                }
            }
        }
        if sim.rng().chance(self.p_heal) {
            sim.net().heal();
        }
        if sim.rng().chance(self.p_reset) {
            let a = ids[sim.rng().below(ids.len() as u64) as usize];
            let b = ids[sim.rng().below(ids.len() as u64) as usize];
            if a != b {
                sim.trace(format!("RESET link {a}-{b}"));
                sim.break_link(a, b);
            }
        }
        Ok(())
    }
}
