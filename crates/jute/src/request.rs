//! Client requests decoded into one typed value per op, including multi and multiRead, and
//! the multi response.

use bytes::{Bytes, BytesMut};

use crate::codes::OpCode;
use crate::io::{Jute, Reader};
use crate::records::*;
use crate::JuteError;

/// A client request body, typed by its op code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// create, create2, createContainer, createTTL (`op` says which reply shape is owed).
    Create {
        /// Which of the create ops.
        op: OpCode,
        /// Path, data, ACL, flags.
        req: CreateRequest,
        /// The TTL of a createTTL.
        ttl: Option<i64>,
    },
    /// delete or deleteContainer.
    Delete {
        /// Which of the two.
        op: OpCode,
        /// Path and version.
        req: DeleteRequest,
    },
    /// exists.
    Exists(ExistsRequest),
    /// getData.
    GetData(GetDataRequest),
    /// setData.
    SetData(SetDataRequest),
    /// getACL.
    GetAcl(PathRequest),
    /// setACL.
    SetAcl(SetAclRequest),
    /// getChildren.
    GetChildren(GetChildrenRequest),
    /// getChildren2.
    GetChildren2(GetChildrenRequest),
    /// sync.
    Sync(PathRequest),
    /// check (a multi op; alone it is answered like ZooKeeper does).
    Check(CheckVersionRequest),
    /// multi: the write ops, all or nothing.
    Multi(Vec<Request>),
    /// multiRead: getData / getChildren ops.
    MultiRead(Vec<Request>),
    /// ping.
    Ping,
    /// closeSession.
    CloseSession,
    /// auth (addauth).
    Auth(AuthPacket),
    /// setWatches.
    SetWatches(SetWatches),
    /// setWatches2.
    SetWatches2(SetWatches2),
    /// checkWatches.
    CheckWatches(RemoveWatchesRequest),
    /// removeWatches.
    RemoveWatches(RemoveWatchesRequest),
    /// addWatch.
    AddWatch(AddWatchRequest),
    /// getEphemerals (the path is the prefix).
    GetEphemerals(PathRequest),
    /// getAllChildrenNumber.
    GetAllChildrenNumber(PathRequest),
    /// whoAmI.
    WhoAmI,
    /// sasl: the client's next SASL token.
    Sasl(GetSaslRequest),
    /// An op ZooKeeper defines that this codec does not decode (reconfig, ...): the
    /// server answers it with an error.
    Unsupported {
        /// The op.
        op: OpCode,
        /// Its undecoded body.
        body: Bytes,
    },
}

impl Request {
    /// Decodes the body of a request whose header carried `op`. The body must be consumed
    /// exactly, except for ops whose body ZooKeeper ignores (ping, closeSession, whoAmI).
    pub fn decode(op: OpCode, r: &mut Reader) -> Result<Request, JuteError> {
        let req = Request::read_body(op, r)?;
        if !matches!(req, Request::Ping | Request::CloseSession | Request::WhoAmI) {
            r.finish()?;
        }
        Ok(req)
    }

    /// Reads the body of `op` from `r`, leaving whatever follows it (a multi's next op).
    fn read_body(op: OpCode, r: &mut Reader) -> Result<Request, JuteError> {
        Ok(match op {
            OpCode::Create | OpCode::Create2 | OpCode::CreateContainer => Request::Create {
                op,
                req: CreateRequest::read(r)?,
                ttl: None,
            },
            OpCode::CreateTtl => {
                let t = CreateTtlRequest::read(r)?;
                Request::Create {
                    op,
                    req: CreateRequest {
                        path: t.path,
                        data: t.data,
                        acl: t.acl,
                        flags: t.flags,
                    },
                    ttl: Some(t.ttl),
                }
            }
            OpCode::Delete | OpCode::DeleteContainer => Request::Delete {
                op,
                req: DeleteRequest::read(r)?,
            },
            OpCode::Exists => Request::Exists(Jute::read(r)?),
            OpCode::GetData => Request::GetData(Jute::read(r)?),
            OpCode::SetData => Request::SetData(Jute::read(r)?),
            OpCode::GetAcl => Request::GetAcl(Jute::read(r)?),
            OpCode::SetAcl => Request::SetAcl(Jute::read(r)?),
            OpCode::GetChildren => Request::GetChildren(Jute::read(r)?),
            OpCode::GetChildren2 => Request::GetChildren2(Jute::read(r)?),
            OpCode::Sync => Request::Sync(Jute::read(r)?),
            OpCode::Check => Request::Check(Jute::read(r)?),
            OpCode::Multi => Request::Multi(decode_multi(r, false)?),
            OpCode::MultiRead => Request::MultiRead(decode_multi(r, true)?),
            OpCode::Ping => Request::Ping,
            OpCode::CloseSession => Request::CloseSession,
            OpCode::WhoAmI => Request::WhoAmI,
            OpCode::Auth => Request::Auth(Jute::read(r)?),
            OpCode::Sasl => Request::Sasl(Jute::read(r)?),
            OpCode::SetWatches => Request::SetWatches(Jute::read(r)?),
            OpCode::SetWatches2 => Request::SetWatches2(Jute::read(r)?),
            OpCode::CheckWatches => Request::CheckWatches(Jute::read(r)?),
            OpCode::RemoveWatches => Request::RemoveWatches(Jute::read(r)?),
            OpCode::AddWatch => Request::AddWatch(Jute::read(r)?),
            OpCode::GetEphemerals => Request::GetEphemerals(Jute::read(r)?),
            OpCode::GetAllChildrenNumber => Request::GetAllChildrenNumber(Jute::read(r)?),
            OpCode::Notification | OpCode::Reconfig | OpCode::CreateSession | OpCode::Error => {
                Request::Unsupported {
                    op,
                    body: r.read_rest(),
                }
            }
        })
    }

    /// The op code this request is sent with.
    pub fn op(&self) -> OpCode {
        match self {
            Request::Create { op, .. } | Request::Delete { op, .. } => *op,
            Request::Exists(_) => OpCode::Exists,
            Request::GetData(_) => OpCode::GetData,
            Request::SetData(_) => OpCode::SetData,
            Request::GetAcl(_) => OpCode::GetAcl,
            Request::SetAcl(_) => OpCode::SetAcl,
            Request::GetChildren(_) => OpCode::GetChildren,
            Request::GetChildren2(_) => OpCode::GetChildren2,
            Request::Sync(_) => OpCode::Sync,
            Request::Check(_) => OpCode::Check,
            Request::Multi(_) => OpCode::Multi,
            Request::MultiRead(_) => OpCode::MultiRead,
            Request::Ping => OpCode::Ping,
            Request::CloseSession => OpCode::CloseSession,
            Request::Auth(_) => OpCode::Auth,
            Request::Sasl(_) => OpCode::Sasl,
            Request::SetWatches(_) => OpCode::SetWatches,
            Request::SetWatches2(_) => OpCode::SetWatches2,
            Request::CheckWatches(_) => OpCode::CheckWatches,
            Request::RemoveWatches(_) => OpCode::RemoveWatches,
            Request::AddWatch(_) => OpCode::AddWatch,
            Request::GetEphemerals(_) => OpCode::GetEphemerals,
            Request::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            Request::WhoAmI => OpCode::WhoAmI,
            Request::Unsupported { op, .. } => *op,
        }
    }

    /// Whether the request changes the tree (goes through prep/apply and gets a zxid).
    /// Reconfig counts: ZooKeeper preps it like any write, so even a refused one takes a zxid.
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::Create { .. }
                | Request::Delete { .. }
                | Request::SetData(_)
                | Request::SetAcl(_)
                | Request::Check(_)
                | Request::Multi(_)
                | Request::CloseSession
                | Request::Unsupported {
                    op: OpCode::Reconfig,
                    ..
                }
        )
    }

    /// Appends the body encoding (without the request header).
    pub fn write_body(&self, out: &mut BytesMut) {
        match self {
            Request::Create { req, ttl, .. } => match ttl {
                None => req.write(out),
                Some(ttl) => CreateTtlRequest {
                    path: req.path.clone(),
                    data: req.data.clone(),
                    acl: req.acl.clone(),
                    flags: req.flags,
                    ttl: *ttl,
                }
                .write(out),
            },
            Request::Delete { req, .. } => req.write(out),
            Request::Exists(x) => x.write(out),
            Request::GetData(x) => x.write(out),
            Request::SetData(x) => x.write(out),
            Request::GetAcl(x)
            | Request::Sync(x)
            | Request::GetEphemerals(x)
            | Request::GetAllChildrenNumber(x) => x.write(out),
            Request::SetAcl(x) => x.write(out),
            Request::GetChildren(x) | Request::GetChildren2(x) => x.write(out),
            Request::Check(x) => x.write(out),
            Request::Multi(ops) | Request::MultiRead(ops) => {
                for op in ops {
                    MultiHeader {
                        op: op.op().code(),
                        done: false,
                        err: -1,
                    }
                    .write(out);
                    op.write_body(out);
                }
                MULTI_END.write(out);
            }
            Request::Ping | Request::CloseSession | Request::WhoAmI => {}
            Request::Auth(x) => x.write(out),
            Request::Sasl(x) => x.write(out),
            Request::SetWatches(x) => x.write(out),
            Request::SetWatches2(x) => x.write(out),
            Request::CheckWatches(x) | Request::RemoveWatches(x) => x.write(out),
            Request::AddWatch(x) => x.write(out),
            Request::Unsupported { body, .. } => out.extend_from_slice(body),
        }
    }
}

/// The header that ends a multi request or response.
pub const MULTI_END: MultiHeader = MultiHeader {
    op: -1,
    done: true,
    err: -1,
};

fn decode_multi(r: &mut Reader, read_only: bool) -> Result<Vec<Request>, JuteError> {
    let mut ops = Vec::new();
    loop {
        let h = MultiHeader::read(r)?;
        if h.done {
            return Ok(ops);
        }
        let op = OpCode::from_code(h.op)?;
        let allowed = if read_only {
            matches!(op, OpCode::GetData | OpCode::GetChildren)
        } else {
            matches!(
                op,
                OpCode::Create
                    | OpCode::Create2
                    | OpCode::CreateContainer
                    | OpCode::CreateTtl
                    | OpCode::Delete
                    | OpCode::DeleteContainer
                    | OpCode::SetData
                    | OpCode::Check
            )
        };
        if !allowed {
            return Err(JuteError::InvalidMultiOp(h.op));
        }
        // Each op's body is read in place; `finish` is for whole frames, not here.
        let sub = Request::read_body(op, r)?;
        ops.push(sub);
    }
}

/// One result of a multi or multiRead, in the shape ZooKeeper's `MultiResponse` encodes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// A `create` op: the created path.
    Create(String),
    /// A `create2` / `createTTL` / `createContainer` op: path and Stat.
    Create2(String, Stat),
    /// A delete op.
    Delete,
    /// A setData op: the new Stat.
    SetData(Stat),
    /// A check op.
    Check,
    /// A getChildren op of a multiRead.
    GetChildren(Vec<String>),
    /// A getData op of a multiRead.
    GetData(Option<Bytes>, Stat),
    /// A failed op, or (code 0 / RuntimeInconsistency) an op of a multi that failed elsewhere.
    Error(i32),
}

impl OpResult {
    fn header(&self) -> MultiHeader {
        let (op, err) = match self {
            OpResult::Create(_) => (OpCode::Create, 0),
            OpResult::Create2(..) => (OpCode::Create2, 0),
            OpResult::Delete => (OpCode::Delete, 0),
            OpResult::SetData(_) => (OpCode::SetData, 0),
            OpResult::Check => (OpCode::Check, 0),
            OpResult::GetChildren(_) => (OpCode::GetChildren, 0),
            OpResult::GetData(..) => (OpCode::GetData, 0),
            OpResult::Error(e) => (OpCode::Error, *e),
        };
        MultiHeader {
            op: op.code(),
            done: false,
            err,
        }
    }
}

/// A multi / multiRead response body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiResponse {
    /// One result per op, in request order.
    pub results: Vec<OpResult>,
}

impl Jute for MultiResponse {
    const MIN_ENCODED_LEN: usize = 9;
    fn write(&self, out: &mut BytesMut) {
        for res in &self.results {
            res.header().write(out);
            match res {
                OpResult::Create(path) => path.write(out),
                OpResult::Create2(path, stat) => {
                    path.write(out);
                    stat.write(out);
                }
                OpResult::Delete | OpResult::Check => {}
                OpResult::SetData(stat) => stat.write(out),
                OpResult::GetChildren(children) => children.write(out),
                OpResult::GetData(data, stat) => {
                    data.write(out);
                    stat.write(out);
                }
                OpResult::Error(err) => err.write(out),
            }
        }
        MULTI_END.write(out);
    }
    fn read(r: &mut Reader) -> Result<Self, JuteError> {
        let mut results = Vec::new();
        loop {
            let h = MultiHeader::read(r)?;
            if h.done {
                return Ok(MultiResponse { results });
            }
            let res = match OpCode::from_code(h.op)? {
                OpCode::Create => OpResult::Create(Jute::read(r)?),
                OpCode::Create2 | OpCode::CreateTtl | OpCode::CreateContainer => {
                    OpResult::Create2(Jute::read(r)?, Jute::read(r)?)
                }
                OpCode::Delete | OpCode::DeleteContainer => OpResult::Delete,
                OpCode::SetData => OpResult::SetData(Jute::read(r)?),
                OpCode::Check => OpResult::Check,
                OpCode::GetChildren => OpResult::GetChildren(Jute::read(r)?),
                OpCode::GetData => OpResult::GetData(Jute::read(r)?, Jute::read(r)?),
                OpCode::Error => OpResult::Error(r.read_i32()?),
                _ => return Err(JuteError::InvalidMultiOp(h.op)),
            };
            results.push(res);
        }
    }
    fn encoded_len(&self) -> usize {
        let mut n = 9;
        for res in &self.results {
            n += 9 + match res {
                OpResult::Create(path) => path.encoded_len(),
                OpResult::Create2(path, stat) => path.encoded_len() + stat.encoded_len(),
                OpResult::Delete | OpResult::Check => 0,
                OpResult::SetData(stat) => stat.encoded_len(),
                OpResult::GetChildren(c) => c.encoded_len(),
                OpResult::GetData(d, stat) => d.encoded_len() + stat.encoded_len(),
                OpResult::Error(_) => 4,
            };
        }
        n
    }
}
