//! The crate's tests: round trips, ZooKeeper's replay rules over fuzzy snapshots, and
//! damaged files (each error names the file and the offset).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::records::op;
use crate::snapshot::encode_snapshot;
use crate::tree::ttl_ephemeral_owner;
use crate::*;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zkdata-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("version-2")).expect("temp dir");
    dir
}

fn entry(zxid: i64, session: i64, txn: Txn) -> TxnEntry {
    TxnEntry {
        header: TxnHeader {
            client_id: session,
            cxid: zxid as i32,
            zxid,
            time: 1_000 + zxid,
            op: txn.op(),
        },
        txn,
        digest: None,
    }
}

fn create(path: &str, parent_cversion: i32, ephemeral: bool) -> Txn {
    Txn::Create {
        op: op::CREATE,
        path: path.into(),
        data: Some(path.as_bytes().to_vec()),
        acl: Some(Acl::open_unsafe()),
        ephemeral,
        parent_cversion,
    }
}

fn digest_acl() -> Vec<Acl> {
    vec![Acl {
        perms: 1,
        scheme: "digest".into(),
        id: "u:abc=".into(),
    }]
}

/// A history touching every txn type; the session 7 lives on, 9 is closed.
fn history() -> Vec<TxnEntry> {
    let mut e = vec![
        entry(1, 7, Txn::CreateSession { timeout: 30_000 }),
        entry(2, 9, Txn::CreateSession { timeout: 4_000 }),
        entry(3, 7, create("/a", 1, false)),
        entry(4, 7, create("/a/x", 1, false)),
        entry(
            5,
            7,
            Txn::Delete {
                op: op::DELETE,
                path: "/a/x".into(),
            },
        ),
        entry(6, 7, create("/a/x", 2, false)),
        entry(7, 9, create("/a/e", 3, true)),
        entry(8, 7, create("/a/keep", 4, true)),
        entry(
            9,
            7,
            Txn::SetData {
                op: op::SET_DATA,
                path: "/a".into(),
                data: Some(b"v2".to_vec()),
                version: 1,
            },
        ),
        entry(
            10,
            7,
            Txn::SetAcl {
                path: "/a/x".into(),
                acl: Some(digest_acl()),
                version: 1,
            },
        ),
        entry(
            11,
            7,
            Txn::CreateContainer {
                path: "/c".into(),
                data: None,
                acl: Some(Acl::open_unsafe()),
                parent_cversion: 2,
            },
        ),
        entry(
            12,
            7,
            Txn::CreateTtl {
                path: "/t".into(),
                data: Some(b"ttl".to_vec()),
                acl: Some(Acl::open_unsafe()),
                parent_cversion: 3,
                ttl: 60_000,
            },
        ),
        entry(
            13,
            7,
            Txn::Multi(vec![
                Txn::Check {
                    path: "/a".into(),
                    version: 1,
                },
                create("/c/m1", 1, false),
                Txn::SetData {
                    op: op::SET_DATA,
                    path: "/t".into(),
                    data: None,
                    version: 1,
                },
            ]),
        ),
        entry(
            14,
            7,
            Txn::Multi(vec![Txn::Error { err: 0 }, Txn::Error { err: -101 }]),
        ),
        entry(15, 7, Txn::Error { err: -110 }),
        entry(
            16,
            9,
            Txn::CloseSession {
                paths_to_delete: Some(vec!["/a/e".into()]),
            },
        ),
        entry(
            17,
            7,
            Txn::Delete {
                op: op::DELETE_CONTAINER,
                path: "/c/m1".into(),
            },
        ),
    ];
    // Digests as a 3.6+ leader logs them: the tree's after the txn.
    let mut tree = base_tree();
    for x in &mut e {
        tree.process(x);
        x.digest = Some(TxnDigest {
            version: 2,
            tree_digest: tree.digest(),
        });
    }
    e
}

/// The tree every history starts from: the root and /zookeeper, as a snapshot at zxid 0.
fn base_tree() -> DataTree {
    let mut t = DataTree::new();
    for p in ["/zookeeper", "/zookeeper/quota"] {
        t.insert_node(p, None, Some(&Acl::open_unsafe()), StatPersisted::default())
            .expect("insert");
    }
    t
}

fn apply_all(entries: &[TxnEntry]) -> (DataTree, BTreeMap<i64, i32>) {
    let mut tree = base_tree();
    let mut sessions = BTreeMap::new();
    for e in entries {
        match e.txn {
            Txn::CreateSession { timeout } => {
                sessions.insert(e.header.client_id, timeout);
            }
            Txn::CloseSession { .. } => {
                sessions.remove(&e.header.client_id);
            }
            _ => {}
        }
        tree.process(e);
    }
    (tree, sessions)
}

fn assert_same(a: &DataTree, b: &DataTree) {
    assert_eq!(a.paths_preorder(), b.paths_preorder());
    for p in a.paths_preorder() {
        let (x, y) = (a.get(&p).expect("node"), b.get(&p).expect("node"));
        assert_eq!(
            (&x.data, x.stat, &x.children),
            (&y.data, y.stat, &y.children),
            "{p}"
        );
        assert_eq!(a.acls.get(x.acl), b.acls.get(y.acl), "ACL of {p}");
    }
    assert_eq!(a.digest(), b.digest());
}

#[test]
fn processing_follows_zookeeper() {
    let (tree, sessions) = apply_all(&history());
    assert_eq!(sessions, BTreeMap::from([(7, 30_000)]));
    let a = tree.get("/a").expect("/a");
    // Children created: x, x again, e, keep; e was deleted by closeSession (zxid 16).
    assert_eq!((a.stat.cversion, a.stat.pzxid, a.stat.version), (4, 16, 1));
    assert_eq!(a.children.iter().collect::<Vec<_>>(), ["keep", "x"]);
    let x = tree.get("/a/x").expect("/a/x");
    assert_eq!((x.stat.czxid, x.stat.aversion), (6, 1));
    assert_eq!(tree.acls.get(x.acl), Some(digest_acl()));
    assert_eq!(tree.get("/a/keep").map(|n| n.stat.ephemeral_owner), Some(7));
    assert_eq!(
        tree.get("/c").map(|n| n.stat.ephemeral_owner),
        Some(i64::MIN)
    );
    let t = tree.get("/t").expect("/t");
    assert_eq!(
        (t.stat.ephemeral_owner, t.stat.version, t.data.clone()),
        (ttl_ephemeral_owner(60_000), 1, None)
    );
    // The multi created /c/m1 (then deleted at 17), the failed multi nothing.
    let c = tree.get("/c").expect("/c");
    assert_eq!(
        (c.stat.cversion, c.stat.pzxid, c.children.len()),
        (1, 17, 0)
    );
    assert_eq!(
        tree.ephemerals(),
        BTreeMap::from([(7, ["/a/keep".to_string()].into())])
    );
}

#[test]
fn snapshot_round_trips_in_every_compression() {
    let (mut tree, sessions) = apply_all(&history());
    tree.last_processed_zxid = 17;
    for how in [Compression::None, Compression::Gzip, Compression::Snappy] {
        let dir = temp_dir(&format!("rt{how:?}"));
        let file = write_snapshot(&dir.join("version-2"), &tree, &sessions, how).expect("write");
        let snap = read_snapshot(&file).expect("read");
        assert_eq!(snap.zxid, 17);
        assert_eq!(snap.sessions, sessions);
        assert_same(&snap.tree, &tree);
        assert_eq!(
            snap.digest,
            Some(ZxidDigest {
                zxid: 17,
                digest_version: 2,
                digest: tree.digest()
            })
        );
        let loaded = load(&dir, &dir, LoadOptions::default()).expect("load");
        assert_eq!(loaded.digests_checked, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A snapshot taken while txns 5..=17 were applied (named 4, its digest at 17): nodes
/// serialised before a change show the old state, nodes after it the new one. Replaying
/// 5..=17 over it gives exactly the tree of a clean replay, and every digest matches.
#[test]
fn fuzzy_snapshot_replays_to_the_exact_tree() {
    let entries = history();
    let (clean, sessions) = apply_all(&entries);
    let (at4, sessions4) = apply_all(&entries[..4]);
    // Fuzzy, as ZooKeeper's pre-order walk makes it: the root and /a serialised at 4 (with
    // the children they had then), /a/x only later, after it was deleted and re-created
    // (czxid 6) and its ACL set; the nodes created after their parent was written are not
    // in it.
    let mut fuzzy = DataTree::new();
    let root = at4.get("").expect("root");
    fuzzy
        .insert_node("", root.data.clone(), Some(&Acl::open_unsafe()), root.stat)
        .expect("root");
    for p in ["/zookeeper", "/zookeeper/quota"] {
        fuzzy
            .insert_node(p, None, Some(&Acl::open_unsafe()), StatPersisted::default())
            .expect("insert");
    }
    let old_a = at4.get("/a").expect("/a");
    fuzzy
        .insert_node(
            "/a",
            old_a.data.clone(),
            Some(&Acl::open_unsafe()),
            old_a.stat,
        )
        .expect("/a");
    let x = clean.get("/a/x").expect("/a/x");
    let acl = clean.acls.get(x.acl).expect("acl");
    fuzzy
        .insert_node("/a/x", x.data.clone(), Some(&acl), x.stat)
        .expect("insert");
    fuzzy.last_processed_zxid = 17; // the digest's zxid
    let mut bytes = encode_snapshot(&fuzzy, &sessions4);
    // The digest a real server writes at the end is the consistent tree's.
    let n = bytes.len();
    bytes[n - 21..n - 13].copy_from_slice(&clean.digest().to_be_bytes());
    let seal = adler32(&bytes[..n - 13]);
    bytes[n - 13..n - 5].copy_from_slice(&i64::from(seal).to_be_bytes());
    let dir = temp_dir("fuzzy");
    std::fs::write(dir.join("version-2/snapshot.4"), &bytes).expect("write");
    std::fs::write(dir.join("version-2/log.1"), encode_log(0, &entries)).expect("write");
    let lax = LoadOptions {
        verify_digests: false,
    };
    assert_same(&load(&dir, &dir, lax).expect("load").tree, &clean);
    let loaded = load(&dir, &dir, LoadOptions::default()).expect("load");
    assert_eq!(loaded.replayed, 13);
    assert_same(&loaded.tree, &clean);
    assert_eq!(loaded.sessions, sessions);
    // The snapshot's digest at 17 and txn 17's own; the fuzzy range's are not compared.
    assert_eq!(loaded.digests_checked, 2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A create whose node the fuzzy snapshot already holds, under a parent serialised before
/// it: the parent's cversion and pzxid come from the txn (DataTree's NODEEXISTS fix-up).
#[test]
fn create_of_an_existing_node_fixes_the_parent() {
    let mut tree = base_tree();
    tree.insert_node(
        "/b",
        None,
        Some(&Acl::open_unsafe()),
        StatPersisted::created(1, 1, 0),
    )
    .expect("/b");
    tree.insert_node(
        "/b/c",
        None,
        Some(&digest_acl()),
        StatPersisted::created(2, 2, 0),
    )
    .expect("/b/c");
    let rc = tree.process(&entry(2, 7, create("/b/c", 1, false)));
    assert_eq!(rc.err, -110);
    let b = tree.get("/b").expect("/b");
    assert_eq!((b.stat.cversion, b.stat.pzxid), (1, 2));
    // The existing node takes the txn's ACL.
    let c = tree.get("/b/c").expect("/b/c");
    assert_eq!(tree.acls.get(c.acl), Some(Acl::open_unsafe()));
}

fn expect_corrupt(
    result: Result<impl std::fmt::Debug, ZkDataError>,
    file: &Path,
    offset: u64,
) -> String {
    match result {
        Err(e @ ZkDataError::Corrupt { .. }) => {
            let ZkDataError::Corrupt {
                path, offset: at, ..
            } = &e
            else {
                unreachable!()
            };
            assert_eq!((path.as_path(), *at), (file, offset), "{e}");
            let text = e.to_string();
            assert!(
                text.contains(&file.display().to_string())
                    && text.contains(&format!("offset {offset}")),
                "{text}"
            );
            text
        }
        other => panic!("expected a corrupt-file error, got {other:?}"),
    }
}

#[test]
fn damaged_snapshots_name_file_and_offset() {
    let (mut tree, sessions) = apply_all(&history());
    tree.last_processed_zxid = 17;
    let dir = temp_dir("badsnap");
    let v2 = dir.join("version-2");
    let file = write_snapshot(&v2, &tree, &sessions, Compression::None).expect("write");
    let good = std::fs::read(&file).expect("read");
    // The tail: the first seal (checksum long, "/"), the digest (20 bytes), the second seal.
    let first_seal = good.len() - 13 - 20 - 13;
    // A flipped byte inside a node's data: the first seal's Adler-32 fails.
    let mut bad = good.clone();
    let at = bad.windows(2).position(|w| w == b"v2").expect("data of /a");
    bad[at] ^= 0x20;
    std::fs::write(&file, &bad).expect("write");
    let text = expect_corrupt(read_snapshot(&file), &file, first_seal as u64);
    assert!(text.contains("Adler-32"), "{text}");
    // Cut in the middle of the nodes.
    std::fs::write(&file, &good[..at + 1]).expect("write");
    let text = expect_corrupt(read_snapshot(&file), &file, at as u64);
    assert!(text.contains("truncated"), "{text}");
    // Load refuses: the only snapshot is damaged, and no other can stand in.
    assert!(matches!(
        load(&dir, &dir, LoadOptions::default()),
        Err(ZkDataError::Corrupt { .. })
    ));
    // gzip: the error says the offset is in the decompressed stream.
    std::fs::remove_file(&file).expect("rm");
    let gz = write_snapshot(&v2, &tree, &sessions, Compression::Gzip).expect("write");
    let raw = std::fs::read(&gz).expect("read");
    std::fs::write(&gz, &raw[..raw.len() / 2]).expect("write");
    match read_snapshot(&gz) {
        Err(e @ ZkDataError::Corrupt { .. }) => {
            assert!(e.to_string().contains(&gz.display().to_string()), "{e}");
        }
        other => panic!("expected corrupt, got {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn damaged_logs_name_file_and_offset() {
    let entries = history();
    let dir = temp_dir("badlog");
    let v2 = dir.join("version-2");
    write_snapshot(&v2, &base_tree(), &BTreeMap::new(), Compression::None).expect("snapshot 0");
    let log = v2.join("log.1");
    let good = encode_log(0, &entries);
    // The third record's offset: header, then two records.
    let mut offsets = Vec::new();
    read_log_bytes(&log, &good, &mut offsets);
    let third = offsets[2];
    // A flipped byte in the third record's txn: its checksum fails there.
    let mut bad = good.clone();
    bad[third as usize + 20] ^= 1;
    std::fs::write(&log, &bad).expect("write");
    let text = expect_corrupt(read_log(&log, |_, _| Ok(())), &log, third);
    assert!(text.contains("CRC"), "{text}");
    let text = expect_corrupt(
        load(&dir, &dir, LoadOptions::default()).map(|_| ()),
        &log,
        third,
    );
    assert!(text.contains("Adler-32"), "{text}");
    // Cut inside the last record: a torn tail, replayed up to it, and said.
    std::fs::write(&log, &good[..good.len() - 3]).expect("write");
    let loaded = load(&dir, &dir, LoadOptions::default()).expect("load");
    assert_eq!(loaded.replayed, entries.len() as u64 - 1);
    let last = *offsets.last().expect("records");
    assert!(
        loaded
            .notes
            .iter()
            .any(|n| n.contains(&format!("offset {last}"))),
        "{:?}",
        loaded.notes
    );
    // A bad magic.
    let mut bad = good.clone();
    bad[0] = b'X';
    std::fs::write(&log, &bad).expect("write");
    expect_corrupt(read_log(&log, |_, _| Ok(())), &log, 0);
    // A record's digest that does not match the tree is refused, naming file and offset.
    let mut wrong = entries.clone();
    if let Some(d) = wrong[5].digest.as_mut() {
        d.tree_digest ^= 1;
    }
    std::fs::write(&log, encode_log(0, &wrong)).expect("write");
    match load(&dir, &dir, LoadOptions::default()) {
        Err(ZkDataError::Inconsistent(text)) => {
            assert!(
                text.contains(&format!("{}: offset {}", log.display(), offsets[5])),
                "{text}"
            )
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
    // A gap in the zxids.
    let mut gap = entries.clone();
    gap.remove(7);
    std::fs::write(&log, encode_log(0, &gap)).expect("write");
    assert!(
        matches!(load(&dir, &dir, LoadOptions::default()), Err(ZkDataError::Inconsistent(t)) if t.contains("missing"))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn read_log_bytes(file: &Path, bytes: &[u8], offsets: &mut Vec<u64>) {
    std::fs::write(file, bytes).expect("write");
    let end = read_log(file, |at, _| {
        offsets.push(at);
        Ok(())
    })
    .expect("read");
    assert_eq!(
        end,
        LogEnd::Clean {
            offset: bytes.len() as u64
        }
    );
}

#[test]
fn preallocated_zeros_end_a_log() {
    let entries = history();
    let dir = temp_dir("prealloc");
    let log = dir.join("log.1");
    let mut bytes = encode_log(0, &entries);
    let end = bytes.len() as u64;
    bytes.resize(bytes.len() + 4096, 0);
    std::fs::write(&log, &bytes).expect("write");
    let mut n = 0;
    let got = read_log(&log, |_, _| {
        n += 1;
        Ok(())
    })
    .expect("read");
    assert_eq!((n, got), (entries.len(), LogEnd::Clean { offset: end }));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `TxnLogToolkit --recover`: a record whose Adler-32 was damaged gets it recomputed in
/// `<log>.fixed`, every other byte as it was (the preallocated zeros left out); the original
/// is untouched and a second recovery is refused.
#[test]
fn recover_log_recomputes_bad_checksums_into_a_fixed_copy() {
    let entries = history();
    let dir = temp_dir("recover");
    let log = dir.join("log.1");
    let good = encode_log(0, &entries);
    let mut offsets = Vec::new();
    read_log_bytes(&log, &good, &mut offsets);
    let mut bad = good.clone();
    let at = offsets[3] as usize;
    bad[at + 7] ^= 0x40;
    bad.resize(bad.len() + 512, 0);
    std::fs::write(&log, &bad).expect("write");
    let done = crate::recover_log(&log).expect("recover");
    assert_eq!(done.path, dir.join("log.1.fixed"));
    assert_eq!(done.records, entries.len() as u64);
    assert_eq!(done.fixed.len(), 1);
    let fix = &done.fixed[0];
    assert_eq!(fix.offset, offsets[3]);
    assert_eq!(fix.entry.as_ref(), Some(&entries[3]));
    assert_ne!(fix.stored, fix.actual);
    assert_eq!(std::fs::read(&done.path).expect("read"), good);
    assert_eq!(std::fs::read(&log).expect("read"), bad);
    assert!(crate::recover_log(&log).is_err(), "the .fixed file exists");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `TxnLogToolkit --chop`: the header and the records up to the zxid, in a new file; a zxid
/// the log lacks or at its end is refused.
#[test]
fn chop_log_keeps_the_records_up_to_the_zxid() {
    let entries = history();
    let dir = temp_dir("chop");
    let log = dir.join("log.1");
    let good = encode_log(0, &entries);
    let mut offsets = Vec::new();
    read_log_bytes(&log, &good, &mut offsets);
    let zxid = entries[4].header.zxid;
    let done = crate::chop_log(&log, zxid).expect("chop");
    assert_eq!(done.path, dir.join(format!("log.1.chopped{zxid}")));
    assert_eq!((done.kept, done.removed), (5, entries.len() as u64 - 5));
    assert_eq!(
        std::fs::read(&done.path).expect("read"),
        encode_log(0, &entries[..5])
    );
    assert!(
        crate::chop_log(&log, zxid).is_err(),
        "the chopped file exists"
    );
    let last = entries[entries.len() - 1].header.zxid;
    assert!(crate::chop_log(&log, last).is_err(), "nothing to chop");
    assert!(crate::chop_log(&log, last + 10).is_err(), "not in the log");
    let _ = std::fs::remove_dir_all(&dir);
}
