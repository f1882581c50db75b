//! PEM stores (ZooKeeper's `PEM` type): `CERTIFICATE` blocks, and for a key store one
//! unencrypted private key (`PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`). The
//! first certificate of a key store is the key's own, the rest its chain.

use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};

use super::StoreContents;
use crate::TlsError;

fn err(message: impl Into<String>) -> TlsError {
    TlsError::Store(message.into())
}

/// Decodes a PEM store: every certificate is both trusted and part of the key's chain.
pub fn read_pem(bytes: &[u8]) -> Result<StoreContents, TlsError> {
    let text = std::str::from_utf8(bytes).map_err(|_| err("PEM file is not text"))?;
    let mut certs = Vec::new();
    let mut key = None;
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(label) = line
            .trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for (_, l) in lines.by_ref() {
            if l.trim() == end {
                closed = true;
                break;
            }
            body.push_str(l.trim());
        }
        if !closed {
            return Err(err(format!(
                "line {}: {label} block has no END line",
                n + 1
            )));
        }
        let der = base64_decode(&body)
            .ok_or_else(|| err(format!("line {}: {label} block is not base64", n + 1)))?;
        let new_key = match label {
            "CERTIFICATE" => {
                certs.push(CertificateDer::from(der));
                continue;
            }
            "PRIVATE KEY" => PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der)),
            "RSA PRIVATE KEY" => PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der)),
            "EC PRIVATE KEY" => PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der)),
            "ENCRYPTED PRIVATE KEY" => {
                return Err(err(format!(
                    "line {}: encrypted PEM keys are not supported: decrypt it (`openssl pkcs8`)",
                    n + 1
                )))
            }
            _ => continue,
        };
        if key.is_some() {
            return Err(err(format!("line {}: a second private key", n + 1)));
        }
        key = Some(new_key);
    }
    if certs.is_empty() && key.is_none() {
        return Err(err("no certificate or key found in the PEM file"));
    }
    Ok(StoreContents {
        key: key.map(|k| (k, certs.clone())),
        trusted: certs,
    })
}

/// Standard base64 (RFC 4648) with optional padding and lenient trailing bits (the
/// `base64` crate).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    const PEM_BODY: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    PEM_BODY.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors() {
        assert_eq!(base64_decode("Zm9vYmFy").as_deref(), Some(&b"foobar"[..]));
        assert_eq!(base64_decode("Zm9vYg==").as_deref(), Some(&b"foob"[..]));
        assert_eq!(base64_decode("Zm8=").as_deref(), Some(&b"fo"[..]));
        assert_eq!(base64_decode("Zm8").as_deref(), Some(&b"fo"[..]));
        assert_eq!(base64_decode("Zh=="), Some(b"f".to_vec()));
        assert_eq!(base64_decode("Z!"), None);
    }

    #[test]
    fn unclosed_blocks_and_empty_files_are_errors() {
        assert!(read_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n").is_err());
        assert!(read_pem(b"hello\n").is_err());
        let two = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(read_pem(format!("{two}{two}").as_bytes()).is_err());
    }
}
