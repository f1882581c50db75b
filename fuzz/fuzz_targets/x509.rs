//! A client certificate as the TLS handshake hands it over: parsed, its subject printed as
//! the x509 id, and checked as a leaf and as an intermediate against a CA.
#![no_main]

use corral_tls::verify::verify_chain;
use corral_tls::x509::Certificate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = Certificate::parse(data) {
        let _ = cert.subject_name();
    }
    let _ = verify_chain(data, &[], &[data.to_vec()], 1_893_456_000);
    let _ = verify_chain(data, &[data], &[], 1_893_456_000);
});
