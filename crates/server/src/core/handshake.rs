//! The handshake: a connection's ConnectRequest starts a new session or resumes one (on a
//! learner, through the leader's revalidation), and the ConnectResponse that answers it.

use bytes::{Bytes, BytesMut};
use corral_jute::codes::OpCode;
use corral_jute::frame::encode_frame;
use corral_jute::io::{Jute, Secret};
use corral_jute::records::{ConnectRequest, ConnectResponse};
use corral_session::SessionId;
use corral_zxid::Zxid;

use super::write_path::{Proposer, WritePath};
use super::{ConnError, ConnId, Core, Now, Waiter};
use crate::stats::op_name;

/// A zxid a client sends (ConnectRequest.lastZxidSeen, SetWatches.relativeZxid) as the
/// server orders zxids, or `None` for "none seen": a value of the reserved epoch 0xffffffff,
/// such as -1, which no txn ever has. ZooKeeper compares these as signed longs; as unsigned
/// numbers, a client that saw epoch 2^31 is ahead of a server still at epoch 1, as it is.
pub(super) fn client_zxid(wire: i64) -> Option<Zxid> {
    let zxid = Zxid::from_wire(wire);
    (zxid.epoch() <= Zxid::MAX_EPOCH).then_some(zxid)
}

impl Core {
    pub(super) fn handle_connect(
        &mut self,
        conn: ConnId,
        req: ConnectRequest,
        now: Now,
    ) -> Result<(), ConnError> {
        let ours = self.state.applied_zxid();
        if client_zxid(req.last_zxid_seen).is_some_and(|seen| seen > ours) {
            return Err(ConnError::ClientAhead {
                client: req.last_zxid_seen,
                ours: ours.to_wire(),
            });
        }
        let timeout = self.write.sessions().config().negotiate(req.timeout);
        let read_only_format = req.read_only.is_some();
        self.metrics.connection_request_count += 1;
        if req.session_id == 0 {
            self.connect_new_session(conn, timeout, read_only_format, now);
        } else {
            self.metrics.connection_revalidate_count += 1;
            self.reconnect_session(conn, &req, read_only_format, now);
        }
        Ok(())
    }

    /// A new session: a createSession txn, answered with the ConnectResponse once committed.
    fn connect_new_session(
        &mut self,
        conn: ConnId,
        timeout: u32,
        read_only_format: bool,
        now: Now,
    ) {
        let session = self.write.sessions_mut().create(timeout, now.mono_ms());
        let id = session.id().0;
        let passwd = Bytes::copy_from_slice(session.password().as_bytes());
        let remote = self.conns.get(conn).map(|c| c.remote().to_string());
        tracing::info!(
            "Established session 0x{:x} with negotiated timeout {} for client {}",
            id,
            timeout,
            remote.unwrap_or_default()
        );
        let response = connect_response(id, timeout, passwd, read_only_format);
        // The session is this connection's from now on, so requests pipelined behind the
        // ConnectRequest queue behind the createSession txn.
        self.conns.bind_session(conn, id);
        if let Some(c) = self.conns.get_mut(conn) {
            c.stats_mut()
                .request(0, op_name(OpCode::CreateSession), now.mono_us);
        }
        let who = Proposer {
            session_id: id,
            cxid: 0,
            auth_ids: &[],
            wall_ms: now.wall_ms,
            via: self.me(),
        };
        let logged = self.write.create_session(&who, timeout);
        self.logged(id, 0, Waiter::Connect { conn, response }, logged);
    }

    /// A client resuming its session (on this or another connection). The session's current
    /// connection, if any, is closed first. A session that is unknown, expired or presented
    /// with the wrong password gets timeout 0, session 0 and a zero password, then the
    /// connection closes: the client reports Expired.
    fn reconnect_session(
        &mut self,
        conn: ConnId,
        req: &ConnectRequest,
        read_only_format: bool,
        now: Now,
    ) {
        let id = SessionId(req.session_id);
        // The session's current connection is closed before the password is checked, as
        // ZooKeeper does (processConnectRequest closes it with CLIENT_RECONNECT): a wrong
        // password also disconnects the owner, which then reconnects.
        if let Some(old) = self.conns.holder(req.session_id) {
            if old != conn {
                self.send_close(old);
                self.conns.remove(old);
            }
        }
        // A learner checks the password (the same on every server) and asks the leader,
        // whose tracker alone knows whether the session still lives.
        if matches!(self.write, WritePath::Learner(_))
            && self
                .write
                .sessions()
                .password_for(id)
                .matches(&req.passwd.0)
        {
            self.ask_leader_to_revalidate(conn, id.0, read_only_format);
            return;
        }
        let me = self.me();
        let tracker = self.write.sessions_mut();
        let revalidated = tracker
            .revalidate(id, &req.passwd.0, now.mono_ms())
            .map_err(|e| e.to_string());
        if revalidated.is_ok() {
            // The session is this server's now (a leader checks it on every write).
            tracker.set_owner(id, me);
        }
        self.answer_resume(conn, id, revalidated, read_only_format);
    }

    /// Answers a client resuming session `id` on `conn`: with its timeout, the
    /// ConnectResponse (the connection holds the session from now on); with why not, session
    /// 0, timeout 0 and a zero password, then the connection closes (the client reports
    /// Expired).
    pub(super) fn answer_resume(
        &mut self,
        conn: ConnId,
        id: SessionId,
        revalidated: Result<u32, String>,
        read_only_format: bool,
    ) {
        match revalidated {
            Ok(timeout) => {
                tracing::info!("Reconnected session 0x{:x}", id.0);
                let passwd =
                    Bytes::copy_from_slice(self.write.sessions().password_for(id).as_bytes());
                let response = connect_response(id.0, timeout, passwd, read_only_format);
                self.send_frame(conn, response);
                self.conns.bind_session(conn, id.0);
            }
            Err(why) => {
                tracing::info!(
                    "Invalid session 0x{:x} for client, probably expired: {}",
                    id.0,
                    why
                );
                let passwd = Bytes::from_static(&[0u8; 16]);
                let response = connect_response(0, 0, passwd, read_only_format);
                self.send_frame(conn, response);
                self.send_close(conn);
            }
        }
    }
}

/// A ConnectResponse frame. `read_only_format` answers a client that sent the readOnly flag
/// in its own format (with the flag: this server is never read-only).
fn connect_response(session_id: i64, timeout: u32, passwd: Bytes, read_only_format: bool) -> Bytes {
    let resp = ConnectResponse {
        protocol_version: 0,
        timeout: timeout as i32,
        session_id,
        passwd: Secret(passwd),
        read_only: read_only_format.then_some(false),
    };
    let mut out = BytesMut::with_capacity(64);
    encode_frame(&mut out, |o| resp.write(o));
    out.freeze()
}
