//! zoo.cfg's TLS keys for the secure client port (`secureClientPort`, `ssl.*`, and
//! `X509AuthenticationProvider.superUser`), gathered while the file is read and turned into
//! corral-tls settings once it has been read, so that the keys may come in any order.
//!
//! Names and defaults are ZooKeeper 3.8's (X509Util): `ssl.keyStore.location` /
//! `.password` / `.passwordPath` / `.type`, the same for `ssl.trustStore`, `ssl.clientAuth`
//! (need), `ssl.protocol` (TLSv1.2), `ssl.enabledProtocols` (the protocol),
//! `ssl.ciphersuites`. A password file loses one trailing line separator, as in ZooKeeper.
//! Revocation checks (`ssl.crl`, `ssl.ocsp`) are refused when turned on rather than silently
//! skipped; the quorum's `ssl.quorum.*` keys and the rest of `ssl.*` are reported as
//! ignored.

use std::collections::BTreeMap;
use std::path::PathBuf;

use corral_tls::{ClientAuth, StoreSpec, StoreType, TlsSettings, TlsVersion};

use crate::ServerError;

/// The `ssl.*` keys seen so far: value and line.
#[derive(Debug, Default)]
pub(crate) struct TlsKeys {
    values: BTreeMap<&'static str, (String, usize)>,
}

/// The keys read here; any other `ssl.*` key is reported as ignored.
const KEYS: &[&str] = &[
    "ssl.keyStore.location",
    "ssl.keyStore.password",
    "ssl.keyStore.passwordPath",
    "ssl.keyStore.type",
    "ssl.trustStore.location",
    "ssl.trustStore.password",
    "ssl.trustStore.passwordPath",
    "ssl.trustStore.type",
    "ssl.clientAuth",
    "ssl.protocol",
    "ssl.enabledProtocols",
    "ssl.ciphersuites",
    "ssl.crl",
    "ssl.ocsp",
    "ssl.authProvider",
];

impl TlsKeys {
    /// Takes `key` if it is one of the TLS keys read here (returns false otherwise).
    pub(crate) fn take(&mut self, key: &str, value: &str, line: usize) -> bool {
        match KEYS.iter().find(|k| **k == key) {
            Some(k) => {
                self.values.insert(k, (value.to_string(), line));
                true
            }
            None => false,
        }
    }

    fn get(&self, key: &str) -> Option<(&str, usize)> {
        self.values
            .get(key)
            .map(|(v, l)| (v.as_str(), *l))
            .filter(|(v, _)| !v.is_empty())
    }

    fn error(&self, key: &str, message: String) -> ServerError {
        ServerError::Config {
            line: self.values.get(key).map_or(0, |(_, l)| *l),
            key: key.to_string(),
            message,
        }
    }

    /// A key that is missing, reported at the line that needs it.
    fn missing(&self, key: &str, line: usize, message: &str) -> ServerError {
        ServerError::Config {
            line,
            key: key.to_string(),
            message: message.to_string(),
        }
    }

    /// The settings of the secure client port (set at `port_line`), or an error naming the
    /// key and line.
    pub(crate) fn settings(&self, port_line: usize) -> Result<TlsSettings, ServerError> {
        for key in ["ssl.crl", "ssl.ocsp"] {
            if self
                .get(key)
                .is_some_and(|(v, _)| v.eq_ignore_ascii_case("true"))
            {
                return Err(self.error(
                    key,
                    "certificate revocation checks are not supported by Corral".into(),
                ));
            }
        }
        if let Some((v, _)) = self.get("ssl.authProvider") {
            if v != "x509" {
                return Err(self.error(
                    "ssl.authProvider",
                    format!("only the x509 scheme authenticates TLS clients, not {v:?}"),
                ));
            }
        }
        let key_store = self.store("keyStore")?.ok_or_else(|| {
            self.missing(
                "ssl.keyStore.location",
                port_line,
                "secureClientPort is set here but no key store is",
            )
        })?;
        let trust_store = self.store("trustStore")?;
        let client_auth = match self.get("ssl.clientAuth") {
            None => ClientAuth::Need,
            Some((v, _)) => ClientAuth::from_property(v).ok_or_else(|| {
                self.error(
                    "ssl.clientAuth",
                    format!("expected none, want or need, got {v:?}"),
                )
            })?,
        };
        let protocols = match self.get("ssl.enabledProtocols") {
            Some((v, _)) => {
                let mut all = Vec::new();
                for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    all.extend(self.protocol("ssl.enabledProtocols", name)?);
                }
                all
            }
            None => self.protocol(
                "ssl.protocol",
                self.get("ssl.protocol").map_or("TLSv1.2", |p| p.0),
            )?,
        };
        let cipher_suites = self.get("ssl.ciphersuites").map(|(v, _)| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        });
        if trust_store.is_none() && client_auth != ClientAuth::None {
            return Err(self.missing(
                "ssl.trustStore.location",
                self.values
                    .get("ssl.clientAuth")
                    .map_or(port_line, |(_, l)| *l),
                "client certificates are asked for (ssl.clientAuth, default need) but no trust \
                 store is set; set one, or ssl.clientAuth=none",
            ));
        }
        Ok(TlsSettings {
            key_store,
            trust_store,
            client_auth,
            protocols,
            cipher_suites,
        })
    }

    fn protocol(&self, key: &str, name: &str) -> Result<Vec<TlsVersion>, ServerError> {
        TlsVersion::from_java_name(name).ok_or_else(|| {
            self.error(
                key,
                format!("unsupported protocol {name:?} (Corral serves TLSv1.2 and TLSv1.3)"),
            )
        })
    }

    fn store(&self, which: &str) -> Result<Option<StoreSpec>, ServerError> {
        let key = |suffix: &str| format!("ssl.{which}.{suffix}");
        let Some((location, _)) = self.get(&key("location")) else {
            return Ok(None);
        };
        let store_type = match self.get(&key("type")) {
            None => None,
            Some((v, _)) => Some(StoreType::from_property(v).ok_or_else(|| {
                self.error(
                    &key("type"),
                    format!("expected JKS, PEM, PKCS12 or BCFKS, got {v:?}"),
                )
            })?),
        };
        let password = match self.get(&key("passwordPath")) {
            Some((path, _)) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    self.error(&key("passwordPath"), format!("cannot read {path}: {e}"))
                })?;
                Some(text.strip_suffix('\n').unwrap_or(&text).to_string())
            }
            None => self.get(&key("password")).map(|(v, _)| v.to_string()),
        };
        let spec = StoreSpec {
            location: PathBuf::from(location),
            password: password.filter(|p| !p.is_empty()),
            store_type,
        };
        spec.resolved_type()
            .map_err(|e| self.error(&key("location"), e.to_string()))?;
        Ok(Some(spec))
    }
}

#[cfg(test)]
mod tests {
    use crate::ServerConfig;

    const BASE: &str = "dataDir=/x\nclientPort=2181\n";

    fn parse(extra: &str) -> Result<ServerConfig, crate::ServerError> {
        ServerConfig::parse(&format!("{BASE}{extra}"))
    }

    #[test]
    fn secure_port_settings_follow_zookeeper_defaults() {
        let cfg = parse(
            "secureClientPort=2281\nssl.keyStore.location=/k.jks\nssl.keyStore.password=pw\n\
             ssl.trustStore.location=/t.pem\nssl.quorum.protocol=TLSv1.3\n",
        )
        .expect("valid");
        assert_eq!(
            cfg.secure_client_addr,
            Some("0.0.0.0:2281".parse().expect("addr"))
        );
        let tls = cfg.tls.expect("tls settings");
        assert_eq!(tls.client_auth, corral_tls::ClientAuth::Need);
        assert_eq!(tls.protocols, vec![corral_tls::TlsVersion::Tls12]);
        assert_eq!(tls.key_store.password.as_deref(), Some("pw"));
        assert_eq!(tls.trust_store.map(|t| t.password), Some(None));
        assert!(cfg
            .ignored
            .iter()
            .any(|(line, k)| *line == 7 && k.contains("ssl.quorum")));
        // Without secureClientPort the ssl keys configure nothing.
        assert!(parse("ssl.keyStore.location=/k.jks\n")
            .expect("valid")
            .tls
            .is_none());
    }

    #[test]
    fn bad_tls_settings_name_key_and_line() {
        let cases = [
            ("secureClientPort=2281\n", "ssl.keyStore.location"),
            ("secureClientPortAddress=127.0.0.1\n", "secureClientPortAddress"),
            (
                "secureClientPort=1\nssl.keyStore.location=/k.jks\nssl.clientAuth=never\n",
                "ssl.clientAuth",
            ),
            (
                "secureClientPort=1\nssl.keyStore.location=/k.jks\nssl.clientAuth=none\nssl.protocol=TLSv1.1\n",
                "ssl.protocol",
            ),
            (
                "secureClientPort=1\nssl.keyStore.location=/k.jks\nssl.clientAuth=want\n",
                "ssl.trustStore.location",
            ),
            (
                "secureClientPort=1\nssl.keyStore.location=/k.store\nssl.clientAuth=none\n",
                "ssl.keyStore.location",
            ),
            (
                "secureClientPort=1\nssl.keyStore.location=/k.jks\nssl.clientAuth=none\nssl.ocsp=true\n",
                "ssl.ocsp",
            ),
        ];
        for (extra, key) in cases {
            let err = parse(extra).expect_err(extra).to_string();
            assert!(err.contains(key), "{extra:?}: {err}");
            assert!(!err.contains("line 0"), "{extra:?}: {err}");
        }
    }
}
