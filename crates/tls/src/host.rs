//! Host name verification of another server's certificate, by ZooKeeper 3.8's rules for its
//! quorum TLS (`ssl.quorum.hostnameVerification`, on by default: `ZKTrustManager` checks both
//! the server a peer dials and the peer that dials it, with `ZKHostnameVerifier`):
//! - an IPv4 or IPv6 host must equal one of the certificate's subjectAltName iPAddress
//!   entries (IPv6 compared as addresses, so `::1` and `0:0:0:0:0:0:0:1` are the same);
//! - a host name must match one of its dNSName entries, ignoring case; an entry may hold one
//!   `*`, which stands for part of one label only (`*.corral.test` matches `a.corral.test`,
//!   not `a.b.corral.test`);
//! - only a certificate with neither kind of entry falls back to its subject's most specific
//!   common name, matched as a dNSName entry.
//!
//! What it is not: no reverse DNS lookup (ZooKeeper tries the peer's address, then the name a
//! reverse lookup gives; Corral checks the host the server list names, see corral-peer).

use std::net::IpAddr;

use crate::x509::Certificate;
use crate::TlsError;

/// Checks that the certificate `end_entity` (DER) names `host` (a DNS name, or an IP address,
/// IPv6 possibly in brackets).
pub fn check_host(end_entity: &[u8], host: &str) -> Result<(), TlsError> {
    let names = Certificate::parse(end_entity)?.host_names()?;
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let refuse = |what: String| {
        Err(TlsError::Certificate(format!(
            "certificate does not name host {host}: {what}"
        )))
    };
    if names.dns.is_empty() && names.ips.is_empty() {
        return match &names.common_name {
            Some(cn) if matches_identity(&host.to_ascii_lowercase(), &cn.to_ascii_lowercase()) => {
                Ok(())
            }
            Some(cn) => refuse(format!("no subjectAltName, common name {cn}")),
            None => refuse("no subjectAltName and no common name".into()),
        };
    }
    if let Ok(ip) = bare.parse::<IpAddr>() {
        if names.ips.contains(&ip) {
            return Ok(());
        }
        return refuse(format!("subjectAltName addresses {:?}", names.ips));
    }
    let wanted = host.to_ascii_lowercase();
    if names
        .dns
        .iter()
        .any(|d| matches_identity(&wanted, &d.to_ascii_lowercase()))
    {
        return Ok(());
    }
    refuse(format!("subjectAltName names {:?}", names.dns))
}

/// RFC 2818's match with at most one `*`, which may not stand for a dot (both lower case).
fn matches_identity(host: &str, identity: &str) -> bool {
    let Some(star) = identity.find('*') else {
        return host == identity;
    };
    let (prefix, suffix) = (&identity[..star], &identity[star + 1..]);
    host.len() >= prefix.len() + suffix.len()
        && host.starts_with(prefix)
        && host.ends_with(suffix)
        && !host[prefix.len()..host.len() - suffix.len()].contains('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let spec = crate::StoreSpec {
            location: path.into(),
            password: None,
            store_type: None,
        };
        let contents = spec.load().expect("fixture");
        let (_, chain) = contents.key.expect("a key entry");
        chain[0].to_vec()
    }

    #[test]
    fn dns_names_match_their_own_host_only() {
        let one = der("peer1-keystore.pem");
        assert!(check_host(&one, "peer1.corral.test").is_ok());
        assert!(check_host(&one, "PEER1.Corral.Test").is_ok());
        for other in [
            "peer2.corral.test",
            "peer1.corral.test.evil",
            "corral.test",
            "127.0.0.1",
        ] {
            let e = check_host(&one, other).expect_err(other).to_string();
            assert!(e.contains(&format!("does not name host {other}")), "{e}");
        }
        // A subjectAltName present: its CN (peer1.corral.test here too) is not consulted.
        let ip = der("peer-ip-keystore.pem");
        assert!(check_host(&ip, "peer-ip.corral.test").is_err());
    }

    #[test]
    fn addresses_and_wildcards() {
        let ip = der("peer-ip-keystore.pem");
        for ok in [
            "127.0.0.1",
            "::1",
            "[::1]",
            "0:0:0:0:0:0:0:1",
            "a.wild.corral.test",
        ] {
            assert!(check_host(&ip, ok).is_ok(), "{ok}");
        }
        for bad in [
            "127.0.0.2",
            "::2",
            "a.b.wild.corral.test",
            "wild.corral.test",
        ] {
            assert!(check_host(&ip, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn common_name_only_without_subject_alt_names() {
        // server.pem: version 1, CN=localhost, no extensions.
        let v1 = der("server-keystore.pem");
        assert!(check_host(&v1, "localhost").is_ok());
        assert!(check_host(&v1, "LOCALHOST").is_ok());
        let e = check_host(&v1, "127.0.0.1").unwrap_err().to_string();
        assert!(e.contains("common name localhost"), "{e}");
    }

    #[test]
    fn wildcard_rules() {
        assert!(matches_identity("a.x.test", "*.x.test"));
        assert!(matches_identity("web1.x.test", "web*.x.test"));
        assert!(!matches_identity("a.b.x.test", "*.x.test"));
        assert!(!matches_identity("x.test", "*.x.test"));
        assert!(!matches_identity("ab", "a*ab"));
    }
}
