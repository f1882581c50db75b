//! Throughput and latency of the peer transport between two transports in one process, on
//! 127.0.0.1 (a benchmark, not a test):
//!
//! ```text
//! cargo run --release -p corral-peer --example peer_bench [seconds per row, default 3]
//! ```
//!
//! Streaming rows: server 1 sends frames of the row's size to server 2 as fast as a window of
//! unacknowledged frames allows (server 2 answers every 256th frame with an ack frame, so the
//! sender never overflows its queue); frames/s and MB/s of payload as received. Ping-pong:
//! one frame out, the echo back, one at a time; round-trip p50 / p99 / max.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use corral_peer::{Channel, Config, Event, Events, PlainTcp, Transport};
use tokio::net::TcpListener;

const ACK_EVERY: u64 = 256;
/// Unacknowledged frames at most: 8 acks' worth, or fewer for large frames (64 MiB in flight).
const WINDOW: u64 = 8 * ACK_EVERY;
const WINDOW_BYTES: u64 = 64 << 20;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let per_row = Duration::from_secs(secs);
    let l1 = TcpListener::bind("127.0.0.1:0").await?;
    let l2 = TcpListener::bind("127.0.0.1:0").await?;
    let servers: BTreeMap<u64, SocketAddr> = [(1, l1.local_addr()?), (2, l2.local_addr()?)].into();
    let cfg = |id| {
        let mut c = Config::new(id, servers.clone());
        c.queue = 2 * WINDOW as usize;
        // Room for the window of the largest frames (2 * ACK_EVERY of 256 KiB).
        c.queue_bytes = 256 << 20;
        c
    };
    let (t1, mut e1) = Transport::start_with(cfg(1), l1, Arc::new(PlainTcp))?;
    let (t2, mut e2) = Transport::start_with(cfg(2), l2, Arc::new(PlainTcp))?;
    wait_connected(&mut e1).await;
    wait_connected(&mut e2).await;
    let t2 = Arc::new(t2);

    // Server 2: acks every ACK_EVERY-th streamed frame, echoes pings (channel SERVER).
    let echo = t2.clone();
    let server2 = tokio::spawn(async move {
        let mut received = 0u64;
        while let Some(event) = e2.recv().await {
            if let Event::Frame(from, ch, bytes) = event {
                if ch == Channel::SERVER {
                    let _ = echo.send(from, Channel::SERVER, bytes);
                    continue;
                }
                received += 1;
                if received.is_multiple_of(ACK_EVERY) {
                    let _ = echo.send(
                        from,
                        Channel::ENGINE,
                        Bytes::copy_from_slice(&received.to_be_bytes()),
                    );
                }
            }
        }
    });

    println!("corral-peer, two transports on 127.0.0.1, {secs} s per row");
    println!("{:>10} {:>12} {:>10}", "frame", "frames/s", "MB/s");
    let mut totals = Totals::default();
    for size in [64usize, 1024, 16 * 1024, 256 * 1024] {
        let (frames, elapsed) = stream(&t1, &mut e1, &mut totals, size, per_row).await;
        let rate = frames as f64 / elapsed.as_secs_f64();
        println!(
            "{:>9}B {:>12.0} {:>10.1}",
            size,
            rate,
            rate * size as f64 / 1e6
        );
    }

    let mut rtts = Vec::new();
    let start = Instant::now();
    let ping = Bytes::from(vec![0u8; 64]);
    while start.elapsed() < per_row && rtts.len() < 1_000_000 {
        let t0 = Instant::now();
        t1.send(2, Channel::SERVER, ping.clone())?;
        loop {
            match e1.recv().await {
                Some(Event::Frame(2, Channel::SERVER, _)) => break,
                Some(_) => continue,
                None => return Err("transport stopped".into()),
            }
        }
        rtts.push(t0.elapsed());
    }
    rtts.sort();
    let pct = |p: f64| rtts[((rtts.len() - 1) as f64 * p) as usize];
    println!(
        "ping-pong 64B: {} round trips, p50 {:?}, p99 {:?}, max {:?}",
        rtts.len(),
        pct(0.50),
        pct(0.99),
        rtts[rtts.len() - 1]
    );
    drop(t1);
    server2.abort();
    Ok(())
}

async fn wait_connected(events: &mut Events) {
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
        if matches!(e, Event::Connected(_)) {
            return;
        }
    }
    panic!("no connection within 10 s");
}

/// Counts of streamed frames across rows (server 2's acks are cumulative).
#[derive(Default)]
struct Totals {
    sent: u64,
    acked: u64,
}

/// Streams frames of `size` for `duration`; returns the frames acknowledged in the row and
/// the time until the last of those acks.
async fn stream(
    t1: &Transport,
    e1: &mut Events,
    totals: &mut Totals,
    size: usize,
    duration: Duration,
) -> (u64, Duration) {
    let payload = Bytes::from(vec![7u8; size]);
    let window = (WINDOW_BYTES / size as u64).clamp(2 * ACK_EVERY, WINDOW);
    let first = totals.acked;
    let start = Instant::now();
    while start.elapsed() < duration {
        while totals.sent - totals.acked < window {
            t1.send(2, Channel::ENGINE, payload.clone()).expect("send");
            totals.sent += 1;
        }
        totals.acked = wait_ack(e1).await;
    }
    // Every frame acknowledged that can be (the last < ACK_EVERY wait for the next row).
    while totals.acked + ACK_EVERY <= totals.sent {
        totals.acked = wait_ack(e1).await;
    }
    (totals.acked - first, start.elapsed())
}

async fn wait_ack(e1: &mut Events) -> u64 {
    loop {
        match e1.recv().await {
            Some(Event::Frame(2, Channel::ENGINE, b)) if b.len() == 8 => {
                let mut n = [0u8; 8];
                n.copy_from_slice(&b);
                return u64::from_be_bytes(n);
            }
            Some(_) => continue,
            None => panic!("transport stopped"),
        }
    }
}
