//! Leader election: run several copies; one leads for 10 s then steps down, and the next in
//! line takes over. Ctrl-C leaves the election at any time.
//!
//! ```text
//! cargo run -p corral-client --example leader_election -- 127.0.0.1:2181 [name]
//! ```
//! The server address comes from the first argument, else `$ZK_ADDR`, else 127.0.0.1:2181.

use std::time::Duration;

use corral_client::recipes::election::LeaderLatch;
use corral_client::Client;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .or_else(|| std::env::var("ZK_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:2181".to_string());
    let name = args
        .next()
        .unwrap_or_else(|| format!("candidate-{}", std::process::id()));
    let client = Client::connect(&addr).await?;

    // Join: an ephemeral sequential node with our name; the lowest node leads.
    let latch = LeaderLatch::start(&client, "/examples/election", &name).await?;
    println!(
        "{name} joined; participants, leader first: {:?}",
        LeaderLatch::participants(&client, "/examples/election").await?
    );

    // Wait for our turn. Leadership turns false again if the connection is lost (another
    // participant may be elected if our session expires meanwhile).
    let mut leading = latch.subscribe();
    let outcome = tokio::select! {
        became = leading.wait_for(|l| *l) => Some(became.is_ok()),
        _ = tokio::signal::ctrl_c() => None,
    };
    match outcome {
        Some(true) => {
            println!("{name} is the leader");
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(10)) => {}
                _ = leading.wait_for(|l| !*l) => println!("{name} lost leadership"),
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Some(false) => println!("{name}: the session ended"),
        None => {}
    }

    // Leave: the next in line is elected.
    latch.close().await?;
    client.close().await?;
    println!("{name} left");
    Ok(())
}
