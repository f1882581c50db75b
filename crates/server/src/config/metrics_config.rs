//! zoo.cfg's `metricsProvider.*` keys: ZooKeeper's metrics provider. With
//! `metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider`
//! the server serves `/metrics` in the Prometheus text format on `metricsProvider.httpHost`
//! (default 0.0.0.0) : `metricsProvider.httpPort` (default 7000). Without it (or with
//! ZooKeeper's default provider) nothing is served, as in ZooKeeper.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// ZooKeeper's Prometheus provider class.
pub const PROMETHEUS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";
/// ZooKeeper's default provider (mntr and the AdminServer only) and its no-op one.
const DEFAULT_PROVIDERS: &[&str] = &[
    "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider",
    "org.apache.zookeeper.metrics.impl.NullMetricsProvider",
];

/// Where Prometheus's `/metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrometheusSettings {
    /// `metricsProvider.httpHost` : `metricsProvider.httpPort`.
    pub addr: SocketAddr,
}

/// The `metricsProvider.*` keys read so far.
#[derive(Debug, Default)]
pub(crate) struct MetricsKeys {
    class: Option<String>,
    host: Option<IpAddr>,
    port: Option<u16>,
}

/// What one `metricsProvider.*` key did.
pub(crate) enum KeyUse {
    /// Read.
    Used,
    /// A key of ZooKeeper's provider Corral has no use for (reported as ignored).
    Ignored,
}

impl MetricsKeys {
    /// Reads `metricsProvider.<name>`; a bad value is an error message.
    pub(crate) fn set(&mut self, name: &str, value: &str) -> Result<KeyUse, String> {
        match name {
            "className" => {
                if value != PROMETHEUS_PROVIDER && !DEFAULT_PROVIDERS.contains(&value) {
                    // ZooKeeper cannot boot a provider class it cannot load, and stops.
                    return Err(format!(
                        "unknown metrics provider {value:?} (Corral has {PROMETHEUS_PROVIDER} \
                         and ZooKeeper's default provider)"
                    ));
                }
                self.class = Some(value.to_string());
            }
            "httpHost" => {
                self.host = Some(
                    value
                        .parse()
                        .map_err(|_| format!("expected an IP address, got {value:?}"))?,
                )
            }
            "httpPort" => {
                self.port = Some(
                    value
                        .parse()
                        .map_err(|_| format!("expected a port number, got {value:?}"))?,
                )
            }
            // No JVM to describe: accepted, nothing more is exported.
            "exportJvmInfo" => {
                if !matches!(value, "true" | "false") {
                    return Err(format!("expected true or false, got {value:?}"));
                }
            }
            _ => return Ok(KeyUse::Ignored),
        }
        Ok(KeyUse::Used)
    }

    /// The Prometheus endpoint, when the Prometheus provider was chosen.
    pub(crate) fn finish(self) -> Option<PrometheusSettings> {
        (self.class.as_deref() == Some(PROMETHEUS_PROVIDER)).then(|| PrometheusSettings {
            addr: SocketAddr::new(
                self.host.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                self.port.unwrap_or(7000),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::ServerConfig;

    fn parse(extra: &str) -> Result<ServerConfig, crate::ServerError> {
        ServerConfig::parse(&format!("dataDir=/tmp/x\nclientPort=2181\n{extra}"))
    }

    #[test]
    fn off_unless_the_prometheus_provider_is_named() {
        assert_eq!(parse("").map(|c| c.prometheus).ok(), Some(None));
        let port_only = parse("metricsProvider.httpPort=7001\n").map(|c| c.prometheus);
        assert_eq!(port_only.ok(), Some(None));
        let default =
            "metricsProvider.className=org.apache.zookeeper.metrics.impl.DefaultMetricsProvider\n";
        assert_eq!(parse(default).map(|c| c.prometheus).ok(), Some(None));
    }

    #[test]
    fn zookeepers_defaults_and_keys() {
        let on = format!("metricsProvider.className={}\n", super::PROMETHEUS_PROVIDER);
        let cfg = parse(&on).ok().and_then(|c| c.prometheus);
        assert_eq!(cfg.map(|p| p.addr.to_string()), Some("0.0.0.0:7000".into()));
        let set = format!(
            "{on}metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=9141\n\
             metricsProvider.exportJvmInfo=false\nmetricsProvider.numWorkerThreads=4\n"
        );
        let cfg = parse(&set).ok();
        let addr = cfg
            .as_ref()
            .and_then(|c| c.prometheus)
            .map(|p| p.addr.to_string());
        assert_eq!(addr, Some("127.0.0.1:9141".into()));
        let ignored: Vec<String> = cfg
            .map(|c| c.ignored)
            .unwrap_or_default()
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        assert_eq!(
            ignored,
            vec!["metricsProvider.numWorkerThreads (not used by Corral)"]
        );
    }

    #[test]
    fn bad_values_are_errors_naming_the_key() {
        for bad in [
            "metricsProvider.className=com.example.Nope\n",
            "metricsProvider.httpPort=seventy\n",
            "metricsProvider.httpHost=not-an-ip\n",
            "metricsProvider.exportJvmInfo=maybe\n",
        ] {
            let err = parse(bad).err().map(|e| e.to_string()).unwrap_or_default();
            let key = bad.split('=').next().unwrap_or_default();
            assert!(err.contains(key), "{bad:?}: {err:?}");
        }
    }
}
