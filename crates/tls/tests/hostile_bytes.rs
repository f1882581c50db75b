//! The parsers of untrusted bytes that remain ours, fed arbitrary and mutated input: the JKS
//! reader (a store file), and our checks around x509-parser (client certificates come from
//! the network). Each must return an error or a value, never panic. The number of cases per
//! property is proptest's (256); `PROPTEST_CASES=100000 cargo test -p corral-tls --test
//! hostile_bytes` runs longer, and `cargo xtask fuzz` runs the cargo-fuzz targets (fuzz/).

use std::path::PathBuf;

use corral_tls::keystore::{read_jks, read_pem};
use corral_tls::verify::verify_chain;
use corral_tls::x509::Certificate;
use proptest::prelude::*;
use ring::digest::{Context, SHA1_FOR_LEGACY_USE_ONLY};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn pem_cert(name: &str) -> Vec<u8> {
    read_pem(&fixture(name)).expect("pem").trusted[0].to_vec()
}

const PASSWORD: &str = "apassword";

/// `body` with a valid JKS integrity check for PASSWORD, so the reader gets past it.
fn seal(body: &[u8]) -> Vec<u8> {
    let mut ctx = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
    for unit in PASSWORD.encode_utf16() {
        ctx.update(&unit.to_be_bytes());
    }
    ctx.update(b"Mighty Aphrodite");
    ctx.update(body);
    let mut out = body.to_vec();
    out.extend_from_slice(ctx.finish().as_ref());
    out
}

/// Up to 8 (position, xor) byte flips, then a cut at `cut` (fraction of the length).
fn mutate(mut bytes: Vec<u8>, flips: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    for &(at, x) in flips {
        if !bytes.is_empty() {
            let at = at % bytes.len();
            bytes[at] ^= x;
        }
    }
    if let Some(c) = cut {
        bytes.truncate(c % (bytes.len() + 1));
    }
    bytes
}

fn flips() -> impl Strategy<Value = Vec<(usize, u8)>> {
    proptest::collection::vec((any::<usize>(), 1u8..=255), 0..8)
}

fn exercise_certificate(der: &[u8]) {
    if let Ok(cert) = Certificate::parse(der) {
        let _ = cert.subject_name();
    }
    let anchors = vec![pem_cert("ca.pem")];
    let _ = verify_chain(der, &[], &anchors, 1_893_456_000);
    let _ = verify_chain(&pem_cert("int-leaf.pem"), &[der], &anchors, 1_893_456_000);
}

proptest! {
    #[test]
    fn jks_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = read_jks(&bytes, None);
        let _ = read_jks(&seal(&bytes), Some(PASSWORD));
    }

    /// The keytool-made store, damaged, with its integrity check recomputed so the entries
    /// and the protected key are parsed.
    #[test]
    fn jks_damaged_store(flips in flips(), cut in proptest::option::of(any::<usize>())) {
        let store = fixture("keystore.jks");
        let body = mutate(store[..store.len() - 20].to_vec(), &flips, cut);
        let _ = read_jks(&seal(&body), Some(PASSWORD));
        let _ = read_jks(&body, None);
    }

    #[test]
    fn certificate_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        exercise_certificate(&bytes);
    }

    #[test]
    fn certificate_damaged(
        which in prop::sample::select(vec!["client.pem", "int-ca.pem", "server-only.pem", "ca.pem"]),
        flips in flips(),
        cut in proptest::option::of(any::<usize>()),
    ) {
        exercise_certificate(&mutate(pem_cert(which), &flips, cut));
    }
}
