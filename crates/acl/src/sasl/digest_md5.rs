//! The server side of DIGEST-MD5 (RFC 2831) with `qop=auth`, as Java's SaslServer runs it for
//! ZooKeeper: realm `zk-sasl-md5`, digest-uri `zookeeper/zk-sasl-md5`, `charset=utf-8`,
//! `algorithm=md5-sess`, one authentication per connection, no integrity or privacy layer.
//!
//! The exchange (client tokens travel in ZooKeeper's `sasl` requests):
//! 1. client: any token (kazoo sends an empty one; Java ignores a non-empty one) -> server:
//!    the challenge `realm="zk-sasl-md5",nonce="<40 base64 chars>",charset=utf-8,algorithm=md5-sess`;
//! 2. client: its digest-response -> server: `rspauth=<32 hex digits>` when the response
//!    proves the user's password, else an error (ZooKeeper answers AuthFailed and closes);
//! 3. anything after that is an error, as in Java (`Server at illegal state`).
//!
//! What Java's server (JDK 17, as ZooKeeper 3.8 runs on it here) accepts, as measured against
//! it: directive keys in any case; `realm` required and exactly `zk-sasl-md5`; `digest-uri`
//! required, compared without case; `qop` absent or `auth`; `charset` absent or `utf-8`; the
//! `nc` value ignored (the digest is always computed with `00000001`); other directives
//! repeated are refused; the response's hex compared exactly (lower case).

use std::collections::BTreeMap;

use super::directives::{self, Directive};
use super::md5::{hex, md5};
use super::{DigestCredentials, SaslError};
use crate::base64;

/// The realm ZooKeeper's server offers (`SecurityUtils.createSaslServer`'s server name).
pub const REALM: &str = "zk-sasl-md5";
/// The digest-uri a client must name: service `zookeeper`, host `zk-sasl-md5`.
pub const DIGEST_URI: &str = "zookeeper/zk-sasl-md5";
/// Random bytes in a nonce; base64 makes them the 40 characters Java sends.
pub const NONCE_LEN: usize = 30;
/// The longest client token Java's server reads (`MAX_RESPONSE_LENGTH`).
pub const MAX_RESPONSE_LEN: usize = 4096;
/// The nonce count the digest is computed with (one authentication per nonce).
const NONCE_COUNT: &str = "00000001";

/// What the server sends back for a client token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The digest-challenge: send it and wait for the client's digest-response.
    Challenge(Vec<u8>),
    /// Authenticated: send `rspauth` (which proves the server knew the password too).
    Success {
        /// `rspauth=<hex>`, the last server token.
        rspauth: Vec<u8>,
        /// The authorization id: ZooKeeper adds `sasl:<authorization_id>` to the connection.
        authorization_id: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Start,
    Challenged { nonce: String },
    Finished,
}

/// One connection's DIGEST-MD5 server. Pure: the caller passes the random bytes for the
/// nonce and the users' passwords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestMd5Server {
    state: State,
}

impl Default for DigestMd5Server {
    fn default() -> Self {
        DigestMd5Server::new()
    }
}

impl DigestMd5Server {
    /// A server that has not sent its challenge yet.
    pub fn new() -> DigestMd5Server {
        DigestMd5Server {
            state: State::Start,
        }
    }

    /// Whether the exchange is over (authenticated, or failed).
    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    /// Evaluates the client's next token. `fresh_nonce` is used only for the challenge (pass
    /// new random bytes each time: the caller owns the randomness). After an error, or after
    /// success, every further token is an error.
    pub fn evaluate(
        &mut self,
        token: &[u8],
        fresh_nonce: &[u8; NONCE_LEN],
        credentials: &DigestCredentials,
    ) -> Result<Step, SaslError> {
        if token.len() > MAX_RESPONSE_LEN {
            self.state = State::Finished;
            return Err(SaslError::ResponseTooLong(token.len()));
        }
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Start => {
                // RFC 2831 2.2: a server without "subsequent authentication" ignores an initial
                // response and challenges, as Java's does.
                let nonce = base64(fresh_nonce);
                let challenge =
                    format!("realm=\"{REALM}\",nonce=\"{nonce}\",charset=utf-8,algorithm=md5-sess");
                self.state = State::Challenged { nonce };
                Ok(Step::Challenge(challenge.into_bytes()))
            }
            State::Challenged { nonce } => verify(token, &nonce, credentials),
            State::Finished => Err(SaslError::AlreadyFinished),
        }
    }
}

/// The directives of a digest-response that the server reads, each at most once. `nc` is
/// not among them: JDK 17's server does not check it (the digest uses 00000001 anyway);
/// `cipher` matters only for auth-conf; unknown directives are ignored.
const READ_DIRECTIVES: [&str; 10] = [
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
];

/// A digest-response's directives by key.
struct Response(BTreeMap<&'static str, Vec<u8>>);

impl Response {
    fn parse(token: &[u8]) -> Result<Response, SaslError> {
        let mut found = BTreeMap::new();
        for Directive { key, value } in directives::parse(token)? {
            if let Some(known) = READ_DIRECTIVES.iter().find(|k| **k == key) {
                if found.insert(*known, value).is_some() {
                    return Err(SaslError::Malformed(format!(
                        "more than one {key} directive"
                    )));
                }
            }
        }
        Ok(Response(found))
    }

    fn bytes(&self, key: &'static str) -> Option<&[u8]> {
        self.0.get(key).map(Vec::as_slice)
    }

    fn text(&self, key: &'static str) -> Result<Option<&str>, SaslError> {
        self.bytes(key)
            .map(|v| {
                std::str::from_utf8(v)
                    .map_err(|_| SaslError::Malformed(format!("{key} is not UTF-8")))
            })
            .transpose()
    }
}

fn missing(directive: &'static str) -> SaslError {
    SaslError::MissingDirective(directive)
}

/// Checks a digest-response against the challenge's `nonce` and the user's password.
fn verify(token: &[u8], nonce: &str, credentials: &DigestCredentials) -> Result<Step, SaslError> {
    let r = Response::parse(token)?;
    if let Some(charset) = r.text("charset")? {
        if charset != "utf-8" {
            return Err(SaslError::Malformed(format!(
                "incompatible charset {charset:?}"
            )));
        }
    }
    if let Some(maxbuf) = r.text("maxbuf")? {
        if maxbuf.parse::<i32>().is_err() {
            return Err(SaslError::Malformed(format!(
                "maxbuf {maxbuf:?} is not a number"
            )));
        }
    }
    let username = r.text("username")?.ok_or(missing("username"))?;
    let realm = r.text("realm")?.unwrap_or_default();
    if realm != REALM {
        return Err(SaslError::RealmMismatch(realm.to_string()));
    }
    let client_nonce = r.bytes("nonce").ok_or(missing("nonce"))?;
    if client_nonce != nonce.as_bytes() {
        return Err(SaslError::NonceMismatch);
    }
    let cnonce = r.bytes("cnonce").ok_or(missing("cnonce"))?;
    let qop = r.text("qop")?.unwrap_or("auth");
    if qop != "auth" {
        return Err(SaslError::UnsupportedQop(qop.to_string()));
    }
    let digest_uri = r.text("digest-uri")?.ok_or(missing("digest-uri"))?;
    if !digest_uri.eq_ignore_ascii_case(DIGEST_URI) {
        return Err(SaslError::DigestUriMismatch(digest_uri.to_string()));
    }
    let client_response = r.bytes("response").ok_or(missing("response"))?;
    let password = credentials
        .password(username)
        .ok_or_else(|| SaslError::UnknownUser(username.to_string()))?;
    let inputs = DigestInputs {
        username,
        realm,
        password,
        nonce: nonce.as_bytes(),
        cnonce,
        authzid: r.bytes("authzid"),
        digest_uri,
    };
    if client_response != response_value(&inputs, "AUTHENTICATE").as_bytes() {
        return Err(SaslError::BadPassword(username.to_string()));
    }
    let authorization_id = authorization_id(username, r.text("authzid")?)?;
    let rspauth = format!("rspauth={}", response_value(&inputs, ""));
    Ok(Step::Success {
        rspauth: rspauth.into_bytes(),
        authorization_id,
    })
}

/// What the digests of RFC 2831 section 2.1.2.1 are computed from.
pub(crate) struct DigestInputs<'a> {
    pub(crate) username: &'a str,
    pub(crate) realm: &'a str,
    pub(crate) password: &'a str,
    pub(crate) nonce: &'a [u8],
    pub(crate) cnonce: &'a [u8],
    pub(crate) authzid: Option<&'a [u8]>,
    pub(crate) digest_uri: &'a str,
}

/// Java's `stringToByte_8859_1`: ISO-8859-1 when every character fits, else UTF-8.
fn latin1_or_utf8(s: &str) -> Vec<u8> {
    if s.chars().all(|c| u32::from(c) <= 0xff) {
        s.chars().map(|c| c as u8).collect()
    } else {
        s.as_bytes().to_vec()
    }
}

/// The response-value with qop=auth: `HEX(KD(HEX(H(A1)), nonce:nc:cnonce:qop:HEX(H(A2))))`,
/// where A1 = `H(user:realm:password):nonce:cnonce[:authzid]` and A2 = `<method>:digest-uri`
/// (`AUTHENTICATE` for the client's response, empty for the server's rspauth).
pub(crate) fn response_value(d: &DigestInputs<'_>, method: &str) -> String {
    let mut secret = latin1_or_utf8(d.username);
    secret.push(b':');
    secret.extend(latin1_or_utf8(d.realm));
    secret.push(b':');
    secret.extend(latin1_or_utf8(d.password));
    let mut a1 = md5(&secret).to_vec();
    a1.push(b':');
    a1.extend_from_slice(d.nonce);
    a1.push(b':');
    a1.extend_from_slice(d.cnonce);
    if let Some(authzid) = d.authzid {
        a1.push(b':');
        a1.extend_from_slice(authzid);
    }
    let a2 = format!("{method}:{}", d.digest_uri);
    let mut kd = hex(&md5(&a1)).into_bytes();
    kd.push(b':');
    kd.extend_from_slice(d.nonce);
    kd.extend_from_slice(format!(":{NONCE_COUNT}:").as_bytes());
    kd.extend_from_slice(d.cnonce);
    kd.extend_from_slice(b":auth:");
    kd.extend_from_slice(hex(&md5(a2.as_bytes())).as_bytes());
    hex(&md5(&kd))
}

/// The authorization id ZooKeeper's `SaslServerCallbackHandler` settles on for an
/// authenticated `username`: the name read as a Kerberos principal (`service[/host]@REALM`)
/// and shortened by the default `auth_to_local` rule, with host and realm appended again.
///
/// In effect: a name without `@` is kept whole (slashes included); `name[/host]@` (empty
/// realm) is kept whole too; with a non-empty realm no rule applies and ZooKeeper keeps what
/// the client asked to be authorized as (its `authzid`, else the name). A name with `@` that is
/// not of that shape is refused (ZooKeeper fails on it with an exception and drops the
/// connection without an answer). The client's `authzid` is otherwise ignored.
pub fn authorization_id(username: &str, authzid: Option<&str>) -> Result<String, SaslError> {
    if !username.contains('@') {
        return Ok(username.to_string());
    }
    let Some((before, realm)) = username.split_once('@') else {
        return Ok(username.to_string());
    };
    let shape_ok = !realm.contains(['@', '/'])
        && match before.split_once('/') {
            Some((service, host)) => !service.contains('@') && !host.contains('/'),
            None => true,
        };
    if !shape_ok {
        return Err(SaslError::InvalidUserName(username.to_string()));
    }
    if realm.is_empty() {
        Ok(username.to_string())
    } else {
        Ok(authzid.unwrap_or(username).to_string())
    }
}
