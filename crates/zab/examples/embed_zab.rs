//! Three ZAB engines in one process, replicating a small key-value map over
//! in-memory channels. Read it top to bottom; run it with
//!
//! ```text
//! cargo run -p corral-zab --example embed_zab
//! ```
//!
//! Everything the engine does not do is here, in its simplest form: a
//! "disk" (a `Vec` that is durable the moment it is written), a network
//! (one `mpsc` channel per server), a clock (a loop counter) and a state
//! machine (a `BTreeMap` that `set key value` payloads update).

use std::collections::BTreeMap;
use std::sync::mpsc::{channel, Receiver, Sender};

use bytes::Bytes;
use corral_zab::{
    snapshot_chunks, Config, Entry, MemoryLog, Message, PeerId, Persist, Persisted, Role, VoterSet,
    Zab,
};

/// One server: the engine and everything the engine asks its caller to keep.
struct Server {
    zab: Zab,
    inbox: Receiver<(PeerId, Message)>,
    /// The "disk": the log and the two epochs.
    log: Vec<Entry>,
    accepted_epoch: u32,
    current_epoch: u32,
    /// The state machine.
    kv: BTreeMap<String, String>,
    /// A snapshot being received from the leader.
    receiving: Vec<u8>,
}

type Network = BTreeMap<PeerId, Sender<(PeerId, Message)>>;

fn main() {
    let ids: [PeerId; 3] = [1, 2, 3];

    // 1. The network: one channel per server; anyone may send into it.
    let mut network = Network::new();
    let mut inboxes = BTreeMap::new();
    for id in ids {
        let (tx, rx) = channel();
        network.insert(id, tx);
        inboxes.insert(id, rx);
    }

    // 2. The engines: same voters, each its own id, nothing stored yet.
    let mut servers: BTreeMap<PeerId, Server> = BTreeMap::new();
    for id in ids {
        let config = Config {
            id,
            voters: VoterSet::new(ids),
            ..Config::default()
        };
        let zab =
            Zab::new(config, Persisted::default(), MemoryLog::default()).expect("valid config");
        let inbox = inboxes.remove(&id).expect("one inbox per server");
        servers.insert(
            id,
            Server {
                zab,
                inbox,
                log: Vec::new(),
                accepted_epoch: 0,
                current_epoch: 0,
                kv: BTreeMap::new(),
                receiving: Vec::new(),
            },
        );
    }

    // 3. Let time pass until a leader is elected and established.
    let leader = loop {
        for (id, server) in servers.iter_mut() {
            if let Err(e) = server.zab.tick() {
                eprintln!("server {id}: {e}");
            }
            pump(*id, server, &network);
        }
        settle(&mut servers, &network);
        let established = servers.iter().find(|(_, s)| {
            let st = s.zab.status();
            st.role == Role::Leading && st.established
        });
        if let Some((&id, _)) = established {
            break id;
        }
    };
    println!(
        "server {leader} leads epoch {}",
        servers[&leader].zab.status().epoch
    );

    // 4. Writes go to the leader; each comes back as a zxid.
    for (key, value) in [("colour", "green"), ("size", "xl"), ("colour", "blue")] {
        let payload = Bytes::from(format!("set {key} {value}"));
        let server = servers.get_mut(&leader).expect("the leader exists");
        let zxid = server.zab.propose(payload).expect("the leader accepts");
        println!("proposed {key}={value} as zxid {zxid}");
    }
    settle(&mut servers, &network);

    // 5. Every server applied the same writes in the same order.
    for (id, server) in &servers {
        println!(
            "server {id} ({:?}, epochs {}/{}, {} log entries): {:?}",
            server.zab.status().role,
            server.accepted_epoch,
            server.current_epoch,
            server.log.len(),
            server.kv
        );
    }
    let first = &servers[&1].kv;
    assert!(servers.values().all(|s| &s.kv == first));
    assert_eq!(first.get("colour").map(String::as_str), Some("blue"));
}

/// Delivers messages and handles `Ready`s until nothing moves.
fn settle(servers: &mut BTreeMap<PeerId, Server>, network: &Network) {
    loop {
        let mut moved = false;
        for (id, server) in servers.iter_mut() {
            moved |= pump(*id, server, network);
        }
        if !moved {
            return;
        }
    }
}

/// One server's turn: feed it its inbox, then do what its `Ready`s say, in
/// the order `Ready` documents. Returns whether anything happened.
fn pump(id: PeerId, server: &mut Server, network: &Network) -> bool {
    let mut moved = false;
    while let Ok((from, msg)) = server.inbox.try_recv() {
        moved = true;
        // A refused message has already been handled by the engine.
        let _ = server.zab.step(from, msg);
    }
    while server.zab.has_ready() {
        moved = true;
        let mut ready = server.zab.ready();
        // (1) persist, in order. Our Vec is durable at once.
        for op in &ready.persist {
            match op {
                Persist::Append(entry) => server.log.push(entry.clone()),
                Persist::Truncate { to } => server.log.retain(|e| e.zxid <= *to),
                Persist::SnapshotChunk { offset, data, .. } => {
                    server.receiving.truncate(*offset as usize);
                    server.receiving.extend_from_slice(data);
                }
                Persist::InstallSnapshot { .. } => {
                    server.log.clear();
                    server.kv = decode(&std::mem::take(&mut server.receiving));
                }
                Persist::AcceptedEpoch(e) => server.accepted_epoch = *e,
                Persist::CurrentEpoch(e) => server.current_epoch = *e,
            }
        }
        // (2) apply what is committed, in zxid order.
        for entry in &ready.committed {
            let text = String::from_utf8_lossy(&entry.payload);
            if let ["set", key, value] = text.split(' ').collect::<Vec<_>>()[..] {
                server.kv.insert(key.to_string(), value.to_string());
            }
        }
        // (3) a learner too far behind gets our state as a snapshot.
        let kv = &server.kv;
        ready.insert_snapshots(|_| snapshot_chunks(&encode(kv), 64 * 1024));
        // (4) send; (5) the disk is already durable, so the rest goes too.
        for (to, msg) in ready.messages.into_iter().chain(ready.send_after_persist) {
            if let Some(tx) = network.get(&to) {
                let _ = tx.send((id, msg));
            }
        }
        server.zab.advance(ready.number);
    }
    moved
}

fn encode(kv: &BTreeMap<String, String>) -> Bytes {
    let text: Vec<String> = kv.iter().map(|(k, v)| format!("{k} {v}")).collect();
    Bytes::from(text.join("\n"))
}

fn decode(data: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(data)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
