//! The `digest` scheme's authentication: `addauth digest user:password` authenticates as the
//! id `user:base64(sha1("user:password"))`, exactly as ZooKeeper's
//! DigestAuthenticationProvider computes it. SHA-1 (FIPS 180-4) is RustCrypto's `sha1` and
//! base64 (RFC 4648, with padding) the `base64` crate; the published vectors below pin both.

use crate::Id;

/// The digest id for `user:password` credentials: `user:base64(sha1(user:password))`.
/// Credentials without a `:` hash the whole string and use it as the user, as ZooKeeper does.
pub fn digest_id(credentials: &str) -> String {
    let user = credentials.split(':').next().unwrap_or_default();
    format!("{user}:{}", base64(&sha1(credentials.as_bytes())))
}

/// The ids a session gains from `addauth digest <credentials>`: the digest id, and `super`
/// first when it equals the configured super digest (`user:base64hash`, ZooKeeper's
/// `zookeeper.DigestAuthenticationProvider.superDigest`).
pub fn authenticate_digest(credentials: &str, super_digest: Option<&str>) -> Vec<Id> {
    let id = digest_id(credentials);
    let mut ids = Vec::with_capacity(2);
    if super_digest == Some(id.as_str()) {
        ids.push(Id {
            scheme: "super".into(),
            id: String::new(),
        });
    }
    ids.push(Id {
        scheme: "digest".into(),
        id,
    });
    ids
}

/// SHA-1 of `data` (RustCrypto's `sha1`).
pub fn sha1(data: &[u8]) -> [u8; 20] {
    use sha1::Digest;
    sha1::Sha1::digest(data).into()
}

/// Standard base64 with `=` padding (RFC 4648; the `base64` crate's STANDARD engine).
pub fn base64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn sha1_matches_published_vectors() {
        assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            hex(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex(&sha1(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        assert_eq!(
            hex(&sha1(&[b'a'; 1_000_000])),
            "34aa973cd4c4daa4f61eeb2bdbad27316534016f"
        );
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    /// ZooKeeper's documented example: `super:test` hashes to `super:D/InIHSb7yEEbrWz8b9l71RjZJU=`
    /// (the value its docs give for the superDigest of password "test").
    #[test]
    fn digest_id_matches_zookeeper() {
        assert_eq!(
            digest_id("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
        let ids = authenticate_digest("super:test", Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU="));
        assert_eq!(ids[0].scheme, "super");
        assert_eq!(ids[1].id, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
        assert_eq!(authenticate_digest("bob:pw", None).len(), 1);
    }
}
