//! One handler per request family: what ZooKeeper's FinalRequestProcessor does for each op,
//! answered from the tree, the watch registry and the session table.

use corral_jute::codes::{perms, AddWatchMode, ErrorCode, EventType, WatcherType};
use corral_jute::frame::JuteWrite;
use corral_jute::io::Jute;
use corral_jute::records::*;
use corral_jute::request::{MultiResponse, OpResult, Request};
use corral_watch::{WatchFilter, WatchKind};
use corral_zxid::Zxid;

use super::{ConnId, Core, Nonce, Now};

impl Core {
    /// Answers one decoded request of an established session. Every reply echoes the
    /// request's xid, the reserved ones included (ping -2, auth -4, setWatches -8): clients
    /// send setWatches2 with an ordinary xid and match replies by it.
    pub(crate) fn dispatch(
        &mut self,
        conn: ConnId,
        session_id: i64,
        xid: i32,
        req: Request,
        nonce: Option<Nonce>,
        now: Now,
    ) {
        match req {
            Request::Ping => {
                let zxid = self.state.applied_zxid().to_wire();
                self.reply(conn, xid, zxid, ErrorCode::Ok, None, now);
            }
            Request::CloseSession => {
                tracing::info!("Closing session 0x{:x} at the client's request", session_id);
                self.close_session(session_id, Some(conn), Some(xid), now);
            }
            // The writes (Request::is_write, closeSession apart): prepped and logged.
            write if write.is_write() => self.submit_write(conn, session_id, xid, &write, now),
            Request::MultiRead(ops) => {
                let results = ops.iter().map(|op| self.multi_read_op(conn, op)).collect();
                let zxid = self.state.applied_zxid().to_wire();
                self.reply(
                    conn,
                    xid,
                    zxid,
                    ErrorCode::Ok,
                    Some(&MultiResponse { results }),
                    now,
                );
            }
            // In an ensemble a sync makes this server catch up with the leader first.
            Request::Sync(r) if self.role != super::ServerRole::Standalone => {
                self.submit_sync(conn, session_id, xid, r.path, now)
            }
            Request::Auth(packet) => self.add_auth(conn, xid, &packet, now),
            Request::Sasl(req) => self.sasl(conn, xid, &req.token.0, nonce, now),
            Request::SetWatches(w) => self.set_watches(
                conn,
                xid,
                &Rewatch {
                    relative_zxid: w.relative_zxid,
                    data: &w.data_watches,
                    exist: &w.exist_watches,
                    child: &w.child_watches,
                    persistent: &[],
                    recursive: &[],
                },
                now,
            ),
            Request::SetWatches2(w) => self.set_watches(
                conn,
                xid,
                &Rewatch {
                    relative_zxid: w.relative_zxid,
                    data: &w.data_watches,
                    exist: &w.exist_watches,
                    child: &w.child_watches,
                    persistent: &w.persistent_watches,
                    recursive: &w.persistent_recursive_watches,
                },
                now,
            ),
            other => {
                let zxid = self.state.applied_zxid().to_wire();
                match self.read_op(conn, &other) {
                    Ok(Some(body)) => self.reply(conn, xid, zxid, ErrorCode::Ok, Some(&body), now),
                    Ok(None) => self.reply(conn, xid, zxid, ErrorCode::Ok, None, now),
                    Err(code) => self.reply(conn, xid, zxid, code, None, now),
                }
            }
        }
    }

    /// addauth: `digest` and `ip` authenticate as ZooKeeper's providers do; any other scheme
    /// gets AuthFailed and the connection is closed, as ZooKeeper answers an unknown scheme.
    fn add_auth(&mut self, conn: ConnId, xid: i32, packet: &AuthPacket, now: Now) {
        let new_ids = match packet.scheme.as_str() {
            "digest" => match std::str::from_utf8(&packet.auth.0) {
                Ok(credentials) => Some(corral_acl::authenticate_digest(
                    credentials,
                    self.config.super_digest.as_deref(),
                )),
                Err(_) => None,
            },
            "ip" => self.conns.get(conn).map(|c| {
                vec![Id {
                    scheme: "ip".into(),
                    id: c.remote().ip().to_string(),
                }]
            }),
            _ => None,
        };
        match (new_ids, self.conns.get_mut(conn)) {
            (Some(ids), Some(c)) => {
                c.add_auth_ids(ids);
                self.reply(conn, xid, 0, ErrorCode::Ok, None, now);
            }
            _ => {
                tracing::warn!("Authentication failed for scheme: {}", packet.scheme);
                self.stats.auth_failed += 1;
                self.reply(conn, xid, 0, ErrorCode::AuthFailed, None, now);
                self.send_close(conn);
            }
        }
    }

    fn check_perm(&self, conn: ConnId, path: &str, perm: i32) -> Result<(), ErrorCode> {
        match self.state.tree().node_acl(path) {
            None => Err(ErrorCode::NoNode),
            Some(acl)
                if corral_acl::check_with(
                    acl,
                    perm,
                    self.auth_ids(conn),
                    self.config.auth_providers(),
                ) =>
            {
                Ok(())
            }
            Some(_) => Err(ErrorCode::NoAuth),
        }
    }

    fn multi_read_op(&mut self, conn: ConnId, op: &Request) -> OpResult {
        // read_op registers any watch asked for; multiRead answers getData and getChildren.
        match self.read_op(conn, op) {
            Err(code) => OpResult::Error(code.code()),
            Ok(Some(ReadReply::Data(r))) if matches!(op, Request::GetData(_)) => {
                OpResult::GetData(r.data, r.stat)
            }
            Ok(Some(ReadReply::Children(r))) if matches!(op, Request::GetChildren(_)) => {
                OpResult::GetChildren(r.children)
            }
            Ok(_) => OpResult::Error(ErrorCode::BadArguments.code()),
        }
    }

    /// A read-only op: its reply body, registering the watch it asks for.
    fn read_op(&mut self, conn: ConnId, req: &Request) -> Result<Option<ReadReply>, ErrorCode> {
        Ok(Some(match req {
            Request::Exists(r) => {
                // exists leaves a data watch whether or not the node exists.
                if r.watch {
                    self.conns.watches_mut().add(&r.path, WatchKind::Data, conn);
                }
                let stat = self.state.tree().stat(&r.path).ok_or(ErrorCode::NoNode)?;
                self.metrics.read(&r.path, 0);
                ReadReply::Stat(StatResponse { stat })
            }
            Request::GetData(r) => {
                self.check_perm(conn, &r.path, perms::READ)?;
                let (data, stat) = self.state.tree().get_data(&r.path)?;
                self.metrics
                    .read(&r.path, data.as_ref().map_or(0, |d| d.len()));
                if r.watch {
                    self.conns.watches_mut().add(&r.path, WatchKind::Data, conn);
                }
                ReadReply::Data(GetDataResponse { data, stat })
            }
            Request::GetChildren(r) | Request::GetChildren2(r) => {
                self.check_perm(conn, &r.path, perms::READ)?;
                let (children, stat) = self.state.tree().get_children(&r.path)?;
                // ZooKeeper counts the characters of the children's names (Java's length).
                let names: usize = children.iter().map(|c| c.encode_utf16().count()).sum();
                self.metrics.read(&r.path, names);
                if r.watch {
                    self.conns
                        .watches_mut()
                        .add(&r.path, WatchKind::Child, conn);
                }
                if matches!(req, Request::GetChildren(_)) {
                    ReadReply::Children(ChildrenResponse { children })
                } else {
                    ReadReply::Children2(GetChildren2Response { children, stat })
                }
            }
            Request::GetAcl(r) => {
                // READ or ADMIN may read an ACL; without ADMIN digest hashes are redacted.
                self.check_perm(conn, &r.path, perms::READ | perms::ADMIN)?;
                let (mut acl, stat) = self.state.tree().get_acl(&r.path)?;
                if self.check_perm(conn, &r.path, perms::ADMIN).is_err() {
                    for entry in acl.iter_mut().filter(|a| a.id.scheme == "digest") {
                        let user = entry.id.id.split(':').next().unwrap_or_default();
                        entry.id.id = format!("{user}:x");
                    }
                }
                ReadReply::Acl(GetAclResponse { acl, stat })
            }
            Request::Sync(r) => ReadReply::Path(PathResponse {
                path: r.path.clone(),
            }),
            Request::GetAllChildrenNumber(r) => {
                self.check_perm(conn, &r.path, perms::READ)?;
                ReadReply::Number(GetAllChildrenNumberResponse {
                    total_number: self.state.tree().all_children_number(&r.path)?,
                })
            }
            Request::GetEphemerals(r) => {
                let session = self
                    .conns
                    .get(conn)
                    .and_then(|c| c.session())
                    .unwrap_or_default();
                let prefix = r.path.as_str();
                let children = self
                    .state
                    .tree()
                    .ephemerals(session)
                    .into_iter()
                    .filter(|p| prefix.is_empty() || prefix == "/" || p.starts_with(prefix))
                    .collect();
                ReadReply::Children(ChildrenResponse { children })
            }
            Request::WhoAmI => ReadReply::WhoAmI(WhoAmIResponse {
                // As ZooKeeper's AuthUtil.getClientInfos: every id, its user as the scheme's
                // provider names it ("" for super, and for sasl when its provider is not
                // registered), in the auth-info set's order.
                client_info: crate::auth_order::zookeeper_order(self.auth_ids(conn))
                    .into_iter()
                    .map(|id| ClientInfo {
                        auth_scheme: id.scheme.clone(),
                        user: match id.scheme.as_str() {
                            "digest" => id.id.split(':').next().unwrap_or_default().to_string(),
                            "sasl" if !self.config.sasl_auth_provider => String::new(),
                            // No provider is registered for `super`: no user name, whatever
                            // the id (x509's super user carries its subject).
                            "super" => String::new(),
                            _ => id.id.clone(),
                        },
                    })
                    .collect(),
            }),
            Request::AddWatch(r) => {
                let kind = match AddWatchMode::from_code(r.mode) {
                    Ok(AddWatchMode::Persistent) => WatchKind::Persistent,
                    Ok(AddWatchMode::PersistentRecursive) => WatchKind::PersistentRecursive,
                    Err(_) => return Err(ErrorCode::BadArguments),
                };
                self.conns.watches_mut().add(&r.path, kind, conn);
                ReadReply::Empty(ErrorResponse { err: 0 })
            }
            Request::CheckWatches(r) | Request::RemoveWatches(r) => {
                let filter = watcher_filter(r.watcher_type)?;
                let found = if matches!(req, Request::CheckWatches(_)) {
                    self.conns.watches_mut().contains(&r.path, filter, conn)
                } else {
                    self.conns.watches_mut().remove(&r.path, filter, conn)
                };
                if !found {
                    return Err(ErrorCode::NoWatcher);
                }
                return Ok(None);
            }
            _ => return Err(ErrorCode::Unimplemented),
        }))
    }

    /// Re-registers a reconnecting client's watches, first firing what it missed since
    /// `relative_zxid` (as ZooKeeper's DataTree.setWatches).
    fn set_watches(&mut self, conn: ConnId, xid: i32, w: &Rewatch<'_>, now: Now) {
        let Rewatch {
            relative_zxid,
            data,
            exist,
            child,
            persistent,
            recursive,
        } = *w;
        // In ZooKeeper's order: data, exist, child, then the persistent kinds.
        self.replay_watches(conn, relative_zxid, data, WatchKind::Data);
        for path in exist {
            if self.state.tree().stat(path).is_some() {
                self.send_event(conn, path, EventType::NodeCreated);
            } else {
                self.conns.watches_mut().add(path, WatchKind::Data, conn);
            }
        }
        self.replay_watches(conn, relative_zxid, child, WatchKind::Child);
        for path in persistent {
            self.conns
                .watches_mut()
                .add(path, WatchKind::Persistent, conn);
        }
        for path in recursive {
            self.conns
                .watches_mut()
                .add(path, WatchKind::PersistentRecursive, conn);
        }
        let zxid = self.state.applied_zxid().to_wire();
        self.reply(conn, xid, zxid, ErrorCode::Ok, None, now);
    }
}

impl Core {
    /// Data or child watches of a reconnecting client: NodeDeleted for a node that is gone,
    /// NodeDataChanged / NodeChildrenChanged for one changed since `relative_zxid` (its mzxid
    /// or pzxid), otherwise the watch is registered again.
    fn replay_watches(
        &mut self,
        conn: ConnId,
        relative_zxid: i64,
        paths: &[String],
        kind: WatchKind,
    ) {
        let (changed, last_change): (EventType, fn(&Stat) -> i64) = match kind {
            WatchKind::Child => (EventType::NodeChildrenChanged, |s| s.pzxid),
            _ => (EventType::NodeDataChanged, |s| s.mzxid),
        };
        let relative = super::handshake::client_zxid(relative_zxid);
        for path in paths {
            match self.state.tree().stat(path) {
                None => self.send_event(conn, path, EventType::NodeDeleted),
                Some(stat) if relative.is_none_or(|r| Zxid::from_wire(last_change(&stat)) > r) => {
                    self.send_event(conn, path, changed)
                }
                Some(_) => {
                    self.conns.watches_mut().add(path, kind, conn);
                }
            }
        }
    }
}

/// The body of a read's reply (one value per request, no allocation for the dispatch).
enum ReadReply {
    Stat(StatResponse),
    Data(GetDataResponse),
    Children(ChildrenResponse),
    Children2(GetChildren2Response),
    Acl(GetAclResponse),
    Path(PathResponse),
    Number(GetAllChildrenNumberResponse),
    WhoAmI(WhoAmIResponse),
    Empty(ErrorResponse),
}

impl JuteWrite for ReadReply {
    fn write_to(&self, out: &mut bytes::BytesMut) {
        match self {
            ReadReply::Stat(r) => r.write(out),
            ReadReply::Data(r) => r.write(out),
            ReadReply::Children(r) => r.write(out),
            ReadReply::Children2(r) => r.write(out),
            ReadReply::Acl(r) => r.write(out),
            ReadReply::Path(r) => r.write(out),
            ReadReply::Number(r) => r.write(out),
            ReadReply::WhoAmI(r) => r.write(out),
            ReadReply::Empty(r) => r.write(out),
        }
    }
}

/// The watches a reconnecting client sets again (setWatches, setWatches2).
#[derive(Clone, Copy)]
struct Rewatch<'a> {
    relative_zxid: i64,
    data: &'a [String],
    exist: &'a [String],
    child: &'a [String],
    persistent: &'a [String],
    recursive: &'a [String],
}

fn watcher_filter(code: i32) -> Result<WatchFilter, ErrorCode> {
    match WatcherType::from_code(code) {
        Ok(t) => Ok(WatchFilter::from(t)),
        Err(_) => Err(ErrorCode::BadArguments),
    }
}
