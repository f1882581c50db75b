//! The dialing side's check of another server's certificate, for TLS between the servers of
//! an ensemble (corral-peer's `RustlsLayer`): the chain checks of [`verify::verify_chain`]
//! (version 1 certificates accepted, as ZooKeeper's test kits make them and webpki refuses),
//! and handshake signatures checked with the certificate's key. Each server presents one
//! certificate both ways (ZooKeeper's quorum key store), so it must be usable for client
//! authentication. No host name check: peers are named by server id in the peer handshake.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::verify::{self, handshake_signature, rejected, supported_schemes};
use crate::x509::Certificate;
use crate::TlsError;

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
