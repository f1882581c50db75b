//! The records of ZooKeeper's files (zookeeper.jute): ACLs, `StatPersisted`, the txn
//! header, every txn body a log holds (`SerializeUtils.deserializeTxn`), and `TxnDigest`.

use crate::error::DecodeError;
use crate::jute::{Put, Reader};

/// ZooKeeper's op codes that appear in txn logs (`ZooDefs.OpCode`).
pub mod op {
    /// A failed request (`ErrorTxn`); inside a multi, a failed or rolled-back sub-op.
    pub const ERROR: i32 = -1;
    /// `create` (`CreateTxn`).
    pub const CREATE: i32 = 1;
    /// `delete` (`DeleteTxn`).
    pub const DELETE: i32 = 2;
    /// `setData` (`SetDataTxn`).
    pub const SET_DATA: i32 = 5;
    /// `setACL` (`SetACLTxn`).
    pub const SET_ACL: i32 = 7;
    /// `check`, inside a multi (`CheckVersionTxn`).
    pub const CHECK: i32 = 13;
    /// `multi` (`MultiTxn`).
    pub const MULTI: i32 = 14;
    /// `create2` (`CreateTxn`).
    pub const CREATE2: i32 = 15;
    /// `reconfig` (`SetDataTxn` on `/zookeeper/config`).
    pub const RECONFIG: i32 = 16;
    /// `createContainer` (`CreateContainerTxn`).
    pub const CREATE_CONTAINER: i32 = 19;
    /// `deleteContainer` (`DeleteTxn`).
    pub const DELETE_CONTAINER: i32 = 20;
    /// `createTTL` (`CreateTTLTxn`).
    pub const CREATE_TTL: i32 = 21;
    /// `createSession` (`CreateSessionTxn`).
    pub const CREATE_SESSION: i32 = -10;
    /// `closeSession` (`CloseSessionTxn`, or no body before 3.6).
    pub const CLOSE_SESSION: i32 = -11;
}

/// An ACL entry: permission bits and the id (`scheme:id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Acl {
    /// READ 1, WRITE 2, CREATE 4, DELETE 8, ADMIN 16.
    pub perms: i32,
    /// `world`, `digest`, `ip`, `auth`, `sasl`, `x509`, ...
    pub scheme: String,
    /// The id within the scheme (`anyone`, `user:base64(sha1)`, `10.0.0.0/8`, ...).
    pub id: String,
}

impl Acl {
    /// `ZooDefs.Ids.OPEN_ACL_UNSAFE`: world:anyone with every permission.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: 31,
            scheme: "world".into(),
            id: "anyone".into(),
        }]
    }
}

/// The Stat fields ZooKeeper stores (`StatPersisted`). `cversion` counts the children ever
/// created; clients see `2 * cversion - numChildren`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatPersisted {
    /// The zxid of the create.
    pub czxid: i64,
    /// The zxid of the last setData (or the create).
    pub mzxid: i64,
    /// The time of the create (ms since the epoch, the leader's clock).
    pub ctime: i64,
    /// The time of the last setData.
    pub mtime: i64,
    /// The data version.
    pub version: i32,
    /// Children created (stored form).
    pub cversion: i32,
    /// The ACL version.
    pub aversion: i32,
    /// The owning session, or a container / TTL marker, or 0.
    pub ephemeral_owner: i64,
    /// The zxid of the last change to the children.
    pub pzxid: i64,
}

impl StatPersisted {
    /// The Stat of a node created by txn `zxid` at `time` (`DataTree.createStat`).
    pub fn created(zxid: i64, time: i64, ephemeral_owner: i64) -> Self {
        StatPersisted {
            czxid: zxid,
            mzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner,
            pzxid: zxid,
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(StatPersisted {
            czxid: r.i64("czxid")?,
            mzxid: r.i64("mzxid")?,
            ctime: r.i64("ctime")?,
            mtime: r.i64("mtime")?,
            version: r.i32("version")?,
            cversion: r.i32("cversion")?,
            aversion: r.i32("aversion")?,
            ephemeral_owner: r.i64("ephemeralOwner")?,
            pzxid: r.i64("pzxid")?,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_i64(self.czxid);
        out.put_i64(self.mzxid);
        out.put_i64(self.ctime);
        out.put_i64(self.mtime);
        out.put_i32(self.version);
        out.put_i32(self.cversion);
        out.put_i32(self.aversion);
        out.put_i64(self.ephemeral_owner);
        out.put_i64(self.pzxid);
    }
}

/// The smallest encoded ACL: perms and two empty strings.
const MIN_ACL: usize = 12;

pub(crate) fn decode_acls(r: &mut Reader<'_>) -> Result<Option<Vec<Acl>>, DecodeError> {
    let Some(n) = r.count("ACL count", MIN_ACL)? else {
        return Ok(None);
    };
    let mut acls = Vec::with_capacity(n);
    for _ in 0..n {
        acls.push(Acl {
            perms: r.i32("ACL perms")?,
            scheme: r.string("ACL scheme")?,
            id: r.string("ACL id")?,
        });
    }
    Ok(Some(acls))
}

pub(crate) fn encode_acls(acls: Option<&[Acl]>, out: &mut Vec<u8>) {
    let Some(acls) = acls else {
        out.put_i32(-1);
        return;
    };
    out.put_i32(acls.len() as i32);
    for a in acls {
        out.put_i32(a.perms);
        out.put_string(&a.scheme);
        out.put_string(&a.id);
    }
}

/// `TxnHeader`: who, which request, which zxid, when, and the op code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnHeader {
    /// The session.
    pub client_id: i64,
    /// The session's request number.
    pub cxid: i32,
    /// The txn's zxid.
    pub zxid: i64,
    /// The leader's clock when it made the txn (ms).
    pub time: i64,
    /// The op code ([`op`]).
    pub op: i32,
}

/// `TxnDigest`: the tree's digest after the txn (3.6+, when digests are enabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnDigest {
    /// The digest calculator's version (2 in 3.6 to 3.9).
    pub version: i32,
    /// The digest of the whole tree after the txn.
    pub tree_digest: i64,
}

/// A txn body, as `DataTree.processTxn` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Txn {
    /// `createSession`: the negotiated timeout (ms).
    CreateSession {
        /// Session timeout, ms.
        timeout: i32,
    },
    /// `closeSession`: the ephemerals to delete (`None` in logs before 3.6).
    CloseSession {
        /// `CloseSessionTxn.paths2Delete`.
        paths_to_delete: Option<Vec<String>>,
    },
    /// `create` / `create2` (`CreateTxn`).
    Create {
        /// [`op::CREATE`] or [`op::CREATE2`].
        op: i32,
        /// The node's path.
        path: String,
        /// Its data.
        data: Option<Vec<u8>>,
        /// Its ACL (`None`: null, which ZooKeeper takes as OPEN_ACL_UNSAFE).
        acl: Option<Vec<Acl>>,
        /// Owned by the txn's session.
        ephemeral: bool,
        /// The parent's cversion after the create (-1: one more than it has).
        parent_cversion: i32,
    },
    /// `createContainer` (`CreateContainerTxn`).
    CreateContainer {
        /// The node's path.
        path: String,
        /// Its data.
        data: Option<Vec<u8>>,
        /// Its ACL.
        acl: Option<Vec<Acl>>,
        /// The parent's cversion after the create.
        parent_cversion: i32,
    },
    /// `createTTL` (`CreateTTLTxn`).
    CreateTtl {
        /// The node's path.
        path: String,
        /// Its data.
        data: Option<Vec<u8>>,
        /// Its ACL.
        acl: Option<Vec<Acl>>,
        /// The parent's cversion after the create.
        parent_cversion: i32,
        /// The TTL, ms.
        ttl: i64,
    },
    /// `delete` / `deleteContainer` (`DeleteTxn`).
    Delete {
        /// [`op::DELETE`] or [`op::DELETE_CONTAINER`].
        op: i32,
        /// The node's path.
        path: String,
    },
    /// `setData` / `reconfig` (`SetDataTxn`).
    SetData {
        /// [`op::SET_DATA`] or [`op::RECONFIG`].
        op: i32,
        /// The node's path.
        path: String,
        /// The new data.
        data: Option<Vec<u8>>,
        /// The new data version.
        version: i32,
    },
    /// `setACL` (`SetACLTxn`).
    SetAcl {
        /// The node's path.
        path: String,
        /// The new ACL.
        acl: Option<Vec<Acl>>,
        /// The new ACL version.
        version: i32,
    },
    /// `check` inside a multi (`CheckVersionTxn`): no change.
    Check {
        /// The node's path.
        path: String,
        /// The version checked.
        version: i32,
    },
    /// A failed request (`ErrorTxn`): no change.
    Error {
        /// ZooKeeper's error code.
        err: i32,
    },
    /// `multi` (`MultiTxn`): the sub-txns, all applied or (all `Error`) none.
    Multi(Vec<Txn>),
}

impl Txn {
    /// The op code this body is logged under.
    pub fn op(&self) -> i32 {
        match self {
            Txn::CreateSession { .. } => op::CREATE_SESSION,
            Txn::CloseSession { .. } => op::CLOSE_SESSION,
            Txn::Create { op, .. } | Txn::Delete { op, .. } | Txn::SetData { op, .. } => *op,
            Txn::CreateContainer { .. } => op::CREATE_CONTAINER,
            Txn::CreateTtl { .. } => op::CREATE_TTL,
            Txn::SetAcl { .. } => op::SET_ACL,
            Txn::Check { .. } => op::CHECK,
            Txn::Error { .. } => op::ERROR,
            Txn::Multi(_) => op::MULTI,
        }
    }

    /// Decodes the body of a txn of type `op` (a top-level one when `top`; a multi's
    /// sub-txn otherwise, where only create*, delete*, setData, check and error occur).
    pub(crate) fn decode(op: i32, r: &mut Reader<'_>, top: bool) -> Result<Txn, DecodeError> {
        let at = r.pos();
        Ok(match op {
            op::CREATE_SESSION if top => Txn::CreateSession {
                timeout: r.i32("session timeout")?,
            },
            op::CLOSE_SESSION if top => Txn::CloseSession {
                // Before 3.6 a closeSession had no body (ZooKeeper reads it as absent when
                // it ends at once).
                paths_to_delete: if r.remaining() < 4 {
                    None
                } else {
                    let n = r.count("paths2Delete count", 4)?.unwrap_or(0);
                    let mut paths = Vec::with_capacity(n);
                    for _ in 0..n {
                        paths.push(r.string("path to delete")?);
                    }
                    Some(paths)
                },
            },
            op::CREATE | op::CREATE2 => {
                let path = r.string("path")?;
                let data = r.buffer("data")?.map(<[u8]>::to_vec);
                let acl = decode_acls(r)?;
                let ephemeral = r.bool("ephemeral")?;
                // A CreateTxnV0 (before 3.3) ends here; -1 makes the parent's cversion
                // one more than it has, as ZooKeeper does for it.
                let parent_cversion = if top && r.remaining() == 0 {
                    -1
                } else {
                    r.i32("parentCVersion")?
                };
                Txn::Create {
                    op,
                    path,
                    data,
                    acl,
                    ephemeral,
                    parent_cversion,
                }
            }
            op::CREATE_CONTAINER => Txn::CreateContainer {
                path: r.string("path")?,
                data: r.buffer("data")?.map(<[u8]>::to_vec),
                acl: decode_acls(r)?,
                parent_cversion: r.i32("parentCVersion")?,
            },
            op::CREATE_TTL => Txn::CreateTtl {
                path: r.string("path")?,
                data: r.buffer("data")?.map(<[u8]>::to_vec),
                acl: decode_acls(r)?,
                parent_cversion: r.i32("parentCVersion")?,
                ttl: r.i64("ttl")?,
            },
            op::DELETE | op::DELETE_CONTAINER => Txn::Delete {
                op,
                path: r.string("path")?,
            },
            op::SET_DATA => Txn::SetData {
                op,
                path: r.string("path")?,
                data: r.buffer("data")?.map(<[u8]>::to_vec),
                version: r.i32("version")?,
            },
            op::RECONFIG if top => Txn::SetData {
                op,
                path: r.string("path")?,
                data: r.buffer("data")?.map(<[u8]>::to_vec),
                version: r.i32("version")?,
            },
            op::SET_ACL if top => Txn::SetAcl {
                path: r.string("path")?,
                acl: decode_acls(r)?,
                version: r.i32("version")?,
            },
            op::CHECK if !top => Txn::Check {
                path: r.string("path")?,
                version: r.i32("version")?,
            },
            op::ERROR => Txn::Error { err: r.i32("err")? },
            op::MULTI if top => {
                // Each sub-txn: type i32, then its record as a buffer.
                let n = r.count("multi count", 8)?.unwrap_or(0);
                let mut subs = Vec::with_capacity(n);
                for _ in 0..n {
                    let sub_op = r.i32("sub-txn type")?;
                    let sub_at = r.pos() + 4;
                    let bytes = r.buffer("sub-txn")?.unwrap_or(&[]);
                    let mut sub = Reader::new(bytes);
                    let txn = Txn::decode(sub_op, &mut sub, false)
                        .map_err(|e| DecodeError::at(sub_at + e.offset, e.reason))?;
                    subs.push(txn);
                }
                Txn::Multi(subs)
            }
            other => {
                let place = if top { "txn" } else { "multi sub-txn" };
                return Err(DecodeError::at(
                    at,
                    format!("unsupported {place} type {other}"),
                ));
            }
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Txn::CreateSession { timeout } => out.put_i32(*timeout),
            Txn::CloseSession { paths_to_delete } => {
                if let Some(paths) = paths_to_delete {
                    out.put_i32(paths.len() as i32);
                    for p in paths {
                        out.put_string(p);
                    }
                }
            }
            Txn::Create {
                path,
                data,
                acl,
                ephemeral,
                parent_cversion,
                ..
            } => {
                out.put_string(path);
                out.put_buffer(data.as_deref());
                encode_acls(acl.as_deref(), out);
                out.put_bool(*ephemeral);
                out.put_i32(*parent_cversion);
            }
            Txn::CreateContainer {
                path,
                data,
                acl,
                parent_cversion,
            } => {
                out.put_string(path);
                out.put_buffer(data.as_deref());
                encode_acls(acl.as_deref(), out);
                out.put_i32(*parent_cversion);
            }
            Txn::CreateTtl {
                path,
                data,
                acl,
                parent_cversion,
                ttl,
            } => {
                out.put_string(path);
                out.put_buffer(data.as_deref());
                encode_acls(acl.as_deref(), out);
                out.put_i32(*parent_cversion);
                out.put_i64(*ttl);
            }
            Txn::Delete { path, .. } => out.put_string(path),
            Txn::SetData {
                path,
                data,
                version,
                ..
            } => {
                out.put_string(path);
                out.put_buffer(data.as_deref());
                out.put_i32(*version);
            }
            Txn::SetAcl { path, acl, version } => {
                out.put_string(path);
                encode_acls(acl.as_deref(), out);
                out.put_i32(*version);
            }
            Txn::Check { path, version } => {
                out.put_string(path);
                out.put_i32(*version);
            }
            Txn::Error { err } => out.put_i32(*err),
            Txn::Multi(subs) => {
                out.put_i32(subs.len() as i32);
                for sub in subs {
                    out.put_i32(sub.op());
                    let mut bytes = Vec::new();
                    sub.encode(&mut bytes);
                    out.put_buffer(Some(&bytes));
                }
            }
        }
    }
}

/// One txn log entry: header, body, and the digest when the log has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnEntry {
    /// The header.
    pub header: TxnHeader,
    /// The body.
    pub txn: Txn,
    /// The tree digest after the txn (3.6+).
    pub digest: Option<TxnDigest>,
}

impl TxnEntry {
    /// Decodes a log record's txn bytes (`Util.readTxnBytes`' result).
    pub(crate) fn decode(bytes: &[u8]) -> Result<TxnEntry, DecodeError> {
        let mut r = Reader::new(bytes);
        let header = TxnHeader {
            client_id: r.i64("clientId")?,
            cxid: r.i32("cxid")?,
            zxid: r.i64("zxid")?,
            time: r.i64("time")?,
            op: r.i32("type")?,
        };
        let txn = Txn::decode(header.op, &mut r, true)?;
        let digest = match r.remaining() {
            0 => None,
            12 => Some(TxnDigest {
                version: r.i32("digest version")?,
                tree_digest: r.i64("tree digest")?,
            }),
            n => {
                return Err(DecodeError::at(
                    r.pos(),
                    format!("{n} bytes after the txn (neither nothing nor a digest)"),
                ))
            }
        };
        Ok(TxnEntry {
            header,
            txn,
            digest,
        })
    }

    /// Encodes it as ZooKeeper's `Util.marshallTxnEntry` does.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.put_i64(self.header.client_id);
        out.put_i32(self.header.cxid);
        out.put_i64(self.header.zxid);
        out.put_i64(self.header.time);
        out.put_i32(self.header.op);
        self.txn.encode(&mut out);
        if let Some(d) = self.digest {
            out.put_i32(d.version);
            out.put_i64(d.tree_digest);
        }
        out
    }
}
