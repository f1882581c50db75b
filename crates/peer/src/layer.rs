//! The stream under HTTP/2: plain TCP, TLS, or whatever the owner wraps around a socket.
//!
//! The transport accepts and dials TCP itself and hands every socket to a [`StreamLayer`]
//! before HTTP/2 starts; [`PlainTcp`] passes it through, [`RustlsLayer`] runs a TLS handshake
//! (mutual, with the `rustls` configs the owner builds, e.g. from corral-tls's stores) and
//! ties each certificate to the server id its holder speaks as ([`PeerIdentity`]).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

use crate::PeerId;

/// A byte stream a peer connection runs on.
pub trait PeerIo: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> PeerIo for T {}

/// A boxed [`PeerIo`].
pub type BoxIo = Box<dyn PeerIo>;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// An accepted connection after the layer's handshake.
pub struct Accepted {
    /// The stream HTTP/2 runs on.
    pub io: BoxIo,
    /// The certificate the remote side presented (its end-entity certificate), if any: what
    /// [`StreamLayer::check_claim`] checks against the id its `Hello` claims.
    pub certificate: Option<CertificateDer<'static>>,
}

/// Wraps the sockets of a transport (both sides), e.g. in TLS, and ties what it learnt of the
/// remote side to the server id it claims.
pub trait StreamLayer: Send + Sync + 'static {
    /// Wraps a connection this server accepted.
    fn accept(&self, tcp: TcpStream) -> BoxFuture<io::Result<Accepted>>;
    /// Wraps a connection this server dialed to `peer`; fails when the remote side cannot be
    /// `peer` (its certificate does not name it).
    fn connect(&self, tcp: TcpStream, peer: PeerId) -> BoxFuture<io::Result<BoxIo>>;
    /// Whether an accepted connection that presented `certificate` may speak as server
    /// `claimed` (the id of its `Hello`); the error says why not. Checked before anything it
    /// sends is delivered.
    fn check_claim(
        &self,
        claimed: PeerId,
        certificate: Option<&CertificateDer<'static>>,
    ) -> Result<(), String>;
}

/// Decides whether a certificate (already accepted by the trust store) may speak as a server
/// id: the link between TLS identities and server ids. A closure
/// `Fn(PeerId, &CertificateDer) -> Result<(), String>` is one; corral-tls's
/// `peer_verify::HostIdentity` is ZooKeeper's rule (the certificate names the host the server
/// list gives that id).
pub trait PeerIdentity: Send + Sync + 'static {
    /// Ok when `certificate` may speak as server `id`; the error says why not.
    fn check(&self, id: PeerId, certificate: &CertificateDer<'_>) -> Result<(), String>;
}

impl<F> PeerIdentity for F
where
    F: Fn(PeerId, &CertificateDer<'_>) -> Result<(), String> + Send + Sync + 'static,
{
    fn check(&self, id: PeerId, certificate: &CertificateDer<'_>) -> Result<(), String> {
        self(id, certificate)
    }
}

/// No wrapping: HTTP/2 straight on TCP. Any id may be claimed (the handshake still checks it
/// is in the server list): use it only where the network is trusted.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainTcp;

impl StreamLayer for PlainTcp {
    fn accept(&self, tcp: TcpStream) -> BoxFuture<io::Result<Accepted>> {
        Box::pin(async move {
            Ok(Accepted {
                io: Box::new(tcp),
                certificate: None,
            })
        })
    }

    fn connect(&self, tcp: TcpStream, _peer: PeerId) -> BoxFuture<io::Result<BoxIo>> {
        Box::pin(async move { Ok(Box::new(tcp) as BoxIo) })
    }

    fn check_claim(
        &self,
        _claimed: PeerId,
        _certificate: Option<&CertificateDer<'static>>,
    ) -> Result<(), String> {
        Ok(())
    }
}

/// TLS on both sides with rustls: the acceptor presents `server`'s certificate and must ask
/// for a client certificate (its verifier decides which CAs), the dialer presents `client`'s
/// and checks the acceptor's chain (sending `server_name` as SNI). On top of the chain checks,
/// `identity` ties certificates to server ids: the server dialed as N must present a
/// certificate `identity` accepts for N, and a dialer whose `Hello` claims N likewise, so a
/// certificate the trust store accepts cannot speak for another server.
#[derive(Clone)]
pub struct RustlsLayer {
    acceptor: tokio_rustls::TlsAcceptor,
    connector: tokio_rustls::TlsConnector,
    server_name: ServerName<'static>,
    identity: Arc<dyn PeerIdentity>,
}

impl RustlsLayer {
    /// A layer from the two rustls configs, the SNI name to send, and the tie between
    /// certificates and server ids.
    pub fn new(
        server: Arc<rustls::ServerConfig>,
        client: Arc<rustls::ClientConfig>,
        server_name: ServerName<'static>,
        identity: Arc<dyn PeerIdentity>,
    ) -> RustlsLayer {
        RustlsLayer {
            acceptor: tokio_rustls::TlsAcceptor::from(server),
            connector: tokio_rustls::TlsConnector::from(client),
            server_name,
            identity,
        }
    }
}

impl StreamLayer for RustlsLayer {
    fn accept(&self, tcp: TcpStream) -> BoxFuture<io::Result<Accepted>> {
        let acceptor = self.acceptor.clone();
        Box::pin(async move {
            let tls = acceptor.accept(tcp).await?;
            let certificate = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|c| c.clone().into_owned());
            Ok(Accepted {
                io: Box::new(tls),
                certificate,
            })
        })
    }

    fn connect(&self, tcp: TcpStream, peer: PeerId) -> BoxFuture<io::Result<BoxIo>> {
        let connector = self.connector.clone();
        let name = self.server_name.clone();
        let identity = self.identity.clone();
        Box::pin(async move {
            let tls = connector.connect(name, tcp).await?;
            let checked = match tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
                Some(cert) => identity.check(peer, cert),
                None => Err("no certificate".into()),
            };
            checked.map_err(|why| {
                io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("the server dialed as {peer} cannot be it: {why}"),
                )
            })?;
            Ok(Box::new(tls) as BoxIo)
        })
    }

    fn check_claim(
        &self,
        claimed: PeerId,
        certificate: Option<&CertificateDer<'static>>,
    ) -> Result<(), String> {
        match certificate {
            Some(cert) => self
                .identity
                .check(claimed, cert)
                .map_err(|why| format!("its certificate cannot speak as server {claimed}: {why}")),
            None => Err("no client certificate".into()),
        }
    }
}
