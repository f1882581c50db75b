//! The server-level messages between the servers of an ensemble, beside the ZAB engine's
//! own (they travel on the same FIFO stream, on their own channel).
//!
//! A learner (follower or observer) hands the leader what only the leader may turn into a
//! txn, as ZooKeeper's `Learner.request` does (a REQUEST packet with the session id, cxid,
//! type, request bytes and auth info): client writes, createSession, closeSession and sync;
//! and, every tick, the sessions its clients kept alive (ZooKeeper piggybacks them on PING
//! replies). The leader answers a sync once everything proposed before it is committed.
//!
//! The encoding is jute's primitives behind a one-byte tag; a frame that does not decode is
//! refused with [`JuteError`] (the caller logs it and drops the frame).

use bytes::{BufMut, Bytes, BytesMut};
use corral_jute::io::{Jute, Reader};
use corral_jute::records::Id;
use corral_jute::JuteError;
use corral_zxid::Zxid;

/// One server-level message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerMsg {
    /// Learner -> leader: a client's write (`op` and the request body after the header),
    /// with the auth ids of the connection that sent it.
    Request {
        /// The client's session.
        session_id: i64,
        /// The request's xid (the txn's cxid).
        cxid: i32,
        /// The op code.
        op: i32,
        /// The connection's auth ids (the leader preps ACL checks with them).
        auth_ids: Vec<Id>,
        /// The request body (as the client sent it, without its header).
        body: Bytes,
    },
    /// Learner -> leader: a new session with this id (the learner's own top byte).
    CreateSession {
        /// The new session.
        session_id: i64,
        /// Its negotiated timeout.
        timeout_ms: i32,
    },
    /// Learner -> leader: the client closes its session.
    CloseSession {
        /// The session.
        session_id: i64,
        /// The closeSession request's xid.
        cxid: i32,
    },
    /// Learner -> leader: a client's sync.
    Sync {
        /// The session.
        session_id: i64,
        /// The sync request's xid.
        cxid: i32,
    },
    /// Learner -> leader: a client resumes this session here (its password checked): is it
    /// still alive? (ZooKeeper's REVALIDATE: only the leader's tracker knows.)
    Revalidate {
        /// The session.
        session_id: i64,
    },
    /// Leader -> learner: the answer to [`PeerMsg::Revalidate`]: the session's timeout, 0
    /// when it is unknown or closing (the client is told it expired).
    Revalidated {
        /// The session.
        session_id: i64,
        /// Its timeout, or 0.
        timeout_ms: i32,
    },
    /// Learner -> leader: these sessions were active since the last touch.
    Touch {
        /// Session ids.
        sessions: Vec<i64>,
    },
    /// Leader -> learner: the sync of (`session_id`, `cxid`) may be answered once `zxid`
    /// is applied.
    Synced {
        /// The session.
        session_id: i64,
        /// The sync's xid.
        cxid: i32,
        /// The last zxid the leader had proposed when it saw the sync.
        zxid: Zxid,
    },
    /// Leader -> learner: a request of this session reached a server that is not (or not
    /// yet) leading, and was dropped: the learner closes the session's connection so that
    /// the client retries (it sees a connection loss, as when ZooKeeper's learner loses
    /// its leader).
    Refused {
        /// The session.
        session_id: i64,
    },
}

const REQUEST: u8 = 1;
const CREATE_SESSION: u8 = 2;
const CLOSE_SESSION: u8 = 3;
const SYNC: u8 = 4;
const TOUCH: u8 = 5;
const SYNCED: u8 = 6;
const REFUSED: u8 = 7;
const REVALIDATE: u8 = 8;
const REVALIDATED: u8 = 9;

impl PeerMsg {
    /// The session a learner's request is for (`None`: not a request).
    pub fn request_session(&self) -> Option<i64> {
        match self {
            PeerMsg::Request { session_id, .. }
            | PeerMsg::CreateSession { session_id, .. }
            | PeerMsg::CloseSession { session_id, .. }
            | PeerMsg::Sync { session_id, .. }
            | PeerMsg::Revalidate { session_id } => Some(*session_id),
            PeerMsg::Touch { .. }
            | PeerMsg::Synced { .. }
            | PeerMsg::Refused { .. }
            | PeerMsg::Revalidated { .. } => None,
        }
    }

    /// The frame.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(32);
        match self {
            PeerMsg::Request {
                session_id,
                cxid,
                op,
                auth_ids,
                body,
            } => {
                out.put_u8(REQUEST);
                session_id.write(&mut out);
                cxid.write(&mut out);
                op.write(&mut out);
                (auth_ids.len() as i32).write(&mut out);
                for id in auth_ids {
                    id.write(&mut out);
                }
                Some(body.clone()).write(&mut out);
            }
            PeerMsg::CreateSession {
                session_id,
                timeout_ms,
            } => {
                out.put_u8(CREATE_SESSION);
                session_id.write(&mut out);
                timeout_ms.write(&mut out);
            }
            PeerMsg::CloseSession { session_id, cxid } => {
                out.put_u8(CLOSE_SESSION);
                session_id.write(&mut out);
                cxid.write(&mut out);
            }
            PeerMsg::Sync { session_id, cxid } => {
                out.put_u8(SYNC);
                session_id.write(&mut out);
                cxid.write(&mut out);
            }
            PeerMsg::Touch { sessions } => {
                out.put_u8(TOUCH);
                (sessions.len() as i32).write(&mut out);
                for s in sessions {
                    s.write(&mut out);
                }
            }
            PeerMsg::Synced {
                session_id,
                cxid,
                zxid,
            } => {
                out.put_u8(SYNCED);
                session_id.write(&mut out);
                cxid.write(&mut out);
                zxid.to_wire().write(&mut out);
            }
            PeerMsg::Refused { session_id } => {
                out.put_u8(REFUSED);
                session_id.write(&mut out);
            }
            PeerMsg::Revalidate { session_id } => {
                out.put_u8(REVALIDATE);
                session_id.write(&mut out);
            }
            PeerMsg::Revalidated {
                session_id,
                timeout_ms,
            } => {
                out.put_u8(REVALIDATED);
                session_id.write(&mut out);
                timeout_ms.write(&mut out);
            }
        }
        out.freeze()
    }

    /// Decodes a frame; it must be exactly one message.
    pub fn decode(frame: Bytes) -> Result<PeerMsg, JuteError> {
        let tag = *frame.first().ok_or(JuteError::UnexpectedEof {
            offset: 0,
            needed: 1,
        })?;
        let mut r = Reader::new(frame.slice(1..));
        let msg = match tag {
            REQUEST => {
                let session_id = r.read_i64()?;
                let cxid = r.read_i32()?;
                let op = r.read_i32()?;
                let count = read_count(&mut r)?;
                let mut auth_ids = Vec::with_capacity(count);
                for _ in 0..count {
                    auth_ids.push(Id::read(&mut r)?);
                }
                let body = r.read_buffer()?.unwrap_or_default();
                PeerMsg::Request {
                    session_id,
                    cxid,
                    op,
                    auth_ids,
                    body,
                }
            }
            CREATE_SESSION => PeerMsg::CreateSession {
                session_id: r.read_i64()?,
                timeout_ms: r.read_i32()?,
            },
            CLOSE_SESSION => PeerMsg::CloseSession {
                session_id: r.read_i64()?,
                cxid: r.read_i32()?,
            },
            SYNC => PeerMsg::Sync {
                session_id: r.read_i64()?,
                cxid: r.read_i32()?,
            },
            TOUCH => {
                let count = read_count(&mut r)?;
                let mut sessions = Vec::with_capacity(count);
                for _ in 0..count {
                    sessions.push(r.read_i64()?);
                }
                PeerMsg::Touch { sessions }
            }
            SYNCED => PeerMsg::Synced {
                session_id: r.read_i64()?,
                cxid: r.read_i32()?,
                zxid: Zxid::from_wire(r.read_i64()?),
            },
            REFUSED => PeerMsg::Refused {
                session_id: r.read_i64()?,
            },
            REVALIDATE => PeerMsg::Revalidate {
                session_id: r.read_i64()?,
            },
            REVALIDATED => PeerMsg::Revalidated {
                session_id: r.read_i64()?,
                timeout_ms: r.read_i32()?,
            },
            // Not a message of ours (a newer server's?): refused like an unknown op.
            other => return Err(JuteError::UnknownOpCode(i32::from(other))),
        };
        r.finish()?;
        Ok(msg)
    }
}

/// A count of items of at least 8 bytes each, checked against what is left.
fn read_count(r: &mut Reader) -> Result<usize, JuteError> {
    let offset = r.position();
    let len = r.read_i32()?;
    match usize::try_from(len) {
        Ok(n) if n <= r.remaining() / 8 => Ok(n),
        _ => Err(JuteError::InvalidLength { len, offset }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips_and_garbage_is_refused() {
        let all = [
            PeerMsg::Request {
                session_id: 0x0100_0000_0000_0007,
                cxid: 9,
                op: 1,
                auth_ids: vec![Id {
                    scheme: "digest".into(),
                    id: "u:x".into(),
                }],
                body: Bytes::from_static(b"\0\0\0\x02/a"),
            },
            PeerMsg::CreateSession {
                session_id: -5,
                timeout_ms: 4000,
            },
            PeerMsg::CloseSession {
                session_id: 3,
                cxid: 2,
            },
            PeerMsg::Sync {
                session_id: 3,
                cxid: 7,
            },
            PeerMsg::Touch {
                sessions: vec![1, 2, 3],
            },
            PeerMsg::Synced {
                session_id: 3,
                cxid: 7,
                zxid: Zxid(0x1_0000_0004),
            },
            PeerMsg::Refused { session_id: 11 },
            PeerMsg::Revalidate { session_id: 12 },
            PeerMsg::Revalidated {
                session_id: 12,
                timeout_ms: 6000,
            },
        ];
        for msg in all {
            let frame = msg.encode();
            assert_eq!(PeerMsg::decode(frame.clone()).ok(), Some(msg));
            // Every strict prefix is refused, and so is trailing garbage.
            for cut in 0..frame.len() {
                assert!(PeerMsg::decode(frame.slice(..cut)).is_err(), "prefix {cut}");
            }
            let mut longer = BytesMut::from(&frame[..]);
            longer.put_u8(0);
            assert!(PeerMsg::decode(longer.freeze()).is_err());
        }
        assert!(PeerMsg::decode(Bytes::from_static(&[99])).is_err());
    }
}
