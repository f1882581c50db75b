//! Bad input closes only the offending connection; the server keeps serving everyone else.
//! Raw sockets speak the wire protocol byte by byte (no client library in between).

mod support;

use bytes::{Bytes, BytesMut};
use corral_jute::codes::{ErrorCode, OpCode};
use corral_jute::frame::{encode_frame, DEFAULT_MAX_BUFFER};
use corral_jute::io::{Jute, Secret};
use corral_jute::records::*;
use support::{start, RawClient, STEP};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn bad_frames_close_only_their_connection() {
    let addr = start().await;
    let mut good = RawClient::connect(addr).await;

    // Oversized length prefix, before any session.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(&((DEFAULT_MAX_BUFFER as i32) + 1).to_be_bytes())
        .await
        .expect("write");
    let mut sink = Vec::new();
    let n = tokio::time::timeout(STEP, s.read_to_end(&mut sink))
        .await
        .expect("closed in time");
    assert!(matches!(n, Ok(0)), "oversized frame closes the connection");

    // Negative length.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(&(-7i32).to_be_bytes()).await.expect("write");
    let n = tokio::time::timeout(STEP, s.read_to_end(&mut sink))
        .await
        .expect("closed in time");
    assert!(matches!(n, Ok(0)));

    // A garbage ConnectRequest.
    let mut s = RawClient {
        sock: TcpStream::connect(addr).await.expect("connect"),
        buf: BytesMut::new(),
    };
    s.send(|o| o.extend_from_slice(&[1, 2, 3])).await;
    assert!(
        s.recv().await.is_none(),
        "garbage connect closes the connection"
    );

    // A session that sends a truncated create body.
    let mut bad = RawClient::connect(addr).await;
    bad.send(|o| {
        RequestHeader {
            xid: 1,
            op: OpCode::Create.code(),
        }
        .write(o);
        o.extend_from_slice(&[0, 0, 0, 9, b'/']);
    })
    .await;
    assert!(
        bad.recv().await.is_none(),
        "malformed request closes the connection"
    );

    // The well-behaved session is still served.
    let (h, mut r) = good
        .request(1, OpCode::Create, |o| {
            CreateRequest {
                path: "/still-here".into(),
                data: Some(Bytes::from_static(b"v")),
                acl: corral_acl::open_acl_unsafe(),
                flags: 0,
            }
            .write(o)
        })
        .await;
    assert_eq!(h.err, ErrorCode::Ok.code());
    assert_eq!(
        PathResponse::read(&mut r).expect("path").path,
        "/still-here"
    );
    let (h, _) = good
        .request(2, OpCode::GetData, |o| {
            GetDataRequest {
                path: "/nope".into(),
                watch: false,
            }
            .write(o)
        })
        .await;
    assert_eq!(h.err, ErrorCode::NoNode.code());
}

#[tokio::test]
async fn four_letter_words_answer_in_zookeeper_format() {
    let addr = start().await;
    for (word, expect) in [
        ("ruok", "imok"),
        ("srvr", "Mode: standalone"),
        ("mntr", "zk_znode_count\t"),
    ] {
        let text = support::four_letter(addr, word).await;
        assert!(text.contains(expect), "{word}: {text}");
    }
}

#[tokio::test]
async fn frames_after_close_session_are_not_a_new_connect() {
    let addr = start().await;
    let mut c = RawClient::connect(addr).await;
    // closeSession and, pipelined behind it, bytes that would parse as a ConnectRequest.
    let connect = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: 30000,
        session_id: 0,
        passwd: Secret(Bytes::from_static(&[0; 16])),
        read_only: Some(false),
    };
    let mut out = BytesMut::new();
    encode_frame(&mut out, |o| {
        RequestHeader {
            xid: 7,
            op: OpCode::CloseSession.code(),
        }
        .write(o)
    });
    encode_frame(&mut out, |o| connect.write(o));
    c.sock.write_all(&out).await.expect("write");
    let frame = c.recv().await.expect("closeSession reply");
    let h = ReplyHeader::from_bytes(frame).expect("header only");
    assert_eq!((h.xid, h.err), (7, 0));
    assert!(
        c.recv().await.is_none(),
        "no second session on a closing connection"
    );
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"mntr").await.expect("write");
    let mut text = String::new();
    tokio::time::timeout(STEP, s.read_to_string(&mut text))
        .await
        .expect("in time")
        .expect("read");
    assert!(text.contains("zk_global_sessions\t0\n"), "{text}");
}
