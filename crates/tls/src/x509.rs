//! X.509 certificates as far as a TLS server checking its clients needs them, read with the
//! `x509-parser` crate: the signed part, names (and their RFC 2253 text, which is what Java's
//! `X500Principal.getName()` prints and ZooKeeper's x509 scheme uses as the id), validity,
//! the public key, and the extensions that decide whether a certificate may issue others or
//! authenticate a client. Version 1 certificates are read too: Java accepts them, and
//! kazoo's test harness makes them.
//!
//! What stays ours: the RFC 2253 text (Java's formatting, which no crate reproduces) and the
//! choice of signature algorithms (which [`Certificate::is_signed_by`] checks with ring).

use std::net::IpAddr;

use ring::signature;
use x509_parser::asn1_rs::{Any, Class, FromDer as _, Tag, ToDer as _};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo, X509Name};

use crate::TlsError;

/// A parsed certificate, borrowing its DER encoding.
#[derive(Debug, Clone)]
pub struct Certificate<'a> {
    /// The whole encoding.
    pub der: &'a [u8],
    x509: X509Certificate<'a>,
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
    /// basicConstraints' cA flag, when the extension is present.
    pub is_ca: Option<bool>,
    /// basicConstraints' pathLenConstraint, when present.
    pub path_len: Option<u32>,
    /// keyUsage's keyCertSign bit, when the extension is present.
    pub key_cert_sign: Option<bool>,
    /// Whether extendedKeyUsage allows client authentication (clientAuth or
    /// anyExtendedKeyUsage), when the extension is present.
    pub client_auth: Option<bool>,
    /// Critical extensions this reader does not understand (dotted OIDs).
    pub unknown_critical: Vec<String>,
}

/// What a certificate names its holder for host name checks ([`Certificate::host_names`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostNames {
    /// subjectAltName's dNSName entries, as written.
    pub dns: Vec<String>,
    /// subjectAltName's iPAddress entries.
    pub ips: Vec<IpAddr>,
    /// The subject's most specific common name.
    pub common_name: Option<String>,
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
}

fn bad(what: &str, e: impl std::fmt::Display) -> TlsError {
    TlsError::Certificate(format!("{what}: {e}"))
}

impl<'a> Certificate<'a> {
    /// Parses a DER certificate.
    pub fn parse(input: &'a [u8]) -> Result<Certificate<'a>, TlsError> {
        let (rest, x509) = X509Certificate::from_der(input).map_err(|e| bad("certificate", e))?;
        if !rest.is_empty() {
            return Err(TlsError::Certificate(
                "certificate: trailing bytes after the certificate".into(),
            ));
        }
        three_elements(input)?;
        for (what, name) in [
            ("issuer", &x509.tbs_certificate.issuer),
            ("subject", &x509.tbs_certificate.subject),
        ] {
            if !well_formed_name(name.as_raw()) {
                return Err(TlsError::Certificate(format!(
                    "certificate: malformed {what} name"
                )));
            }
        }
        let tbs = &x509.tbs_certificate;
        let version = match tbs.version.0 {
            0 => 1,
            1 => 2,
            2 => 3,
            _ => return Err(TlsError::Certificate("unknown certificate version".into())),
        };
        let mut parsed = Certificate {
            der: input,
            version,
            issuer: tbs.issuer.as_raw(),
            subject: tbs.subject.as_raw(),
            not_before: tbs.validity.not_before.timestamp(),
            not_after: tbs.validity.not_after.timestamp(),
            is_ca: None,
            path_len: None,
            key_cert_sign: None,
            client_auth: None,
            unknown_critical: Vec::new(),
            x509: x509.clone(),
        };
        for ext in x509.extensions() {
            let id = ext.oid.as_bytes();
            match ext.parsed_extension() {
                ParsedExtension::BasicConstraints(bc) => {
                    parsed.is_ca = Some(bc.ca);
                    parsed.path_len = bc.path_len_constraint;
                }
                ParsedExtension::KeyUsage(ku) => parsed.key_cert_sign = Some(ku.key_cert_sign()),
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    parsed.client_auth = Some(eku.client_auth || eku.any);
                }
                ParsedExtension::ParseError { error }
                    if [oid::BASIC_CONSTRAINTS, oid::KEY_USAGE, oid::EXT_KEY_USAGE]
                        .contains(&id) =>
                {
                    return Err(bad(&format!("extension {}", ext.oid.to_id_string()), error));
                }
                _ if ext.critical
                    && ![
                        oid::KEY_USAGE,
                        oid::SUBJECT_ALT_NAME,
                        oid::BASIC_CONSTRAINTS,
                        oid::EXT_KEY_USAGE,
                    ]
                    .contains(&id) =>
                {
                    parsed.unknown_critical.push(ext.oid.to_id_string());
                }
                _ => {}
            }
        }
        Ok(parsed)
    }

    /// The signed part (TBSCertificate, tag and length included).
    pub fn tbs(&self) -> &[u8] {
        self.x509.tbs_certificate.as_ref()
    }

    /// The signature bits.
    pub fn signature(&self) -> &[u8] {
        &self.x509.signature_value.data
    }

    /// The subject's public key.
    pub fn public_key(&self) -> &SubjectPublicKeyInfo<'a> {
        &self.x509.tbs_certificate.subject_pki
    }

    /// The subject as RFC 2253 text (Java's `X500Principal.getName()`): `CN=client,O=Example`.
    pub fn subject_name(&self) -> Result<String, TlsError> {
        Ok(name_to_rfc2253(&self.x509.tbs_certificate.subject))
    }

    /// The names this certificate gives its holder for a host name check: subjectAltName's
    /// dNSName and iPAddress entries (other kinds are left out) and the subject's most
    /// specific common name (the last CN in the encoding, the first in RFC 2253 text).
    pub fn host_names(&self) -> Result<HostNames, TlsError> {
        let mut names = HostNames::default();
        let san = self
            .x509
            .subject_alternative_name()
            .map_err(|e| bad("subjectAltName", e))?;
        for name in san.iter().flat_map(|ext| ext.value.general_names.iter()) {
            match name {
                GeneralName::DNSName(dns) => names.dns.push((*dns).to_string()),
                GeneralName::IPAddress(octets) => match octets.len() {
                    4 => names
                        .ips
                        .push(IpAddr::from(<[u8; 4]>::try_from(*octets).map_err(
                            |_| TlsError::Certificate("subjectAltName: bad IPv4 address".into()),
                        )?)),
                    16 => names
                        .ips
                        .push(IpAddr::from(<[u8; 16]>::try_from(*octets).map_err(
                            |_| TlsError::Certificate("subjectAltName: bad IPv6 address".into()),
                        )?)),
                    n => {
                        return Err(TlsError::Certificate(format!(
                            "subjectAltName: an IP address of {n} bytes"
                        )))
                    }
                },
                _ => {}
            }
        }
        names.common_name = self
            .x509
            .tbs_certificate
            .subject
            .iter_common_name()
            .last()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_string);
        Ok(names)
    }

    /// Whether `issuer` (a CA's certificate or a trust anchor) signed this certificate.
    pub fn is_signed_by(&self, issuer: &SubjectPublicKeyInfo<'_>) -> Result<(), TlsError> {
        let alg = cert_signature_algorithm(&self.x509.signature_algorithm, issuer)?;
        signature::UnparsedPublicKey::new(alg, &issuer.subject_public_key.data)
            .verify(self.tbs(), self.signature())
            .map_err(|_| TlsError::Certificate("certificate signature does not verify".into()))
    }
}

/// A Certificate is a SEQUENCE of exactly three elements; x509-parser reads the three and
/// does not look for more, which Java refuses ("signed overrun").
fn three_elements(input: &[u8]) -> Result<(), TlsError> {
    let (_, outer) = Any::from_der(input).map_err(|e| bad("certificate", e))?;
    let mut rest = outer.data;
    for _ in 0..3 {
        rest = Any::from_der(rest).map_err(|e| bad("certificate", e))?.0;
    }
    if rest.is_empty() {
        Ok(())
    } else {
        Err(TlsError::Certificate(
            "certificate: trailing bytes after the signature".into(),
        ))
    }
}

/// Whether `raw` is exactly one Name: a SEQUENCE of non-empty SETs of
/// `SEQUENCE { OID, value }`, nothing left over at any level. x509-parser stops reading a
/// Name at the first element that does not fit (and its raw slice ends there); Java refuses
/// such a certificate, and the raw bytes are what chains are matched on.
fn well_formed_name(raw: &[u8]) -> bool {
    fn each(mut data: &[u8], mut f: impl FnMut(&Any<'_>) -> bool) -> bool {
        while !data.is_empty() {
            match Any::from_der(data) {
                Ok((rest, e)) if f(&e) => data = rest,
                _ => return false,
            }
        }
        true
    }
    let attribute = |ava: &Any<'_>| {
        ava.tag() == Tag::Sequence
            && match Any::from_der(ava.data) {
                Ok((value, oid)) if oid.tag() == Tag::Oid => {
                    matches!(Any::from_der(value), Ok((rest, _)) if rest.is_empty())
                }
                _ => false,
            }
    };
    match Any::from_der(raw) {
        Ok((rest, seq)) if rest.is_empty() && seq.tag() == Tag::Sequence => each(seq.data, |set| {
            set.tag() == Tag::Set && !set.data.is_empty() && each(set.data, attribute)
        }),
        _ => false,
    }
}

/// The named curve of an EC key (its parameters' OID).
pub(crate) fn curve_of<'k>(key: &'k SubjectPublicKeyInfo<'_>) -> Option<&'k [u8]> {
    let p = key.algorithm.parameters.as_ref()?;
    if p.header.class() != Class::Universal || p.header.tag().0 != 6 {
        return None;
    }
    [oid::P256, oid::P384]
        .into_iter()
        .find(|c| *c == p.data)
        .map(|_| p.data)
}

fn cert_signature_algorithm(
    sig: &AlgorithmIdentifier<'_>,
    issuer: &SubjectPublicKeyInfo<'_>,
) -> Result<&'static dyn signature::VerificationAlgorithm, TlsError> {
    let key = issuer.algorithm.algorithm.as_bytes();
    let curve = curve_of(issuer);
    let alg: Option<&'static dyn signature::VerificationAlgorithm> = match sig.algorithm.as_bytes()
    {
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
        o if o == oid::ECDSA_SHA256 && key == oid::EC_PUBLIC_KEY => match curve {
            Some(c) if c == oid::P256 => Some(&signature::ECDSA_P256_SHA256_ASN1),
            Some(_) => Some(&signature::ECDSA_P384_SHA256_ASN1),
            None => None,
        },
        o if o == oid::ECDSA_SHA384 && key == oid::EC_PUBLIC_KEY => match curve {
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
            sig.algorithm.to_id_string(),
            issuer.algorithm.algorithm.to_id_string()
        ))
    })
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
fn string_value(e: &Any<'_>) -> Option<String> {
    if e.header.class() != Class::Universal || e.header.is_constructed() {
        return None;
    }
    match e.header.tag().0 {
        // UTF8String, PrintableString, IA5String.
        12 | 19 | 22 => std::str::from_utf8(e.data).ok().map(str::to_string),
        // TeletexString, read as Latin-1 as Java does.
        20 => Some(e.data.iter().map(|&b| char::from(b)).collect()),
        // BMPString (UTF-16BE).
        30 => {
            let units: Vec<u16> = e
                .data
                .chunks(2)
                .map(|c| Some(u16::from_be_bytes([c[0], *c.get(1)?])))
                .collect::<Option<Vec<u16>>>()?;
            String::from_utf16(&units).ok()
        }
        // UniversalString (UTF-32BE).
        28 => e
            .data
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

/// A Name as RFC 2253 text: the last RDN first, `+` between the values of one RDN, keywords
/// where RFC 2253 has them, else the dotted OID and `#` with the value's DER in hex.
pub fn name_to_rfc2253(name: &X509Name<'_>) -> String {
    let mut rdns = Vec::new();
    for rdn in name.iter() {
        let mut text = String::new();
        for ava in rdn.iter() {
            if !text.is_empty() {
                text.push('+');
            }
            let type_oid = ava.attr_type();
            let value = ava.attr_value();
            match (keyword(type_oid.as_bytes()), string_value(value)) {
                (Some(k), Some(s)) => {
                    text.push_str(k);
                    text.push('=');
                    escape_rfc2253(&s, &mut text);
                }
                (k, _) => {
                    text.push_str(&k.map_or_else(|| type_oid.to_id_string(), str::to_string));
                    text.push_str("=#");
                    for b in value.to_der_vec().unwrap_or_default() {
                        text.push_str(&format!("{b:02x}"));
                    }
                }
            }
        }
        rdns.push(text);
    }
    rdns.reverse();
    rdns.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(der: &[u8]) -> String {
        let (rest, name) = X509Name::from_der(der).expect("name");
        assert!(rest.is_empty());
        name_to_rfc2253(&name)
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
        let mut der = vec![0x30, 2 * (cn.len() as u8 + 2)];
        for ava in [&cn[..], &o[..]] {
            der.push(0x31);
            der.push(ava.len() as u8);
            der.extend_from_slice(ava);
        }
        assert_eq!(name(&der), "O=Org,CN=a\\,b");
    }

    #[test]
    fn names_with_left_over_bytes_are_malformed() {
        let cn = [
            0x31, 0x0C, 0x30, 0x0A, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0C, 0x03, b'a', b'b', b'c',
        ];
        let mut good = vec![0x30, cn.len() as u8];
        good.extend_from_slice(&cn);
        assert!(well_formed_name(&good));
        // A stray NULL after the RDN, inside the Name.
        let mut stray = vec![0x30, cn.len() as u8 + 2];
        stray.extend_from_slice(&cn);
        stray.extend_from_slice(&[0x05, 0x00]);
        assert!(!well_formed_name(&stray));
        // What x509-parser keeps of it: a Name whose length runs past its raw slice.
        let (_, lenient) = X509Name::from_der(&stray).expect("x509-parser reads it");
        assert!(!well_formed_name(lenient.as_raw()));
        // An empty RDN, an attribute with two values, a Name followed by more bytes.
        assert!(!well_formed_name(&[0x30, 0x02, 0x31, 0x00]));
        let two = [
            0x30, 0x0D, 0x31, 0x0B, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03, 0x05, 0x00, 0x05,
            0x00,
        ];
        assert!(Any::from_der(&two[..]).is_ok_and(|(rest, _)| rest.is_empty()));
        assert!(!well_formed_name(&two[..]));
        let mut after = good.clone();
        after.push(0);
        assert!(!well_formed_name(&after));
    }

    #[test]
    fn unknown_types_and_non_strings_print_as_hex() {
        // SEQUENCE { SET { SEQ { 1.2.3, INTEGER 5 } , SEQ { CN, BMPString "é" } } }
        let odd = [0x30, 0x07, 0x06, 0x02, 0x2A, 0x03, 0x02, 0x01, 0x05];
        let bmp = [
            0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03, 0x1E, 0x02, 0x00, 0xE9,
        ];
        let mut set = vec![0x31, (odd.len() + bmp.len()) as u8];
        set.extend_from_slice(&odd);
        set.extend_from_slice(&bmp);
        let mut der = vec![0x30, set.len() as u8];
        der.extend_from_slice(&set);
        assert_eq!(name(&der), "1.2.3=#020105+CN=é");
    }
}
