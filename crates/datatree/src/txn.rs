//! The decided change (`Txn`, `TxnBody`), what applying it gives (`Applied`, `TxnResult`), and
//! the compact binary form txns take in the log and on the wire between servers.
//!
//! Encoding of a [`TxnBody`] (all integers big-endian):
//!
//! ```text
//! body      = FORMAT_VERSION:u8 item
//! item      = tag:u8 fields
//! string    = len:u32 utf8-bytes
//! data      = len:i32 bytes           (len -1: null)
//! acl       = count:u32 (perms:i32 scheme:string id:string)*
//! tag 1 Create       path:string data acl ephemeral_owner:i64 parent_cversion:i32 op:i32
//! tag 2 Delete       path:string
//! tag 3 SetData      path:string data version:i32
//! tag 4 SetAcl       path:string acl version:i32
//! tag 5 Check        path:string version:i32
//! tag 6 Multi        count:u32 item*          (items may not be Multi)
//! tag 7 Error        code:i32
//! tag 8 CreateSession timeout_ms:i32
//! tag 9 CloseSession count:u32 string*
//! ```
//! A [`Txn`] is `FORMAT_VERSION zxid:i64 time_ms:i64 session_id:i64 cxid:i32 item`.

use crate::Zxid;
use bytes::{BufMut, Bytes, BytesMut};
use corral_jute::codes::{ErrorCode, EventType, OpCode};
use corral_jute::records::{Acl, Id, Stat};
use corral_jute::request::OpResult;

use crate::DataTreeError;

/// The version byte every encoded txn starts with.
pub const FORMAT_VERSION: u8 = 1;

/// A decided change with its header: what the log stores and every server applies.
#[derive(Debug, Clone, PartialEq)]
pub struct Txn {
    /// Its zxid.
    pub zxid: Zxid,
    /// The leader's wall clock when it was prepped, ms (ctime / mtime of what it changes).
    pub time_ms: i64,
    /// The session that sent it (the owner of ephemerals it creates; the closed session).
    pub session_id: i64,
    /// The request's xid.
    pub cxid: i32,
    /// The change.
    pub body: TxnBody,
}

/// The change a write request was decided to make (ZooKeeper's txn records).
#[derive(Debug, Clone, PartialEq)]
pub enum TxnBody {
    /// Create a node (create, create2, createContainer, createTTL).
    Create {
        /// The final path (sequence suffix included).
        path: String,
        /// Its data.
        data: Option<Bytes>,
        /// Its ACL (already fixed up).
        acl: Vec<Acl>,
        /// The owning session of an ephemeral, the container / TTL encoding (see
        /// [`crate::ephemeral`]), or 0.
        ephemeral_owner: i64,
        /// The parent's stored cversion after this create.
        parent_cversion: i32,
        /// Which create op it came from: `Create`, `Create2`, `CreateContainer` or `CreateTtl`.
        /// Decides the multi result shape ([`OpResult::Create`] for `Create`, else
        /// [`OpResult::Create2`]).
        op: OpCode,
    },
    /// Delete a node (delete, deleteContainer).
    Delete {
        /// The path.
        path: String,
    },
    /// Replace a node's data.
    SetData {
        /// The path.
        path: String,
        /// The new data.
        data: Option<Bytes>,
        /// The node's new version (the old one plus one), as ZooKeeper's SetDataTxn.
        version: i32,
    },
    /// Replace a node's ACL.
    SetAcl {
        /// The path.
        path: String,
        /// The new ACL (already fixed up).
        acl: Vec<Acl>,
        /// The node's new aversion, as ZooKeeper's SetACLTxn.
        version: i32,
    },
    /// A version check that passed (inside a multi); changes nothing.
    Check {
        /// The path.
        path: String,
        /// The node's version plus one, as ZooKeeper's CheckVersionTxn.
        version: i32,
    },
    /// The ops of a multi, in order. A failed multi holds only `Error` entries: `Error(Ok)`
    /// before the failing op, its code for it, `Error(RuntimeInconsistency)` after it.
    Multi(Vec<TxnBody>),
    /// A write that failed in prep; applying it only advances the last zxid.
    Error(ErrorCode),
    /// A session was created (the tree does not change).
    CreateSession {
        /// Its negotiated timeout.
        timeout_ms: i32,
    },
    /// A session was closed: its ephemeral nodes to delete, sorted.
    CloseSession {
        /// The paths.
        ephemerals: Vec<String>,
    },
}

/// The outcome of applying a txn.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// What the writer is told.
    pub result: TxnResult,
    /// The watch triggers, in ZooKeeper's order: create gives (path, NodeCreated) then
    /// (parent, NodeChildrenChanged); delete (path, NodeDeleted) then (parent,
    /// NodeChildrenChanged); setData (path, NodeDataChanged); setACL, check and errors none.
    pub events: Vec<(String, EventType)>,
}

/// What the writer of a txn is told.
#[derive(Debug, Clone, PartialEq)]
pub enum TxnResult {
    /// A node was created; the reply is `path` (create) or `path` and `stat` (create2,
    /// createContainer, createTTL), as the request's op says.
    Create {
        /// The created path (with its sequence suffix).
        path: String,
        /// Its Stat.
        stat: Stat,
    },
    /// A node was deleted.
    Delete,
    /// Data was set; the node's new Stat.
    SetData(Stat),
    /// The ACL was set; the node's new Stat.
    SetAcl(Stat),
    /// A check passed.
    Check,
    /// The per-op results of a multi, ready for the `MultiResponse`: `Create` / `Create2`
    /// according to each create's op, `Delete`, `SetData`, `Check`, and for a failed multi
    /// only `Error` entries (0 before the failing op, its code, -2 after). As in ZooKeeper's
    /// `FinalRequestProcessor`, the reply header of a multi carries err 0 even when it failed.
    Multi(Vec<OpResult>),
    /// The write failed with this code (in prep, or, for a txn that does not fit the tree,
    /// in apply).
    Error(ErrorCode),
    /// A session txn (create / close) was applied.
    Session,
}

impl TxnResult {
    /// The error code of the reply header: the code of a failed single write, else `Ok`
    /// (a multi always replies `Ok` and reports failures in its results).
    pub fn error_code(&self) -> ErrorCode {
        match self {
            TxnResult::Error(code) => *code,
            _ => ErrorCode::Ok,
        }
    }
}

mod tag {
    pub const CREATE: u8 = 1;
    pub const DELETE: u8 = 2;
    pub const SET_DATA: u8 = 3;
    pub const SET_ACL: u8 = 4;
    pub const CHECK: u8 = 5;
    pub const MULTI: u8 = 6;
    pub const ERROR: u8 = 7;
    pub const CREATE_SESSION: u8 = 8;
    pub const CLOSE_SESSION: u8 = 9;
}

fn put_len(out: &mut BytesMut, len: usize) {
    out.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
}

fn put_str(out: &mut BytesMut, s: &str) {
    put_len(out, s.len());
    out.put_slice(s.as_bytes());
}

fn put_data(out: &mut BytesMut, data: &Option<Bytes>) {
    match data {
        None => out.put_i32(-1),
        Some(d) => {
            out.put_i32(i32::try_from(d.len()).unwrap_or(i32::MAX));
            out.put_slice(d);
        }
    }
}

fn put_acl(out: &mut BytesMut, acl: &[Acl]) {
    put_len(out, acl.len());
    for a in acl {
        out.put_i32(a.perms);
        put_str(out, &a.id.scheme);
        put_str(out, &a.id.id);
    }
}

impl TxnBody {
    /// Appends the encoding (with the leading format version byte).
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u8(FORMAT_VERSION);
        self.encode_item(out);
    }

    fn encode_item(&self, out: &mut BytesMut) {
        match self {
            TxnBody::Create {
                path,
                data,
                acl,
                ephemeral_owner,
                parent_cversion,
                op,
            } => {
                out.put_u8(tag::CREATE);
                put_str(out, path);
                put_data(out, data);
                put_acl(out, acl);
                out.put_i64(*ephemeral_owner);
                out.put_i32(*parent_cversion);
                out.put_i32(op.code());
            }
            TxnBody::Delete { path } => {
                out.put_u8(tag::DELETE);
                put_str(out, path);
            }
            TxnBody::SetData {
                path,
                data,
                version,
            } => {
                out.put_u8(tag::SET_DATA);
                put_str(out, path);
                put_data(out, data);
                out.put_i32(*version);
            }
            TxnBody::SetAcl { path, acl, version } => {
                out.put_u8(tag::SET_ACL);
                put_str(out, path);
                put_acl(out, acl);
                out.put_i32(*version);
            }
            TxnBody::Check { path, version } => {
                out.put_u8(tag::CHECK);
                put_str(out, path);
                out.put_i32(*version);
            }
            TxnBody::Multi(ops) => {
                out.put_u8(tag::MULTI);
                put_len(out, ops.len());
                for op in ops {
                    op.encode_item(out);
                }
            }
            TxnBody::Error(code) => {
                out.put_u8(tag::ERROR);
                out.put_i32(code.code());
            }
            TxnBody::CreateSession { timeout_ms } => {
                out.put_u8(tag::CREATE_SESSION);
                out.put_i32(*timeout_ms);
            }
            TxnBody::CloseSession { ephemerals } => {
                out.put_u8(tag::CLOSE_SESSION);
                put_len(out, ephemerals.len());
                for p in ephemerals {
                    put_str(out, p);
                }
            }
        }
    }

    /// Decodes what [`TxnBody::encode`] wrote; the input must be exactly one body.
    pub fn decode(bytes: &[u8]) -> Result<TxnBody, DataTreeError> {
        let mut r = Cursor { buf: bytes, pos: 0 };
        r.version()?;
        let body = r.item(0)?;
        r.finish()?;
        Ok(body)
    }
}

impl Txn {
    /// Appends the encoding of header and body (with the leading format version byte).
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u8(FORMAT_VERSION);
        out.put_u64(self.zxid.0);
        out.put_i64(self.time_ms);
        out.put_i64(self.session_id);
        out.put_i32(self.cxid);
        self.body.encode_item(out);
    }

    /// The header of an encoded txn without decoding its body: (zxid, time in ms).
    pub fn peek_header(bytes: &[u8]) -> Result<(Zxid, i64), DataTreeError> {
        let mut r = Cursor { buf: bytes, pos: 0 };
        r.version()?;
        Ok((Zxid::from_wire(r.i64()?), r.i64()?))
    }

    /// Decodes what [`Txn::encode`] wrote; the input must be exactly one txn.
    pub fn decode(bytes: &[u8]) -> Result<Txn, DataTreeError> {
        let mut r = Cursor { buf: bytes, pos: 0 };
        r.version()?;
        let txn = Txn {
            zxid: Zxid::from_wire(r.i64()?),
            time_ms: r.i64()?,
            session_id: r.i64()?,
            cxid: r.i32()?,
            body: r.item(0)?,
        };
        r.finish()?;
        Ok(txn)
    }
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DataTreeError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let Some(end) = end else {
            return Err(DataTreeError::Truncated { offset: self.pos });
        };
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DataTreeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, DataTreeError> {
        Ok(self.array::<1>()?[0])
    }

    fn i32(&mut self) -> Result<i32, DataTreeError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, DataTreeError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// A count, refused when even the smallest items could not fit in what is left.
    fn count(&mut self, min_item: usize) -> Result<usize, DataTreeError> {
        let offset = self.pos;
        let n = u32::from_be_bytes(self.array()?) as usize;
        if n.saturating_mul(min_item) > self.buf.len() - self.pos {
            return Err(DataTreeError::Truncated { offset });
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, DataTreeError> {
        let offset = self.pos;
        let n = self.count(1)?;
        let raw = self.take(n)?;
        String::from_utf8(raw.to_vec()).map_err(|_| DataTreeError::InvalidUtf8 { offset })
    }

    fn data(&mut self) -> Result<Option<Bytes>, DataTreeError> {
        let offset = self.pos;
        match self.i32()? {
            -1 => Ok(None),
            n if n >= 0 => Ok(Some(Bytes::copy_from_slice(self.take(n as usize)?))),
            n => Err(DataTreeError::InvalidLength { len: n, offset }),
        }
    }

    fn acl(&mut self) -> Result<Vec<Acl>, DataTreeError> {
        let n = self.count(12)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let perms = self.i32()?;
            let scheme = self.string()?;
            let id = self.string()?;
            out.push(Acl {
                perms,
                id: Id { scheme, id },
            });
        }
        Ok(out)
    }

    fn version(&mut self) -> Result<(), DataTreeError> {
        match self.u8()? {
            FORMAT_VERSION => Ok(()),
            v => Err(DataTreeError::UnknownVersion(v)),
        }
    }

    fn error_code(&mut self) -> Result<ErrorCode, DataTreeError> {
        let code = self.i32()?;
        ErrorCode::from_code(code).map_err(|_| DataTreeError::UnknownErrorCode(code))
    }

    fn item(&mut self, depth: u8) -> Result<TxnBody, DataTreeError> {
        let offset = self.pos;
        let body = match self.u8()? {
            tag::CREATE => {
                let path = self.string()?;
                let data = self.data()?;
                let acl = self.acl()?;
                let ephemeral_owner = self.i64()?;
                let parent_cversion = self.i32()?;
                let code = self.i32()?;
                let op = match OpCode::from_code(code) {
                    Ok(
                        op @ (OpCode::Create
                        | OpCode::Create2
                        | OpCode::CreateContainer
                        | OpCode::CreateTtl),
                    ) => op,
                    _ => return Err(DataTreeError::InvalidCreateOp(code)),
                };
                TxnBody::Create {
                    path,
                    data,
                    acl,
                    ephemeral_owner,
                    parent_cversion,
                    op,
                }
            }
            tag::DELETE => TxnBody::Delete {
                path: self.string()?,
            },
            tag::SET_DATA => TxnBody::SetData {
                path: self.string()?,
                data: self.data()?,
                version: self.i32()?,
            },
            tag::SET_ACL => TxnBody::SetAcl {
                path: self.string()?,
                acl: self.acl()?,
                version: self.i32()?,
            },
            tag::CHECK => TxnBody::Check {
                path: self.string()?,
                version: self.i32()?,
            },
            tag::MULTI if depth == 0 => {
                let n = self.count(1)?;
                let mut ops = Vec::with_capacity(n);
                for _ in 0..n {
                    ops.push(self.item(depth + 1)?);
                }
                TxnBody::Multi(ops)
            }
            tag::ERROR => TxnBody::Error(self.error_code()?),
            tag::CREATE_SESSION => TxnBody::CreateSession {
                timeout_ms: self.i32()?,
            },
            tag::CLOSE_SESSION => {
                let n = self.count(4)?;
                let mut paths = Vec::with_capacity(n);
                for _ in 0..n {
                    paths.push(self.string()?);
                }
                TxnBody::CloseSession { ephemerals: paths }
            }
            t => return Err(DataTreeError::UnknownTag { tag: t, offset }),
        };
        Ok(body)
    }

    fn finish(&self) -> Result<(), DataTreeError> {
        match self.buf.len() - self.pos {
            0 => Ok(()),
            n => Err(DataTreeError::TrailingBytes(n)),
        }
    }
}
