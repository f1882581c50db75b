//! Behaviour tests against ZooKeeper's semantics (DataTree, PrepRequestProcessor,
//! FinalRequestProcessor), with a small harness that plays the server's part.

mod basics;
mod digest;
mod errors;
mod inflight;
mod model;
mod multi;
mod quota;
mod session;
mod special;
mod txn_codec;
mod zk_cross;

use crate::Zxid;
use bytes::Bytes;
use corral_acl::{Acl, Id};
use corral_jute::codes::{ErrorCode, OpCode};
use corral_jute::records::{
    CheckVersionRequest, CreateRequest, DeleteRequest, SetAclRequest, SetDataRequest, Stat,
};
use corral_jute::request::Request;

use crate::{Applied, DataTree, DataTreeConfig, Pending, PrepContext, Txn, TxnBody};

/// Plays the server: zxids from 1 up, a clock, one session.
pub(crate) struct Harness {
    pub tree: DataTree,
    pub pending: Pending,
    /// The last zxid handed out, as a plain number.
    pub zxid: u64,
    pub time: i64,
    pub session: i64,
    pub auth: Vec<Id>,
}

impl Harness {
    pub fn new() -> Self {
        Harness::with_config(DataTreeConfig::default())
    }

    pub fn with_config(config: DataTreeConfig) -> Self {
        Harness {
            tree: DataTree::with_config(config),
            pending: Pending::new(),
            zxid: 0,
            time: 1000,
            session: 0x100,
            auth: Vec::new(),
        }
    }

    /// Preps with the next zxid (not applied).
    pub fn prep(&mut self, req: &Request) -> (Zxid, Result<TxnBody, ErrorCode>) {
        self.zxid += 1;
        self.time += 10;
        let ctx = PrepContext {
            session_id: self.session,
            zxid: Zxid(self.zxid),
            time_ms: self.time,
            auth_ids: &self.auth,
            providers: corral_acl::Providers::BUILT_IN,
        };
        let r = self.tree.prep(&mut self.pending, &ctx, req);
        (Zxid(self.zxid), r)
    }

    pub fn txn(&self, zxid: Zxid, body: TxnBody) -> Txn {
        Txn {
            zxid,
            time_ms: self.time,
            session_id: self.session,
            cxid: 7,
            body,
        }
    }

    /// The closeSession of the harness's session, prepped with the next zxid (not applied).
    pub fn prep_close(&mut self) -> (Zxid, TxnBody) {
        self.zxid += 1;
        let ctx = PrepContext {
            session_id: self.session,
            zxid: Zxid(self.zxid),
            time_ms: self.time,
            auth_ids: &[],
            providers: corral_acl::Providers::BUILT_IN,
        };
        let body = self.tree.prep_close_session(&mut self.pending, &ctx);
        (Zxid(self.zxid), body)
    }

    /// Applies a prepped body (or its error) as the server does.
    pub fn apply(&mut self, zxid: Zxid, body: Result<TxnBody, ErrorCode>) -> Applied {
        let body = body.unwrap_or_else(TxnBody::Error);
        let txn = self.txn(zxid, body);
        let applied = self.tree.apply(&txn);
        self.pending.applied(zxid);
        applied
    }

    /// prep + apply. `Err` when prep refused (the error txn is applied too).
    pub fn write(&mut self, req: &Request) -> Result<Applied, ErrorCode> {
        let (zxid, body) = self.prep(req);
        let err = body.as_ref().err().copied();
        let applied = self.apply(zxid, body);
        match err {
            Some(code) => Err(code),
            None => Ok(applied),
        }
    }

    pub fn create(&mut self, path: &str, data: &str) -> Applied {
        match self.write(&create(path, data, 0)) {
            Ok(a) => a,
            Err(e) => panic!("create {path}: {e:?}"),
        }
    }

    pub fn stat(&self, path: &str) -> Stat {
        match self.tree.stat(path) {
            Some(s) => s,
            None => panic!("no node {path}"),
        }
    }
}

pub(crate) fn open() -> Vec<Acl> {
    corral_acl::open_acl_unsafe()
}

pub(crate) fn create(path: &str, data: &str, flags: i32) -> Request {
    create_op(OpCode::Create, path, data, flags, None)
}

pub(crate) fn create_op(
    op: OpCode,
    path: &str,
    data: &str,
    flags: i32,
    ttl: Option<i64>,
) -> Request {
    Request::Create {
        op,
        req: CreateRequest {
            path: path.into(),
            data: Some(Bytes::copy_from_slice(data.as_bytes())),
            acl: open(),
            flags,
        },
        ttl,
    }
}

pub(crate) fn create_acl(path: &str, acl: Vec<Acl>, flags: i32) -> Request {
    Request::Create {
        op: OpCode::Create,
        req: CreateRequest {
            path: path.into(),
            data: None,
            acl,
            flags,
        },
        ttl: None,
    }
}

pub(crate) fn delete(path: &str, version: i32) -> Request {
    Request::Delete {
        op: OpCode::Delete,
        req: DeleteRequest {
            path: path.into(),
            version,
        },
    }
}

pub(crate) fn delete_container(path: &str) -> Request {
    Request::Delete {
        op: OpCode::DeleteContainer,
        req: DeleteRequest {
            path: path.into(),
            version: -1,
        },
    }
}

pub(crate) fn set(path: &str, data: &str, version: i32) -> Request {
    Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(Bytes::copy_from_slice(data.as_bytes())),
        version,
    })
}

pub(crate) fn set_acl(path: &str, acl: Vec<Acl>, version: i32) -> Request {
    Request::SetAcl(SetAclRequest {
        path: path.into(),
        acl,
        version,
    })
}

pub(crate) fn check(path: &str, version: i32) -> Request {
    Request::Check(CheckVersionRequest {
        path: path.into(),
        version,
    })
}

pub(crate) fn digest(user: &str) -> Id {
    Id {
        scheme: "digest".into(),
        id: format!("{user}:hash"),
    }
}

pub(crate) fn acl_for(perms: i32, id: Id) -> Vec<Acl> {
    vec![Acl { perms, id }]
}
