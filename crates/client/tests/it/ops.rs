//! Every op, with the error codes of the usual failure cases.

use bytes::Bytes;
use corral_client::{
    creator_all_acl, open_acl_unsafe, read_acl_unsafe, CreateMode, CreateOptions, Error, ErrorCode,
    Op, OpResult, ReadOp, ReadResult, SessionState,
};

use crate::support::{eventually, within, Kind, Target, TestResult};

fn is_seq(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|s| s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit()))
}

fn code(r: Result<impl std::fmt::Debug, Error>) -> Option<ErrorCode> {
    r.err().and_then(|e| e.code())
}

pub async fn create_modes_and_errors(t: Target) -> TestResult {
    let c = t.client().await?;
    assert_eq!(c.create("/cm", "", CreateMode::Persistent).await?, "/cm");
    assert_eq!(
        code(c.create("/cm", "", CreateMode::Persistent).await),
        Some(ErrorCode::NodeExists)
    );
    assert_eq!(
        code(c.create("/cm/a/b", "", CreateMode::Persistent).await),
        Some(ErrorCode::NoNode)
    );
    let (e, stat) = c
        .create2("/cm/e", "x", &CreateOptions::new(CreateMode::Ephemeral))
        .await?;
    assert_eq!(e, "/cm/e");
    assert_eq!(stat.ephemeral_owner, c.session_id());
    assert_eq!((stat.version, stat.data_length), (0, 1));
    assert_eq!(stat.czxid, stat.mzxid);
    assert_eq!(
        code(c.create("/cm/e/x", "", CreateMode::Persistent).await),
        Some(ErrorCode::NoChildrenForEphemerals)
    );
    let s1 = c
        .create("/cm/s-", "", CreateMode::PersistentSequential)
        .await?;
    let s2 = c
        .create("/cm/s-", "", CreateMode::EphemeralSequential)
        .await?;
    assert!(is_seq(&s1, "/cm/s-") && is_seq(&s2, "/cm/s-"), "{s1} {s2}");
    assert!(s1 < s2);
    assert_eq!(
        c.exists(&s2).await?.map(|s| s.ephemeral_owner),
        Some(c.session_id())
    );
    assert_eq!(c.exists(&s1).await?.map(|s| s.ephemeral_owner), Some(0));
    // A sequential create may end with '/': the name is the counter alone.
    let s3 = c
        .create("/cm/", "", CreateMode::PersistentSequential)
        .await?;
    assert!(is_seq(&s3, "/cm/"), "{s3}");
    assert!(matches!(
        c.create("cm", "", CreateMode::Persistent).await,
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        c.create("/cm/t", "", CreateMode::PersistentWithTtl).await,
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(code(c.delete("/cm", None).await), Some(ErrorCode::NotEmpty));
    assert_eq!(
        code(
            c.create_with(
                "/cm/noacl",
                "",
                &CreateOptions::new(CreateMode::Persistent).acl(vec![])
            )
            .await
        ),
        Some(ErrorCode::InvalidAcl)
    );
    c.close().await?;
    Ok(())
}

pub async fn read_write_delete(t: Target) -> TestResult {
    let c = t.client().await?;
    c.create("/rw", "v0", CreateMode::Persistent).await?;
    let (data, stat) = c.get_data("/rw").await?;
    assert_eq!((&data[..], stat.version), (&b"v0"[..], 0));
    assert_eq!(c.set_data("/rw", "v1", Some(0)).await?.version, 1);
    assert_eq!(
        code(c.set_data("/rw", "v", Some(0)).await),
        Some(ErrorCode::BadVersion)
    );
    let stat = c.set_data("/rw", "v2", None).await?;
    assert_eq!(stat.version, 2);
    assert!(stat.mzxid > stat.czxid);
    assert_eq!(c.exists("/rw").await?.map(|s| s.version), Some(2));
    assert_eq!(
        code(c.delete("/rw", Some(1)).await),
        Some(ErrorCode::BadVersion)
    );
    c.delete("/rw", Some(2)).await?;
    assert_eq!(c.exists("/rw").await?, None);
    assert_eq!(code(c.get_data("/rw").await), Some(ErrorCode::NoNode));
    assert_eq!(
        code(c.set_data("/rw", "", None).await),
        Some(ErrorCode::NoNode)
    );
    assert_eq!(code(c.delete("/rw", None).await), Some(ErrorCode::NoNode));

    c.create("/rw2", Bytes::new(), CreateMode::Persistent)
        .await?;
    assert!(c.get_data("/rw2").await?.0.is_empty());
    // Null data stays apart from empty data (zkCli prints `null` for it).
    assert_eq!(c.get_data_nullable("/rw2").await?.0, Some(Bytes::new()));
    let opts = CreateOptions::new(CreateMode::Persistent);
    c.create_nullable("/rw3", None, &opts).await?;
    assert_eq!(c.get_data_nullable("/rw3").await?.0, None);
    let (data, _, _w) = c.get_data_nullable_w("/rw3").await?;
    assert_eq!(data, None);
    assert!(c.get_data("/rw3").await?.0.is_empty());
    c.delete("/rw3", None).await?;
    for n in ["b", "a", "c"] {
        c.create(&format!("/rw2/{n}"), "", CreateMode::Persistent)
            .await?;
    }
    let mut kids = c.get_children("/rw2").await?;
    kids.sort();
    assert_eq!(kids, ["a", "b", "c"]);
    let (kids, stat) = c.get_children2("/rw2").await?;
    assert_eq!((kids.len(), stat.num_children, stat.cversion), (3, 3, 3));
    assert_eq!(code(c.get_children("/nope").await), Some(ErrorCode::NoNode));
    assert_eq!(
        code(c.get_children2("/nope").await),
        Some(ErrorCode::NoNode)
    );
    // Data up to about 1 MB round-trips.
    let big = Bytes::from(vec![7u8; 1000 * 1000]);
    c.set_data("/rw2", big.clone(), None).await?;
    assert_eq!(c.get_data("/rw2").await?.0, big);
    c.close().await?;
    Ok(())
}

pub async fn acl_and_auth(t: Target) -> TestResult {
    let c = t.client().await?;
    c.create("/acl", "", CreateMode::Persistent).await?;
    let (acl, stat) = c.get_acl("/acl").await?;
    assert_eq!((acl, stat.aversion), (open_acl_unsafe(), 0));
    assert_eq!(
        code(c.set_acl("/acl", open_acl_unsafe(), Some(3)).await),
        Some(ErrorCode::BadVersion)
    );
    assert_eq!(
        c.set_acl("/acl", read_acl_unsafe(), Some(0))
            .await?
            .aversion,
        1
    );
    // Without ADMIN permission the ACL check comes first.
    assert_eq!(
        code(c.set_acl("/acl", open_acl_unsafe(), Some(0)).await),
        Some(ErrorCode::NoAuth)
    );
    assert_eq!(
        code(c.set_data("/acl", "x", None).await),
        Some(ErrorCode::NoAuth)
    );
    assert_eq!(
        code(c.create("/acl/x", "", CreateMode::Persistent).await),
        Some(ErrorCode::NoAuth)
    );
    assert_eq!(code(c.get_acl("/nope").await), Some(ErrorCode::NoNode));
    // creator_all without any authenticated identity is refused.
    assert_eq!(
        code(
            c.create_with(
                "/acl2",
                "",
                &CreateOptions::new(CreateMode::Persistent).acl(creator_all_acl())
            )
            .await
        ),
        Some(ErrorCode::InvalidAcl)
    );
    c.add_auth("digest", "alice:secret").await?;
    let who = c.who_am_i().await?;
    assert!(
        who.iter()
            .any(|i| i.auth_scheme == "digest" && i.user == "alice"),
        "{who:?}"
    );
    c.create_with(
        "/acl2",
        "private",
        &CreateOptions::new(CreateMode::Persistent).acl(creator_all_acl()),
    )
    .await?;
    assert_eq!(&c.get_data("/acl2").await?.0[..], b"private");
    let other = t.client().await?;
    assert_eq!(code(other.get_data("/acl2").await), Some(ErrorCode::NoAuth));
    other.add_auth("digest", "alice:wrong").await?;
    assert_eq!(code(other.get_data("/acl2").await), Some(ErrorCode::NoAuth));
    other.add_auth("digest", "alice:secret").await?;
    assert_eq!(&other.get_data("/acl2").await?.0[..], b"private");
    other.close().await?;

    // An unknown scheme: AuthFailed, the server closes the connection, and the session is
    // unusable from this client (terminal, as in ZooKeeper's client).
    let bad = t.client().await?;
    let mut states = bad.state_stream();
    assert_eq!(bad.add_auth("bogus", "x").await, Err(Error::AuthFailed));
    assert_eq!(states.next().await, Some(SessionState::AuthFailed));
    assert_eq!(bad.get_data("/acl").await.err(), Some(Error::AuthFailed));
    c.close().await?;
    Ok(())
}

pub async fn multi_and_multi_read(t: Target) -> TestResult {
    let c = t.client().await?;
    let res = c
        .multi(vec![
            Op::create("/m", "", CreateMode::Persistent),
            Op::create("/m/a", "", CreateMode::Persistent),
            Op::set_data("/m", "x", Some(0)),
            Op::check("/m", Some(1)),
        ])
        .await?;
    assert_eq!(res.len(), 4);
    assert!(matches!(&res[0], OpResult::Create(p, _) if p == "/m"));
    assert!(matches!(&res[1], OpResult::Create(p, _) if p == "/m/a"));
    assert!(matches!(&res[2], OpResult::SetData(s) if s.version == 1));
    assert_eq!(res[3], OpResult::Check);
    let failed = c
        .multi(vec![
            Op::create("/m/b", "", CreateMode::Persistent),
            Op::delete("/nope", None),
            Op::set_data("/m", "y", None),
        ])
        .await;
    assert_eq!(
        failed,
        Err(Error::MultiFailed {
            index: 1,
            code: ErrorCode::NoNode
        })
    );
    assert_eq!(c.exists("/m/b").await?, None);
    assert_eq!(
        c.multi(vec![Op::check("/m", Some(5))]).await,
        Err(Error::MultiFailed {
            index: 0,
            code: ErrorCode::BadVersion
        })
    );
    assert_eq!(c.multi(vec![]).await?, vec![]);
    let reads = c
        .multi_read(vec![
            ReadOp::GetData("/m".into()),
            ReadOp::GetChildren("/m".into()),
            ReadOp::GetData("/nope".into()),
        ])
        .await?;
    assert!(matches!(&reads[0], ReadResult::Data(d, s) if &d[..] == b"x" && s.version == 1));
    assert_eq!(reads[1], ReadResult::Children(vec!["a".into()]));
    assert!(
        matches!(&reads[2], ReadResult::Error(e) if e.is(ErrorCode::NoNode)),
        "{:?}",
        reads[2]
    );
    c.close().await?;
    Ok(())
}

pub async fn session_queries(t: Target) -> TestResult {
    let c = t.client().await?;
    c.create("/sq", "", CreateMode::Persistent).await?;
    c.create("/sq/a", "", CreateMode::Persistent).await?;
    c.create("/sq/a/b", "", CreateMode::Ephemeral).await?;
    c.create("/sq/c", "", CreateMode::Ephemeral).await?;
    assert_eq!(c.get_all_children_number("/sq").await?, 3);
    assert_eq!(c.get_all_children_number("/sq/a/b").await?, 0);
    assert_eq!(
        code(c.get_all_children_number("/nope").await),
        Some(ErrorCode::NoNode)
    );
    let mut eph = c.get_ephemerals("/sq").await?;
    eph.sort();
    assert_eq!(eph, ["/sq/a/b", "/sq/c"]);
    assert_eq!(c.get_ephemerals("/sq/a").await?, ["/sq/a/b"]);
    assert!(c.get_ephemerals("/zzz").await?.is_empty());
    let who = c.who_am_i().await?;
    assert_eq!(who.len(), 1, "{who:?}");
    assert_eq!(
        (who[0].auth_scheme.as_str(), who[0].user.as_str()),
        ("ip", "127.0.0.1")
    );
    c.sync("/sq").await?;
    c.sync("/").await?;
    // Both servers run standalone: reconfig is refused, and the session goes on.
    assert_eq!(
        code(
            c.reconfig(Some("server.2=127.0.0.1:1:2;3"), None, None, -1)
                .await
        ),
        Some(ErrorCode::ReconfigDisabled)
    );
    assert_eq!(
        code(c.reconfig(None, Some("1"), None, -1).await),
        Some(ErrorCode::ReconfigDisabled)
    );
    assert!(c.exists("/sq").await?.is_some());
    assert!(c.session_timeout().as_millis() >= 1000);
    c.close().await?;
    Ok(())
}

pub async fn chroot(t: Target) -> TestResult {
    let root = t.client().await?;
    root.create("/app", "", CreateMode::Persistent).await?;
    let c = t.client_at(&format!("{}/app", t.connect_string())).await?;
    assert_eq!(c.create("/x", "1", CreateMode::Persistent).await?, "/x");
    assert_eq!(&root.get_data("/app/x").await?.0[..], b"1");
    let seq = c
        .create("/x/s-", "", CreateMode::EphemeralSequential)
        .await?;
    assert!(is_seq(&seq, "/x/s-"), "{seq}");
    assert_eq!(c.get_children("/").await?, ["x"]);
    assert_eq!(c.get_ephemerals("/").await?, vec![seq.clone()]);
    let (_, w) = c.exists_w("/y").await?;
    root.create("/app/y", "", CreateMode::Persistent).await?;
    let ev = within("chroot watch", 10, w).await??;
    assert_eq!(ev.path, "/y");
    let res = c
        .multi(vec![Op::create("/z", "", CreateMode::Persistent)])
        .await?;
    assert!(matches!(&res[0], OpResult::Create(p, _) if p == "/z"));
    // The chroot's root: "/" is the chroot node itself.
    assert_eq!(c.exists("/").await?.map(|s| s.num_children), Some(3));
    c.close().await?;
    root.close().await?;
    Ok(())
}

pub async fn pipelining(t: Target) -> TestResult {
    let c = t.client().await?;
    c.create("/pipe", "", CreateMode::Persistent).await?;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..2000 {
        let c = c.clone();
        set.spawn(async move {
            let p = c
                .create("/pipe/n-", format!("{i}"), CreateMode::PersistentSequential)
                .await?;
            let (data, _) = c.get_data(&p).await?;
            Ok::<_, Error>((i, data))
        });
    }
    let mut n = 0;
    while let Some(r) = set.join_next().await {
        let (i, data) = r??;
        assert_eq!(data, Bytes::from(format!("{i}")));
        n += 1;
    }
    assert_eq!(n, 2000);
    assert_eq!(c.get_children2("/pipe").await?.1.num_children, 2000);
    c.close().await?;
    Ok(())
}

pub async fn container_and_ttl(t: Target) -> TestResult {
    let c = t.client().await?;
    let (path, stat) = c
        .create2("/ct", "", &CreateOptions::new(CreateMode::Container))
        .await?;
    assert_eq!((path.as_str(), stat.ephemeral_owner), ("/ct", 0));
    c.create("/ct/a", "", CreateMode::Persistent).await?;
    c.delete("/ct/a", None).await?;
    let ttl = c
        .create_with(
            "/ttl",
            "",
            &CreateOptions::new(CreateMode::PersistentWithTtl).ttl_ms(200),
        )
        .await?;
    assert_eq!(ttl, "/ttl");
    let seq = c
        .create_with(
            "/ttl-",
            "",
            &CreateOptions::new(CreateMode::PersistentSequentialWithTtl).ttl_ms(200),
        )
        .await?;
    assert!(is_seq(&seq, "/ttl-"), "{seq}");
    assert!(matches!(
        c.create_with(
            "/ttl0",
            "",
            &CreateOptions::new(CreateMode::PersistentWithTtl).ttl_ms(0)
        )
        .await,
        Err(Error::InvalidArgument(_))
    ));
    if t.kind == Kind::ZooKeeper {
        // Corral does not reap containers and TTL nodes yet; ZooKeeper's ContainerManager does
        // (every 300 ms here).
        let cc = c.clone();
        eventually("empty container reaped", 200, || {
            let cc = cc.clone();
            async move { matches!(cc.exists("/ct").await, Ok(None)) }
        })
        .await?;
        let cc = c.clone();
        eventually("expired TTL node reaped", 200, || {
            let cc = cc.clone();
            async move { matches!(cc.exists("/ttl").await, Ok(None)) }
        })
        .await?;
    }
    c.close().await?;
    Ok(())
}
