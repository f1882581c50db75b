//! corral-tls against stores and certificates made by openssl and Java's keytool
//! (tests/fixtures/make.sh): JKS and PEM decoding, chain checks, the x509 id.

use std::path::PathBuf;

use corral_tls::keystore::{read_jks, read_pem};
use corral_tls::verify::verify_chain;
use corral_tls::x509::Certificate;
use corral_tls::{ClientAuth, ServerTls, StoreSpec, StoreType, TlsError, TlsSettings, TlsVersion};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn pem_cert(name: &str) -> Vec<u8> {
    let store = read_pem(&read(name)).expect("pem");
    store.trusted[0].to_vec()
}

/// 2030-01-01T00:00:00Z: inside every fixture's validity.
const NOW: i64 = 1_893_456_000;

#[test]
fn keytool_jks_stores_decode() {
    let store = read_jks(&read("keystore.jks"), Some("apassword")).expect("keystore.jks");
    let (_, chain) = store.key.expect("a private key entry");
    assert_eq!(chain.len(), 2, "leaf and CA");
    assert_eq!(chain[0].as_ref(), pem_cert("server.pem").as_slice());
    let trust = read_jks(&read("truststore.jks"), Some("apassword")).expect("truststore.jks");
    assert!(trust.key.is_none());
    assert_eq!(trust.trusted.len(), 1);
    assert_eq!(trust.trusted[0].as_ref(), pem_cert("ca.pem").as_slice());
    // Without a password the certificates can still be read (Java's behaviour), not keys.
    assert_eq!(
        read_jks(&read("truststore.jks"), None)
            .expect("no password")
            .trusted
            .len(),
        1
    );
    assert!(read_jks(&read("keystore.jks"), None).is_err());
}

#[test]
fn wrong_passwords_and_damage_are_caught() {
    let err = read_jks(&read("keystore.jks"), Some("wrong")).expect_err("wrong password");
    assert!(err.to_string().contains("password"), "{err}");
    let mut damaged = read("truststore.jks");
    let mid = damaged.len() / 2;
    damaged[mid] ^= 1;
    assert!(read_jks(&damaged, Some("apassword")).is_err());
    // PKCS#12 content under a .jks name gets the conversion hint.
    let dir = std::env::temp_dir().join(format!("corral-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let fake = dir.join("really-p12.jks");
    std::fs::write(&fake, read("server.p12")).expect("write");
    let spec = StoreSpec {
        location: fake,
        password: Some("apassword".into()),
        store_type: None,
    };
    let err = spec.load().expect_err("p12 in disguise");
    assert!(err.to_string().contains("keytool -importkeystore"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn store_type_follows_zookeeper() {
    assert_eq!(
        StoreType::from_file_name("a/b.JKS".as_ref()),
        Some(StoreType::Jks)
    );
    assert_eq!(
        StoreType::from_file_name("b.pfx".as_ref()),
        Some(StoreType::Pkcs12)
    );
    assert_eq!(StoreType::from_file_name("b.store".as_ref()), None);
    assert_eq!(StoreType::from_property("pem"), Some(StoreType::Pem));
    assert_eq!(ClientAuth::from_property(""), Some(ClientAuth::Need));
    assert_eq!(ClientAuth::from_property("WANT"), Some(ClientAuth::Want));
    assert_eq!(ClientAuth::from_property("maybe"), None);
}

#[test]
fn version_1_client_certificates_chain_to_the_ca() {
    let ca = pem_cert("ca.pem");
    let client = pem_cert("client.pem");
    let anchors = vec![ca.clone()];
    verify_chain(&client, &[], &anchors, NOW).expect("v1 client signed by the CA");
    assert_eq!(Certificate::parse(&client).expect("parse").version, 1);
    // The trusted certificate itself is accepted as a leaf, as Java does.
    verify_chain(&ca, &[], &anchors, NOW).expect("anchor as leaf");
}

#[test]
fn untrusted_expired_and_wrong_purpose_certificates_are_refused() {
    let anchors = vec![pem_cert("ca.pem")];
    let stranger = pem_cert("stranger.pem");
    let err = verify_chain(&stranger, &[], &anchors, NOW).expect_err("other CA");
    assert!(
        err.to_string().contains("not signed by a trusted CA"),
        "{err}"
    );
    // The stranger's own CA sent as an intermediate does not help: it is not trusted.
    let other = pem_cert("other-ca.pem");
    assert!(verify_chain(&stranger, &[other.as_slice()], &anchors, NOW).is_err());
    let client = pem_cert("client.pem");
    let too_late = 5_000_000_000; // year 2128
    let err = verify_chain(&client, &[], &anchors, too_late).expect_err("expired");
    assert!(err.to_string().contains("expired"), "{err}");
    let err = verify_chain(&client, &[], &anchors, 1_000_000_000).expect_err("2001");
    assert!(err.to_string().contains("not valid yet"), "{err}");
    let err = verify_chain(&pem_cert("server-only.pem"), &[], &anchors, NOW).expect_err("eku");
    assert!(err.to_string().contains("clientAuth"), "{err}");
    // A corrupted signature.
    let mut forged = client.clone();
    let last = forged.len() - 1;
    forged[last] ^= 0x55;
    assert!(verify_chain(&forged, &[], &anchors, NOW).is_err());
}

#[test]
fn subject_names_print_as_java_prints_them() {
    let client = Certificate::parse(&pem_cert("client.pem")).map(|c| c.subject_name());
    // `openssl x509 -subject -nameopt RFC2253` and Java's X500Principal.getName() agree here.
    assert_eq!(
        client.expect("parse").expect("name"),
        "CN=client\\, one,O=Corral Tests"
    );
    let ca = pem_cert("ca.pem");
    let ca = Certificate::parse(&ca).expect("ca");
    assert_eq!(ca.subject_name().expect("name"), "CN=ca.corral.test");
    assert_eq!(ca.is_ca, Some(true));
    assert_eq!(ca.version, 3);
}

fn settings(key_store: &str, trust: Option<&str>, auth: ClientAuth) -> TlsSettings {
    let spec = |name: &str| StoreSpec {
        location: fixture(name),
        password: Some("apassword".into()),
        store_type: None,
    };
    TlsSettings {
        key_store: spec(key_store),
        trust_store: trust.map(spec),
        client_auth: auth,
        protocols: vec![TlsVersion::Tls12, TlsVersion::Tls13],
        cipher_suites: None,
    }
}

#[test]
fn server_configurations_build_from_jks_and_pem() {
    ServerTls::new(&settings(
        "keystore.jks",
        Some("truststore.jks"),
        ClientAuth::Need,
    ))
    .expect("jks");
    ServerTls::new(&settings(
        "server-keystore.pem",
        Some("ca.pem"),
        ClientAuth::Want,
    ))
    .expect("pem");
    ServerTls::new(&settings("server-keystore.pem", None, ClientAuth::None)).expect("no auth");
    let err = ServerTls::new(&settings("keystore.jks", None, ClientAuth::Need))
        .expect_err("need without a trust store");
    assert!(matches!(err, TlsError::Settings(_)), "{err}");
    let err =
        ServerTls::new(&settings("truststore.jks", None, ClientAuth::None)).expect_err("no key");
    assert!(err.to_string().contains("no private key"), "{err}");
    let mut s = settings("keystore.jks", None, ClientAuth::None);
    s.cipher_suites = Some(vec!["TLS_RSA_WITH_NULL_MD5".into()]);
    assert!(ServerTls::new(&s).is_err());
    s.cipher_suites = Some(vec![
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into(),
        "TLS_AES_128_GCM_SHA256".into(),
    ]);
    ServerTls::new(&s).expect("named suites");
}

#[test]
fn a_key_that_does_not_match_its_certificate_is_refused_at_start() {
    let dir = std::env::temp_dir().join(format!("corral-tls-mismatch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let path = dir.join("mismatch.pem");
    let mut text = read("server.pem");
    text.extend(read("client-key.pem"));
    std::fs::write(&path, text).expect("write");
    let s = TlsSettings {
        key_store: StoreSpec {
            location: path,
            password: None,
            store_type: None,
        },
        client_auth: ClientAuth::None,
        ..TlsSettings::default()
    };
    let err = ServerTls::new(&s).expect_err("mismatch");
    assert!(err.to_string().contains("does not match"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Chains through intermediate CAs (fixtures/make-chains.sh). Java's trust manager
/// (TrustManagerFactory PKIX, checkClientTrusted) gives the same outcomes for each:
/// int-leaf via int-ca accepted; int2-leaf via int2-ca and int-ca refused ("pathLenConstraint
/// violated"); nosign-leaf via nosign-ca refused ("keyCertSign bit is not set").
#[test]
fn intermediates_must_allow_certificate_signing_within_their_path_length() {
    let anchors = vec![pem_cert("ca.pem")];
    let int_ca = pem_cert("int-ca.pem");
    let parsed = Certificate::parse(&int_ca).expect("int-ca");
    assert_eq!(
        (parsed.is_ca, parsed.path_len, parsed.key_cert_sign),
        (Some(true), Some(0), Some(true))
    );
    let leaf = pem_cert("int-leaf.pem");
    verify_chain(&leaf, &[int_ca.as_slice()], &anchors, NOW).expect("leaf <- int-ca <- ca");
    // Without its intermediate the leaf does not chain.
    assert!(verify_chain(&leaf, &[], &anchors, NOW).is_err());

    let int2_ca = pem_cert("int2-ca.pem");
    let int2_leaf = pem_cert("int2-leaf.pem");
    let err = verify_chain(
        &int2_leaf,
        &[int2_ca.as_slice(), int_ca.as_slice()],
        &anchors,
        NOW,
    )
    .expect_err("int-ca has pathlen:0 and int2-ca under it");
    assert!(err.to_string().contains("pathLenConstraint"), "{err}");

    let nosign_ca = pem_cert("nosign-ca.pem");
    assert_eq!(
        Certificate::parse(&nosign_ca)
            .expect("nosign")
            .key_cert_sign,
        Some(false)
    );
    let err = verify_chain(
        &pem_cert("nosign-leaf.pem"),
        &[nosign_ca.as_slice()],
        &anchors,
        NOW,
    )
    .expect_err("nosign-ca may not sign certificates");
    assert!(err.to_string().contains("keyCertSign"), "{err}");
}

/// Redundant length bytes (BER, not DER). Java 17's CertificateFactory parses both cases
/// below and its trust manager accepts both (it checks the signature over a re-encoding of the
/// TBSCertificate with minimal lengths). With x509-parser Corral now accepts the first, as
/// Java does (the old DER reader refused it); the second stays refused, since the signature
/// is checked over the bytes as sent, which are not the bytes the CA signed. No client
/// re-encodes a certificate it was issued, so the remaining difference is theoretical.
#[test]
fn redundant_length_bytes_outside_and_inside_the_signed_part() {
    let anchors = vec![pem_cert("ca.pem")];
    let client = pem_cert("client.pem");
    // The outer SEQUENCE's length in one more byte than needed: 30 82 xx xx -> 30 83 00 xx xx.
    assert_eq!(client[1], 0x82, "a certificate of 256..65535 bytes");
    let mut outer = vec![0x30, 0x83, 0x00];
    outer.extend_from_slice(&client[2..]);
    verify_chain(&outer, &[], &anchors, NOW).expect("Java accepts it too");
    // The same inside the signed part (the TBSCertificate at offset 4).
    assert_eq!(client[5], 0x82);
    let mut inner = client[..4].to_vec();
    let outer_len = u16::from_be_bytes([client[2], client[3]]) + 1;
    inner[2..4].copy_from_slice(&outer_len.to_be_bytes());
    inner.extend_from_slice(&[0x30, 0x83, 0x00]);
    inner.extend_from_slice(&client[6..]);
    let err = verify_chain(&inner, &[], &anchors, NOW).expect_err("signed bytes changed");
    assert!(
        err.to_string().contains("not signed by a trusted CA"),
        "{err}"
    );
}

/// An element after the signature inside the Certificate SEQUENCE: Java 17 refuses it
/// ("signed overrun, bytes = 2"); x509-parser would read past it, corral-tls checks.
#[test]
fn an_element_after_the_signature_is_refused() {
    let client = pem_cert("client.pem");
    let len = u16::from_be_bytes([client[2], client[3]]) + 2;
    let mut overrun = vec![0x30, 0x82];
    overrun.extend_from_slice(&len.to_be_bytes());
    overrun.extend_from_slice(&client[4..]);
    overrun.extend_from_slice(&[0x05, 0x00]);
    let err = Certificate::parse(&overrun).expect_err("signed overrun");
    assert!(
        err.to_string()
            .contains("trailing bytes after the signature"),
        "{err}"
    );
}
