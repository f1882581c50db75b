//! The stream under HTTP/2: plain TCP, TLS, or whatever the owner wraps around a socket.
//!
//! The transport accepts and dials TCP itself and hands every socket to a [`StreamLayer`]
//! before HTTP/2 starts; [`PlainTcp`] passes it through, [`RustlsLayer`] runs a TLS handshake
//! (mutual, with the `rustls` configs the owner builds, e.g. from corral-tls's stores).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::ServerName;

use crate::PeerId;

/// A byte stream a peer connection runs on.
pub trait PeerIo: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> PeerIo for T {}

/// A boxed [`PeerIo`].
pub type BoxIo = Box<dyn PeerIo>;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Wraps the sockets of a transport (both sides), e.g. in TLS.
pub trait StreamLayer: Send + Sync + 'static {
    /// Wraps a connection this server accepted.
    fn accept(&self, tcp: TcpStream) -> BoxFuture<io::Result<BoxIo>>;
    /// Wraps a connection this server dialed to `peer`.
    fn connect(&self, tcp: TcpStream, peer: PeerId) -> BoxFuture<io::Result<BoxIo>>;
}

/// No wrapping: HTTP/2 straight on TCP.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainTcp;

impl StreamLayer for PlainTcp {
    fn accept(&self, tcp: TcpStream) -> BoxFuture<io::Result<BoxIo>> {
        Box::pin(async move { Ok(Box::new(tcp) as BoxIo) })
    }

    fn connect(&self, tcp: TcpStream, _peer: PeerId) -> BoxFuture<io::Result<BoxIo>> {
        Box::pin(async move { Ok(Box::new(tcp) as BoxIo) })
    }
}

/// TLS on both sides with rustls: the acceptor presents `server`'s certificate (and asks for
/// a client certificate if its verifier does), the dialer presents `client`'s and checks the
/// acceptor's against `server_name`.
#[derive(Clone)]
pub struct RustlsLayer {
    acceptor: tokio_rustls::TlsAcceptor,
    connector: tokio_rustls::TlsConnector,
    server_name: ServerName<'static>,
}

impl RustlsLayer {
    /// A layer from the two rustls configs and the name every peer's certificate carries.
    pub fn new(
        server: Arc<rustls::ServerConfig>,
        client: Arc<rustls::ClientConfig>,
        server_name: ServerName<'static>,
    ) -> RustlsLayer {
        RustlsLayer {
            acceptor: tokio_rustls::TlsAcceptor::from(server),
            connector: tokio_rustls::TlsConnector::from(client),
            server_name,
        }
    }
}

impl StreamLayer for RustlsLayer {
    fn accept(&self, tcp: TcpStream) -> BoxFuture<io::Result<BoxIo>> {
        let acceptor = self.acceptor.clone();
        Box::pin(async move { Ok(Box::new(acceptor.accept(tcp).await?) as BoxIo) })
    }

    fn connect(&self, tcp: TcpStream, _peer: PeerId) -> BoxFuture<io::Result<BoxIo>> {
        let connector = self.connector.clone();
        let name = self.server_name.clone();
        Box::pin(async move { Ok(Box::new(connector.connect(name, tcp).await?) as BoxIo) })
    }
}
