//! The sasl request (op 102) over a socket, as ZooKeeperServer.processSasl answers it:
//! DIGEST-MD5 with the JAAS file's users, the `sasl` id on success, AuthFailed with a null
//! token and a closed connection on failure, Ok with a null token when SASL is not offered.

mod support;

use bytes::Bytes;
use corral_acl::sasl::{hex, md5};
use corral_jute::codes::{perms, ErrorCode, OpCode};
use corral_jute::io::{Jute, Secret};
use corral_jute::records::*;
use support::{fresh_dir, start_in, RawClient};

const JAAS: &str = r#"Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="super_secret"
    user_jaasuser="jaas_password";
};"#;

/// A server with the JAAS users above and SASLAuthenticationProvider registered.
async fn sasl_server(tag: &str, extra: &str) -> support::Running {
    let dir = fresh_dir(tag);
    std::fs::create_dir_all(&dir).expect("dir");
    let jaas = dir.join("jaas.conf");
    std::fs::write(&jaas, JAAS).expect("jaas");
    start_in(
        &dir,
        &format!(
            "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n\
             java.security.auth.login.config={}\n{extra}",
            jaas.display()
        ),
        None,
    )
    .await
}

/// Sends a sasl token; the reply's (xid, zxid, err) and token, or None if the connection
/// closed instead.
async fn sasl(c: &mut RawClient, xid: i32, token: &[u8]) -> Option<(ReplyHeader, Option<Bytes>)> {
    c.send(|o| {
        RequestHeader {
            xid,
            op: OpCode::Sasl.code(),
        }
        .write(o);
        GetSaslRequest {
            token: Secret(Bytes::copy_from_slice(token)),
        }
        .write(o);
    })
    .await;
    let frame = c.recv().await?;
    let mut r = corral_jute::io::Reader::new(frame);
    let header = ReplyHeader::read(&mut r).expect("header");
    let body = SetSaslResponse::read(&mut r).expect("SetSASLResponse, even with an error");
    Some((header, body.token))
}

/// The client's side of RFC 2831 (qop=auth), computed here from the challenge.
fn digest_response(challenge: &[u8], user: &str, password: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(challenge);
    let nonce = text
        .split("nonce=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a nonce in the challenge");
    let (realm, uri, cnonce) = ("zk-sasl-md5", "zookeeper/zk-sasl-md5", "cn0nce");
    let mut a1 = md5(format!("{user}:{realm}:{password}").as_bytes()).to_vec();
    a1.extend_from_slice(format!(":{nonce}:{cnonce}").as_bytes());
    let a2 = format!("AUTHENTICATE:{uri}");
    let kd = format!(
        "{}:{nonce}:00000001:{cnonce}:auth:{}",
        hex(&md5(&a1)),
        hex(&md5(a2.as_bytes()))
    );
    format!(
        "username=\"{user}\",realm=\"{realm}\",nonce=\"{nonce}\",cnonce=\"{cnonce}\",\
         nc=00000001,qop=auth,digest-uri=\"{uri}\",response={}",
        hex(&md5(kd.as_bytes()))
    )
    .into_bytes()
}

/// The whole exchange; the last reply.
async fn authenticate(
    c: &mut RawClient,
    user: &str,
    password: &str,
) -> Option<(ReplyHeader, Option<Bytes>)> {
    let (h, challenge) = sasl(c, 1, b"").await.expect("challenge");
    assert_eq!((h.xid, h.zxid, h.err), (1, 0, 0));
    let challenge = challenge.expect("a challenge token");
    assert!(
        challenge.starts_with(b"realm=\"zk-sasl-md5\",nonce=\"")
            && challenge.ends_with(b"\",charset=utf-8,algorithm=md5-sess"),
        "{challenge:?}"
    );
    sasl(c, 2, &digest_response(&challenge, user, password)).await
}

/// create(path) with the ACL `sasl:jaasuser` (all permissions): the reply's error code.
async fn create_with_sasl_acl(c: &mut RawClient, xid: i32, path: &str) -> i32 {
    let acl = vec![Acl {
        perms: perms::ALL,
        id: Id {
            scheme: "sasl".into(),
            id: "jaasuser".into(),
        },
    }];
    let (h, _) = c
        .request(xid, OpCode::Create, |o| {
            CreateRequest {
                path: path.into(),
                data: Some(Bytes::from_static(b"x")),
                acl,
                flags: 0,
            }
            .write(o)
        })
        .await;
    h.err
}

async fn whoami(c: &mut RawClient, xid: i32) -> Vec<(String, String)> {
    let (h, mut r) = c.request(xid, OpCode::WhoAmI, |_| {}).await;
    assert_eq!(h.err, 0);
    WhoAmIResponse::read(&mut r)
        .expect("whoami")
        .client_info
        .into_iter()
        .map(|i| (i.auth_scheme, i.user))
        .collect()
}

#[tokio::test]
async fn digest_md5_authenticates_and_sasl_acls_are_enforced() {
    let server = sasl_server("sasl-ok", "").await;
    let mut alice = RawClient::connect(server.addr).await;
    let (h, rspauth) = authenticate(&mut alice, "jaasuser", "jaas_password")
        .await
        .expect("answered");
    assert_eq!((h.xid, h.zxid, h.err), (2, 0, 0));
    let rspauth = rspauth.expect("rspauth token");
    assert!(rspauth.starts_with(b"rspauth=") && rspauth.len() == 8 + 32);
    let ids = whoami(&mut alice, 3).await;
    assert!(ids.contains(&("sasl".into(), "jaasuser".into())), "{ids:?}");

    assert_eq!(create_with_sasl_acl(&mut alice, 4, "/s").await, 0);
    assert!(alice.get(5, "/s").await.is_ok());
    let mut other = RawClient::connect(server.addr).await;
    assert_eq!(
        other.get(1, "/s").await.err(),
        Some(ErrorCode::NoAuth.code())
    );

    // One exchange per connection: another token is AuthFailed, then the connection closes.
    let (h, token) = sasl(&mut alice, 6, b"").await.expect("answered");
    assert_eq!(
        (h.xid, h.zxid, h.err, token),
        (6, 0, ErrorCode::AuthFailed.code(), None)
    );
    assert!(alice.recv().await.is_none());
    server.stop().await;
}

#[tokio::test]
async fn failures_answer_auth_failed_and_close() {
    let server = sasl_server("sasl-bad", "").await;
    for (user, password) in [("jaasuser", "wrong"), ("nobody", "jaas_password")] {
        let mut c = RawClient::connect(server.addr).await;
        let (h, token) = authenticate(&mut c, user, password)
            .await
            .expect("answered");
        assert_eq!((h.xid, h.zxid, h.err), (2, 0, ErrorCode::AuthFailed.code()));
        assert_eq!(token, None);
        assert!(c.recv().await.is_none(), "{user}: the connection is closed");
    }
    let mut c = RawClient::connect(server.addr).await;
    let _ = sasl(&mut c, 1, b"").await.expect("challenge");
    let (h, _) = sasl(&mut c, 2, b"hello").await.expect("answered");
    assert_eq!(h.err, ErrorCode::AuthFailed.code());
    server.stop().await;
}

#[tokio::test]
async fn super_users_and_the_unregistered_provider() {
    // superUser=jaasuser: the sasl id also gets super.
    let server = sasl_server("sasl-super", "superUser=jaasuser\n").await;
    let mut c = RawClient::connect(server.addr).await;
    let (h, _) = authenticate(&mut c, "jaasuser", "jaas_password")
        .await
        .expect("answered");
    assert_eq!(h.err, 0);
    let ids = whoami(&mut c, 3).await;
    assert!(ids.contains(&("super".into(), String::new())), "{ids:?}");
    server.stop().await;

    // Without SASLAuthenticationProvider the exchange still works, but a sasl ACL is
    // InvalidACL and whoami names no sasl user.
    let dir = fresh_dir("sasl-noprov");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("jaas.conf"), JAAS).expect("jaas");
    let server = start_in(
        &dir,
        &format!(
            "java.security.auth.login.config={}\n",
            dir.join("jaas.conf").display()
        ),
        None,
    )
    .await;
    let mut c = RawClient::connect(server.addr).await;
    let (h, _) = authenticate(&mut c, "jaasuser", "jaas_password")
        .await
        .expect("answered");
    assert_eq!(h.err, 0);
    assert!(whoami(&mut c, 3)
        .await
        .contains(&("sasl".into(), String::new())));
    assert_eq!(
        create_with_sasl_acl(&mut c, 4, "/t").await,
        ErrorCode::InvalidAcl.code()
    );
    server.stop().await;
}

#[tokio::test]
async fn without_a_server_section_sasl_answers_ok_with_a_null_token() {
    let running = start_in(&fresh_dir("sasl-none"), "", None).await;
    let mut c = RawClient::connect(running.addr).await;
    for xid in [1, 2] {
        let (h, token) = sasl(&mut c, xid, b"").await.expect("answered");
        assert_eq!((h.xid, h.zxid, h.err, token), (xid, 0, 0, None));
    }
    running.stop().await;
}
