//! Fast leader election, as ZooKeeper's `FastLeaderElection` runs it.
//!
//! A vote is `(leader, zxid, peerEpoch)`; votes are ordered by peer epoch,
//! then zxid, then server id (`totalOrderPredicate`). Every LOOKING server
//! counts rounds with a logical clock (`electionEpoch`) and:
//!
//! * on a LOOKING notification of a later round, jumps to that round, forgets
//!   the votes it had, and votes for the better of the sender's vote and its
//!   own initial vote; of an earlier round, ignores it (and answers with its
//!   own vote); of the same round, adopts the sender's vote if better.
//!   Whenever its vote changes it tells every voter.
//! * once a quorum of the voting view agrees with its vote it waits
//!   `finalize_wait` ticks; a better vote arriving meanwhile reopens the
//!   election, anything else is dropped (ZooKeeper's `finalizeWait` loop).
//! * a FOLLOWING / LEADING notification is counted in the round's votes when
//!   it belongs to the same round, and always in the out-of-election votes;
//!   a quorum for one leader that itself says LEADING (`checkLeader`) ends the
//!   election at once. This is how a restarted server rejoins a running
//!   leader.
//! * a server that is not LOOKING answers a LOOKING notification with the
//!   vote it settled on and its state; non-voters (observers) are answered
//!   the same way and never counted.
//!
//! One departure from ZooKeeper: once a server has stored the epoch it leads
//! or follows, the peer epoch of its settled vote becomes that epoch. Servers
//! that joined the same leader in different rounds then answer with the same
//! (leader, peer epoch), so a restarted server always finds the quorum that
//! lets it rejoin (ZooKeeper's servers can disagree there and leave a server
//! LOOKING until the next election; the simulator found that livelock).

use std::collections::BTreeMap;

use crate::core::{Core, FinalVote, Next};
use crate::{Message, Notification, PeerId, Role, Zxid};

/// A vote: who should lead, and the credentials it was judged on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Vote {
    pub leader: PeerId,
    pub zxid: Zxid,
    pub peer_epoch: u32,
}

impl Vote {
    /// ZooKeeper's `totalOrderPredicate(new, cur)`: is `self` better than `cur`?
    pub(crate) fn beats(&self, cur: &Vote) -> bool {
        (self.peer_epoch, self.zxid, self.leader) > (cur.peer_epoch, cur.zxid, cur.leader)
    }
}

/// A vote as received: with the sender's round and state.
#[derive(Debug, Clone, Copy)]
struct Ballot {
    vote: Vote,
    round: u64,
    state: Role,
}

impl Ballot {
    /// ZooKeeper's `Vote.equals`: between settled servers only leader and
    /// peer epoch matter; as soon as one side is LOOKING, the whole vote and
    /// the round must match.
    fn agrees(&self, other: &Ballot) -> bool {
        if self.state == Role::Looking || other.state == Role::Looking {
            self.vote == other.vote && self.round == other.round
        } else {
            self.vote.leader == other.vote.leader && self.vote.peer_epoch == other.vote.peer_epoch
        }
    }
}

#[derive(Debug)]
pub(crate) struct Election {
    proposal: Vote,
    recvset: BTreeMap<PeerId, Ballot>,
    outofelection: BTreeMap<PeerId, Ballot>,
    finalize_at: Option<u64>,
    quiet: u64,
    resend_after: u64,
}

/// This server's own credentials (`getInitId`, `getInitLastLoggedZxid`,
/// `getPeerEpoch`).
fn init_vote(core: &Core) -> Vote {
    Vote {
        leader: core.id(),
        zxid: core.log.last(),
        peer_epoch: core.current_epoch,
    }
}

impl Election {
    /// The voters whose votes in this round agree with ours (ZooKeeper's leading vote
    /// set: the voters a new leader counts on to connect).
    pub(crate) fn supporters(&self) -> std::collections::BTreeSet<PeerId> {
        self.recvset
            .iter()
            .filter(|(_, b)| b.vote == self.proposal)
            .map(|(&id, _)| id)
            .collect()
    }

    /// `lookForLeader`'s start: a new round, a vote for ourselves, told to
    /// every voter.
    pub(crate) fn start(core: &mut Core) -> Election {
        // Rounds come from the network (a later round is adopted as it is),
        // so the clock may sit at u64::MAX: wrap rather than overflow. Round
        // 0 is then just an early round, left at the first notification of
        // the live one. Rounds only speed the election up; the epochs of
        // discovery keep it safe.
        core.logical_clock = core.logical_clock.wrapping_add(1);
        let mut e = Election {
            proposal: init_vote(core),
            recvset: BTreeMap::new(),
            outofelection: BTreeMap::new(),
            finalize_at: None,
            quiet: 0,
            resend_after: core.cfg.election_ticks,
        };
        e.send_notifications(core);
        e.count_own(core);
        e
    }

    fn send_notifications(&self, core: &mut Core) {
        let n = Notification {
            leader: self.proposal.leader,
            zxid: self.proposal.zxid,
            election_epoch: core.logical_clock,
            peer_epoch: self.proposal.peer_epoch,
            state: Role::Looking,
        };
        let voters: Vec<PeerId> = core.cfg.voters.iter().filter(|&v| v != core.id()).collect();
        for v in voters {
            core.send(v, Message::Notification(n));
        }
    }

    /// Our own notification reaches ourselves too (ZooKeeper loops it back).
    fn count_own(&mut self, core: &Core) {
        if core.cfg.is_observer() {
            return;
        }
        let own = Ballot {
            vote: self.proposal,
            round: core.logical_clock,
            state: Role::Looking,
        };
        self.recvset.insert(core.id(), own);
        if tally(core, &self.recvset, &own) && self.finalize_at.is_none() {
            self.finalize_at = Some(core.now.saturating_add(core.cfg.finalize_wait));
        }
    }

    pub(crate) fn tick(&mut self, core: &mut Core) -> Next {
        self.quiet += 1;
        if let Some(at) = self.finalize_at {
            if core.now >= at {
                return decide(core, self.proposal);
            }
        }
        if self.quiet >= self.resend_after {
            self.quiet = 0;
            self.resend_after = self
                .resend_after
                .saturating_mul(2)
                .min(core.cfg.max_election_ticks);
            self.send_notifications(core);
        }
        Next::Stay
    }

    /// A notification from a voter whose vote names a voter.
    fn receive(&mut self, core: &mut Core, from: PeerId, n: Notification) -> Next {
        self.quiet = 0;
        let ballot = Ballot {
            vote: Vote {
                leader: n.leader,
                zxid: n.zxid,
                peer_epoch: n.peer_epoch,
            },
            round: n.election_epoch,
            state: n.state,
        };
        if self.finalize_at.is_some() {
            if !ballot.vote.beats(&self.proposal) {
                return Next::Stay;
            }
            self.finalize_at = None;
        }
        match n.state {
            Role::Looking => {
                if core.cfg.is_observer() {
                    return Next::Stay;
                }
                if n.election_epoch > core.logical_clock {
                    core.logical_clock = n.election_epoch;
                    self.recvset.clear();
                    let own = init_vote(core);
                    self.proposal = if ballot.vote.beats(&own) {
                        ballot.vote
                    } else {
                        own
                    };
                    self.send_notifications(core);
                } else if n.election_epoch < core.logical_clock {
                    return Next::Stay;
                } else if ballot.vote.beats(&self.proposal) {
                    self.proposal = ballot.vote;
                    self.send_notifications(core);
                }
                self.recvset.insert(from, ballot);
                self.count_own(core);
                if self.finalize_at.is_some() && core.cfg.finalize_wait == 0 {
                    return decide(core, self.proposal);
                }
                Next::Stay
            }
            Role::Following | Role::Leading => {
                if n.election_epoch == core.logical_clock {
                    self.recvset.insert(from, ballot);
                    if tally(core, &self.recvset, &ballot)
                        && check_leader(core, &self.recvset, n.leader, n.election_epoch)
                    {
                        return decide(core, ballot.vote);
                    }
                }
                self.outofelection.insert(from, ballot);
                if tally(core, &self.outofelection, &ballot)
                    && check_leader(core, &self.outofelection, n.leader, n.election_epoch)
                {
                    core.logical_clock = n.election_epoch;
                    return decide(core, ballot.vote);
                }
                Next::Stay
            }
            Role::Observing => Next::Stay,
        }
    }
}

/// Does a quorum of voters agree with `target`?
fn tally(core: &Core, votes: &BTreeMap<PeerId, Ballot>, target: &Ballot) -> bool {
    core.cfg.voters.is_quorum(
        votes
            .iter()
            .filter(|(_, b)| b.agrees(target))
            .map(|(id, _)| id),
    )
}

/// ZooKeeper's `checkLeader`: a quorum may only follow a leader that says it
/// leads; we may only lead if the quorum's round is ours.
fn check_leader(core: &Core, votes: &BTreeMap<PeerId, Ballot>, leader: PeerId, round: u64) -> bool {
    if leader != core.id() {
        votes.get(&leader).is_some_and(|b| b.state == Role::Leading)
    } else {
        core.logical_clock == round
    }
}

fn decide(core: &mut Core, vote: Vote) -> Next {
    core.vote = FinalVote {
        leader: vote.leader,
        zxid: vote.zxid,
        peer_epoch: vote.peer_epoch,
        election_epoch: core.logical_clock,
    };
    if vote.leader == core.id() {
        Next::Lead
    } else {
        Next::Follow(vote.leader)
    }
}

/// Any notification, whatever our state (ZooKeeper's `WorkerReceiver` and
/// `lookForLeader` together).
pub(crate) fn on_notification(
    core: &mut Core,
    election: Option<&mut Election>,
    from: PeerId,
    n: Notification,
) -> Next {
    let from_voter = core.cfg.voters.contains(from);
    match election {
        Some(e) => {
            if !from_voter {
                // An observer looking for the leader: tell it our vote.
                reply(core, from, e.proposal, core.logical_clock, Role::Looking);
                return Next::Stay;
            }
            if !core.cfg.voters.contains(n.leader) {
                return Next::Stay;
            }
            if n.state == Role::Looking
                && n.election_epoch < core.logical_clock
                && !core.cfg.is_observer()
            {
                reply(core, from, e.proposal, core.logical_clock, Role::Looking);
            }
            e.receive(core, from, n)
        }
        None => {
            if n.state == Role::Looking {
                let v = core.vote;
                let vote = Vote {
                    leader: v.leader,
                    zxid: v.zxid,
                    peer_epoch: v.peer_epoch,
                };
                reply(core, from, vote, v.election_epoch, core.role);
            }
            Next::Stay
        }
    }
}

fn reply(core: &mut Core, to: PeerId, vote: Vote, round: u64, state: Role) {
    core.send(
        to,
        Message::Notification(Notification {
            leader: vote.leader,
            zxid: vote.zxid,
            election_epoch: round,
            peer_epoch: vote.peer_epoch,
            state,
        }),
    );
}
