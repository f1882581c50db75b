//! zoo.cfg: ZooKeeper's `key=value` configuration file, with ZooKeeper's key names.
//!
//! Known keys are parsed and validated; a bad value is an error naming the key and the line.
//! Keys ZooKeeper knows but Corral does not use yet, and unknown keys, are kept and reported
//! as warnings so one file can start either server. The ensemble keys (`server.N`, `peerType`,
//! `initLimit`, `syncLimit`, `standaloneEnabled`, `dataDir/myid`) are read in [`ensemble`].
//!
//! Refused because Corral would otherwise run differently from ZooKeeper without saying so:
//! `dynamicConfigFile` (the server lines must be in zoo.cfg), `group.*` and `weight.*`
//! (hierarchical quorums; Corral counts majorities).

pub mod admin;
pub mod ensemble;
mod metrics_config;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::ServerError;
pub use admin::AdminConfig;
pub use ensemble::{EnsembleConfig, LearnerType, QuorumKeys, QuorumServer};
pub use metrics_config::{PrometheusSettings, PROMETHEUS_PROVIDER};

/// The settings of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// `tickTime`, ms: the unit of session timeouts and expiry buckets.
    pub tick_time_ms: u32,
    /// `dataDir`.
    pub data_dir: PathBuf,
    /// `dataLogDir` (defaults to `dataDir`).
    pub data_log_dir: Option<PathBuf>,
    /// The client address served: `clientPortAddress` + `clientPort`, or in an ensemble this
    /// server's `server.N` client part (set by [`ServerConfig::load`]; after
    /// [`ServerConfig::parse`] of a file without `clientPort` it is `0.0.0.0:0`).
    pub client_addr: SocketAddr,
    /// The line of `clientPort` (`None`: not set; then the client address must come from this
    /// server's `server.N` line).
    pub client_port_line: Option<usize>,
    /// `minSessionTimeout`, ms (default 2 x tickTime).
    pub min_session_timeout_ms: Option<u32>,
    /// `maxSessionTimeout`, ms (default 20 x tickTime).
    pub max_session_timeout_ms: Option<u32>,
    /// `maxClientCnxns`: connections per client IP, 0 for no limit.
    pub max_client_cnxns: u32,
    /// `globalOutstandingLimit` (ZooKeeper's `zookeeper.globalOutstandingLimit`, 1000): past
    /// this many requests read and not answered, connections with requests outstanding stop
    /// being read until theirs are answered (ZooKeeperServer.shouldThrottle).
    pub global_outstanding_limit: i32,
    /// `4lw.commands.whitelist`: `None` means ZooKeeper's default (srvr only); `*` allows all.
    pub four_letter_words: FourLetterWhitelist,
    /// `jute.maxbuffer`: the largest frame accepted from a client.
    pub max_buffer: usize,
    /// `extendedTypesEnabled` (TTL nodes).
    pub extended_types_enabled: bool,
    /// `enforceQuota` (ZooKeeper's `zookeeper.enforceQuota`): hard quotas fail writes with
    /// QuotaExceeded. Like Java's `Boolean.parseBoolean`, only "true" (any case) turns it on.
    pub enforce_quota: bool,
    /// The super user's digest, `user:base64(sha1(user:password))`: ZooKeeper's
    /// `zookeeper.DigestAuthenticationProvider.superDigest` (in zoo.cfg as
    /// `DigestAuthenticationProvider.superDigest`, which ZooKeeper turns into that property).
    pub super_digest: Option<String>,
    /// `znode.container.checkIntervalMs`: how often empty containers and expired TTL nodes are
    /// looked for (ZooKeeper's ContainerManager; default 60000).
    pub container_check_interval_ms: u32,
    /// `znode.container.maxNeverUsedIntervalMs`: reap containers that never had a child after
    /// this long (0, the default, never does).
    pub container_max_never_used_ms: u32,
    /// `snapCount`: txns between snapshots (randomised as ZooKeeper does) and per log segment.
    pub snap_count: u64,
    /// `zookeeper.leader.maxTimeToWaitForEpoch` (a Java system property in ZooKeeper), ms:
    /// a new leader still waiting for its epoch's quorum after this long quits leading when
    /// a voter that voted for it is looking again. `None` (ZooKeeper's -1, the default): off.
    pub max_time_to_wait_for_epoch_ms: Option<u64>,
    /// `preAllocSize`, in KiB as in zoo.cfg: the txn log grows in steps of this size.
    pub pre_alloc_size_kb: u64,
    /// `forceSync`: fsync before acknowledging a write (`no` is honoured, and logged loudly).
    pub force_sync: bool,
    /// `autopurge.snapRetainCount`: snapshots kept by the purge (at least 3).
    pub snap_retain_count: usize,
    /// `autopurge.purgeInterval`, hours; 0 (the default) never purges.
    pub purge_interval_hours: u32,
    /// `reconfigEnabled` (default false). A standalone server refuses every reconfig: with
    /// ReconfigDisabled when this is off, else with Unimplemented (ZooKeeper's
    /// PrepRequestProcessor: only a leader can reconfigure).
    pub reconfig_enabled: bool,
    /// The server id session ids carry in their top byte (ZooKeeper's
    /// SessionTrackerImpl.initializeNextSessionId). A standalone ZooKeeper uses 1
    /// (ZooKeeperServer's createSessionTrackerServerId); an ensemble member its myid (1-254,
    /// see [`ensemble::MAX_SERVER_ID`]), set by [`ServerConfig::load`].
    pub server_id: u8,
    /// The ensemble keys as written (`server.N` lines, `peerType`, `initLimit`, `syncLimit`,
    /// `standaloneEnabled`).
    pub quorum: QuorumKeys,
    /// The ensemble, built by [`ServerConfig::load`] from `quorum` and `dataDir/myid`;
    /// `None`: standalone (also after [`ServerConfig::parse`], which reads no file).
    pub ensemble: Option<EnsembleConfig>,
    /// `authProvider.N=org.apache.zookeeper.server.auth.SASLAuthenticationProvider` (or
    /// `zookeeper.authProvider.N`): the `sasl` ACL scheme exists only with it, as in ZooKeeper.
    /// Other `authProvider.N` classes are ignored with a warning.
    pub sasl_auth_provider: bool,
    /// `java.security.auth.login.config`: the JAAS file whose `Server` section lists the
    /// DIGEST-MD5 users (`user_<name>="<password>"`). ZooKeeper takes it only as the Java
    /// system property of that name (`-Djava.security.auth.login.config=FILE`); Corral reads it
    /// from zoo.cfg under the same name (ZooKeeper would ignore the key there). Unset, or a file
    /// without a `Server` section: SASL is not offered (ZooKeeper then answers every sasl
    /// request Ok with a null token). An unreadable or malformed file stops the server.
    pub jaas_config: Option<JaasPath>,
    /// The DIGEST-MD5 users of the JAAS file's `Server` section, read by [`ServerConfig::load`]
    /// (`None`: SASL is not offered).
    pub sasl_users: Option<corral_acl::sasl::DigestCredentials>,
    /// `superUser` and `superUser.<anything>` (ZooKeeper's `zookeeper.superUser*` properties):
    /// SASL authorization ids that also get the `super` id.
    pub sasl_super_users: Vec<String>,
    /// `secureClientPortAddress` + `secureClientPort`: the TLS client port, when set.
    pub secure_client_addr: Option<SocketAddr>,
    /// The TLS settings of the secure client port (`ssl.*`; see crate::tls_config), present
    /// exactly when `secure_client_addr` is.
    pub tls: Option<corral_tls::TlsSettings>,
    /// `zookeeper.X509AuthenticationProvider.superUser` (in zoo.cfg without the prefix): a TLS
    /// client whose certificate subject is this id is also the super user.
    pub x509_super_user: Option<String>,
    /// The AdminServer (`admin.*`; see [`admin`]).
    pub admin: AdminConfig,
    /// The zoo.cfg text as read (the AdminServer's `initial_configuration`).
    pub initial_config: String,
    /// `metricsProvider.*`: where Prometheus's `/metrics` is served, when its provider is
    /// chosen (off by default, as in ZooKeeper).
    pub prometheus: Option<PrometheusSettings>,
    /// Keys that were ignored, with their line numbers (reported as warnings).
    pub ignored: Vec<(usize, String)>,
}

/// The JAAS file named in zoo.cfg, and the line that names it (for errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JaasPath {
    /// The file.
    pub path: PathBuf,
    /// Its zoo.cfg line.
    pub line: usize,
}

/// The zoo.cfg key naming the JAAS file (Java's system property of the same name).
pub const JAAS_CONFIG_KEY: &str = "java.security.auth.login.config";
/// The class whose registration makes `sasl` a known ACL scheme.
pub const SASL_AUTH_PROVIDER: &str = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider";

/// Which four-letter words are served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FourLetterWhitelist {
    /// `*`: every word.
    All,
    /// Exactly these words.
    Only(BTreeSet<String>),
}

impl FourLetterWhitelist {
    /// Whether `word` may be served.
    pub fn allows(&self, word: &str) -> bool {
        match self {
            FourLetterWhitelist::All => true,
            FourLetterWhitelist::Only(words) => words.contains(word),
        }
    }
}

impl Default for ServerConfig {
    /// Corral's embedded default: standalone on 127.0.0.1:2181, data in ./corral-data, no
    /// AdminServer (a zoo.cfg parsed by [`ServerConfig::parse`] has ZooKeeper's: on, port 8080).
    fn default() -> Self {
        ServerConfig {
            tick_time_ms: 2000,
            data_dir: PathBuf::from("corral-data"),
            data_log_dir: None,
            client_addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 2181),
            client_port_line: None,
            min_session_timeout_ms: None,
            max_session_timeout_ms: None,
            max_client_cnxns: 60,
            global_outstanding_limit: 1000,
            four_letter_words: FourLetterWhitelist::Only(BTreeSet::from(["srvr".to_string()])),
            max_buffer: corral_jute::frame::DEFAULT_MAX_BUFFER,
            extended_types_enabled: false,
            super_digest: None,
            enforce_quota: false,
            container_check_interval_ms: 60_000,
            snap_count: 100_000,
            max_time_to_wait_for_epoch_ms: None,
            pre_alloc_size_kb: 65_536,
            force_sync: true,
            snap_retain_count: 3,
            purge_interval_hours: 0,
            reconfig_enabled: false,
            server_id: 1,
            quorum: QuorumKeys::default(),
            ensemble: None,
            container_max_never_used_ms: 0,
            sasl_auth_provider: false,
            jaas_config: None,
            sasl_users: None,
            sasl_super_users: Vec::new(),
            secure_client_addr: None,
            tls: None,
            x509_super_user: None,
            admin: AdminConfig::disabled(),
            initial_config: String::new(),
            prometheus: None,
            ignored: Vec::new(),
        }
    }
}

/// ZooKeeper keys that Corral accepts without using them yet (no warning beyond one line).
const KNOWN_UNUSED: &[&str] = &[
    "clientPortListenBacklog",
    "skipACL",
    "serverCnxnFactory",
    "quorumListenOnAllIPs",
    "cnxTimeout",
    "quorumCnxnTimeoutMs",
    "connectToLearnerMasterLimit",
    "syncEnabled",
];

impl ServerConfig {
    /// Reads and parses a zoo.cfg file, then the files it names: the JAAS file and
    /// `dataDir/myid`, which decides this server's place in the ensemble (see [`ensemble`]).
    pub fn load(path: &Path) -> Result<ServerConfig, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServerError::ConfigRead {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg = ServerConfig::parse(&text)?;
        // ZooKeeper resolves a relative dataDir against the working directory; so do we.
        if cfg.data_dir.as_os_str().is_empty() {
            return Err(ServerError::Config {
                line: 0,
                key: "dataDir".into(),
                message: "dataDir is not set".into(),
            });
        }
        cfg.resolve_ensemble()?;
        cfg.ignored.sort();
        cfg.sasl_users = cfg.read_jaas()?;
        Ok(cfg)
    }

    /// Reads `dataDir/myid` and builds [`ServerConfig::ensemble`] from the `server.N` lines;
    /// sets the client address and, for an ensemble member, `server_id` = myid.
    pub fn resolve_ensemble(&mut self) -> Result<(), ServerError> {
        let myid_path = self.data_dir.join("myid");
        let my_id = ensemble::read_myid(&myid_path)?;
        let client_port = self.client_port_line.map(|line| (self.client_addr, line));
        let resolved = self.quorum.resolve(my_id, &myid_path, client_port)?;
        self.client_addr = resolved.client_addr.ok_or_else(client_port_not_set)?;
        self.ignored.extend(resolved.warnings);
        if let Some(ensemble) = &resolved.ensemble {
            self.server_id = u8::try_from(ensemble.my_id).map_err(|_| ServerError::Config {
                line: 0,
                key: "myid".into(),
                message: format!("{} is out of range", ensemble.my_id),
            })?;
        }
        self.ensemble = resolved.ensemble;
        Ok(())
    }

    /// Reads the JAAS file, if one is named: the DIGEST-MD5 users of its `Server` section
    /// (`None` when it has none). Errors name the zoo.cfg key and line, and the JAAS line.
    pub fn read_jaas(&self) -> Result<Option<corral_acl::sasl::DigestCredentials>, ServerError> {
        let Some(jaas) = &self.jaas_config else {
            return Ok(None);
        };
        let bad = |message: String| ServerError::Config {
            line: jaas.line,
            key: JAAS_CONFIG_KEY.into(),
            message,
        };
        let text = std::fs::read_to_string(&jaas.path)
            .map_err(|e| bad(format!("cannot read {}: {e}", jaas.path.display())))?;
        let parsed = corral_acl::sasl::JaasConfig::parse(&text)
            .map_err(|e| bad(format!("{}: {e}", jaas.path.display())))?;
        parsed
            .section("Server")
            .map(corral_acl::sasl::DigestCredentials::from_section)
            .transpose()
            .map_err(|e| bad(format!("{}: {e}", jaas.path.display())))
    }

    /// The ACL providers registered beyond ip and digest.
    /// x509 is registered with a secure client port, as ZooKeeper's QuorumPeerConfig does.
    pub fn auth_providers(&self) -> corral_acl::Providers {
        let mut providers = corral_acl::Providers::BUILT_IN;
        if self.sasl_auth_provider {
            providers = providers.with_sasl();
        }
        if self.secure_client_addr.is_some() {
            providers = providers.with_x509();
        }
        providers
    }

    /// Parses zoo.cfg text (Java properties: `key=value` or `key value`, `#`/`!` comments).
    pub fn parse(text: &str) -> Result<ServerConfig, ServerError> {
        let mut cfg = ServerConfig {
            data_dir: PathBuf::new(),
            client_addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 2181),
            admin: AdminConfig::zookeeper_default(),
            initial_config: text.to_string(),
            ..ServerConfig::default()
        };
        let mut port: Option<(u16, usize)> = None;
        let mut address: Option<(IpAddr, usize)> = None;
        let mut secure_port: Option<(u16, usize)> = None;
        let mut secure_address: Option<(IpAddr, usize)> = None;
        let mut tls_keys = crate::tls_config::TlsKeys::default();
        let mut metrics_keys = metrics_config::MetricsKeys::default();
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let (key, value) = match line.find(['=', ':']) {
                Some(i) if line[..i].trim().chars().all(|c| !c.is_whitespace()) => {
                    (line[..i].trim(), line[i + 1..].trim())
                }
                _ => match line.split_once(char::is_whitespace) {
                    Some((k, v)) => (k.trim(), v.trim()),
                    None => (line, ""),
                },
            };
            let bad = |message: String| ServerError::Config {
                line: line_no,
                key: key.to_string(),
                message,
            };
            let number = |v: &str| -> Result<u32, ServerError> {
                v.parse::<u32>()
                    .map_err(|_| bad(format!("expected a non-negative integer, got {v:?}")))
            };
            match key {
                "tickTime" => {
                    cfg.tick_time_ms = number(value)?;
                    if cfg.tick_time_ms == 0 {
                        return Err(bad("tickTime must be positive".into()));
                    }
                }
                "dataDir" => cfg.data_dir = PathBuf::from(value),
                "dataLogDir" => cfg.data_log_dir = Some(PathBuf::from(value)),
                "clientPort" => {
                    let p = value
                        .parse::<u16>()
                        .map_err(|_| bad(format!("expected a port number, got {value:?}")))?;
                    port = Some((p, line_no));
                }
                "clientPortAddress" => {
                    let a = value
                        .parse::<IpAddr>()
                        .map_err(|_| bad(format!("expected an IP address, got {value:?}")))?;
                    address = Some((a, line_no));
                }
                k if cfg.quorum.take(k, value, line_no)? => {}
                k if cfg.admin.take(k, value, line_no)? => {}
                "electionAlg" => {
                    // QuorumPeerConfig: only the fast leader election (3) exists.
                    if value.parse::<i32>() != Ok(3) {
                        return Err(bad(format!("only 3 is supported, got {value:?}")));
                    }
                    cfg.ignored
                        .push((line_no, format!("{key} (not used by Corral)")));
                }
                "dynamicConfigFile" => {
                    return Err(bad(
                        "not supported by Corral: put the server.N lines in zoo.cfg".into(),
                    ))
                }
                k if k.starts_with("group.") || k.starts_with("weight.") => {
                    return Err(bad(
                        "hierarchical quorums are not supported by Corral (it counts majorities)"
                            .into(),
                    ))
                }
                "secureClientPort" => {
                    let p = value
                        .parse::<u16>()
                        .map_err(|_| bad(format!("expected a port number, got {value:?}")))?;
                    secure_port = (p != 0).then_some((p, line_no));
                }
                "secureClientPortAddress" => {
                    let a = value
                        .parse::<IpAddr>()
                        .map_err(|_| bad(format!("expected an IP address, got {value:?}")))?;
                    secure_address = Some((a, line_no));
                }
                "X509AuthenticationProvider.superUser"
                | "zookeeper.X509AuthenticationProvider.superUser" => {
                    cfg.x509_super_user = Some(value.to_string())
                }
                k if tls_keys.take(k, value, line_no) => {}
                "minSessionTimeout" => cfg.min_session_timeout_ms = Some(number(value)?),
                "maxSessionTimeout" => cfg.max_session_timeout_ms = Some(number(value)?),
                "maxClientCnxns" => cfg.max_client_cnxns = number(value)?,
                "globalOutstandingLimit" | "zookeeper.globalOutstandingLimit" => {
                    cfg.global_outstanding_limit = value
                        .parse()
                        .map_err(|_| bad(format!("expected an integer, got {value:?}")))?
                }
                "jute.maxbuffer" => {
                    cfg.max_buffer = number(value)? as usize;
                }
                "extendedTypesEnabled" | "zookeeper.extendedTypesEnabled" => {
                    cfg.extended_types_enabled = parse_bool(value)
                        .ok_or_else(|| bad(format!("expected true or false, got {value:?}")))?
                }
                "DigestAuthenticationProvider.superDigest"
                | "zookeeper.DigestAuthenticationProvider.superDigest" => {
                    if !value.contains(':') {
                        return Err(bad("expected user:base64-digest".into()));
                    }
                    cfg.super_digest = Some(value.to_string());
                }
                "enforceQuota" | "zookeeper.enforceQuota" => {
                    cfg.enforce_quota = value.eq_ignore_ascii_case("true")
                }
                "snapCount" | "zookeeper.snapCount" => {
                    cfg.snap_count = u64::from(number(value)?);
                    if cfg.snap_count < 2 {
                        return Err(bad("must be at least 2".into()));
                    }
                }
                "preAllocSize" | "zookeeper.preAllocSize" => {
                    cfg.pre_alloc_size_kb = u64::from(number(value)?);
                    if cfg.pre_alloc_size_kb == 0 {
                        return Err(bad("must be positive".into()));
                    }
                }
                "zookeeper.leader.maxTimeToWaitForEpoch" => {
                    let ms: i64 = value
                        .parse()
                        .map_err(|_| bad(format!("expected a number of ms, got {value:?}")))?;
                    cfg.max_time_to_wait_for_epoch_ms = u64::try_from(ms).ok();
                }
                "forceSync" | "zookeeper.forceSync" => {
                    // ZooKeeper: anything but "no" keeps fsync on.
                    cfg.force_sync = !value.eq_ignore_ascii_case("no")
                }
                "reconfigEnabled" => {
                    // QuorumPeerConfig.parseBoolean: true or false, any case.
                    cfg.reconfig_enabled = match value.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(bad(format!("expected true or false, got {value:?}"))),
                    }
                }
                "autopurge.snapRetainCount" => cfg.snap_retain_count = number(value)? as usize,
                "autopurge.purgeInterval" => cfg.purge_interval_hours = number(value)?,
                "znode.container.checkIntervalMs" => {
                    cfg.container_check_interval_ms = number(value)?;
                    if cfg.container_check_interval_ms == 0 {
                        return Err(bad("must be positive".into()));
                    }
                }
                "znode.container.maxNeverUsedIntervalMs" => {
                    cfg.container_max_never_used_ms = number(value)?
                }
                "4lw.commands.whitelist" => {
                    let words: BTreeSet<String> = value
                        .split(',')
                        .map(|w| w.trim().to_string())
                        .filter(|w| !w.is_empty())
                        .collect();
                    cfg.four_letter_words = if words.contains("*") {
                        FourLetterWhitelist::All
                    } else {
                        FourLetterWhitelist::Only(words)
                    };
                }
                JAAS_CONFIG_KEY => {
                    cfg.jaas_config = Some(JaasPath {
                        path: PathBuf::from(value),
                        line: line_no,
                    })
                }
                k if without_zookeeper_prefix(k).starts_with("authProvider.")
                    && value == SASL_AUTH_PROVIDER =>
                {
                    cfg.sasl_auth_provider = true
                }
                k if without_zookeeper_prefix(k) == "superUser"
                    || without_zookeeper_prefix(k).starts_with("superUser.") =>
                {
                    cfg.sasl_super_users.push(value.to_string())
                }
                k if k.starts_with("metricsProvider.") => {
                    let name = &k["metricsProvider.".len()..];
                    if let metrics_config::KeyUse::Ignored =
                        metrics_keys.set(name, value).map_err(bad)?
                    {
                        cfg.ignored
                            .push((line_no, format!("{k} (not used by Corral)")));
                    }
                }
                k if KNOWN_UNUSED.contains(&k)
                    || k.starts_with("ssl.")
                    || k.starts_with("authProvider.") =>
                {
                    cfg.ignored
                        .push((line_no, format!("{k} (not used by Corral yet)")));
                }
                other => cfg
                    .ignored
                    .push((line_no, format!("{other} (unknown key)"))),
            }
        }
        cfg.prometheus = metrics_keys.finish();
        match (port, address) {
            (Some((port, line)), address) => {
                let ip = address.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |(ip, _)| ip);
                cfg.client_addr = SocketAddr::new(ip, port);
                cfg.client_port_line = Some(line);
            }
            (None, Some((_, line))) => {
                return Err(ServerError::Config {
                    line,
                    key: "clientPortAddress".into(),
                    message: "clientPortAddress is set but clientPort is not".into(),
                })
            }
            // An ensemble member may take its client port from its server.N line.
            (None, None) if cfg.quorum.servers.iter().any(|s| s.client.is_some()) => {
                cfg.client_addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
            }
            (None, None) => return Err(client_port_not_set()),
        }
        cfg.quorum.check()?;
        match (secure_port, secure_address) {
            (None, Some((_, line))) => {
                return Err(ServerError::Config {
                    line,
                    key: "secureClientPortAddress".into(),
                    message: "secureClientPortAddress is set but secureClientPort is not".into(),
                })
            }
            (None, None) => {}
            (Some((p, line)), a) => {
                let ip = a.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |(ip, _)| ip);
                cfg.secure_client_addr = Some(SocketAddr::new(ip, p));
                cfg.tls = Some(tls_keys.settings(line)?);
            }
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Where ZooKeeper's files go: `dataDir/version-2` (snapshots) and
    /// `dataLogDir/version-2` (txn logs; dataDir's when dataLogDir is not set).
    pub fn version_dirs(&self) -> (PathBuf, PathBuf) {
        let log = self.data_log_dir.as_ref().unwrap_or(&self.data_dir);
        (self.data_dir.join("version-2"), log.join("version-2"))
    }

    /// The session timeout settings this config implies.
    pub fn session_config(&self) -> corral_session::SessionConfig {
        corral_session::SessionConfig {
            tick_time_ms: self.tick_time_ms,
            min_session_timeout_ms: self.min_session_timeout_ms,
            max_session_timeout_ms: self.max_session_timeout_ms,
            ..Default::default()
        }
    }

    /// Checks cross-key constraints (min <= max session timeout).
    pub fn validate(&self) -> Result<(), ServerError> {
        self.session_config()
            .validate()
            .map_err(|e| ServerError::Config {
                line: 0,
                key: "minSessionTimeout/maxSessionTimeout".into(),
                message: e.to_string(),
            })
    }
}

fn client_port_not_set() -> ServerError {
    ServerError::Config {
        line: 0,
        key: "clientPort".into(),
        message: "clientPort is not set".into(),
    }
}

/// A key as zoo.cfg or as a `zookeeper.`-prefixed system property names it.
fn without_zookeeper_prefix(key: &str) -> &str {
    key.strip_prefix("zookeeper.").unwrap_or(key)
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" => Some(true),
        "false" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_zookeeper_keys() {
        let cfg = ServerConfig::parse(
            "# test\ntickTime=500\ndataDir=/tmp/x\nclientPort=2191\nclientPortAddress=127.0.0.1\n\
             maxClientCnxns=0\n4lw.commands.whitelist=ruok, srvr\ninitLimit=5\nfoo=bar\n",
        )
        .expect("valid config");
        assert_eq!(cfg.tick_time_ms, 500);
        assert_eq!(cfg.client_addr, "127.0.0.1:2191".parse().expect("addr"));
        assert_eq!(cfg.max_client_cnxns, 0);
        assert!(cfg.four_letter_words.allows("ruok"));
        assert!(!cfg.four_letter_words.allows("mntr"));
        // initLimit is read (it matters to an ensemble); foo is reported.
        assert_eq!(cfg.ignored, vec![(9, "foo (unknown key)".to_string())]);
        assert_eq!(cfg.max_time_to_wait_for_epoch_ms, None, "off by default");
    }

    #[test]
    fn max_time_to_wait_for_epoch_is_read_and_negative_is_off() {
        let key = "zookeeper.leader.maxTimeToWaitForEpoch";
        let parse =
            |v: &str| ServerConfig::parse(&format!("dataDir=/x\nclientPort=2181\n{key}={v}\n"));
        let ms = |v: &str| parse(v).expect("valid").max_time_to_wait_for_epoch_ms;
        assert_eq!(ms("1500"), Some(1500));
        assert_eq!(ms("-1"), None);
        let err = parse("soon").expect_err("not a number").to_string();
        assert!(err.contains(key) && err.contains("line 3"), "{err}");
    }

    #[test]
    fn bad_values_name_key_and_line() {
        let err = ServerConfig::parse("dataDir=/x\nclientPort=21x1\n").expect_err("bad port");
        let msg = err.to_string();
        assert!(
            msg.contains("clientPort") && msg.contains("line 2"),
            "{msg}"
        );
        let err = ServerConfig::parse("dataDir=/x\nclientPort=1\ntickTime=-3\n").expect_err("bad");
        assert!(err.to_string().contains("tickTime"));
        let err = ServerConfig::parse(
            "dataDir=/x\nclientPort=1\nminSessionTimeout=9000\nmaxSessionTimeout=100\n",
        )
        .expect_err("min > max");
        assert!(err.to_string().contains("SessionTimeout"));
    }

    #[test]
    fn reconfig_enabled_is_a_strict_boolean() {
        let base = "dataDir=/x\nclientPort=1\n";
        assert!(!ServerConfig::parse(base).expect("default").reconfig_enabled);
        let on = ServerConfig::parse(&format!("{base}reconfigEnabled=TRUE\n")).expect("true");
        assert!(on.reconfig_enabled && on.ignored.is_empty());
        let err = ServerConfig::parse(&format!("{base}reconfigEnabled=yes\n")).expect_err("yes");
        assert!(err.to_string().contains("reconfigEnabled"), "{err}");
    }

    #[test]
    fn sasl_keys() {
        let base = "dataDir=/x\nclientPort=1\n";
        let cfg = ServerConfig::parse(base).expect("default");
        assert!(!cfg.sasl_auth_provider && cfg.jaas_config.is_none());
        assert_eq!(cfg.auth_providers(), corral_acl::Providers::BUILT_IN);
        let cfg = ServerConfig::parse(&format!(
            "{base}authProvider.1={SASL_AUTH_PROVIDER}\nauthProvider.2=com.example.Other\n\
             java.security.auth.login.config=/etc/jaas.conf\nsuperUser=admin\n\
             zookeeper.superUser.2=root\nsuperUserX=nobody\n"
        ))
        .expect("sasl keys");
        assert!(cfg.sasl_auth_provider);
        assert_eq!(
            cfg.auth_providers(),
            corral_acl::Providers::BUILT_IN.with_sasl()
        );
        assert_eq!(
            cfg.jaas_config,
            Some(JaasPath {
                path: "/etc/jaas.conf".into(),
                line: 5
            })
        );
        assert_eq!(cfg.sasl_super_users, vec!["admin", "root"]);
        // The other provider class and superUserX are reported, not used.
        assert_eq!(cfg.ignored.len(), 2, "{:?}", cfg.ignored);
    }

    #[test]
    fn jaas_file_errors_name_the_key_line_and_jaas_line() {
        let dir = std::env::temp_dir().join(format!("corral-jaas-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let cfg_for = |jaas: &Path| {
            ServerConfig::parse(&format!(
                "dataDir=/x\nclientPort=1\njava.security.auth.login.config={}\n",
                jaas.display()
            ))
            .expect("cfg")
        };
        let missing = cfg_for(&dir.join("absent.conf"))
            .read_jaas()
            .expect_err("absent");
        let msg = missing.to_string();
        assert!(
            msg.contains("line 3") && msg.contains(JAAS_CONFIG_KEY) && msg.contains("absent.conf"),
            "{msg}"
        );
        let bad = dir.join("bad.conf");
        std::fs::write(&bad, "Server {\n  m.A required\n};\n").expect("write");
        let msg = cfg_for(&bad)
            .read_jaas()
            .expect_err("malformed")
            .to_string();
        assert!(
            msg.contains("line 3") && msg.contains("bad.conf: line 3"),
            "{msg}"
        );
        // kazoo's harness passes an empty file: the server starts, SASL is not offered.
        let empty = dir.join("empty.conf");
        std::fs::write(&empty, "").expect("write");
        assert_eq!(cfg_for(&empty).read_jaas().expect("empty is fine"), None);
        let good = dir.join("good.conf");
        std::fs::write(
            &good,
            "Server { org.apache.zookeeper.server.auth.DigestLoginModule required user_bob=\"pw\"; };",
        )
        .expect("write");
        let users = cfg_for(&good)
            .read_jaas()
            .expect("good")
            .expect("Server section");
        assert_eq!(users.password("bob"), Some("pw"));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn missing_client_port_is_an_error() {
        assert!(ServerConfig::parse("dataDir=/x\n").is_err());
    }
}
