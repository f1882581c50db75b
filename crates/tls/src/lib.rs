//! # corral-tls: TLS for ZooKeeper's secure client port
//!
//! What ZooKeeper's `secureClientPort` needs from a TLS stack, on rustls: the key and trust
//! stores its `ssl.keyStore.*` / `ssl.trustStore.*` keys name (JKS and PEM files; see
//! [`keystore`]), the `ssl.clientAuth` modes, `ssl.protocol` / `ssl.enabledProtocols` /
//! `ssl.ciphersuites`, client certificates checked the way Java's trust manager checks them
//! (version 1 certificates included, read with x509-parser; see [`verify`] and [`x509`]), and the id ZooKeeper's `x509` scheme
//! gives an authenticated client: its certificate's subject as RFC 2253 text
//! ([`peer_x509_id`]).
//!
//! What it is not: no sockets (the server wraps its streams with the [`rustls::ServerConfig`]
//! built here), no zoo.cfg parsing (corral-server maps the keys onto [`TlsSettings`]), no
//! revocation checks, no PKCS#12 stores yet, no client side beyond the check of another
//! server's certificate for TLS between ensemble servers ([`peer_verify`]).
//!
//! ```no_run
//! use corral_tls::{ClientAuth, ServerTls, StoreSpec, TlsSettings};
//!
//! let settings = TlsSettings {
//!     key_store: StoreSpec { location: "keystore.jks".into(), password: Some("secret".into()), store_type: None },
//!     trust_store: Some(StoreSpec { location: "truststore.jks".into(), password: Some("secret".into()), store_type: None }),
//!     ..TlsSettings::default()
//! };
//! let tls = ServerTls::new(&settings)?;
//! let _config = tls.server_config(); // hand to a TLS acceptor (tokio-rustls)
//! # Ok::<(), corral_tls::TlsError>(())
//! ```
#![forbid(unsafe_code)]

pub mod host;
pub mod keystore;
pub mod peer_verify;
pub mod verify;
pub mod x509;

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::SupportedProtocolVersion;

pub use keystore::{StoreSpec, StoreType};

/// The one error type of corral-tls.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A key or trust store could not be read or decoded (the message names the file).
    #[error("{0}")]
    Store(String),
    /// A certificate is malformed or not acceptable.
    #[error("{0}")]
    Certificate(String),
    /// The settings cannot make a working TLS server.
    #[error("{0}")]
    Settings(String),
}

/// ZooKeeper's `ssl.clientAuth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// No client certificate is asked for.
    None,
    /// One is asked for; a client without one still connects.
    Want,
    /// One is required (ZooKeeper's default).
    #[default]
    Need,
}

impl ClientAuth {
    /// `none`, `want` or `need`, any case; empty is `need`, as in ZooKeeper.
    pub fn from_property(value: &str) -> Option<ClientAuth> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "need" => Some(ClientAuth::Need),
            "want" => Some(ClientAuth::Want),
            "none" => Some(ClientAuth::None),
            _ => None,
        }
    }
}

/// A TLS protocol version, by its Java name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// `TLSv1.2`.
    Tls12,
    /// `TLSv1.3`.
    Tls13,
}

impl TlsVersion {
    /// The versions a Java protocol name enables: `TLSv1.2`, `TLSv1.3`, or `TLS` (both).
    pub fn from_java_name(name: &str) -> Option<Vec<TlsVersion>> {
        match name.trim() {
            "TLSv1.2" => Some(vec![TlsVersion::Tls12]),
            "TLSv1.3" => Some(vec![TlsVersion::Tls13]),
            "TLS" => Some(vec![TlsVersion::Tls12, TlsVersion::Tls13]),
            _ => None,
        }
    }

    fn rustls(self) -> &'static SupportedProtocolVersion {
        match self {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        }
    }
}

/// What the secure client port serves with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The server's key and certificate chain (`ssl.keyStore.*`).
    pub key_store: StoreSpec,
    /// The CAs client certificates must lead to (`ssl.trustStore.*`).
    pub trust_store: Option<StoreSpec>,
    /// `ssl.clientAuth`.
    pub client_auth: ClientAuth,
    /// `ssl.enabledProtocols`, else `ssl.protocol` (ZooKeeper 3.8's default: TLSv1.2).
    pub protocols: Vec<TlsVersion>,
    /// `ssl.ciphersuites` by their IANA (Java) names; `None`: rustls's defaults.
    pub cipher_suites: Option<Vec<String>>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            key_store: StoreSpec {
                location: Default::default(),
                password: None,
                store_type: None,
            },
            trust_store: None,
            client_auth: ClientAuth::Need,
            protocols: vec![TlsVersion::Tls12],
            cipher_suites: None,
        }
    }
}

/// A TLS server configuration built from [`TlsSettings`].
#[derive(Debug, Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
}

#[derive(Debug)]
struct OneCertificate(Arc<CertifiedKey>);

impl ResolvesServerCert for OneCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

impl ServerTls {
    /// Reads the stores and builds the configuration. Errors say which store or setting is
    /// at fault.
    pub fn new(settings: &TlsSettings) -> Result<ServerTls, TlsError> {
        let mut provider = rustls::crypto::ring::default_provider();
        if let Some(names) = &settings.cipher_suites {
            provider.cipher_suites = select_cipher_suites(&provider, names)?;
        }
        let provider = Arc::new(provider);

        let key_store = settings.key_store.load()?;
        let (key, chain) = key_store.key.ok_or_else(|| {
            TlsError::Store(format!(
                "{}: no private key entry",
                settings.key_store.location.display()
            ))
        })?;
        let leaf = chain.first().cloned().ok_or_else(|| {
            TlsError::Store(format!(
                "{}: the private key has no certificate",
                settings.key_store.location.display()
            ))
        })?;
        let signing_key = provider.key_provider.load_private_key(key).map_err(|e| {
            TlsError::Store(format!(
                "{}: unusable private key: {e}",
                settings.key_store.location.display()
            ))
        })?;
        check_key_matches(signing_key.as_ref(), &leaf).map_err(|e| {
            TlsError::Store(format!("{}: {e}", settings.key_store.location.display()))
        })?;
        let certified = Arc::new(CertifiedKey::new(chain, signing_key));

        let mut versions: Vec<&'static SupportedProtocolVersion> =
            settings.protocols.iter().map(|v| v.rustls()).collect();
        versions.dedup();
        if versions.is_empty() {
            return Err(TlsError::Settings("no TLS protocol version enabled".into()));
        }
        let builder = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| TlsError::Settings(format!("protocols and cipher suites: {e}")))?;
        let builder = match settings.client_auth {
            ClientAuth::None => builder.with_no_client_auth(),
            auth => {
                let spec = settings.trust_store.as_ref().ok_or_else(|| {
                    TlsError::Settings(
                        "client certificates are asked for (ssl.clientAuth) but no trust store \
                         is set (ssl.trustStore.location)"
                            .into(),
                    )
                })?;
                let trusted = spec.load()?.trusted;
                if trusted.is_empty() {
                    return Err(TlsError::Store(format!(
                        "{}: no trusted certificate",
                        spec.location.display()
                    )));
                }
                let verifier =
                    verify::JavaCompatibleClientVerifier::new(&trusted, auth == ClientAuth::Need)?;
                builder.with_client_cert_verifier(Arc::new(verifier))
            }
        };
        let config = builder.with_cert_resolver(Arc::new(OneCertificate(certified)));
        Ok(ServerTls {
            config: Arc::new(config),
        })
    }

    /// The configuration, for a TLS acceptor.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        self.config.clone()
    }
}

/// Signs a probe with the key and checks it with the certificate's public key, so that a
/// key store whose key and certificate differ fails at start, not at every handshake.
fn check_key_matches(
    key: &dyn rustls::sign::SigningKey,
    leaf: &CertificateDer<'_>,
) -> Result<(), TlsError> {
    let schemes = verify::supported_schemes();
    let signer = key
        .choose_scheme(&schemes)
        .ok_or_else(|| TlsError::Store("the private key's algorithm is not supported".into()))?;
    let probe = b"corral-tls key check";
    let sig = signer
        .sign(probe)
        .map_err(|e| TlsError::Store(format!("the private key cannot sign: {e}")))?;
    verify::verify_signature(probe, leaf, signer.scheme(), &sig, false)
        .map_err(|_| TlsError::Store("the private key does not match its certificate".into()))
}

fn select_cipher_suites(
    provider: &CryptoProvider,
    names: &[String],
) -> Result<Vec<rustls::SupportedCipherSuite>, TlsError> {
    let wanted: Vec<String> = names.iter().map(|n| n.trim().to_string()).collect();
    let chosen: Vec<_> = provider
        .cipher_suites
        .iter()
        .copied()
        .filter(|s| {
            // rustls spells TLS 1.3 suites TLS13_*, Java (and IANA) TLS_*.
            let name = format!("{:?}", s.suite());
            let java = name.replacen("TLS13_", "TLS_", 1);
            wanted.iter().any(|w| *w == name || *w == java)
        })
        .collect();
    if chosen.is_empty() {
        let known: Vec<String> = provider
            .cipher_suites
            .iter()
            .map(|s| format!("{:?}", s.suite()).replacen("TLS13_", "TLS_", 1))
            .collect();
        return Err(TlsError::Settings(format!(
            "none of the cipher suites {wanted:?} is supported (supported: {})",
            known.join(", ")
        )));
    }
    Ok(chosen)
}

/// The id ZooKeeper's x509 scheme gives a TLS client: its certificate's subject as RFC 2253
/// text (`CN=client,O=Example`), or `None` when it sent no certificate.
pub fn peer_x509_id(conn: &rustls::ServerConnection) -> Option<String> {
    let leaf = conn.peer_certificates()?.first()?;
    x509::Certificate::parse(leaf).ok()?.subject_name().ok()
}
