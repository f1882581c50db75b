//! A fair distributed lock: run several copies at once and watch them take turns.
//!
//! ```text
//! cargo run -p corral-client --example lock -- 127.0.0.1:2181
//! ```
//! The server address comes from the first argument, else `$ZK_ADDR`, else 127.0.0.1:2181.

use std::time::Duration;

use corral_client::recipes::lock::Lock;
use corral_client::Client;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("ZK_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:2181".to_string());
    let client = Client::connect(&addr).await?;
    println!("session {:#x} on {addr}", client.session_id());

    // Every contender queues an ephemeral sequential node under /examples/lock and waits for
    // the node just before its own to go away.
    let mut lock = Lock::new(&client, "/examples/lock");
    for round in 1..=3 {
        if !lock.try_acquire(Duration::from_secs(60)).await? {
            println!("no lock within a minute, giving up");
            break;
        }
        println!("round {round}: holding the lock as {:?}", lock.node_path());
        // The critical section. If the session expired here, the server would already have
        // deleted our node: `lock.wait_lost()` resolves then.
        tokio::time::sleep(Duration::from_secs(1)).await;
        lock.release().await?;
        println!("round {round}: released");
    }
    client.close().await?;
    Ok(())
}
