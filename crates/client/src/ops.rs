//! Every op of the client protocol, as methods of [`Client`].

use bytes::{BufMut, Bytes, BytesMut};
use corral_jute::codes::{AddWatchMode, CreateMode, ErrorCode, OpCode, WatcherType};
use corral_jute::io::{Jute, Reader};
use corral_jute::records::*;
use corral_jute::request::{MultiResponse, OpResult as WireResult, Request};
use tokio::sync::{mpsc, oneshot};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::types::{CreateOptions, Op, OpResult, PersistentWatch, ReadOp, ReadResult, Watch};
use crate::watches::WatchReg;

fn decode<T: Jute>(body: Bytes) -> Result<T> {
    let mut r = Reader::new(body);
    let v = T::read(&mut r)?;
    Ok(v)
}

fn version(v: Option<i32>) -> i32 {
    v.unwrap_or(-1)
}

impl Client {
    /// The op code and wire record of a create, checking the mode/TTL combination.
    fn create_request(
        &self,
        path: &str,
        data: Option<Bytes>,
        opts: &CreateOptions,
        want_stat: bool,
    ) -> Result<Request> {
        let server_path = self.server_path(path, opts.mode.is_sequential())?;
        let op = match (opts.mode.is_ttl(), opts.ttl_ms) {
            (true, Some(ttl)) if ttl > 0 => OpCode::CreateTtl,
            (true, _) => {
                return Err(Error::InvalidArgument(
                    "a TTL mode needs a positive ttl_ms".into(),
                ))
            }
            (false, Some(_)) => {
                return Err(Error::InvalidArgument(
                    "ttl_ms is only valid with a TTL mode".into(),
                ))
            }
            (false, None) if opts.mode == CreateMode::Container => OpCode::CreateContainer,
            (false, None) if want_stat => OpCode::Create2,
            (false, None) => OpCode::Create,
        };
        Ok(Request::Create {
            op,
            req: CreateRequest {
                path: server_path,
                data,
                acl: opts.acl.clone(),
                flags: opts.mode.code(),
            },
            ttl: if op == OpCode::CreateTtl {
                opts.ttl_ms
            } else {
                None
            },
        })
    }

    /// Creates a node with the open ACL; returns the actual path (with the sequence suffix of
    /// a sequential mode). Container and TTL modes use their own ops; a TTL mode needs
    /// [`Client::create_with`] to give the TTL.
    pub async fn create(
        &self,
        path: &str,
        data: impl Into<Bytes>,
        mode: CreateMode,
    ) -> Result<String> {
        self.create_with(path, data, &CreateOptions::new(mode))
            .await
    }

    /// Creates a node with explicit options (ACL, TTL); returns the actual path.
    pub async fn create_with(
        &self,
        path: &str,
        data: impl Into<Bytes>,
        opts: &CreateOptions,
    ) -> Result<String> {
        self.create_nullable(path, Some(data.into()), opts).await
    }

    /// Like [`Client::create_with`]; `None` sends null data, as Java's `create(path, null, ...)`
    /// does. ZooKeeper keeps null apart from empty data: [`Client::get_data_nullable`] returns
    /// it as `None` (zkCli prints `null`).
    pub async fn create_nullable(
        &self,
        path: &str,
        data: Option<Bytes>,
        opts: &CreateOptions,
    ) -> Result<String> {
        let req = self.create_request(path, data, opts, false)?;
        let op = req.op();
        let reply = self
            .call(op, |b| req.write_body(b), None, None, false)
            .await?;
        let created = if op == OpCode::Create {
            decode::<PathResponse>(reply.body)?.path
        } else {
            decode::<Create2Response>(reply.body)?.path
        };
        Ok(self.client_path(&created))
    }

    /// create2: creates a node and returns its path and Stat.
    pub async fn create2(
        &self,
        path: &str,
        data: impl Into<Bytes>,
        opts: &CreateOptions,
    ) -> Result<(String, Stat)> {
        let req = self.create_request(path, Some(data.into()), opts, true)?;
        let reply = self
            .call(req.op(), |b| req.write_body(b), None, None, false)
            .await?;
        let resp: Create2Response = decode(reply.body)?;
        Ok((self.client_path(&resp.path), resp.stat))
    }

    /// Deletes a node; `version` `None` matches any version.
    pub async fn delete(&self, path: &str, version: Option<i32>) -> Result<()> {
        let req = DeleteRequest {
            path: self.server_path(path, false)?,
            version: self::version(version),
        };
        self.call(OpCode::Delete, |b| req.write(b), None, None, false)
            .await?;
        Ok(())
    }

    async fn exists_inner(&self, path: &str, watch: Option<WatchReg>) -> Result<Option<Stat>> {
        let req = ExistsRequest {
            path: self.server_path(path, false)?,
            watch: watch.is_some(),
        };
        let reply = self
            .call(OpCode::Exists, |b| req.write(b), watch, None, true)
            .await?;
        match reply.err {
            0 => Ok(Some(decode::<StatResponse>(reply.body)?.stat)),
            e if e == ErrorCode::NoNode.code() => Ok(None),
            e => Err(Error::from_raw(e)),
        }
    }

    /// The node's Stat, or `None` if it does not exist.
    pub async fn exists(&self, path: &str) -> Result<Option<Stat>> {
        self.exists_inner(path, None).await
    }

    /// Like [`Client::exists`], leaving a watch that fires when the node is created, changed
    /// or deleted.
    pub async fn exists_w(&self, path: &str) -> Result<(Option<Stat>, Watch)> {
        let (tx, rx) = oneshot::channel();
        let stat = self
            .exists_inner(path, Some(WatchReg::Exist(path.to_string(), tx)))
            .await?;
        Ok((stat, Watch { rx }))
    }

    async fn get_data_inner(
        &self,
        path: &str,
        watch: Option<WatchReg>,
    ) -> Result<(Option<Bytes>, Stat)> {
        let req = GetDataRequest {
            path: self.server_path(path, false)?,
            watch: watch.is_some(),
        };
        let reply = self
            .call(OpCode::GetData, |b| req.write(b), watch, None, false)
            .await?;
        let resp: GetDataResponse = decode(reply.body)?;
        Ok((resp.data, resp.stat))
    }

    /// The node's data (empty for null data) and Stat.
    pub async fn get_data(&self, path: &str) -> Result<(Bytes, Stat)> {
        let (data, stat) = self.get_data_inner(path, None).await?;
        Ok((data.unwrap_or_default(), stat))
    }

    /// Like [`Client::get_data`], with null data (a node created with null data, see
    /// [`Client::create_nullable`]) as `None` rather than empty.
    pub async fn get_data_nullable(&self, path: &str) -> Result<(Option<Bytes>, Stat)> {
        self.get_data_inner(path, None).await
    }

    /// Like [`Client::get_data`], leaving a watch that fires when the data changes or the node
    /// is deleted.
    pub async fn get_data_w(&self, path: &str) -> Result<(Bytes, Stat, Watch)> {
        let (tx, rx) = oneshot::channel();
        let (data, stat) = self
            .get_data_inner(path, Some(WatchReg::Data(path.to_string(), tx)))
            .await?;
        Ok((data.unwrap_or_default(), stat, Watch { rx }))
    }

    /// Like [`Client::get_data_w`], with null data as `None`.
    pub async fn get_data_nullable_w(&self, path: &str) -> Result<(Option<Bytes>, Stat, Watch)> {
        let (tx, rx) = oneshot::channel();
        let (data, stat) = self
            .get_data_inner(path, Some(WatchReg::Data(path.to_string(), tx)))
            .await?;
        Ok((data, stat, Watch { rx }))
    }

    /// Sets the node's data if its version matches (`None`: any); returns the new Stat.
    pub async fn set_data(
        &self,
        path: &str,
        data: impl Into<Bytes>,
        version: Option<i32>,
    ) -> Result<Stat> {
        let req = SetDataRequest {
            path: self.server_path(path, false)?,
            data: Some(data.into()),
            version: self::version(version),
        };
        let reply = self
            .call(OpCode::SetData, |b| req.write(b), None, None, false)
            .await?;
        Ok(decode::<StatResponse>(reply.body)?.stat)
    }

    async fn children_inner(
        &self,
        path: &str,
        op: OpCode,
        watch: Option<WatchReg>,
    ) -> Result<(Vec<String>, Option<Stat>)> {
        let req = GetChildrenRequest {
            path: self.server_path(path, false)?,
            watch: watch.is_some(),
        };
        let reply = self.call(op, |b| req.write(b), watch, None, false).await?;
        if op == OpCode::GetChildren2 {
            let resp: GetChildren2Response = decode(reply.body)?;
            Ok((resp.children, Some(resp.stat)))
        } else {
            Ok((decode::<ChildrenResponse>(reply.body)?.children, None))
        }
    }

    /// The names of the node's children (in the server's order).
    pub async fn get_children(&self, path: &str) -> Result<Vec<String>> {
        Ok(self
            .children_inner(path, OpCode::GetChildren, None)
            .await?
            .0)
    }

    /// Like [`Client::get_children`], leaving a watch that fires when a child is added or
    /// removed or the node is deleted.
    pub async fn get_children_w(&self, path: &str) -> Result<(Vec<String>, Watch)> {
        let (tx, rx) = oneshot::channel();
        let reg = WatchReg::Child(path.to_string(), tx);
        let (children, _) = self
            .children_inner(path, OpCode::GetChildren, Some(reg))
            .await?;
        Ok((children, Watch { rx }))
    }

    /// getChildren2: the children and the node's Stat.
    pub async fn get_children2(&self, path: &str) -> Result<(Vec<String>, Stat)> {
        let (children, stat) = self
            .children_inner(path, OpCode::GetChildren2, None)
            .await?;
        Ok((children, stat.unwrap_or_default()))
    }

    /// getChildren2 with a child watch.
    pub async fn get_children2_w(&self, path: &str) -> Result<(Vec<String>, Stat, Watch)> {
        let (tx, rx) = oneshot::channel();
        let reg = WatchReg::Child(path.to_string(), tx);
        let (children, stat) = self
            .children_inner(path, OpCode::GetChildren2, Some(reg))
            .await?;
        Ok((children, stat.unwrap_or_default(), Watch { rx }))
    }

    /// The node's ACL and Stat.
    pub async fn get_acl(&self, path: &str) -> Result<(Vec<Acl>, Stat)> {
        let req = PathRequest {
            path: self.server_path(path, false)?,
        };
        let reply = self
            .call(OpCode::GetAcl, |b| req.write(b), None, None, false)
            .await?;
        let resp: GetAclResponse = decode(reply.body)?;
        Ok((resp.acl, resp.stat))
    }

    /// Sets the node's ACL if its ACL version matches (`None`: any); returns the new Stat.
    pub async fn set_acl(&self, path: &str, acl: Vec<Acl>, version: Option<i32>) -> Result<Stat> {
        let req = SetAclRequest {
            path: self.server_path(path, false)?,
            acl,
            version: self::version(version),
        };
        let reply = self
            .call(OpCode::SetAcl, |b| req.write(b), None, None, false)
            .await?;
        Ok(decode::<StatResponse>(reply.body)?.stat)
    }

    /// Waits until the server this client is connected to has caught up with the leader on
    /// `path`.
    pub async fn sync(&self, path: &str) -> Result<()> {
        let req = PathRequest {
            path: self.server_path(path, false)?,
        };
        self.call(OpCode::Sync, |b| req.write(b), None, None, false)
            .await?;
        Ok(())
    }

    /// Runs write ops as one transaction: all are applied, or none. On failure the error is
    /// [`Error::MultiFailed`] naming the first failing op.
    pub async fn multi(&self, ops: Vec<Op>) -> Result<Vec<OpResult>> {
        let mut wire = Vec::with_capacity(ops.len());
        for op in ops {
            wire.push(match op {
                Op::Create {
                    path,
                    data,
                    options,
                } => self.create_request(&path, Some(data), &options, false)?,
                Op::Delete { path, version } => Request::Delete {
                    op: OpCode::Delete,
                    req: DeleteRequest {
                        path: self.server_path(&path, false)?,
                        version: self::version(version),
                    },
                },
                Op::SetData {
                    path,
                    data,
                    version,
                } => Request::SetData(SetDataRequest {
                    path: self.server_path(&path, false)?,
                    data: Some(data),
                    version: self::version(version),
                }),
                Op::Check { path, version } => Request::Check(CheckVersionRequest {
                    path: self.server_path(&path, false)?,
                    version: self::version(version),
                }),
            });
        }
        let req = Request::Multi(wire);
        let reply = self
            .call(OpCode::Multi, |b| req.write_body(b), None, None, true)
            .await?;
        let resp = match decode::<MultiResponse>(reply.body) {
            Ok(r) => r,
            Err(_) if reply.err != 0 => return Err(Error::from_raw(reply.err)),
            Err(e) => return Err(e),
        };
        // The first error result that is not OK / RuntimeInconsistency names the culprit.
        let mut first_err = None;
        for (i, res) in resp.results.iter().enumerate() {
            if let WireResult::Error(code) = res {
                let code = ErrorCode::from_code(*code).unwrap_or(ErrorCode::SystemError);
                let rank = match code {
                    ErrorCode::Ok => 2,
                    ErrorCode::RuntimeInconsistency => 1,
                    _ => 0,
                };
                let better = match first_err {
                    None => true,
                    Some((_, _, r)) => rank < r,
                };
                if better {
                    first_err = Some((i, code, rank));
                }
            }
        }
        if let Some((index, code, _)) = first_err {
            return Err(Error::MultiFailed { index, code });
        }
        if reply.err != 0 {
            return Err(Error::from_raw(reply.err));
        }
        resp.results
            .into_iter()
            .map(|res| match res {
                WireResult::Create(p) => Ok(OpResult::Create(self.client_path(&p), None)),
                WireResult::Create2(p, s) => Ok(OpResult::Create(self.client_path(&p), Some(s))),
                WireResult::Delete => Ok(OpResult::Delete),
                WireResult::SetData(s) => Ok(OpResult::SetData(s)),
                WireResult::Check => Ok(OpResult::Check),
                other => Err(Error::Protocol(format!(
                    "unexpected multi result {other:?}"
                ))),
            })
            .collect()
    }

    /// Runs reads as one request (multiRead); each read succeeds or fails on its own.
    pub async fn multi_read(&self, ops: Vec<ReadOp>) -> Result<Vec<ReadResult>> {
        let mut wire = Vec::with_capacity(ops.len());
        for op in ops {
            wire.push(match op {
                ReadOp::GetData(p) => Request::GetData(GetDataRequest {
                    path: self.server_path(&p, false)?,
                    watch: false,
                }),
                ReadOp::GetChildren(p) => Request::GetChildren(GetChildrenRequest {
                    path: self.server_path(&p, false)?,
                    watch: false,
                }),
            });
        }
        let req = Request::MultiRead(wire);
        let reply = self
            .call(OpCode::MultiRead, |b| req.write_body(b), None, None, false)
            .await?;
        let resp: MultiResponse = decode(reply.body)?;
        resp.results
            .into_iter()
            .map(|res| match res {
                WireResult::GetData(d, s) => Ok(ReadResult::Data(d.unwrap_or_default(), s)),
                WireResult::GetChildren(c) => Ok(ReadResult::Children(c)),
                WireResult::Error(e) => Ok(ReadResult::Error(Error::from_raw(e))),
                other => Err(Error::Protocol(format!(
                    "unexpected multiRead result {other:?}"
                ))),
            })
            .collect()
    }

    /// Sets a persistent watch (`Persistent`: the node's creation, data changes, deletion and
    /// child changes; `PersistentRecursive`: creation, data changes and deletion of the node
    /// and every descendant). It stays until removed and survives reconnects.
    pub async fn add_watch(&self, path: &str, mode: AddWatchMode) -> Result<PersistentWatch> {
        let req = AddWatchRequest {
            path: self.server_path(path, false)?,
            mode: mode.code(),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let reg = match mode {
            AddWatchMode::Persistent => WatchReg::Persistent(path.to_string(), tx),
            AddWatchMode::PersistentRecursive => WatchReg::Recursive(path.to_string(), tx),
        };
        self.call(OpCode::AddWatch, |b| req.write(b), Some(reg), None, false)
            .await?;
        Ok(PersistentWatch { rx })
    }

    /// Removes every watch of `kind` this session has on `path`, on the server and locally
    /// (local one-shot watches resolve with a `DataWatchRemoved` / `ChildWatchRemoved` event,
    /// persistent ones get `PersistentWatchRemoved` and end). The server answers `NoWatcher`
    /// when there is none.
    pub async fn remove_watches(&self, path: &str, kind: WatcherType) -> Result<()> {
        let req = RemoveWatchesRequest {
            path: self.server_path(path, false)?,
            watcher_type: kind.code(),
        };
        self.call(
            OpCode::RemoveWatches,
            |b| req.write(b),
            None,
            Some((path.to_string(), kind)),
            false,
        )
        .await?;
        Ok(())
    }

    /// Asks the server whether this session has a watch of `kind` on `path` (checkWatches);
    /// `NoWatcher` when it has none. Nothing is removed.
    pub async fn check_watches(&self, path: &str, kind: WatcherType) -> Result<()> {
        let req = RemoveWatchesRequest {
            path: self.server_path(path, false)?,
            watcher_type: kind.code(),
        };
        self.call(OpCode::CheckWatches, |b| req.write(b), None, None, false)
            .await?;
        Ok(())
    }

    /// The paths of this session's ephemeral nodes under `prefix` (relative to the chroot).
    pub async fn get_ephemerals(&self, prefix: &str) -> Result<Vec<String>> {
        let req = PathRequest {
            path: self.server_path(prefix, false)?,
        };
        let reply = self
            .call(OpCode::GetEphemerals, |b| req.write(b), None, None, false)
            .await?;
        let resp: ChildrenResponse = decode(reply.body)?;
        Ok(resp.children.iter().map(|p| self.client_path(p)).collect())
    }

    /// The number of descendants of `path` (not counting itself).
    pub async fn get_all_children_number(&self, path: &str) -> Result<i32> {
        let req = PathRequest {
            path: self.server_path(path, false)?,
        };
        let reply = self
            .call(
                OpCode::GetAllChildrenNumber,
                |b| req.write(b),
                None,
                None,
                false,
            )
            .await?;
        Ok(decode::<GetAllChildrenNumberResponse>(reply.body)?.total_number)
    }

    /// Asks the ensemble to change its membership (`reconfig`, as `ZooKeeperAdmin.reconfigure`):
    /// `joining` and `leaving` for an incremental change (comma-separated server strings and
    /// ids), or `members` for the whole new membership; `from_config` is the config version it
    /// applies to (-1: any). Returns the new config's data and Stat. A standalone server answers
    /// `ReconfigDisabled`.
    pub async fn reconfig(
        &self,
        joining: Option<&str>,
        leaving: Option<&str>,
        members: Option<&str>,
        from_config: i64,
    ) -> Result<(Option<Bytes>, Stat)> {
        // ReconfigRequest: three ustrings (null stays null: length -1) and a long.
        fn put_ustring(b: &mut BytesMut, s: Option<&str>) {
            match s {
                Some(s) => {
                    b.put_i32(s.len() as i32);
                    b.put_slice(s.as_bytes());
                }
                None => b.put_i32(-1),
            }
        }
        let reply = self
            .call(
                OpCode::Reconfig,
                |b| {
                    put_ustring(b, joining);
                    put_ustring(b, leaving);
                    put_ustring(b, members);
                    b.put_i64(from_config);
                },
                None,
                None,
                false,
            )
            .await?;
        let resp: GetDataResponse = decode(reply.body)?;
        Ok((resp.data, resp.stat))
    }

    /// The identities the server associates with this session (whoAmI).
    pub async fn who_am_i(&self) -> Result<Vec<ClientInfo>> {
        let reply = self
            .call(OpCode::WhoAmI, |_: &mut BytesMut| {}, None, None, false)
            .await?;
        Ok(decode::<WhoAmIResponse>(reply.body)?.client_info)
    }
}
