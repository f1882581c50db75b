//! Three servers in one process replicate a key-value map with the ZAB runtime, each with
//! its own data directory, over the in-memory network (the gRPC transport takes its place
//! between processes). `cargo run -p corral-zab-runtime --example kv`.
//!
//! The state machine is all a user writes: apply a committed payload, cut a snapshot into
//! chunks, restore one.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use corral_storage::StorageConfig;
use corral_zab::{Config, Role, VoterSet, Zxid};
use corral_zab_runtime::{MemNetwork, Runtime, RuntimeConfig, StateMachine};

/// A replicated key-value map: payloads are `key=value`.
#[derive(Default)]
pub struct Kv {
    /// The map.
    pub map: BTreeMap<String, String>,
    /// The last zxid applied.
    pub applied: Option<Zxid>,
    receiving: Vec<u8>,
}

impl StateMachine for Kv {
    type Snapshot = std::vec::IntoIter<Bytes>;

    fn apply(&mut self, zxid: Zxid, payload: &Bytes) {
        let text = String::from_utf8_lossy(payload);
        if let Some((k, v)) = text.split_once('=') {
            self.map.insert(k.into(), v.into());
        }
        self.applied = Some(zxid);
    }

    fn snapshot(&mut self) -> Self::Snapshot {
        let mut text = String::new();
        for (k, v) in &self.map {
            text.push_str(&format!("{k}={v}\n"));
        }
        let bytes = Bytes::from(text);
        // Small chunks, so that a snapshot is many of them.
        (0..bytes.len())
            .step_by(64)
            .map(|i| bytes.slice(i..(i + 64).min(bytes.len())))
            .collect::<Vec<_>>()
            .into_iter()
    }

    fn restore_chunk(&mut self, _zxid: Zxid, offset: u64, data: &Bytes) {
        self.receiving.truncate(offset as usize);
        self.receiving.extend_from_slice(data);
    }

    fn restore(&mut self, zxid: Zxid) -> Result<(), String> {
        let text =
            String::from_utf8(std::mem::take(&mut self.receiving)).map_err(|e| e.to_string())?;
        self.map = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.applied = Some(zxid);
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
pub async fn main() {
    let base = std::env::temp_dir().join(format!("corral-kv-example-{}", std::process::id()));
    let network = MemNetwork::new();
    let ids = [1, 2, 3];
    let mut servers = Vec::new();
    for id in ids {
        let (transport, inbound) = network.join(id);
        let config = RuntimeConfig {
            zab: Config {
                id,
                voters: VoterSet::new(ids),
                ..Config::default()
            },
            tick: Duration::from_millis(50),
            storage: StorageConfig::new(base.join(id.to_string())),
            snap_count: 100_000,
        };
        match Runtime::start(config, Kv::default(), transport, inbound) {
            Ok(rt) => servers.push(rt),
            Err(e) => return eprintln!("server {id}: {e}"),
        }
    }
    // Wait (bounded) for a leader, then write through it.
    let leader = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            for rt in &servers {
                if rt.status().borrow().role == Role::Leading && rt.status().borrow().established {
                    return rt;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let Ok(leader) = leader else {
        return eprintln!("no leader elected within 30 s");
    };
    for (k, v) in [("colour", "blue"), ("size", "xl"), ("colour", "green")] {
        match leader.propose(Bytes::from(format!("{k}={v}"))).await {
            Ok(zxid) => println!("{k}={v} committed as {zxid}"),
            Err(e) => return eprintln!("{k}={v}: {e}"),
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for rt in &servers {
        let s = rt.status().borrow().clone();
        if let Ok(map) = rt.read(|kv: &Kv| kv.map.clone()).await {
            println!("server {} ({:?}): {map:?}", s.id, s.role);
        }
    }
    let _ = std::fs::remove_dir_all(&base);
}
