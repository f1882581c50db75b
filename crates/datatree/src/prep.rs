//! Prep: deciding what a write request does, against the tree plus the changes still in
//! flight (ZooKeeper's `PrepRequestProcessor.pRequest2Txn`). Every check runs before any
//! change record is added, so a request that fails leaves `pending` as it found it.

use crate::Zxid;
use std::collections::BTreeSet;
use std::sync::Arc;

use corral_acl::{perms, Id};
use corral_jute::codes::{CreateMode, ErrorCode, OpCode};
use corral_jute::records::{
    CheckVersionRequest, CreateRequest, DeleteRequest, SetAclRequest, SetDataRequest,
};
use corral_jute::request::Request;

use crate::ephemeral::{self, EphemeralType};
use crate::node::NodeStat;
use crate::path;
use crate::pending::{NodeRecord, Pending};
use crate::tree::{DataTree, CONFIG, QUOTA, ZOOKEEPER};
use crate::txn::TxnBody;

/// Who asks, and the zxid and time the leader gives the txn.
#[derive(Debug, Clone, Copy)]
pub struct PrepContext<'a> {
    /// The requesting session (owner of the ephemerals it creates).
    pub session_id: i64,
    /// The zxid the txn will carry; every op of a multi shares it.
    pub zxid: Zxid,
    /// The leader's wall clock, ms: ctime / mtime of what the txn creates or changes.
    pub time_ms: i64,
    /// The session's authenticated ids (for ACL checks and `auth` ACL expansion).
    pub auth_ids: &'a [Id],
    /// The authentication providers registered beyond ip and digest (`sasl`).
    pub providers: corral_acl::Providers,
}

/// ZooKeeper's `checkAndIncVersion`: `expected` -1 matches any version; the next version
/// wraps like a Java int but skips -1 (from -2 it goes to 0; ZOOKEEPER-4743), so that -1
/// keeps meaning "any version".
fn check_and_inc_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(match current.wrapping_add(1) {
        -1 => 0,
        next => next,
    })
}

/// The key change records are filed under: ZooKeeper files the root's records under `""`
/// for creates and deletes of its children; Corral always uses `/`.
fn key(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

/// ZooKeeper's `getParentPathAndValidate` (delete and deleteContainer): a path with no `/`,
/// with a NUL, or one of `/`, `/zookeeper`, `/zookeeper/quota`, `/zookeeper/config` is
/// `BadArguments`.
fn parent_for_delete(p: &str) -> Result<&str, ErrorCode> {
    if !p.contains('/') || p.contains('\0') || matches!(p, "/" | ZOOKEEPER | QUOTA | CONFIG) {
        return Err(ErrorCode::BadArguments);
    }
    Ok(path::parent(p))
}

fn require(acl: &[corral_acl::Acl], perm: i32, ctx: &PrepContext<'_>) -> Result<(), ErrorCode> {
    if corral_acl::check_with(acl, perm, ctx.auth_ids, ctx.providers) {
        Ok(())
    } else {
        Err(ErrorCode::NoAuth)
    }
}

impl DataTree {
    /// The state of a node once the in-flight changes apply (ZooKeeper's
    /// `getRecordForPath`); `NoNode` if it does not exist or will be deleted.
    fn record(&self, pending: &Pending, p: &str) -> Result<NodeRecord, ErrorCode> {
        match pending.get(key(p)) {
            Some(Some(r)) => Ok(r.clone()),
            Some(None) => Err(ErrorCode::NoNode),
            None => {
                let (stat, child_count) = self.node_record(p).ok_or(ErrorCode::NoNode)?;
                let acl = self.node_acl_arc(p).ok_or(ErrorCode::NoNode)?;
                let data_len = self.find(p).map_or(0, |n| n.data_len());
                Ok(NodeRecord {
                    stat,
                    child_count,
                    acl,
                    data_len,
                })
            }
        }
    }

    /// Decides what a write request does. `Ok` is the txn to log and apply; `Err` is the code
    /// the write failed with (the server logs `TxnBody::Error(code)`, which still takes the
    /// zxid, as ZooKeeper does). A multi is `Ok` even when one of its ops fails: the result
    /// is a `TxnBody::Multi` of `Error` entries and nothing stays in `pending`; only an
    /// enforced quota check that cannot parse a limits / stats node fails a whole multi
    /// (`MarshallingError`, see [`crate::quota`]).
    ///
    /// Writes are create / create2 / createContainer / createTTL, delete / deleteContainer,
    /// setData, setACL, check, multi and closeSession (the same as
    /// [`DataTree::prep_close_session`]). Anything else is `Unimplemented`, reconfig
    /// `ReconfigDisabled` (ZooKeeper's default). Session checks (expired, moved, local
    /// sessions) are the server's.
    pub fn prep(
        &self,
        pending: &mut Pending,
        ctx: &PrepContext<'_>,
        req: &Request,
    ) -> Result<TxnBody, ErrorCode> {
        match req {
            Request::Multi(ops) => self.prep_multi(pending, ctx, ops),
            Request::CloseSession => Ok(self.prep_close_session(pending, ctx)),
            Request::Unsupported {
                op: OpCode::Reconfig,
                ..
            } => Err(ErrorCode::ReconfigDisabled),
            _ => self.prep_op(pending, ctx, req),
        }
    }

    fn prep_op(
        &self,
        pending: &mut Pending,
        ctx: &PrepContext<'_>,
        req: &Request,
    ) -> Result<TxnBody, ErrorCode> {
        match req {
            Request::Create { op, req, ttl } => self.prep_create(pending, ctx, *op, req, *ttl),
            Request::Delete {
                op: OpCode::DeleteContainer,
                req,
            } => self.prep_delete_container(pending, ctx, &req.path),
            Request::Delete { req, .. } => self.prep_delete(pending, ctx, req),
            Request::SetData(r) => self.prep_set_data(pending, ctx, r),
            Request::SetAcl(r) => self.prep_set_acl(pending, ctx, r),
            Request::Check(r) => self.prep_check(pending, ctx, r),
            _ => Err(ErrorCode::Unimplemented),
        }
    }

    /// A multi: each op prepped in order against the changes of the ones before it. At the
    /// first failure the multi's change records are rolled back and the result is `Error(Ok)`
    /// for the ops before, the failure's code, `Error(RuntimeInconsistency)` for the ops after
    /// (ZooKeeper's `PrepRequestProcessor` multi case). An op that may not be in a multi makes
    /// the whole request `MarshallingError`, as ZooKeeper fails to read such a request.
    fn prep_multi(
        &self,
        pending: &mut Pending,
        ctx: &PrepContext<'_>,
        ops: &[Request],
    ) -> Result<TxnBody, ErrorCode> {
        let allowed = |r: &Request| {
            matches!(
                r,
                Request::Create { .. }
                    | Request::Delete { .. }
                    | Request::SetData(_)
                    | Request::Check(_)
            )
        };
        if !ops.iter().all(allowed) {
            return Err(ErrorCode::MarshallingError);
        }
        let mut bodies = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            match self.prep_op(pending, ctx, op) {
                Ok(body) => bodies.push(body),
                Err(ErrorCode::MarshallingError) => {
                    // Only the quota check fails an op this way (limits / stats data that
                    // ZooKeeper's StatsTrack throws on): ZooKeeper's catch-all in prep then
                    // fails the whole multi with MarshallingError.
                    pending.rollback(ctx.zxid);
                    return Err(ErrorCode::MarshallingError);
                }
                Err(code) => {
                    pending.rollback(ctx.zxid);
                    let mut out = vec![TxnBody::Error(ErrorCode::Ok); i];
                    out.push(TxnBody::Error(code));
                    out.resize(ops.len(), TxnBody::Error(ErrorCode::RuntimeInconsistency));
                    return Ok(TxnBody::Multi(out));
                }
            }
        }
        Ok(TxnBody::Multi(bodies))
    }

    /// create / create2 / createContainer / createTTL, checked in ZooKeeper's order: flags
    /// (`BadArguments`), TTL without extended types (`Unimplemented`), TTL value
    /// (`BadArguments`), a path with no `/` or a NUL (`BadArguments`), the ACL
    /// (`InvalidAcl`), the parent (`NoNode`), CREATE on the parent (`NoAuth`), then with the
    /// sequence suffix the whole path (`BadArguments`), the node (`NodeExists`), an ephemeral
    /// parent (`NoChildrenForEphemerals`), an enforced hard quota (`QuotaExceeded`).
    fn prep_create(
        &self,
        pending: &mut Pending,
        ctx: &PrepContext<'_>,
        op: OpCode,
        req: &CreateRequest,
        ttl: Option<i64>,
    ) -> Result<TxnBody, ErrorCode> {
        let mode = CreateMode::from_code(req.flags).map_err(|_| ErrorCode::BadArguments)?;
        if mode.is_ttl() && !self.config.extended_types_enabled {
            return Err(ErrorCode::Unimplemented);
        }
        let ttl = ttl.unwrap_or(-1);
        let ttl_owner = ephemeral::ttl_owner(ttl);
        if mode.is_ttl() {
            if ttl_owner.is_none() {
                return Err(ErrorCode::BadArguments);
            }
        } else if ttl >= 0 || op == OpCode::CreateTtl {
            return Err(ErrorCode::BadArguments);
        }
        let p = req.path.as_str();
        if !p.contains('/') || p.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        let parent_path = path::parent(p);
        let acl = corral_acl::fixup_acl_with(&req.acl, ctx.auth_ids, ctx.providers)
            .map_err(|e| e.code())?;
        let parent = self.record(pending, parent_path)?;
        require(&parent.acl, perms::CREATE, ctx)?;
        let mut final_path = req.path.clone();
        if mode.is_sequential() {
            final_path.push_str(&format!("{:010}", parent.stat.cversion));
        }
        path::validate(&final_path)?;
        if self.record(pending, &final_path).is_ok() {
            return Err(ErrorCode::NodeExists);
        }
        if self.ephemeral_type(parent.stat.ephemeral_owner) == EphemeralType::Normal {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let data_len = req.data.as_ref().map_or(0, |d| d.len());
        self.check_quota(&final_path, None, data_len)?;
        let parent_cversion = parent.stat.cversion.wrapping_add(1);
        // The owner the applied txn gives the node: ZooKeeper's txn type decides containers
        // and TTL nodes (createContainer / createTTL), the ephemeral flag the rest.
        let ephemeral_owner = match op {
            OpCode::CreateContainer => ephemeral::CONTAINER_EPHEMERAL_OWNER,
            OpCode::CreateTtl => ttl_owner.unwrap_or(0),
            _ if mode.is_ephemeral() => ctx.session_id,
            _ => 0,
        };
        let mut parent_rec = parent;
        parent_rec.child_count += 1;
        parent_rec.stat.cversion = parent_cversion;
        parent_rec.stat.pzxid = ctx.zxid;
        pending.add(ctx.zxid, key(parent_path), Some(parent_rec));
        pending.add(
            ctx.zxid,
            &final_path,
            Some(NodeRecord {
                stat: NodeStat::created(ctx.zxid, ctx.time_ms, ephemeral_owner),
                child_count: 0,
                acl: Arc::from(acl.as_slice()),
                data_len,
            }),
        );
        Ok(TxnBody::Create {
            path: final_path,
            data: req.data.clone(),
            acl,
            ephemeral_owner,
            parent_cversion,
            op,
        })
    }

    /// Records the deletion of `p` (whose parent is `parent`) in `pending`.
    fn add_delete(&self, pending: &mut Pending, zxid: Zxid, p: &str, parent: Option<NodeRecord>) {
        if let Some(mut parent_rec) = parent {
            parent_rec.child_count -= 1;
            parent_rec.stat.pzxid = zxid;
            pending.add(zxid, key(path::parent(p)), Some(parent_rec));
        }
        pending.add(zxid, p, None);
    }

    /// delete, checked in ZooKeeper's order: the path (`BadArguments`, including `/` and
    /// ZooKeeper's own nodes), the parent (`NoNode`), DELETE on the parent (`NoAuth`), the
    /// node (`NoNode`), its version (`BadVersion`), its children (`NotEmpty`).
    fn prep_delete(
        &self,
        pending: &mut Pending,
        ctx: &PrepContext<'_>,
        req: &DeleteRequest,
    ) -> Result<TxnBody, ErrorCode> {
        let p = req.path.as_str();
        let parent_path = parent_for_delete(p)?;
        let parent = self.record(pending, parent_path)?;
        require(&parent.acl, perms::DELETE, ctx)?;
        let node = self.record(pending, p)?;
        check_and_inc_version(node.stat.version, req.version)?;
        if node.child_count > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        self.add_delete(pending, ctx.zxid, p, Some(parent));
        Ok(TxnBody::Delete {
            path: req.path.clone(),
        })
    }

    /// deleteContainer (sent by the server's container / TTL reaper), checked in ZooKeeper's
    /// order: the path (`BadArguments`), the node (`NoNode`), its children (`NotEmpty`), a
    /// session-owned ephemeral (`BadVersion`), the parent (`NoNode`). No ACL or version check.
    fn prep_delete_container(
        &self,
        pending: &mut Pending,
        ctx: &PrepContext<'_>,
        p: &str,
    ) -> Result<TxnBody, ErrorCode> {
        let parent_path = parent_for_delete(p)?;
        let node = self.record(pending, p)?;
        if node.child_count > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        if self.ephemeral_type(node.stat.ephemeral_owner) == EphemeralType::Normal {
            return Err(ErrorCode::BadVersion);
        }
        let parent = self.record(pending, parent_path)?;
        self.add_delete(pending, ctx.zxid, p, Some(parent));
        Ok(TxnBody::Delete {
            path: p.to_string(),
        })
    }

    /// setData: the path (`BadArguments`), the node (`NoNode`), WRITE on it (`NoAuth`), an
    /// enforced hard quota (`QuotaExceeded`), its version (`BadVersion`).
    fn prep_set_data(
        &self,
        pending: &mut Pending,
        ctx: &PrepContext<'_>,
        req: &SetDataRequest,
    ) -> Result<TxnBody, ErrorCode> {
        path::validate(&req.path)?;
        let mut node = self.record(pending, &req.path)?;
        require(&node.acl, perms::WRITE, ctx)?;
        let data_len = req.data.as_ref().map_or(0, |d| d.len());
        self.check_quota(&req.path, Some(node.data_len), data_len)?;
        let version = check_and_inc_version(node.stat.version, req.version)?;
        node.data_len = data_len;
        node.stat.version = version;
        node.stat.mtime = ctx.time_ms;
        node.stat.mzxid = ctx.zxid;
        pending.add(ctx.zxid, key(&req.path), Some(node));
        Ok(TxnBody::SetData {
            path: req.path.clone(),
            data: req.data.clone(),
            version,
        })
    }

    /// setACL: the path (`BadArguments`), the new ACL (`InvalidAcl`), the node (`NoNode`),
    /// ADMIN on it (`NoAuth`), its aversion (`BadVersion`).
    fn prep_set_acl(
        &self,
        pending: &mut Pending,
        ctx: &PrepContext<'_>,
        req: &SetAclRequest,
    ) -> Result<TxnBody, ErrorCode> {
        path::validate(&req.path)?;
        let acl = corral_acl::fixup_acl_with(&req.acl, ctx.auth_ids, ctx.providers)
            .map_err(|e| e.code())?;
        let mut node = self.record(pending, &req.path)?;
        require(&node.acl, perms::ADMIN, ctx)?;
        let version = check_and_inc_version(node.stat.aversion, req.version)?;
        node.stat.aversion = version;
        node.acl = Arc::from(acl.as_slice());
        pending.add(ctx.zxid, key(&req.path), Some(node));
        Ok(TxnBody::SetAcl {
            path: req.path.clone(),
            acl,
            version,
        })
    }

    /// check: the path (`BadArguments`), the node (`NoNode`), READ on it (`NoAuth`), its
    /// version (`BadVersion`).
    fn prep_check(
        &self,
        pending: &mut Pending,
        ctx: &PrepContext<'_>,
        req: &CheckVersionRequest,
    ) -> Result<TxnBody, ErrorCode> {
        path::validate(&req.path)?;
        let node = self.record(pending, &req.path)?;
        require(&node.acl, perms::READ, ctx)?;
        let version = check_and_inc_version(node.stat.version, req.version)?;
        Ok(TxnBody::Check {
            path: req.path.clone(),
            version,
        })
    }

    /// closeSession: the session's ephemerals in the tree, plus those in-flight creates give
    /// it, minus those in-flight deletes remove (walking the in-flight changes in order, as
    /// ZooKeeper's `PrepRequestProcessor`); each is recorded as deleted in `pending`.
    pub fn prep_close_session(&self, pending: &mut Pending, ctx: &PrepContext<'_>) -> TxnBody {
        let mut paths: BTreeSet<String> = self.ephemerals(ctx.session_id).into_iter().collect();
        for (p, rec) in pending.records_in_order() {
            match rec {
                None => {
                    paths.remove(p);
                }
                Some(r) if ctx.session_id != 0 && r.stat.ephemeral_owner == ctx.session_id => {
                    paths.insert(p.to_string());
                }
                Some(_) => {}
            }
        }
        for p in &paths {
            let parent = self.record(pending, path::parent(p)).ok();
            self.add_delete(pending, ctx.zxid, p, parent);
        }
        TxnBody::CloseSession {
            ephemerals: paths.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_and_inc_version;
    use corral_jute::codes::ErrorCode;

    #[test]
    fn version_check_and_wrap() {
        assert_eq!(check_and_inc_version(3, -1), Ok(4));
        assert_eq!(check_and_inc_version(3, 3), Ok(4));
        assert_eq!(check_and_inc_version(3, 2), Err(ErrorCode::BadVersion));
        assert_eq!(check_and_inc_version(i32::MAX, -1), Ok(i32::MIN));
        assert_eq!(check_and_inc_version(-2, -1), Ok(0));
    }
}
