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
