//! Back-pressure on client connections, through the wire: the `globalOutstandingLimit`
//! throttle (ZooKeeper's disableRecv / enableRecv) and the bound on what a client that never
//! reads can make the server hold. What the server read from each connection is taken from
//! `cons` (`recved=`, and the interest ops: `[0]` when the server stopped reading it).

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use corral_jute::codes::{ErrorCode, OpCode};
use corral_jute::frame::encode_frame;
use corral_jute::io::{Jute, Reader};
use corral_jute::records::*;
use parking_lot::{Condvar, Mutex};
use support::{four_letter, fresh_dir, start_in, RawClient};
use tokio::io::AsyncWriteExt;

/// How often, and how many times, a condition on the server's `cons` is looked at.
const POLL: Duration = Duration::from_millis(100);
const POLLS: usize = 100;

/// A disk whose fsyncs wait while it is held: writes stay not durable, so their requests
/// stay in process.
#[derive(Debug, Default)]
struct HeldDisk {
    held: Mutex<bool>,
    released: Condvar,
}

impl HeldDisk {
    fn hold(&self, on: bool) {
        *self.held.lock() = on;
        self.released.notify_all();
    }
}

impl corral_storage::Disk for HeldDisk {
    fn sync_data(&self, file: &std::fs::File) -> std::io::Result<()> {
        let mut held = self.held.lock();
        while *held {
            self.released.wait(&mut held);
        }
        drop(held);
        file.sync_data()
    }
}

/// `cons`'s line for the connection from local port `port`: (interest ops, recved).
async fn cons_of(addr: std::net::SocketAddr, port: u16) -> Option<(u32, u64)> {
    let text = four_letter(addr, "cons").await;
    let line = text
        .lines()
        .find(|l| l.contains(&format!(":{port}[")))?
        .to_string();
    let ops = line.split('[').nth(1)?.split(']').next()?.parse().ok()?;
    let recved = line
        .split("recved=")
        .nth(1)?
        .split(',')
        .next()?
        .parse()
        .ok()?;
    Some((ops, recved))
}

/// Waits until `cons` shows the connection from `port` satisfying `ok`; its last reading.
async fn wait_cons(
    addr: std::net::SocketAddr,
    port: u16,
    ok: impl Fn(u32, u64) -> bool,
) -> (u32, u64) {
    let mut last = None;
    for _ in 0..POLLS {
        last = cons_of(addr, port).await;
        if let Some((ops, recved)) = last {
            if ok(ops, recved) {
                return (ops, recved);
            }
        }
        tokio::time::sleep(POLL).await;
    }
    panic!("cons never showed what was expected; last: {last:?}");
}

/// Waits until the connection's `recved` stops growing across a few readings.
async fn settled_recved(addr: std::net::SocketAddr, port: u16) -> (u32, u64) {
    let mut last = (u32::MAX, u64::MAX);
    let mut same = 0;
    for _ in 0..POLLS {
        let now = cons_of(addr, port).await.expect("the connection is listed");
        same = if now == last { same + 1 } else { 0 };
        if same == 3 {
            return now;
        }
        last = now;
        tokio::time::sleep(POLL).await;
    }
    panic!("recved never settled: {last:?}");
}

fn frame(xid: i32, op: OpCode, body: &dyn Fn(&mut BytesMut)) -> BytesMut {
    let mut out = BytesMut::new();
    encode_frame(&mut out, |o| {
        RequestHeader { xid, op: op.code() }.write(o);
        body(o);
    });
    out
}

fn create(path: &str) -> impl Fn(&mut BytesMut) + '_ {
    move |o| {
        CreateRequest {
            path: path.into(),
            data: Some(bytes::Bytes::from_static(b"v")),
            acl: corral_acl::open_acl_unsafe(),
            flags: 0,
        }
        .write(o)
    }
}

fn get_data(path: &str) -> impl Fn(&mut BytesMut) + '_ {
    move |o| {
        GetDataRequest {
            path: path.into(),
            watch: false,
        }
        .write(o)
    }
}

/// Reads `n` replies; asserts they answer xids 1..=n in order, each with `err`.
async fn replies_in_order(client: &mut RawClient, n: i32, err: ErrorCode) {
    for xid in 1..=n {
        let reply = client.recv().await.expect("a reply");
        let header = ReplyHeader::read(&mut Reader::new(reply)).expect("header");
        assert_eq!((header.xid, header.err), (xid, err.code()), "reply {xid}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_outstanding_limit_a_connection_is_not_read_until_the_log_catches_up() {
    let disk = Arc::new(HeldDisk::default());
    let dir = fresh_dir("throttle");
    let server = start_in(&dir, "globalOutstandingLimit=10\n", Some(disk.clone())).await;
    let addr = server.addr;
    let mut writer = RawClient::connect(addr).await;
    let mut other = RawClient::connect(addr).await;
    let port = writer.sock.local_addr().expect("local").port();
    disk.hold(true);

    // 5,000 creates in one go (about 190 KB, several reads): none can be answered while
    // the disk is held, so once more than 10 are in process the server stops reading.
    const N: i32 = 5000;
    let mut burst = BytesMut::new();
    for xid in 1..=N {
        burst.extend_from_slice(&frame(xid, OpCode::Create, &create(&format!("/n{xid}"))));
    }
    let (rd, mut wr) = writer.sock.into_split();
    let sending = tokio::spawn(async move {
        wr.write_all(&burst).await.expect("write");
        wr
    });
    let (ops, recved) = wait_cons(addr, port, |ops, _| ops == 0).await;
    assert_eq!(ops, 0);
    let (ops, recved_later) = settled_recved(addr, port).await;
    assert_eq!(ops, 0, "still throttled");
    assert!(recved <= recved_later);
    eprintln!("requests read before the throttle held: {recved_later} of {N}");
    assert!(
        recved_later < N as u64,
        "the server stopped reading: {recved_later} of {N} requests read"
    );

    // Another connection is still served (throttled and let go around its own reply).
    let (data, _) = other.get(1, "/").await.expect("getData /");
    assert_eq!(data.as_deref(), Some(&b""[..]));

    // The log catches up: every request is read and answered, in order.
    disk.hold(false);
    let wr = sending.await.expect("sender");
    writer.sock = rd.reunite(wr).expect("same socket");
    replies_in_order(&mut writer, N, ErrorCode::Ok).await;
    let (ops, recved) = cons_of(addr, port).await.expect("listed");
    assert_eq!(
        (ops, recved),
        (1, N as u64 + 1),
        "read again; connect + N requests"
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_stops_being_read_and_others_are_served() {
    let dir = fresh_dir("slowreader");
    let server = start_in(&dir, "", None).await;
    let addr = server.addr;
    let mut other = RawClient::connect(addr).await;
    let big = vec![b'x'; 64 << 10];
    let created = other.create(1, "/big", &big, 0).await.expect("create");
    assert_eq!(created.err, 0);

    // 2,000 getData of a 64 KiB node (125 MiB of replies) from ~80 KB of requests, in one
    // write (the kernel takes it all), and not one byte read back.
    const N: i32 = 2000;
    let mut slow = RawClient::connect(addr).await;
    let port = slow.sock.local_addr().expect("local").port();
    let mut burst = BytesMut::new();
    for xid in 1..=N {
        burst.extend_from_slice(&frame(xid, OpCode::GetData, &get_data("/big")));
    }
    slow.sock.write_all(&burst).await.expect("write");

    // The server reads what it can answer within its bound (plus what the sockets' kernel
    // buffers absorb, some MiB) and then stops reading this connection.
    let (_, recved) = settled_recved(addr, port).await;
    eprintln!("requests read from the client that does not read: {recved} of {N}");
    assert!(
        recved < 1000,
        "the server kept reading a client that does not read: {recved} of {N} requests"
    );
    // Everyone else is served meanwhile.
    for xid in 2..50 {
        let (data, _) = other.get(xid, "/big").await.expect("getData");
        assert_eq!(data.map(|d| d.len()), Some(64 << 10));
    }
    // Nothing was dropped: once the client reads, every reply comes, in order.
    replies_in_order(&mut slow, N, ErrorCode::Ok).await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
