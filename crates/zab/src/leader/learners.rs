//! What a leader tells about its learners: counts for `mntr`, one entry per learner for the
//! AdminServer's `observers`.

use super::{Leader, LearnerPeer, Stage};
use crate::{PeerId, Zxid};

/// A leader's learners, as ZooKeeper's `mntr` counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LearnerCounts {
    /// Learners with a session (ZooKeeper's `zk_learners`).
    pub learners: usize,
    /// Followers synchronised and acknowledging proposals (`zk_synced_followers`).
    pub synced_followers: usize,
    /// Observers synchronised and receiving commits (`zk_synced_observers`).
    pub synced_observers: usize,
}

/// One of a leader's learners (ZooKeeper's `LearnerHandler`, as the AdminServer's
/// `observers` command shows one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnerInfo {
    /// Its id.
    pub id: PeerId,
    /// An observer.
    pub observer: bool,
    /// Its synchronisation was sent: it gets every new proposal (a follower) or commit (an
    /// observer). ZooKeeper's leader lists it among its forwarding followers or observing
    /// learners from then on.
    pub forwarding: bool,
    /// The highest zxid sent to it (zero before its synchronisation).
    pub last_sent: Zxid,
}

impl Leader {
    /// How many learners are connected and synchronised.
    pub(crate) fn learner_counts(&self) -> LearnerCounts {
        let forwarding = |p: &&LearnerPeer| matches!(p.stage, Stage::Forwarding { .. });
        LearnerCounts {
            learners: self.learners.len(),
            synced_followers: self
                .learners
                .values()
                .filter(|p| p.is_synced_voter())
                .count(),
            synced_observers: self
                .learners
                .values()
                .filter(|p| p.observer)
                .filter(forwarding)
                .count(),
        }
    }

    /// Every learner with a session, in id order.
    pub(crate) fn learner_infos(&self) -> Vec<LearnerInfo> {
        self.learners
            .iter()
            .map(|(&id, p)| LearnerInfo {
                id,
                observer: p.observer,
                forwarding: matches!(p.stage, Stage::Forwarding { .. }),
                last_sent: p.sent,
            })
            .collect()
    }

    /// Every learner with a session.
    pub(crate) fn learner_ids(&self) -> Vec<PeerId> {
        self.learners.keys().copied().collect()
    }
}
