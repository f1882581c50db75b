//! A small HTTP/1.1 server on hyper 1 for the server's HTTP endpoints (the AdminServer; the
//! same serving fits a `/metrics` endpoint): a listener, one task per connection, a handler
//! from [`HttpRequest`] to [`HttpResponse`]. Parsing is hyper's; nothing here reads HTTP.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// What a handler sees of a request (its body is not read: no endpoint takes one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, percent-decoding not applied.
    pub path: String,
    /// The query's `key=value` pairs in order (`+` and `%XX` decoded).
    pub query: Vec<(String, String)>,
    /// The client.
    pub remote: SocketAddr,
}

/// A handler's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// `Content-Type`, if any.
    pub content_type: Option<&'static str>,
    /// `Allow` (the methods a 405 answer accepts), if any.
    pub allow: Option<&'static str>,
    /// The body.
    pub body: Bytes,
}

impl HttpResponse {
    /// A response with `status`, a content type and a body.
    pub fn new(status: u16, content_type: Option<&'static str>, body: impl Into<Bytes>) -> Self {
        HttpResponse {
            status,
            content_type,
            allow: None,
            body: body.into(),
        }
    }

    /// The same with an `Allow` header.
    pub fn with_allow(mut self, methods: &'static str) -> Self {
        self.allow = Some(methods);
        self
    }
}

/// Serves `listener` until the returned future is dropped (connections are tasks of a
/// `JoinSet` it owns: dropping it ends them all). A connection that sends no complete request
/// header within `idle` is closed.
pub async fn serve<H, F>(listener: TcpListener, idle: Duration, handler: H)
where
    H: Fn(HttpRequest) -> F + Send + Sync + 'static,
    F: Future<Output = HttpResponse> + Send + 'static,
{
    let handler = Arc::new(handler);
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let (socket, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("HTTP accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let handler = Arc::clone(&handler);
        connections.spawn(async move {
            let service = service_fn(move |req: hyper::Request<Incoming>| {
                let request = HttpRequest {
                    method: req.method().as_str().to_string(),
                    path: req.uri().path().to_string(),
                    query: req.uri().query().map(parse_query).unwrap_or_default(),
                    remote,
                };
                let answer = handler(request);
                async move { Ok::<_, Infallible>(to_hyper(answer.await)) }
            });
            let served = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(idle)
                .serve_connection(TokioIo::new(socket), service)
                .await;
            if let Err(e) = served {
                tracing::debug!("HTTP connection from {remote}: {e}");
            }
        });
    }
}

fn to_hyper(answer: HttpResponse) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(answer.body));
    *response.status_mut() =
        hyper::StatusCode::from_u16(answer.status).unwrap_or(hyper::StatusCode::OK);
    if let Some(ct) = answer.content_type {
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(ct),
        );
    }
    if let Some(methods) = answer.allow {
        response.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static(methods),
        );
    }
    response
}

/// `a=1&b=x+y&c=%2F` -> [(a, 1), (b, "x y"), (c, "/")]; a key without `=` has an empty value.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Form decoding: `+` is a space, `%XX` a byte; a malformed escape stays as written.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::parse_query;

    #[test]
    fn query_pairs_are_decoded() {
        let q = parse_query("traceMask=306&a=x+y&b=%2Fp&c&d=%zz&e=%4");
        let want = [
            ("traceMask", "306"),
            ("a", "x y"),
            ("b", "/p"),
            ("c", ""),
            ("d", "%zz"),
            ("e", "%4"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(q, want);
        assert!(parse_query("").is_empty());
    }
}
