//! Quotas (DataTree's quota bookkeeping, ZooKeeperServer.checkQuota), driven the way zkCli's
//! setquota / delquota drive them.

use super::*;
use crate::quota::{limit_path, stat_path, StatsTrack};
use crate::TxnResult;

/// zkCli's `setquota` for a new quota: the `/zookeeper/quota/...` parents with null data,
/// the limits node, then the stats node with `count=0,bytes=0`.
fn setquota(h: &mut Harness, path: &str, limits: &str) {
    let mut q = crate::quota::QUOTA_ROOT.to_string();
    for c in path.split('/').skip(1) {
        q.push('/');
        q.push_str(c);
        if h.tree.stat(&q).is_none() {
            h.write(&create_acl(&q, open(), 0)).unwrap();
        }
    }
    h.create(&limit_path(path), limits);
    h.create(&stat_path(path), "count=0,bytes=0");
}

/// The limits zkCli writes for `setquota -n` / `-b` / `-N` / `-B`.
fn limits(n: i64, b: i64, hard_n: i64, hard_b: i64) -> String {
    let mut st = StatsTrack::new();
    st.set(StatsTrack::COUNT, n);
    st.set(StatsTrack::BYTES, b);
    st.set(StatsTrack::COUNT_HARD_LIMIT, hard_n);
    st.set(StatsTrack::BYTE_HARD_LIMIT, hard_b);
    st.to_string()
}

fn stats(h: &Harness, path: &str) -> String {
    match h.tree.get_data(&stat_path(path)) {
        Ok((Some(d), _)) => String::from_utf8_lossy(&d).into_owned(),
        other => panic!("stats of {path}: {other:?}"),
    }
}

fn enforcing() -> Harness {
    Harness::with_config(DataTreeConfig {
        enforce_quota: true,
        ..DataTreeConfig::default()
    })
}

#[test]
fn limits_format_matches_zkcli() {
    assert_eq!(
        limits(2, -1, -1, -1),
        "count=2,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"
    );
}

#[test]
fn stats_node_counts_the_subtree_when_created() {
    let mut h = Harness::new();
    h.create("/q", "abc");
    h.create("/q/a", "12345");
    h.create("/q/a/b", "");
    h.create("/other", "zzzz");
    setquota(&mut h, "/q", &limits(2, -1, -1, -1));
    assert_eq!(stats(&h, "/q"), "count=3,bytes=8");
    assert_eq!(h.tree.quota_paths(), vec!["/q".to_string()]);
    assert_eq!(h.tree.max_quota_prefix("/q/a/b"), Some("/q".into()));
    assert_eq!(h.tree.max_quota_prefix("/qq"), None);
    // The limits node is data only.
    let (data, _) = h.tree.get_data(&limit_path("/q")).unwrap();
    assert_eq!(
        data.as_deref(),
        Some(&b"count=2,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"[..])
    );
}

#[test]
fn creates_deletes_and_sets_update_the_stats_in_place() {
    let mut h = Harness::new();
    h.create("/q", "");
    setquota(&mut h, "/q", &limits(2, -1, -1, -1));
    let before = h.stat(&stat_path("/q"));
    let size = h.tree.approximate_data_size();
    assert_eq!(stats(&h, "/q"), "count=1,bytes=0");

    let a = h.create("/q/a", "ab");
    assert_eq!(a.events.len(), 2, "no extra watch triggers");
    assert_eq!(stats(&h, "/q"), "count=2,bytes=2");
    h.create("/q/a/b", "xyz");
    // Over the soft count limit: nothing happens but the count.
    assert_eq!(stats(&h, "/q"), "count=3,bytes=5");
    h.write(&set("/q/a", "abcdef", -1)).unwrap();
    assert_eq!(stats(&h, "/q"), "count=3,bytes=9");
    h.write(&set("/q/a", "", -1)).unwrap();
    assert_eq!(stats(&h, "/q"), "count=3,bytes=3");
    h.write(&delete("/q/a/b", -1)).unwrap();
    assert_eq!(stats(&h, "/q"), "count=2,bytes=0");
    h.write(&set("/q", "1234", -1)).unwrap();
    assert_eq!(stats(&h, "/q"), "count=2,bytes=4");

    // The stats node's Stat does not move, except its data length.
    let after = h.stat(&stat_path("/q"));
    assert_eq!(
        (after.version, after.mzxid, after.mtime),
        (before.version, before.mzxid, before.mtime)
    );
    assert_eq!(after.data_length, "count=2,bytes=4".len() as i32);
    // The approximate data size only follows the client's own writes.
    assert_eq!(
        h.tree.approximate_data_size(),
        size + 4 + "/q/a".len() as u64
    );
    // Outside the quota nothing changes.
    h.create("/qq", "abc");
    assert_eq!(stats(&h, "/q"), "count=2,bytes=4");
}

#[test]
fn limits_before_stats_and_missing_stats() {
    let mut h = Harness::new();
    h.create("/q", "");
    h.write(&create_acl("/zookeeper/quota/q", open(), 0))
        .unwrap();
    h.create(&limit_path("/q"), &limits(-1, 10, -1, -1));
    // Indexed, but no stats node yet: the update is skipped.
    h.create("/q/early", "12");
    h.create(&stat_path("/q"), "count=0,bytes=0");
    assert_eq!(stats(&h, "/q"), "count=2,bytes=2");
    // Deleting the stats node leaves the quota indexed; updates are skipped.
    h.write(&delete(&stat_path("/q"), -1)).unwrap();
    h.create("/q/late", "1");
    assert_eq!(h.tree.quota_paths(), vec!["/q".to_string()]);
    h.create(&stat_path("/q"), "");
    assert_eq!(stats(&h, "/q"), "count=3,bytes=3");
}

#[test]
fn longest_prefix_only() {
    let mut h = Harness::new();
    for p in ["/a", "/a/b", "/a/b/c"] {
        h.create(p, "");
    }
    setquota(&mut h, "/a", &limits(10, -1, -1, -1));
    setquota(&mut h, "/a/b/c", &limits(10, -1, -1, -1));
    assert_eq!(stats(&h, "/a"), "count=3,bytes=0");
    assert_eq!(stats(&h, "/a/b/c"), "count=1,bytes=0");
    h.create("/a/b/c/d", "1234");
    assert_eq!(stats(&h, "/a/b/c"), "count=2,bytes=4");
    assert_eq!(
        stats(&h, "/a"),
        "count=3,bytes=0",
        "an outer quota is not updated"
    );
    h.create("/a/b/x", "12");
    assert_eq!(stats(&h, "/a"), "count=4,bytes=2");
    assert_eq!(
        h.tree.quota_paths(),
        vec!["/a".to_string(), "/a/b/c".to_string()]
    );
}

#[test]
fn deleting_the_limits_node_unindexes() {
    let mut h = Harness::new();
    h.create("/q", "");
    setquota(&mut h, "/q", &limits(2, -1, -1, -1));
    // zkCli's delquota: the children of /zookeeper/quota/q, then the empty parents.
    h.write(&delete(&limit_path("/q"), -1)).unwrap();
    assert!(h.tree.quota_paths().is_empty());
    h.create("/q/a", "ab");
    assert_eq!(stats(&h, "/q"), "count=1,bytes=0");
    h.write(&delete(&stat_path("/q"), -1)).unwrap();
    h.write(&delete("/zookeeper/quota/q", -1)).unwrap();
    assert_eq!(h.tree.max_quota_prefix("/q/a"), None);
}

#[test]
fn quota_nodes_are_matched_by_string_prefix() {
    let mut h = Harness::new();
    h.create("/s", "");
    // "/zookeeper/quotas" starts with "/zookeeper/quota": its limits index "s", i.e. /s.
    h.write(&create_acl("/zookeeper/quotas", open(), 0))
        .unwrap();
    h.create("/zookeeper/quotas/zookeeper_limits", "");
    assert_eq!(h.tree.quota_paths(), vec!["/s".to_string()]);
    // Its stats node counts the subtree at "s", which does not exist.
    h.create("/zookeeper/quotas/zookeeper_stats", "x");
    let (data, _) = h
        .tree
        .get_data("/zookeeper/quotas/zookeeper_stats")
        .unwrap();
    assert_eq!(data.as_deref(), Some(&b"count=0,bytes=0"[..]));
    h.write(&delete("/zookeeper/quotas/zookeeper_limits", -1))
        .unwrap();
    assert!(h.tree.quota_paths().is_empty());
}

#[test]
fn unparseable_stats_are_left_alone() {
    let mut h = Harness::new();
    h.create("/q", "");
    setquota(&mut h, "/q", &limits(2, -1, -1, -1));
    h.write(&set(&stat_path("/q"), "garbage", -1)).unwrap();
    h.create("/q/a", "1");
    assert_eq!(stats(&h, "/q"), "garbage");
    // Unknown keys survive an update.
    h.write(&set(&stat_path("/q"), "count=1,bytes=0,zz=5", -1))
        .unwrap();
    h.create("/q/b", "12");
    assert_eq!(stats(&h, "/q"), "count=2,bytes=2=;zz=5");
}

#[test]
fn hard_count_limit_is_enforced_only_when_enabled() {
    for enforce in [false, true] {
        let mut h = if enforce { enforcing() } else { Harness::new() };
        h.create("/h", "");
        setquota(&mut h, "/h", &limits(-1, -1, 2, -1));
        h.create("/h/a", "");
        let r = h.write(&create("/h/b", "", 0));
        if enforce {
            assert_eq!(r.err(), Some(ErrorCode::QuotaExceeded));
            assert_eq!(h.tree.stat("/h/b"), None);
            assert_eq!(stats(&h, "/h"), "count=2,bytes=0");
            // Not a create: setData and delete still work.
            h.write(&set("/h/a", "", -1)).unwrap();
            h.write(&delete("/h/a", -1)).unwrap();
            h.create("/h/b", "");
        } else {
            assert!(r.is_ok());
            assert_eq!(stats(&h, "/h"), "count=3,bytes=0");
        }
    }
}

#[test]
fn soft_limits_never_fail() {
    let mut h = enforcing();
    h.create("/s", "");
    setquota(&mut h, "/s", &limits(1, 2, -1, -1));
    h.create("/s/a", "123");
    h.write(&set("/s/a", "123456", -1)).unwrap();
    assert_eq!(stats(&h, "/s"), "count=2,bytes=6");
}

#[test]
fn hard_byte_limit() {
    let mut h = enforcing();
    h.create("/b", "");
    setquota(&mut h, "/b", &limits(-1, 1, -1, 5));
    h.create("/b/a", "123");
    assert_eq!(
        h.write(&create("/b/c", "123", 0)).err(),
        Some(ErrorCode::QuotaExceeded)
    );
    // Empty data changes no bytes, and there is no count limit: no check.
    h.create("/b/c", "");
    h.write(&set("/b/a", "12345", -1)).unwrap();
    assert_eq!(
        h.write(&set("/b/a", "123456", -1)).err(),
        Some(ErrorCode::QuotaExceeded)
    );
    // The quota check comes before the version check.
    assert_eq!(
        h.write(&set("/b/c", "x", 42)).err(),
        Some(ErrorCode::QuotaExceeded)
    );
    assert_eq!(
        h.write(&set("/b/c", "", 42)).err(),
        Some(ErrorCode::BadVersion)
    );
    // Lower the limit under the usage: even shrinking fails while over it.
    h.write(&set(&limit_path("/b"), &limits(-1, -1, -1, 2), -1))
        .unwrap();
    assert_eq!(
        h.write(&set("/b/a", "1234", -1)).err(),
        Some(ErrorCode::QuotaExceeded)
    );
    h.write(&set("/b/a", "12345", -1)).unwrap();
}

#[test]
fn the_check_reads_the_applied_tree() {
    let mut h = enforcing();
    h.create("/h", "");
    setquota(&mut h, "/h", &limits(-1, -1, 2, 4));
    // Two creates in one multi: each is checked against the applied count (1).
    let multi = Request::Multi(vec![create("/h/a", "", 0), create("/h/b", "", 0)]);
    let a = h.write(&multi).unwrap();
    assert!(matches!(a.result, TxnResult::Multi(ref r) if r.len() == 2));
    assert_eq!(stats(&h, "/h"), "count=3,bytes=0");
    // Pipelined setData: the second compares with the first's data (in flight) but with the
    // applied usage.
    let (z1, b1) = h.prep(&set("/h/a", "1234", -1));
    let (z2, b2) = h.prep(&set("/h/a", "12345", -1));
    assert!(b1.is_ok());
    assert!(
        b2.is_ok(),
        "applied bytes 0 + (5 - 4 in flight) is under the limit"
    );
    h.apply(z1, b1);
    h.apply(z2, b2);
    assert_eq!(stats(&h, "/h"), "count=3,bytes=5");
    // Now applied: 5 + (6 - 5) is over it.
    assert_eq!(
        h.write(&set("/h/a", "123456", -1)).err(),
        Some(ErrorCode::QuotaExceeded)
    );
}

#[test]
fn unparseable_limits_fail_with_marshalling_error() {
    let mut h = enforcing();
    h.create("/m", "");
    setquota(&mut h, "/m", &limits(-1, -1, 5, -1));
    h.write(&set(&limit_path("/m"), "count=", -1)).unwrap();
    assert_eq!(
        h.write(&create("/m/a", "", 0)).err(),
        Some(ErrorCode::MarshallingError)
    );
    // In a multi it fails the whole request, and leaves nothing in flight.
    let multi = Request::Multi(vec![create("/x", "", 0), create("/m/a", "", 0)]);
    assert_eq!(h.write(&multi).err(), Some(ErrorCode::MarshallingError));
    assert!(h.pending.is_empty());
    assert_eq!(h.tree.stat("/x"), None);
    // An earlier failing op ends the multi before the quota check.
    let multi = Request::Multi(vec![create("/x/y", "", 0), create("/m/a", "", 0)]);
    assert!(h.write(&multi).is_ok());
    // Unparseable stats with a valid limit: the same.
    h.write(&set(&limit_path("/m"), &limits(-1, -1, 5, -1), -1))
        .unwrap();
    h.write(&set(&stat_path("/m"), "bogus", -1)).unwrap();
    assert_eq!(
        h.write(&create("/m/a", "", 0)).err(),
        Some(ErrorCode::MarshallingError)
    );
    // Without enforcement nothing is parsed in prep.
    let mut off = Harness::new();
    off.create("/m", "");
    setquota(&mut off, "/m", "garbage");
    off.create("/m/a", "");
}

#[test]
fn rebuild_restores_the_index_and_recomputes_stats() {
    let mut h = Harness::new();
    for p in ["/a", "/a/b", "/c"] {
        h.create(p, "xy");
    }
    setquota(&mut h, "/a", &limits(5, -1, -1, -1));
    setquota(&mut h, "/c", &limits(5, -1, -1, -1));
    h.write(&set(&stat_path("/a"), "count=99,bytes=99", -1))
        .unwrap();
    let mut restored = h.tree.clone();
    restored.quotas = crate::quota::QuotaIndex::default();
    assert!(restored.quota_paths().is_empty());
    restored.rebuild_quota_index();
    assert_eq!(
        restored.quota_paths(),
        vec!["/a".to_string(), "/c".to_string()]
    );
    let data = |t: &DataTree, p: &str| t.get_data(&stat_path(p)).unwrap().0;
    assert_eq!(
        data(&restored, "/a").as_deref(),
        Some(&b"count=2,bytes=4"[..])
    );
    assert_eq!(
        data(&restored, "/c").as_deref(),
        Some(&b"count=1,bytes=2"[..])
    );
    // A limits node with children is not a leaf: not a quota after a restore.
    h.create(&format!("{}/x", limit_path("/c")), "");
    let mut restored = h.tree.clone();
    restored.rebuild_quota_index();
    assert_eq!(restored.quota_paths(), vec!["/a".to_string()]);
}
