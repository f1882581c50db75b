//! Every error outcome of prep and the order ZooKeeper's PrepRequestProcessor checks them in.

use super::*;
use corral_acl::perms;
use corral_jute::codes::CreateMode;

fn err(h: &mut Harness, req: &Request) -> ErrorCode {
    match h.write(req) {
        Ok(a) => panic!("{req:?} succeeded: {a:?}"),
        Err(e) => e,
    }
}

/// A tree with /r readable by everyone and writable by nobody but alice, and /e ephemeral.
fn setup() -> Harness {
    let mut h = Harness::new();
    h.auth = vec![digest("alice")];
    let mut acl = corral_acl::read_acl_unsafe();
    acl.push(corral_acl::Acl {
        perms: perms::ALL,
        id: digest("alice"),
    });
    h.write(&create_acl("/r", acl, 0)).unwrap();
    h.write(&create("/r/child", "", 0)).unwrap();
    h.write(&create("/e", "", CreateMode::Ephemeral.code()))
        .unwrap();
    h.auth = vec![digest("bob")];
    h
}

#[test]
fn create_flag_and_ttl_errors_come_first() {
    let mut h = setup();
    assert_eq!(
        err(&mut h, &create("no-slash", "", 7)),
        ErrorCode::BadArguments
    );
    assert_eq!(err(&mut h, &create("/x", "", -1)), ErrorCode::BadArguments);
    // TTL modes without extended types: Unimplemented, before anything else.
    let ttl = CreateMode::PersistentWithTtl.code();
    assert_eq!(
        err(
            &mut h,
            &create_op(OpCode::CreateTtl, "no-slash", "", ttl, Some(100))
        ),
        ErrorCode::Unimplemented
    );
    // A TTL given to a non-TTL mode.
    assert_eq!(
        err(
            &mut h,
            &create_op(OpCode::CreateTtl, "/x", "", 0, Some(100))
        ),
        ErrorCode::BadArguments
    );
}

#[test]
fn create_ttl_values() {
    let mut h = Harness::with_config(DataTreeConfig {
        extended_types_enabled: true,
        ..DataTreeConfig::default()
    });
    let ttl = CreateMode::PersistentWithTtl.code();
    for bad in [
        None,
        Some(0),
        Some(-1),
        Some(crate::ephemeral::MAX_TTL_MS + 1),
    ] {
        assert_eq!(
            err(&mut h, &create_op(OpCode::CreateTtl, "/t", "", ttl, bad)),
            ErrorCode::BadArguments,
            "{bad:?}"
        );
    }
    // A TTL mode on a plain create has no TTL (-1).
    assert_eq!(err(&mut h, &create("/t", "", ttl)), ErrorCode::BadArguments);
    assert!(h
        .write(&create_op(OpCode::CreateTtl, "/t", "", ttl, Some(1)))
        .is_ok());
}

#[test]
fn create_path_acl_parent_order() {
    let mut h = setup();
    // No '/' or a NUL: BadArguments before the ACL is looked at.
    assert_eq!(
        err(&mut h, &create_acl("x", vec![], 0)),
        ErrorCode::BadArguments
    );
    assert_eq!(
        err(&mut h, &create_acl("/a\0", vec![], 0)),
        ErrorCode::BadArguments
    );
    // ACL before parent.
    assert_eq!(
        err(&mut h, &create_acl("/nope/x", vec![], 0)),
        ErrorCode::InvalidAcl
    );
    h.auth = vec![];
    assert_eq!(
        err(&mut h, &create_acl("/x", corral_acl::creator_all_acl(), 0)),
        ErrorCode::InvalidAcl
    );
    // Parent before path validation.
    assert_eq!(err(&mut h, &create("/nope/a/", "", 0)), ErrorCode::NoNode);
    assert_eq!(err(&mut h, &create("/nope/x", "", 0)), ErrorCode::NoNode);
    // CREATE permission before path validation and existence.
    assert_eq!(err(&mut h, &create("/r/.", "", 0)), ErrorCode::NoAuth);
    assert_eq!(err(&mut h, &create("/r/child", "", 0)), ErrorCode::NoAuth);
    assert_eq!(err(&mut h, &create("/r/new", "", 0)), ErrorCode::NoAuth);
    // Then the full path.
    h.create("/a", "");
    for bad in ["/a/", "/.", "/..", "//a", "/a\u{1}"] {
        assert_eq!(
            err(&mut h, &create(bad, "", 0)),
            ErrorCode::BadArguments,
            "{bad:?}"
        );
    }
    // A sequential name is validated with its suffix: "/a/" + digits is fine.
    let seq = CreateMode::PersistentSequential.code();
    assert!(h.write(&create("/a/", "", seq)).is_ok());
}

#[test]
fn node_exists_is_checked_before_ephemeral_parent() {
    let mut h = setup();
    assert_eq!(err(&mut h, &create("/e", "", 0)), ErrorCode::NodeExists);
    assert_eq!(
        err(&mut h, &create("/e/x", "", 0)),
        ErrorCode::NoChildrenForEphemerals
    );
    assert_eq!(
        err(&mut h, &create("/zookeeper", "", 0)),
        ErrorCode::NodeExists
    );
    assert_eq!(err(&mut h, &create("/", "", 0)), ErrorCode::NodeExists);
}

#[test]
fn delete_errors_in_order() {
    let mut h = setup();
    for special in [
        "/",
        "/zookeeper",
        "/zookeeper/quota",
        "/zookeeper/config",
        "x",
        "/a\0",
    ] {
        assert_eq!(
            err(&mut h, &delete(special, -1)),
            ErrorCode::BadArguments,
            "{special:?}"
        );
    }
    assert_eq!(err(&mut h, &delete("/nope/x", -1)), ErrorCode::NoNode);
    // DELETE on the parent is checked before the node's existence.
    assert_eq!(err(&mut h, &delete("/r/missing", -1)), ErrorCode::NoAuth);
    assert_eq!(err(&mut h, &delete("/missing", -1)), ErrorCode::NoNode);
    // Version before children.
    assert_eq!(err(&mut h, &delete("/r", 5)), ErrorCode::BadVersion);
    assert_eq!(err(&mut h, &delete("/r", 0)), ErrorCode::NotEmpty);
    assert_eq!(err(&mut h, &delete("/r", -1)), ErrorCode::NotEmpty);
    // Not validated like create: a trailing slash is just a missing node.
    assert_eq!(err(&mut h, &delete("/r/", -1)), ErrorCode::NoAuth);
    assert_eq!(err(&mut h, &delete("/e/", -1)), ErrorCode::NoNode);
}

#[test]
fn set_data_errors_in_order() {
    let mut h = setup();
    assert_eq!(err(&mut h, &set("bad", "", -1)), ErrorCode::BadArguments);
    assert_eq!(err(&mut h, &set("/a/", "", -1)), ErrorCode::BadArguments);
    assert_eq!(err(&mut h, &set("/missing", "", -1)), ErrorCode::NoNode);
    assert_eq!(err(&mut h, &set("/r", "", 7)), ErrorCode::NoAuth);
    assert_eq!(err(&mut h, &set("/e", "", 7)), ErrorCode::BadVersion);
    assert_eq!(
        err(&mut h, &set("/zookeeper/config", "", -1)),
        ErrorCode::NoAuth
    );
    assert!(h.write(&set("/zookeeper", "x", -1)).is_ok());
}

#[test]
fn set_acl_errors_in_order() {
    let mut h = setup();
    assert_eq!(
        err(&mut h, &set_acl("bad", vec![], -1)),
        ErrorCode::BadArguments
    );
    // The new ACL is checked before the node.
    assert_eq!(
        err(&mut h, &set_acl("/missing", vec![], -1)),
        ErrorCode::InvalidAcl
    );
    assert_eq!(
        err(&mut h, &set_acl("/missing", open(), -1)),
        ErrorCode::NoNode
    );
    assert_eq!(err(&mut h, &set_acl("/r", open(), 9)), ErrorCode::NoAuth);
    assert_eq!(
        err(&mut h, &set_acl("/e", open(), 9)),
        ErrorCode::BadVersion
    );
    assert!(h.write(&set_acl("/e", open(), 0)).is_ok());
    assert_eq!(
        err(&mut h, &set_acl("/e", open(), 0)),
        ErrorCode::BadVersion
    );
}

#[test]
fn check_errors_in_order() {
    let mut h = setup();
    assert_eq!(err(&mut h, &check("bad", -1)), ErrorCode::BadArguments);
    assert_eq!(err(&mut h, &check("/missing", -1)), ErrorCode::NoNode);
    h.auth = vec![digest("alice")];
    h.write(&create_acl(
        "/secret",
        acl_for(perms::WRITE, digest("alice")),
        0,
    ))
    .unwrap();
    h.auth = vec![digest("bob")];
    assert_eq!(err(&mut h, &check("/secret", 3)), ErrorCode::NoAuth);
    assert_eq!(err(&mut h, &check("/e", 3)), ErrorCode::BadVersion);
    let ok = h.write(&check("/e", 0)).unwrap();
    assert_eq!(ok.result, crate::TxnResult::Check);
    assert!(ok.events.is_empty());
}

#[test]
fn owner_and_super_pass_acl_checks() {
    let mut h = setup();
    h.auth = vec![digest("alice")];
    assert!(h.write(&set("/r", "x", -1)).is_ok());
    assert!(h.write(&create("/r/alice", "", 0)).is_ok());
    h.auth = vec![Id {
        scheme: "super".into(),
        id: String::new(),
    }];
    assert!(h.write(&set("/zookeeper/config", "cfg", -1)).is_ok());
    assert!(h.write(&delete("/r/alice", -1)).is_ok());
}

#[test]
fn zookeeper_subtree_accepts_ordinary_nodes() {
    let mut h = Harness::new();
    h.create("/zookeeper/x", "");
    h.create("/zookeeper/quota/app", "");
    assert!(h.write(&delete("/zookeeper/x", -1)).is_ok());
    assert_eq!(
        h.write(&create("/zookeeper/config/x", "", 0)).err(),
        Some(ErrorCode::NoAuth)
    );
}

#[test]
fn non_writes_are_refused() {
    let mut h = Harness::new();
    let read = Request::GetData(corral_jute::records::GetDataRequest {
        path: "/".into(),
        watch: false,
    });
    assert_eq!(h.prep(&read).1, Err(ErrorCode::Unimplemented));
    assert!(h.pending.is_empty());
}
