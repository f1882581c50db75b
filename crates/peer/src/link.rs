//! One established connection (a link) to a peer, from `Connected` to `Disconnected`, the
//! same for the side that dialed and the side that accepted.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::Streaming;

use crate::transport::{Internal, Shared};
use crate::wire::{Body, PeerMessage};
use crate::{Channel, Config, PeerId};

/// An established connection: where `send` puts frames, and how to end it.
pub(crate) struct Link {
    /// The peer.
    pub peer: PeerId,
    /// The random id the dialer gave it.
    pub id: u64,
    /// The other end's socket address.
    pub remote: std::net::SocketAddr,
    /// The outbound queue (bounded: `Config::queue` frames).
    pub out: mpsc::Sender<PeerMessage>,
    /// Payload bytes in `out` not yet taken by the writer (bounded: `Config::queue_bytes`).
    pub queued: Arc<AtomicUsize>,
    /// Cancelled when the link must end (overflow, replaced, a bad message, shutdown).
    pub kill: CancellationToken,
}

impl Link {
    /// A link to `peer` with its queue, and the stream that drains the queue onto the wire,
    /// `first` (the handshake message) first.
    pub(crate) fn new(
        cfg: &Config,
        peer: PeerId,
        id: u64,
        remote: std::net::SocketAddr,
        kill: CancellationToken,
        first: PeerMessage,
    ) -> (Arc<Link>, OutStream) {
        let (out, rx) = mpsc::channel(cfg.queue + 1);
        // The channel is new and has room for one more than the queue.
        let _ = out.try_send(first);
        let queued = Arc::new(AtomicUsize::new(0));
        let stream = OutStream {
            rx,
            queued: queued.clone(),
            kill: Box::pin(kill.clone().cancelled_owned()),
        };
        (
            Arc::new(Link {
                peer,
                id,
                remote,
                out,
                queued,
                kill,
            }),
            stream,
        )
    }
}

/// The outbound half of a stream: the queue, until the link is killed.
pub(crate) struct OutStream {
    rx: mpsc::Receiver<PeerMessage>,
    queued: Arc<AtomicUsize>,
    kill: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl Stream for OutStream {
    type Item = PeerMessage;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<PeerMessage>> {
        if self.kill.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        let next = self.rx.poll_recv(cx);
        if let Poll::Ready(Some(PeerMessage {
            body: Some(Body::Frame(frame)),
        })) = &next
        {
            self.queued
                .fetch_sub(frame.payload.len(), Ordering::Relaxed);
        }
        next
    }
}

use std::future::Future;

/// Runs `link` until it breaks: announces it, delivers its frames, and reports its end.
/// `inbound` is the peer's half of the stream, after the handshake.
pub(crate) async fn run(shared: Arc<Shared>, link: Arc<Link>, mut inbound: Streaming<PeerMessage>) {
    let peer = link.peer;
    // Connected .. Disconnected of one peer never interleave: a link replacing another waits
    // here until the old one has reported its end.
    let order = shared.order(peer);
    let _turn = tokio::select! {
        turn = order.lock_owned() => turn,
        _ = shared.cancel.cancelled() => return,
    };
    if link.kill.is_cancelled() {
        shared.forget(&link);
        return;
    }
    // Counted before the owner can read it, as its end is counted before `Disconnected`.
    shared.stats.opened();
    if !shared.emit(Internal::Connected(link.clone())).await {
        shared.stats.closed();
        shared.forget(&link);
        return;
    }
    tracing::info!(peer, link = link.id, "peer {peer}: connected");
    let reason = loop {
        let message = tokio::select! {
            _ = link.kill.cancelled() => break "dropped on this side".to_string(),
            m = inbound.message() => m,
        };
        let frame = match message {
            Ok(Some(PeerMessage {
                body: Some(Body::Frame(frame)),
            })) => frame,
            Ok(Some(other)) => {
                tracing::warn!(
                    peer,
                    "peer {peer}: unexpected {} message; disconnecting",
                    other.kind()
                );
                break format!("unexpected {} message", other.kind());
            }
            Ok(None) => break "the peer ended the stream".to_string(),
            Err(status) => {
                let why = format!("stream error: {}", status.message());
                // A message over the bound or one that does not decode is the peer's fault;
                // a reset or a closed connection is not.
                if matches!(
                    status.code(),
                    tonic::Code::OutOfRange | tonic::Code::Internal
                ) {
                    tracing::warn!(peer, "peer {peer}: {why}; disconnecting");
                }
                break why;
            }
        };
        if frame.payload.len() > shared.cfg.max_frame {
            tracing::warn!(
                peer,
                "peer {peer}: frame of {} bytes over the bound of {}; disconnecting",
                frame.payload.len(),
                shared.cfg.max_frame
            );
            break "oversized frame".to_string();
        }
        let event = Internal::Frame(peer, Channel(frame.channel), frame.payload);
        tokio::select! {
            delivered = shared.emit(event) => if !delivered { break "owner gone".to_string() },
            _ = link.kill.cancelled() => break "dropped on this side".to_string(),
        }
    };
    link.kill.cancel();
    shared.forget(&link);
    shared.stats.closed();
    tracing::info!(peer, link = link.id, "peer {peer}: disconnected ({reason})");
    shared.emit(Internal::Disconnected(peer)).await;
    shared.link_ended(peer);
}
