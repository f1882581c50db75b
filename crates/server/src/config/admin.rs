//! The AdminServer's keys: `admin.enableServer`, `admin.serverAddress`, `admin.serverPort`,
//! `admin.commandURL`, `admin.idleTimeout`, each also under its system-property name
//! (`zookeeper.admin.*`, which ZooKeeper's QuorumPeerConfig turns zoo.cfg's keys into).
//!
//! ZooKeeper's defaults: on, 0.0.0.0, port 8080, `/commands`, 30000 ms. Where ZooKeeper falls
//! back to a default on a value it cannot read (Java's `Integer.getInteger`) or turns it off
//! (`Boolean.parseBoolean`), Corral refuses the value with the key and line instead.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::ServerError;

/// The AdminServer's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// `admin.enableServer`.
    pub enabled: bool,
    /// `admin.serverAddress` + `admin.serverPort`.
    pub addr: SocketAddr,
    /// `admin.commandURL`: the index page; commands are under it (`<url>/<name>`).
    pub command_url: String,
    /// `admin.idleTimeout`, ms: how long a connection may wait for a request.
    pub idle_timeout_ms: u32,
}

/// ZooKeeper's JettyAdminServer defaults.
pub const DEFAULT_PORT: u16 = 8080;
/// `admin.commandURL`'s default.
pub const DEFAULT_COMMAND_URL: &str = "/commands";
/// `admin.idleTimeout`'s default, ms.
pub const DEFAULT_IDLE_TIMEOUT_MS: u32 = 30_000;

impl AdminConfig {
    /// ZooKeeper's defaults: serving on 0.0.0.0:8080.
    pub fn zookeeper_default() -> AdminConfig {
        AdminConfig {
            enabled: true,
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), DEFAULT_PORT),
            command_url: DEFAULT_COMMAND_URL.to_string(),
            idle_timeout_ms: DEFAULT_IDLE_TIMEOUT_MS,
        }
    }

    /// Off (an embedded server's default, see `ServerConfig::default`).
    pub fn disabled() -> AdminConfig {
        AdminConfig {
            enabled: false,
            ..AdminConfig::zookeeper_default()
        }
    }

    /// Takes `key` if it is an AdminServer key: `Ok(true)` when taken, an error naming the key
    /// and line when its value is bad.
    pub fn take(&mut self, key: &str, value: &str, line: usize) -> Result<bool, ServerError> {
        let bad = |message: String| ServerError::Config {
            line,
            key: key.to_string(),
            message,
        };
        let Some(name) = key
            .strip_prefix("zookeeper.")
            .unwrap_or(key)
            .strip_prefix("admin.")
        else {
            return Ok(false);
        };
        match name {
            "enableServer" => {
                self.enabled = match value.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad(format!("expected true or false, got {value:?}"))),
                }
            }
            "serverAddress" => {
                let ip = value
                    .parse::<IpAddr>()
                    .map_err(|_| bad(format!("expected an IP address, got {value:?}")))?;
                self.addr.set_ip(ip);
            }
            "serverPort" => {
                let port = value
                    .parse::<u16>()
                    .map_err(|_| bad(format!("expected a port number, got {value:?}")))?;
                self.addr.set_port(port);
            }
            "commandURL" => {
                if !value.starts_with('/') || value.contains(['?', '#', ' ']) {
                    return Err(bad(format!(
                        "expected a URL path starting with '/', got {value:?}"
                    )));
                }
                // `/commands/` and `/commands` serve the same pages.
                let trimmed = value.trim_end_matches('/');
                self.command_url = if trimmed.is_empty() { "/" } else { trimmed }.to_string();
            }
            "idleTimeout" => {
                self.idle_timeout_ms =
                    value
                        .parse::<u32>()
                        .ok()
                        .filter(|ms| *ms > 0)
                        .ok_or_else(|| {
                            bad(format!("expected a positive number of ms, got {value:?}"))
                        })?
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerConfig;

    fn parse(extra: &str) -> Result<ServerConfig, ServerError> {
        ServerConfig::parse(&format!("dataDir=/x\nclientPort=1\n{extra}"))
    }

    #[test]
    fn defaults_are_zookeepers() {
        let cfg = parse("").expect("valid");
        assert_eq!(cfg.admin, AdminConfig::zookeeper_default());
        assert!(cfg.admin.enabled);
        assert_eq!(cfg.admin.addr, "0.0.0.0:8080".parse().expect("addr"));
        assert!(cfg.ignored.is_empty(), "{:?}", cfg.ignored);
    }

    #[test]
    fn keys_and_system_property_spellings() {
        let cfg = parse(
            "admin.enableServer=TRUE\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=0\n\
             zookeeper.admin.commandURL=/cmds/\nadmin.idleTimeout=500\n",
        )
        .expect("valid");
        assert!(cfg.admin.enabled);
        assert_eq!(cfg.admin.addr, "127.0.0.1:0".parse().expect("addr"));
        assert_eq!(cfg.admin.command_url, "/cmds");
        assert_eq!(cfg.admin.idle_timeout_ms, 500);
        assert!(cfg.ignored.is_empty(), "{:?}", cfg.ignored);
        let off = parse("zookeeper.admin.enableServer=false\n").expect("valid");
        assert!(!off.admin.enabled);
    }

    #[test]
    fn bad_values_name_key_and_line() {
        for (text, key) in [
            ("admin.enableServer=yes\n", "admin.enableServer"),
            ("admin.serverPort=80800\n", "admin.serverPort"),
            ("admin.serverAddress=localhost\n", "admin.serverAddress"),
            (
                "zookeeper.admin.commandURL=commands\n",
                "zookeeper.admin.commandURL",
            ),
            ("admin.idleTimeout=0\n", "admin.idleTimeout"),
        ] {
            let msg = parse(text).expect_err(text).to_string();
            assert!(msg.contains(key) && msg.contains("line 3"), "{msg}");
        }
    }

    #[test]
    fn unknown_admin_keys_are_reported() {
        let cfg = parse("admin.portUnification=true\n").expect("valid");
        assert_eq!(cfg.ignored.len(), 1, "{:?}", cfg.ignored);
    }
}
