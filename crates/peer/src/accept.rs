//! The accepting side: the listener, one task per connection, the handshake check.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic::{Status, Streaming};

use crate::handshake::{check_hello, Accept};
use crate::link::{self, Link};
use crate::transport::{max_message, Shared};
use crate::wire::{Body, Codec, Hello, PeerMessage, Welcome, PROTOCOL_VERSION, STREAM_PATH};
use crate::{h2, PeerId};

/// Accepts connections until the transport stops.
pub(crate) async fn listen(shared: Arc<Shared>, listener: TcpListener) {
    // A few connections per peer may be in flight (a dial crossing a dying link); more than
    // that is not a peer of ours.
    let limit = Arc::new(Semaphore::new(shared.cfg.servers.len() * 4));
    let mut failures = 0u32;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shared.cancel.cancelled() => return,
        };
        let (tcp, remote) = match accepted {
            Ok(x) => {
                failures = 0;
                x
            }
            Err(e) => {
                // EMFILE and the like: back off instead of spinning.
                failures = failures.saturating_add(1);
                tracing::warn!("peer listener: accept failed: {e}");
                let delay = Duration::from_millis(10u64 << failures.min(7));
                tokio::select! {
                    _ = tokio::time::sleep(delay) => continue,
                    _ = shared.cancel.cancelled() => return,
                }
            }
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            tracing::warn!("peer listener: too many connections; closing the one from {remote}");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let task_shared = shared.clone();
        shared.tracker.spawn(async move {
            serve(task_shared, tcp, remote).await;
            drop(permit);
        });
    }
}

/// Serves one accepted connection: its one call, then closes.
async fn serve(shared: Arc<Shared>, tcp: TcpStream, remote: SocketAddr) {
    let cfg = &shared.cfg;
    let layered = tokio::select! {
        io = tokio::time::timeout(cfg.handshake_timeout, shared.layer.accept(tcp)) => io,
        _ = shared.cancel.cancelled() => return,
    };
    let (io, certificate) = match layered {
        Ok(Ok(accepted)) => (accepted.io, Arc::new(accepted.certificate)),
        Ok(Err(e)) => {
            shared.stats.refused();
            tracing::warn!("peer connection from {remote}: stream layer refused it: {e}");
            return;
        }
        Err(_) => {
            shared.stats.refused();
            tracing::warn!("peer connection from {remote}: no stream handshake in time");
            return;
        }
    };
    let done = shared.cancel.child_token();
    let greeted = CancellationToken::new();
    let called = Arc::new(AtomicBool::new(false));
    let svc_shared = shared.clone();
    let svc_done = done.clone();
    let svc_greeted = greeted.clone();
    let svc_certificate = certificate;
    let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
        let shared = svc_shared.clone();
        let done = svc_done.clone();
        let greeted = svc_greeted.clone();
        let certificate = svc_certificate.clone();
        let first = !called.swap(true, Ordering::SeqCst);
        async move {
            if req.uri().path() != STREAM_PATH || !first {
                tracing::warn!(
                    "peer connection from {remote}: unexpected call {}",
                    req.uri().path()
                );
                shared.stats.refused();
                done.cancel();
                return h2::unimplemented();
            }
            let max = max_message(&shared.cfg);
            let mut grpc = tonic::server::Grpc::new(Codec::default())
                .max_decoding_message_size(max)
                .max_encoding_message_size(max);
            let call = StreamCall {
                shared,
                remote,
                certificate,
                done,
                greeted,
            };
            Ok::<_, Infallible>(grpc.streaming(call, req).await)
        }
    });
    let conn = h2::server_builder(cfg.keepalive).serve_connection(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    // From the TCP accept to a good Hello: at most handshake_timeout (a silent or slow
    // connection must not keep its place among the few the listener allows).
    let deadline = tokio::time::sleep(cfg.handshake_timeout);
    let mut deadline = std::pin::pin!(deadline);
    let mut greeting = true;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!("peer connection from {remote}: {e}");
                }
                done.cancel();
                return;
            }
            _ = done.cancelled() => break,
            _ = greeted.cancelled(), if greeting => greeting = false,
            _ = deadline.as_mut(), if greeting => {
                done.cancel();
                let why = format!("no Hello within {:?}", cfg.handshake_timeout);
                refused(&shared, remote, None, &why);
                return;
            }
        }
    }
    // The call is over (refused, answered "dial back", or its link ended): let the last
    // response out, then close.
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
}

/// The one call on an accepted connection.
struct StreamCall {
    shared: Arc<Shared>,
    remote: SocketAddr,
    /// The certificate the stream layer saw, checked against the id the `Hello` claims.
    certificate: Arc<Option<CertificateDer<'static>>>,
    /// Ends the connection: cancelled on refusal, after "dial back", or when the link ends.
    done: CancellationToken,
    /// Cancelled once a good `Hello` arrived (the connection's deadline no longer applies).
    greeted: CancellationToken,
}

type Outbound = Pin<Box<dyn tokio_stream::Stream<Item = Result<PeerMessage, Status>> + Send>>;

impl tonic::server::StreamingService<PeerMessage> for StreamCall {
    type Response = PeerMessage;
    type ResponseStream = Outbound;
    type Future = Pin<Box<dyn Future<Output = Result<tonic::Response<Outbound>, Status>> + Send>>;

    fn call(&mut self, request: tonic::Request<Streaming<PeerMessage>>) -> Self::Future {
        let shared = self.shared.clone();
        let remote = self.remote;
        let certificate = self.certificate.clone();
        let done = self.done.clone();
        let greeted = self.greeted.clone();
        Box::pin(async move {
            let inbound = request.into_inner();
            let claim = Claim {
                certificate: &certificate,
                done: done.clone(),
                greeted,
                remote,
            };
            match handshake(&shared, inbound, claim).await {
                Ok(response) => Ok(response),
                Err((claimed, why)) => {
                    // Already closing (the deadline passed, or shutdown): said and counted.
                    if !done.is_cancelled() {
                        refused(&shared, remote, claimed, &why);
                        done.cancel();
                    }
                    Err(Status::permission_denied(why))
                }
            }
        })
    }
}

/// What the handshake of one accepted connection works with besides the stream.
struct Claim<'a> {
    /// The certificate the stream layer saw (none on plain TCP).
    certificate: &'a Option<CertificateDer<'static>>,
    /// Ends the connection.
    done: CancellationToken,
    /// Cancelled once a good `Hello` arrived.
    greeted: CancellationToken,
    /// The dialer's address.
    remote: SocketAddr,
}

/// Reads and checks the dialer's `Hello` (and that its certificate may claim that id), then
/// answers (a link, "dial back", or a refusal).
async fn handshake(
    shared: &Arc<Shared>,
    mut inbound: Streaming<PeerMessage>,
    claim: Claim<'_>,
) -> Result<tonic::Response<Outbound>, (Option<PeerId>, String)> {
    let Claim {
        certificate,
        done,
        greeted,
        remote,
    } = claim;
    let cfg = &shared.cfg;
    // The connection's deadline (serve) bounds this wait.
    let hello = match inbound.message().await {
        Ok(Some(PeerMessage {
            body: Some(Body::Hello(h)),
        })) => h,
        Ok(Some(other)) => {
            return Err((
                None,
                format!("first message is {}, not Hello", other.kind()),
            ))
        }
        Ok(None) => return Err((None, "ended the stream before Hello".into())),
        Err(s) => return Err((None, format!("malformed first message: {}", s.message()))),
    };
    let peer = hello.server_id;
    let verdict = check_hello(cfg, &hello).map_err(|why| (Some(peer), why))?;
    shared
        .layer
        .check_claim(peer, certificate.as_ref())
        .map_err(|why| (Some(peer), why))?;
    greeted.cancel();
    let welcome = |dial_back| {
        PeerMessage::welcome(Welcome {
            version: PROTOCOL_VERSION,
            server_id: cfg.my_id,
            ensemble: cfg.ensemble,
            dial_back,
        })
    };
    match verdict {
        Accept::DialBack => {
            nudged(shared, peer, &hello);
            done.cancel();
            let once: Outbound = Box::pin(tokio_stream::iter([Ok(welcome(true))]));
            Ok(tonic::Response::new(once))
        }
        Accept::Link => {
            let (link, out) = Link::new(cfg, peer, hello.link, remote, done, welcome(false));
            shared
                .install(&link, Some(hello.last_link))
                .map_err(|why| (Some(peer), why))?;
            shared
                .tracker
                .spawn(link::run(shared.clone(), link.clone(), inbound));
            let out: Outbound = Box::pin(out.map(Ok));
            Ok(tonic::Response::new(out))
        }
    }
}

/// A lower id dialed us: it has no link from us. If it has seen the link we hold, that link
/// is dead on its side: end it. Either way, dial it now.
fn nudged(shared: &Arc<Shared>, peer: PeerId, hello: &Hello) {
    shared.stats.nudge();
    {
        let slots = shared.slots.lock();
        if let Some(current) = slots.get(&peer).and_then(|s| s.current.as_ref()) {
            if hello.last_link == current.id {
                tracing::info!(
                    peer,
                    "peer {peer}: says link {} is down; redialing",
                    current.id
                );
                current.kill.cancel();
            }
        }
    }
    shared.link_ended(peer);
}

/// Logs a refused connection (naming the id it claimed, if any) and counts it.
fn refused(shared: &Shared, remote: SocketAddr, claimed: Option<PeerId>, why: &str) {
    shared.stats.refused();
    match claimed {
        Some(id) => tracing::warn!("peer connection from {remote} claiming id {id} refused: {why}"),
        None => tracing::warn!("peer connection from {remote} refused: {why}"),
    }
}
