//! The snapshot tools on real files of both servers: a ZooKeeper snapshot and the Corral
//! snapshot `corral import` makes of it give the same summary, and compare as equal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use corral_zkdata::{Acl, Compression, DataTree as ZkTree, StatPersisted};

use crate::compare::{compare, CompareOptions};
use crate::import::{self, ImportOptions};
use crate::snaptree::{detect, Format};
use crate::summary::summary;

fn zk_snapshot(dir: &Path, extra: bool) -> PathBuf {
    let mut zk = ZkTree::new();
    let open = Acl::open_unsafe();
    let mut add = |path: &str, data: Option<&[u8]>| {
        let stat = StatPersisted::created(2, 1_700_000_000_000, 0);
        zk.insert_node(path, data.map(<[u8]>::to_vec), Some(&open), stat)
            .expect("insert");
    };
    add("/zookeeper", None);
    add("/zookeeper/quota", None);
    add("/zookeeper/config", Some(b""));
    add("/app", Some(b"0123456789"));
    add("/app/a", Some(b"abc"));
    add("/app/a/deep", Some(&[7u8; 100]));
    add("/app/b", None);
    if extra {
        add("/app/b/new", Some(&[1u8; 40]));
        add("/other", Some(b"x"));
    }
    zk.last_processed_zxid = 9;
    corral_zkdata::write_snapshot(
        &dir.join("version-2"),
        &zk,
        &BTreeMap::new(),
        Compression::Gzip,
    )
    .expect("write")
}

fn corral_snapshot(dir: &Path) -> PathBuf {
    let v2 = dir.join("version-2");
    let found = std::fs::read_dir(&v2)
        .expect("list")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("snapshot."))
        });
    found.expect("a Corral snapshot")
}

#[test]
fn both_servers_snapshots_summarise_and_compare_alike() {
    let dir = std::env::temp_dir().join(format!("corral-tools-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let zk_file = zk_snapshot(&dir.join("zk"), false);
    import::run(&ImportOptions {
        from: dir.join("zk"),
        from_log: None,
        to: dir.join("corral"),
        to_log: None,
        verify_digests: true,
    })
    .expect("import");
    let corral_file = corral_snapshot(&dir.join("corral"));
    assert_eq!(detect(&zk_file).expect("zk"), Format::ZooKeeper);
    assert_eq!(detect(&corral_file).expect("corral"), Format::Corral);
    let text = summary(&zk_file, "/app", 0).expect("summary");
    assert_eq!(
        text,
        " /app\n   children: 3\n   data: 113\n-- /app/a\n--   children: 1\n--   data: 103\n\n"
    );
    assert_eq!(summary(&corral_file, "/app", 0).expect("summary"), text);
    assert_eq!(
        summary(&zk_file, "/", 0).expect("summary"),
        summary(&corral_file, "/", 0).expect("summary")
    );
    assert!(summary(&zk_file, "/nope", 0).is_err());

    let options = |left: &Path, right: &Path| CompareOptions {
        left: left.into(),
        right: right.into(),
        bytes: 0,
        nodes: 0,
        debug: false,
    };
    let same = compare(&options(&zk_file, &corral_file)).expect("compare");
    assert!(!same.contains("found"), "{same}");
    assert!(same.contains("Node count: 8\n"), "{same}");
    let later = zk_snapshot(&dir.join("zk-later"), true);
    let diff = compare(&options(&corral_file, &later)).expect("compare");
    for line in [
        "Node  found in both trees. Delta: 41 bytes, 2 descendants",
        "Node /app found in both trees. Delta: 40 bytes, 1 descendants",
        "Node /other found only in right tree. Descendant size: 1. Descendant count: 0",
        "Node /app/b found in both trees. Delta: 40 bytes, 1 descendants",
        "Node /app/b/new found only in right tree. Descendant size: 40. Descendant count: 0",
    ] {
        assert!(
            diff.contains(&format!("{line}\n")),
            "{line} missing:\n{diff}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
