//! Static configuration of one engine.

use std::collections::BTreeSet;

use crate::{PeerId, VoterSet, ZabError};

/// Who this server is, who else is in the ensemble, and the tick budgets.
///
/// All durations are in ticks: the caller decides how long a tick is and
/// calls [`Zab::tick`](crate::Zab::tick) that often. ZooKeeper's own numbers,
/// with a tick of half its `tickTime`: the leader pings every tick
/// (`tickTime / 2`), `initLimit = 10` is 20 ticks, `syncLimit = 5` is 10.
#[derive(Debug, Clone)]
pub struct Config {
    /// This server's id (ZooKeeper's `myid`).
    pub id: PeerId,
    /// The voting view. Must contain `id` unless `id` is an observer.
    pub voters: VoterSet,
    /// Servers that learn the committed history but never vote
    /// (`server.N=...:observer`).
    pub observers: BTreeSet<PeerId>,
    /// The leader pings every learner every this many ticks.
    pub ping_ticks: u64,
    /// Ticks a leader may spend from election to an established quorum, and a
    /// learner from election to NEWLEADER (ZooKeeper `initLimit`).
    pub init_limit: u64,
    /// Ticks a synchronised learner may stay silent, or leave a proposal
    /// unacknowledged, before the leader drops it; and ticks a learner waits
    /// for its leader before it goes LOOKING (ZooKeeper `syncLimit`).
    pub sync_limit: u64,
    /// Ticks without a notification before a LOOKING server sends its vote
    /// again; doubles on every resend up to `max_election_ticks`
    /// (ZooKeeper's notification timeout).
    pub election_ticks: u64,
    /// Upper bound of the resend interval.
    pub max_election_ticks: u64,
    /// Ticks a LOOKING server waits, once a quorum agrees with its vote, for a
    /// better vote before it decides (ZooKeeper's `finalizeWait`). 0 decides
    /// at once.
    pub finalize_wait: u64,
    /// Committed entries the engine keeps in memory to synchronise a learner
    /// with a DIFF (ZooKeeper's `commitLogCount`, 500); a learner further
    /// behind gets a SNAP.
    pub diff_window: usize,
    /// The most proposals a DIFF or TRUNC sends, read from the log (the
    /// in-memory window, then the caller's [`LogSource`](crate::LogSource)),
    /// as ZooKeeper's leader syncs from its txn log; a learner further behind
    /// gets a SNAP.
    pub max_diff: usize,
    /// A leader still gathering the quorum for its new epoch that has waited longer than
    /// this many ticks quits leading when a voter that voted for it is LOOKING again
    /// (ZooKeeper's `zookeeper.leader.maxTimeToWaitForEpoch`, off by default: `None`
    /// waits out `init_limit`).
    pub max_wait_for_epoch: Option<u64>,
    /// Deliberately broken behaviour for the simulator's self-test.
    #[cfg(any(test, feature = "sim"))]
    pub faults: Faults,
    /// Test-only: the last counter a proposal may use, so that tests reach
    /// the zxid rollover without 2^32 proposals.
    #[cfg(any(test, feature = "sim"))]
    pub counter_limit: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            id: 1,
            voters: VoterSet::new([1]),
            observers: BTreeSet::new(),
            ping_ticks: 1,
            init_limit: 20,
            sync_limit: 10,
            election_ticks: 2,
            max_election_ticks: 120,
            finalize_wait: 1,
            diff_window: 500,
            max_diff: 100_000,
            max_wait_for_epoch: None,
            #[cfg(any(test, feature = "sim"))]
            faults: Faults::default(),
            #[cfg(any(test, feature = "sim"))]
            counter_limit: crate::Zxid::MAX_COUNTER,
        }
    }
}

impl Config {
    /// Checks the values; the error names the bad field.
    pub fn validate(&self) -> Result<(), ZabError> {
        let bad = |key: &'static str, reason: &str| {
            Err(ZabError::InvalidConfig {
                key,
                reason: reason.to_string(),
            })
        };
        if self.voters.is_empty() {
            return bad("voters", "at least one voter is needed");
        }
        if let Some(both) = self.voters.iter().find(|v| self.observers.contains(v)) {
            return bad("observers", &format!("server {both} is also a voter"));
        }
        if !self.voters.contains(self.id) && !self.observers.contains(&self.id) {
            return bad("id", "this server is neither a voter nor an observer");
        }
        for (key, v) in [
            ("ping_ticks", self.ping_ticks),
            ("init_limit", self.init_limit),
            ("sync_limit", self.sync_limit),
            ("election_ticks", self.election_ticks),
        ] {
            if v == 0 {
                return bad(key, "must be at least 1");
            }
        }
        if self.max_election_ticks < self.election_ticks {
            return bad("max_election_ticks", "must be >= election_ticks");
        }
        if self.sync_limit <= self.ping_ticks {
            return bad("sync_limit", "must exceed ping_ticks");
        }
        Ok(())
    }

    /// The last counter a proposal may carry.
    pub(crate) fn counter_limit(&self) -> u32 {
        #[cfg(any(test, feature = "sim"))]
        return self.counter_limit.min(crate::Zxid::MAX_COUNTER);
        #[cfg(not(any(test, feature = "sim")))]
        crate::Zxid::MAX_COUNTER
    }

    /// Is `epoch` the reserved one, that no message may carry?
    pub(crate) fn is_reserved_epoch(&self, epoch: u32) -> bool {
        #[cfg(any(test, feature = "sim"))]
        if self.faults.saturate_epochs {
            return false;
        }
        epoch > crate::Zxid::MAX_EPOCH
    }

    /// Is this server an observer?
    pub fn is_observer(&self) -> bool {
        self.observers.contains(&self.id)
    }

    /// Is `id` a voter or an observer of this configuration?
    pub fn knows(&self, id: PeerId) -> bool {
        self.voters.contains(id) || self.observers.contains(&id)
    }
}

/// Deliberately broken variants of the engine, compiled only for tests and
/// the `sim` feature. The simulator must catch every one of them; a checker
/// that cannot fail is no checker.
#[cfg(any(test, feature = "sim"))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// A follower acknowledges a proposal before it is durable (the ACK goes
    /// to `Ready::messages` instead of `Ready::send_after_persist`).
    pub ack_before_durable: bool,
    /// The leader delivers a batch of newly committed proposals newest first.
    pub commit_out_of_order: bool,
    /// The leader skips synchronisation: every learner gets an empty DIFF,
    /// whatever its log holds.
    pub skip_sync: bool,
    /// The leader counts an ACKEPOCH without a current epoch (ZooKeeper's
    /// -1: the learner had accepted this epoch before, maybe from another
    /// leader) towards its epoch quorum, so two leaders can establish one
    /// epoch.
    pub count_ackepoch_without_epoch: bool,
    /// Epochs saturate at `u32::MAX` instead of running out: the leader
    /// proposes `u32::MAX` again and again, and the reserved epoch is
    /// accepted in FOLLOWERINFO and LEADERINFO.
    pub saturate_epochs: bool,
    /// A learner answers LEADERINFO before the new accepted epoch is durable
    /// (its ACKEPOCH goes to `Ready::messages`).
    pub ackepoch_before_durable: bool,
    /// The leader sends LEADERINFO before the epoch it proposes is durable as
    /// its accepted epoch.
    pub leaderinfo_before_durable: bool,
    /// The leader establishes its epoch without storing it as its current
    /// epoch.
    pub leader_skips_current_epoch: bool,
    /// The leader DIFFs a learner from the learner's last zxid even when its
    /// own log does not hold that zxid (a TRUNC was due): the offset the
    /// DIFF is read from is wrong.
    pub diff_from_wrong_offset: bool,
    /// The leader SNAPs a learner too far behind for `max_diff` even below the
    /// history they share (what the engine did before the runtime's simulator
    /// found the loss; its test `catches_a_snap_below_the_shared_history`
    /// replays that run).
    pub snap_below_shared: bool,
}

#[cfg(any(test, feature = "sim"))]
impl Faults {
    /// Every variant, by the name `CORRAL_SIM_FAULTS` uses.
    pub const NAMES: [&'static str; 10] = [
        "ack_before_durable",
        "commit_out_of_order",
        "skip_sync",
        "count_ackepoch_without_epoch",
        "saturate_epochs",
        "ackepoch_before_durable",
        "leaderinfo_before_durable",
        "leader_skips_current_epoch",
        "diff_from_wrong_offset",
        "snap_below_shared",
    ];

    fn flag(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "ack_before_durable" => &mut self.ack_before_durable,
            "commit_out_of_order" => &mut self.commit_out_of_order,
            "skip_sync" => &mut self.skip_sync,
            "count_ackepoch_without_epoch" => &mut self.count_ackepoch_without_epoch,
            "saturate_epochs" => &mut self.saturate_epochs,
            "ackepoch_before_durable" => &mut self.ackepoch_before_durable,
            "leaderinfo_before_durable" => &mut self.leaderinfo_before_durable,
            "leader_skips_current_epoch" => &mut self.leader_skips_current_epoch,
            "diff_from_wrong_offset" => &mut self.diff_from_wrong_offset,
            "snap_below_shared" => &mut self.snap_below_shared,
            _ => return None,
        })
    }

    /// The variants named in a comma-separated list; `Err` names an unknown
    /// one.
    pub fn parse(list: &str) -> Result<Faults, String> {
        let mut f = Faults::default();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            *f.flag(name)
                .ok_or_else(|| format!("unknown fault `{name}`"))? = true;
        }
        Ok(f)
    }

    /// The names of the variants switched on.
    pub fn names(&self) -> Vec<&'static str> {
        let mut copy = *self;
        Faults::NAMES
            .into_iter()
            .filter(|n| copy.flag(n).is_some_and(|on| *on))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_names_the_key() {
        let mut c = Config {
            id: 4,
            voters: VoterSet::new([1, 2, 3]),
            ..Config::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ZabError::InvalidConfig { key: "id", .. })
        ));
        c.observers.insert(4);
        assert_eq!(c.validate(), Ok(()));
        c.observers.insert(2);
        assert!(matches!(
            c.validate(),
            Err(ZabError::InvalidConfig {
                key: "observers",
                ..
            })
        ));
        c.observers.remove(&2);
        c.sync_limit = 1;
        assert!(matches!(
            c.validate(),
            Err(ZabError::InvalidConfig {
                key: "sync_limit",
                ..
            })
        ));
    }

    #[test]
    fn faults_by_name() {
        assert_eq!(Faults::parse(""), Ok(Faults::default()));
        for name in Faults::NAMES {
            let f = Faults::parse(name).unwrap();
            assert_ne!(f, Faults::default(), "{name}");
            assert_eq!(f.names(), vec![name]);
        }
        let two = Faults::parse("skip_sync, ack_before_durable").unwrap();
        assert_eq!(two.names(), vec!["ack_before_durable", "skip_sync"]);
        assert!(Faults::parse("skip_sink").is_err());
    }
}
