//! The replicated state: the tree, the session table (id -> timeout, what a snapshot holds)
//! and the applied zxid. It changes only by applying committed txns, in zxid order, so every
//! server of an ensemble that applied the same txns holds the same state (ZooKeeper's
//! ZKDatabase: DataTree plus sessionsWithTimeouts).

use corral_zxid::Zxid;
use std::collections::BTreeMap;

use corral_datatree::{Applied, DataTree, Txn, TxnBody};

/// The tree and the sessions, as committed txns made them.
pub struct ReplicatedState {
    tree: DataTree,
    /// Sessions whose createSession is applied and closeSession is not: id -> timeout (ms).
    sessions: BTreeMap<i64, i32>,
}

impl ReplicatedState {
    /// The state recovered from a snapshot and the log (or an empty tree).
    pub fn new(tree: DataTree, sessions: BTreeMap<i64, i32>) -> ReplicatedState {
        ReplicatedState { tree, sessions }
    }

    /// Applies one committed txn: the tree changes (see [`DataTree::apply`]), createSession
    /// adds its session, closeSession removes it.
    pub fn apply(&mut self, txn: &Txn) -> Applied {
        apply_txn(&mut self.tree, &mut self.sessions, txn)
    }

    /// The last applied zxid.
    pub fn applied_zxid(&self) -> Zxid {
        self.tree.last_zxid()
    }

    /// The tree, for reads.
    pub fn tree(&self) -> &DataTree {
        &self.tree
    }

    /// The tree, for what does not change its content: prep's lookups, snapshot steps.
    pub(crate) fn tree_mut(&mut self) -> &mut DataTree {
        &mut self.tree
    }

    /// The applied sessions: id -> timeout (ms).
    pub fn sessions(&self) -> &BTreeMap<i64, i32> {
        &self.sessions
    }

    /// Starts an incremental snapshot of the tree and copies the sessions, both exactly as
    /// they are at the returned zxid.
    pub fn begin_snapshot(
        &mut self,
    ) -> Result<(Zxid, BTreeMap<i64, i32>), corral_datatree::TreeSnapshotError> {
        let zxid = self.tree.begin_snapshot()?;
        Ok((zxid, self.sessions.clone()))
    }
}

/// Applies a committed txn to a tree and its session table: the one definition the running
/// server and recovery share.
pub fn apply_txn(tree: &mut DataTree, sessions: &mut BTreeMap<i64, i32>, txn: &Txn) -> Applied {
    match &txn.body {
        TxnBody::CreateSession { timeout_ms } => {
            sessions.insert(txn.session_id, *timeout_ms);
        }
        TxnBody::CloseSession { .. } => {
            sessions.remove(&txn.session_id);
        }
        _ => {}
    }
    tree.apply(txn)
}
