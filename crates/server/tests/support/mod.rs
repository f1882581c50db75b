//! Shared by the server's integration tests: an in-process server on a fresh data dir and a
//! raw-socket client that speaks the wire protocol byte by byte (no client library between).
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use corral_jute::codes::{ErrorCode, OpCode};
use corral_jute::frame::{decode_frame, encode_frame, DEFAULT_MAX_BUFFER};
use corral_jute::io::{Jute, Reader, Secret};
use corral_jute::records::*;
use corral_server::{Server, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const STEP: Duration = Duration::from_secs(10);

/// A fresh, empty data directory for one test server.
pub fn fresh_dir(tag: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("corral-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A server running in this process until `stop`.
pub struct Running {
    pub addr: std::net::SocketAddr,
    /// The AdminServer's address, when `extra` turned it on.
    pub admin: Option<std::net::SocketAddr>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), corral_server::ServerError>>,
}

impl Running {
    /// Stops accepting and returns once the server loop has ended.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// A server on `dir` (its data kept there across restarts), with extra zoo.cfg lines.
pub async fn start_in(
    dir: &std::path::Path,
    extra: &str,
    disk: Option<std::sync::Arc<dyn corral_storage::Disk>>,
) -> Running {
    let mut cfg = ServerConfig::parse(&format!(
        "dataDir={}\nclientPort=0\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\n{extra}",
        dir.display()
    ))
    .expect("config");
    cfg.sasl_users = cfg.read_jaas().expect("JAAS file");
    let server = Server::bind_with_disk(cfg, disk).await.expect("bind");
    let addr = server.local_addr().expect("addr");
    let admin = server
        .admin_local_addr()
        .map(|a| a.expect("AdminServer addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        admin,
        stop,
        task,
    }
}

/// A server on a fresh data dir, running for the rest of the test.
pub async fn start() -> std::net::SocketAddr {
    let running = start_in(&fresh_dir("robust"), "", None).await;
    let addr = running.addr;
    std::mem::forget(running);
    addr
}

/// A four-letter word's answer (read until the server closes).
pub async fn four_letter(addr: std::net::SocketAddr, word: &str) -> String {
    send_and_read(addr, word).await
}

/// Sends `text` on a new connection and reads until the server closes it (within STEP).
pub async fn send_and_read(addr: std::net::SocketAddr, text: &str) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(text.as_bytes()).await.expect("write");
    let mut text = String::new();
    tokio::time::timeout(STEP, s.read_to_string(&mut text))
        .await
        .expect("in time")
        .expect("read");
    text
}

pub struct RawClient {
    pub sock: TcpStream,
    pub buf: BytesMut,
}

impl RawClient {
    pub async fn connect(addr: std::net::SocketAddr) -> RawClient {
        let (c, resp) = RawClient::resume(addr, 0, &[0; 16]).await;
        assert!(
            resp.session_id != 0 && resp.timeout > 0,
            "a new session: {resp:?}"
        );
        c
    }

    /// Connects with an existing session (0 for a new one); the server's answer.
    pub async fn resume(
        addr: std::net::SocketAddr,
        session_id: i64,
        passwd: &[u8],
    ) -> (RawClient, ConnectResponse) {
        let mut c = RawClient {
            sock: TcpStream::connect(addr).await.expect("connect"),
            buf: BytesMut::new(),
        };
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout: 30000,
            session_id,
            passwd: Secret(Bytes::copy_from_slice(passwd)),
            read_only: Some(false),
        };
        c.send(|o| req.write(o)).await;
        let resp = ConnectResponse::from_bytes(c.recv().await.expect("connect response"))
            .expect("decodes");
        (c, resp)
    }

    /// create(path, data) with an open ACL; the reply header, or None if the server closed
    /// the connection instead of answering.
    pub async fn create(
        &mut self,
        xid: i32,
        path: &str,
        data: &[u8],
        flags: i32,
    ) -> Option<ReplyHeader> {
        let req = CreateRequest {
            path: path.into(),
            data: Some(Bytes::copy_from_slice(data)),
            acl: corral_acl::open_acl_unsafe(),
            flags,
        };
        self.send(|o| {
            RequestHeader {
                xid,
                op: OpCode::Create.code(),
            }
            .write(o);
            req.write(o);
        })
        .await;
        let frame = self.recv().await?;
        ReplyHeader::read(&mut Reader::new(frame)).ok()
    }

    /// getData(path): the data and Stat, or the error code.
    pub async fn get(&mut self, xid: i32, path: &str) -> Result<(Option<Bytes>, Stat), i32> {
        let (h, mut r) = self
            .request(xid, OpCode::GetData, |o| {
                GetDataRequest {
                    path: path.into(),
                    watch: false,
                }
                .write(o)
            })
            .await;
        if h.err != ErrorCode::Ok.code() {
            return Err(h.err);
        }
        let resp = GetDataResponse::read(&mut r).expect("getData response");
        Ok((resp.data, resp.stat))
    }

    pub async fn send(&mut self, body: impl FnOnce(&mut BytesMut)) {
        let mut out = BytesMut::new();
        encode_frame(&mut out, body);
        self.sock.write_all(&out).await.expect("write");
    }

    /// The next frame, or None once the server closed the connection.
    pub async fn recv(&mut self) -> Option<Bytes> {
        loop {
            if let Some(frame) = decode_frame(&mut self.buf, DEFAULT_MAX_BUFFER).expect("frame") {
                return Some(frame);
            }
            let n = tokio::time::timeout(STEP, self.sock.read_buf(&mut self.buf))
                .await
                .expect("server answered in time")
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
        }
    }

    pub async fn request(
        &mut self,
        xid: i32,
        op: OpCode,
        body: impl FnOnce(&mut BytesMut),
    ) -> (ReplyHeader, Reader) {
        self.send(|o| {
            RequestHeader { xid, op: op.code() }.write(o);
            body(o);
        })
        .await;
        let frame = self.recv().await.expect("reply");
        let mut r = Reader::new(frame);
        (ReplyHeader::read(&mut r).expect("header"), r)
    }
}
