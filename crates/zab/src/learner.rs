//! The learner side (followers and observers) of discovery, synchronisation
//! and broadcast: ZooKeeper's `Learner.registerWithLeader`,
//! `Learner.syncWithLeader`, `Follower.processPacket` and
//! `Observer.processPacket`.
//!
//! 1. Discovery: send FOLLOWERINFO (OBSERVERINFO) with the accepted epoch;
//!    on LEADERINFO of a later epoch, store it as accepted epoch and answer
//!    ACKEPOCH with the current epoch once that is durable; of the same
//!    epoch, answer ACKEPOCH with no epoch (ZooKeeper's -1); of an earlier
//!    one, give up.
//! 2. Synchronisation: one of DIFF / TRUNC / SNAP, then the proposals that
//!    complete the leader's history, then NEWLEADER: store the new current
//!    epoch and acknowledge once everything is durable.
//! 3. Broadcast: log each PROPOSAL and acknowledge it once durable; COMMIT
//!    moves the commit point; observers get INFORM (proposal and commit at
//!    once). UPTODATE marks the learner as serving. Any PING is answered.
//!
//! Anything out of place (a gap in the proposals, a commit beyond the log, a
//! packet of the wrong phase) is a protocol error: the learner goes back to
//! LOOKING, as ZooKeeper's learner does when its connection throws.

use crate::core::{reject, Core, Handled, Next};
use crate::{Entry, Message, Observation, PeerId, Persist, SyncKind, Zxid};

/// Election rounds (`election_ticks`) a learner waits for any answer to FOLLOWERINFO before
/// it looks again (see [`Learner::tick`]).
const UNANSWERED_ROUNDS: u64 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Discovery,
    Sync {
        header: bool,
    },
    /// Receiving the snapshot a SNAP announced: `received` bytes so far.
    Snapshot {
        zxid: Zxid,
        received: u64,
    },
    Broadcast,
}

#[derive(Debug)]
pub(crate) struct Learner {
    pub leader: PeerId,
    phase: Phase,
    since: u64,
    last_heard: u64,
    pub epoch: u32,
    pub up_to_date: bool,
    /// The tick of the last PING sent while receiving a snapshot.
    progress_ping: Option<u64>,
}

impl Learner {
    pub(crate) fn start(core: &mut Core, leader: PeerId) -> Learner {
        core.send(
            leader,
            Message::FollowerInfo {
                accepted_epoch: core.accepted_epoch,
                observer: core.cfg.is_observer(),
            },
        );
        Learner {
            leader,
            phase: Phase::Discovery,
            since: core.now,
            last_heard: core.now,
            epoch: 0,
            up_to_date: false,
            progress_ping: None,
        }
    }

    /// `initLimit` until NEWLEADER, `syncLimit` of silence after it. A leader that has not
    /// answered FOLLOWERINFO at all within a few election rounds may never have seen it (it
    /// arrived before that server was looking for learners): look again, which follows the
    /// same leader at once if it leads, with a fresh FOLLOWERINFO, instead of waiting out
    /// initLimit.
    pub(crate) fn tick(&mut self, core: &mut Core) -> Next {
        let silent = core.now.saturating_sub(self.last_heard);
        let unanswered = self.phase == Phase::Discovery
            && self.last_heard == self.since
            && silent > UNANSWERED_ROUNDS * core.cfg.election_ticks.max(1)
            && silent < core.cfg.init_limit;
        let expired = match self.phase {
            Phase::Broadcast => silent > core.cfg.sync_limit,
            _ => core.now.saturating_sub(self.since) > core.cfg.init_limit,
        };
        if expired || unanswered {
            Next::Look
        } else {
            Next::Stay
        }
    }

    fn ack(&self, core: &mut Core, zxid: Zxid) {
        #[cfg(any(test, feature = "sim"))]
        if core.cfg.faults.ack_before_durable {
            core.out.messages.push((self.leader, Message::Ack { zxid }));
            return;
        }
        // ACKs are cumulative: one per Ready is enough.
        if let Some((to, Message::Ack { zxid: last })) = core.out.send_after_persist.last_mut() {
            if *to == self.leader && last.epoch() == zxid.epoch() && last.counter() != 0 {
                *last = zxid;
                return;
            }
        }
        core.send_after_persist(self.leader, Message::Ack { zxid });
    }

    pub(crate) fn on_message(&mut self, core: &mut Core, from: PeerId, msg: Message) -> Handled {
        if from != self.leader {
            return Ok(Next::Stay);
        }
        self.last_heard = core.now;
        if let Message::Ping = msg {
            if self.phase != Phase::Discovery {
                core.send(self.leader, Message::Ping);
            }
            return Ok(Next::Stay);
        }
        match self.phase {
            Phase::Discovery => self.discovery(core, msg),
            Phase::Sync { header } => self.sync(core, header, msg),
            Phase::Snapshot { zxid, received } => self.snapshot(core, zxid, received, msg),
            Phase::Broadcast => self.broadcast(core, msg),
        }
    }

    fn discovery(&mut self, core: &mut Core, msg: Message) -> Handled {
        // Anything before LEADERINFO belongs to an older connection.
        let Message::LeaderInfo { epoch } = msg else {
            return Ok(Next::Stay);
        };
        if core.cfg.is_reserved_epoch(epoch) {
            // Accepting it would leave this server no epoch to lead or
            // follow after it.
            return reject(
                Next::Look,
                format!("LEADERINFO with the reserved epoch {epoch}"),
            );
        }
        let current_epoch = if epoch > core.accepted_epoch {
            core.accepted_epoch = epoch;
            core.persist(Persist::AcceptedEpoch(epoch));
            Some(core.current_epoch)
        } else if epoch == core.accepted_epoch {
            None
        } else {
            return reject(
                Next::Look,
                format!(
                    "leader's epoch {epoch} is below our accepted epoch {}",
                    core.accepted_epoch
                ),
            );
        };
        self.epoch = epoch;
        self.phase = Phase::Sync { header: false };
        let ack = Message::AckEpoch {
            current_epoch,
            last_zxid: core.log.last(),
        };
        #[cfg(any(test, feature = "sim"))]
        if core.cfg.faults.ackepoch_before_durable {
            core.out.messages.push((self.leader, ack));
            return Ok(Next::Stay);
        }
        core.send_after_persist(self.leader, ack);
        Ok(Next::Stay)
    }

    fn sync(&mut self, core: &mut Core, header: bool, msg: Message) -> Handled {
        match (header, msg) {
            (false, Message::Diff { .. }) => core.last_sync = Some(SyncKind::Diff),
            (false, Message::Trunc { zxid }) => {
                if zxid > core.log.last() || zxid < core.applied {
                    return reject(Next::Look, format!("TRUNC to {zxid:?} outside our log"));
                }
                // Everything after the applied point is in memory, so the
                // log knows whether we hold `zxid` (see `follows`).
                let held = match core.log.floor(zxid) {
                    Ok(f) => f == Some(zxid),
                    Err(e) => return reject(Next::Look, format!("TRUNC: {e}")),
                };
                if !held {
                    return reject(
                        Next::Look,
                        format!("TRUNC to {zxid:?}, which we do not hold"),
                    );
                }
                core.log.truncate(zxid);
                core.commit = core.commit.min(zxid).max(core.applied);
                core.persist(Persist::Truncate { to: zxid });
                core.last_sync = Some(SyncKind::Trunc);
            }
            (false, Message::Snap { zxid }) => {
                if zxid < core.applied {
                    return reject(
                        Next::Look,
                        format!("SNAP at {zxid:?} behind what we applied"),
                    );
                }
                self.phase = Phase::Snapshot { zxid, received: 0 };
                core.last_sync = Some(SyncKind::Snap);
                return Ok(Next::Stay);
            }
            (true, Message::Proposal { zxid, payload }) => {
                if !follows(core.log.last(), zxid, self.epoch) {
                    return reject(
                        Next::Look,
                        format!(
                            "sync proposal {zxid:?} does not follow {:?}",
                            core.log.last()
                        ),
                    );
                }
                core.append(Entry { zxid, payload });
            }
            (true, Message::NewLeader { zxid }) => {
                if zxid != Zxid::new(self.epoch, 0) {
                    return reject(Next::Look, format!("NEWLEADER {zxid:?} for another epoch"));
                }
                core.current_epoch = self.epoch;
                core.vote.peer_epoch = self.epoch;
                core.persist(Persist::CurrentEpoch(self.epoch));
                core.send_after_persist(self.leader, Message::Ack { zxid });
                self.phase = Phase::Broadcast;
                return Ok(Next::Stay);
            }
            (_, other) => {
                return reject(
                    Next::Look,
                    format!("{} during synchronisation", other.kind()),
                );
            }
        }
        self.phase = Phase::Sync { header: true };
        Ok(Next::Stay)
    }

    /// The chunks of a SNAP, stored as they come; the last one installs the
    /// snapshot (ZooKeeper's `syncWithLeader` deserialises the whole
    /// snapshot from the stream before it reads on).
    fn snapshot(&mut self, core: &mut Core, zxid: Zxid, received: u64, msg: Message) -> Handled {
        let Message::SnapChunk { data, last } = msg else {
            return reject(Next::Look, format!("{} inside the SNAP stream", msg.kind()));
        };
        let len = data.len() as u64;
        // A snapshot in progress is no stall: initLimit counts from the last
        // chunk, as ZooKeeper's learner socket times out a read, not the
        // whole transfer.
        self.since = core.now;
        // The leader's PINGs wait behind the snapshot on our stream, so we
        // show we are alive: one PING per tick while chunks arrive.
        if self.progress_ping != Some(core.now) {
            self.progress_ping = Some(core.now);
            core.send(self.leader, Message::Ping);
        }
        core.persist(Persist::SnapshotChunk {
            zxid,
            offset: received,
            data,
        });
        if !last {
            self.phase = Phase::Snapshot {
                zxid,
                received: received + len,
            };
            return Ok(Next::Stay);
        }
        core.log.reset(zxid);
        core.commit = zxid;
        core.applied = zxid;
        core.persist(Persist::InstallSnapshot { zxid });
        self.phase = Phase::Sync { header: true };
        Ok(Next::Stay)
    }

    fn broadcast(&mut self, core: &mut Core, msg: Message) -> Handled {
        let observer = core.cfg.is_observer();
        match msg {
            Message::Proposal { zxid, payload } if !observer => {
                self.expect_next(core, zxid)?;
                // Logged first: the observer dates the arrival by the payload's time.
                core.append(Entry { zxid, payload });
                if self.up_to_date {
                    core.observe(|| Observation::ProposalReceived { zxid });
                }
                self.ack(core, zxid);
            }
            Message::Inform { zxid, payload } if observer => {
                self.expect_next(core, zxid)?;
                core.append(Entry { zxid, payload });
                if self.up_to_date {
                    let after = core.commit;
                    core.observe(|| Observation::CommitReceived {
                        after,
                        upto: zxid,
                        proposals: 1,
                    });
                }
                core.commit = zxid;
            }
            Message::Commit { zxid } => {
                if zxid > core.log.last() {
                    return reject(Next::Look, format!("COMMIT {zxid:?} beyond our log"));
                }
                let after = core.commit;
                if self.up_to_date && zxid > after {
                    // Committed entries after the applied point are in memory.
                    let proposals = core.log.count_in_memory(after, zxid);
                    core.observe(|| Observation::CommitReceived {
                        after,
                        upto: zxid,
                        proposals,
                    });
                }
                core.commit = core.commit.max(zxid);
            }
            Message::UpToDate => self.up_to_date = true,
            other => {
                return reject(Next::Look, format!("unexpected {}", other.kind()));
            }
        }
        Ok(Next::Stay)
    }

    /// FIFO links make the leader's stream gap-free: the next proposal is the
    /// successor of our last one in the leader's epoch.
    fn expect_next(&self, core: &Core, zxid: Zxid) -> Result<(), crate::core::Rejected> {
        if core.log.last().successor_in(self.epoch) == Some(zxid) {
            Ok(())
        } else {
            reject(
                Next::Look,
                format!("proposal {zxid:?} does not follow {:?}", core.log.last()),
            )
            .map(|_| ())
        }
    }
}

/// May a synchronisation stream carry `next` right after `last`? The next
/// counter of the same epoch, or counter 1 of a later epoch no later than the
/// leader's.
///
/// The leader TRUNCates a learner to the last zxid they share even across an
/// epoch boundary, where ZooKeeper's `LearnerHandler.queueCommittedProposals`
/// falls back to a SNAP (its learner cannot truncate its transaction log
/// across epochs; `Persist::Truncate` can). We keep the TRUNC, which moves no
/// state, and the learner checks the stream instead: a correct leader's log
/// is a chain in which every epoch's proposals run 1, 2, 3, ... (a leader
/// numbers them so, a follower logs them in order, a synchronisation sends a
/// contiguous stretch of the leader's log after a point the learner holds),
/// so a correct stream always passes, while one that would leave a hole or a
/// foreign entry in the log (a TRUNC to a point we do not hold, a skipped
/// proposal) is refused and the learner goes LOOKING, as it does for a gap in
/// the broadcast.
fn follows(last: Zxid, next: Zxid, leader_epoch: u32) -> bool {
    next.epoch() >= last.epoch()
        && next.epoch() <= leader_epoch
        && last.successor_in(next.epoch()) == Some(next)
}
