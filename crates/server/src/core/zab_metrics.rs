//! An ensemble member's quorum metrics (ZooKeeper's ServerMetrics measured in its
//! LearnerHandler, Leader, Follower, Observer and ack processors) from what the ZAB engine
//! observed ([`corral_zab::Observation`]), dated by the caller's clock reading: syncs by
//! kind and in flight, proposals and commits a learner received, and the latencies from a
//! txn's time (the leader's wall clock when it prepped it) to its arrival at a follower,
//! its acknowledgement, its quorum and its commit reaching a learner.

use std::collections::BTreeMap;

use corral_datatree::Txn;
use corral_zab::{Observation, SyncKind, Zxid};

use super::{Core, Now};

/// Proposals whose times are kept at most (the oldest go first): a learner far behind its
/// leader's commits must not grow this without bound.
const MAX_TRACKED: usize = 1 << 17;

/// The times of the txns logged and not applied yet, by zxid.
#[derive(Debug, Default)]
pub(super) struct ProposalTimes {
    times: BTreeMap<Zxid, i64>,
}

impl ProposalTimes {
    fn insert(&mut self, zxid: Zxid, time_ms: i64) {
        self.times.insert(zxid, time_ms);
        while self.times.len() > MAX_TRACKED {
            self.times.pop_first();
        }
    }

    /// The times of the txns in `(after, upto]` (none when `upto <= after`).
    fn range(&self, after: Zxid, upto: Zxid) -> impl Iterator<Item = i64> + '_ {
        use std::ops::Bound::{Excluded, Included};
        // (a, a] is empty; a start past the end would panic.
        self.times
            .range((Excluded(after), Included(upto.max(after))))
            .map(|(_, &t)| t)
    }

    /// Forgets every txn up to `zxid` (applied, or below an installed snapshot).
    pub(super) fn forget_through(&mut self, zxid: Zxid) {
        while self
            .times
            .first_key_value()
            .is_some_and(|(&z, _)| z <= zxid)
        {
            self.times.pop_first();
        }
    }
}

impl Core {
    /// One thing the engine did, seen at `now` (the member's clock reading for the call that
    /// caused it).
    pub fn observe_zab(&mut self, observation: &Observation, now: Now) {
        let m = &mut self.metrics;
        let latency = |time: i64| Some(now.wall_ms - time).filter(|l| *l >= 0);
        match observation {
            Observation::Logged { zxid, payload } => {
                // Handed to the log (ZooKeeper's SyncRequestProcessor queue).
                m.sync_processor_request_queued += 1;
                if let Ok((_, time)) = Txn::peek_header(payload) {
                    self.proposal_times.insert(*zxid, time);
                }
            }
            Observation::SyncBegun {
                kind, in_progress, ..
            } => {
                let in_progress = *in_progress as i64;
                if *kind == SyncKind::Snap {
                    m.snap_count += 1;
                    m.inflight_snap_count.add(in_progress);
                } else {
                    m.diff_count += 1;
                    m.inflight_diff_count.add(in_progress);
                }
            }
            Observation::SyncEnded {
                kind, in_progress, ..
            } => {
                let summary = match kind {
                    SyncKind::Snap => &mut m.inflight_snap_count,
                    SyncKind::Diff | SyncKind::Trunc => &mut m.inflight_diff_count,
                };
                summary.add(*in_progress as i64);
            }
            Observation::ProposalReceived { zxid } => {
                m.learner_proposal_received_count += 1;
                let time = self.proposal_times.times.get(zxid).copied();
                if let Some(l) = time.and_then(latency) {
                    m.proposal_latency.add(l);
                }
            }
            Observation::CommitReceived {
                after,
                upto,
                proposals,
            } => {
                m.learner_commit_received_count += proposals;
                for l in self.proposal_times.range(*after, *upto).filter_map(latency) {
                    m.commit_propagation_latency.add(l);
                }
            }
            Observation::Acknowledged { after, upto } => {
                for l in self.proposal_times.range(*after, *upto).filter_map(latency) {
                    m.proposal_ack_creation_latency.add(l);
                }
            }
            Observation::QuitLeading { .. } => m.quit_leading_due_to_disloyal_voter += 1,
            Observation::QuorumAcked { after, upto } => {
                for l in self.proposal_times.range(*after, *upto).filter_map(latency) {
                    m.quorum_ack_latency.add(l);
                }
            }
        }
    }

    /// An ensemble member wrote a local snapshot in `ms` (snapshottime; a standalone
    /// server's are timed by [`Input::SnapshotFinished`](super::Input::SnapshotFinished)).
    pub fn record_snapshot_time(&mut self, ms: u64) {
        let ms = i64::try_from(ms).unwrap_or(i64::MAX);
        self.metrics.snapshottime.add(ms);
    }

    /// A write went from prep to the next stage in `ms` (ZooKeeper's proposal_process_time:
    /// PrepRequestProcessor's hand-over to the sync processor, or on a leader to the
    /// proposal processor).
    pub fn record_proposal_process_time(&mut self, ms: u64) {
        let ms = i64::try_from(ms).unwrap_or(i64::MAX);
        self.metrics.proposal_process_time.add(ms);
    }
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};
    use corral_datatree::TxnBody;

    use super::*;
    use crate::config::ServerConfig;

    fn now(wall_ms: i64) -> Now {
        Now {
            mono_us: 0,
            wall_ms,
        }
    }

    fn txn(counter: u32, time_ms: i64) -> (Zxid, Bytes) {
        let zxid = Zxid::new(1, counter);
        let mut out = BytesMut::new();
        Txn {
            zxid,
            time_ms,
            session_id: 1,
            cxid: 1,
            body: TxnBody::Delete { path: "/a".into() },
        }
        .encode(&mut out);
        (zxid, out.freeze())
    }

    fn summary(s: &super::super::metrics::Summary) -> (u64, i64, i64) {
        (s.count(), s.min(), s.max())
    }

    #[test]
    fn latencies_run_from_the_txn_time_to_the_observation() {
        let mut core = Core::new(ServerConfig::default(), now(0)).unwrap();
        for (counter, time) in [(1, 1000), (2, 1010), (3, 1020)] {
            let (zxid, payload) = txn(counter, time);
            core.observe_zab(&Observation::Logged { zxid, payload }, now(time));
        }
        let z = |c| Zxid::new(1, c);
        core.observe_zab(&Observation::ProposalReceived { zxid: z(2) }, now(1015));
        core.observe_zab(
            &Observation::Acknowledged {
                after: z(0),
                upto: z(2),
            },
            now(1030),
        );
        core.observe_zab(
            &Observation::QuorumAcked {
                after: z(1),
                upto: z(3),
            },
            now(1040),
        );
        core.observe_zab(
            &Observation::CommitReceived {
                after: z(0),
                upto: z(3),
                proposals: 3,
            },
            now(1050),
        );
        // A clock behind the txn's (another server's) records nothing, as ZooKeeper.
        core.observe_zab(&Observation::ProposalReceived { zxid: z(3) }, now(1000));
        let m = &core.metrics;
        assert_eq!(m.sync_processor_request_queued, 3, "handed to the log");
        assert_eq!(summary(&m.proposal_latency), (1, 5, 5));
        assert_eq!(m.learner_proposal_received_count, 2);
        assert_eq!(summary(&m.proposal_ack_creation_latency), (2, 20, 30));
        assert_eq!(summary(&m.quorum_ack_latency), (2, 20, 30));
        assert_eq!(summary(&m.commit_propagation_latency), (3, 30, 50));
        assert_eq!(m.learner_commit_received_count, 3);
        // Applied: forgotten.
        core.proposal_times.forget_through(z(2));
        core.observe_zab(
            &Observation::QuorumAcked {
                after: z(0),
                upto: z(3),
            },
            now(1120),
        );
        assert_eq!(summary(&core.metrics.quorum_ack_latency), (3, 20, 100));
        // An empty or backwards range is nothing.
        core.observe_zab(
            &Observation::QuorumAcked {
                after: z(3),
                upto: z(1),
            },
            now(1120),
        );
        assert_eq!(core.metrics.quorum_ack_latency.count(), 3);
    }

    #[test]
    fn syncs_count_by_kind_with_those_in_flight_and_quits_are_counted() {
        let mut core = Core::new(ServerConfig::default(), now(0)).unwrap();
        let begun = |kind, in_progress| Observation::SyncBegun {
            learner: 2,
            kind,
            in_progress,
        };
        let ended = |kind, in_progress| Observation::SyncEnded {
            learner: 2,
            kind,
            in_progress,
        };
        for o in [
            begun(SyncKind::Diff, 1),
            begun(SyncKind::Trunc, 2),
            begun(SyncKind::Snap, 1),
            ended(SyncKind::Trunc, 1),
            ended(SyncKind::Snap, 0),
            Observation::QuitLeading { voter: 1 },
        ] {
            core.observe_zab(&o, now(0));
        }
        let m = &core.metrics;
        assert_eq!((m.diff_count, m.snap_count), (2, 1));
        assert_eq!(m.quit_leading_due_to_disloyal_voter, 1);
        assert_eq!(
            (m.inflight_diff_count.count(), m.inflight_diff_count.sum()),
            (3, 4)
        );
        assert_eq!(
            (m.inflight_snap_count.count(), m.inflight_snap_count.sum()),
            (2, 1)
        );
    }
}
