//! Proposals committed per second through the engine alone: three engines in
//! one thread, in-memory queues, storage that is durable at once. This
//! measures the engine's own cost per proposal (message handling, commit
//! tracking, `Ready` bookkeeping), not a network or a disk.
//!
//! ```text
//! cargo run -p corral-zab --release --example bench_engine [proposals] [window]
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use corral_zab::{Config, MemoryLog, Message, PeerId, Persisted, Role, VoterSet, Zab};

fn main() {
    let mut args = std::env::args().skip(1);
    let total: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let window: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let ids: [PeerId; 3] = [1, 2, 3];
    let mut nodes: BTreeMap<PeerId, Zab> = ids
        .iter()
        .map(|&id| {
            let cfg = Config {
                id,
                voters: VoterSet::new(ids),
                diff_window: 1_000,
                ..Config::default()
            };
            (
                id,
                Zab::new(cfg, Persisted::default(), MemoryLog::default()).expect("valid config"),
            )
        })
        .collect();
    let mut wire: VecDeque<(PeerId, PeerId, Message)> = VecDeque::new();
    let mut applied: BTreeMap<PeerId, u64> = ids.iter().map(|&id| (id, 0)).collect();

    // Elect a leader.
    let leader = loop {
        for z in nodes.values_mut() {
            z.tick().expect("a fresh ensemble has epochs to spare");
        }
        run(&mut nodes, &mut wire, &mut applied);
        if let Some((&id, _)) = nodes
            .iter()
            .find(|(_, z)| z.status().role == Role::Leading && z.status().established)
        {
            break id;
        }
    };

    let payload = Bytes::from(vec![b'x'; 64]);
    let start = Instant::now();
    let mut proposed = 0u64;
    while applied.values().copied().min().unwrap_or(0) < total {
        // Keep `window` proposals in flight (pipelining).
        let done = applied[&leader];
        while proposed < total && proposed - done < window {
            nodes
                .get_mut(&leader)
                .expect("leader")
                .propose(payload.clone())
                .expect("established leader accepts");
            proposed += 1;
        }
        run(&mut nodes, &mut wire, &mut applied);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{total} proposals of {} bytes, window {window}, 3 engines: {:.2} s, {:.0} proposals committed/s (applied on all three)",
        payload.len(),
        secs,
        total as f64 / secs
    );
}

/// Handles every `Ready` and delivers every message until quiet.
fn run(
    nodes: &mut BTreeMap<PeerId, Zab>,
    wire: &mut VecDeque<(PeerId, PeerId, Message)>,
    applied: &mut BTreeMap<PeerId, u64>,
) {
    loop {
        for (&id, z) in nodes.iter_mut() {
            while z.has_ready() {
                let r = z.ready();
                *applied.get_mut(&id).expect("known id") += r.committed.len() as u64;
                for (to, m) in r.messages.into_iter().chain(r.send_after_persist) {
                    wire.push_back((id, to, m));
                }
                z.advance(r.number);
            }
        }
        if wire.is_empty() {
            return;
        }
        while let Some((from, to, m)) = wire.pop_front() {
            if let Some(z) = nodes.get_mut(&to) {
                let _ = z.step(from, m);
            }
        }
    }
}
