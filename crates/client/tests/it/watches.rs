//! Watches: one-shot data / exist / child watches, their order against replies, persistent
//! and recursive watches, removeWatches and checkWatches.

use corral_client::{AddWatchMode, CreateMode, ErrorCode, EventType, WatcherType};

use crate::support::{within, Target, TestResult};

pub async fn one_shot_watches(t: Target) -> TestResult {
    let c = t.client().await?;
    let other = t.client().await?;
    c.create("/w", "", CreateMode::Persistent).await?;

    let (stat, w) = c.exists_w("/w/a").await?;
    assert!(stat.is_none());
    other.create("/w/a", "", CreateMode::Persistent).await?;
    let ev = within("exist watch", 10, w).await??;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeCreated, "/w/a")
    );

    let (_, _, w) = c.get_data_w("/w/a").await?;
    let (_, w2) = c.exists_w("/w/a").await?;
    other.set_data("/w/a", "1", None).await?;
    let ev = within("data watch", 10, w).await??;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDataChanged, "/w/a")
    );
    let ev = within("exists watch on an existing node", 10, w2).await??;
    assert_eq!(ev.event_type, EventType::NodeDataChanged);

    let (kids, w) = c.get_children_w("/w").await?;
    assert_eq!(kids, ["a"]);
    other.create("/w/b", "", CreateMode::Persistent).await?;
    let ev = within("child watch", 10, w).await??;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeChildrenChanged, "/w")
    );

    let (_, _, dw) = c.get_data_w("/w/b").await?;
    let (_, _, cw) = c.get_children2_w("/w/b").await?;
    let (_, pw) = c.get_children_w("/w").await?;
    other.delete("/w/b", None).await?;
    assert_eq!(
        within("data watch on delete", 10, dw).await??.event_type,
        EventType::NodeDeleted
    );
    assert_eq!(
        within("child watch on delete", 10, cw).await??.event_type,
        EventType::NodeDeleted
    );
    let ev = within("parent child watch on delete", 10, pw).await??;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeChildrenChanged, "/w")
    );

    // A failed getData leaves no watch; a failed exists leaves an exist watch (tested above).
    assert!(c.get_data_w("/w/none").await.is_err());
    c.close().await?;
    other.close().await?;
    Ok(())
}

/// "A client will see a watch event for a znode it is watching before seeing the new data":
/// once a later read's reply is in, the event must already have been delivered.
pub async fn event_before_later_reply(t: Target) -> TestResult {
    let c = t.client().await?;
    let other = t.client().await?;
    c.create("/order", "0", CreateMode::Persistent).await?;
    for i in 1..=30 {
        let (_, _, mut w) = c.get_data_w("/order").await?;
        other.set_data("/order", format!("{i}"), None).await?;
        let (data, _) = c.get_data("/order").await?;
        assert_eq!(data, format!("{i}").as_bytes());
        let ev = w
            .try_event()
            .ok_or("event not delivered before the later reply")??;
        assert_eq!(ev.event_type, EventType::NodeDataChanged);
    }
    c.close().await?;
    other.close().await?;
    Ok(())
}

pub async fn persistent_watches(t: Target) -> TestResult {
    let c = t.client().await?;
    let other = t.client().await?;
    let mut pw = c.add_watch("/pw", AddWatchMode::Persistent).await?;
    let mut rw = c
        .add_watch("/pr", AddWatchMode::PersistentRecursive)
        .await?;
    other.create("/pw", "", CreateMode::Persistent).await?;
    other.set_data("/pw", "1", None).await?;
    other.create("/pw/kid", "", CreateMode::Persistent).await?;
    other.delete("/pw/kid", None).await?;
    other.delete("/pw", None).await?;
    let mut got = Vec::new();
    for _ in 0..5 {
        let ev = within("persistent event", 10, pw.next())
            .await?
            .ok_or("stream ended")?;
        got.push((ev.event_type, ev.path));
    }
    assert_eq!(
        got,
        vec![
            (EventType::NodeCreated, "/pw".to_string()),
            (EventType::NodeDataChanged, "/pw".to_string()),
            (EventType::NodeChildrenChanged, "/pw".to_string()),
            (EventType::NodeChildrenChanged, "/pw".to_string()),
            (EventType::NodeDeleted, "/pw".to_string()),
        ]
    );

    other.create("/pr", "", CreateMode::Persistent).await?;
    other.create("/pr/a", "", CreateMode::Persistent).await?;
    other.create("/pr/a/b", "", CreateMode::Persistent).await?;
    other.set_data("/pr/a/b", "x", None).await?;
    other.delete("/pr/a/b", None).await?;
    let mut got = Vec::new();
    for _ in 0..5 {
        let ev = within("recursive event", 10, rw.next())
            .await?
            .ok_or("stream ended")?;
        got.push((ev.event_type, ev.path));
    }
    assert_eq!(
        got,
        vec![
            (EventType::NodeCreated, "/pr".to_string()),
            (EventType::NodeCreated, "/pr/a".to_string()),
            (EventType::NodeCreated, "/pr/a/b".to_string()),
            (EventType::NodeDataChanged, "/pr/a/b".to_string()),
            (EventType::NodeDeleted, "/pr/a/b".to_string()),
        ]
    );
    // The watch is still there after firing.
    other.set_data("/pr", "y", None).await?;
    let ev = within("recursive event again", 10, rw.next())
        .await?
        .ok_or("stream ended")?;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDataChanged, "/pr")
    );
    // ZooKeeper 3.8 knows only Children, Data and Any in removeWatches (Persistent and
    // PersistentRecursive came in 3.9): Any removes persistent watches too.
    c.remove_watches("/pr", WatcherType::Any).await?;
    let ev = within("removal event", 10, rw.next())
        .await?
        .ok_or("stream ended")?;
    assert_eq!(ev.event_type, EventType::PersistentWatchRemoved);
    assert!(within("stream end", 10, rw.next()).await?.is_none());
    c.close().await?;
    other.close().await?;
    Ok(())
}

pub async fn remove_and_check_watches(t: Target) -> TestResult {
    let c = t.client().await?;
    c.create("/rmw", "", CreateMode::Persistent).await?;
    let (_, _, w) = c.get_data_w("/rmw").await?;
    let (_, cw) = c.get_children_w("/rmw").await?;
    c.check_watches("/rmw", WatcherType::Data).await?;
    c.check_watches("/rmw", WatcherType::Children).await?;
    c.remove_watches("/rmw", WatcherType::Data).await?;
    let ev = within("removed data watch", 10, w).await??;
    assert_eq!(ev.event_type, EventType::DataWatchRemoved);
    let err = c.remove_watches("/rmw", WatcherType::Data).await.err();
    assert_eq!(err.and_then(|e| e.code()), Some(ErrorCode::NoWatcher));
    let err = c.check_watches("/rmw", WatcherType::Data).await.err();
    assert_eq!(err.and_then(|e| e.code()), Some(ErrorCode::NoWatcher));
    c.remove_watches("/rmw", WatcherType::Any).await?;
    let ev = within("removed child watch", 10, cw).await??;
    assert_eq!(ev.event_type, EventType::ChildWatchRemoved);
    let err = c.remove_watches("/nope", WatcherType::Any).await.err();
    assert_eq!(err.and_then(|e| e.code()), Some(ErrorCode::NoWatcher));
    c.close().await?;
    Ok(())
}
