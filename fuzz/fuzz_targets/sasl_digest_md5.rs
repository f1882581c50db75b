//! The client's DIGEST-MD5 response (directive list, then its checks) as the server gets it
//! in a sasl request.
#![no_main]

use corral_acl::sasl::{DigestCredentials, DigestMd5Server, NONCE_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let creds = DigestCredentials::from_pairs([("bob", "secret")]);
    let mut server = DigestMd5Server::new();
    let _ = server.evaluate(b"", &[7; NONCE_LEN], &creds);
    let _ = server.evaluate(data, &[7; NONCE_LEN], &creds);
});
