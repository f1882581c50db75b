//! A run's two phases: safety under chaos, then the network heals and a leader must commit
//! new proposals everywhere (liveness); and the report of a failure (seed, step, invariant,
//! the last events, the replay command).

use corral_zab::sim::checkers::Violation;

use crate::options::Summary;
use crate::server::lock;
use crate::step::STEPS_PER_TICK;
use crate::world::Sim;

const LIVENESS_TICKS: u64 = 600;
const LIVENESS_PROPOSALS: usize = 3;
/// Events kept for a failure report.
const TRACE_LEN: usize = 200;

impl Sim {
    pub(crate) fn event(&mut self, text: String) {
        if self.trace.len() == TRACE_LEN {
            self.trace.pop_front();
        }
        self.trace.push_back(format!("{:>6} {text}", self.step));
    }

    pub(crate) fn fail(&self, v: Violation) -> String {
        let mut s = format!(
            "runtime simulation failed: seed {} step {}: [{}] {}\nreplay: CORRAL_RT_SIM_SEED={} cargo test -p corral-zab-runtime --test sim replay -- --nocapture\n",
            self.o.seed, self.step, v.invariant, v.detail, self.o.seed
        );
        for line in &self.trace {
            s.push_str(line);
            s.push('\n');
        }
        s
    }

    pub(crate) fn global_len(&self) -> usize {
        lock(&self.watch).checkers.agreement.global().len()
    }

    pub(crate) fn run(mut self) -> Result<Summary, String> {
        for id in self.ids() {
            self.start(id).map_err(|v| self.fail(v))?;
        }
        while self.step < self.o.chaos_steps {
            self.step += 1;
            self.chaos().map_err(|v| self.fail(v))?;
            self.one_step(true).map_err(|v| self.fail(v))?;
        }
        self.event("--- heal: liveness phase ---".into());
        self.net.heal();
        for id in self.ids() {
            if self.servers[&id].node.is_none() {
                self.start(id).map_err(|v| self.fail(v))?;
            }
        }
        let start_len = self.global_len();
        let deadline = self.step + LIVENESS_TICKS * STEPS_PER_TICK;
        while self.step < deadline {
            self.step += 1;
            let enough = self.global_len() >= start_len + LIVENESS_PROPOSALS;
            self.one_step(!enough).map_err(|v| self.fail(v))?;
            let n = self.global_len();
            let converged = self.servers.values().all(|s| {
                s.node
                    .as_ref()
                    .is_some_and(|node| node.state_machine().state.len() == n)
            });
            if enough && converged {
                let w = lock(&self.watch);
                for (&id, s) in &self.servers {
                    if let Some(node) = s.node.as_ref() {
                        let state = &node.state_machine().state;
                        if let Err(v) = w.checkers.complete(id, state) {
                            drop(w);
                            return Err(self.fail(v));
                        }
                    }
                }
                self.summary.committed = n;
                self.summary.async_runs = u64::from(self.o.async_apply);
                self.summary.answered = *lock(&self.answers);
                return Ok(self.summary);
            }
        }
        let statuses: Vec<String> = self
            .servers
            .values()
            .filter_map(|s| s.node.as_ref())
            .map(|n| {
                let s = n.status();
                format!(
                    "{}:{:?}/{:?}/e{} (accepted {}, current {}, last {:?})/{}",
                    s.id,
                    s.role,
                    s.leader,
                    s.epoch,
                    s.accepted_epoch,
                    s.current_epoch,
                    s.last_zxid,
                    s.established
                )
            })
            .collect();
        let v = Violation {
            invariant: "liveness",
            detail: format!(
                "no convergence {LIVENESS_TICKS} ticks after healing; servers {}",
                statuses.join(" ")
            ),
        };
        Err(self.fail(v))
    }
}
