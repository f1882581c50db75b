//! Apply: changing the tree by a decided txn (ZooKeeper's `DataTree.processTxn`).

use corral_jute::codes::{ErrorCode, OpCode};
use corral_jute::request::OpResult;

use crate::tree::{DataTree, Events};
use crate::txn::{Applied, Txn, TxnBody, TxnResult};

impl DataTree {
    /// Applies a txn and returns the writer's result and the watch triggers. Txns are applied
    /// in zxid order; the last zxid only moves forward.
    ///
    /// A txn that does not fit the tree (which prep prevents; it happens when replaying a log
    /// over a newer snapshot) gives `TxnResult::Error` and changes nothing, except that, as
    /// in ZooKeeper, deleting a missing child still raises its parent's pzxid, and the ops of
    /// a multi are applied one by one, each failing on its own.
    pub fn apply(&mut self, txn: &Txn) -> Applied {
        let mut events = Vec::new();
        let result = match &txn.body {
            TxnBody::Multi(ops) => TxnResult::Multi(self.apply_multi(txn, ops, &mut events)),
            TxnBody::CreateSession { .. } => TxnResult::Session,
            TxnBody::CloseSession { ephemerals } => {
                self.kill_session(txn, ephemerals, &mut events);
                TxnResult::Session
            }
            body => self
                .apply_op(txn, body, &mut events)
                .unwrap_or_else(TxnResult::Error),
        };
        if txn.zxid > self.last_zxid {
            self.last_zxid = txn.zxid;
        }
        // As ZooKeeper's processTxn: after every whole txn, whatever its outcome.
        self.digest_log.after_txn(txn.zxid, self.digest);
        Applied { result, events }
    }

    fn apply_op(
        &mut self,
        txn: &Txn,
        body: &TxnBody,
        events: &mut Events,
    ) -> Result<TxnResult, ErrorCode> {
        match body {
            TxnBody::Create {
                path,
                data,
                acl,
                ephemeral_owner,
                parent_cversion,
                ..
            } => {
                let stat = self.create_node(
                    path,
                    data.as_ref(),
                    acl,
                    *ephemeral_owner,
                    *parent_cversion,
                    txn.zxid,
                    txn.time_ms,
                    events,
                )?;
                Ok(TxnResult::Create {
                    path: path.clone(),
                    stat,
                })
            }
            TxnBody::Delete { path } => {
                self.delete_node(path, txn.zxid, events)?;
                Ok(TxnResult::Delete)
            }
            TxnBody::SetData {
                path,
                data,
                version,
            } => self
                .set_data(path, data.as_ref(), *version, txn.zxid, txn.time_ms, events)
                .map(TxnResult::SetData),
            TxnBody::SetAcl { path, acl, version } => {
                self.set_acl(path, acl, *version).map(TxnResult::SetAcl)
            }
            TxnBody::Check { .. } => Ok(TxnResult::Check),
            TxnBody::Error(code) => Err(*code),
            // Not valid as single ops here (a multi inside a multi, session txns).
            TxnBody::Multi(_) | TxnBody::CreateSession { .. } | TxnBody::CloseSession { .. } => {
                Err(ErrorCode::MarshallingError)
            }
        }
    }

    /// A multi. If any entry is an error the multi failed in prep: nothing is applied and the
    /// results are the entries' codes, with `Ok` for the non-error entries (ZooKeeper turns
    /// those into error results with code 0). Otherwise every op is applied in order.
    fn apply_multi(&mut self, txn: &Txn, ops: &[TxnBody], events: &mut Events) -> Vec<OpResult> {
        if ops.iter().any(|op| matches!(op, TxnBody::Error(_))) {
            return ops
                .iter()
                .map(|op| match op {
                    TxnBody::Error(code) => OpResult::Error(code.code()),
                    _ => OpResult::Error(ErrorCode::Ok.code()),
                })
                .collect();
        }
        ops.iter()
            .map(|op| match self.apply_op(txn, op, events) {
                Ok(TxnResult::Create { path, stat }) => match op {
                    TxnBody::Create {
                        op: OpCode::Create, ..
                    } => OpResult::Create(path),
                    _ => OpResult::Create2(path, stat),
                },
                Ok(TxnResult::Delete) => OpResult::Delete,
                Ok(TxnResult::SetData(stat)) => OpResult::SetData(stat),
                Ok(TxnResult::Check) => OpResult::Check,
                Ok(_) => OpResult::Error(ErrorCode::MarshallingError.code()),
                Err(code) => OpResult::Error(code.code()),
            })
            .collect()
    }

    /// closeSession (ZooKeeper's `killSession`): deletes the listed paths (a missing one is
    /// skipped), then any other ephemeral the session still owns, each with delete's events.
    fn kill_session(&mut self, txn: &Txn, listed: &[String], events: &mut Events) {
        for p in listed {
            // A missing node is ignored, as ZooKeeper logs and ignores it.
            let _ = self.delete_node(p, txn.zxid, events);
        }
        for p in self.ephemerals(txn.session_id) {
            let _ = self.delete_node(&p, txn.zxid, events);
        }
    }
}
