//! The sasl request (op 102), as ZooKeeperServer.processSasl answers it: on an established
//! connection, at any point after the ConnectRequest, one SASL exchange per connection
//! (DIGEST-MD5 only, from corral-acl). Every answer has the request's xid and zxid 0.
//!
//! - SASL not offered (no JAAS file, or no `Server` section): Ok with a null token, as
//!   ZooKeeper answers when the connection has no SaslServer.
//! - a challenge or rspauth: Ok with that token; on success the connection gains
//!   `sasl:<authorization id>` (and `super` for a configured super user).
//! - any failure: AuthFailed with a null token, then the connection is closed; kazoo reports
//!   AuthFailedError.

use corral_acl::sasl::{authenticate_sasl, Step};
use corral_jute::codes::ErrorCode;
use corral_jute::records::{ReplyHeader, SetSaslResponse};

use super::{ConnId, Core, Nonce, Now};

impl Core {
    /// Answers a sasl request carrying the client's `token`.
    /// `nonce` is random bytes from the caller (ZooKeeper's JDK uses SecureRandom).
    pub(super) fn sasl(
        &mut self,
        conn: ConnId,
        xid: i32,
        token: &[u8],
        nonce: Option<Nonce>,
        now: Now,
    ) {
        let Some(users) = &self.config.sasl_users else {
            tracing::error!("sasl request, but SASL is not configured (no JAAS Server section)");
            self.sasl_reply(conn, xid, ErrorCode::Ok, None, now);
            return;
        };
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        let remote = c.remote();
        let outcome = match nonce {
            Some(nonce) => c
                .sasl_mut()
                .evaluate(token, &nonce, users)
                .map_err(|e| e.to_string()),
            None => Err("no random bytes for a nonce".to_string()),
        };
        match outcome {
            Ok(Step::Challenge(challenge)) => {
                self.sasl_reply(conn, xid, ErrorCode::Ok, Some(challenge), now);
            }
            Ok(Step::Success {
                rspauth,
                authorization_id,
            }) => {
                let session = c.session().unwrap_or_default();
                tracing::info!(
                    "Session 0x{session:x}: adding SASL authorization for authorizationID: \
                     {authorization_id}"
                );
                c.add_auth_ids(authenticate_sasl(
                    &authorization_id,
                    &self.config.sasl_super_users,
                ));
                self.sasl_reply(conn, xid, ErrorCode::Ok, Some(rspauth), now);
            }
            Err(why) => {
                tracing::warn!(
                    "Client {remote} failed to SASL authenticate: {why}; closing the connection"
                );
                self.stats.auth_failed += 1;
                self.sasl_reply(conn, xid, ErrorCode::AuthFailed, None, now);
                self.send_close(conn);
            }
        }
    }

    /// A SetSASLResponse with zxid 0: ZooKeeper sends the record even with AuthFailed.
    fn sasl_reply(
        &mut self,
        conn: ConnId,
        xid: i32,
        err: ErrorCode,
        token: Option<Vec<u8>>,
        now: Now,
    ) {
        let header = ReplyHeader {
            xid,
            zxid: 0,
            err: err.code(),
        };
        let body = SetSaslResponse {
            token: token.map(bytes::Bytes::from),
        };
        self.send_reply(conn, &header, Some(&body), now);
    }
}
