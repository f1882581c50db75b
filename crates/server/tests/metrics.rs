//! Metrics end to end: Prometheus's `/metrics` over HTTP (status codes, content type, the
//! registry `mntr` shows), the start-up load metrics after a restart, gtmk / stmk.

mod support;

use std::time::Duration;

use corral_server::{Server, ServerConfig};
use support::{four_letter, fresh_dir, start_in, RawClient, STEP};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn mntr_value(mntr: &str, key: &str) -> Option<String> {
    mntr.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('\t'))
        .map(str::to_string)
}

/// One HTTP/1.1 request (connection closed after it); the whole response.
async fn http(addr: std::net::SocketAddr, method: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    tokio::time::timeout(STEP, s.read_to_string(&mut out))
        .await
        .expect("in time")
        .expect("read");
    out
}

#[tokio::test]
async fn metrics_page_serves_the_registry_mntr_shows() {
    let dir = fresh_dir("metrics-http");
    let cfg = ServerConfig::parse(&format!(
        "dataDir={}\nclientPort=0\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n\
         metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
         metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=0\n",
        dir.display()
    ))
    .expect("config");
    let server = Server::bind(cfg).await.expect("bind");
    let addr = server.local_addr().expect("addr");
    let metrics = server
        .metrics_local_addr()
        .expect("configured")
        .expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let mut c = RawClient::connect(addr).await;
    for xid in 1..=5 {
        let h = c.create(xid, &format!("/m{xid}"), b"abc", 0).await;
        assert_eq!(h.map(|h| h.err), Some(0));
    }
    assert!(c.get(6, "/m1").await.is_ok());

    let page = http(metrics, "GET", "/metrics").await;
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(
        page.contains("content-type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{page}"
    );
    let body = page
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    // With the Prometheus provider, mntr prints its samples (as ZooKeeper's MonitorCommand
    // dumps the provider it runs): the page's sample names with `zk_`.
    let mntr = four_letter(addr, "mntr").await;
    let page_keys: Vec<String> = body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' ').map(|(k, _)| format!("zk_{k}")))
        .collect();
    let mntr_keys: Vec<&str> = mntr
        .lines()
        .filter_map(|l| Some(l.split_once('\t')?.0))
        .collect();
    assert_eq!(mntr_keys[..2], ["zk_version", "zk_server_state"]);
    assert_eq!(mntr_keys[2..], page_keys[..], "{mntr}");
    // Nothing was written in between: the same znode count, the same write counts.
    let znodes = mntr_value(&mntr, "zk_znode_count").expect("znode count");
    assert!(
        body.contains(&format!("\nznode_count {znodes}\n")),
        "{znodes}\n{body}"
    );
    assert!(body.contains("# TYPE updatelatency summary\n"));
    for q in ["0.5", "0.9", "0.99"] {
        assert!(
            body.contains(&format!("updatelatency{{quantile=\"{q}\"}} ")),
            "{q}"
        );
    }
    let writes = mntr_value(&mntr, "zk_updatelatency_count").expect("updates");
    // createSession and the 5 creates.
    assert_eq!(writes, "6.0");
    assert!(body.contains("\nupdatelatency_count 6.0\n"), "{body}");
    assert!(
        body.contains("write_per_namespace_count{key=\"m3\"} 1.0\n"),
        "{body}"
    );

    let missing = http(metrics, "GET", "/other").await;
    assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
    let post = http(metrics, "POST", "/metrics").await;
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
    assert!(
        post.to_ascii_lowercase().contains("allow: get, head\r\n"),
        "{post}"
    );

    drop(c);
    let _ = stop.send(());
    let _ = task.await;
    // Stopped: the page's listener is gone with the server.
    assert!(TcpStream::connect(metrics).await.is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn start_up_load_metrics_after_a_restart() {
    let dir = fresh_dir("metrics-startup");
    let server = start_in(&dir, "", None).await;
    let fresh = four_letter(server.addr, "mntr").await;
    // A fresh data dir: snapshot.0 written, nothing replayed (ZooKeeper records no txn load
    // when the log is empty).
    assert_eq!(
        mntr_value(&fresh, "zk_cnt_dbinittime").as_deref(),
        Some("1")
    );
    assert_eq!(
        mntr_value(&fresh, "zk_cnt_snapshottime").as_deref(),
        Some("1")
    );
    assert_eq!(
        mntr_value(&fresh, "zk_cnt_startup_txns_loaded").as_deref(),
        Some("0")
    );
    let mut c = RawClient::connect(server.addr).await;
    for xid in 1..=20 {
        assert!(c.create(xid, &format!("/r{xid}"), b"", 0).await.is_some());
    }
    let before = four_letter(server.addr, "mntr").await;
    let synced: u64 = mntr_value(&before, "zk_sum_sync_processor_batch_size")
        .and_then(|v| v.parse().ok())
        .expect("batch sizes");
    // createSession and 20 creates, each made durable by some fsync.
    assert_eq!(synced, 21, "{before}");
    drop(c);
    server.stop().await;

    let server = start_in(&dir, "", None).await;
    let after = four_letter(server.addr, "mntr").await;
    assert_eq!(
        mntr_value(&after, "zk_cnt_startup_txns_loaded").as_deref(),
        Some("1")
    );
    let loaded: u64 = mntr_value(&after, "zk_sum_startup_txns_loaded")
        .and_then(|v| v.parse().ok())
        .expect("txns loaded");
    // The 21 txns, and the closeSession of the session that went away, if it expired
    // before the stop.
    assert!((21..=22).contains(&loaded), "{loaded}");
    assert_eq!(
        mntr_value(&after, "zk_cnt_startup_snap_load_time").as_deref(),
        Some("1")
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn gtmk_and_stmk() {
    let dir = fresh_dir("metrics-trace");
    let server = start_in(&dir, "", None).await;
    assert_eq!(four_letter(server.addr, "gtmk").await, "306");
    let mut s = TcpStream::connect(server.addr).await.expect("connect");
    s.write_all(b"stmk").await.expect("write");
    // The mask may come later than the word.
    tokio::time::sleep(Duration::from_millis(20)).await;
    s.write_all(&(-2i64).to_be_bytes()).await.expect("write");
    let mut answer = String::new();
    tokio::time::timeout(STEP, s.read_to_string(&mut answer))
        .await
        .expect("in time")
        .expect("read");
    assert_eq!(answer, "-2");
    assert_eq!(four_letter(server.addr, "gtmk").await, "-2");
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
