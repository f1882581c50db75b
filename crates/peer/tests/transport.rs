//! Real transports on 127.0.0.1 ephemeral ports: order, reconnection, the tie-break, bad
//! peers, overflow, frame bounds, shutdown. Every wait is bounded (common::WAIT).

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use corral_peer::testing::{encode, raw_call};
use corral_peer::wire::{Body, Hello, PeerMessage, PROTOCOL_VERSION};
use corral_peer::{Channel, Event, PeerError};
use tokio::net::TcpListener;

/// Every node sends `n` numbered frames to every other on alternating channels; every node
/// receives them from each peer in order, with their channels.
async fn exchange(nodes: &mut [Node], n: u32) {
    let ids: Vec<u64> = nodes.iter().map(|x| x.id).collect();
    for node in nodes.iter() {
        for &to in ids.iter().filter(|&&p| p != node.id) {
            for seq in 0..n {
                let ch = if seq.is_multiple_of(2) {
                    Channel::ENGINE
                } else {
                    Channel::SERVER
                };
                node.transport
                    .send(to, ch, payload(seq, 64 + (seq as usize % 300)))
                    .unwrap();
            }
        }
    }
    for node in nodes.iter_mut() {
        let mut next_seq: std::collections::BTreeMap<u64, u32> = ids
            .iter()
            .filter(|&&p| p != node.id)
            .map(|&p| (p, 0))
            .collect();
        let me = node.id;
        until(&mut node.events, |e| {
            match e {
                Event::Frame(from, ch, bytes) => {
                    let want = next_seq.get_mut(from).expect("frame from a stranger");
                    assert_eq!(
                        seq_of(bytes),
                        *want,
                        "server {me}: frame from {from} out of order"
                    );
                    let want_ch = if (*want).is_multiple_of(2) {
                        Channel::ENGINE
                    } else {
                        Channel::SERVER
                    };
                    assert_eq!(*ch, want_ch);
                    *want += 1;
                }
                other => panic!("server {me}: unexpected {other:?} during the exchange"),
            }
            next_seq.values().all(|&s| s == n)
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_transports_exchange_frames_in_fifo_order_both_ways() {
    let mut nodes = cluster(3, |_| {}).await;
    for seen in all_connected(&mut nodes).await {
        assert_eq!(seen.len(), 2, "{seen:?}");
    }
    exchange(&mut nodes, 2000).await;
    // Each link's other end: the dialer's own port, or the address it dialed; the queues
    // are drained.
    for node in &nodes {
        for other in nodes.iter().filter(|o| o.id != node.id) {
            let info = node.transport.link_info(other.id).expect("linked");
            assert!(info.remote.ip().is_loopback(), "{info:?}");
            if node.id < other.id {
                // The higher id's dial is kept: we accepted it, from one of its own ports.
                assert_ne!(info.remote, other.transport.local_addr(), "{info:?}");
            } else {
                assert_eq!(info.remote, other.transport.local_addr(), "{info:?}");
            }
            assert_eq!((info.queued_frames, info.queued_bytes), (0, 0), "{info:?}");
        }
        assert_eq!(node.transport.link_info(99), None);
    }
    for node in &nodes {
        let s = node.transport.stats();
        assert_eq!(
            (s.links_opened, s.links_closed, s.refused, s.overflows),
            (2, 0, 0, 0),
            "{s:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_is_disconnected_then_reconnected_and_delivery_resumes() {
    let (listeners, servers) = bind(3).await;
    let mut nodes: Vec<Node> = listeners
        .into_iter()
        .enumerate()
        .map(|(i, l)| start(config(i as u64 + 1, &servers), l))
        .collect();
    all_connected(&mut nodes).await;
    exchange(&mut nodes, 50).await;

    let two = nodes.remove(1);
    stop(two).await;
    for node in nodes.iter_mut() {
        let seen = until(&mut node.events, |e| *e == Event::Disconnected(2)).await;
        assert_eq!(seen, vec![Event::Disconnected(2)], "server {}", node.id);
        assert!(matches!(
            node.transport
                .send(2, Channel::ENGINE, Bytes::from_static(b"x")),
            Err(PeerError::NotConnected(2))
        ));
    }

    // The same address again (bounded retries while the old socket goes away).
    let mut listener = None;
    for _ in 0..200 {
        match TcpListener::bind(servers[&2]).await {
            Ok(l) => {
                listener = Some(l);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    let two = start(
        config(2, &servers),
        listener.expect("rebind server 2's port"),
    );
    nodes.insert(1, two);
    // Server 1 has the new link before its owner has read Connected(2): sends are refused
    // until then (they would reach a peer the owner has not yet resynchronised).
    eventually("server 1 linked to 2 again", || {
        nodes[0].transport.link_id(2).is_some()
    })
    .await;
    assert!(matches!(
        nodes[0]
            .transport
            .send(2, Channel::ENGINE, Bytes::from_static(b"early")),
        Err(PeerError::NotConnected(2))
    ));
    for node in nodes.iter_mut() {
        let others: Vec<u64> = if node.id == 2 { vec![1, 3] } else { vec![2] };
        let seen = connected_to(node, &others).await;
        assert_eq!(seen.len(), others.len(), "server {}: {seen:?}", node.id);
    }
    exchange(&mut nodes, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_dials_leave_one_link_the_one_the_higher_id_dialed() {
    let (mut listeners, servers) = bind(2).await;
    let l2 = listeners.pop().unwrap();
    let l1 = listeners.pop().unwrap();
    // Server 1 dials server 2 whose socket is bound but not yet accepting: the dial waits in
    // the backlog while server 2 starts and dials server 1, so both dials are in flight.
    let mut one = start(config(1, &servers), l1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut two = start(config(2, &servers), l2);
    pair_connected(&mut one, &mut two).await;
    // Server 1's dial has been answered "dial back" (so both dials were seen through).
    eventually("server 1's dial answered", || {
        one.transport.stats().dial_backs >= 1
    })
    .await;
    eventually("server 2 saw the dial", || {
        two.transport.stats().nudges >= 1
    })
    .await;
    let mut nodes = vec![one, two];
    exchange(&mut nodes, 500).await;
    for node in nodes.iter_mut() {
        let s = node.transport.stats();
        assert_eq!(
            (s.links_opened, s.links_closed),
            (1, 0),
            "server {}: {s:?}",
            node.id
        );
        // No Disconnected / Connected churn left unread either.
        assert_eq!(node.events.try_recv(), None, "server {}", node.id);
    }
}

/// Servers 1 and 2 each read exactly one event: `Connected` of the other.
async fn pair_connected(one: &mut Node, two: &mut Node) {
    assert_eq!(connected_to(one, &[2]).await, vec![Event::Connected(2)]);
    assert_eq!(connected_to(two, &[1]).await, vec![Event::Connected(1)]);
}

fn hello(server_id: u64, target_id: u64, ensemble: u64) -> Bytes {
    hello_after(server_id, target_id, ensemble, 0)
}

fn hello_after(server_id: u64, target_id: u64, ensemble: u64, last_link: u64) -> Bytes {
    encode(&PeerMessage::hello(Hello {
        version: PROTOCOL_VERSION,
        server_id,
        target_id,
        ensemble,
        link: 99,
        last_link,
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_peers_are_refused_and_the_others_are_unaffected() {
    let mut nodes = cluster(3, |_| {}).await;
    all_connected(&mut nodes).await;
    let target = nodes[1].transport.local_addr();
    let ensemble = nodes[1].transport.config().ensemble;
    let frame = encode(&PeerMessage::frame(
        0,
        Bytes::from_static(b"must not arrive"),
    ));
    let cases: Vec<(&str, Vec<Bytes>, &str)> = vec![
        (
            "unknown id",
            vec![hello(9, 2, ensemble), frame.clone()],
            "id 9 is not in our server list",
        ),
        (
            "other ensemble",
            vec![hello(3, 2, ensemble ^ 1), frame.clone()],
            "ensemble fingerprint",
        ),
        (
            "wrong address",
            vec![hello(3, 1, ensemble), frame.clone()],
            "dialed server 1 but reached server 2",
        ),
        (
            "own id",
            vec![hello(2, 2, ensemble), frame.clone()],
            "our own id",
        ),
        (
            "malformed",
            vec![Bytes::from_static(&[0xff, 0xff, 0xff, 0x01]), frame.clone()],
            "malformed first message",
        ),
        (
            "frame first",
            vec![frame.clone(), frame.clone()],
            "first message is Frame",
        ),
    ];
    for (what, messages, why) in &cases {
        let answer = raw_call(target, messages.clone(), Duration::from_millis(100)).await;
        let status = answer.expect_err(what);
        assert_eq!(
            status.code(),
            tonic::Code::PermissionDenied,
            "{what}: {status:?}"
        );
        assert!(status.message().contains(why), "{what}: {status:?}");
    }
    assert_eq!(nodes[1].transport.stats().refused, cases.len() as u64);

    // A whole transport of another ensemble (server 2's address in a different list).
    let stranger_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut servers = std::collections::BTreeMap::new();
    servers.insert(2, target);
    servers.insert(7, stranger_listener.local_addr().unwrap());
    let stranger = start(config(7, &servers), stranger_listener);
    let before = cases.len() as u64;
    eventually("the stranger refused", || {
        nodes[1].transport.stats().refused > before
    })
    .await;
    assert_eq!(stranger.transport.stats().links_opened, 0);

    // The ensemble goes on: frames both ways, in order, and no event about anyone else.
    exchange(&mut nodes, 300).await;
    for node in &nodes {
        let s = node.transport.stats();
        assert_eq!(
            (s.links_opened, s.links_closed),
            (2, 0),
            "server {}: {s:?}",
            node.id
        );
    }
    stop(stranger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_disconnects_only_that_peer() {
    overflow_drops_only_that_peer(|c| c.queue = 16).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_full_in_bytes_disconnects_only_that_peer() {
    overflow_drops_only_that_peer(|c| {
        c.queue = 1_000_000;
        c.max_frame = 64 * 1024;
        c.queue_bytes = 256 * 1024;
    })
    .await;
}

/// Server 2's owner stops reading; server 1 keeps sending to it until its queue (bounded by
/// `bound`) overflows.
async fn overflow_drops_only_that_peer(bound: impl Fn(&mut corral_peer::Config)) {
    let mut nodes = cluster(3, |c| {
        bound(c);
        c.events = 4;
    })
    .await;
    all_connected(&mut nodes).await;
    // Server 2's owner stops reading: its readers stall, HTTP/2 flow control stops server 1's
    // writer, server 1's queue to 2 fills and server 1 drops 2.
    let big = Bytes::from(vec![1u8; 64 * 1024]);
    let mut overflowed = false;
    for i in 0..4_000 {
        match nodes[0].transport.send(2, Channel::ENGINE, big.clone()) {
            Ok(()) => {}
            Err(PeerError::Overflow(2)) => {
                overflowed = true;
                break;
            }
            Err(e) => panic!("send {i}: {e}"),
        }
        if i % 8 == 7 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    assert!(overflowed, "server 2 never fell behind");
    assert!(matches!(
        nodes[0].transport.send(2, Channel::ENGINE, big.clone()),
        Err(PeerError::NotConnected(2))
    ));
    let seen = until(&mut nodes[0].events, |e| *e == Event::Disconnected(2)).await;
    assert_eq!(seen, vec![Event::Disconnected(2)]);
    assert_eq!(nodes[0].transport.stats().overflows, 1);
    // Server 3 is unaffected: frames from 1 still arrive in order (in batches within the
    // queue's bound), and 1 never dropped it.
    for batch in 0..20u32 {
        for seq in batch * 10..batch * 10 + 10 {
            nodes[0]
                .transport
                .send(3, Channel::SERVER, payload(seq, 100))
                .unwrap();
        }
        let mut want = batch * 10;
        until(&mut nodes[2].events, |e| {
            match e {
                Event::Frame(1, Channel::SERVER, b) => {
                    assert_eq!(seq_of(b), want);
                    want += 1;
                }
                other => panic!("server 3: unexpected {other:?}"),
            }
            want == batch * 10 + 10
        })
        .await;
    }
    assert!(nodes[0].transport.is_connected(3));
    assert_eq!(nodes[2].transport.stats().links_closed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_is_refused_and_the_link_comes_back() {
    const SMALL: usize = 64 * 1024;
    let (mut listeners, servers) = bind(2).await;
    let l2 = listeners.pop().unwrap();
    let l1 = listeners.pop().unwrap();
    let mut one = start(config(1, &servers), l1); // default bound: 4 MiB
    let mut c2 = config(2, &servers);
    c2.max_frame = SMALL;
    let mut two = start(c2, l2);
    connected_to(&mut one, &[2]).await;
    connected_to(&mut two, &[1]).await;

    // The sender's own bound is checked before queueing.
    assert!(matches!(
        two.transport.send(1, Channel::ENGINE, Bytes::from(vec![0u8; SMALL + 1])),
        Err(PeerError::FrameTooLarge { len, max: SMALL }) if len == SMALL + 1
    ));

    // Just over the bound (inside gRPC's envelope slack: our check), then far over (gRPC's
    // length prefix check, before any buffer is reserved).
    for len in [SMALL + 1, 10 * SMALL] {
        one.transport
            .send(2, Channel::ENGINE, payload(1, SMALL))
            .unwrap();
        one.transport
            .send(2, Channel::ENGINE, Bytes::from(vec![9u8; len]))
            .unwrap();
        let seen = until(&mut two.events, |e| *e == Event::Disconnected(1)).await;
        assert_eq!(seen.len(), 2, "{len}: {seen:?}");
        assert!(matches!(&seen[0], Event::Frame(1, _, b) if b.len() == SMALL));
        until(&mut one.events, |e| *e == Event::Disconnected(2)).await;
        // Reconnected, and frames within the bound flow again.
        pair_connected(&mut one, &mut two).await;
        one.transport
            .send(2, Channel::ENGINE, payload(7, SMALL))
            .unwrap();
        let e = next(&mut two.events).await;
        assert!(
            matches!(&e, Event::Frame(1, Channel::ENGINE, b) if seq_of(b) == 7 && b.len() == SMALL),
            "{e:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_and_drop_stop_every_task() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();
    let mut nodes = cluster(3, |_| {}).await;
    all_connected(&mut nodes).await;
    exchange(&mut nodes, 100).await;
    assert!(metrics.num_alive_tasks() > baseline);
    let mut nodes = nodes.into_iter();
    let one = nodes.next().unwrap();
    stop(one).await;
    // The others are dropped, not shut down.
    let rest: Vec<Node> = nodes.collect();
    drop(rest);
    eventually("every task gone", || metrics.num_alive_tasks() == baseline).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dial_from_the_lower_id_drops_the_held_link_only_if_it_saw_that_link() {
    let mut nodes = cluster(2, |_| {}).await;
    let (a, b) = nodes.split_at_mut(1);
    let (one, two) = (&mut a[0], &mut b[0]);
    pair_connected(one, two).await;
    let held = two
        .transport
        .link_id(1)
        .expect("server 2 holds a link to 1");
    assert_eq!(one.transport.link_id(2), Some(held));
    let addr = two.transport.local_addr();
    let ensemble = two.transport.config().ensemble;
    let dial_back = |answer: Result<Vec<PeerMessage>, tonic::Status>| match answer {
        Ok(m) => {
            matches!(&m[..], [PeerMessage { body: Some(Body::Welcome(w)) }] if w.dial_back && w.server_id == 2)
        }
        Err(_) => false,
    };

    // A dial that crossed the link in flight (it names an older link): nothing changes.
    let answer = raw_call(
        addr,
        vec![hello_after(1, 2, ensemble, held ^ 1)],
        Duration::ZERO,
    )
    .await;
    assert!(dial_back(answer));
    // (Server 1's own dial at start may have been counted too.)
    assert!(two.transport.stats().nudges >= 1);
    let mut pair = [nodes.remove(0), nodes.remove(0)];
    exchange(&mut pair, 20).await;
    assert_eq!(pair[1].transport.link_id(1), Some(held));
    assert_eq!(pair[1].transport.stats().links_opened, 1);

    // A dial that names the held link: server 1 saw it and believes it down; server 2 drops
    // it and dials again.
    let answer = raw_call(
        addr,
        vec![hello_after(1, 2, ensemble, held)],
        Duration::ZERO,
    )
    .await;
    assert!(dial_back(answer));
    let [one, two] = &mut pair;
    let seen = until(&mut two.events, |e| *e == Event::Connected(1)).await;
    assert_eq!(seen, vec![Event::Disconnected(1), Event::Connected(1)]);
    let seen = until(&mut one.events, |e| *e == Event::Connected(2)).await;
    assert_eq!(seen, vec![Event::Disconnected(2), Event::Connected(2)]);
    assert_ne!(two.transport.link_id(1), Some(held));
    exchange(&mut pair, 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_at_the_handshake_deadline_and_free_their_place() {
    let mut nodes = cluster(2, |c| c.handshake_timeout = Duration::from_millis(300)).await;
    all_connected(&mut nodes).await;
    let addr = nodes[1].transport.local_addr();
    // More silent sockets than the listener keeps open at once (4 per server: 8).
    let mut silent = Vec::new();
    for _ in 0..20 {
        silent.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    for (i, mut s) in silent.into_iter().enumerate() {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 256];
        // Closed by server 2: EOF (after its HTTP/2 preface, if it sent one) or a reset.
        let closed = tokio::time::timeout(WAIT, async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(
            closed.is_ok(),
            "silent socket {i} still open after {WAIT:?}"
        );
    }
    // Their places are free again: a dial is answered.
    let ensemble = nodes[1].transport.config().ensemble;
    let answer = raw_call(addr, vec![hello(1, 2, ensemble)], Duration::ZERO).await;
    assert!(answer.is_ok(), "{answer:?}");
    // And the link between the two never noticed.
    exchange(&mut nodes, 50).await;
    assert_eq!(nodes[1].transport.stats().links_closed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connection_claiming_a_linked_higher_id_is_refused_unless_it_names_the_link() {
    let mut nodes = cluster(2, |_| {}).await;
    let (a, b) = nodes.split_at_mut(1);
    let (one, two) = (&mut a[0], &mut b[0]);
    pair_connected(one, two).await;
    // Server 1 holds the link server 2 (the higher id) dialed.
    let held = one
        .transport
        .link_id(2)
        .expect("server 1 holds a link to 2");
    let addr = one.transport.local_addr();
    let ensemble = one.transport.config().ensemble;

    // A duplicate (or spoofed) server 2 that does not know the link: refused, and the working
    // link is untouched (ZooKeeper's handleConnection would finish it and keep the new one).
    for last_link in [0, held ^ 1] {
        let answer = raw_call(
            addr,
            vec![hello_after(2, 1, ensemble, last_link)],
            Duration::from_millis(50),
        )
        .await;
        let status = answer.expect_err("a duplicate of server 2 is refused");
        assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
        assert!(
            status.message().contains("already has a working link"),
            "{status:?}"
        );
    }
    assert_eq!(nodes[0].transport.link_id(2), Some(held));
    exchange(&mut nodes, 50).await;
    for node in &mut nodes {
        let s = node.transport.stats();
        assert_eq!(
            (s.links_opened, s.links_closed),
            (1, 0),
            "server {}",
            node.id
        );
        assert_eq!(node.events.try_recv(), None, "server {}", node.id);
    }
    assert_eq!(nodes[0].transport.stats().refused, 2);

    // A dial naming the held link (server 2 dropped it and says so) replaces it at once.
    let answer = raw_call(
        addr,
        vec![hello_after(2, 1, ensemble, held)],
        Duration::from_millis(100),
    )
    .await;
    let welcomed = matches!(
        &answer.as_deref(),
        Ok([PeerMessage { body: Some(Body::Welcome(w)) }]) if !w.dial_back && w.server_id == 1
    );
    assert!(welcomed, "{answer:?}");
    let seen = until(&mut nodes[0].events, |e| *e == Event::Connected(2)).await;
    assert_eq!(seen, vec![Event::Disconnected(2), Event::Connected(2)]);
    // The raw link ends with its call; the real server 2 links again, and frames flow.
    eventually("server 2 linked to 1 again", || {
        nodes[0]
            .transport
            .link_id(2)
            .is_some_and(|l| l != held && l != 99)
    })
    .await;
    let [one, two] = &mut nodes[..] else {
        unreachable!()
    };
    until(&mut one.events, |e| *e == Event::Connected(2)).await;
    until(&mut two.events, |e| *e == Event::Connected(1)).await;
    exchange(&mut nodes, 20).await;
}
