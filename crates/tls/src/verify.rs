//! Client certificate checks as Java's PKIX trust manager makes them for ZooKeeper: the
//! chain must lead to a certificate of the trust store, each link's signature must verify,
//! the leaf and every intermediate must be within their validity, intermediates must be CA
//! certificates (keyCertSign in their keyUsage when they have one, and within the
//! pathLenConstraint of each), a leaf with extendedKeyUsage must allow clientAuth, and no
//! certificate may carry a critical extension this reader does not understand. Unlike webpki (rustls's own
//! verifier), version 1 certificates are accepted, as Java accepts them.
//!
//! Not checked (ZooKeeper leaves them off by default too): revocation (CRL, OCSP), and the
//! client's host name (ZooKeeper never verifies client host names on the client port).

use std::sync::Arc;

use ring::signature;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::x509::{curve_of, oid, Certificate};
use crate::TlsError;

/// The longest chain followed from the leaf to a trust anchor.
const MAX_DEPTH: usize = 8;

/// Checks `leaf` (and the `intermediates` the client sent) against `anchors` (the trust
/// store's certificates) at `now` (seconds since the Unix epoch).
pub fn verify_chain(
    leaf: &[u8],
    intermediates: &[&[u8]],
    anchors: &[Vec<u8>],
    now: i64,
) -> Result<(), TlsError> {
    let leaf_cert = Certificate::parse(leaf)?;
    check_usable(&leaf_cert, now, "client certificate")?;
    if leaf_cert.client_auth == Some(false) {
        return Err(TlsError::Certificate(
            "client certificate's extendedKeyUsage does not allow clientAuth".into(),
        ));
    }
    if anchors.iter().any(|a| a.as_slice() == leaf) {
        return Ok(());
    }
    let parsed_anchors: Vec<Certificate<'_>> = anchors
        .iter()
        .filter_map(|a| Certificate::parse(a).ok())
        .collect();
    let parsed_intermediates: Vec<Certificate<'_>> = intermediates
        .iter()
        .filter_map(|c| Certificate::parse(c).ok())
        .collect();
    let mut current = &leaf_cert;
    // Intermediates (not self-issued) between `current` and the leaf: what an issuer's
    // pathLenConstraint limits.
    let mut below: u32 = 0;
    for _ in 0..MAX_DEPTH {
        if parsed_anchors
            .iter()
            .any(|a| a.subject == current.issuer && current.is_signed_by(a.public_key()).is_ok())
        {
            return Ok(());
        }
        let mut refusal = None;
        let next = parsed_intermediates.iter().find(|i| {
            if i.subject != current.issuer || current.is_signed_by(i.public_key()).is_err() {
                return false;
            }
            match may_issue(i, below, now) {
                Ok(()) => true,
                Err(e) => {
                    refusal.get_or_insert(e);
                    false
                }
            }
        });
        match (next, refusal) {
            (Some(i), _) => {
                if i.subject != i.issuer {
                    below += 1;
                }
                current = i;
            }
            (None, Some(e)) => return Err(e),
            (None, None) => {
                return Err(TlsError::Certificate(format!(
                    "certificate {} is not signed by a trusted CA",
                    current.subject_name().unwrap_or_else(|_| "?".into())
                )))
            }
        }
    }
    Err(TlsError::Certificate(format!(
        "certificate chain longer than {MAX_DEPTH}"
    )))
}

/// Whether intermediate `i`, with `below` intermediates under it in the chain, may have
/// issued the certificate under it, as Java's PKIX checks decide: a version 3 CA
/// certificate (basicConstraints cA), keyCertSign in its keyUsage when it has one, a
/// pathLenConstraint of at least `below`, within its validity, no unknown critical extension.
fn may_issue(i: &Certificate<'_>, below: u32, now: i64) -> Result<(), TlsError> {
    let name = || i.subject_name().unwrap_or_else(|_| "?".into());
    if i.version != 3 || i.is_ca != Some(true) {
        return Err(TlsError::Certificate(format!(
            "intermediate {} is not a CA certificate",
            name()
        )));
    }
    if i.key_cert_sign == Some(false) {
        return Err(TlsError::Certificate(format!(
            "intermediate {}'s keyUsage does not allow keyCertSign",
            name()
        )));
    }
    if i.path_len.is_some_and(|n| below > n) {
        return Err(TlsError::Certificate(format!(
            "intermediate {}'s pathLenConstraint is exceeded",
            name()
        )));
    }
    check_usable(i, now, "intermediate")
}

fn check_usable(cert: &Certificate<'_>, now: i64, what: &str) -> Result<(), TlsError> {
    if now < cert.not_before {
        return Err(TlsError::Certificate(format!("{what} is not valid yet")));
    }
    if now > cert.not_after {
        return Err(TlsError::Certificate(format!("{what} has expired")));
    }
    if let Some(ext) = cert.unknown_critical.first() {
        return Err(TlsError::Certificate(format!(
            "{what} has an unsupported critical extension {ext}"
        )));
    }
    Ok(())
}

/// Verifies a handshake signature made with the key of `cert`.
pub(crate) fn verify_signature(
    message: &[u8],
    cert: &[u8],
    scheme: SignatureScheme,
    sig: &[u8],
    tls13: bool,
) -> Result<(), TlsError> {
    let parsed = Certificate::parse(cert)?;
    let key = parsed.public_key();
    let key_alg = key.algorithm.algorithm.as_bytes();
    let curve = curve_of(key);
    let rsa = key_alg == oid::RSA;
    let alg: Option<&'static dyn signature::VerificationAlgorithm> = match scheme {
        SignatureScheme::RSA_PKCS1_SHA256 if rsa && !tls13 => {
            Some(&signature::RSA_PKCS1_2048_8192_SHA256)
        }
        SignatureScheme::RSA_PKCS1_SHA384 if rsa && !tls13 => {
            Some(&signature::RSA_PKCS1_2048_8192_SHA384)
        }
        SignatureScheme::RSA_PKCS1_SHA512 if rsa && !tls13 => {
            Some(&signature::RSA_PKCS1_2048_8192_SHA512)
        }
        SignatureScheme::RSA_PSS_SHA256 if rsa => Some(&signature::RSA_PSS_2048_8192_SHA256),
        SignatureScheme::RSA_PSS_SHA384 if rsa => Some(&signature::RSA_PSS_2048_8192_SHA384),
        SignatureScheme::RSA_PSS_SHA512 if rsa => Some(&signature::RSA_PSS_2048_8192_SHA512),
        SignatureScheme::ECDSA_NISTP256_SHA256
            if key_alg == oid::EC_PUBLIC_KEY && curve == Some(oid::P256) =>
        {
            Some(&signature::ECDSA_P256_SHA256_ASN1)
        }
        SignatureScheme::ECDSA_NISTP384_SHA384
            if key_alg == oid::EC_PUBLIC_KEY && curve == Some(oid::P384) =>
        {
            Some(&signature::ECDSA_P384_SHA384_ASN1)
        }
        SignatureScheme::ED25519 if key_alg == oid::ED25519 => Some(&signature::ED25519),
        _ => None,
    };
    let alg = alg.ok_or_else(|| {
        TlsError::Certificate(format!("signature scheme {scheme:?} does not fit the key"))
    })?;
    signature::UnparsedPublicKey::new(alg, &key.subject_public_key.data)
        .verify(message, sig)
        .map_err(|_| TlsError::Certificate("handshake signature does not verify".into()))
}

/// [`verify_signature`] as rustls's verifiers answer it.
pub(crate) fn handshake_signature(
    message: &[u8],
    cert: &[u8],
    dss: &DigitallySignedStruct,
    tls13: bool,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    verify_signature(message, cert, dss.scheme, dss.signature(), tls13).map_err(rejected)?;
    Ok(HandshakeSignatureValid::assertion())
}

/// The schemes [`verify_signature`] handles, strongest first.
pub(crate) fn supported_schemes() -> Vec<SignatureScheme> {
    vec![
        SignatureScheme::ECDSA_NISTP384_SHA384,
        SignatureScheme::ECDSA_NISTP256_SHA256,
        SignatureScheme::ED25519,
        SignatureScheme::RSA_PSS_SHA512,
        SignatureScheme::RSA_PSS_SHA384,
        SignatureScheme::RSA_PSS_SHA256,
        SignatureScheme::RSA_PKCS1_SHA512,
        SignatureScheme::RSA_PKCS1_SHA384,
        SignatureScheme::RSA_PKCS1_SHA256,
    ]
}

pub(crate) fn rejected(e: TlsError) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(e))))
}

/// rustls's hook for client certificates, with the checks of [`verify_chain`].
#[derive(Debug)]
pub struct JavaCompatibleClientVerifier {
    anchors: Vec<Vec<u8>>,
    subjects: Vec<DistinguishedName>,
    mandatory: bool,
}

impl JavaCompatibleClientVerifier {
    /// A verifier trusting `anchors`; `mandatory`: ZooKeeper's `ssl.clientAuth=need` (else
    /// `want`: a certificate is asked for, and checked when one is sent).
    pub fn new(anchors: &[CertificateDer<'_>], mandatory: bool) -> Result<Self, TlsError> {
        let mut subjects = Vec::new();
        for a in anchors {
            let cert = Certificate::parse(a)?;
            // TLS's certificate_authorities list carries each Name whole (SEQUENCE included).
            subjects.push(DistinguishedName::from(cert.subject.to_vec()));
        }
        Ok(JavaCompatibleClientVerifier {
            anchors: anchors.iter().map(|a| a.to_vec()).collect(),
            subjects,
            mandatory,
        })
    }
}

impl ClientCertVerifier for JavaCompatibleClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.subjects
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let inter: Vec<&[u8]> = intermediates.iter().map(|c| c.as_ref()).collect();
        let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        verify_chain(end_entity, &inter, &self.anchors, now).map_err(rejected)?;
        Ok(ClientCertVerified::assertion())
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
