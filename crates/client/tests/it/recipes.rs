//! Recipes against both servers: mutual exclusion and FIFO order of the lock, the read-write
//! lock, one leader at a time, barriers, queue, counter, discovery, tree cache, and what each
//! does when its session expires.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use corral_client::recipes::barrier::{Barrier, DoubleBarrier};
use corral_client::recipes::counter::Counter;
use corral_client::recipes::discovery::{Registration, ServiceWatcher};
use corral_client::recipes::election::LeaderLatch;
use corral_client::recipes::lock::Lock;
use corral_client::recipes::queue::Queue;
use corral_client::recipes::tree_cache::TreeCache;
use corral_client::{Client, CreateMode, SessionState};

use crate::session::wait_state;
use crate::support::{eventually, within, Proxy, Target, TestResult};

const LONG: Duration = Duration::from_secs(20);

pub async fn lock_mutual_exclusion_and_fifo(t: Target) -> TestResult {
    // Mutual exclusion: 4 sessions, 5 rounds each.
    let inside = Arc::new(AtomicBool::new(false));
    let entries = Arc::new(AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let c = t.client().await?;
        let (inside, entries) = (inside.clone(), entries.clone());
        set.spawn(async move {
            let mut lock = Lock::new(&c, "/locks/mutex");
            for _ in 0..5 {
                assert!(lock.try_acquire(LONG).await?, "lock not granted in time");
                assert!(!inside.swap(true, Ordering::SeqCst), "two holders at once");
                tokio::time::sleep(Duration::from_millis(2)).await;
                inside.store(false, Ordering::SeqCst);
                entries.fetch_add(1, Ordering::SeqCst);
                lock.release().await?;
            }
            c.close().await?;
            Ok::<_, corral_client::Error>(())
        });
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    assert_eq!(entries.load(Ordering::SeqCst), 20);

    // FIFO: while one session holds the lock, 4 more queue up one after the other; they get
    // it in the order they queued.
    let holder = t.client().await?;
    let mut first = Lock::new(&holder, "/locks/fifo");
    first.acquire().await?;
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut waiters = tokio::task::JoinSet::new();
    let mut clients = Vec::new();
    for i in 0..4usize {
        let c = t.client().await?;
        clients.push(c.clone());
        let order = order.clone();
        waiters.spawn(async move {
            let mut lock = Lock::new(&c, "/locks/fifo");
            assert!(lock.try_acquire(LONG).await?);
            order.lock().map_err(|_| "poisoned")?.push(i);
            lock.release().await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        });
        // Wait until this waiter's node is in the queue before starting the next.
        let h = holder.clone();
        eventually("waiter queued", 200, || {
            let h = h.clone();
            async move { h.get_children("/locks/fifo").await.map(|k| k.len()) == Ok(i + 2) }
        })
        .await?;
    }
    first.release().await?;
    while let Some(r) = within("fifo waiters", 30, waiters.join_next()).await? {
        r??;
    }
    assert_eq!(*order.lock().map_err(|_| "poisoned")?, vec![0, 1, 2, 3]);
    for c in clients {
        c.close().await?;
    }
    holder.close().await?;
    Ok(())
}

pub async fn rwlock(t: Target) -> TestResult {
    let a = t.client().await?;
    let b = t.client().await?;
    let w = t.client().await?;
    let mut r1 = Lock::read(&a, "/locks/rw");
    let mut r2 = Lock::read(&b, "/locks/rw");
    // Two readers share the lock.
    assert!(r1.try_acquire(LONG).await?);
    assert!(r2.try_acquire(LONG).await?);
    // A writer waits for both...
    let writer_in = Arc::new(AtomicBool::new(false));
    let wi = writer_in.clone();
    let wc = w.clone();
    let writer = tokio::spawn(async move {
        let mut wl = Lock::write(&wc, "/locks/rw");
        let ok = wl.try_acquire(LONG).await?;
        wi.store(true, Ordering::SeqCst);
        Ok::<_, corral_client::Error>((ok, wl))
    });
    let wa = a.clone();
    eventually("writer queued", 200, || {
        let wa = wa.clone();
        async move { wa.get_children("/locks/rw").await.map(|k| k.len()) == Ok(3) }
    })
    .await?;
    // ...and a reader arriving after the writer waits for the writer (no starvation).
    let mut r3 = Lock::read(&a, "/locks/rw");
    assert!(!r3.try_acquire(Duration::from_millis(200)).await?);
    r1.release().await?;
    assert!(
        !writer_in.load(Ordering::SeqCst),
        "writer entered while a reader held"
    );
    r2.release().await?;
    let (ok, mut wl) = within("writer", 20, writer).await???;
    assert!(ok && wl.is_acquired());
    wl.release().await?;
    assert!(r3.try_acquire(LONG).await?);
    r3.release().await?;
    for c in [a, b, w] {
        c.close().await?;
    }
    Ok(())
}

pub async fn election(t: Target) -> TestResult {
    let mut clients = Vec::new();
    let mut latches = Vec::new();
    for i in 0..3 {
        let c = t.client().await?;
        latches.push(LeaderLatch::start(&c, "/election", &format!("p{i}")).await?);
        clients.push(c);
    }
    let leaders = |l: &[LeaderLatch]| l.iter().filter(|l| l.is_leader()).count();
    let mut first = None;
    for _ in 0..200 {
        if leaders(&latches) == 1 {
            first = latches.iter().position(|l| l.is_leader());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = first.ok_or("no single leader")?;
    assert_eq!(first, 0, "the first to join leads");
    assert_eq!(
        LeaderLatch::leader_id(&clients[1], "/election").await?,
        Some("p0".to_string())
    );
    // The leader's session ends: exactly one other takes over, the next in line.
    clients[0].close().await?;
    assert!(latches[1].wait_leader(LONG).await?);
    assert!(!latches[2].is_leader());
    assert_eq!(
        LeaderLatch::participants(&clients[1], "/election").await?,
        ["p1", "p2"]
    );
    // Leaving (close) hands over too.
    let l1 = latches.remove(1);
    l1.close().await?;
    assert!(latches[1].wait_leader(LONG).await?);
    for c in clients {
        let _ = c.close().await;
    }
    Ok(())
}

pub async fn barriers(t: Target) -> TestResult {
    let c = t.client().await?;
    let barrier = Barrier::new(&c, "/barrier/b");
    barrier.create().await?;
    let mut waiters = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let w = t.client().await?;
        waiters.spawn(async move {
            let r = Barrier::new(&w, "/barrier/b").wait(LONG).await;
            w.close().await?;
            r
        });
    }
    assert!(
        !barrier.wait(Duration::from_millis(100)).await?,
        "raised barrier lets through"
    );
    barrier.remove().await?;
    while let Some(r) = within("barrier waiters", 20, waiters.join_next()).await? {
        assert!(r??);
    }

    let entered = Arc::new(AtomicUsize::new(0));
    let mut parts = tokio::task::JoinSet::new();
    let mut clients = Vec::new();
    for i in 0..3 {
        let p = t.client().await?;
        clients.push(p.clone());
        let ent = entered.clone();
        let join = async move {
            let db = DoubleBarrier::new(&p, "/barrier/double", &format!("p{i}"), 3);
            assert!(db.enter(LONG).await?);
            ent.fetch_add(1, Ordering::SeqCst);
            assert!(db.leave(LONG).await?);
            Ok::<_, corral_client::Error>(())
        };
        if i < 2 {
            parts.spawn(join);
            let cc = c.clone();
            eventually("participant entered", 200, || {
                let cc = cc.clone();
                async move {
                    cc.get_children("/barrier/double")
                        .await
                        .map(|k| k.len() == i + 1)
                        .unwrap_or(false)
                }
            })
            .await?;
            assert_eq!(
                entered.load(Ordering::SeqCst),
                0,
                "entered before all arrived"
            );
        } else {
            parts.spawn(join);
        }
    }
    while let Some(r) = within("double barrier", 20, parts.join_next()).await? {
        r??;
    }
    assert_eq!(entered.load(Ordering::SeqCst), 3);
    for p in clients {
        p.close().await?;
    }
    c.close().await?;
    Ok(())
}

pub async fn queue_and_counter(t: Target) -> TestResult {
    let producer = t.client().await?;
    let q = Queue::new(&producer, "/queue/q");
    for i in 0..20 {
        q.put(format!("item-{i}")).await?;
    }
    assert_eq!(q.len().await?, 20);
    // One consumer alone sees FIFO order.
    assert_eq!(q.take(LONG).await?.as_deref(), Some(&b"item-0"[..]));
    let taken = Arc::new(Mutex::new(Vec::new()));
    let mut consumers = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let c = t.client().await?;
        let taken = taken.clone();
        consumers.spawn(async move {
            let q = Queue::new(&c, "/queue/q");
            while let Some(item) = q.take(Duration::from_millis(300)).await? {
                taken.lock().map_err(|_| "poisoned")?.push(item);
            }
            c.close().await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        });
    }
    while let Some(r) = within("consumers", 30, consumers.join_next()).await? {
        r??;
    }
    let mut got: Vec<String> = taken
        .lock()
        .map_err(|_| "poisoned")?
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    got.sort_by_key(|s| s[5..].parse::<u32>().unwrap_or(0));
    let want: Vec<String> = (1..20).map(|i| format!("item-{i}")).collect();
    assert_eq!(got, want, "every item taken exactly once");
    // A take on an empty queue waits for a put.
    let qq = q.clone();
    let waiting = tokio::spawn(async move { qq.take(LONG).await });
    q.put("late").await?;
    assert_eq!(
        within("take after put", 20, waiting).await???.as_deref(),
        Some(&b"late"[..])
    );

    let mut adders = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let c = t.client().await?;
        adders.spawn(async move {
            let counter = Counter::new(&c, "/counter/n");
            for _ in 0..25 {
                counter.add(1).await?;
            }
            c.close().await?;
            Ok::<_, corral_client::Error>(())
        });
    }
    while let Some(r) = within("counter", 30, adders.join_next()).await? {
        r??;
    }
    let counter = Counter::new(&producer, "/counter/n");
    assert_eq!(counter.get().await?, 100);
    assert_eq!(counter.add(-10).await?, 90);
    producer.close().await?;
    Ok(())
}

pub async fn discovery_and_tree_cache(t: Target) -> TestResult {
    let a = t.client().await?;
    let b = t.client().await?;
    let watcher_client = t.client().await?;
    let _ra = Registration::register(&a, "/services", "api", "a", "10.0.0.1:80").await?;
    let watcher = ServiceWatcher::start(&watcher_client, "/services", "api").await?;
    assert_eq!(watcher.instances().len(), 1);
    let rb = Registration::register(&b, "/services", "api", "b", "10.0.0.2:80").await?;
    let mut rx = watcher.subscribe();
    within("second instance seen", 20, rx.wait_for(|l| l.len() == 2)).await??;
    rb.update("10.0.0.2:81").await?; // a payload change alone is not a membership change
    a.close().await?; // a's session ends: its registration goes
    within(
        "instance a gone",
        20,
        rx.wait_for(|l| l.len() == 1 && l[0].id == "b"),
    )
    .await??;
    assert_eq!(&watcher.instances()[0].payload[..], b"10.0.0.2:81");
    rb.unregister().await?;
    within("no instance", 20, rx.wait_for(|l| l.is_empty())).await??;

    // Tree cache: kept current by a persistent recursive watch, including across a lost
    // connection (a full re-read after the reconnect).
    b.create("/tc", "root", CreateMode::Persistent).await?;
    b.create("/tc/a", "1", CreateMode::Persistent).await?;
    let proxy = Proxy::start(t.addr).await;
    let cc = t.client_at(&proxy.addr.to_string()).await?;
    let cache = TreeCache::start(&cc, "/tc").await?;
    assert_eq!(cache.paths(), ["/tc", "/tc/a"]);
    b.create("/tc/a/x", "2", CreateMode::Persistent).await?;
    b.set_data("/tc/a", "1b", None).await?;
    b.create("/tc/b", "3", CreateMode::Persistent).await?;
    let ok = |c: &TreeCache, p: &str, v: &str| c.get(p).is_some_and(|(d, _)| d == v.as_bytes());
    let mut v = cache.subscribe();
    within("cache sees creates and changes", 20, async {
        while !(ok(&cache, "/tc/a/x", "2") && ok(&cache, "/tc/a", "1b") && ok(&cache, "/tc/b", "3"))
        {
            if v.changed().await.is_err() {
                break;
            }
        }
    })
    .await?;
    b.delete("/tc/a/x", None).await?;
    within("cache sees a delete", 20, async {
        while cache.get("/tc/a/x").is_some() {
            if v.changed().await.is_err() {
                break;
            }
        }
    })
    .await?;
    let mut states = cc.state_stream();
    proxy.block(true);
    proxy.cut();
    wait_state(&mut states, SessionState::Disconnected).await?;
    b.set_data("/tc/b", "3b", None).await?;
    b.delete("/tc/a", None).await?;
    b.create("/tc/c", "4", CreateMode::Persistent).await?;
    proxy.block(false);
    wait_state(&mut states, SessionState::SyncConnected).await?;
    within("cache caught up after reconnect", 20, async {
        while !(ok(&cache, "/tc/b", "3b")
            && ok(&cache, "/tc/c", "4")
            && cache.get("/tc/a").is_none())
        {
            if v.changed().await.is_err() {
                break;
            }
        }
    })
    .await?;
    assert_eq!(cache.paths(), ["/tc", "/tc/b", "/tc/c"]);
    assert!(cache.is_running());
    for c in [b, cc, watcher_client] {
        c.close().await?;
    }
    Ok(())
}

/// The session of a lock holder, a leader and a registered instance expires: each recipe
/// reports it, and the others take over.
pub async fn recipes_on_expiry(t: Target) -> TestResult {
    let proxy = Proxy::start(t.addr).await;
    let doomed = Client::builder(&proxy.addr.to_string())
        .session_timeout(Duration::from_millis(1500))
        .connect()
        .await?;
    let other = t.client().await?;
    let mut lock = Lock::new(&doomed, "/expiry/lock");
    lock.acquire().await?;
    let mut latch = LeaderLatch::start(&doomed, "/expiry/election", "doomed").await?;
    assert!(latch.wait_leader(LONG).await?);
    let _reg = Registration::register(&doomed, "/expiry/services", "svc", "d", "x").await?;
    let watcher = ServiceWatcher::start(&other, "/expiry/services", "svc").await?;
    let mut other_latch = LeaderLatch::start(&other, "/expiry/election", "other").await?;
    let mut leader_rx = latch.subscribe();

    let mut states = doomed.state_stream();
    proxy.block(true);
    proxy.cut();
    wait_state(&mut states, SessionState::Disconnected).await?;
    // Leadership is given up as soon as the connection is lost (Curator's LeaderLatch).
    within(
        "latch drops leadership on disconnect",
        10,
        leader_rx.wait_for(|l| !*l),
    )
    .await??;
    // The other session gets the lock and leadership once the server expires the first.
    let mut other_lock = Lock::new(&other, "/expiry/lock");
    assert!(
        other_lock.try_acquire(LONG).await?,
        "lock not freed by expiry"
    );
    assert!(other_latch.wait_leader(LONG).await?);
    let mut rx = watcher.subscribe();
    within("registration gone", 20, rx.wait_for(|l| l.is_empty())).await??;
    proxy.block(false);
    wait_state(&mut states, SessionState::Expired).await?;
    within("lock reports loss", 10, lock.wait_lost()).await??;
    lock.release().await?;
    assert!(!latch.is_leader());
    assert!(matches!(
        Lock::new(&doomed, "/expiry/lock2").acquire().await,
        Err(corral_client::Error::SessionExpired)
    ));
    other_lock.release().await?;
    other.close().await?;
    Ok(())
}
