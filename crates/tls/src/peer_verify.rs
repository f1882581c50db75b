//! The dialing side's check of another server's certificate, for TLS between the servers of
//! an ensemble (corral-peer's `RustlsLayer`): the chain checks of [`verify::verify_chain`]
//! (version 1 certificates accepted, as ZooKeeper's test kits make them and webpki refuses),
//! and handshake signatures checked with the certificate's key. Each server presents one
//! certificate both ways (ZooKeeper's quorum key store), so it must be usable for client
//! authentication. The host name check is not made here but by [`HostIdentity`], once the
//! peer has said which server it is (corral-peer's handshake names server ids; the TLS layer
//! sees only sockets): ZooKeeper 3.8's quorum TLS verifies host names both ways
//! (`ssl.quorum.hostnameVerification`, default true), and Corral ties each server id to the
//! host the server list gives it. [`quorum_configs`] builds both rustls configurations from
//! one key store and one trust store, as ZooKeeper's `ssl.quorum.keyStore.*` /
//! `ssl.quorum.trustStore.*`.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::verify::{self, handshake_signature, rejected, supported_schemes};
use crate::x509::Certificate;
use crate::{ClientAuth, ServerTls, TlsError, TlsSettings};

/// Ties server ids to the hosts of the server list (ZooKeeper's `server.N=host:...`): whoever
/// speaks as server N, dialing or dialed, must present a certificate that names N's host, by
/// the rules of [`crate::host::check_host`]. A certificate the trust store accepts is then not
/// enough to claim another server's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostIdentity {
    hosts: BTreeMap<u64, String>,
}

impl HostIdentity {
    /// Server id -> its host (a DNS name or an IP address).
    pub fn new(hosts: BTreeMap<u64, String>) -> HostIdentity {
        HostIdentity { hosts }
    }

    /// Whether `end_entity` (DER, already checked against the trust store) may speak as
    /// server `id`.
    pub fn check(&self, id: u64, end_entity: &[u8]) -> Result<(), TlsError> {
        let host = self.hosts.get(&id).ok_or_else(|| {
            TlsError::Certificate(format!("server {id} has no host in the server list"))
        })?;
        crate::host::check_host(end_entity, host)
            .map_err(|e| TlsError::Certificate(format!("server {id}: {e}")))
    }
}

/// The acceptor's and the dialer's rustls configurations for TLS between the servers of an
/// ensemble, from one key store (presented both ways) and one trust store: accepting
/// requires a client certificate ([`verify::JavaCompatibleClientVerifier`]), dialing checks
/// the acceptor's with [`JavaCompatibleServerVerifier`]. `settings.client_auth` is ignored
/// (always required, as ZooKeeper's quorum does); its protocols and cipher suites apply to
/// the acceptor (the dialer offers every protocol of `settings.protocols`).
pub fn quorum_configs(
    settings: &TlsSettings,
) -> Result<(Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>), TlsError> {
    let server = ServerTls::new(&TlsSettings {
        client_auth: ClientAuth::Need,
        ..settings.clone()
    })?
    .server_config();
    let location = settings.key_store.location.display();
    let (key, chain) = settings
        .key_store
        .load()?
        .key
        .ok_or_else(|| TlsError::Store(format!("{location}: no private key entry")))?;
    let trust = settings
        .trust_store
        .as_ref()
        .ok_or_else(|| TlsError::Settings("TLS between servers needs a trust store".into()))?;
    let anchors = trust.load()?.trusted;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::Store(format!("{location}: unusable private key: {e}")))?;
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> =
        settings.protocols.iter().map(|v| v.rustls()).collect();
    versions.dedup();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| TlsError::Settings(format!("protocols: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(JavaCompatibleServerVerifier::new(&anchors)?))
        .with_client_cert_resolver(Arc::new(OneIdentity(Arc::new(CertifiedKey::new(
            chain, signing,
        )))));
    Ok((server, Arc::new(client)))
}

/// The dialer's certificate, whatever the acceptor hints (rustls's own
/// `with_client_auth_cert` parses it with webpki, which refuses version 1 certificates).
#[derive(Debug)]
struct OneIdentity(Arc<CertifiedKey>);

impl ResolvesClientCert for OneIdentity {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// rustls's hook for a peer server's certificate, with the checks of [`verify::verify_chain`].
#[derive(Debug)]
pub struct JavaCompatibleServerVerifier {
    anchors: Vec<Vec<u8>>,
}

impl JavaCompatibleServerVerifier {
    /// A verifier trusting `anchors` (the trust store's certificates).
    pub fn new(anchors: &[CertificateDer<'_>]) -> Result<Self, TlsError> {
        for a in anchors {
            Certificate::parse(a)?;
        }
        Ok(JavaCompatibleServerVerifier {
            anchors: anchors.iter().map(|a| a.to_vec()).collect(),
        })
    }
}

impl ServerCertVerifier for JavaCompatibleServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let inter: Vec<&[u8]> = intermediates.iter().map(|c| c.as_ref()).collect();
        let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        verify::verify_chain(end_entity, &inter, &self.anchors, now).map_err(rejected)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        handshake_signature(message, cert, dss, false)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        handshake_signature(message, cert, dss, true)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        supported_schemes()
    }
}
