//! State every role shares, and the buffer that becomes the next [`Ready`].

use std::collections::VecDeque;

use crate::log::Log;
use crate::{Config, Entry, Message, Observation, PeerId, Persist, Ready, Role, ZabError, Zxid};

/// The vote this server settled on in its last election (ZooKeeper's
/// `currentVote`), answered to LOOKING servers while it follows or leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FinalVote {
    pub leader: PeerId,
    pub zxid: Zxid,
    pub peer_epoch: u32,
    pub election_epoch: u64,
}

/// What the role-specific handlers return: the role to move to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    Stay,
    Look,
    Lead,
    Follow(PeerId),
}

/// A message the handler refused; `next` is how the engine reacts.
#[derive(Debug)]
pub(crate) struct Rejected {
    pub next: Next,
    pub why: Why,
}

/// What the caller hears about a refused message.
#[derive(Debug)]
pub(crate) enum Why {
    /// The sender broke the protocol: [`ZabError::Protocol`].
    Protocol(String),
    /// The message was fine but we cannot act on it: this error as it is.
    Error(ZabError),
}

pub(crate) type Handled = Result<Next, Rejected>;

pub(crate) fn reject(next: Next, reason: impl Into<String>) -> Handled {
    Err(Rejected {
        next,
        why: Why::Protocol(reason.into()),
    })
}

/// Committed entries one `Ready` carries at most.
pub(crate) const MAX_COMMITTED_PER_READY: usize = 4096;

#[derive(Debug)]
pub(crate) struct Core {
    pub cfg: Config,
    pub accepted_epoch: u32,
    pub current_epoch: u32,
    pub log: Log,
    /// Highest zxid known to be committed.
    pub commit: Zxid,
    /// Highest zxid handed to the caller in `Ready::committed`.
    pub applied: Zxid,
    /// Highest zxid of the log known to be durable.
    pub durable: Zxid,
    /// Ticks since start.
    pub now: u64,
    /// ZooKeeper's `logicalclock`: the election round (not persisted).
    pub logical_clock: u64,
    pub vote: FinalVote,
    pub role: Role,
    pub role_changed: bool,
    /// The `established` value the last `Ready` reported.
    pub reported_established: bool,
    /// The log could not be read: no more committed entries are handed out.
    pub halted: bool,
    /// How this server was last synchronised with a leader.
    pub last_sync: Option<crate::SyncKind>,
    pub out: Ready,
    /// Number the next `Ready` will carry.
    pub next_ready: u64,
    /// Highest `Ready` number reported durable.
    pub advanced: u64,
    /// Highest `Ready` number that carried `send_after_persist` messages.
    pub defer_through: u64,
    /// Log operations not yet durable: (ready number, log end after the
    /// operation, highest zxid the operation left untouched).
    pub unsynced: VecDeque<(u64, Zxid, Zxid)>,
    /// The caller asked for [`Observation`]s.
    pub observing: bool,
    /// Observations not taken yet.
    pub observed: Vec<Observation>,
}

impl Core {
    pub(crate) fn id(&self) -> PeerId {
        self.cfg.id
    }

    /// Sends at once, unless an earlier message still waits for an fsync:
    /// per-peer FIFO order must survive the caller's two send queues.
    pub(crate) fn send(&mut self, to: PeerId, msg: Message) {
        if !self.out.send_after_persist.is_empty() || self.defer_through > self.advanced {
            self.out.send_after_persist.push((to, msg));
        } else {
            self.out.messages.push((to, msg));
        }
    }

    /// Breaks the stream to `peer`: what was queued for it is dropped, and
    /// the caller closes the connection before sending this `Ready`.
    pub(crate) fn reset_stream(&mut self, peer: PeerId) {
        self.out.messages.retain(|(to, _)| *to != peer);
        self.out.send_after_persist.retain(|(to, _)| *to != peer);
        if !self.out.reset.contains(&peer) {
            self.out.reset.push(peer);
        }
    }

    /// Sends once everything persisted so far is durable.
    pub(crate) fn send_after_persist(&mut self, to: PeerId, msg: Message) {
        self.out.send_after_persist.push((to, msg));
    }

    /// Records a storage operation; the in-memory log must already reflect it.
    pub(crate) fn persist(&mut self, op: Persist) {
        let floor = match &op {
            Persist::Append(e) => Some(Zxid(e.zxid.0.saturating_sub(1))),
            Persist::Truncate { to } => Some(*to),
            Persist::InstallSnapshot { .. } => Some(Zxid::ZERO),
            Persist::AcceptedEpoch(_)
            | Persist::CurrentEpoch(_)
            | Persist::SnapshotChunk { .. } => None,
        };
        if let Some(floor) = floor {
            // Nothing above `floor` can be trusted durable until this
            // operation itself is.
            self.durable = self.durable.min(floor);
            self.unsynced
                .push_back((self.next_ready, self.log.last(), floor));
        }
        self.out.persist.push(op);
    }

    /// Records an observation, if the caller asked for them.
    pub(crate) fn observe(&mut self, make: impl FnOnce() -> Observation) {
        if self.observing {
            self.observed.push(make());
        }
    }

    pub(crate) fn append(&mut self, entry: Entry) {
        self.observe(|| Observation::Logged {
            zxid: entry.zxid,
            payload: entry.payload.clone(),
        });
        self.log.append(entry.clone());
        self.persist(Persist::Append(entry));
    }

    /// Storage confirmed every operation of `Ready`s up to `number`.
    pub(crate) fn mark_durable(&mut self, number: u64) {
        let number = number.min(self.next_ready.saturating_sub(1));
        if number <= self.advanced {
            return;
        }
        self.advanced = number;
        let before = self.durable;
        while let Some(&(n, end, _)) = self.unsynced.front() {
            if n > number {
                break;
            }
            self.durable = end;
            self.unsynced.pop_front();
        }
        for &(_, _, floor) in &self.unsynced {
            self.durable = self.durable.min(floor);
        }
        self.durable = self.durable.min(self.log.last());
        if self.durable > before && !self.cfg.is_observer() {
            let upto = self.durable;
            self.observe(|| Observation::Acknowledged {
                after: before,
                upto,
            });
        }
    }

    /// Entries both committed and durable here that the caller has not
    /// applied yet.
    pub(crate) fn applicable(&self) -> Zxid {
        self.commit.min(self.durable).min(self.log.last())
    }

    /// Moves newly applicable entries into `Ready::committed`, at most
    /// [`MAX_COMMITTED_PER_READY`] at a time (after a restart they are read
    /// from the caller's log; the next `Ready` carries the rest).
    pub(crate) fn emit_committed(&mut self, leader: bool) {
        let upto = self.applicable();
        if upto <= self.applied || self.halted {
            return;
        }
        let entries = match self.log.range(self.applied, upto, MAX_COMMITTED_PER_READY) {
            Ok(e) if !e.is_empty() => e,
            Ok(_) => {
                self.halt(ZabError::Storage(format!(
                    "no entries after {:?} up to {upto:?} in the log",
                    self.applied
                )));
                return;
            }
            Err(e) => {
                self.halt(e);
                return;
            }
        };
        let last = entries.last().map_or(upto, |e| e.zxid);
        let start = self.out.committed.len();
        self.out.committed.extend(entries);
        #[cfg(any(test, feature = "sim"))]
        if leader && self.cfg.faults.commit_out_of_order {
            self.out.committed[start..].reverse();
        }
        let _ = (leader, start);
        self.applied = last;
        self.log.trim(self.applied, self.cfg.diff_window);
    }

    fn halt(&mut self, e: ZabError) {
        self.halted = true;
        self.out.failed = Some(e);
    }

    pub(crate) fn set_role(&mut self, role: Role) {
        if self.role != role {
            self.role = role;
            self.role_changed = true;
        }
    }
}
