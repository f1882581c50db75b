//! HTTP/2 on one stream, by hyper, under tonic's gRPC calls (no tonic transport).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use crate::layer::BoxIo;

/// tonic's client calls over one hyper HTTP/2 connection.
#[derive(Clone)]
pub(crate) struct H2Client(pub SendRequest<tonic::body::Body>);

impl tower_service::Service<http::Request<tonic::body::Body>> for H2Client {
    type Response = http::Response<Incoming>;
    type Error = hyper::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, hyper::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), hyper::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(self.0.send_request(req))
    }
}

/// The client half: a request sender and the connection future to drive.
pub(crate) async fn client(
    io: BoxIo,
    keepalive: Duration,
) -> Result<
    (
        H2Client,
        hyper::client::conn::http2::Connection<TokioIo<BoxIo>, tonic::body::Body, TokioExecutor>,
    ),
    hyper::Error,
> {
    let (send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(keepalive)
        .keep_alive_timeout(keepalive)
        .keep_alive_while_idle(true)
        .handshake(TokioIo::new(io))
        .await?;
    Ok((H2Client(send), conn))
}

/// A server connection on `io`: one stream at a time, pings as for the client.
pub(crate) fn server_builder(
    keepalive: Duration,
) -> hyper::server::conn::http2::Builder<TokioExecutor> {
    let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    b.timer(TokioTimer::new())
        .max_concurrent_streams(1)
        .keep_alive_interval(keepalive)
        .keep_alive_timeout(keepalive);
    b
}

/// A gRPC error response for a request that is not our one call.
pub(crate) fn unimplemented() -> Result<http::Response<tonic::body::Body>, Infallible> {
    Ok(tonic::Status::unimplemented("not a Corral peer call").into_http())
}
