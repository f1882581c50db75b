//! DIGEST-MD5 against RFC 2831's worked example and an exchange captured from Apache
//! ZooKeeper 3.8.0 (JDK 17's SaslServer) with kazoo's pure-sasl client; the JAAS parser.

use super::digest_md5::{response_value, DigestInputs};
use super::*;
use crate::base64;

/// RFC 2831 section 4: user chris, password secret, realm elwood.innosoft.com.
#[test]
fn rfc_2831_worked_example() {
    let inputs = DigestInputs {
        username: "chris",
        realm: "elwood.innosoft.com",
        password: "secret",
        nonce: b"OA6MG9tEQGm2hh",
        cnonce: b"OA6MHXh6VqTrRk",
        authzid: None,
        digest_uri: "imap/elwood.innosoft.com",
    };
    assert_eq!(
        response_value(&inputs, "AUTHENTICATE"),
        "d388dad90d4bbd760a152321f2143af7"
    );
    assert_eq!(
        response_value(&inputs, ""),
        "ea40f60335c427b5527b84dbabcdfffd"
    );
}

/// The nonce ZooKeeper sent in the captured exchange, as the 30 random bytes behind it.
const CAPTURED_NONCE_BYTES: [u8; NONCE_LEN] = [
    235, 213, 37, 96, 64, 226, 114, 250, 110, 216, 152, 179, 203, 181, 4, 91, 75, 170, 216, 36,
    204, 244, 186, 233, 66, 221, 127, 231, 14, 11,
];

fn kazoo_users() -> DigestCredentials {
    DigestCredentials::from_pairs([("super", "super_secret"), ("jaasuser", "jaas_password")])
}

fn challenge(server: &mut DigestMd5Server, nonce: &[u8; NONCE_LEN]) -> String {
    match server.evaluate(b"", nonce, &kazoo_users()) {
        Ok(Step::Challenge(c)) => String::from_utf8(c).expect("ascii challenge"),
        other => panic!("expected a challenge, got {other:?}"),
    }
}

/// Apache ZooKeeper 3.8.0 and pure-sasl 0.6.2 (kazoo's `sasl_options` DIGEST-MD5), byte for
/// byte: the server's challenge, the client's response, the server's rspauth.
#[test]
fn exchange_captured_from_zookeeper() {
    let mut server = DigestMd5Server::new();
    assert_eq!(
        challenge(&mut server, &CAPTURED_NONCE_BYTES),
        "realm=\"zk-sasl-md5\",nonce=\"69UlYEDicvpu2Jizy7UEW0uq2CTM9LrpQt1/5w4L\",\
         charset=utf-8,algorithm=md5-sess"
    );
    let response = b"qop=auth,realm=\"zk-sasl-md5\",username=\"jaasuser\",\
        nonce=\"69UlYEDicvpu2Jizy7UEW0uq2CTM9LrpQt1/5w4L\",cnonce=\"4580658843294724\",\
        nc=00000001,digest-uri=\"zookeeper/zk-sasl-md5\",\
        response=bc3a28048a761c1765ea2481159b60df";
    assert_eq!(
        server.evaluate(response, &[0; NONCE_LEN], &kazoo_users()),
        Ok(Step::Success {
            rspauth: b"rspauth=fac88c74e3ce361dce5413b3c25122c3".to_vec(),
            authorization_id: "jaasuser".into(),
        })
    );
    assert!(server.is_finished());
    // Java's server is done after one exchange: anything more is refused.
    assert_eq!(
        server.evaluate(b"", &[0; NONCE_LEN], &kazoo_users()),
        Err(SaslError::AlreadyFinished)
    );
}

const NONCE: [u8; NONCE_LEN] = [7; NONCE_LEN];

/// A client's digest-response to `nonce` for `user`/`password`, plus `extra` directives.
fn client_response(nonce: &str, user: &str, password: &str, extra: &str) -> Vec<u8> {
    client_response_for_uri(nonce, user, password, DIGEST_URI, extra)
}

fn client_response_for_uri(
    nonce: &str,
    user: &str,
    password: &str,
    uri: &str,
    extra: &str,
) -> Vec<u8> {
    let inputs = DigestInputs {
        username: user,
        realm: REALM,
        password,
        nonce: nonce.as_bytes(),
        cnonce: b"c1",
        authzid: None,
        digest_uri: uri,
    };
    let digest = response_value(&inputs, "AUTHENTICATE");
    format!(
        "username=\"{user}\",realm=\"{REALM}\",nonce=\"{nonce}\",cnonce=\"c1\",nc=00000001,\
         qop=auth,digest-uri=\"{uri}\",response={digest}{extra}"
    )
    .into_bytes()
}

/// Runs a challenge, then `respond(nonce)` as the client's response.
fn exchange(respond: impl Fn(&str) -> Vec<u8>) -> Result<Step, SaslError> {
    let mut server = DigestMd5Server::new();
    let nonce = base64(&NONCE);
    let _ = challenge(&mut server, &NONCE);
    let result = server.evaluate(&respond(&nonce), &NONCE, &kazoo_users());
    assert!(server.is_finished());
    result
}

fn id_of(result: Result<Step, SaslError>) -> String {
    match result {
        Ok(Step::Success {
            authorization_id, ..
        }) => authorization_id,
        other => panic!("expected success, got {other:?}"),
    }
}

#[test]
fn good_password_authenticates_the_user() {
    assert_eq!(
        id_of(exchange(|n| client_response(
            n,
            "jaasuser",
            "jaas_password",
            ""
        ))),
        "jaasuser"
    );
    assert_eq!(
        id_of(exchange(|n| client_response(
            n,
            "super",
            "super_secret",
            ""
        ))),
        "super"
    );
}

#[test]
fn failures_have_their_own_errors() {
    let cases: Vec<(Vec<u8>, SaslError)> = {
        let n = base64(&NONCE);
        vec![
            (
                client_response(&n, "jaasuser", "wrong", ""),
                SaslError::BadPassword("jaasuser".into()),
            ),
            (
                client_response(&n, "nobody", "jaas_password", ""),
                SaslError::UnknownUser("nobody".into()),
            ),
            (
                client_response(&base64(&[8; NONCE_LEN]), "jaasuser", "jaas_password", ""),
                SaslError::NonceMismatch,
            ),
            (
                client_response(&n, "jaasuser", "jaas_password", "")
                    .replace_all(b"qop=auth", b"qop=auth-int"),
                SaslError::UnsupportedQop("auth-int".into()),
            ),
            (
                client_response(&n, "jaasuser", "jaas_password", "")
                    .replace_all(b"realm=\"zk-sasl-md5\",", b""),
                SaslError::RealmMismatch(String::new()),
            ),
            (
                client_response(&n, "jaasuser", "jaas_password", "")
                    .replace_all(b"zookeeper/zk-sasl-md5", b"zookeeper/other"),
                SaslError::DigestUriMismatch("zookeeper/other".into()),
            ),
            (
                client_response(&n, "jaasuser", "jaas_password", "")
                    .replace_all(b"cnonce=\"c1\",", b""),
                SaslError::MissingDirective("cnonce"),
            ),
            (
                client_response(&n, "jaasuser", "jaas_password", ",cnonce=\"c2\""),
                SaslError::Malformed("more than one cnonce directive".into()),
            ),
            (
                client_response(&n, "jaasuser", "jaas_password", ",charset=latin1"),
                SaslError::Malformed("incompatible charset \"latin1\"".into()),
            ),
            (b"hello".to_vec(), SaslError::MissingDirective("username")),
            (
                vec![b'x'; MAX_RESPONSE_LEN + 1],
                SaslError::ResponseTooLong(MAX_RESPONSE_LEN + 1),
            ),
        ]
    };
    for (response, expected) in cases {
        assert_eq!(
            exchange(|_| response.clone()),
            Err(expected.clone()),
            "{}",
            String::from_utf8_lossy(&response)
        );
    }
}

/// What JDK 17's server was seen to accept: upper-case keys, a case-different digest-uri,
/// no qop (auth), any nc, an unknown directive, white space and empty list elements.
#[test]
fn lenient_where_java_is() {
    let accepted: [fn(&str) -> Vec<u8>; 6] = [
        |n| {
            client_response(n, "jaasuser", "jaas_password", "")
                .replace_all(b"username", b"UserName")
        },
        |n| client_response_for_uri(n, "jaasuser", "jaas_password", "ZooKeeper/ZK-SASL-MD5", ""),
        |n| client_response(n, "jaasuser", "jaas_password", "").replace_all(b"qop=auth,", b""),
        |n| {
            client_response(n, "jaasuser", "jaas_password", "")
                .replace_all(b"nc=00000001", b"nc=zz")
        },
        |n| client_response(n, "jaasuser", "jaas_password", ",foo=\"bar\",charset=utf-8"),
        |n| client_response(n, "jaasuser", "jaas_password", ",,").replace_all(b",", b" , "),
    ];
    for respond in accepted {
        assert_eq!(id_of(exchange(respond)), "jaasuser");
    }
}

#[test]
fn an_initial_response_is_ignored_and_challenged() {
    let mut server = DigestMd5Server::new();
    let first = server.evaluate(b"junk", &NONCE, &kazoo_users());
    assert!(matches!(first, Ok(Step::Challenge(_))), "{first:?}");
    assert!(!server.is_finished());
}

#[test]
fn authorization_ids_follow_zookeeper_kerberos_names() {
    assert_eq!(authorization_id("bob", None), Ok("bob".into()));
    assert_eq!(authorization_id("bob", Some("alice")), Ok("bob".into()));
    assert_eq!(authorization_id("bob/host", None), Ok("bob/host".into()));
    assert_eq!(authorization_id("bob/host@", None), Ok("bob/host@".into()));
    // A realm no auth_to_local rule maps: ZooKeeper keeps the requested authzid.
    assert_eq!(
        authorization_id("bob@EX.COM", None),
        Ok("bob@EX.COM".into())
    );
    assert_eq!(authorization_id("bob@EX.COM", Some("al")), Ok("al".into()));
    for bad in ["a@b@c", "a/b/c@R", "a@b/c"] {
        assert_eq!(
            authorization_id(bad, None),
            Err(SaslError::InvalidUserName(bad.into()))
        );
    }
}

#[test]
fn sasl_super_users_gain_super() {
    let supers = vec!["admin".to_string()];
    assert_eq!(
        authenticate_sasl("admin", &supers),
        vec![
            Id {
                scheme: "sasl".into(),
                id: "admin".into()
            },
            Id {
                scheme: "super".into(),
                id: String::new()
            }
        ]
    );
    assert_eq!(authenticate_sasl("bob", &supers).len(), 1);
    assert_eq!(authenticate_sasl("", &[String::new()]).len(), 1);
}

/// A byte-string replace for building variants of a response.
trait ReplaceAll {
    fn replace_all(self, from: &[u8], to: &[u8]) -> Vec<u8>;
}

impl ReplaceAll for Vec<u8> {
    fn replace_all(self, from: &[u8], to: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(&self).into_owned();
        text.replace(
            std::str::from_utf8(from).unwrap_or_default(),
            std::str::from_utf8(to).unwrap_or_default(),
        )
        .into_bytes()
    }
}

mod jaas_files {
    use super::super::*;

    /// The file kazoo's test harness writes for ZOOKEEPER_JAAS_AUTH=digest.
    const KAZOO: &str = r#"
Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="super_secret"
    user_jaasuser="jaas_password";
};"#;

    #[test]
    fn kazoo_harness_file() {
        let config = JaasConfig::parse(KAZOO).expect("valid");
        let section = config.section("Server").expect("Server section");
        assert_eq!(section.modules.len(), 1);
        assert_eq!(section.modules[0].flag, ControlFlag::Required);
        assert_eq!(section.modules[0].line, 3);
        let users = DigestCredentials::from_section(section).expect("digest users");
        assert_eq!(users.users().collect::<Vec<_>>(), vec!["jaasuser", "super"]);
        assert_eq!(users.password("jaasuser"), Some("jaas_password"));
        assert_eq!(users.password("nobody"), None);
        // Debug output never shows a password.
        assert!(!format!("{users:?} {section:?}").contains("secret"));
    }

    #[test]
    fn empty_file_and_other_sections() {
        assert_eq!(JaasConfig::parse(""), Ok(JaasConfig::default()));
        assert_eq!(
            JaasConfig::parse("  // nothing\n/* at all */\n"),
            Ok(JaasConfig::default())
        );
        let config = JaasConfig::parse(
            "Client { org.apache.zookeeper.server.auth.DigestLoginModule required \
             username=\"bob\" password='pw'; };",
        )
        .expect("valid");
        assert!(config.section("Server").is_none());
        assert_eq!(config.sections[0].modules[0].options["password"], "pw");
    }

    #[test]
    fn comments_quoting_flags_and_several_entries() {
        let text = "/* header\n comment */\nServer { // the server\n\
            org.apache.zookeeper.server.auth.DigestLoginModule OPTIONAL\n\
              user_a=\"p\\\"1\" user_b=plain;\n\
            \"org.apache.zookeeper.server.auth.DigestLoginModule\" sufficient user_a=\"p2\\n\" ;\n\
            };\nOther { x.Y requisite; };\n";
        let config = JaasConfig::parse(text).expect("valid");
        let server = config.section("Server").expect("Server");
        assert_eq!(server.modules[0].flag, ControlFlag::Optional);
        assert_eq!(server.modules[1].flag, ControlFlag::Sufficient);
        assert_eq!(server.modules[1].line, 6);
        let users = DigestCredentials::from_section(server).expect("users");
        // The later entry's user_a wins, as in ZooKeeper's map.
        assert_eq!(users.password("a"), Some("p2\n"));
        assert_eq!(users.password("b"), Some("plain"));
        assert_eq!(
            config.section("Other").expect("Other").modules[0].class,
            "x.Y"
        );
    }

    fn error_line(text: &str) -> (usize, String) {
        let e = JaasConfig::parse(text).expect_err("malformed");
        (e.line, e.message)
    }

    #[test]
    fn malformed_files_name_the_line() {
        let cases: [(&str, usize, &str); 9] = [
            (
                "Server {\n m.A required;\n}",
                3,
                "expected ';', found end of file",
            ),
            (
                "Server {\n m.A required\n}",
                3,
                "expected an option name or ';', found '}'",
            ),
            (
                "Server {\n m.A must user_x=\"y\";\n};",
                2,
                "invalid control flag",
            ),
            (
                "Server {\n m.A required user_x=\"y\"\n};",
                3,
                "expected an option name",
            ),
            (
                "Server {\n m.A required user_x=;\n};",
                2,
                "expected an option value",
            ),
            ("Server {\n m.A required user_x=123;\n};", 2, "number 123"),
            ("Server {\n m.A required user_x=\"y;\n};", 2, "not closed"),
            ("\n\n/* open", 3, "never closed"),
            ("A { };\nA { };", 2, "given twice"),
        ];
        for (text, line, message) in cases {
            let (l, m) = error_line(text);
            assert_eq!(l, line, "{text:?}: {m}");
            assert!(m.contains(message), "{text:?}: {m}");
        }
    }

    #[test]
    fn other_login_modules_are_refused_by_name_and_line() {
        let config = JaasConfig::parse(
            "Server {\n com.sun.security.auth.module.Krb5LoginModule required\n useKeyTab=true;\n};",
        )
        .expect("valid syntax");
        let section = config.section("Server").expect("Server");
        let e = DigestCredentials::from_section(section).expect_err("not digest");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("Krb5LoginModule"), "{e}");
    }
}
