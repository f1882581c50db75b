//! How a leader synchronises one learner: DIFF or TRUNC from its log, or a SNAP.

use crate::core::Core;
use crate::{Entry, Message, Zxid};

/// How to synchronise one learner.
pub(super) enum Plan {
    /// This header (DIFF or TRUNC), then these proposals.
    Log(Message, Vec<Entry>),
    /// A SNAP of what we applied, then the proposals after it.
    Snap,
    /// Nothing now: our log cannot be read. The learner is dropped and
    /// registers again (with another leader, if need be).
    Drop,
}

/// DIFF or TRUNC for a learner whose last zxid is `peer_last`, with the
/// proposals up to `target` that follow (ZooKeeper's `syncFollower`, from the
/// in-memory window or the log on disk); a SNAP when the learner is behind
/// the start of our log or more than `max_diff` proposals behind.
///
/// Never a SNAP below the history the learner shares with us: installing it
/// drops, durably, entries the learner holds and may have acknowledged (they
/// come back as the proposals after the snapshot, but a broken stream in
/// between would leave the learner without them, its current epoch claiming
/// otherwise, and able to win the next election: the runtime's simulator
/// found that loss). A leader that has not applied that far yet (just
/// elected, its log not committed) sends the whole DIFF instead.
pub(super) fn plan_sync(core: &Core, peer_last: Zxid, target: Zxid) -> Plan {
    let limit = core.cfg.max_diff;
    let shared = match core.log.floor(peer_last.min(target)) {
        Ok(Some(z)) => z,
        Ok(None) => return Plan::Snap,
        Err(_) => return Plan::Drop,
    };
    #[allow(unused_mut)]
    let mut from = shared;
    #[allow(unused_mut)]
    let mut header = if shared == peer_last {
        Message::Diff { zxid: target }
    } else {
        Message::Trunc { zxid: shared }
    };
    #[cfg(any(test, feature = "sim"))]
    if core.cfg.faults.skip_sync {
        return Plan::Log(Message::Diff { zxid: target }, Vec::new());
    }
    #[cfg(any(test, feature = "sim"))]
    if core.cfg.faults.diff_from_wrong_offset && peer_last <= target {
        from = peer_last;
        header = Message::Diff { zxid: target };
    }
    #[allow(unused_mut)]
    let mut snap_allowed = core.applied >= shared;
    #[cfg(any(test, feature = "sim"))]
    if core.cfg.faults.snap_below_shared {
        snap_allowed = true;
    }
    let max = if snap_allowed {
        limit.saturating_add(1)
    } else {
        usize::MAX
    };
    match core.log.range(from, target, max) {
        Ok(entries) if entries.len() > limit && snap_allowed => Plan::Snap,
        Ok(entries) => Plan::Log(header, entries),
        Err(_) => Plan::Drop,
    }
}
