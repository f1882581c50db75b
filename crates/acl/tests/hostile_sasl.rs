//! The DIGEST-MD5 server fed arbitrary and directive-shaped tokens as the client's response
//! (the directive parser and everything after it read bytes from the network): each token
//! gives an error or a step, never a panic. 256 cases per property; `PROPTEST_CASES=100000`
//! runs longer, and `cargo xtask fuzz` runs the cargo-fuzz target (fuzz/).

use corral_acl::sasl::{DigestCredentials, DigestMd5Server, NONCE_LEN};
use proptest::prelude::*;

fn credentials() -> DigestCredentials {
    DigestCredentials::from_pairs([("bob", "secret")])
}

fn respond(token: &[u8]) {
    let creds = credentials();
    let mut server = DigestMd5Server::new();
    let _ = server.evaluate(b"", &[7; NONCE_LEN], &creds);
    let _ = server.evaluate(token, &[7; NONCE_LEN], &creds);
    assert!(server.is_finished());
    let _ = server.evaluate(token, &[7; NONCE_LEN], &creds);
}

/// A list of `key=value` / `key="quoted \" value"` elements with odd separators.
fn directive_list() -> impl Strategy<Value = Vec<u8>> {
    let key = prop::sample::select(vec![
        "username",
        "realm",
        "nonce",
        "cnonce",
        "qop",
        "digest-uri",
        "response",
        "authzid",
        "charset",
        "maxbuf",
        "nc",
        "x",
        "",
        "USERNAME",
    ]);
    let value = "[ -~\\t\\r\\n]{0,12}";
    let element = (key, value, any::<bool>(), "[ ,\\t]{0,3}").prop_map(|(k, v, quoted, sep)| {
        if quoted {
            format!("{k}=\"{}\"{sep}", v.replace('"', "\\\""))
        } else {
            format!("{k}={v}{sep}")
        }
    });
    proptest::collection::vec(element, 0..12).prop_map(|e| e.concat().into_bytes())
}

proptest! {
    #[test]
    fn arbitrary_responses(token in proptest::collection::vec(any::<u8>(), 0..600)) {
        respond(&token);
    }

    #[test]
    fn directive_shaped_responses(token in directive_list()) {
        respond(&token);
    }
}
