//! `corral-bench apply [--txns N]`: what applying a txn to the tree costs, without a
//! server: times `DataTree::apply` for N creates, N setData and N deletes (100-byte data, one
//! parent), the txns built before the clock starts. Best of 5 runs, ns per txn. Then loads
//! the tree of N nodes from a snapshot (ms), and times the digest recompute a load includes.
//! Build in release to mean anything. Nothing here asserts a time.

use std::time::Instant;

use bytes::Bytes;
use corral_datatree::{DataTree, Txn, TxnBody, Zxid};
use corral_jute::codes::OpCode;

fn txn(zxid: i64, body: TxnBody) -> Txn {
    Txn {
        zxid: Zxid::from_wire(zxid),
        time_ms: 1_700_000_000_000 + zxid,
        session_id: 1,
        cxid: 1,
        body,
    }
}

fn create(path: String, data: Bytes) -> TxnBody {
    TxnBody::Create {
        op: OpCode::Create,
        path,
        data: Some(data),
        acl: corral_acl::open_acl_unsafe(),
        ephemeral_owner: 0,
        parent_cversion: -1,
    }
}

/// Runs the measurement with `n` txns per phase and prints one line.
pub fn run(n: usize) {
    let data = Bytes::from(vec![b'x'; 100]);
    let other = Bytes::from(vec![b'y'; 100]);
    let mut zxid = 1;
    let mut next = |body| {
        zxid += 1;
        txn(zxid, body)
    };
    let creates: Vec<Txn> = (0..n)
        .map(|i| next(create(format!("/bench/n{i:08}"), data.clone())))
        .collect();
    let sets: Vec<Txn> = (0..n)
        .map(|i| {
            next(TxnBody::SetData {
                path: format!("/bench/n{i:08}"),
                data: Some(other.clone()),
                version: 1,
            })
        })
        .collect();
    let deletes: Vec<Txn> = (0..n)
        .map(|i| {
            next(TxnBody::Delete {
                path: format!("/bench/n{i:08}"),
            })
        })
        .collect();
    let mut best = [f64::MAX; 3];
    for _ in 0..5 {
        let mut tree = DataTree::new();
        tree.apply(&txn(1, create("/bench".into(), Bytes::new())));
        for (phase, txns) in [&creates, &sets, &deletes].into_iter().enumerate() {
            let start = Instant::now();
            for t in txns {
                std::hint::black_box(tree.apply(t));
            }
            let ns = start.elapsed().as_nanos() as f64 / n as f64;
            best[phase] = best[phase].min(ns);
        }
        std::hint::black_box(&tree);
    }
    println!(
        "n={n} ns/txn (best of 5): create {:.0}  setData {:.0}  delete {:.0}",
        best[0], best[1], best[2]
    );
    // Loading the tree of n nodes from a snapshot, and the part of it that recomputes the
    // digest (a walk over every node's path and data).
    let mut tree = DataTree::new();
    tree.apply(&txn(1, create("/bench".into(), Bytes::new())));
    for t in &creates {
        tree.apply(t);
    }
    let mut bytes = Vec::new();
    if let Err(e) = tree.write_snapshot(&mut bytes) {
        println!("snapshot not written: {e}");
        return;
    }
    let (mut load, mut digest) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        let start = Instant::now();
        let loaded = DataTree::read_snapshot(&mut &bytes[..], tree.config());
        load = load.min(start.elapsed().as_secs_f64() * 1e3);
        let Ok(loaded) = loaded else {
            println!("snapshot not read back");
            return;
        };
        let start = Instant::now();
        std::hint::black_box(loaded.recompute_digest());
        digest = digest.min(start.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "n={n} snapshot load (best of 5): {load:.1} ms, of which the digest recompute about \
         {digest:.1} ms"
    );
}
