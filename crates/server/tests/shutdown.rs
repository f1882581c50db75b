//! `Server::run` returns with nothing of the server left running: its connections are closed,
//! its log writer thread has ended, and another server starts on the same data directory in
//! the same process and finds what the first acknowledged. (In-process ensembles need this.)
//!
//! One test in its own binary: it counts this process's threads.

mod support;

use std::time::Duration;

use support::{fresh_dir, start_in, RawClient};
use tokio::io::AsyncReadExt;

/// How many threads this process has (Linux: /proc/self/task).
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |tasks| tasks.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_returns_with_connections_and_the_log_writer_stopped() {
    if !std::path::Path::new("/proc/self/task").exists() {
        eprintln!("skipped: no /proc/self/task to count threads");
        return;
    }
    let dir = fresh_dir("shutdown");
    // The runtime's two workers exist already (tokio starts them with the runtime): every
    // other thread is the server's.
    let before = threads();
    for round in 0..3 {
        let server = start_in(&dir, "", None).await;
        assert!(threads() > before, "round {round}: the log writer runs");
        let mut c = RawClient::connect(server.addr).await;
        let path = format!("/r{round}");
        assert_eq!(c.create(1, &path, b"x", 0).await.map(|h| h.err), Some(0));
        for earlier in 0..round {
            let (data, _) = c.get(2, &format!("/r{earlier}")).await.expect("kept");
            assert_eq!(data.as_deref(), Some(&b"x"[..]));
        }

        server.stop().await;
        assert_eq!(
            threads(),
            before,
            "round {round}: no thread of the server is left"
        );
        // The client's connection was closed by the server.
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(10), c.sock.read(&mut byte)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "round {round}: the connection is closed, got {read:?}"
        );
    }
}
