//! # corral-acl: ZooKeeper's access control
//!
//! What it is: the identities (`Id`), access-control entries (`Acl`) and permission bits of
//! ZooKeeper, the well-known ACLs of `ZooDefs.Ids`, the permission check a server runs before
//! every operation ([`check`], ZooKeeper's `ZooKeeperServer.checkACL`) and the validation and
//! expansion of an ACL a client sends with create / setACL ([`fixup_acl`], ZooKeeper's
//! `PrepRequestProcessor.fixupACL`). The schemes it knows are ZooKeeper's built-in ones:
//! `world` (only `anyone`), `auth` (the session's authenticated ids), `digest`
//! (`user:base64(sha1(user:password))`, matched exactly), `ip` (an address with an optional
//! prefix length, IPv4 or IPv6) and the `super` identity a session gains from the super digest;
//! with SASLAuthenticationProvider registered ([`Providers`], [`check_with`],
//! [`fixup_acl_with`]) also `sasl` (`sasl:<authorization id>`, matched exactly, or by the sasl
//! id `super`).
//!
//! Module [`sasl`]: the DIGEST-MD5 mechanism ZooKeeper serves to SASL clients (MD5, the
//! RFC 2831 server exchange, the JAAS file its users come from), as pure functions: the
//! caller passes the nonce's random bytes and the file's text.
//!
//! What it is not: it holds no session state, reads no file, socket, clock or RNG (the
//! server turns `addauth` and `sasl` requests into ids with these functions and keeps them).
//! It is pure.
//!
//! ```
//! use corral_acl::{check, fixup_acl, open_acl_unsafe, perms, Acl, Id};
//!
//! let session = vec![Id { scheme: "digest".into(), id: "alice:HASH".into() }];
//!
//! // `auth` expands to the session's authenticated ids.
//! let acl = fixup_acl(&corral_acl::creator_all_acl(), &session)?;
//! assert_eq!(acl, vec![Acl { perms: perms::ALL, id: session[0].clone() }]);
//!
//! assert!(check(&acl, perms::WRITE, &session));
//! assert!(!check(&acl, perms::WRITE, &[]));
//! assert!(check(&open_acl_unsafe(), perms::WRITE, &[]));
//! # Ok::<(), corral_acl::AclError>(())
//! ```
//!
//! A DIGEST-MD5 exchange (the client's side is what pure-sasl or Java's client computes):
//!
//! ```
//! use corral_acl::sasl::{DigestCredentials, DigestMd5Server, JaasConfig, SaslError, Step};
//!
//! let jaas = JaasConfig::parse(r#"
//!     Server {
//!         org.apache.zookeeper.server.auth.DigestLoginModule required
//!         user_bob="bobsecret";
//!     };"#).expect("valid JAAS");
//! let users = DigestCredentials::from_section(jaas.section("Server").expect("a Server section"))
//!     .expect("DigestLoginModule users");
//!
//! let mut server = DigestMd5Server::new();
//! let random = [42u8; corral_acl::sasl::NONCE_LEN]; // the caller's OS randomness
//! let Ok(Step::Challenge(challenge)) = server.evaluate(b"", &random, &users) else { panic!() };
//! assert!(challenge.starts_with(b"realm=\"zk-sasl-md5\",nonce=\""));
//! // A response that does not prove bob's password fails (ZooKeeper: AuthFailed, then close).
//! let nonce = corral_acl::base64(&random);
//! let wrong = format!("username=\"bob\",realm=\"zk-sasl-md5\",nonce=\"{nonce}\",cnonce=\"x\",\
//!     digest-uri=\"zookeeper/zk-sasl-md5\",response=00000000000000000000000000000000");
//! assert_eq!(
//!     server.evaluate(wrong.as_bytes(), &random, &users),
//!     Err(SaslError::BadPassword("bob".into()))
//! );
//! // On success ZooKeeper adds `sasl:<authorization id>` (and `super` for a SASL super user).
//! assert_eq!(corral_acl::sasl::authenticate_sasl("bob", &[]).len(), 1);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod digest;
mod ip;
pub mod sasl;

pub use digest::{authenticate_digest, base64, digest_id, sha1};

pub use corral_jute::codes::perms;
pub use corral_jute::records::{Acl, Id};

use corral_jute::codes::ErrorCode;

/// Why an ACL was refused. Every variant is ZooKeeper's `InvalidACL` on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AclError {
    /// The ACL has no entries.
    #[error("the ACL is empty")]
    Empty,
    /// An `auth` entry was given but the session has no authenticated id to expand it to.
    #[error("an `auth` ACL entry needs an authenticated id, and the session has none")]
    NoAuthenticatedId,
    /// The scheme is not one ZooKeeper knows (or `world` with an id other than `anyone`).
    #[error("unknown ACL scheme {0:?}")]
    UnknownScheme(String),
    /// The id is not well formed for its scheme.
    #[error("malformed {scheme} id {id:?}")]
    MalformedId {
        /// The scheme.
        scheme: String,
        /// The id.
        id: String,
    },
}

impl AclError {
    /// The ZooKeeper error code a client receives: always `InvalidAcl`.
    pub const fn code(&self) -> ErrorCode {
        ErrorCode::InvalidAcl
    }
}

/// `world:anyone`, the identity of everybody (`ZooDefs.Ids.ANYONE_ID_UNSAFE`).
pub fn world_anyone() -> Id {
    Id {
        scheme: "world".into(),
        id: "anyone".into(),
    }
}

/// `auth:`, the placeholder for the creator's authenticated ids (`ZooDefs.Ids.AUTH_IDS`).
pub fn auth_ids() -> Id {
    Id {
        scheme: "auth".into(),
        id: String::new(),
    }
}

/// Everything for everybody (`ZooDefs.Ids.OPEN_ACL_UNSAFE`).
pub fn open_acl_unsafe() -> Vec<Acl> {
    vec![Acl {
        perms: perms::ALL,
        id: world_anyone(),
    }]
}

/// Read for everybody (`ZooDefs.Ids.READ_ACL_UNSAFE`).
pub fn read_acl_unsafe() -> Vec<Acl> {
    vec![Acl {
        perms: perms::READ,
        id: world_anyone(),
    }]
}

/// Everything for the creator's authenticated ids (`ZooDefs.Ids.CREATOR_ALL_ACL`).
pub fn creator_all_acl() -> Vec<Acl> {
    vec![Acl {
        perms: perms::ALL,
        id: auth_ids(),
    }]
}

/// The authentication providers registered beyond ZooKeeper's built-in `ip` and `digest`
/// (zoo.cfg `authProvider.N=<class>`, or the `zookeeper.authProvider.N` property). A scheme
/// without a provider is refused in ACLs (InvalidACL) and its ACL entries match nobody.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Providers {
    /// `org.apache.zookeeper.server.auth.SASLAuthenticationProvider`: the `sasl` scheme.
    pub sasl: bool,
    /// `org.apache.zookeeper.server.auth.X509AuthenticationProvider`: the `x509` scheme,
    /// whose ids are certificate subjects (RFC 2253 text). ZooKeeper registers it whenever a
    /// secure client port is configured.
    pub x509: bool,
}

impl Providers {
    /// Only the built-in providers (ip, digest).
    pub const BUILT_IN: Providers = Providers {
        sasl: false,
        x509: false,
    };

    /// These providers plus SASLAuthenticationProvider.
    pub const fn with_sasl(self) -> Providers {
        Providers { sasl: true, ..self }
    }

    /// These providers plus X509AuthenticationProvider.
    pub const fn with_x509(self) -> Providers {
        Providers { x509: true, ..self }
    }
}

/// The schemes with an authentication provider: ZooKeeper's defaults, plus the registered
/// extras.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Provider {
    Ip,
    Digest,
    Sasl,
    X509,
}

impl Provider {
    fn for_scheme(scheme: &str, providers: Providers) -> Option<Provider> {
        match scheme {
            "ip" => Some(Provider::Ip),
            "digest" => Some(Provider::Digest),
            "sasl" if providers.sasl => Some(Provider::Sasl),
            "x509" if providers.x509 => Some(Provider::X509),
            _ => None,
        }
    }

    /// Whether an id of this scheme proves who the client is (and so can stand for `auth`).
    /// An ip address does not.
    fn is_authenticated(self) -> bool {
        match self {
            Provider::Ip => false,
            Provider::Digest | Provider::Sasl | Provider::X509 => true,
        }
    }

    fn is_valid(self, id: &str) -> bool {
        match self {
            Provider::Ip => ip::is_valid(id),
            Provider::Digest => digest_is_valid(id),
            Provider::Sasl => sasl::is_valid_id(id),
            Provider::X509 => x509_name_is_valid(id),
        }
    }

    fn matches(self, client_id: &str, acl_id: &str) -> bool {
        match self {
            Provider::Ip => ip::matches(client_id, acl_id),
            Provider::Digest => client_id == acl_id,
            // SASLAuthenticationProvider.matches: the sasl id `super` matches every entry.
            Provider::Sasl => client_id == "super" || client_id == acl_id,
            // The configured x509 super user also gets the `super` id when it connects,
            // which passes every check before this one is asked.
            Provider::X509 => client_id == acl_id,
        }
    }
}

/// Whether `id` reads as a distinguished name the way Java's `X500Principal(String)` reads
/// one: comma- (or semicolon-) separated `type=value` parts, backslash escapes and quoted
/// values allowed, no empty type.
fn x509_name_is_valid(id: &str) -> bool {
    if id.trim().is_empty() {
        return false;
    }
    // Split on unescaped, unquoted separators; escapes and quotes stay in the parts.
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut chars = id.chars();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            ',' | ';' | '+' if !quoted => parts.push(std::mem::take(&mut part)),
            '\\' => {
                let Some(next) = chars.next() else {
                    return false;
                };
                part.push(c);
                part.push(next);
            }
            _ => {
                quoted ^= c == '"';
                part.push(c);
            }
        }
    }
    parts.push(part);
    !quoted
        && parts.iter().all(|p| {
            p.split_once('=')
                .is_some_and(|(k, _)| !k.trim().is_empty() && !k.contains(char::is_whitespace))
        })
}

/// A digest id is `user:hash`: splitting on `:` (trailing empty parts dropped, as Java's
/// `String.split` does) must give exactly two parts.
fn digest_is_valid(id: &str) -> bool {
    let mut parts: Vec<&str> = id.split(':').collect();
    while parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts.len() == 2 && !parts[1].is_empty()
}

fn is_world_anyone(id: &Id) -> bool {
    id.scheme == "world" && id.id == "anyone"
}

/// Whether a session holding `auth_ids` may do `perm` (one or more [`perms`] bits, any of
/// which suffices) on a node whose ACL is `acl`.
///
/// As ZooKeeper's `checkACL`: an empty ACL allows everything; a session holding a `super`
/// id may do everything; an entry grants when its bits include `perm` and its id is
/// `world:anyone`, or matches one of the session's ids of the same scheme (`digest`: equal,
/// `ip`: the client address lies in the entry's network). Entries of unknown schemes match
/// nobody. Only the built-in providers: see [`check_with`].
pub fn check(acl: &[Acl], perm: i32, auth_ids: &[Id]) -> bool {
    check_with(acl, perm, auth_ids, Providers::BUILT_IN)
}

/// [`check`] with these `providers` registered: `sasl` entries match only when
/// SASLAuthenticationProvider is (equal ids, or the session's sasl id `super`).
pub fn check_with(acl: &[Acl], perm: i32, auth_ids: &[Id], providers: Providers) -> bool {
    if acl.is_empty() || auth_ids.iter().any(|id| id.scheme == "super") {
        return true;
    }
    acl.iter().filter(|a| a.perms & perm != 0).any(|a| {
        if is_world_anyone(&a.id) {
            return true;
        }
        let Some(provider) = Provider::for_scheme(&a.id.scheme, providers) else {
            return false;
        };
        auth_ids
            .iter()
            .any(|who| who.scheme == a.id.scheme && provider.matches(&who.id, &a.id.id))
    })
}

/// Validates the ACL a client sent with create or setACL and expands its `auth` entries,
/// as ZooKeeper's `PrepRequestProcessor.fixupACL`.
///
/// Exact duplicates are removed first (the first occurrence is kept); an ACL left empty is
/// refused. `world:anyone` entries are kept. An `auth` entry (whatever its id) is replaced by
/// one entry with its bits for each of the session's ids whose scheme authenticates (digest;
/// not ip, not super), and refused when there is none. Any other entry must be of a known
/// scheme with a well-formed id (`digest`: `user:hash`, `ip`: an address with an optional
/// prefix length); `world` with an id other than `anyone` and `super` are refused. Entries
/// produced by the expansion are not de-duplicated again, as in ZooKeeper. Only the built-in
/// providers: see [`fixup_acl_with`].
pub fn fixup_acl(acl: &[Acl], auth_ids: &[Id]) -> Result<Vec<Acl>, AclError> {
    fixup_acl_with(acl, auth_ids, Providers::BUILT_IN)
}

/// [`fixup_acl`] with these `providers` registered: with SASLAuthenticationProvider, `sasl`
/// entries are accepted (an id that is a valid Kerberos-style name) and a session's sasl ids
/// expand `auth`; without it ZooKeeper refuses them with InvalidACL and `auth` skips them.
pub fn fixup_acl_with(
    acl: &[Acl],
    auth_ids: &[Id],
    providers: Providers,
) -> Result<Vec<Acl>, AclError> {
    let mut unique: Vec<&Acl> = Vec::with_capacity(acl.len());
    for a in acl {
        if !unique.contains(&a) {
            unique.push(a);
        }
    }
    if unique.is_empty() {
        return Err(AclError::Empty);
    }
    let mut out = Vec::with_capacity(unique.len());
    for a in unique {
        if is_world_anyone(&a.id) {
            out.push(a.clone());
        } else if a.id.scheme == "auth" {
            let before = out.len();
            for who in auth_ids {
                if Provider::for_scheme(&who.scheme, providers)
                    .is_some_and(Provider::is_authenticated)
                {
                    out.push(Acl {
                        perms: a.perms,
                        id: who.clone(),
                    });
                }
            }
            if out.len() == before {
                return Err(AclError::NoAuthenticatedId);
            }
        } else {
            let Some(provider) = Provider::for_scheme(&a.id.scheme, providers) else {
                return Err(AclError::UnknownScheme(a.id.scheme.clone()));
            };
            if !provider.is_valid(&a.id.id) {
                return Err(AclError::MalformedId {
                    scheme: a.id.scheme.clone(),
                    id: a.id.id.clone(),
                });
            }
            out.push(a.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
