//! SASL for ZooKeeper clients: the DIGEST-MD5 mechanism as Apache ZooKeeper 3.8 serves it
//! (through Java's SaslServer), the JAAS file its users come from, and the identity an
//! authenticated client gets.
//!
//! - [`md5`]: MD5 (RFC 1321);
//! - [`DigestMd5Server`]: one connection's side of the exchange (RFC 2831, qop=auth);
//! - [`JaasConfig`] / [`DigestCredentials`]: the login configuration file and the
//!   `user_<name>="<password>"` options of its `Server` section;
//! - [`authenticate_sasl`]: the ids a connection gains, `sasl:<authorization id>` and
//!   `super` for a configured SASL super user (ZooKeeper's `zookeeper.superUser`).
//!
//! Not here: GSSAPI (Kerberos), integrity or privacy layers, reading files, randomness
//! (nonces are the caller's bytes) and the wire (ZooKeeper's `sasl` request is the server's).

mod digest_md5;
mod directives;
mod jaas;
mod md5;

pub use digest_md5::{
    authorization_id, DigestMd5Server, Step, DIGEST_URI, MAX_RESPONSE_LEN, NONCE_LEN, REALM,
};
pub use jaas::{
    ControlFlag, DigestCredentials, JaasConfig, JaasError, JaasSection, LoginModule,
    DIGEST_LOGIN_MODULE,
};
pub use md5::{hex, md5};

use crate::Id;

/// Why a SASL exchange failed. ZooKeeper answers every one with AuthFailed and closes the
/// connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    /// The client's token is longer than [`MAX_RESPONSE_LEN`].
    #[error("the SASL token has {0} bytes, more than {MAX_RESPONSE_LEN}")]
    ResponseTooLong(usize),
    /// The digest-response is not a well-formed directive list, or a value is unusable.
    #[error("malformed digest-response: {0}")]
    Malformed(String),
    /// A directive the response must carry is absent.
    #[error("the digest-response has no {0} directive")]
    MissingDirective(&'static str),
    /// The response names another realm than [`REALM`].
    #[error("realm {0:?} is not {REALM:?}")]
    RealmMismatch(String),
    /// The response's nonce is not the one the challenge carried.
    #[error("the nonce is not the one the server sent")]
    NonceMismatch,
    /// The response's digest-uri is not [`DIGEST_URI`].
    #[error("digest-uri {0:?} is not {DIGEST_URI:?}")]
    DigestUriMismatch(String),
    /// The client chose a quality of protection the server did not offer (only `auth`).
    #[error("qop {0:?} is not offered (only auth)")]
    UnsupportedQop(String),
    /// No such user in the JAAS `Server` section.
    #[error("unknown user {0:?}")]
    UnknownUser(String),
    /// The response does not prove the user's password.
    #[error("wrong password for user {0:?} (the response digest does not match)")]
    BadPassword(String),
    /// The user name is not a valid Kerberos-style name (`name[/host][@REALM]`).
    #[error("user name {0:?} is not a valid principal name")]
    InvalidUserName(String),
    /// A token arrived after the exchange ended (success or failure).
    #[error("the SASL exchange is already over")]
    AlreadyFinished,
}

/// The ids a connection gains when SASL authenticates `authorization_id`: `sasl:<id>`, then
/// `super` when the id is one of `super_users` (ZooKeeper's `zookeeper.superUser` system
/// properties), in the order ZooKeeper adds them.
pub fn authenticate_sasl(authorization_id: &str, super_users: &[String]) -> Vec<Id> {
    let mut ids = vec![Id {
        scheme: "sasl".into(),
        id: authorization_id.to_string(),
    }];
    if !authorization_id.is_empty() && super_users.iter().any(|s| s == authorization_id) {
        ids.push(Id {
            scheme: "super".into(),
            id: String::new(),
        });
    }
    ids
}

/// Whether `id` is a valid `sasl` ACL id: ZooKeeper's SASLAuthenticationProvider accepts what
/// its `KerberosName` parses, i.e. any name without `@`, or `service[/host]@realm` with no
/// further `/` or `@`.
pub(crate) fn is_valid_id(id: &str) -> bool {
    authorization_id(id, None).is_ok()
}

#[cfg(test)]
mod tests;
