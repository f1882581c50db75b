//! Throughput of one session with many requests in flight (pipelined on one connection).
//! Prints ops/s for create, getData and setData of 100-byte values; asserts nothing.
//!
//! ```text
//! cargo run -p corral-client --release --example pipeline_bench -- 127.0.0.1:2181 [ops] [window]
//! cargo run -p corral-client --release --example pipeline_bench -- --embedded
//! ```
//! `--embedded` starts an in-process Corral server (a dev-dependency) on a free port.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use corral_client::recipes::ensure_path;
use corral_client::{Client, CreateMode, Error};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = match args.first().map(String::as_str) {
        Some("--embedded") => embedded().await?,
        Some(a) => a.to_string(),
        None => std::env::var("ZK_ADDR").unwrap_or_else(|_| "127.0.0.1:2181".to_string()),
    };
    let ops: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(50_000);
    let window: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(256);
    let client = Client::connect(&addr).await?;
    let root = format!("/bench-{}", std::process::id());
    ensure_path(&client, &root).await?;
    let value = bytes::Bytes::from(vec![b'x'; 100]);
    println!("{addr}: {ops} ops per phase, {window} in flight on one session");

    for phase in ["create", "getData", "setData"] {
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..window {
            let (client, next, root, value) =
                (client.clone(), next.clone(), root.clone(), value.clone());
            workers.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= ops {
                        return Ok::<_, Error>(());
                    }
                    let path = format!("{root}/n{i}");
                    match phase {
                        "create" => {
                            client
                                .create(&path, value.clone(), CreateMode::Persistent)
                                .await?;
                        }
                        "getData" => {
                            client.get_data(&path).await?;
                        }
                        _ => {
                            client.set_data(&path, value.clone(), None).await?;
                        }
                    }
                }
            });
        }
        while let Some(r) = workers.join_next().await {
            r??;
        }
        let secs = start.elapsed().as_secs_f64();
        println!("{phase:>8}: {:>9.0} ops/s", ops as f64 / secs);
    }
    // Clean up with multi deletes of 500 nodes each.
    let mut batch = Vec::new();
    for i in 0..ops {
        batch.push(corral_client::Op::delete(&format!("{root}/n{i}"), None));
        if batch.len() == 500 {
            client.multi(std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        client.multi(batch).await?;
    }
    client.delete(&root, None).await?;
    client.close().await?;
    Ok(())
}

async fn embedded() -> Result<String, Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("corral-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let cfg = corral_server::ServerConfig::parse(&format!(
        "dataDir={}\nclientPort=0\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\nadmin.enableServer=false\n",
        dir.display()
    ))?;
    let server = corral_server::Server::bind(cfg).await?;
    let addr = server.local_addr()?;
    tokio::spawn(server.run(std::future::pending()));
    Ok(addr.to_string())
}
