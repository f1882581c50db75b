//! The JKS format (Sun's `JavaKeyStore`): magic `FEEDFEED`, version 1 or 2, entries (private
//! keys with their certificate chains, trusted certificates), then a SHA-1 integrity check
//! keyed by the store password. A private key is protected by Sun's own scheme (OID
//! 1.3.6.1.4.1.42.2.17.1.1): a SHA-1 keystream seeded by a 20-byte salt, and a SHA-1 check
//! of the plaintext, both keyed by the password (as UTF-16BE). Java unlocks keys with the
//! store password, and so does ZooKeeper, so one password serves both here too.

use ring::digest::{Context, SHA1_FOR_LEGACY_USE_ONLY};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::StoreContents;
use x509_parser::asn1_rs::{Any, FromDer as _, Tag};
use x509_parser::x509::AlgorithmIdentifier;

use crate::TlsError;

const MAGIC: u32 = 0xFEED_FEED;
const PRIVATE_KEY_ENTRY: u32 = 1;
const TRUSTED_CERT_ENTRY: u32 = 2;
/// 1.3.6.1.4.1.42.2.17.1.1, Sun's key protection.
const KEY_PROTECTOR_OID: &[u8] = &[0x2B, 0x06, 0x01, 0x04, 0x01, 0x2A, 0x02, 0x11, 0x01, 0x01];
/// More entries than any real store holds: a bound against hostile counts.
const MAX_ENTRIES: u32 = 100_000;

/// The encrypted bytes of an EncryptedPrivateKeyInfo (PKCS#8) protected by Sun's scheme:
/// `SEQUENCE { AlgorithmIdentifier { 1.3.6.1.4.1.42.2.17.1.1 }, OCTET STRING }`.
fn protected_key_data(protected: &[u8]) -> Result<&[u8], TlsError> {
    let bad = |e: &dyn std::fmt::Display| err(format!("protected key: {e}"));
    let (rest, info) = Any::from_der(protected).map_err(|e| bad(&e))?;
    if !rest.is_empty() || info.tag() != Tag::Sequence {
        return Err(err("protected key: not one DER SEQUENCE"));
    }
    let (rest, alg) = AlgorithmIdentifier::from_der(info.data).map_err(|e| bad(&e))?;
    if alg.algorithm.as_bytes() != KEY_PROTECTOR_OID {
        return Err(err(format!(
            "unsupported key protection {}",
            alg.algorithm.to_id_string()
        )));
    }
    let (_, data) = Any::from_der(rest).map_err(|e| bad(&e))?;
    if data.tag() != Tag::OctetString {
        return Err(err("protected key: no OCTET STRING"));
    }
    Ok(data.data)
}

fn err(message: impl Into<String>) -> TlsError {
    TlsError::Store(message.into())
}

struct Input<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TlsError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| err("truncated JKS file"))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, TlsError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn utf(&mut self) -> Result<String, TlsError> {
        let b = self.take(2)?;
        let n = usize::from(u16::from_be_bytes([b[0], b[1]]));
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
    fn blob(&mut self) -> Result<&'a [u8], TlsError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

/// The password as Java hashes it for JKS: each UTF-16 unit big-endian.
fn password_bytes(password: &str) -> Vec<u8> {
    password.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// Decodes a JKS file. With a password the integrity check is verified (a wrong password is
/// an error, as in Java); private keys need the password.
pub fn read_jks(bytes: &[u8], password: Option<&str>) -> Result<StoreContents, TlsError> {
    if bytes.len() < 20 {
        return Err(err("truncated JKS file"));
    }
    let (body, check) = bytes.split_at(bytes.len() - 20);
    if let Some(pw) = password {
        let mut ctx = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
        ctx.update(&password_bytes(pw));
        ctx.update(b"Mighty Aphrodite");
        ctx.update(body);
        if ctx.finish().as_ref() != check {
            return Err(err(
                "keystore was tampered with, or password was incorrect (JKS integrity check failed)",
            ));
        }
    }
    let mut input = Input { bytes: body, at: 0 };
    if input.u32()? != MAGIC {
        return Err(err("not a JKS file (bad magic)"));
    }
    let version = input.u32()?;
    if version != 1 && version != 2 {
        return Err(err(format!("unsupported JKS version {version}")));
    }
    let count = input.u32()?;
    if count > MAX_ENTRIES {
        return Err(err(format!("implausible JKS entry count {count}")));
    }
    let cert = |input: &mut Input<'_>| -> Result<CertificateDer<'static>, TlsError> {
        if version == 2 {
            let kind = input.utf()?;
            if kind != "X.509" {
                return Err(err(format!("unsupported certificate type {kind:?}")));
            }
        }
        Ok(CertificateDer::from(input.blob()?.to_vec()))
    };
    let mut out = StoreContents::default();
    for _ in 0..count {
        let kind = input.u32()?;
        let alias = input.utf()?;
        input.take(8)?; // creation date
        match kind {
            PRIVATE_KEY_ENTRY => {
                let protected = input.blob()?;
                let chain_len = input.u32()?;
                if chain_len > 64 {
                    return Err(err(format!(
                        "entry {alias:?}: chain of {chain_len} certificates"
                    )));
                }
                let chain = (0..chain_len)
                    .map(|_| cert(&mut input))
                    .collect::<Result<Vec<_>, _>>()?;
                if out.key.is_none() {
                    let pw = password.ok_or_else(|| {
                        err(format!(
                            "entry {alias:?}: a password is needed to read the key"
                        ))
                    })?;
                    let key = unprotect_key(protected, pw)
                        .map_err(|e| err(format!("entry {alias:?}: {e}")))?;
                    out.key = Some((PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)), chain));
                }
            }
            TRUSTED_CERT_ENTRY => out.trusted.push(cert(&mut input)?),
            other => {
                return Err(err(format!(
                    "entry {alias:?}: unsupported JKS entry kind {other} (a JCEKS secret key?)"
                )))
            }
        }
    }
    if input.at != body.len() {
        return Err(err("trailing bytes after the last JKS entry"));
    }
    Ok(out)
}

/// Recovers a PKCS#8 key from its JKS protection.
fn unprotect_key(protected: &[u8], password: &str) -> Result<Vec<u8>, TlsError> {
    let data = protected_key_data(protected)?;
    if data.len() < 40 {
        return Err(err("protected key too short"));
    }
    let (salt, rest) = data.split_at(20);
    let (encrypted, check) = rest.split_at(rest.len() - 20);
    let pw = password_bytes(password);
    let mut plain = Vec::with_capacity(encrypted.len());
    let mut block = salt.to_vec();
    for chunk in encrypted.chunks(20) {
        let mut ctx = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
        ctx.update(&pw);
        ctx.update(&block);
        block = ctx.finish().as_ref().to_vec();
        plain.extend(chunk.iter().zip(&block).map(|(c, k)| c ^ k));
    }
    let mut ctx = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(&pw);
    ctx.update(&plain);
    if ctx.finish().as_ref() != check {
        return Err(err("cannot recover the key: wrong password"));
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_inputs_are_errors() {
        assert!(read_jks(&[], None).is_err());
        assert!(read_jks(&[0u8; 20], None).is_err());
        let mut huge = vec![0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2, 0xFF, 0xFF, 0xFF, 0xFF];
        huge.extend([0u8; 20]);
        assert!(read_jks(&huge, None).is_err());
        let mut one = vec![
            0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0xFF, 0xFF,
        ];
        one.extend([0u8; 20]);
        assert!(read_jks(&one, None).is_err());
    }
}
