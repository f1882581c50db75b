//! The dialing side: one loop per peer that keeps a link to it (higher id) or asks it for one
//! (lower id), with bounded exponential backoff.

use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::handshake::check_welcome;
use crate::link::{self, Link};
use crate::transport::{max_message, Shared};
use crate::wire::{Body, Codec, Hello, PeerMessage, PROTOCOL_VERSION, STREAM_PATH};
use crate::{config::random_u64, h2, PeerId};

/// How one dial ended.
enum Dialed {
    /// A link ran (until it broke) for this long.
    Ran(std::time::Duration),
    /// The peer has the higher id and will dial us.
    DialBack,
    /// A link appeared before the dial started.
    Skipped,
    /// The dial failed; the message says why.
    Failed(String),
}

/// Keeps `peer` linked until the transport stops.
pub(crate) async fn dial_loop(shared: Arc<Shared>, peer: PeerId) {
    let Some(wake) = shared.wake(peer) else {
        return;
    };
    let mut failures: u32 = 0;
    loop {
        if shared.cancel.is_cancelled() {
            return;
        }
        // A lower id only asks while it has no link from the peer.
        while shared.has_link(peer) {
            tokio::select! {
                _ = wake.notified() => {}
                _ = shared.cancel.cancelled() => return,
            }
        }
        let outcome = tokio::select! {
            o = dial(&shared, peer) => o,
            _ = shared.cancel.cancelled() => return,
        };
        match outcome {
            // A link that lived long is redialed at once; one that broke soon after it was
            // made counts as a failure, so a peer that keeps dropping us is not redialed in a
            // tight loop.
            Dialed::Ran(lived) if lived >= shared.cfg.backoff.max => {
                failures = 0;
                continue;
            }
            Dialed::Ran(_) => {}
            Dialed::Skipped => continue,
            Dialed::DialBack => shared.stats.dial_back(),
            Dialed::Failed(why) => {
                if failures == 0 {
                    tracing::info!(peer, "peer {peer}: dial failed: {why}");
                } else {
                    tracing::debug!(peer, "peer {peer}: dial failed: {why}");
                }
            }
        }
        failures = failures.saturating_add(1);
        let delay = shared.cfg.backoff.delay(failures);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            // A link ended or a lower id asked us to dial: try now.
            _ = wake.notified() => failures = 0,
            _ = shared.cancel.cancelled() => return,
        }
    }
}

/// One attempt: connect, handshake, and run the link if we keep it.
async fn dial(shared: &Arc<Shared>, peer: PeerId) -> Dialed {
    let cfg = &shared.cfg;
    let Some(addr) = cfg.address(peer) else {
        return Dialed::Failed("no address".into());
    };
    let link_id = loop {
        let id = random_u64();
        if id != 0 {
            break id;
        }
    };
    // Read with the check that there is no link, under one lock (the acceptor records a
    // link's id and installs it under the same lock): naming a link we hold would make the
    // peer drop it.
    let last_link = {
        let slots = shared.slots.lock();
        match slots.get(&peer) {
            Some(slot) if slot.current.is_some() => return Dialed::Skipped,
            Some(slot) => slot.last_link,
            None => 0,
        }
    };
    let kill = shared.cancel.child_token();
    let handshake = async {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let remote = tcp.peer_addr().unwrap_or(addr);
        let io = shared
            .layer
            .connect(tcp, peer)
            .await
            .map_err(|e| format!("stream layer: {e}"))?;
        let (client, conn) = h2::client(io, cfg.keepalive)
            .await
            .map_err(|e| format!("HTTP/2: {e}"))?;
        spawn_driver(shared, conn, kill.clone());
        let origin = http::Uri::from_static("http://corral-peer");
        let mut grpc = tonic::client::Grpc::with_origin(client, origin)
            .max_decoding_message_size(max_message(cfg))
            .max_encoding_message_size(max_message(cfg));
        grpc.ready()
            .await
            .map_err(|e| format!("HTTP/2 not ready: {e}"))?;
        let hello = Hello {
            version: PROTOCOL_VERSION,
            server_id: cfg.my_id,
            target_id: peer,
            ensemble: cfg.ensemble,
            link: link_id,
            last_link,
        };
        let first = PeerMessage::hello(hello);
        let (link, out) = Link::new(cfg, peer, link_id, remote, kill.clone(), first);
        let path = http::uri::PathAndQuery::from_static(STREAM_PATH);
        let request = tonic::Request::new(out);
        let response = grpc
            .streaming(request, path, Codec::default())
            .await
            .map_err(|s| format!("refused: {}", s.message()))?;
        let mut inbound = response.into_inner();
        let welcome = match inbound.message().await {
            Ok(Some(PeerMessage {
                body: Some(Body::Welcome(w)),
            })) => w,
            Ok(Some(other)) => return Err(format!("sent {} instead of Welcome", other.kind())),
            Ok(None) => return Err("ended the stream before Welcome".into()),
            Err(s) => return Err(format!("bad first message: {}", s.message())),
        };
        Ok::<_, String>((welcome, inbound, link))
    };
    let answered = tokio::time::timeout(cfg.handshake_timeout, handshake).await;
    let (welcome, inbound, link) = match answered {
        Ok(Ok(x)) => x,
        Ok(Err(why)) => {
            kill.cancel();
            return Dialed::Failed(why);
        }
        Err(_) => {
            kill.cancel();
            return Dialed::Failed(format!("no handshake within {:?}", cfg.handshake_timeout));
        }
    };
    match check_welcome(cfg, peer, &welcome) {
        Ok(true) => {
            kill.cancel();
            Dialed::DialBack
        }
        Ok(false) => {
            // Never refused: only a claimed (accepted) link is checked against the held one.
            let _ = shared.install(&link, None);
            let since = std::time::Instant::now();
            link::run(shared.clone(), link, inbound).await;
            Dialed::Ran(since.elapsed())
        }
        Err(why) => {
            kill.cancel();
            tracing::warn!(peer, "peer {peer} at {addr}: refused its answer: {why}");
            Dialed::Failed(why)
        }
    }
}

/// Drives the client connection until the link is killed (which closes the socket).
fn spawn_driver<F>(shared: &Arc<Shared>, conn: F, kill: CancellationToken)
where
    F: std::future::Future + Send + 'static,
{
    shared.tracker.spawn(async move {
        tokio::select! {
            _ = conn => {}
            _ = kill.cancelled() => {}
        }
    });
}
