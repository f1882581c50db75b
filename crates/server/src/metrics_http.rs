//! Prometheus's `/metrics` over HTTP/1.1 (hyper), as ZooKeeper's PrometheusMetricsProvider
//! serves it on `metricsProvider.httpHost:httpPort`: `GET /metrics` answers the text format
//! 0.0.4, any other path 404, any other method 405. The page is the core's
//! ([`crate::Core::prometheus_text`]), asked through the owner's inbox like a four-letter
//! word, so it renders the same registry as `mntr`.

use std::convert::Infallible;

use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use std::sync::Arc;

use crate::io_metrics::{measure, NetCounters};
use crate::owner::ToCore;

/// The text format's content type (Prometheus's Java client sends the same).
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves `/metrics` on `listener` until this future is dropped (then every connection it
/// serves ends with it).
pub(crate) async fn serve(
    listener: TcpListener,
    to_core: mpsc::Sender<ToCore>,
    counters: Arc<NetCounters>,
) {
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("metrics: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let to_core = to_core.clone();
        let counters = Arc::clone(&counters);
        conns.spawn(async move {
            let service = service_fn(move |req| page(req, to_core.clone(), Arc::clone(&counters)));
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("metrics: connection from {remote}: {e}");
            }
        });
    }
}

async fn page(
    req: Request<Incoming>,
    to_core: mpsc::Sender<ToCore>,
    counters: Arc<NetCounters>,
) -> Result<Response<String>, Infallible> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut resp = status(StatusCode::METHOD_NOT_ALLOWED);
        resp.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(resp);
    }
    if req.uri().path() != "/metrics" {
        return Ok(status(StatusCode::NOT_FOUND));
    }
    let io = measure(&counters);
    let (reply, answer) = oneshot::channel();
    if to_core.send(ToCore::Metrics { io, reply }).await.is_err() {
        return Ok(status(StatusCode::SERVICE_UNAVAILABLE));
    }
    let Ok(text) = answer.await else {
        return Ok(status(StatusCode::SERVICE_UNAVAILABLE));
    };
    let mut resp = Response::new(text);
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT));
    Ok(resp)
}

fn status(code: StatusCode) -> Response<String> {
    let mut resp = Response::new(format!("{code}\n"));
    *resp.status_mut() = code;
    resp
}
