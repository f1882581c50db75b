//! The network model: one FIFO link per ordered pair of servers (ZAB assumes
//! FIFO channels, as TCP gives ZooKeeper), a delay per message that never
//! lets a message overtake an earlier one on its link, partitions, and link
//! resets. Cutting or resetting a link drops what was in flight both ways;
//! the simulator then tells both ends (`Zab::disconnected`), as a broken TCP
//! connection would. Messages sent over a cut link are lost.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::{Message, PeerId};

#[derive(Debug, Default)]
pub struct Network {
    links: BTreeMap<(PeerId, PeerId), VecDeque<(u64, Message)>>,
    cut: BTreeSet<(PeerId, PeerId)>,
}

fn pair(a: PeerId, b: PeerId) -> (PeerId, PeerId) {
    (a.min(b), a.max(b))
}

impl Network {
    /// Queues `msg` to arrive no earlier than `now + delay` and never before
    /// what was sent on the same link earlier.
    pub fn send(&mut self, from: PeerId, to: PeerId, msg: Message, now: u64, delay: u64) {
        if self.cut.contains(&pair(from, to)) {
            return;
        }
        let q = self.links.entry((from, to)).or_default();
        let due = q
            .back()
            .map_or(now + delay, |&(last, _)| last.max(now + delay));
        q.push_back((due, msg));
    }

    /// Links whose first message is due, in link order.
    pub fn due(&self, now: u64) -> Vec<(PeerId, PeerId)> {
        self.links
            .iter()
            .filter(|(_, q)| q.front().is_some_and(|&(due, _)| due <= now))
            .map(|(&k, _)| k)
            .collect()
    }

    pub fn pop(&mut self, from: PeerId, to: PeerId) -> Option<Message> {
        self.links.get_mut(&(from, to))?.pop_front().map(|(_, m)| m)
    }

    /// Drops everything in flight between `a` and `b`, both ways.
    pub fn reset(&mut self, a: PeerId, b: PeerId) {
        self.links.remove(&(a, b));
        self.links.remove(&(b, a));
    }

    /// Cuts the link; true if it was up.
    pub fn cut(&mut self, a: PeerId, b: PeerId) -> bool {
        self.reset(a, b);
        self.cut.insert(pair(a, b))
    }

    pub fn is_cut(&self, a: PeerId, b: PeerId) -> bool {
        self.cut.contains(&pair(a, b))
    }

    pub fn heal(&mut self) {
        self.cut.clear();
    }

    pub fn in_flight(&self) -> usize {
        self.links.values().map(VecDeque::len).sum()
    }
}
