//! Tests of `check` (ZooKeeperServer.checkACL) and `fixup_acl` (PrepRequestProcessor.fixupACL).

use super::*;
use proptest::prelude::*;

fn id(scheme: &str, id: &str) -> Id {
    Id {
        scheme: scheme.into(),
        id: id.into(),
    }
}

fn acl(perms: i32, scheme: &str, i: &str) -> Acl {
    Acl {
        perms,
        id: id(scheme, i),
    }
}

#[test]
fn well_known_acls() {
    assert_eq!(open_acl_unsafe(), vec![acl(31, "world", "anyone")]);
    assert_eq!(read_acl_unsafe(), vec![acl(1, "world", "anyone")]);
    assert_eq!(creator_all_acl(), vec![acl(31, "auth", "")]);
}

#[test]
fn empty_acl_allows_everything() {
    assert!(check(&[], perms::ADMIN, &[]));
}

#[test]
fn super_session_allows_everything() {
    let a = vec![acl(perms::READ, "digest", "bob:x")];
    assert!(check(&a, perms::ADMIN, &[id("super", "")]));
    assert!(!check(&a, perms::ADMIN, &[id("digest", "bob:x")]));
}

#[test]
fn an_acl_entry_of_scheme_super_grants_nothing() {
    let a = vec![acl(perms::ALL, "super", "")];
    assert!(!check(&a, perms::READ, &[id("digest", "x:y")]));
}

#[test]
fn world_anyone_matches_everyone_with_the_bit() {
    let a = read_acl_unsafe();
    assert!(check(&a, perms::READ, &[]));
    assert!(!check(&a, perms::WRITE, &[]));
    // world with another id matches nobody.
    let b = vec![acl(perms::ALL, "world", "someone")];
    assert!(!check(&b, perms::READ, &[id("world", "someone")]));
}

#[test]
fn digest_matches_exactly_and_needs_the_bit() {
    let a = vec![
        acl(perms::READ, "digest", "alice:h1"),
        acl(perms::WRITE, "digest", "bob:h2"),
    ];
    let alice = [id("digest", "alice:h1")];
    let bob = [id("digest", "bob:h2")];
    assert!(check(&a, perms::READ, &alice));
    assert!(!check(&a, perms::WRITE, &alice));
    assert!(check(&a, perms::WRITE, &bob));
    assert!(!check(&a, perms::READ, &[id("digest", "alice:h2")]));
    // Same id string, other scheme: no match.
    assert!(!check(&a, perms::READ, &[id("ip", "alice:h1")]));
}

#[test]
fn ip_matches_networks() {
    let a = vec![acl(perms::ALL, "ip", "10.0.0.0/8")];
    assert!(check(&a, perms::READ, &[id("ip", "10.9.8.7")]));
    assert!(!check(&a, perms::READ, &[id("ip", "11.9.8.7")]));
    let b = vec![acl(perms::ALL, "ip", "127.0.0.1")];
    assert!(check(&b, perms::READ, &[id("ip", "127.0.0.1")]));
}

#[test]
fn any_requested_bit_suffices() {
    let a = vec![acl(perms::READ, "world", "anyone")];
    assert!(check(&a, perms::READ | perms::WRITE, &[]));
}

#[test]
fn fixup_refuses_empty() {
    assert_eq!(fixup_acl(&[], &[]), Err(AclError::Empty));
    assert_eq!(AclError::Empty.code(), ErrorCode::InvalidAcl);
}

#[test]
fn fixup_keeps_world_anyone_and_removes_duplicates() {
    let a = vec![
        acl(perms::READ, "world", "anyone"),
        acl(perms::READ, "world", "anyone"),
        acl(perms::ALL, "world", "anyone"),
    ];
    assert_eq!(
        fixup_acl(&a, &[]),
        Ok(vec![
            acl(perms::READ, "world", "anyone"),
            acl(perms::ALL, "world", "anyone")
        ])
    );
}

#[test]
fn fixup_expands_auth_to_authenticated_ids_only() {
    let session = [
        id("ip", "127.0.0.1"),
        id("super", ""),
        id("digest", "alice:h1"),
        id("digest", "bob:h2"),
    ];
    assert_eq!(
        fixup_acl(&[acl(perms::READ, "auth", "ignored")], &session),
        Ok(vec![
            acl(perms::READ, "digest", "alice:h1"),
            acl(perms::READ, "digest", "bob:h2")
        ])
    );
}

#[test]
fn fixup_auth_without_authenticated_id_is_invalid() {
    assert_eq!(
        fixup_acl(
            &creator_all_acl(),
            &[id("ip", "127.0.0.1"), id("super", "")]
        ),
        Err(AclError::NoAuthenticatedId)
    );
    assert_eq!(
        fixup_acl(&creator_all_acl(), &[]),
        Err(AclError::NoAuthenticatedId)
    );
}

#[test]
fn fixup_does_not_dedup_after_expansion() {
    let session = [id("digest", "alice:h1")];
    let a = vec![
        acl(perms::ALL, "auth", ""),
        acl(perms::ALL, "digest", "alice:h1"),
    ];
    assert_eq!(
        fixup_acl(&a, &session),
        Ok(vec![
            acl(perms::ALL, "digest", "alice:h1"),
            acl(perms::ALL, "digest", "alice:h1")
        ])
    );
}

#[test]
fn fixup_refuses_unknown_schemes_and_malformed_ids() {
    let bad = [
        acl(perms::ALL, "world", "someone"),
        acl(perms::ALL, "super", ""),
        acl(perms::ALL, "sasl", "alice"),
        acl(perms::ALL, "", ""),
    ];
    for a in bad {
        assert!(
            matches!(
                fixup_acl(std::slice::from_ref(&a), &[]),
                Err(AclError::UnknownScheme(_))
            ),
            "{a:?}"
        );
    }
    let malformed = [
        acl(perms::ALL, "digest", "alice"),
        acl(perms::ALL, "digest", "alice:"),
        acl(perms::ALL, "digest", "a:b:c"),
        acl(perms::ALL, "ip", "10.0.0"),
        acl(perms::ALL, "ip", "10.0.0.0/40"),
        acl(perms::ALL, "ip", "host.example"),
    ];
    for a in malformed {
        assert!(
            matches!(
                fixup_acl(std::slice::from_ref(&a), &[]),
                Err(AclError::MalformedId { .. })
            ),
            "{a:?}"
        );
    }
    let good = [
        acl(perms::ALL, "digest", "alice:h1"),
        acl(perms::ALL, "digest", ":h1"),
        acl(perms::ALL, "ip", "10.0.0.0/8"),
        acl(perms::ALL, "ip", "::1"),
    ];
    for a in good {
        assert_eq!(fixup_acl(std::slice::from_ref(&a), &[]), Ok(vec![a]));
    }
}

#[test]
fn fixup_stops_at_the_first_bad_entry() {
    let a = vec![
        acl(perms::ALL, "world", "anyone"),
        acl(perms::ALL, "nope", "x"),
    ];
    assert_eq!(
        fixup_acl(&a, &[]),
        Err(AclError::UnknownScheme("nope".into()))
    );
}

proptest! {
    #[test]
    fn fixed_up_acl_grants_what_it_lists(perms_bits in 1i32..32, user in "[a-z]{1,8}", hash in "[A-Za-z0-9+/=]{1,12}") {
        let session = vec![id("digest", &format!("{user}:{hash}"))];
        let fixed = fixup_acl(&[acl(perms_bits, "auth", "")], &session).unwrap();
        for bit in [perms::READ, perms::WRITE, perms::CREATE, perms::DELETE, perms::ADMIN] {
            prop_assert_eq!(check(&fixed, bit, &session), perms_bits & bit != 0);
            prop_assert!(!check(&fixed, bit, &[]));
        }
    }
}

/// `sasl` ACLs exist only with SASLAuthenticationProvider registered (zoo.cfg
/// `authProvider.N=org.apache.zookeeper.server.auth.SASLAuthenticationProvider`).
#[test]
fn sasl_scheme_needs_its_provider() {
    let sasl = Providers::BUILT_IN.with_sasl();
    let entry = [acl(perms::ALL, "sasl", "alice")];
    let alice = [id("sasl", "alice")];
    assert_eq!(
        fixup_acl(&entry, &[]),
        Err(AclError::UnknownScheme("sasl".into()))
    );
    assert_eq!(fixup_acl_with(&entry, &[], sasl), Ok(entry.to_vec()));
    assert!(!check(&entry, perms::READ, &alice));
    assert!(check_with(&entry, perms::READ, &alice, sasl));
    assert!(!check_with(&entry, perms::READ, &[id("sasl", "bob")], sasl));
    // SASLAuthenticationProvider.matches: the sasl id "super" matches any sasl entry.
    assert!(check_with(
        &entry,
        perms::READ,
        &[id("sasl", "super")],
        sasl
    ));
    assert!(!check_with(
        &entry,
        perms::READ,
        &[id("digest", "alice")],
        sasl
    ));
    // `auth` expands to sasl ids only when the provider is registered.
    let auth = creator_all_acl();
    let session = [id("ip", "127.0.0.1"), id("sasl", "alice")];
    assert_eq!(fixup_acl(&auth, &session), Err(AclError::NoAuthenticatedId));
    assert_eq!(
        fixup_acl_with(&auth, &session, sasl),
        Ok(vec![acl(perms::ALL, "sasl", "alice")])
    );
    // Ids must be names KerberosName accepts.
    for bad in ["a@b@c", "a/b/c@R"] {
        assert!(matches!(
            fixup_acl_with(&[acl(perms::ALL, "sasl", bad)], &[], sasl),
            Err(AclError::MalformedId { .. })
        ));
    }
    for good in ["", "bob/host", "bob/host@EX.COM", "bob@"] {
        assert!(fixup_acl_with(&[acl(perms::ALL, "sasl", good)], &[], sasl).is_ok());
    }
}

/// `x509` ACLs exist only with X509AuthenticationProvider registered (a secure client port);
/// ids are certificate subjects, matched exactly.
#[test]
fn x509_scheme_needs_its_provider() {
    let x509 = Providers::BUILT_IN.with_x509();
    let entry = [acl(perms::ALL, "x509", "CN=client,O=Example")];
    let client = [id("x509", "CN=client,O=Example")];
    assert_eq!(
        fixup_acl(&entry, &[]),
        Err(AclError::UnknownScheme("x509".into()))
    );
    assert_eq!(fixup_acl_with(&entry, &[], x509), Ok(entry.to_vec()));
    assert!(!check(&entry, perms::READ, &client));
    assert!(check_with(&entry, perms::READ, &client, x509));
    assert!(!check_with(
        &entry,
        perms::READ,
        &[id("x509", "CN=client")],
        x509
    ));
    // Both extra providers at once.
    let both = Providers::BUILT_IN.with_sasl().with_x509();
    assert!(both.sasl && both.x509);
    let auth = creator_all_acl();
    assert_eq!(
        fixup_acl_with(&auth, &[id("ip", "127.0.0.1"), id("x509", "CN=c")], x509),
        Ok(vec![acl(perms::ALL, "x509", "CN=c")])
    );
    for bad in ["", "client", "CN=a,client", "=x", "CN=\"open"] {
        assert!(
            matches!(
                fixup_acl_with(&[acl(perms::ALL, "x509", bad)], &[], x509),
                Err(AclError::MalformedId { .. })
            ),
            "{bad:?}"
        );
    }
    for good in [
        "CN=a",
        "CN=a\\,b,O=x",
        "CN=\"a,b\"",
        "cn=a+uid=b;o=x",
        "1.2.3=#0101",
    ] {
        assert!(
            fixup_acl_with(&[acl(perms::ALL, "x509", good)], &[], x509).is_ok(),
            "{good:?}"
        );
    }
}
