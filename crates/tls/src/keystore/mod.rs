//! Key and trust stores as ZooKeeper's `ssl.keyStore.*` / `ssl.trustStore.*` name them: a
//! location, a password and a type (JKS, PEM, PKCS12, BCFKS), the type guessed from the
//! file name when not given, as ZooKeeper's `KeyStoreFileType` does. JKS and PEM are read;
//! PKCS12 and BCFKS are refused with a message saying how to convert.

mod jks;
mod pem;

use std::path::{Path, PathBuf};

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::TlsError;

pub use jks::read_jks;
pub use pem::read_pem;

/// The kinds of store files ZooKeeper accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreType {
    /// Java KeyStore (`.jks`).
    Jks,
    /// PEM text (`.pem`): certificates and, for a key store, one private key.
    Pem,
    /// PKCS#12 (`.p12`, `.pfx`). Not read by Corral yet.
    Pkcs12,
    /// Bouncy Castle FIPS (`.bcfks`). Not read by Corral.
    Bcfks,
}

impl StoreType {
    /// ZooKeeper's `ssl.*.type` values, any case.
    pub fn from_property(value: &str) -> Option<StoreType> {
        match value.to_ascii_uppercase().as_str() {
            "JKS" => Some(StoreType::Jks),
            "PEM" => Some(StoreType::Pem),
            "PKCS12" => Some(StoreType::Pkcs12),
            "BCFKS" => Some(StoreType::Bcfks),
            _ => None,
        }
    }

    /// The type a file name implies (ZooKeeper: by extension, `.p12` or `.pfx` for PKCS12).
    pub fn from_file_name(path: &Path) -> Option<StoreType> {
        let name = path.to_string_lossy().to_ascii_lowercase();
        [
            (".jks", StoreType::Jks),
            (".pem", StoreType::Pem),
            (".p12", StoreType::Pkcs12),
            (".pfx", StoreType::Pkcs12),
            (".bcfks", StoreType::Bcfks),
        ]
        .into_iter()
        .find(|(ext, _)| name.ends_with(ext))
        .map(|(_, t)| t)
    }
}

/// Where a store is and how to open it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSpec {
    /// The file.
    pub location: PathBuf,
    /// Its password (JKS: checks the file's integrity and unlocks the key).
    pub password: Option<String>,
    /// The declared type; `None` guesses from the file name.
    pub store_type: Option<StoreType>,
}

/// What a store holds.
#[derive(Debug, Default)]
pub struct StoreContents {
    /// The first private key entry: its key and its certificate chain, leaf first.
    pub key: Option<(PrivateKeyDer<'static>, Vec<CertificateDer<'static>>)>,
    /// Trusted certificates.
    pub trusted: Vec<CertificateDer<'static>>,
}

impl StoreSpec {
    /// The type of the store, declared or guessed.
    pub fn resolved_type(&self) -> Result<StoreType, TlsError> {
        self.store_type
            .or_else(|| StoreType::from_file_name(&self.location))
            .ok_or_else(|| {
                TlsError::Store(format!(
                    "{}: cannot tell the store type from the file name (use .jks or .pem, or set the type)",
                    self.location.display()
                ))
            })
    }

    /// Reads and decodes the store.
    pub fn load(&self) -> Result<StoreContents, TlsError> {
        let bytes = std::fs::read(&self.location).map_err(|e| {
            TlsError::Store(format!("cannot read {}: {e}", self.location.display()))
        })?;
        let named = |e: TlsError| TlsError::Store(format!("{}: {e}", self.location.display()));
        match self.resolved_type()? {
            // Java's JKS loader also reads PKCS#12 content (keytool's default format since
            // Java 9, whatever the file is called): say so rather than "bad magic".
            StoreType::Jks if bytes.first() == Some(&0x30) => Err(named(pkcs12_unsupported())),
            StoreType::Jks => read_jks(&bytes, self.password.as_deref()).map_err(named),
            StoreType::Pem => read_pem(&bytes).map_err(named),
            StoreType::Pkcs12 => Err(named(pkcs12_unsupported())),
            StoreType::Bcfks => Err(named(TlsError::Store(
                "BCFKS stores are not supported: use JKS or PEM".into(),
            ))),
        }
    }
}

fn pkcs12_unsupported() -> TlsError {
    TlsError::Store(
        "PKCS12 stores are not supported yet: convert with `keytool -importkeystore \
         -srckeystore F.p12 -srcstoretype PKCS12 -destkeystore F.jks -deststoretype JKS` \
         or use PEM files"
            .into(),
    )
}
