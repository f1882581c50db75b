//! `corral log dump` and `corral snapshot dump` on a data directory written by the storage
//! crate, run as the real binary.

use std::collections::BTreeMap;
use std::process::Command;

use bytes::{Bytes, BytesMut};
use corral_datatree::{DataTree, Txn, TxnBody};
use corral_jute::codes::OpCode;
use corral_storage::{Storage, StorageConfig};

fn encode(txn: &Txn) -> Vec<u8> {
    let mut out = BytesMut::new();
    txn.encode(&mut out);
    out.to_vec()
}

fn corral(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(args)
        .output()
        .expect("run corral");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn dumps_a_log_segment_and_a_snapshot() {
    let dir = std::env::temp_dir().join(format!("corral-inspect-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut storage = Storage::open(&StorageConfig::new(&dir)).expect("open storage");
    let session = 0x1234;
    let txns = [
        TxnBody::CreateSession { timeout_ms: 30000 },
        TxnBody::Create {
            path: "/app".into(),
            data: Some(Bytes::from_static(b"hello")),
            acl: corral_acl::open_acl_unsafe(),
            ephemeral_owner: 0,
            parent_cversion: 1,
            op: OpCode::Create,
        },
        TxnBody::SetData {
            path: "/app".into(),
            data: Some(Bytes::from_static(b"world")),
            version: 1,
        },
    ];
    for (i, body) in txns.into_iter().enumerate() {
        let zxid = corral_zxid::Zxid(i as u64 + 1);
        let txn = Txn {
            zxid,
            time_ms: 1_700_000_000_000,
            session_id: session,
            cxid: zxid.0 as i32,
            body,
        };
        storage.log.append(zxid, &encode(&txn)).expect("append");
    }
    storage.log.sync().expect("sync");
    let tree = DataTree::new();
    let sessions = BTreeMap::from([(session, 30000)]);
    let payload = corral_server::durability::snapshot_payload(&tree, &sessions);
    let snapshot = storage
        .snapshots
        .write(corral_zxid::Zxid::ZERO, &payload)
        .expect("snapshot");
    let log = dir.join("version-2").join("log.1");

    let (ok, text, err) = corral(&["log", "dump", log.to_str().expect("utf-8 path")]);
    assert!(ok, "{err}");
    assert!(
        text.contains("zxid 0x1") && text.contains("createSession timeout 30000"),
        "{text}"
    );
    assert!(text.contains("Create '/app' data \"hello\""), "{text}");
    assert!(
        text.contains("setData '/app' data \"world\" version 1"),
        "{text}"
    );
    assert!(text.contains("EOF reached after 3 txns"), "{text}");

    let (ok, json, err) = corral(&["log", "dump", "--json", log.to_str().expect("utf-8 path")]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = json.lines().collect();
    assert_eq!(lines.len(), 4, "three txns and the end marker: {json}");
    assert!(
        lines.iter().all(|l| l.starts_with('{') && l.ends_with('}')),
        "{json}"
    );
    assert!(
        lines[1].contains("\"zxid\":2") && lines[1].contains("\\\"hello\\\""),
        "{json}"
    );

    let snap = snapshot.to_str().expect("utf-8 path");
    let (ok, text, err) = corral(&["snapshot", "dump", snap]);
    assert!(ok, "{err}");
    assert!(
        text.contains("at zxid 0x0") && text.contains("/zookeeper/quota"),
        "{text}"
    );
    assert!(text.contains("Session 0x1234 timeout 30000"), "{text}");

    // A file of the wrong kind is a clear error, not a panic.
    let (ok, _, err) = corral(&["snapshot", "dump", log.to_str().expect("utf-8 path")]);
    assert!(!ok && err.contains("CRSN"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
