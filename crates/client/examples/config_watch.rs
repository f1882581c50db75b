//! Config watch: keeps reading /examples/config with a data watch and prints every new value.
//! A writer task changes it three times so the example shows something on its own; change
//! it from elsewhere too (`corral shell` / zkCli: `set /examples/config hello`).
//!
//! ```text
//! cargo run -p corral-client --example config_watch -- 127.0.0.1:2181
//! ```
//! The server address comes from the first argument, else `$ZK_ADDR`, else 127.0.0.1:2181.

use std::time::Duration;

use corral_client::recipes::ensure_path;
use corral_client::{Client, Error, EventType};

const PATH: &str = "/examples/config";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("ZK_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:2181".to_string());
    let client = Client::connect(&addr).await?;
    ensure_path(&client, PATH).await?;

    // A writer, as another process would be.
    let writer = client.clone();
    tokio::spawn(async move {
        for version in 1..=3 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let _ = writer
                .set_data(PATH, format!("version {version}"), None)
                .await;
        }
    });

    // Read the value and leave a watch in the same call; when the watch fires, read again
    // (watches are one-shot). A change between two reads is never missed: the read that
    // re-arms the watch returns the newest value.
    let mut seen = 0;
    while seen < 4 {
        let (data, stat, watch) = match client.get_data_w(PATH).await {
            Ok(v) => v,
            Err(Error::ConnectionLoss) => continue, // the client reconnects by itself
            Err(e) => return Err(e.into()),
        };
        println!(
            "config = {:?} (version {})",
            String::from_utf8_lossy(&data),
            stat.version
        );
        seen += 1;
        if seen == 4 {
            break;
        }
        match tokio::time::timeout(Duration::from_secs(30), watch).await {
            Ok(Ok(event)) if event.event_type == EventType::NodeDeleted => {
                println!("config deleted");
                break;
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e.into()), // session expired or closed
            Err(_) => {
                println!("no change for 30 s");
                break;
            }
        }
    }
    client.close().await?;
    Ok(())
}
