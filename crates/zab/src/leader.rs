//! The leader side of discovery, synchronisation and broadcast: ZooKeeper's
//! `Leader.lead` and one `LearnerHandler` per learner, as one state machine.
//!
//! 1. Discovery (`getEpochToPropose`): gather FOLLOWERINFO until a quorum of
//!    voters (the leader included) is connected; the new epoch is one more
//!    than every accepted epoch seen. Store it as accepted epoch, then send
//!    LEADERINFO to every connected learner (and at once to later ones).
//! 2. `waitForEpochAck`: gather ACKEPOCH from a quorum; a learner whose
//!    (current epoch, last zxid) is more recent than ours is dropped, one
//!    without a current epoch (it had accepted this epoch already) is
//!    synchronised but not counted. Then store the new current epoch; the
//!    leader's log is now the history.
//! 3. Synchronisation (`syncFollower`), per learner: DIFF when its last zxid
//!    is in our log window, TRUNC to the last zxid we share when it holds
//!    proposals we do not, SNAP when it is behind the window (the caller
//!    serialises its state). The proposals that complete the history follow,
//!    then NEWLEADER; from then on the learner gets every new proposal.
//! 4. `waitForNewLeaderAck`: once a quorum (the leader durable included) has
//!    acknowledged NEWLEADER the leader is established: the whole history is
//!    committed, every synchronised learner gets COMMIT and UPTODATE.
//! 5. Broadcast: PROPOSAL to followers, ACKs are cumulative, a zxid commits
//!    once a quorum has acknowledged it or something after it; COMMIT to
//!    followers, INFORM to observers, always in zxid order.
//!
//! Timeouts: the whole of 1-4 must fit in `init_limit` ticks, or the leader
//! goes back to LOOKING. Afterwards a learner silent for `sync_limit` ticks,
//! or sitting on an unacknowledged proposal that long, is dropped; a leader
//! left without a quorum of synchronised voters steps down.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;

use crate::core::{reject, Core, Handled, Next, Rejected, Why};
use crate::{
    Entry, Message, Observation, PeerId, Persist, SnapshotRequest, SyncKind, ZabError, Zxid,
};

mod learners;
mod sync_plan;

pub use learners::{LearnerCounts, LearnerInfo};
use sync_plan::{plan_sync, Plan};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    Discovery,
    EpochAck,
    NewLeader,
    Established,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// FOLLOWERINFO received, the epoch is not decided yet.
    Connected,
    /// LEADERINFO sent, waiting for ACKEPOCH.
    EpochSent,
    /// ACKEPOCH received: to be synchronised from this last zxid.
    NeedSync(Zxid),
    /// Synchronised up to `synced_to` and NEWLEADER sent; gets every new
    /// proposal (followers) or commit (observers).
    Forwarding {
        newleader_acked: bool,
        synced_to: Zxid,
    },
}

#[derive(Debug)]
struct LearnerPeer {
    observer: bool,
    stage: Stage,
    last_heard: u64,
    /// Highest zxid it acknowledged as durable.
    acked: Zxid,
    /// Highest zxid sent to it.
    sent: Zxid,
    /// Proposals sent after NEWLEADER and not yet acknowledged, with the
    /// tick they left.
    unacked: VecDeque<(Zxid, u64)>,
    /// Being synchronised this way (header sent, NEWLEADER not acknowledged).
    syncing: Option<SyncKind>,
}

impl LearnerPeer {
    fn is_synced_voter(&self) -> bool {
        !self.observer
            && matches!(
                self.stage,
                Stage::Forwarding {
                    newleader_acked: true,
                    ..
                }
            )
    }
}

#[derive(Debug)]
pub(crate) struct Leader {
    pub epoch: u32,
    pub phase: Phase,
    started: u64,
    connecting: BTreeSet<PeerId>,
    electing: BTreeSet<PeerId>,
    newleader_acks: BTreeSet<PeerId>,
    /// The `Ready` that stores the new current epoch.
    epoch_ready: u64,
    history_last: Zxid,
    learners: BTreeMap<PeerId, LearnerPeer>,
    last_ping: u64,
    rollover: bool,
    /// The voters that voted for us (see [`Leader::voter_looking`]).
    vote_set: BTreeSet<PeerId>,
}

/// The epoch a leader proposes over `accepted`, if there is one. Never the
/// same again: an epoch two leaders could both establish would let them
/// hand out the same zxids.
fn next_epoch(core: &Core, accepted: u32) -> Result<u32, ZabError> {
    #[cfg(any(test, feature = "sim"))]
    if core.cfg.faults.saturate_epochs {
        return Ok(accepted.saturating_add(1));
    }
    let _ = core;
    accepted
        .checked_add(1)
        .filter(|&e| e <= Zxid::MAX_EPOCH)
        .ok_or(ZabError::EpochsExhausted {
            accepted_epoch: accepted,
        })
}

/// LEADERINFO leaves once the epoch it proposes is durable as our accepted
/// epoch: it is a promise to lead no other epoch below it.
fn send_leader_info(core: &mut Core, to: PeerId, epoch: u32) {
    let info = Message::LeaderInfo { epoch };
    #[cfg(any(test, feature = "sim"))]
    if core.cfg.faults.leaderinfo_before_durable {
        core.out.messages.push((to, info));
        return;
    }
    core.send_after_persist(to, info);
}

impl Leader {
    /// Starts leading, or refuses to when our accepted epoch has no
    /// successor.
    pub(crate) fn start(core: &mut Core) -> Result<(Leader, Next), ZabError> {
        let mut l = Leader {
            epoch: next_epoch(core, core.accepted_epoch)?,
            phase: Phase::Discovery,
            started: core.now,
            connecting: BTreeSet::from([core.id()]),
            electing: BTreeSet::new(),
            newleader_acks: BTreeSet::new(),
            epoch_ready: u64::MAX,
            history_last: Zxid::ZERO,
            learners: BTreeMap::new(),
            last_ping: core.now,
            rollover: false,
            vote_set: BTreeSet::new(),
        };
        let next = l.check_epoch_quorum(core);
        Ok((l, next))
    }

    /// The voters whose votes elected us.
    pub(crate) fn set_vote_set(&mut self, voters: BTreeSet<PeerId>) {
        self.vote_set = voters;
    }

    /// A voter sent a LOOKING notification (ZooKeeper's `Leader.reportLookingSid`): one
    /// that voted for us and changed its mind while we still wait for the quorum of our
    /// epoch, longer than `max_wait_for_epoch`, makes us quit leading.
    pub(crate) fn voter_looking(&mut self, core: &mut Core, voter: PeerId) -> Next {
        let Some(max) = core.cfg.max_wait_for_epoch else {
            return Next::Stay;
        };
        let waited = core.now.saturating_sub(self.started);
        if self.phase != Phase::Discovery || !self.vote_set.contains(&voter) || waited <= max {
            return Next::Stay;
        }
        core.observe(|| Observation::QuitLeading { voter });
        Next::Look
    }

    pub(crate) fn is_established(&self) -> bool {
        self.phase == Phase::Established
    }

    fn check_epoch_quorum(&mut self, core: &mut Core) -> Next {
        if self.phase != Phase::Discovery || !core.cfg.voters.is_quorum(&self.connecting) {
            return Next::Stay;
        }
        self.phase = Phase::EpochAck;
        core.accepted_epoch = self.epoch;
        core.persist(Persist::AcceptedEpoch(self.epoch));
        for (&id, p) in self.learners.iter_mut() {
            if p.stage == Stage::Connected {
                send_leader_info(core, id, self.epoch);
                p.stage = Stage::EpochSent;
            }
        }
        self.electing.insert(core.id());
        self.check_epoch_ack_quorum(core)
    }

    fn check_epoch_ack_quorum(&mut self, core: &mut Core) -> Next {
        if self.phase != Phase::EpochAck || !core.cfg.voters.is_quorum(&self.electing) {
            return Next::Stay;
        }
        self.phase = Phase::NewLeader;
        #[allow(unused_mut)]
        let mut store = true;
        #[cfg(any(test, feature = "sim"))]
        if core.cfg.faults.leader_skips_current_epoch {
            store = false;
        }
        if store {
            core.current_epoch = self.epoch;
            core.persist(Persist::CurrentEpoch(self.epoch));
        }
        self.epoch_ready = core.next_ready;
        self.history_last = core.log.last();
        // Our settled vote now names the epoch we lead, so that every member
        // of it answers LOOKING servers with the same (leader, peer epoch)
        // whatever round it joined in; see `election`.
        core.vote.peer_epoch = self.epoch;
        self.check_established(core)
    }

    /// `waitForNewLeaderAck` done? Our own acknowledgement is the current
    /// epoch and the history being durable.
    pub(crate) fn check_established(&mut self, core: &mut Core) -> Next {
        if self.phase != Phase::NewLeader
            || core.advanced < self.epoch_ready
            || core.durable < self.history_last
        {
            return Next::Stay;
        }
        let mut acks = self.newleader_acks.clone();
        acks.insert(core.id());
        if !core.cfg.voters.is_quorum(&acks) {
            return Next::Stay;
        }
        self.phase = Phase::Established;
        core.commit = core.commit.max(self.history_last);
        let commit = core.commit;
        for (&id, p) in self.learners.iter_mut() {
            if let Stage::Forwarding {
                newleader_acked: true,
                ..
            } = p.stage
            {
                core.send(
                    id,
                    Message::Commit {
                        zxid: commit.min(p.sent),
                    },
                );
                core.send(id, Message::UpToDate);
            }
        }
        self.try_commit(core)
    }

    pub(crate) fn on_message(&mut self, core: &mut Core, from: PeerId, msg: Message) -> Handled {
        if let Message::FollowerInfo {
            accepted_epoch,
            observer,
        } = msg
        {
            return self.on_follower_info(core, from, accepted_epoch, observer);
        }
        let Some(p) = self.learners.get_mut(&from) else {
            // Not (or no longer) one of our learners: a stale packet.
            return Ok(Next::Stay);
        };
        p.last_heard = core.now;
        match msg {
            Message::AckEpoch {
                current_epoch,
                last_zxid,
            } => {
                if p.stage != Stage::EpochSent {
                    return Ok(Next::Stay);
                }
                if let Some(c) = current_epoch {
                    if (c, last_zxid) > (core.current_epoch, core.log.last()) {
                        self.drop_learner(core, from);
                        return reject(Next::Stay, "follower is ahead of the leader");
                    }
                }
                p.stage = Stage::NeedSync(last_zxid);
                // Only an ACKEPOCH that carries an epoch counts: `None`
                // (ZooKeeper's -1) comes from a learner that had accepted
                // this epoch before, perhaps from another leader, so it is no
                // promise to us (`Leader.waitForEpochAck`). The learner is
                // synchronised all the same.
                #[allow(unused_mut)]
                let mut counts = current_epoch.is_some();
                #[cfg(any(test, feature = "sim"))]
                if core.cfg.faults.count_ackepoch_without_epoch {
                    counts = true;
                }
                if self.phase == Phase::EpochAck && !p.observer && counts {
                    self.electing.insert(from);
                    return Ok(self.check_epoch_ack_quorum(core));
                }
                Ok(Next::Stay)
            }
            Message::Ack { zxid } => match p.stage {
                Stage::Forwarding {
                    newleader_acked: false,
                    synced_to,
                } => {
                    if zxid != Zxid::new(self.epoch, 0) {
                        return Ok(Next::Stay);
                    }
                    p.stage = Stage::Forwarding {
                        newleader_acked: true,
                        synced_to,
                    };
                    p.acked = synced_to;
                    if let Some(kind) = p.syncing.take() {
                        let in_progress = self.syncs_in_progress(kind);
                        core.observe(|| Observation::SyncEnded {
                            learner: from,
                            kind,
                            in_progress,
                        });
                    }
                    let Some(p) = self.learners.get_mut(&from) else {
                        return Ok(Next::Stay);
                    };
                    if self.phase == Phase::Established {
                        let commit = core.commit.min(p.sent);
                        core.send(from, Message::Commit { zxid: commit });
                        core.send(from, Message::UpToDate);
                        Ok(self.try_commit(core))
                    } else {
                        if !p.observer {
                            self.newleader_acks.insert(from);
                        }
                        Ok(self.check_established(core))
                    }
                }
                Stage::Forwarding {
                    newleader_acked: true,
                    ..
                } if !p.observer => {
                    if zxid > p.sent {
                        self.drop_learner(core, from);
                        return reject(
                            Next::Stay,
                            format!("ACK {zxid:?} for a proposal never sent"),
                        );
                    }
                    p.acked = p.acked.max(zxid);
                    while p.unacked.front().is_some_and(|&(z, _)| z <= zxid) {
                        p.unacked.pop_front();
                    }
                    Ok(self.try_commit(core))
                }
                _ => Ok(Next::Stay),
            },
            Message::Ping => Ok(Next::Stay),
            other => {
                self.drop_learner(core, from);
                reject(
                    Next::Stay,
                    format!("unexpected {} from a learner", other.kind()),
                )
            }
        }
    }

    fn on_follower_info(
        &mut self,
        core: &mut Core,
        from: PeerId,
        accepted: u32,
        observer: bool,
    ) -> Handled {
        if observer != core.cfg.observers.contains(&from) {
            return reject(Next::Stay, "learner type does not match the configuration");
        }
        if core.cfg.is_reserved_epoch(accepted) {
            return reject(
                Next::Stay,
                format!("FOLLOWERINFO with the reserved epoch {accepted}"),
            );
        }
        let mut peer = LearnerPeer {
            observer,
            stage: Stage::Connected,
            last_heard: core.now,
            acked: Zxid::ZERO,
            sent: Zxid::ZERO,
            unacked: VecDeque::new(),
            syncing: None,
        };
        if self.phase == Phase::Discovery {
            if accepted >= self.epoch {
                // A learner that accepted the last epoch leaves us none to
                // propose: we cannot lead.
                self.epoch = next_epoch(core, accepted).map_err(|e| Rejected {
                    next: Next::Look,
                    why: Why::Error(e),
                })?;
            }
            if !observer {
                self.connecting.insert(from);
            }
            self.learners.insert(from, peer);
            return Ok(self.check_epoch_quorum(core));
        }
        if accepted > self.epoch {
            // It accepted a later epoch from a leader that never established
            // it, and will refuse ours for as long as we lead (ZooKeeper's
            // learner throws and retries forever: the runtime's simulator
            // found that stall). Step down: the next election proposes an
            // epoch above it. Bounded: epochs only grow.
            return reject(
                Next::Look,
                format!(
                    "learner accepted epoch {accepted}, beyond ours ({}): stepping down",
                    self.epoch
                ),
            );
        }
        // The epoch is settled: a late learner gets it at once.
        send_leader_info(core, from, self.epoch);
        peer.stage = Stage::EpochSent;
        self.learners.insert(from, peer);
        Ok(Next::Stay)
    }

    /// Builds the synchronisation of every learner waiting for one. Runs when
    /// the `Ready` is taken, after the committed entries were handed out, so
    /// that a SNAP is taken exactly at `core.applied`.
    pub(crate) fn sync_learners(&mut self, core: &mut Core) {
        if self.phase < Phase::NewLeader {
            return;
        }
        let ids: Vec<PeerId> = self
            .learners
            .iter()
            .filter(|(_, p)| matches!(p.stage, Stage::NeedSync(_)))
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            let Some(&LearnerPeer {
                stage: Stage::NeedSync(peer_last),
                observer,
                ..
            }) = self.learners.get(&id)
            else {
                continue;
            };
            let target = if observer && self.phase == Phase::Established {
                core.commit
            } else {
                core.log.last()
            };
            let snap = Message::Snap { zxid: core.applied };
            let (header, entries) = match plan_sync(core, peer_last, target) {
                Plan::Log(header, entries) => (header, entries),
                Plan::Snap => match core.log.range(core.applied, target, usize::MAX) {
                    Ok(entries) => {
                        core.out.snapshot.push(SnapshotRequest {
                            to: id,
                            zxid: core.applied,
                        });
                        (snap, entries)
                    }
                    Err(_) => {
                        self.drop_learner(core, id);
                        continue;
                    }
                },
                Plan::Drop => {
                    self.drop_learner(core, id);
                    continue;
                }
            };
            let kind = match header {
                Message::Snap { .. } => SyncKind::Snap,
                Message::Trunc { .. } => SyncKind::Trunc,
                _ => SyncKind::Diff,
            };
            if let Some(p) = self.learners.get_mut(&id) {
                p.syncing = Some(kind);
            }
            let in_progress = self.syncs_in_progress(kind);
            core.observe(|| Observation::SyncBegun {
                learner: id,
                kind,
                in_progress,
            });
            core.send(id, header);
            for e in entries {
                core.send(
                    id,
                    Message::Proposal {
                        zxid: e.zxid,
                        payload: e.payload,
                    },
                );
            }
            core.send(
                id,
                Message::NewLeader {
                    zxid: Zxid::new(self.epoch, 0),
                },
            );
            let Some(p) = self.learners.get_mut(&id) else {
                continue;
            };
            p.stage = Stage::Forwarding {
                newleader_acked: false,
                synced_to: target,
            };
            p.sent = target;
        }
    }

    /// Learners being synchronised in `kind`'s class: SNAP, or DIFF and
    /// TRUNC (ZooKeeper's snap and diff sync throttlers).
    fn syncs_in_progress(&self, kind: SyncKind) -> usize {
        let snap = kind == SyncKind::Snap;
        self.learners
            .values()
            .filter(|p| p.syncing.is_some_and(|k| (k == SyncKind::Snap) == snap))
            .count()
    }

    pub(crate) fn has_pending_sync(&self) -> bool {
        self.phase >= Phase::NewLeader
            && self
                .learners
                .values()
                .any(|p| matches!(p.stage, Stage::NeedSync(_)))
    }

    /// The zxid the next proposal gets, or why there is none.
    pub(crate) fn next_zxid(&self, core: &Core) -> Result<Zxid, ZabError> {
        if self.phase != Phase::Established {
            return Err(ZabError::NotLeader { leader: None });
        }
        let epoch = self.epoch;
        let limit = core.cfg.counter_limit();
        match core.log.last().successor_in(epoch) {
            Some(z) if !self.rollover && z.counter() <= limit => Ok(z),
            _ => Err(ZabError::ZxidRollover { epoch }),
        }
    }

    pub(crate) fn propose(
        &mut self,
        core: &mut Core,
        build: impl FnOnce(Zxid) -> Bytes,
    ) -> Result<Zxid, ZabError> {
        let next = match self.next_zxid(core) {
            Ok(z) => z,
            Err(e) => {
                if matches!(e, ZabError::ZxidRollover { .. }) {
                    self.rollover = true;
                }
                return Err(e);
            }
        };
        let payload = build(next);
        core.append(Entry {
            zxid: next,
            payload: payload.clone(),
        });
        for (&id, p) in self.learners.iter_mut() {
            if !p.observer && matches!(p.stage, Stage::Forwarding { .. }) {
                core.send(
                    id,
                    Message::Proposal {
                        zxid: next,
                        payload: payload.clone(),
                    },
                );
                p.sent = next;
                p.unacked.push_back((next, core.now));
            }
        }
        Ok(next)
    }

    /// Commits the highest zxid a quorum has acknowledged (ACKs are
    /// cumulative: a follower logs in order), and tells the learners.
    pub(crate) fn try_commit(&mut self, core: &mut Core) -> Next {
        if self.phase != Phase::Established {
            return Next::Stay;
        }
        let mut acks: Vec<(Zxid, PeerId)> = vec![(core.durable.min(core.log.last()), core.id())];
        acks.extend(
            self.learners
                .iter()
                .filter(|(_, p)| p.is_synced_voter())
                .map(|(&id, p)| (p.acked, id)),
        );
        acks.sort_unstable_by(|a, b| b.cmp(a));
        let mut holders = BTreeSet::new();
        let mut candidate = None;
        for (z, id) in acks {
            holders.insert(id);
            if core.cfg.voters.is_quorum(&holders) {
                candidate = Some(z);
                break;
            }
        }
        if let Some(c) = candidate.filter(|&c| c > core.commit) {
            let old = core.commit;
            core.commit = c;
            // Only this leader's own proposals (ZooKeeper times those that carry a request):
            // the earlier epochs' entries it committed on taking the lead are not.
            let own_from = Zxid::new(self.epoch, 0);
            if c > own_from {
                core.observe(|| Observation::QuorumAcked {
                    after: old.max(own_from),
                    upto: c,
                });
            }
            let mut unreadable = Vec::new();
            for (&id, p) in self.learners.iter_mut() {
                if !matches!(p.stage, Stage::Forwarding { .. }) {
                    continue;
                }
                if p.observer {
                    let Ok(entries) = core.log.range(old.max(p.sent), c, usize::MAX) else {
                        unreadable.push(id);
                        continue;
                    };
                    for e in entries {
                        p.sent = e.zxid;
                        core.send(
                            id,
                            Message::Inform {
                                zxid: e.zxid,
                                payload: e.payload,
                            },
                        );
                    }
                } else {
                    core.send(id, Message::Commit { zxid: c });
                }
            }
            for id in unreadable {
                self.drop_learner(core, id);
            }
        }
        self.check_rollover(core)
    }

    /// After a refused rollover, step down once everything proposed is
    /// committed, so the next leader opens a new epoch.
    fn check_rollover(&self, core: &Core) -> Next {
        if self.rollover && core.commit >= core.log.last() {
            Next::Look
        } else {
            Next::Stay
        }
    }

    pub(crate) fn disconnected(&mut self, peer: PeerId) {
        self.learners.remove(&peer);
    }

    /// Forgets a learner and breaks its stream (ZooKeeper's
    /// `LearnerHandler.shutdown` closes the socket), so it re-registers.
    fn drop_learner(&mut self, core: &mut Core, peer: PeerId) {
        self.learners.remove(&peer);
        core.reset_stream(peer);
    }

    pub(crate) fn tick(&mut self, core: &mut Core) -> Next {
        let now = core.now;
        if self.phase != Phase::Established
            && now.saturating_sub(self.started) > core.cfg.init_limit
        {
            return Next::Look;
        }
        if now.saturating_sub(self.last_ping) >= core.cfg.ping_ticks {
            self.last_ping = now;
            for (&id, p) in self.learners.iter() {
                if p.stage != Stage::Connected {
                    core.send(id, Message::Ping);
                }
            }
        }
        let (sync_limit, init_limit) = (core.cfg.sync_limit, core.cfg.init_limit);
        let mut dropped = Vec::new();
        self.learners.retain(|&id, p| {
            let limit = if matches!(
                p.stage,
                Stage::Forwarding {
                    newleader_acked: true,
                    ..
                }
            ) {
                sync_limit
            } else {
                init_limit
            };
            let silent = now.saturating_sub(p.last_heard) > limit;
            let lagging = p
                .unacked
                .front()
                .is_some_and(|&(_, t)| now.saturating_sub(t) > sync_limit);
            if silent || lagging {
                dropped.push(id);
            }
            !(silent || lagging)
        });
        for id in dropped {
            core.reset_stream(id);
        }
        if self.phase == Phase::Established {
            let mut synced: BTreeSet<PeerId> = self
                .learners
                .iter()
                .filter(|(_, p)| p.is_synced_voter())
                .map(|(&id, _)| id)
                .collect();
            synced.insert(core.id());
            if !core.cfg.voters.is_quorum(&synced) {
                return Next::Look;
            }
        }
        self.check_rollover(core)
    }
}
