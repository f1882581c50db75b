//! The wire: every byte two Corral servers exchange on a peer stream.
//!
//! One gRPC service with one bidirectional streaming method, written out by hand (no `.proto`
//! file and no protoc: the messages are prost-derive structs, the service is served and called
//! through tonic's `server::Grpc` / `client::Grpc` with tonic-prost's codec):
//!
//! ```text
//! package corral.peer.v1;
//! service Peer { rpc Stream(stream PeerMessage) returns (stream PeerMessage); }
//!
//! message PeerMessage { oneof body { Hello hello = 1; Welcome welcome = 2; Frame frame = 3; } }
//! message Hello {            // dialer -> acceptor, the first message of the request stream
//!   uint32  version   = 1;   // PROTOCOL_VERSION
//!   uint64  server_id = 2;   // the dialer's id
//!   uint64  target_id = 3;   // the id the dialer expects at the address it dialed
//!   fixed64 ensemble  = 4;   // the dialer's ensemble fingerprint
//!   fixed64 link      = 5;   // a random id for this connection
//!   fixed64 last_link = 6;   // the dialer's last link with target_id (0: none)
//! }
//! message Welcome {          // acceptor -> dialer, the first message of the response stream
//!   uint32  version   = 1;
//!   uint64  server_id = 2;   // the acceptor's id
//!   fixed64 ensemble  = 3;
//!   bool    dial_back = 4;   // true: "I keep the connection I dial"; the stream then ends
//! }
//! message Frame {            // every later message, both ways
//!   uint32 channel = 1;      // the owner's tag (engine traffic, server traffic, ...)
//!   bytes  payload = 2;      // opaque, at most Config::max_frame bytes
//! }
//! ```
//!
//! The handshake. A connection is one TCP (or TLS) connection carrying one HTTP/2 stream, the
//! call `/corral.peer.v1.Peer/Stream`. The dialer sends `Hello` first; the acceptor checks it
//! (version, fingerprint, `server_id` in the server list and not its own, `target_id` its own
//! id) and refuses a bad one with a gRPC status naming the reason, delivering nothing. Of two
//! servers the one with the higher id keeps the connection it dials (ZooKeeper's
//! QuorumCnxManager: `startConnection` drops a dial to a higher id, `handleConnection` closes a
//! connection from a lower id and connects back). So when a lower id dials, the acceptor answers
//! `Welcome { dial_back: true }`, ends the stream and dials back; its `Hello.last_link` says
//! which connection the lower id saw last, so the higher id drops a link it still holds only if
//! the lower id has seen that very link and so believes it broken (a dial that crossed a newer
//! link in flight changes nothing). When a higher id dials, the acceptor answers
//! `Welcome { dial_back: false }` and both sides then send `Frame`s until either ends the
//! stream. If the acceptor still holds a link from that id, it keeps it and refuses the new
//! connection, unless `Hello.last_link` names that very link (the dialer dropped it, so it is
//! dead on the dialer's side): a duplicate connection or a spoofed id never breaks a working
//! link. ZooKeeper's `handleConnection` instead finishes the old connection's workers and keeps
//! the new one, so any second connection claiming an id kicks the real peer; here a restarted
//! peer (which cannot name its old link) waits until the acceptor sees the old link end, at
//! once when its socket closed, else at the keepalive deadline, retrying with backoff. Any other message, a second `Hello`/`Welcome`, or a `Frame` over the bound ends the
//! connection with a log line naming the peer.
//!
//! gRPC's own length prefix is checked against `max_frame` plus the envelope before any buffer
//! is reserved (tonic's `max_decoding_message_size`), so an oversized frame is never allocated.

use bytes::Bytes;

/// The version both `Hello` and `Welcome` carry; a peer with another is refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// The gRPC path of the one method.
pub const STREAM_PATH: &str = "/corral.peer.v1.Peer/Stream";

/// Bytes a `PeerMessage` envelope adds around a frame's payload at most (tags, lengths).
pub const ENVELOPE: usize = 32;

/// One message on a peer stream.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PeerMessage {
    /// What it is.
    #[prost(oneof = "Body", tags = "1, 2, 3")]
    pub body: Option<Body>,
}

/// The kinds of [`PeerMessage`].
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Body {
    /// Dialer -> acceptor, first.
    #[prost(message, tag = "1")]
    Hello(Hello),
    /// Acceptor -> dialer, first.
    #[prost(message, tag = "2")]
    Welcome(Welcome),
    /// Everything after the handshake.
    #[prost(message, tag = "3")]
    Frame(Frame),
}

/// The dialer's introduction.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`].
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// The dialer's server id.
    #[prost(uint64, tag = "2")]
    pub server_id: u64,
    /// The id the dialer expects to reach at the address it dialed.
    #[prost(uint64, tag = "3")]
    pub target_id: u64,
    /// The dialer's ensemble fingerprint.
    #[prost(fixed64, tag = "4")]
    pub ensemble: u64,
    /// A random id naming this connection.
    #[prost(fixed64, tag = "5")]
    pub link: u64,
    /// The dialer's last link with `target_id`, dialed or accepted (0: none).
    #[prost(fixed64, tag = "6")]
    pub last_link: u64,
}

/// The acceptor's answer.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Welcome {
    /// [`PROTOCOL_VERSION`].
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// The acceptor's server id.
    #[prost(uint64, tag = "2")]
    pub server_id: u64,
    /// The acceptor's ensemble fingerprint.
    #[prost(fixed64, tag = "3")]
    pub ensemble: u64,
    /// The acceptor has the higher id: it will dial back; this stream ends here.
    #[prost(bool, tag = "4")]
    pub dial_back: bool,
}

/// One opaque frame of the owner's.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Frame {
    /// The owner's channel tag.
    #[prost(uint32, tag = "1")]
    pub channel: u32,
    /// The payload.
    #[prost(bytes = "bytes", tag = "2")]
    pub payload: Bytes,
}

impl PeerMessage {
    /// A `Frame` message.
    pub fn frame(channel: u32, payload: Bytes) -> PeerMessage {
        PeerMessage {
            body: Some(Body::Frame(Frame { channel, payload })),
        }
    }

    /// A `Hello` message.
    pub fn hello(hello: Hello) -> PeerMessage {
        PeerMessage {
            body: Some(Body::Hello(hello)),
        }
    }

    /// A `Welcome` message.
    pub fn welcome(welcome: Welcome) -> PeerMessage {
        PeerMessage {
            body: Some(Body::Welcome(welcome)),
        }
    }

    /// The message's kind, for log lines.
    pub fn kind(&self) -> &'static str {
        match &self.body {
            None => "empty",
            Some(Body::Hello(_)) => "Hello",
            Some(Body::Welcome(_)) => "Welcome",
            Some(Body::Frame(_)) => "Frame",
        }
    }
}

/// The codec of the service (tonic-prost's, over [`PeerMessage`] both ways).
pub type Codec = tonic_prost::ProstCodec<PeerMessage, PeerMessage>;

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn frame_round_trips_and_stays_within_the_envelope() {
        let payload = Bytes::from(vec![7u8; 100_000]);
        let m = PeerMessage::frame(u32::MAX, payload.clone());
        let bytes = m.encode_to_vec();
        assert!(
            bytes.len() <= payload.len() + ENVELOPE,
            "{} bytes",
            bytes.len()
        );
        let back = PeerMessage::decode(bytes.as_slice()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn hello_round_trips_with_its_field_numbers() {
        let h = Hello {
            version: PROTOCOL_VERSION,
            server_id: 3,
            target_id: 1,
            ensemble: 0xfeed_beef_0102_0304,
            link: 42,
            last_link: 0,
        };
        let bytes = PeerMessage::hello(h.clone()).encode_to_vec();
        // body field 1 (Hello), length-delimited: tag byte 0x0a.
        assert_eq!(bytes[0], 0x0a);
        let back = PeerMessage::decode(bytes.as_slice()).unwrap();
        assert_eq!(back.body, Some(Body::Hello(h)));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(PeerMessage::decode(&[0xff, 0xff, 0xff][..]).is_err());
    }
}
