//! The transport over mutual TLS (rustls through corral-tls's stores, with the test
//! certificates in crates/tls/tests/fixtures): frames flow; a peer whose certificate another
//! CA signed never connects.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use corral_peer::{Event, RustlsLayer, Transport};
use corral_tls::peer_verify::JavaCompatibleServerVerifier;
use corral_tls::{ClientAuth, ServerTls, StoreSpec, TlsSettings, TlsVersion};
use rustls::client::ResolvesClientCert;
use rustls::pki_types::ServerName;
use rustls::sign::CertifiedKey;
use rustls::SignatureScheme;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tls/tests/fixtures")
        .join(name)
}

fn store(name: &str) -> StoreSpec {
    StoreSpec {
        location: fixture(name),
        password: None,
        store_type: None,
    }
}

/// The dialer's certificate, whatever the acceptor hints (rustls's own
/// `with_client_auth_cert` parses it with webpki, which refuses version 1 certificates).
#[derive(Debug)]
struct OneIdentity(Arc<CertifiedKey>);

impl ResolvesClientCert for OneIdentity {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// One server's TLS layer: `identity` (a PEM with certificate and key) both to accept and to
/// dial, peers checked against ca.pem.
fn layer(identity: &str) -> Arc<RustlsLayer> {
    let settings = TlsSettings {
        key_store: store(identity),
        trust_store: Some(store("ca.pem")),
        client_auth: ClientAuth::Need,
        protocols: vec![TlsVersion::Tls13],
        cipher_suites: None,
    };
    let server = ServerTls::new(&settings).unwrap().server_config();
    let (key, chain) = store(identity).load().unwrap().key.unwrap();
    let anchors = store("ca.pem").load().unwrap().trusted;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signing = provider.key_provider.load_private_key(key).unwrap();
    let verifier = JavaCompatibleServerVerifier::new(&anchors).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_cert_resolver(Arc::new(OneIdentity(Arc::new(CertifiedKey::new(
            chain, signing,
        )))));
    let name = ServerName::try_from("localhost").unwrap();
    Arc::new(RustlsLayer::new(server, Arc::new(client), name))
}

/// stranger.pem and its key in one PEM file (another CA signed it), in a temp dir.
fn stranger_identity() -> String {
    let dir = std::env::temp_dir().join(format!("corral-peer-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("stranger-keystore.pem");
    let mut pem = std::fs::read(fixture("stranger.pem")).unwrap();
    pem.extend(std::fs::read(fixture("stranger-key.pem")).unwrap());
    std::fs::write(&path, pem).unwrap();
    path.to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_flow_over_mutual_tls_and_a_stranger_certificate_is_refused() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let (listeners, servers) = bind(3).await;
    let stranger_pem = stranger_identity();
    let mut nodes = Vec::new();
    for (i, l) in listeners.into_iter().enumerate() {
        let id = i as u64 + 1;
        // Server 3 presents a certificate of another CA.
        let identity = if id == 3 {
            stranger_pem.as_str()
        } else {
            "server-keystore.pem"
        };
        let (transport, events) =
            Transport::start_with(config(id, &servers), l, layer(identity)).unwrap();
        nodes.push(Node {
            id,
            transport,
            events,
        });
    }
    let stranger = nodes.pop().unwrap();
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
    // Server 3's dials to 1 and 2 fail the TLS handshake on their side (and theirs to 3 fail
    // on 3's side): never a link.
    eventually("servers 1 and 2 refused server 3's certificate", || {
        nodes[0].transport.stats().refused >= 1 && nodes[1].transport.stats().refused >= 1
    })
    .await;
    assert_eq!(stranger.transport.stats().links_opened, 0);
    assert!(!nodes[0].transport.is_connected(3) && !nodes[1].transport.is_connected(3));
    assert_eq!(nodes[0].transport.stats().links_opened, 1);
}
