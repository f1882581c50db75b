//! Prometheus's `/metrics` over HTTP/1.1 (hyper), as ZooKeeper's PrometheusMetricsProvider
//! serves it on `metricsProvider.httpHost:httpPort`: `GET /metrics` answers the text format
//! 0.0.4, any other path 404, any other method 405. The page is the core's
//! ([`crate::Core::prometheus_text`]), asked through the owner's inbox like a four-letter
//! word, so it renders the same registry as `mntr`.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::http::{HttpRequest, HttpResponse};
use crate::io_metrics::{measure, NetCounters};
use crate::owner::ToCore;

/// The text format's content type (Prometheus's Java client sends the same).
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A scraper's connection that sends no complete request within this long is closed.
const IDLE: Duration = Duration::from_secs(30);

/// Serves `/metrics` on `listener` until this future is dropped (then every connection it
/// serves ends with it).
pub(crate) async fn serve(
    listener: TcpListener,
    to_core: mpsc::Sender<ToCore>,
    counters: Arc<NetCounters>,
) {
    crate::http::serve(listener, IDLE, move |req| {
        let to_core = to_core.clone();
        let counters = Arc::clone(&counters);
        async move { page(req, &to_core, &counters).await }
    })
    .await
}

async fn page(
    req: HttpRequest,
    to_core: &mpsc::Sender<ToCore>,
    counters: &NetCounters,
) -> HttpResponse {
    if req.method != "GET" && req.method != "HEAD" {
        return status(405, "Method Not Allowed").with_allow("GET, HEAD");
    }
    if req.path != "/metrics" {
        return status(404, "Not Found");
    }
    let io = measure(counters);
    let (reply, answer) = oneshot::channel();
    if to_core.send(ToCore::Metrics { io, reply }).await.is_err() {
        return status(503, "Service Unavailable");
    }
    match answer.await {
        Ok(text) => HttpResponse::new(200, Some(TEXT_FORMAT), text),
        Err(_) => status(503, "Service Unavailable"),
    }
}

fn status(code: u16, reason: &str) -> HttpResponse {
    HttpResponse::new(code, None, format!("{code} {reason}\n"))
}
