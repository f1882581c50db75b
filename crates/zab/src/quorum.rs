//! The voting view: which servers vote and what a quorum of them is.
//!
//! ZooKeeper's `QuorumMaj`: a set of servers is a quorum when it holds more
//! than half of the voters. The voter set is a value carried by the
//! [`Config`](crate::Config), not a constant, so that dynamic reconfiguration
//! can later hand the engine a new one.

use std::collections::BTreeSet;

use crate::PeerId;

/// The voters of one configuration and the majority rule over them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VoterSet {
    voters: BTreeSet<PeerId>,
}

impl VoterSet {
    /// A voter set from ids; duplicates collapse.
    pub fn new(ids: impl IntoIterator<Item = PeerId>) -> VoterSet {
        VoterSet {
            voters: ids.into_iter().collect(),
        }
    }

    /// Is `id` a voter?
    pub fn contains(&self, id: PeerId) -> bool {
        self.voters.contains(&id)
    }

    /// The voters in ascending id order.
    pub fn iter(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.voters.iter().copied()
    }

    /// Number of voters.
    pub fn len(&self) -> usize {
        self.voters.len()
    }

    /// No voters at all (an unusable configuration).
    pub fn is_empty(&self) -> bool {
        self.voters.is_empty()
    }

    /// The smallest number of voters that forms a quorum.
    pub fn quorum_size(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    /// Do the voters among `ids` form a quorum? Non-voters are ignored, and
    /// an id counts once however often it appears.
    pub fn is_quorum<'a>(&self, ids: impl IntoIterator<Item = &'a PeerId>) -> bool {
        let counted: BTreeSet<PeerId> = ids
            .into_iter()
            .copied()
            .filter(|id| self.voters.contains(id))
            .collect();
        counted.len() >= self.quorum_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_of_voters_only() {
        let v = VoterSet::new([1, 2, 3, 4, 5]);
        assert_eq!(v.quorum_size(), 3);
        assert!(!v.is_quorum(&[1, 2]));
        assert!(!v.is_quorum(&[1, 2, 9, 10]), "observers never count");
        assert!(!v.is_quorum(&[1, 1, 2]), "an id counts once");
        assert!(v.is_quorum(&[1, 2, 5]));
        assert_eq!(VoterSet::new([7]).quorum_size(), 1);
        assert_eq!(VoterSet::new([1, 2, 3, 4]).quorum_size(), 3);
    }
}
