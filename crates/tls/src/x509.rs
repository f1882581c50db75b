//! X.509 certificates as far as a TLS server checking its clients needs them: the signed
//! part, names (and their RFC 2253 text, which is what Java's
//! `X500Principal.getName()` prints and ZooKeeper's x509 scheme uses as the id), validity,
//! the public key, and the extensions that decide whether a certificate may issue others or
//! authenticate a client. Version 1 certificates are read too: Java accepts them, and
//! kazoo's test harness makes them.

use ring::signature;

use crate::der::{self, tag, DerError, Element, Reader};
use crate::TlsError;

/// A parsed certificate, borrowing its DER encoding.
#[derive(Debug, Clone)]
pub struct Certificate<'a> {
    /// The whole encoding.
    pub der: &'a [u8],
    /// The signed part (TBSCertificate, tag and length included).
    pub tbs: &'a [u8],
    /// The outer signature algorithm.
    pub signature_algorithm: AlgorithmId<'a>,
    /// The signature bits.
    pub signature: &'a [u8],
    /// 1, 2 or 3.
    pub version: u8,
    /// The issuer Name (tag and length included).
    pub issuer: &'a [u8],
    /// The subject Name (tag and length included).
    pub subject: &'a [u8],
    /// notBefore, seconds since the Unix epoch.
    pub not_before: i64,
    /// notAfter, seconds since the Unix epoch.
    pub not_after: i64,
    /// The subject's public key.
    pub public_key: PublicKeyInfo<'a>,
    /// basicConstraints' cA flag, when the extension is present.
    pub is_ca: Option<bool>,
    /// The extendedKeyUsage purposes (OID content octets), when the extension is present.
    pub extended_key_usage: Option<Vec<&'a [u8]>>,
    /// Critical extensions this reader does not understand (dotted OIDs).
    pub unknown_critical: Vec<String>,
}

/// An AlgorithmIdentifier: OID content octets and the raw parameters, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlgorithmId<'a> {
    /// The OID's content octets.
    pub oid: &'a [u8],
    /// The parameters element (NULL, a curve OID, ...), if present.
    pub params: Option<Element<'a>>,
}

/// SubjectPublicKeyInfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKeyInfo<'a> {
    /// The key's algorithm (and curve, for EC keys).
    pub algorithm: AlgorithmId<'a>,
    /// The subjectPublicKey bits (RSAPublicKey DER, an EC point, or an Ed25519 key).
    pub key: &'a [u8],
}

/// Object identifiers (content octets) this crate recognises.
pub mod oid {
    /// rsaEncryption.
    pub const RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
    /// sha1WithRSAEncryption.
    pub const RSA_SHA1: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x05];
    /// sha256WithRSAEncryption.
    pub const RSA_SHA256: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B];
    /// sha384WithRSAEncryption.
    pub const RSA_SHA384: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0C];
    /// sha512WithRSAEncryption.
    pub const RSA_SHA512: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0D];
    /// id-ecPublicKey.
    pub const EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
    /// prime256v1 (P-256).
    pub const P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    /// secp384r1 (P-384).
    pub const P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];
    /// ecdsa-with-SHA256.
    pub const ECDSA_SHA256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02];
    /// ecdsa-with-SHA384.
    pub const ECDSA_SHA384: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03];
    /// Ed25519.
    pub const ED25519: &[u8] = &[0x2B, 0x65, 0x70];
    /// basicConstraints.
    pub const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1D, 0x13];
    /// keyUsage.
    pub const KEY_USAGE: &[u8] = &[0x55, 0x1D, 0x0F];
    /// extendedKeyUsage.
    pub const EXT_KEY_USAGE: &[u8] = &[0x55, 0x1D, 0x25];
    /// subjectAltName.
    pub const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1D, 0x11];
    /// id-kp-clientAuth.
    pub const KP_CLIENT_AUTH: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];
    /// anyExtendedKeyUsage.
    pub const ANY_EXT_KEY_USAGE: &[u8] = &[0x55, 0x1D, 0x25, 0x00];
}

fn bad(what: &str, e: DerError) -> TlsError {
    TlsError::Certificate(format!("{what}: {e}"))
}

impl<'a> Certificate<'a> {
    /// Parses a DER certificate.
    pub fn parse(input: &'a [u8]) -> Result<Certificate<'a>, TlsError> {
        let outer = der::single(input, tag::SEQUENCE).map_err(|e| bad("certificate", e))?;
        let mut cert = Reader::new(outer.value);
        let tbs = cert
            .tagged(tag::SEQUENCE)
            .map_err(|e| bad("tbsCertificate", e))?;
        let signature_algorithm = algorithm(&mut cert).map_err(|e| bad("signatureAlgorithm", e))?;
        let sig = cert
            .tagged(tag::BIT_STRING)
            .map_err(|e| bad("signature", e))?;
        let signature = der::bit_string_bytes(&sig).map_err(|e| bad("signature", e))?;
        cert.finish().map_err(|e| bad("certificate", e))?;

        let mut t = Reader::new(tbs.value);
        let version = match t.optional(tag::CONTEXT_0).map_err(|e| bad("version", e))? {
            None => 1,
            Some(v) => {
                let n = der::single(v.value, tag::INTEGER).map_err(|e| bad("version", e))?;
                match n.value {
                    [0] => 1,
                    [1] => 2,
                    [2] => 3,
                    _ => return Err(TlsError::Certificate("unknown certificate version".into())),
                }
            }
        };
        t.tagged(tag::INTEGER).map_err(|e| bad("serialNumber", e))?;
        algorithm(&mut t).map_err(|e| bad("signature", e))?;
        let issuer = t.tagged(tag::SEQUENCE).map_err(|e| bad("issuer", e))?.raw;
        let mut validity = t.nested(tag::SEQUENCE).map_err(|e| bad("validity", e))?;
        let not_before = time(&mut validity)?;
        let not_after = time(&mut validity)?;
        validity.finish().map_err(|e| bad("validity", e))?;
        let subject = t.tagged(tag::SEQUENCE).map_err(|e| bad("subject", e))?.raw;
        let mut spki = t
            .nested(tag::SEQUENCE)
            .map_err(|e| bad("subjectPublicKeyInfo", e))?;
        let key_alg = algorithm(&mut spki).map_err(|e| bad("subjectPublicKeyInfo", e))?;
        let key_bits = spki
            .tagged(tag::BIT_STRING)
            .map_err(|e| bad("subjectPublicKey", e))?;
        let key = der::bit_string_bytes(&key_bits).map_err(|e| bad("subjectPublicKey", e))?;
        let _ = t.optional(0x81).map_err(|e| bad("issuerUniqueID", e))?;
        let _ = t.optional(0x82).map_err(|e| bad("subjectUniqueID", e))?;
        let mut parsed = Certificate {
            der: input,
            tbs: tbs.raw,
            signature_algorithm,
            signature,
            version,
            issuer,
            subject,
            not_before,
            not_after,
            public_key: PublicKeyInfo {
                algorithm: key_alg,
                key,
            },
            is_ca: None,
            extended_key_usage: None,
            unknown_critical: Vec::new(),
        };
        if let Some(exts) = t
            .optional(tag::CONTEXT_3)
            .map_err(|e| bad("extensions", e))?
        {
            parsed.read_extensions(exts.value)?;
        }
        t.finish().map_err(|e| bad("tbsCertificate", e))?;
        Ok(parsed)
    }

    fn read_extensions(&mut self, input: &'a [u8]) -> Result<(), TlsError> {
        let list = der::single(input, tag::SEQUENCE).map_err(|e| bad("extensions", e))?;
        let mut list = Reader::new(list.value);
        while !list.is_empty() {
            let mut ext = list
                .nested(tag::SEQUENCE)
                .map_err(|e| bad("extension", e))?;
            let id = ext.tagged(tag::OID).map_err(|e| bad("extension", e))?.value;
            let critical = match ext
                .optional(tag::BOOLEAN)
                .map_err(|e| bad("extension", e))?
            {
                Some(b) => b.value != [0],
                None => false,
            };
            let value = ext
                .tagged(tag::OCTET_STRING)
                .map_err(|e| bad("extension", e))?
                .value;
            ext.finish().map_err(|e| bad("extension", e))?;
            if id == oid::BASIC_CONSTRAINTS {
                let mut bc = Reader::new(
                    der::single(value, tag::SEQUENCE)
                        .map_err(|e| bad("basicConstraints", e))?
                        .value,
                );
                let ca = bc
                    .optional(tag::BOOLEAN)
                    .map_err(|e| bad("basicConstraints", e))?
                    .is_some_and(|b| b.value != [0]);
                self.is_ca = Some(ca);
            } else if id == oid::EXT_KEY_USAGE {
                let seq = der::single(value, tag::SEQUENCE).map_err(|e| bad("extKeyUsage", e))?;
                let mut r = Reader::new(seq.value);
                let mut purposes = Vec::new();
                while !r.is_empty() {
                    purposes.push(r.tagged(tag::OID).map_err(|e| bad("extKeyUsage", e))?.value);
                }
                self.extended_key_usage = Some(purposes);
            } else if critical && id != oid::KEY_USAGE && id != oid::SUBJECT_ALT_NAME {
                self.unknown_critical.push(der::oid_to_string(id));
            }
        }
        Ok(())
    }

    /// The subject as RFC 2253 text (Java's `X500Principal.getName()`): `CN=client,O=Example`.
    pub fn subject_name(&self) -> Result<String, TlsError> {
        name_to_rfc2253(self.subject)
    }

    /// Whether `issuer` (a CA's certificate or a trust anchor) signed this certificate.
    pub fn is_signed_by(&self, issuer: &PublicKeyInfo<'_>) -> Result<(), TlsError> {
        let alg = cert_signature_algorithm(&self.signature_algorithm, issuer)?;
        signature::UnparsedPublicKey::new(alg, issuer.key)
            .verify(self.tbs, self.signature)
            .map_err(|_| TlsError::Certificate("certificate signature does not verify".into()))
    }
}

fn algorithm<'a>(r: &mut Reader<'a>) -> Result<AlgorithmId<'a>, DerError> {
    let mut seq = r.nested(tag::SEQUENCE)?;
    let oid = seq.tagged(tag::OID)?.value;
    let params = if seq.is_empty() {
        None
    } else {
        Some(seq.any()?)
    };
    seq.finish()?;
    Ok(AlgorithmId { oid, params })
}

fn curve_of(key: &PublicKeyInfo<'_>) -> Option<&'static [u8]> {
    let p = key.algorithm.params?;
    if p.tag != tag::OID {
        return None;
    }
    [oid::P256, oid::P384].into_iter().find(|c| *c == p.value)
}

fn cert_signature_algorithm(
    sig: &AlgorithmId<'_>,
    issuer: &PublicKeyInfo<'_>,
) -> Result<&'static dyn signature::VerificationAlgorithm, TlsError> {
    let key = issuer.algorithm.oid;
    let alg: Option<&'static dyn signature::VerificationAlgorithm> = match sig.oid {
        o if o == oid::RSA_SHA256 && key == oid::RSA => {
            Some(&signature::RSA_PKCS1_2048_8192_SHA256)
        }
        o if o == oid::RSA_SHA384 && key == oid::RSA => {
            Some(&signature::RSA_PKCS1_2048_8192_SHA384)
        }
        o if o == oid::RSA_SHA512 && key == oid::RSA => {
            Some(&signature::RSA_PKCS1_2048_8192_SHA512)
        }
        o if o == oid::RSA_SHA1 && key == oid::RSA => {
            Some(&signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY)
        }
        o if o == oid::ECDSA_SHA256 && key == oid::EC_PUBLIC_KEY => match curve_of(issuer) {
            Some(c) if c == oid::P256 => Some(&signature::ECDSA_P256_SHA256_ASN1),
            Some(_) => Some(&signature::ECDSA_P384_SHA256_ASN1),
            None => None,
        },
        o if o == oid::ECDSA_SHA384 && key == oid::EC_PUBLIC_KEY => match curve_of(issuer) {
            Some(c) if c == oid::P256 => Some(&signature::ECDSA_P256_SHA384_ASN1),
            Some(_) => Some(&signature::ECDSA_P384_SHA384_ASN1),
            None => None,
        },
        o if o == oid::ED25519 && key == oid::ED25519 => Some(&signature::ED25519),
        _ => None,
    };
    alg.ok_or_else(|| {
        TlsError::Certificate(format!(
            "unsupported certificate signature algorithm {} (issuer key {})",
            der::oid_to_string(sig.oid),
            der::oid_to_string(key)
        ))
    })
}

/// Reads a UTCTime or GeneralizedTime (`...Z`) as seconds since the Unix epoch.
fn time(r: &mut Reader<'_>) -> Result<i64, TlsError> {
    let e = r.any().map_err(|e| bad("validity", e))?;
    let text = std::str::from_utf8(e.value)
        .map_err(|_| TlsError::Certificate("validity time is not ASCII".into()))?;
    let digits = text
        .strip_suffix('Z')
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| TlsError::Certificate(format!("unsupported validity time {text:?}")))?;
    let num = |s: &str| s.parse::<i64>().unwrap_or(0);
    let (year, rest) = match (e.tag, digits.len()) {
        (tag::UTC_TIME, 12) => {
            let yy = num(&digits[..2]);
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &digits[2..])
        }
        (tag::GENERALIZED_TIME, 14) => (num(&digits[..4]), &digits[4..]),
        _ => {
            return Err(TlsError::Certificate(format!(
                "unsupported validity time {text:?}"
            )))
        }
    };
    let (month, day) = (num(&rest[..2]), num(&rest[2..4]));
    let (h, m, s) = (num(&rest[4..6]), num(&rest[6..8]), num(&rest[8..10]));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return Err(TlsError::Certificate(format!("bad validity time {text:?}")));
    }
    Ok(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The attribute types RFC 2253 names by keyword (the ones Java prints that way).
fn keyword(type_oid: &[u8]) -> Option<&'static str> {
    Some(match type_oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x0A] => "O",
        [0x55, 0x04, 0x0B] => "OU",
        [0x55, 0x04, 0x09] => "STREET",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x19] => "DC",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x01] => "UID",
        _ => return None,
    })
}

/// A DirectoryString's text, or nothing for a type that is not a string.
fn string_value(e: &Element<'_>) -> Option<String> {
    match e.tag {
        0x0C | 0x13 | 0x16 => std::str::from_utf8(e.value).ok().map(str::to_string),
        0x14 => Some(e.value.iter().map(|&b| char::from(b)).collect()),
        0x1E => {
            let units: Vec<u16> = e
                .value
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1)?]).into())
                .collect::<Option<Vec<u16>>>()?;
            String::from_utf16(&units).ok()
        }
        0x1C => e
            .value
            .chunks(4)
            .map(|c| {
                let b: [u8; 4] = c.try_into().ok()?;
                char::from_u32(u32::from_be_bytes(b))
            })
            .collect(),
        _ => None,
    }
}

fn escape_rfc2253(value: &str, out: &mut String) {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
}

/// A Name (SEQUENCE OF RelativeDistinguishedName, tag and length included) as RFC 2253 text:
/// the last RDN first, `+` between the values of one RDN, keywords where RFC 2253 has them,
/// else the dotted OID and `#` with the value's DER in hex.
pub fn name_to_rfc2253(name: &[u8]) -> Result<String, TlsError> {
    let seq = der::single(name, tag::SEQUENCE).map_err(|e| bad("name", e))?;
    let mut rdns = Vec::new();
    let mut r = Reader::new(seq.value);
    while !r.is_empty() {
        let mut set = r.nested(tag::SET).map_err(|e| bad("name", e))?;
        let mut text = String::new();
        while !set.is_empty() {
            let mut ava = set.nested(tag::SEQUENCE).map_err(|e| bad("name", e))?;
            let type_oid = ava.tagged(tag::OID).map_err(|e| bad("name", e))?.value;
            let value = ava.any().map_err(|e| bad("name", e))?;
            ava.finish().map_err(|e| bad("name", e))?;
            if !text.is_empty() {
                text.push('+');
            }
            match (keyword(type_oid), string_value(&value)) {
                (Some(k), Some(s)) => {
                    text.push_str(k);
                    text.push('=');
                    escape_rfc2253(&s, &mut text);
                }
                (k, _) => {
                    text.push_str(&k.map_or_else(|| der::oid_to_string(type_oid), str::to_string));
                    text.push_str("=#");
                    for b in value.raw {
                        text.push_str(&format!("{b:02x}"));
                    }
                }
            }
        }
        rdns.push(text);
    }
    rdns.reverse();
    Ok(rdns.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2026, 11, 23), 20_780);
    }

    #[test]
    fn names_print_as_java_does() {
        // SEQUENCE { SET { SEQ { CN, UTF8 "a,b" } }, SET { SEQ { O, PRINTABLE "Org" } } }
        let cn = [
            0x30, 0x0A, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0C, 0x03, b'a', b',', b'b',
        ];
        let o = [
            0x30, 0x0A, 0x06, 0x03, 0x55, 0x04, 0x0A, 0x13, 0x03, b'O', b'r', b'g',
        ];
        let mut name = vec![0x30, 2 * (cn.len() as u8 + 2)];
        for ava in [&cn[..], &o[..]] {
            name.push(0x31);
            name.push(ava.len() as u8);
            name.extend_from_slice(ava);
        }
        assert_eq!(name_to_rfc2253(&name).expect("name"), "O=Org,CN=a\\,b");
    }
}
