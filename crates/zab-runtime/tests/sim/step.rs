//! One step of the simulated world: proposals, message deliveries, ticks, and each disk's
//! writer and fsync (a crash may fall between them).

use std::sync::Arc;

use bytes::Bytes;
use corral_zab::sim::checkers::Violation;
use corral_zab::{Message, PeerId, Role, Zxid};
use corral_zab_runtime::{codec, NetEvent};

use crate::server::lock;
use crate::world::Sim;

/// Simulator steps per engine tick.
pub(crate) const STEPS_PER_TICK: u64 = 4;

impl Sim {
    pub(crate) fn one_step(&mut self, propose: bool) -> Result<(), Violation> {
        if propose && self.rng.chance(self.p_propose) {
            self.propose()?;
        }
        for (from, to) in self.net.due(self.step) {
            if !self.rng.chance(self.p_deliver) {
                continue;
            }
            let Some(msg) = self.net.pop(from, to) else {
                continue;
            };
            let Some(node) = self.servers.get_mut(&to).and_then(|s| s.node.as_mut()) else {
                continue;
            };
            match msg {
                Message::Diff { .. } => self.summary.diffs += 1,
                Message::Trunc { .. } => self.summary.truncs += 1,
                Message::Snap { .. } => self.summary.snaps += 1,
                Message::SnapChunk { .. } => self.summary.snap_chunks += 1,
                _ => {}
            }
            let frame = codec::encode(&msg);
            node.receive(NetEvent::Frame { from, frame });
            if !matches!(msg, Message::Ping | Message::SnapChunk { .. }) {
                self.event(format!("{from}->{to} {}", msg.kind()));
            }
            self.flush()?;
        }
        if self.step.is_multiple_of(STEPS_PER_TICK) {
            for id in self.up() {
                if let Some(n) = self.servers.get_mut(&id).and_then(|s| s.node.as_mut()) {
                    n.tick();
                }
                self.flush()?;
            }
        }
        for id in self.up() {
            // The writer thread writes what was submitted; later an fsync reports it.
            let wrote = self.rng.chance(self.p_write);
            let synced = self.rng.chance(self.p_fsync);
            let chaos = self.step <= self.o.chaos_steps;
            if wrote && chaos && self.rng.chance(self.p_crash_write) {
                self.servers[&id].disk.model().write_queued();
                self.crash(id)?;
                continue;
            }
            let s = self.servers.get_mut(&id).expect("known");
            let tag = {
                let mut m = s.disk.model();
                if wrote {
                    m.write_queued();
                }
                if synced && m.has_work() {
                    m.fsync()
                } else {
                    None
                }
            };
            if let (Some(tag), Some(n)) = (tag, s.node.as_mut()) {
                n.durable(tag);
            }
            if let Some(n) = s.node.as_mut() {
                n.pump();
            }
            self.flush()?;
            if self.o.async_apply {
                self.apply_some(id)?;
            }
        }
        Ok(())
    }

    /// A state machine behind the log applies a few of its waiting entries (async apply).
    pub(crate) fn apply_some(&mut self, id: PeerId) -> Result<(), Violation> {
        let Some(n) = self.servers.get_mut(&id).and_then(|s| s.node.as_mut()) else {
            return Ok(());
        };
        self.summary.max_backlog = self.summary.max_backlog.max(n.pending_apply());
        if n.pending_apply() > 0 && self.rng.chance(self.p_apply) {
            let max = self.rng.range(1, 8) as usize;
            n.apply_pending(max);
            self.flush()?;
        }
        Ok(())
    }

    pub(crate) fn propose(&mut self) -> Result<(), Violation> {
        for id in self.up() {
            let s = self.servers.get_mut(&id).expect("known");
            let Some(n) = s.node.as_mut() else { continue };
            let st = n.status();
            if st.role != Role::Leading || !st.established {
                continue;
            }
            self.next_payload += 1;
            let payload = Bytes::from(format!("s{}#{}", self.o.seed, self.next_payload));
            let answers = Arc::clone(&self.answers);
            let waiter = Box::new(move |r: Result<Zxid, _>| {
                if r.is_ok() {
                    *lock(&answers) += 1;
                }
            });
            match n.propose(payload.clone(), waiter) {
                Ok(zxid) => {
                    self.event(format!("propose at {id}: {zxid:?}"));
                    let mut w = lock(&self.watch);
                    let r = w.checkers.proposed(id, zxid, &payload);
                    w.keep(r);
                }
                Err(e) => self.event(format!("propose at {id} refused: {e}")),
            }
            self.flush()?;
        }
        Ok(())
    }
}
