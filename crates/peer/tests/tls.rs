//! The transport over mutual TLS (rustls through corral-tls's stores, with the test
//! certificates in crates/tls/tests/fixtures): frames flow; a peer whose certificate another
//! CA signed never connects; a peer whose certificate (signed by the trusted CA) names another
//! server's host cannot speak as its own id, dialing or dialed.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use corral_peer::{Event, PeerId, RustlsLayer, Transport};
use corral_tls::peer_verify::{quorum_configs, HostIdentity};
use corral_tls::{ClientAuth, StoreSpec, TlsSettings, TlsVersion};
use rustls::pki_types::{CertificateDer, ServerName};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tls/tests/fixtures")
        .join(name)
}

fn store(location: PathBuf) -> StoreSpec {
    StoreSpec {
        location,
        password: None,
        store_type: None,
    }
}

/// The host the server list gives server `id` (its certificate must name it).
fn host(id: PeerId) -> String {
    format!("peer{id}.corral.test")
}

/// One server's TLS layer: `identity` (a PEM with certificate and key) both to accept and to
/// dial, peers checked against ca.pem and tied to their ids by the hosts of [`host`].
fn layer(identity: PathBuf) -> Arc<RustlsLayer> {
    let settings = TlsSettings {
        key_store: store(identity),
        trust_store: Some(store(fixture("ca.pem"))),
        client_auth: ClientAuth::Need,
        protocols: vec![TlsVersion::Tls13],
        cipher_suites: None,
    };
    let (server, client) = quorum_configs(&settings).unwrap();
    let hosts = HostIdentity::new((1..=3).map(|id| (id, host(id))).collect::<BTreeMap<_, _>>());
    let identity = move |id: PeerId, cert: &CertificateDer<'_>| {
        hosts.check(id, cert).map_err(|e| e.to_string())
    };
    let name = ServerName::try_from("corral-peer").unwrap();
    Arc::new(RustlsLayer::new(server, client, name, Arc::new(identity)))
}

/// Servers 1..=3 over TLS, server `i + 1` presenting `identities[i]`.
async fn tls_cluster(identities: [PathBuf; 3]) -> Vec<Node> {
    let (listeners, servers) = bind(3).await;
    listeners
        .into_iter()
        .zip(identities)
        .enumerate()
        .map(|(i, (l, identity))| {
            let id = i as u64 + 1;
            let (transport, events) =
                Transport::start_with(config(id, &servers), l, layer(identity)).unwrap();
            Node {
                id,
                transport,
                events,
            }
        })
        .collect()
}

/// Servers 1 and 2 link and exchange frames in order; server 3 (presenting a certificate they
/// must refuse) never links to either, and both refused it.
async fn one_and_two_link_three_never(mut nodes: Vec<Node>) {
    let outsider = nodes.pop().unwrap();
    let (a, b) = nodes.split_at_mut(1);
    assert_eq!(
        connected_to(&mut a[0], &[2]).await,
        vec![Event::Connected(2)]
    );
    assert_eq!(
        connected_to(&mut b[0], &[1]).await,
        vec![Event::Connected(1)]
    );
    for seq in 0..100 {
        a[0].transport
            .send(2, corral_peer::Channel::ENGINE, payload(seq, 1000))
            .unwrap();
    }
    let mut want = 0;
    until(&mut b[0].events, |e| {
        assert!(
            matches!(e, Event::Frame(1, _, bytes) if seq_of(bytes) == want),
            "{e:?}"
        );
        want += 1;
        want == 100
    })
    .await;
    // Server 3's dials to 1 and 2 are refused on their side (and theirs to 3 fail on their
    // side, at the TLS handshake or the check of the certificate they reached): never a link.
    eventually("servers 1 and 2 refused server 3", || {
        nodes[0].transport.stats().refused >= 1 && nodes[1].transport.stats().refused >= 1
    })
    .await;
    assert_eq!(outsider.transport.stats().links_opened, 0);
    assert!(!nodes[0].transport.is_connected(3) && !nodes[1].transport.is_connected(3));
    assert_eq!(nodes[0].transport.stats().links_opened, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_flow_over_mutual_tls_and_a_stranger_certificate_is_refused() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    // Server 3 presents a certificate of another CA.
    let stranger = stranger_identity();
    let nodes = tls_cluster([
        fixture("peer1-keystore.pem"),
        fixture("peer2-keystore.pem"),
        stranger.clone(),
    ])
    .await;
    // The layers have read their stores.
    if let Some(dir) = stranger.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
    one_and_two_link_three_never(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_certificate_of_another_server_cannot_claim_this_id() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    // Server 3 presents server 1's certificate (same CA, names peer1.corral.test): it may
    // not speak as server 3, and it is not reached as server 3 either.
    let nodes = tls_cluster([
        fixture("peer1-keystore.pem"),
        fixture("peer2-keystore.pem"),
        fixture("peer1-keystore.pem"),
    ])
    .await;
    one_and_two_link_three_never(nodes).await;
}

/// stranger.pem and its key in one PEM file (another CA signed it), in a temp dir.
fn stranger_identity() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("corral-peer-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("stranger-keystore.pem");
    let mut pem = std::fs::read(fixture("stranger.pem")).unwrap();
    pem.extend(std::fs::read(fixture("stranger-key.pem")).unwrap());
    std::fs::write(&path, pem).unwrap();
    path
}
