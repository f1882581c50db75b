//! CPU cost of appending to the txn log, for comparing checksum implementations.
//!
//! `cargo run --release -p corral-storage --example append_cpu -- [records] [payload bytes]`
//! appends `records` records (default 200,000) of `payload bytes` (default 1024, a typical
//! setData of a small znode plus its txn header) to a fresh log in a temporary directory,
//! without fsync (`forceSync=no`: the disk's latency is not what is measured), and prints the
//! time per append. Under `valgrind --tool=callgrind` the instruction counts of the
//! checksum show directly.

use corral_storage::Zxid;
use std::time::Instant;

use corral_storage::{LogConfig, TxnLog};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let records: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(200_000);
    let payload_len: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1024);
    let dir = std::env::temp_dir().join(format!("corral-append-cpu-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let mut config = LogConfig::new(&dir);
    config.force_sync = false;
    let payload: Vec<u8> = (0..payload_len).map(|i| (i * 31 + 7) as u8).collect();
    let mut log = TxnLog::open(config)?;
    let start = Instant::now();
    for zxid in 1..=records {
        log.append(Zxid(zxid), &payload)?;
    }
    log.sync()?;
    let elapsed = start.elapsed();
    drop(log);
    std::fs::remove_dir_all(&dir)?;
    println!(
        "{records} appends of {payload_len} bytes: {:.0} ns per append ({:.1} MB/s)",
        elapsed.as_nanos() as f64 / records as f64,
        (records as f64 * payload_len as f64) / elapsed.as_secs_f64() / 1e6
    );
    Ok(())
}
