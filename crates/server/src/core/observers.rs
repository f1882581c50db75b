//! A leader's observers as the AdminServer's `observers` command shows them: ZooKeeper's
//! `SyncedObserverConsCommand`, one `LearnerHandler.getLearnerHandlerInfo` object per
//! observing learner. What only the member's loop sees (the link, frames in and out, the
//! engine's view) comes in as [`ObserverView`]s before each command; the requests each
//! learner forwarded are counted here, as their messages arrive.

use serde_json::{json, Map, Value};

use super::quorum::ServerRole;
use super::Core;

/// One observing learner of a leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObserverView {
    /// Its server id.
    pub sid: u64,
    /// Its end of the link, as Java prints a socket address (`/127.0.0.1:40123`), or
    /// `<null>` when there is no link.
    pub remote_socket_address: String,
    /// When the link came up (wall clock, ms: Jackson writes a `Date` so).
    pub established_ms: i64,
    /// Frames waiting in the link's outbound queue.
    pub queued_packets: u64,
    /// Their bytes.
    pub queued_packets_size: u64,
    /// Frames received from it on this link.
    pub packets_received: u64,
    /// Frames sent to it on this link.
    pub packets_sent: u64,
    /// Requests it forwarded on this link.
    pub requests: u64,
    /// The last zxid sent to it (-1 before any, as ZooKeeper).
    pub last_zxid: i64,
}

impl Core {
    /// A leader's observers as the member sees them now (none on other roles).
    pub fn set_observers(&mut self, observers: Vec<ObserverView>) {
        self.quorum.observers = observers;
    }

    /// Requests (writes, session creations and closes, syncs) `learner` forwarded to this
    /// leader since the start (ZooKeeper's REQUEST packets).
    pub fn learner_requests(&self, learner: u64) -> u64 {
        self.quorum
            .learner_requests
            .get(&learner)
            .copied()
            .unwrap_or(0)
    }

    /// Counts a request `learner` forwarded.
    pub(super) fn count_learner_request(&mut self, learner: u64) {
        *self.quorum.learner_requests.entry(learner).or_default() += 1;
    }

    /// The `observers` command's fields: `synced_observers` and the observers' objects.
    pub(super) fn observers_command(&self, m: &mut Map<String, Value>) {
        let observers: &[ObserverView] = if self.role == ServerRole::Leader {
            &self.quorum.observers
        } else {
            &[]
        };
        m.insert("synced_observers".into(), json!(observers.len()));
        let list: Vec<Value> = observers
            .iter()
            .map(|o| {
                json!({
                    "remote_socket_address": o.remote_socket_address,
                    "sid": o.sid,
                    "established": o.established_ms,
                    "queued_packets": o.queued_packets,
                    "queued_packets_size": o.queued_packets_size,
                    "packets_received": o.packets_received,
                    "packets_sent": o.packets_sent,
                    "requests": o.requests,
                    "last_zxid": o.last_zxid,
                })
            })
            .collect();
        m.insert("observers".into(), Value::Array(list));
    }
}
