//! The `hash` four-letter word: ZooKeeper's digest history (the tree digest after every txn
//! whose zxid is a multiple of 128), and the same history after a restart replays the log.

mod support;

use corral_jute::codes::{ErrorCode, OpCode};
use corral_jute::io::Jute;
use corral_jute::records::DeleteRequest;
use support::{four_letter, fresh_dir, start_in, RawClient};

/// `hash`'s lines as (zxid, digest).
fn parse_hash(text: &str) -> Vec<(i64, i64)> {
    text.lines()
        .map(|line| {
            let (zxid, digest) = line.split_once(": ").expect("`zxid: digest`");
            (
                i64::from_str_radix(zxid, 16).expect("hex zxid"),
                digest.parse().expect("decimal digest"),
            )
        })
        .collect()
}

#[tokio::test]
async fn hash_lists_every_128th_zxid_and_a_restart_gives_the_same() {
    let dir = fresh_dir("digest");
    let server = start_in(&dir, "", None).await;
    assert_eq!(four_letter(server.addr, "hash").await, "", "no txn yet");
    // zxid 1 is the createSession; then creates and failed deletes (each takes a zxid) to
    // 0x12c.
    let mut c = RawClient::connect(server.addr).await;
    for xid in 2..=300 {
        if xid % 2 == 0 {
            let h = c.create(xid, &format!("/n{xid}"), b"data", 0).await;
            assert_eq!(h.map(|h| (h.err, h.zxid)), Some((0, i64::from(xid))));
        } else {
            let (h, _) = c
                .request(xid, OpCode::Delete, |o| {
                    DeleteRequest {
                        path: "/missing".into(),
                        version: -1,
                    }
                    .write(o)
                })
                .await;
            assert_eq!((h.err, h.zxid), (ErrorCode::NoNode.code(), i64::from(xid)));
        }
    }
    let before = four_letter(server.addr, "hash").await;
    let entries = parse_hash(&before);
    assert_eq!(
        entries.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![0x80, 0x100],
        "{before}"
    );
    assert!(before.starts_with("80: ") && before.contains("\n100: "));
    assert_ne!(entries[0].1, entries[1].1, "creates in between move it");
    drop(c);
    server.stop().await;

    // The log is replayed through the same apply: the same history.
    let server = start_in(&dir, "", None).await;
    assert_eq!(four_letter(server.addr, "hash").await, before);
    server.stop().await;

    // Not whitelisted: refused as ZooKeeper refuses it.
    let server = start_in(&dir, "4lw.commands.whitelist=srvr\n", None).await;
    assert_eq!(
        four_letter(server.addr, "hash").await,
        "hash is not executed because it is not in the whitelist.\n"
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
