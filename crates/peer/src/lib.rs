//! # corral-peer: the transport between the servers of a Corral ensemble
//!
//! Every pair of servers shares one FIFO, bidirectional gRPC stream (tonic + prost over one
//! HTTP/2 connection) that carries opaque byte frames, each tagged with a [`Channel`] so the
//! replication engine's messages and server-level messages (forwarded requests, session
//! touches, sync) travel side by side in one order. The transport:
//! - dials every peer and accepts their dials; when both sides dial, the connection dialed by
//!   the higher id is the one kept (ZooKeeper's QuorumCnxManager rule), so a pair has one link;
//! - reconnects after every break with bounded exponential backoff and jitter ([`Backoff`]);
//! - tells its owner [`Event::Connected`], [`Event::Frame`] and [`Event::Disconnected`] (on
//!   every break, once per `Connected`);
//! - never blocks [`Transport::send`]: each peer has a bounded outbound queue, and a peer whose
//!   queue overflows is disconnected (the owner resynchronises it on its next `Connected`);
//! - bounds frames ([`Config::max_frame`]) on both sides, before allocating;
//! - refuses, with a log line naming it, a peer of another ensemble (fingerprint of the server
//!   list), a peer claiming an id not in the list or not the one at the address dialed, and a
//!   malformed or unexpected message; nothing such a peer sent is delivered;
//! - runs on plain TCP or TLS ([`RustlsLayer`], or any [`StreamLayer`]).
//!
//! One address per server: ZooKeeper's quorum port (`server.N=host:quorumPort:electionPort`).
//! Election and broadcast messages share the one stream, so they keep one order and one
//! handshake; the election port is not used.
//!
//! What it is not: it does not know ZAB (frames are opaque), keeps no frames across
//! reconnections (a frame is delivered on the link it was sent on, or not at all), does not
//! retry sends, and on plain TCP does not authenticate a peer (any server of the list may be
//! claimed). Over TLS ([`RustlsLayer`]) a peer's certificate is tied to the id it speaks as,
//! both ways ([`PeerIdentity`]; ZooKeeper 3.8's quorum TLS verifies host names both ways, and
//! corral-tls's `HostIdentity` checks the certificate names the host the server list gives
//! that id). A second connection claiming the id of a higher server already linked is refused
//! unless it names that link (see [`wire`]), so a duplicate never breaks the working link.
//! The wire is documented in [`wire`].
//!
//! ```no_run
//! use std::collections::BTreeMap;
//! use bytes::Bytes;
//! use corral_peer::{Channel, Config, Event, Transport};
//!
//! # async fn run() -> Result<(), corral_peer::PeerError> {
//! let servers: BTreeMap<u64, std::net::SocketAddr> = [
//!     (1, "127.0.0.1:2888".parse().unwrap()),
//!     (2, "127.0.0.1:2889".parse().unwrap()),
//!     (3, "127.0.0.1:2890".parse().unwrap()),
//! ].into();
//! let (transport, mut events) = Transport::start(Config::new(1, servers)).await?;
//! while let Some(event) = events.recv().await {
//!     match event {
//!         Event::Connected(peer) => transport.send(peer, Channel::ENGINE, Bytes::from_static(b"hi"))?,
//!         Event::Frame(peer, Channel::ENGINE, bytes) => { /* zab.step(peer, decode(bytes)) */ }
//!         Event::Frame(_peer, _other, _bytes) => { /* server-level traffic */ }
//!         Event::Disconnected(peer) => { /* zab.disconnected(peer) */ }
//!     }
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod accept;
mod config;
mod dial;
mod h2;
mod handshake;
mod layer;
mod link;
mod transport;
pub mod wire;

#[doc(hidden)]
pub mod testing;

pub use config::{fingerprint, Backoff, Channel, Config, Jitter, PeerId};
pub use layer::{
    Accepted, BoxFuture, BoxIo, PeerIdentity, PeerIo, PlainTcp, RustlsLayer, StreamLayer,
};
pub use transport::{Event, Events, LinkInfo, Stats, Transport};

/// The one error type of corral-peer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// The configuration is inconsistent (the field and why).
    #[error("peer config: {field}: {why}")]
    Config {
        /// The field.
        field: &'static str,
        /// Why.
        why: String,
    },
    /// The listener could not be bound.
    #[error("peer listener on {0}: {1}")]
    Bind(std::net::SocketAddr, #[source] std::io::Error),
    /// No link to that peer (never connected, broken, or its `Connected` not read yet).
    #[error("no link to server {0}")]
    NotConnected(PeerId),
    /// The peer's outbound queue was full: it is being disconnected.
    #[error("queue to server {0} overflowed; disconnecting it")]
    Overflow(PeerId),
    /// A frame over the configured bound.
    #[error("frame of {len} bytes over the bound of {max}")]
    FrameTooLarge {
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
}
