//! One established connection (a link) to a peer, from `Connected` to `Disconnected`, the
//! same for the side that dialed and the side that accepted.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::Streaming;

use crate::transport::{Internal, Shared};
use crate::wire::{Body, PeerMessage};
use crate::{Channel, PeerId};

/// An established connection: where `send` puts frames, and how to end it.
pub(crate) struct Link {
    /// The peer.
    pub peer: PeerId,
    /// The random id the dialer gave it.
    pub id: u64,
    /// The outbound queue (bounded: `Config::queue`).
    pub out: mpsc::Sender<PeerMessage>,
    /// Cancelled when the link must end (overflow, replaced, a bad message, shutdown).
    pub kill: CancellationToken,
}

/// The outbound half of a stream: the queue, until the link is killed.
pub(crate) struct OutStream {
    rx: mpsc::Receiver<PeerMessage>,
    kill: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl OutStream {
    pub(crate) fn new(rx: mpsc::Receiver<PeerMessage>, kill: CancellationToken) -> OutStream {
        OutStream {
            rx,
            kill: Box::pin(kill.cancelled_owned()),
        }
    }
}

impl Stream for OutStream {
    type Item = PeerMessage;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<PeerMessage>> {
        if self.kill.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        self.rx.poll_recv(cx)
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
