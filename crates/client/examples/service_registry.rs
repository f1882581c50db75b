//! Service registry and discovery: registers this process as an instance of "api" and prints
//! the instance list whenever it changes, for 30 s (or until Ctrl-C). Run several copies.
//!
//! ```text
//! cargo run -p corral-client --example service_registry -- 127.0.0.1:2181 10.0.0.7:8080
//! ```
//! The server address comes from the first argument, else `$ZK_ADDR`, else 127.0.0.1:2181.

use std::time::Duration;

use corral_client::recipes::discovery::{Registration, ServiceWatcher};
use corral_client::Client;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .or_else(|| std::env::var("ZK_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:2181".to_string());
    let endpoint = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let client = Client::connect(&addr).await?;

    // An ephemeral node /examples/services/api/<id> holding our endpoint: it disappears with
    // our session.
    let id = format!("instance-{}", std::process::id());
    let registration =
        Registration::register(&client, "/examples/services", "api", &id, endpoint).await?;

    // Everyone's view of the service, kept current by a child watch.
    let watcher = ServiceWatcher::start(&client, "/examples/services", "api").await?;
    let mut changes = watcher.subscribe();
    let stop = tokio::time::sleep(Duration::from_secs(30));
    tokio::pin!(stop);
    loop {
        let list = changes.borrow_and_update().clone();
        println!("api instances:");
        for instance in list.iter() {
            println!(
                "  {} -> {}",
                instance.id,
                String::from_utf8_lossy(&instance.payload)
            );
        }
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::signal::ctrl_c() => break,
            changed = changes.changed() => if changed.is_err() { break },
        }
    }
    registration.unregister().await?;
    client.close().await?;
    Ok(())
}
