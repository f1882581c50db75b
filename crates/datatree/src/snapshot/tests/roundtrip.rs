//! Whole-tree round trips: every query answers the same on the loaded tree, now and after
//! further writes.

use corral_jute::codes::ErrorCode;
use corral_jute::request::Request;
use proptest::prelude::*;

use super::*;
use crate::TxnResult;

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn a_restored_tree_answers_every_query_identically(
        ops in prop::collection::vec(op(), 1..60),
        more in prop::collection::vec(op(), 0..30),
    ) {
        let mut h = Harness::with_config(config());
        play(&mut h, &ops);
        let back = round_trip(&h.tree);
        assert_same(&h.tree, &back);
        // And goes on the same way under further changes.
        let mut h2 = Harness::with_config(config());
        h2.tree = back;
        h2.zxid = h.zxid;
        h2.time = h.time;
        play(&mut h, &more);
        play(&mut h2, &more);
        assert_same(&h.tree, &h2.tree);
    }
}

#[test]
fn system_nodes_quotas_and_acls_survive() {
    let mut h = Harness::with_config(config());
    h.create("/app", "x");
    h.create("/app/1", "hello");
    h.write(&create("/zookeeper/quota/app", "", 0)).unwrap();
    h.write(&create(
        "/zookeeper/quota/app/zookeeper_limits",
        "count=10,bytes=100",
        0,
    ))
    .unwrap();
    h.write(&create(
        "/zookeeper/quota/app/zookeeper_stats",
        "count=0,bytes=0",
        0,
    ))
    .unwrap();
    h.create("/app/2", "more");
    h.write(&set_acl("/", corral_acl::read_acl_unsafe(), -1))
        .unwrap();
    h.write(&set("/zookeeper", "zk data", -1)).unwrap();
    let back = round_trip(&h.tree);
    assert_same_but_size(&h.tree, &back);
    // A second round trip is exact.
    assert_same(&back, &round_trip(&back));
    assert_eq!(back.quota_paths(), vec!["/app".to_string()]);
    let stats = back
        .get_data("/zookeeper/quota/app/zookeeper_stats")
        .unwrap()
        .0;
    assert_eq!(
        stats.as_deref(),
        h.tree
            .get_data("/zookeeper/quota/app/zookeeper_stats")
            .unwrap()
            .0
            .as_deref()
    );
}

#[test]
fn a_loaded_tree_matches_node_by_node_and_goes_on_the_same() {
    let mut h = varied();
    let back = round_trip(&h.tree);
    // Node by node.
    let paths = all_paths(&h.tree);
    assert!(paths.len() > 60, "{}", paths.len());
    for p in &paths {
        assert_eq!(h.tree.get_data(p), back.get_data(p), "{p}");
        assert_eq!(h.tree.stat(p), back.stat(p), "{p}");
        assert_eq!(h.tree.get_children(p), back.get_children(p), "{p}");
        assert_eq!(h.tree.get_acl(p), back.get_acl(p), "{p}");
    }
    assert_eq!(h.tree.node_count(), back.node_count());
    assert_eq!(back.approximate_data_size(), size_from_reads(&back));
    // As in ZooKeeper, the running tree still counts the stats node's data as created
    // ("count=0,bytes=0"), the loaded one its current data; otherwise the sizes agree.
    let stats = "/zookeeper/quota/app/zookeeper_stats";
    let stats_now = back.get_data(stats).unwrap().0.map_or(0, |d| d.len()) as u64;
    assert_eq!(h.tree.get_data(stats), back.get_data(stats));
    assert_eq!(
        h.tree.approximate_data_size() + stats_now - 15,
        back.approximate_data_size()
    );
    for s in [0x100, 0x200, 0x300] {
        assert_eq!(h.tree.ephemerals(s), back.ephemerals(s), "session {s:#x}");
    }
    assert_eq!(back.ephemerals(0x200).len(), 2);
    assert_eq!(back.containers(), vec!["/c1", "/c2", "/c3"]);
    assert_eq!(back.containers_to_reap(), vec!["/c1"]);
    assert_eq!(back.ttl_nodes(), vec!["/t"]);
    assert_eq!(back.expired_ttls(i64::MAX / 2), vec!["/t"]);
    assert_eq!(back.quota_paths(), vec!["/app"]);
    assert_same_but_size(&h.tree, &back);

    // Further writes answer the same on both.
    let (app, _) = back.node_record("/app").unwrap();
    let mut h2 = Harness::with_config(config());
    h2.tree = back;
    h2.zxid = h.zxid;
    h2.time = h.time;
    h2.auth = h.auth.clone();
    let more = [
        create("/app/s-", "", SEQ),
        create("/app/e1/child", "", 0),
        create("/app/e1", "", 0),
        set("/app", "zzz", 2),
        set("/app", "zzz", 2),
        set_acl("/c2", acl(1), 0),
        delete("/c3/k", -1),
        create("/app/over", "0123456789", 0),
        delete("/secret", -1),
        create("/ro/child", "", 0),
        Request::CloseSession,
        create("/app/s-", "", SEQ),
    ];
    let mut results = Vec::new();
    for (i, req) in more.iter().enumerate() {
        if i == 10 {
            h.session = 0x200;
            h2.session = 0x200;
        }
        let a = h.write(req);
        let b = h2.write(req);
        assert_eq!(a, b, "request {i}: {req:?}");
        results.push(b.map(|a| a.result));
    }
    // Sequence suffixes go on from the stored cversion (children ever created).
    let seq = |n: i32| {
        Ok(TxnResult::Create {
            path: format!("/app/s-{n:010}"),
            stat: h2.tree.stat(&format!("/app/s-{n:010}")).unwrap(),
        })
    };
    assert_eq!(results[0], seq(app.cversion));
    assert_eq!(results[11], seq(app.cversion + 2));
    assert_eq!(results[1], Err(ErrorCode::NoChildrenForEphemerals));
    assert_eq!(results[2], Err(ErrorCode::NodeExists));
    assert_eq!(results[4], Err(ErrorCode::BadVersion));
    assert_eq!(results[9], Err(ErrorCode::NoAuth));
    assert!(h2.tree.ephemerals(0x200).is_empty());
    assert_eq!(h2.tree.containers_to_reap(), vec!["/c1", "/c3"]);
    assert_same_but_size(&h.tree, &h2.tree);
}

#[test]
fn an_empty_tree_round_trips() {
    let t = DataTree::new();
    assert_same(&t, &round_trip(&t));
}
