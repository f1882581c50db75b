//! A raw peer for tests: dials a transport and sends arbitrary gRPC messages (well-formed or
//! not) on the peer call, to see how the transport treats a bad peer. Not part of the API.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{BufMut, Bytes};
use prost::Message;
use tokio::net::TcpStream;
use tonic::codec::{DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

use crate::layer::BoxIo;
use crate::wire::{PeerMessage, STREAM_PATH};

/// Sends `messages` (raw bytes, one gRPC message each) as the request stream, then keeps it
/// open for `linger`; returns what the acceptor answered (its messages, or its status).
pub async fn raw_call(
    addr: SocketAddr,
    messages: Vec<Bytes>,
    linger: Duration,
) -> Result<Vec<PeerMessage>, Status> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let (client, conn) = crate::h2::client(Box::new(tcp) as BoxIo, Duration::from_secs(10))
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let driver = tokio::spawn(conn);
    let mut grpc =
        tonic::client::Grpc::with_origin(client, http::Uri::from_static("http://corral-peer"));
    let result = async {
        grpc.ready()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let outbound = async_linger(messages, linger);
        let path = http::uri::PathAndQuery::from_static(STREAM_PATH);
        let response = grpc
            .streaming(tonic::Request::new(outbound), path, RawCodec)
            .await?;
        let mut inbound = response.into_inner();
        let mut got = Vec::new();
        while let Some(m) = inbound.message().await? {
            got.push(m);
            if got.len() > 1000 {
                break;
            }
        }
        Ok(got)
    };
    let out = tokio::time::timeout(Duration::from_secs(10), result)
        .await
        .unwrap_or_else(|_| Err(Status::deadline_exceeded("raw call")));
    driver.abort();
    out
}

/// The encoding of a message, for `raw_call`.
pub fn encode(message: &PeerMessage) -> Bytes {
    Bytes::from(message.encode_to_vec())
}

fn async_linger(
    messages: Vec<Bytes>,
    linger: Duration,
) -> impl tokio_stream::Stream<Item = Bytes> + Send {
    use tokio_stream::StreamExt;
    let tail = tokio_stream::once(()).then(move |_| async move {
        tokio::time::sleep(linger).await;
    });
    tokio_stream::iter(messages).chain(tail.filter_map(|_| None))
}

/// Bytes out as they are, `PeerMessage`s in.
#[derive(Clone, Copy)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Bytes;
    type Decode = PeerMessage;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = PeerMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<PeerMessage>, Status> {
        PeerMessage::decode(src)
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }
}
