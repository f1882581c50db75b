//! What an ensemble member counts per link to a peer, as ZooKeeper's LearnerHandler counts
//! per learner connection, for the AdminServer's `observers` command: when the link came
//! up, frames in (here) and out (the transport), the requests the peer forwarded (the core),
//! and what the engine last sent it.

use std::collections::BTreeMap;

use corral_zab::Zxid;
use corral_zab_runtime::{Inbound, NetEvent};

use crate::core::observers::ObserverView;
use crate::core::Now;
use crate::member::MemberNode;

/// A link to a peer as ZooKeeper's LearnerHandler counts one (the AdminServer's
/// `observers`): since it came up, or since `observer_connection_stat_reset`.
struct LinkStats {
    /// When it came up (wall clock, ms).
    since_wall_ms: i64,
    /// Frames received on it (engine and service frames).
    received: u64,
    /// The transport's count of frames sent to the peer, and the core's count of its
    /// requests, when the counts (re)started.
    sent_base: u64,
    requests_base: u64,
    /// The last zxid sent to it when the counts restarted (ZooKeeper then shows -1 until
    /// it sends one more).
    zxid_base: Zxid,
}

/// Every peer's [`LinkStats`].
#[derive(Default)]
pub(crate) struct Links(BTreeMap<u64, LinkStats>);

impl Links {
    /// A link came up, went down, or carried a frame in.
    pub(crate) fn count(&mut self, node: &mut MemberNode, ev: Option<&Inbound>, now: Now) {
        match ev {
            Some(Inbound::Net(NetEvent::Connected(peer))) => {
                let stats = LinkStats {
                    since_wall_ms: now.wall_ms,
                    received: 0,
                    sent_base: node.transport().frames_sent(*peer),
                    requests_base: node.state_machine().core().learner_requests(*peer),
                    zxid_base: Zxid::ZERO,
                };
                self.0.insert(*peer, stats);
            }
            Some(Inbound::Net(NetEvent::Disconnected(peer))) => {
                self.0.remove(peer);
            }
            Some(Inbound::Net(NetEvent::Frame { from, .. }))
            | Some(Inbound::Service { from, .. }) => {
                if let Some(l) = self.0.get_mut(from) {
                    l.received += 1;
                }
            }
            None => {}
        }
    }

    /// A leader's observers for the core (the AdminServer's `observers`), and on
    /// `observer_connection_stat_reset` restarts their counts, as ZooKeeper's leader resets
    /// its observing learners' handlers.
    pub(crate) fn observers(&mut self, node: &mut MemberNode, command: &str) -> Vec<ObserverView> {
        let observers: Vec<_> = node
            .learners()
            .into_iter()
            .filter(|l| l.observer && l.forwarding)
            .collect();
        if matches!(command, "observer_connection_stat_reset" | "orst") {
            for o in &observers {
                let sent = node.transport().frames_sent(o.id);
                let requests = node.state_machine().core().learner_requests(o.id);
                if let Some(l) = self.0.get_mut(&o.id) {
                    (l.received, l.sent_base, l.requests_base) = (0, sent, requests);
                    l.zxid_base = o.last_sent;
                }
            }
        }
        let mut views = Vec::with_capacity(observers.len());
        for o in observers {
            let transport = node.transport();
            let link = transport.peer().link_info(o.id);
            let sent = transport.frames_sent(o.id);
            let requests = node.state_machine().core().learner_requests(o.id);
            let stats = self.0.get(&o.id);
            views.push(ObserverView {
                sid: o.id,
                remote_socket_address: link
                    .map_or_else(|| "<null>".to_string(), |l| format!("/{}", l.remote)),
                established_ms: stats.map_or(0, |s| s.since_wall_ms),
                queued_packets: link.map_or(0, |l| l.queued_frames as u64),
                queued_packets_size: link.map_or(0, |l| l.queued_bytes as u64),
                packets_received: stats.map_or(0, |s| s.received),
                packets_sent: sent.saturating_sub(stats.map_or(sent, |s| s.sent_base)),
                requests: requests.saturating_sub(stats.map_or(requests, |s| s.requests_base)),
                last_zxid: if o.last_sent <= stats.map_or(Zxid::ZERO, |s| s.zxid_base) {
                    -1
                } else {
                    o.last_sent.to_wire()
                },
            });
        }
        views
    }
}
