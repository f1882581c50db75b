//! The engine's [`Message`] as bytes: one message per transport frame.
//!
//! A frame is a kind byte, then the fields big-endian; a payload (PROPOSAL,
//! INFORM, SNAPCHUNK) is the rest of the frame, so it is sliced, not copied.
//! The transport delimits frames, so no length is repeated here. Anything
//! else (an unknown kind, a short or long frame, a bad flag) is refused with
//! the reason; the runtime then drops that peer's stream.
//!
//! | kind | message | fields |
//! | --- | --- | --- |
//! | 1 | NOTIFICATION | leader u64, zxid u64, election epoch u64, peer epoch u32, state u8 |
//! | 2 | FOLLOWERINFO | accepted epoch u32, observer u8 (0/1) |
//! | 3 | LEADERINFO | epoch u32 |
//! | 4 | ACKEPOCH | has epoch u8 (0/1), current epoch u32, last zxid u64 |
//! | 5, 6, 7 | DIFF, TRUNC, SNAP | zxid u64 |
//! | 8 | SNAPCHUNK | last u8 (0/1), data... |
//! | 9 | PROPOSAL | zxid u64, payload... |
//! | 10, 11, 12 | NEWLEADER, ACK, COMMIT | zxid u64 |
//! | 13 | INFORM | zxid u64, payload... |
//! | 14, 15 | UPTODATE, PING | |

use bytes::{Buf, BufMut, Bytes, BytesMut};
use corral_zab::{Message, Notification, Role, Zxid};

/// Encodes one message as one frame.
pub fn encode(msg: &Message) -> Bytes {
    let mut b = BytesMut::with_capacity(32);
    match msg {
        Message::Notification(n) => {
            b.put_u8(1);
            b.put_u64(n.leader);
            b.put_u64(n.zxid.0);
            b.put_u64(n.election_epoch);
            b.put_u32(n.peer_epoch);
            b.put_u8(role_code(n.state));
        }
        Message::FollowerInfo {
            accepted_epoch,
            observer,
        } => {
            b.put_u8(2);
            b.put_u32(*accepted_epoch);
            b.put_u8(u8::from(*observer));
        }
        Message::LeaderInfo { epoch } => {
            b.put_u8(3);
            b.put_u32(*epoch);
        }
        Message::AckEpoch {
            current_epoch,
            last_zxid,
        } => {
            b.put_u8(4);
            b.put_u8(u8::from(current_epoch.is_some()));
            b.put_u32(current_epoch.unwrap_or(0));
            b.put_u64(last_zxid.0);
        }
        Message::Diff { zxid } => zxid_only(&mut b, 5, *zxid),
        Message::Trunc { zxid } => zxid_only(&mut b, 6, *zxid),
        Message::Snap { zxid } => zxid_only(&mut b, 7, *zxid),
        Message::SnapChunk { data, last } => {
            b.reserve(data.len() + 2);
            b.put_u8(8);
            b.put_u8(u8::from(*last));
            b.put_slice(data);
        }
        Message::Proposal { zxid, payload } => with_payload(&mut b, 9, *zxid, payload),
        Message::NewLeader { zxid } => zxid_only(&mut b, 10, *zxid),
        Message::Ack { zxid } => zxid_only(&mut b, 11, *zxid),
        Message::Commit { zxid } => zxid_only(&mut b, 12, *zxid),
        Message::Inform { zxid, payload } => with_payload(&mut b, 13, *zxid, payload),
        Message::UpToDate => b.put_u8(14),
        Message::Ping => b.put_u8(15),
    }
    b.freeze()
}

fn zxid_only(b: &mut BytesMut, kind: u8, zxid: Zxid) {
    b.put_u8(kind);
    b.put_u64(zxid.0);
}

fn with_payload(b: &mut BytesMut, kind: u8, zxid: Zxid, payload: &Bytes) {
    b.reserve(payload.len() + 9);
    b.put_u8(kind);
    b.put_u64(zxid.0);
    b.put_slice(payload);
}

fn role_code(r: Role) -> u8 {
    match r {
        Role::Looking => 0,
        Role::Following => 1,
        Role::Leading => 2,
        Role::Observing => 3,
    }
}

fn role_of(code: u8) -> Result<Role, String> {
    Ok(match code {
        0 => Role::Looking,
        1 => Role::Following,
        2 => Role::Leading,
        3 => Role::Observing,
        other => return Err(format!("unknown server state {other}")),
    })
}

/// A reader that refuses short frames.
struct Reader(Bytes);

impl Reader {
    fn need(&self, n: usize, what: &str) -> Result<(), String> {
        if self.0.remaining() < n {
            return Err(format!("frame too short for {what}"));
        }
        Ok(())
    }
    fn u8(&mut self, what: &str) -> Result<u8, String> {
        self.need(1, what)?;
        Ok(self.0.get_u8())
    }
    fn u32(&mut self, what: &str) -> Result<u32, String> {
        self.need(4, what)?;
        Ok(self.0.get_u32())
    }
    fn u64(&mut self, what: &str) -> Result<u64, String> {
        self.need(8, what)?;
        Ok(self.0.get_u64())
    }
    fn zxid(&mut self) -> Result<Zxid, String> {
        self.u64("zxid").map(Zxid)
    }
    fn flag(&mut self, what: &str) -> Result<bool, String> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(format!("{what} flag is {other}")),
        }
    }
    fn rest(self) -> Bytes {
        self.0
    }
    fn end(self, kind: &str) -> Result<(), String> {
        if self.0.has_remaining() {
            return Err(format!("{} bytes after a {kind}", self.0.remaining()));
        }
        Ok(())
    }
}

/// Decodes one frame; `Err` says what is wrong with it.
pub fn decode(frame: Bytes) -> Result<Message, String> {
    let mut r = Reader(frame);
    let kind = r.u8("the kind")?;
    let msg = match kind {
        1 => Message::Notification(Notification {
            leader: r.u64("leader")?,
            zxid: r.zxid()?,
            election_epoch: r.u64("election epoch")?,
            peer_epoch: r.u32("peer epoch")?,
            state: role_of(r.u8("state")?)?,
        }),
        2 => Message::FollowerInfo {
            accepted_epoch: r.u32("accepted epoch")?,
            observer: r.flag("observer")?,
        },
        3 => Message::LeaderInfo {
            epoch: r.u32("epoch")?,
        },
        4 => {
            let has = r.flag("has epoch")?;
            let epoch = r.u32("current epoch")?;
            Message::AckEpoch {
                current_epoch: has.then_some(epoch),
                last_zxid: r.zxid()?,
            }
        }
        5 => Message::Diff { zxid: r.zxid()? },
        6 => Message::Trunc { zxid: r.zxid()? },
        7 => Message::Snap { zxid: r.zxid()? },
        8 => {
            let last = r.flag("last")?;
            return Ok(Message::SnapChunk {
                data: r.rest(),
                last,
            });
        }
        9 => {
            let zxid = r.zxid()?;
            return Ok(Message::Proposal {
                zxid,
                payload: r.rest(),
            });
        }
        10 => Message::NewLeader { zxid: r.zxid()? },
        11 => Message::Ack { zxid: r.zxid()? },
        12 => Message::Commit { zxid: r.zxid()? },
        13 => {
            let zxid = r.zxid()?;
            return Ok(Message::Inform {
                zxid,
                payload: r.rest(),
            });
        }
        14 => Message::UpToDate,
        15 => Message::Ping,
        other => return Err(format!("unknown message kind {other}")),
    };
    r.end(msg.kind())?;
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<Message> {
        let z = Zxid::new(3, 7);
        let p = Bytes::from_static(b"payload \x00\xff");
        vec![
            Message::Notification(Notification {
                leader: 9,
                zxid: z,
                election_epoch: u64::MAX,
                peer_epoch: 2,
                state: Role::Observing,
            }),
            Message::FollowerInfo {
                accepted_epoch: 4,
                observer: true,
            },
            Message::LeaderInfo { epoch: 5 },
            Message::AckEpoch {
                current_epoch: Some(0),
                last_zxid: z,
            },
            Message::AckEpoch {
                current_epoch: None,
                last_zxid: z,
            },
            Message::Diff { zxid: z },
            Message::Trunc { zxid: z },
            Message::Snap { zxid: z },
            Message::SnapChunk {
                data: p.clone(),
                last: true,
            },
            Message::SnapChunk {
                data: Bytes::new(),
                last: false,
            },
            Message::Proposal {
                zxid: z,
                payload: p.clone(),
            },
            Message::Proposal {
                zxid: z,
                payload: Bytes::new(),
            },
            Message::NewLeader { zxid: z },
            Message::Ack { zxid: z },
            Message::Commit { zxid: z },
            Message::Inform {
                zxid: z,
                payload: p,
            },
            Message::UpToDate,
            Message::Ping,
        ]
    }

    #[test]
    fn every_kind_round_trips() {
        for m in every_kind() {
            assert_eq!(decode(encode(&m)), Ok(m.clone()), "{m:?}");
        }
    }

    #[test]
    fn golden_bytes() {
        assert_eq!(
            &encode(&Message::Ack {
                zxid: Zxid::new(1, 2)
            })[..],
            b"\x0b\0\0\0\x01\0\0\0\x02"
        );
        assert_eq!(&encode(&Message::Ping)[..], b"\x0f");
        assert_eq!(
            &encode(&Message::FollowerInfo {
                accepted_epoch: 1,
                observer: false
            })[..],
            b"\x02\0\0\0\x01\0"
        );
    }

    #[test]
    fn malformed_frames_are_refused_with_a_reason() {
        assert!(decode(Bytes::new()).unwrap_err().contains("too short"));
        assert!(decode(Bytes::from_static(b"\x63"))
            .unwrap_err()
            .contains("unknown message kind 99"));
        for m in every_kind() {
            let full = encode(&m);
            // Every strict prefix of a fixed-size message is refused; payload
            // messages accept any payload, so only cuts inside the header are.
            let (header, fixed) = match m {
                Message::Proposal { .. } | Message::Inform { .. } => (9, false),
                Message::SnapChunk { .. } => (2, false),
                _ => (full.len(), true),
            };
            for cut in 0..header {
                assert!(decode(full.slice(..cut)).is_err(), "{m:?} cut at {cut}");
            }
            if fixed {
                let mut long = full.to_vec();
                long.push(0);
                assert!(
                    decode(Bytes::from(long)).unwrap_err().contains("after a"),
                    "{m:?}"
                );
            }
        }
        let bad_flag = Bytes::from_static(b"\x02\0\0\0\x01\x07");
        assert!(decode(bad_flag).unwrap_err().contains("observer flag is 7"));
        let bad_state = {
            let mut b = encode(&every_kind()[0]).to_vec();
            *b.last_mut().unwrap() = 9;
            Bytes::from(b)
        };
        assert!(decode(bad_state)
            .unwrap_err()
            .contains("unknown server state 9"));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let frame = Bytes::from(bytes);
            if let Ok(m) = decode(frame.clone()) {
                proptest::prop_assert_eq!(encode(&m), frame);
            }
        }
    }
}
