//! [`Zab`]: the engine's public face, dispatching to the role in force.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::core::{Core, FinalVote, Next, Why};
use crate::election::{self, Election};
use crate::leader::Leader;
use crate::learner::Learner;
use crate::log::{Log, LogSource};
use crate::{Config, Message, PeerId, Ready, Role, ZabError, Zxid};

/// What the caller's storage held when the server (re)started, beside the
/// log (which the engine reads through a [`LogSource`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Persisted {
    /// The last stored accepted epoch (0 on a fresh server).
    pub accepted_epoch: u32,
    /// The last stored current epoch (0 on a fresh server).
    pub current_epoch: u32,
    /// The zxid of the snapshot the caller restored its state machine from
    /// (`Zxid::ZERO` for an empty state). The durable log entries after it
    /// are not assumed committed: the engine hands them out in
    /// `Ready::committed` once the leader says so. Do not apply them yourself.
    pub snapshot: Zxid,
}

/// A snapshot of the engine's state, for tests, metrics and four-letter words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// This server.
    pub id: PeerId,
    /// Its role.
    pub role: Role,
    /// The leader it follows or is, once elected.
    pub leader: Option<PeerId>,
    /// A leader: a quorum acknowledged NEWLEADER. A learner: UPTODATE seen.
    pub established: bool,
    /// The epoch being led or followed (the current epoch while LOOKING).
    pub epoch: u32,
    /// The stored accepted epoch.
    pub accepted_epoch: u32,
    /// The stored current epoch.
    pub current_epoch: u32,
    /// Last zxid in the log.
    pub last_zxid: Zxid,
    /// Highest zxid known committed.
    pub committed: Zxid,
    /// Highest zxid handed out in `Ready::committed`.
    pub applied: Zxid,
    /// Highest zxid known durable.
    pub durable: Zxid,
    /// Election round.
    pub logical_clock: u64,
    /// How this server was last synchronised with a leader (as a learner,
    /// since it started): DIFF, TRUNC or SNAP.
    pub last_sync: Option<crate::SyncKind>,
}

#[derive(Debug)]
enum State {
    Looking(Election),
    Learning(Learner),
    Leading(Leader),
}

/// One server's ZAB engine. See the crate documentation for the loop that
/// drives it.
#[derive(Debug)]
pub struct Zab {
    core: Core,
    state: State,
    /// FOLLOWERINFOs that arrived while we were still LOOKING: a learner may
    /// decide faster than its leader. ZooKeeper's learner retries its TCP
    /// connection until the leader listens; here the registration waits, like
    /// a connection in the listen backlog, and is served if we come to lead.
    backlog: BTreeMap<PeerId, (u32, bool)>,
}

impl Zab {
    /// A server restarting from `persisted`; it starts LOOKING.
    pub fn new(
        cfg: Config,
        persisted: Persisted,
        log: impl LogSource + 'static,
    ) -> Result<Zab, ZabError> {
        cfg.validate()?;
        if persisted.current_epoch > persisted.accepted_epoch {
            return Err(ZabError::Storage(format!(
                "current epoch {} above accepted epoch {}",
                persisted.current_epoch, persisted.accepted_epoch
            )));
        }
        let snapshot = persisted.snapshot;
        if snapshot < log.start() || snapshot > log.last() {
            return Err(ZabError::Storage(format!(
                "snapshot {snapshot:?} outside the log ({:?}, {:?}]",
                log.start(),
                log.last()
            )));
        }
        let log = Log::new(Box::new(log));
        let durable = log.last();
        let mut core = Core {
            cfg,
            accepted_epoch: persisted.accepted_epoch,
            current_epoch: persisted.current_epoch,
            log,
            commit: snapshot,
            applied: snapshot,
            durable,
            now: 0,
            logical_clock: 0,
            vote: FinalVote {
                leader: 0,
                zxid: Zxid::ZERO,
                peer_epoch: 0,
                election_epoch: 0,
            },
            role: Role::Looking,
            role_changed: true,
            reported_established: false,
            halted: false,
            last_sync: None,
            out: Ready::default(),
            next_ready: 1,
            advanced: 0,
            defer_through: 0,
            unsynced: Default::default(),
            observing: false,
            observed: Vec::new(),
        };
        let election = Election::start(&mut core);
        Ok(Zab {
            core,
            state: State::Looking(election),
            backlog: BTreeMap::new(),
        })
    }

    /// One tick of time passed. The only `Err` is
    /// [`ZabError::EpochsExhausted`]: the election that ended with this tick
    /// chose this server, which refused to lead and is LOOKING again. The
    /// caller only needs to log it (loudly: the ensemble is stuck).
    pub fn tick(&mut self) -> Result<(), ZabError> {
        self.core.now += 1;
        let next = match &mut self.state {
            State::Looking(e) => e.tick(&mut self.core),
            State::Learning(l) => l.tick(&mut self.core),
            State::Leading(l) => l.tick(&mut self.core),
        };
        self.transition(next)
    }

    /// A message arrived from `from`. An `Err` reports a message the engine
    /// refused, or [`ZabError::EpochsExhausted`] when it made this server
    /// refuse to lead; the engine has already reacted (for instance by going
    /// LOOKING), so the caller only needs to log it.
    pub fn step(&mut self, from: PeerId, msg: Message) -> Result<(), ZabError> {
        if from == self.core.id() || !self.core.cfg.knows(from) {
            return Err(ZabError::UnknownPeer(from));
        }
        let handled = match (msg, &mut self.state) {
            (Message::Notification(n), State::Looking(e)) => {
                Ok(election::on_notification(&mut self.core, Some(e), from, n))
            }
            (Message::Notification(n), State::Leading(l)) => {
                let next = election::on_notification(&mut self.core, None, from, n);
                if n.state == Role::Looking && self.core.cfg.voters.contains(from) {
                    Ok(l.voter_looking(&mut self.core, from))
                } else {
                    Ok(next)
                }
            }
            (Message::Notification(n), _) => {
                Ok(election::on_notification(&mut self.core, None, from, n))
            }
            (
                Message::FollowerInfo {
                    accepted_epoch,
                    observer,
                },
                State::Looking(_),
            ) => {
                self.backlog.insert(from, (accepted_epoch, observer));
                Ok(Next::Stay)
            }
            (_, State::Looking(_)) => Ok(Next::Stay),
            (msg, State::Learning(l)) => l.on_message(&mut self.core, from, msg),
            (msg, State::Leading(l)) => l.on_message(&mut self.core, from, msg),
        };
        match handled {
            Ok(next) => self.transition(next),
            Err(rejected) => {
                self.transition(rejected.next)?;
                Err(match rejected.why {
                    Why::Protocol(reason) => ZabError::Protocol { from, reason },
                    Why::Error(e) => e,
                })
            }
        }
    }

    /// The FIFO stream to `peer` broke (the caller's connection failed or was
    /// reset): whatever was in flight may be lost. A learner whose leader is
    /// gone goes LOOKING; a leader forgets the learner until it registers
    /// again.
    /// Messages to `peer` not yet taken with [`Zab::ready`] are dropped
    /// with it.
    pub fn disconnected(&mut self, peer: PeerId) {
        self.backlog.remove(&peer);
        self.core.out.messages.retain(|(to, _)| *to != peer);
        self.core
            .out
            .send_after_persist
            .retain(|(to, _)| *to != peer);
        let next = match &mut self.state {
            State::Learning(l) if l.leader == peer => Next::Look,
            State::Leading(l) => {
                l.disconnected(peer);
                Next::Stay
            }
            _ => Next::Stay,
        };
        // Only `Next::Lead` can fail, and a broken stream never leads.
        let _ = self.transition(next);
        self.core.out.reset.retain(|p| *p != peer);
    }

    /// Proposes `payload`; only the established leader accepts. Returns the
    /// zxid it will be committed under, if it is committed.
    pub fn propose(&mut self, payload: Bytes) -> Result<Zxid, ZabError> {
        self.propose_with(|_| payload)
    }

    /// Proposes the payload `build` makes for the zxid it will carry: a
    /// caller whose payload holds its own zxid (ZooKeeper's server puts it in
    /// Stat fields) builds it here. `build` is called only when the proposal
    /// is accepted, so a refusal ([`ZabError::NotLeader`],
    /// [`ZabError::ZxidRollover`]) leaves nothing to undo.
    pub fn propose_with(&mut self, build: impl FnOnce(Zxid) -> Bytes) -> Result<Zxid, ZabError> {
        match &mut self.state {
            State::Leading(l) => l.propose(&mut self.core, build),
            State::Learning(l) => Err(ZabError::NotLeader {
                leader: Some(l.leader),
            }),
            State::Looking(_) => Err(ZabError::NotLeader { leader: None }),
        }
    }

    /// The zxid the next accepted proposal will carry, or the error
    /// `propose` would return now. Nothing is reserved: the answer holds
    /// until the engine is next called.
    pub fn next_zxid(&self) -> Result<Zxid, ZabError> {
        match &self.state {
            State::Leading(l) => l.next_zxid(&self.core),
            State::Learning(l) => Err(ZabError::NotLeader {
                leader: Some(l.leader),
            }),
            State::Looking(_) => Err(ZabError::NotLeader { leader: None }),
        }
    }

    fn is_established(&self) -> bool {
        match &self.state {
            State::Looking(_) => false,
            State::Learning(l) => l.up_to_date,
            State::Leading(l) => l.is_established(),
        }
    }

    /// Is there anything for the caller to do?
    pub fn has_ready(&self) -> bool {
        !self.core.out.is_empty()
            || self.core.role_changed
            || self.is_established() != self.core.reported_established
            || (self.core.applicable() > self.core.applied && !self.core.halted)
            || matches!(&self.state, State::Leading(l) if l.has_pending_sync())
    }

    /// Takes what the caller must now do; see [`Ready`] for the order.
    pub fn ready(&mut self) -> Ready {
        let leading = matches!(self.state, State::Leading(_));
        self.core.emit_committed(leading);
        if let State::Leading(l) = &mut self.state {
            l.sync_learners(&mut self.core);
        }
        let mut ready = std::mem::take(&mut self.core.out);
        ready.number = self.core.next_ready;
        self.core.next_ready += 1;
        if self.core.role_changed {
            ready.role = Some(self.core.role);
            self.core.role_changed = false;
        }
        let established = self.is_established();
        if established != self.core.reported_established {
            ready.established = Some(established);
            self.core.reported_established = established;
        }
        if !ready.send_after_persist.is_empty() {
            self.core.defer_through = ready.number;
        }
        ready
    }

    /// Switches [`Observation`](crate::Observation)s on (`true`) or off (the
    /// default; switching off drops those not taken).
    pub fn set_observing(&mut self, on: bool) {
        self.core.observing = on;
        if !on {
            self.core.observed.clear();
        }
    }

    /// Takes the observations made since the last call (none unless
    /// [`Zab::set_observing`]).
    pub fn take_observations(&mut self) -> Vec<crate::Observation> {
        std::mem::take(&mut self.core.observed)
    }

    /// Storage made everything of the `Ready`s numbered up to `number`
    /// durable (and their `send_after_persist` messages went out).
    pub fn advance(&mut self, number: u64) {
        self.core.mark_durable(number);
        let next = match &mut self.state {
            State::Leading(l) => match l.check_established(&mut self.core) {
                Next::Stay => l.try_commit(&mut self.core),
                other => other,
            },
            _ => Next::Stay,
        };
        // Only `Next::Lead` can fail, and a fsync never leads.
        let _ = self.transition(next);
    }

    /// Where the engine stands.
    pub fn status(&self) -> Status {
        let c = &self.core;
        let (leader, established, epoch) = match &self.state {
            State::Looking(_) => (None, false, c.current_epoch),
            State::Learning(l) => (Some(l.leader), l.up_to_date, l.epoch),
            State::Leading(l) => (Some(c.id()), l.is_established(), l.epoch),
        };
        Status {
            id: c.id(),
            role: c.role,
            leader,
            established,
            epoch,
            accepted_epoch: c.accepted_epoch,
            current_epoch: c.current_epoch,
            last_zxid: c.log.last(),
            committed: c.commit,
            applied: c.applied,
            durable: c.durable,
            logical_clock: c.logical_clock,
            last_sync: c.last_sync,
        }
    }

    /// The learners of a leader (`None` unless leading).
    pub fn learner_counts(&self) -> Option<crate::LearnerCounts> {
        match &self.state {
            State::Leading(l) => Some(l.learner_counts()),
            _ => None,
        }
    }

    /// A leader's learners one by one (none unless leading), in id order.
    pub fn learners(&self) -> Vec<crate::LearnerInfo> {
        match &self.state {
            State::Leading(l) => l.learner_infos(),
            _ => Vec::new(),
        }
    }

    /// Checks the engine's internal invariants (openraft's `validate()`);
    /// the simulator calls it after every step.
    #[cfg(any(test, feature = "sim"))]
    pub fn validate(&self) -> Result<(), String> {
        let c = &self.core;
        let mut problems = Vec::new();
        if c.current_epoch > c.accepted_epoch {
            problems.push(format!(
                "current epoch {} > accepted {}",
                c.current_epoch, c.accepted_epoch
            ));
        }
        if c.applied > c.commit {
            problems.push(format!(
                "applied {:?} beyond commit {:?}",
                c.applied, c.commit
            ));
        }
        if c.commit > c.log.last() {
            problems.push(format!(
                "commit {:?} beyond the log {:?}",
                c.commit,
                c.log.last()
            ));
        }
        if c.durable > c.log.last() {
            problems.push(format!(
                "durable {:?} beyond the log {:?}",
                c.durable,
                c.log.last()
            ));
        }
        if c.log.base() > c.applied.max(c.durable) {
            problems.push(format!(
                "log window {:?} starts after applied {:?} and durable {:?}: entries in between are nowhere",
                c.log.base(),
                c.applied,
                c.durable
            ));
        }
        if let State::Leading(l) = &self.state {
            if l.is_established() && l.epoch != c.current_epoch {
                problems.push(format!(
                    "leading epoch {} with current epoch {}",
                    l.epoch, c.current_epoch
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.core.cfg
    }

    /// Leaving a leader's or a learner's session: break the streams it ran
    /// on, so that the other ends learn it at once (ZooKeeper closes the
    /// sockets; a follower would otherwise wait `sync_limit` ticks).
    fn reset_session(&mut self) {
        let peers: Vec<PeerId> = match &self.state {
            State::Looking(_) => Vec::new(),
            State::Learning(l) => vec![l.leader],
            State::Leading(l) => l.learner_ids(),
        };
        for p in peers {
            self.core.reset_stream(p);
        }
    }

    /// Moves to the role `next` names. The one `Err` is a refusal to lead
    /// ([`ZabError::EpochsExhausted`]), after which the server is LOOKING.
    fn transition(&mut self, next: Next) -> Result<(), ZabError> {
        if next != Next::Stay {
            self.reset_session();
        }
        let mut next = next;
        let mut refused = None;
        // Starting a role can settle at once (a one-voter ensemble), so loop.
        loop {
            next = match next {
                Next::Stay => return refused.map_or(Ok(()), Err),
                Next::Look => {
                    self.backlog.clear();
                    self.core.set_role(Role::Looking);
                    self.state = State::Looking(Election::start(&mut self.core));
                    Next::Stay
                }
                Next::Lead => match Leader::start(&mut self.core).map(|(mut l, next)| {
                    if let State::Looking(e) = &self.state {
                        l.set_vote_set(e.supporters());
                    }
                    (l, next)
                }) {
                    Err(e) => {
                        refused = Some(e);
                        Next::Look
                    }
                    Ok((mut leader, mut next)) => {
                        self.core.set_role(Role::Leading);
                        for (from, (accepted_epoch, observer)) in std::mem::take(&mut self.backlog)
                        {
                            let msg = Message::FollowerInfo {
                                accepted_epoch,
                                observer,
                            };
                            match leader.on_message(&mut self.core, from, msg) {
                                Ok(Next::Stay) => {}
                                Ok(n) => next = n,
                                Err(r) => {
                                    if let Why::Error(e) = r.why {
                                        refused = Some(e);
                                    }
                                    if r.next != Next::Stay {
                                        next = r.next;
                                        break;
                                    }
                                }
                            }
                        }
                        self.state = State::Leading(leader);
                        next
                    }
                },
                Next::Follow(leader) => {
                    let role = if self.core.cfg.is_observer() {
                        Role::Observing
                    } else {
                        Role::Following
                    };
                    self.backlog.clear();
                    self.core.set_role(role);
                    self.state = State::Learning(Learner::start(&mut self.core, leader));
                    Next::Stay
                }
            };
        }
    }
}
