//! CPU cost of checking a client certificate chain, the part of a TLS handshake that
//! corral-tls does itself (parsing, the Java-compatible checks, the signature with ring).
//!
//! `cargo run --release -p corral-tls --example verify_cost -- [iterations]` checks the
//! test fixtures' version 1 client certificate against the CA, and a leaf through one
//! intermediate, and prints the time per check.

use std::time::Instant;

use corral_tls::keystore::read_pem;
use corral_tls::verify::verify_chain;

fn cert(name: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let store = read_pem(&std::fs::read(path)?)?;
    Ok(store.trusted[0].to_vec())
}

/// A labelled chain: leaf and intermediates.
type Case = (&'static str, Vec<u8>, Vec<Vec<u8>>);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(5_000);
    let anchors = vec![cert("ca.pem")?];
    let client = cert("client.pem")?;
    let now = 1_893_456_000;
    let mut cases: Vec<Case> = vec![("v1 client <- ca", client, vec![])];
    if let (Ok(leaf), Ok(int)) = (cert("int-leaf.pem"), cert("int-ca.pem")) {
        cases.push(("client <- intermediate <- ca", leaf, vec![int]));
    }
    for (label, leaf, inter) in &cases {
        let inter: Vec<&[u8]> = inter.iter().map(Vec::as_slice).collect();
        verify_chain(leaf, &inter, &anchors, now)?;
        let start = Instant::now();
        for _ in 0..n {
            verify_chain(leaf, &inter, &anchors, now)?;
        }
        println!(
            "{label}: {:.1} us per verify_chain",
            start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        );
    }
    Ok(())
}
