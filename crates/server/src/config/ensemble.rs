//! zoo.cfg's ensemble keys: `server.N`, `peerType`, `initLimit`, `syncLimit`,
//! `standaloneEnabled`, and `dataDir/myid`, read as ZooKeeper 3.8's QuorumPeerConfig reads them.
//!
//! Two steps, like the rest of the config: [`QuorumKeys`] is what the text says (filled by
//! [`ServerConfig::parse`](super::ServerConfig::parse), no I/O); [`QuorumKeys::resolve`] adds
//! `myid` and resolved host names and gives the [`EnsembleConfig`], or `None` for a standalone
//! server (no `server.N` line, or exactly one participant with `standaloneEnabled=true`, as
//! ZooKeeper's `isDistributed`). Every error names the key and the line (`myid` errors name the
//! file); the server refuses to start on any of them.
//!
//! Where Corral is stricter than ZooKeeper 3.8.0 (which starts and fails later, or never):
//! a duplicate `server.N` id (ZooKeeper keeps the last line), two addresses of the ensemble on
//! one `address:port` (ZooKeeper checks only one server's quorum against its election port),
//! a host name that does not resolve (ZooKeeper retries it at run time), server ids outside
//! 1-254 (ZooKeeper documents 1-255, and 1-254 with extendedTypesEnabled; Corral always keeps
//! session ids with a top byte of 0xff reserved), `host|host` multi-address lines, and
//! `group.*`/`weight.*`/`dynamicConfigFile` (see [`super`]).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::Path;

use crate::ServerError;

/// The highest server id Corral takes. Session ids carry the id in their top byte
/// (ZooKeeper's `SessionTrackerImpl.initializeNextSessionId`), and a top byte of 0xff marks
/// TTL owners (`EphemeralType`), which corral-session reserves whatever extendedTypesEnabled
/// says: ZooKeeper documents 1-255, and 1-254 with extended types.
pub const MAX_SERVER_ID: u64 = 254;

/// A server's role in the ensemble (ZooKeeper's `QuorumPeer.LearnerType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnerType {
    /// Votes in elections and proposals (the default).
    Participant,
    /// Follows the leader without voting.
    Observer,
}

impl LearnerType {
    /// `participant` or `observer`, any case, surrounding blanks allowed (as ZooKeeper reads
    /// a server line's type and `peerType`).
    pub fn parse(text: &str) -> Option<LearnerType> {
        match text.trim().to_ascii_lowercase().as_str() {
            "participant" => Some(LearnerType::Participant),
            "observer" => Some(LearnerType::Observer),
            _ => None,
        }
    }

    /// The word zoo.cfg uses.
    pub fn as_str(self) -> &'static str {
        match self {
            LearnerType::Participant => "participant",
            LearnerType::Observer => "observer",
        }
    }
}

/// One member of the ensemble, from its `server.N` line, host names resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumServer {
    /// N of `server.N`.
    pub id: u64,
    /// `host:quorumPort`: where followers and observers reach this server as leader.
    pub quorum_addr: SocketAddr,
    /// `host:electionPort`: leader election.
    pub election_addr: SocketAddr,
    /// Its role.
    pub learner_type: LearnerType,
    /// `;[clientAddr:]clientPort` (a bare port is 0.0.0.0). For this server: the address it
    /// serves clients on, from its line or else `clientPortAddress`/`clientPort`.
    pub client_addr: Option<SocketAddr>,
}

/// The ensemble this server belongs to (`None` in [`ServerConfig`](super::ServerConfig):
/// standalone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsembleConfig {
    /// This server's id, from `dataDir/myid`; always a key of `servers`.
    pub my_id: u64,
    /// Every member, voters and observers, by id.
    pub servers: BTreeMap<u64, QuorumServer>,
    /// `initLimit`, ticks: how long a learner may take to connect and sync to a leader.
    pub init_limit: u32,
    /// `syncLimit`, ticks: how far a follower may fall behind before it is dropped.
    pub sync_limit: u32,
}

impl EnsembleConfig {
    /// This server.
    ///
    /// # Panics
    /// If `my_id` is not a key of `servers`; [`QuorumKeys::resolve`] never builds such a
    /// config.
    pub fn me(&self) -> &QuorumServer {
        &self.servers[&self.my_id]
    }

    /// The participants' ids, ascending.
    pub fn voters(&self) -> impl Iterator<Item = u64> + '_ {
        self.ids_of(LearnerType::Participant)
    }

    /// The observers' ids, ascending.
    pub fn observers(&self) -> impl Iterator<Item = u64> + '_ {
        self.ids_of(LearnerType::Observer)
    }

    fn ids_of(&self, kind: LearnerType) -> impl Iterator<Item = u64> + '_ {
        self.servers
            .values()
            .filter(move |s| s.learner_type == kind)
            .map(|s| s.id)
    }
}

/// A `server.N` line as written (host names not resolved yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLine {
    /// N.
    pub id: u64,
    /// Its zoo.cfg line.
    pub line: usize,
    /// The host, without IPv6 brackets.
    pub host: String,
    /// The quorum port.
    pub quorum_port: u16,
    /// The election port.
    pub election_port: u16,
    /// `:participant` (the default) or `:observer`.
    pub learner_type: LearnerType,
    /// `;[clientAddr:]clientPort`: the host (`None` for a bare port: 0.0.0.0) and the port.
    pub client: Option<(Option<String>, u16)>,
}

const FORM: &str = "host:quorumPort:electionPort[:participant|:observer][;[clientAddr:]clientPort]";

impl ServerLine {
    /// Parses `server.N=value` (`key` is `server.N`). Errors name the key and `line`.
    pub fn parse(key: &str, value: &str, line: usize) -> Result<ServerLine, ServerError> {
        let bad = |message: String| config_error(line, key, message);
        let id_text = key.strip_prefix("server.").unwrap_or(key);
        let id = id_text
            .parse::<u64>()
            .map_err(|_| bad(format!("server id {id_text:?} is not a number")))?;
        if !(1..=MAX_SERVER_ID).contains(&id) {
            return Err(bad(format!(
                "server id {id} is out of range: Corral takes 1-{MAX_SERVER_ID} (ZooKeeper \
                 documents 1-255; session ids carry the id in their top byte, 0xff is reserved)"
            )));
        }
        let wrong_form = || bad(format!("expected {FORM}, got {value:?}"));
        let halves = java_split(value, ';');
        if halves.is_empty() || halves.len() > 2 {
            return Err(wrong_form());
        }
        if halves[0].contains('|') {
            return Err(bad(
                "multiple addresses (host|host) are not supported by Corral".into(),
            ));
        }
        let parts = host_and_port(halves[0]).map_err(&bad)?;
        if !(3..=4).contains(&parts.len()) {
            return Err(wrong_form());
        }
        if parts[0].is_empty() {
            return Err(bad(format!("missing host in {value:?}")));
        }
        let port = |text: &str, what: &str| {
            text.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad(format!("bad {what} port {text:?} (expected 1-65535)")))
        };
        let quorum_port = port(parts[1], "quorum")?;
        let election_port = port(parts[2], "election")?;
        if quorum_port == election_port {
            return Err(bad(format!(
                "the quorum and election ports must differ (both are {quorum_port})"
            )));
        }
        let learner_type = match parts.get(3) {
            None => LearnerType::Participant,
            Some(t) => LearnerType::parse(t).ok_or_else(|| {
                bad(format!(
                    "unknown server type {t:?} (expected participant or observer)"
                ))
            })?,
        };
        let client = match halves.get(1) {
            None => None,
            Some(client) => {
                let parts = host_and_port(client).map_err(&bad)?;
                match parts.as_slice() {
                    [p] => Some((None, port(p, "client")?)),
                    [h, p] if !h.is_empty() => Some((Some(h.to_string()), port(p, "client")?)),
                    [_, _] => return Err(bad(format!("missing client host in {value:?}"))),
                    _ => return Err(wrong_form()),
                }
            }
        };
        Ok(ServerLine {
            id,
            line,
            host: parts[0].to_string(),
            quorum_port,
            election_port,
            learner_type,
            client,
        })
    }

    /// `server.N`.
    pub fn key(&self) -> String {
        format!("server.{}", self.id)
    }
}

/// The ensemble keys as zoo.cfg wrote them, each with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumKeys {
    /// The `server.N` lines, in file order.
    pub servers: Vec<ServerLine>,
    /// `peerType`.
    pub peer_type: Option<(LearnerType, usize)>,
    /// `initLimit`.
    pub init_limit: Option<(u32, usize)>,
    /// `syncLimit`.
    pub sync_limit: Option<(u32, usize)>,
    /// `standaloneEnabled` (default true) and its line if set.
    pub standalone_enabled: (bool, Option<usize>),
}

impl Default for QuorumKeys {
    fn default() -> Self {
        QuorumKeys {
            servers: Vec::new(),
            peer_type: None,
            init_limit: None,
            sync_limit: None,
            standalone_enabled: (true, None),
        }
    }
}

/// What [`QuorumKeys::resolve`] decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The ensemble, or `None`: standalone.
    pub ensemble: Option<EnsembleConfig>,
    /// The client address to serve (`None`: neither `clientPort` nor this server's line
    /// gives one).
    pub client_addr: Option<SocketAddr>,
    /// Lines ZooKeeper accepts and overrides (reported as warnings).
    pub warnings: Vec<(usize, String)>,
}

impl QuorumKeys {
    /// Takes `key=value` if `key` is an ensemble key (`Ok(false)` if it is not).
    pub fn take(&mut self, key: &str, value: &str, line: usize) -> Result<bool, ServerError> {
        let bad = |message: String| config_error(line, key, message);
        let limit = || match value.parse::<u32>() {
            Ok(0) => Err(bad("must be positive".into())),
            Ok(ticks) => Ok(Some((ticks, line))),
            Err(_) => Err(bad(format!("expected a positive integer, got {value:?}"))),
        };
        match key {
            "initLimit" => self.init_limit = limit()?,
            "syncLimit" => self.sync_limit = limit()?,
            "peerType" => {
                let kind = LearnerType::parse(value).ok_or_else(|| {
                    bad(format!("expected observer or participant, got {value:?}"))
                })?;
                self.peer_type = Some((kind, line));
            }
            "standaloneEnabled" => {
                let on = match value.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad(format!("expected true or false, got {value:?}"))),
                };
                self.standalone_enabled = (on, Some(line));
            }
            k if k.starts_with("server.") => {
                let parsed = ServerLine::parse(key, value, line)?;
                if let Some(first) = self.servers.iter().find(|s| s.id == parsed.id) {
                    return Err(bad(format!(
                        "server {} is already defined at line {} (ZooKeeper would silently keep \
                         the last line)",
                        parsed.id, first.line
                    )));
                }
                self.servers.push(parsed);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn count(&self, kind: LearnerType) -> usize {
        self.servers
            .iter()
            .filter(|s| s.learner_type == kind)
            .count()
    }

    /// Whether these keys make an ensemble member (ZooKeeper's `isDistributed`): more than one
    /// participant, or any `server.N` line with `standaloneEnabled=false`.
    pub fn is_distributed(&self) -> bool {
        !self.servers.is_empty()
            && (!self.standalone_enabled.0 || self.count(LearnerType::Participant) > 1)
    }

    /// Checks what the text alone decides, as ZooKeeper does before it reads myid: observers
    /// need participants (two with standaloneEnabled=true), `standaloneEnabled=false` needs
    /// a participant, an ensemble needs `initLimit` and `syncLimit`.
    pub fn check(&self) -> Result<(), ServerError> {
        let voters = self.count(LearnerType::Participant);
        let first_observer = self
            .servers
            .iter()
            .find(|s| s.learner_type == LearnerType::Observer);
        if let (0, (false, Some(line))) = (voters, self.standalone_enabled) {
            return Err(config_error(
                line,
                "standaloneEnabled",
                "standaloneEnabled=false needs at least one participant server.N line".into(),
            ));
        }
        if let Some(observer) = first_observer {
            if voters == 0 || (voters == 1 && self.standalone_enabled.0) {
                let alone = if voters == 1 {
                    " (with standaloneEnabled=true, one participant runs standalone)"
                } else {
                    ""
                };
                return Err(config_error(
                    observer.line,
                    &observer.key(),
                    format!("observers need a quorum of participants; there are {voters}{alone}"),
                ));
            }
        }
        if self.is_distributed() {
            for (key, limit) in [
                ("initLimit", self.init_limit),
                ("syncLimit", self.sync_limit),
            ] {
                if limit.is_none() {
                    return Err(config_error(
                        0,
                        key,
                        format!("{key} is not set (an ensemble member needs it)"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The ensemble with this server's id (`dataDir/myid`, read by [`read_myid`]; `myid_path`
    /// names it in errors) and `clientPortAddress`/`clientPort` with their line, if set.
    ///
    /// The client address follows ZooKeeper's `setupClientPort`: this server's line's client
    /// part if it has one, else `clientPort`; with both, they must agree (a wildcard
    /// `clientPortAddress` agrees with any address on the same port). Host names are resolved
    /// here (the first IPv4 address, else the first, as Java's `InetAddress.getByName`).
    pub fn resolve(
        &self,
        my_id: Option<i64>,
        myid_path: &Path,
        client_port: Option<(SocketAddr, usize)>,
    ) -> Result<Resolved, ServerError> {
        self.check()?;
        let mine = my_id.and_then(|id| self.servers.iter().find(|s| id == s.id as i64));
        let mut warnings = Vec::new();
        let client_addr = match mine {
            Some(line) => my_client_addr(line, client_port)?,
            None => client_port.map(|(addr, _)| addr),
        };
        if !self.is_distributed() {
            if let [only] = self.servers.as_slice() {
                warnings.push((
                    only.line,
                    format!(
                        "{} (a single server line: standalone, as ZooKeeper runs it with \
                         standaloneEnabled=true)",
                        only.key()
                    ),
                ));
            }
            return Ok(Resolved {
                ensemble: None,
                client_addr,
                warnings,
            });
        }
        let path = myid_path.display();
        let my_error = |message: String| config_error(0, "myid", message);
        let my_id = my_id.ok_or_else(|| {
            my_error(format!(
                "{path} is missing (a server with {} server.N lines needs its id there)",
                self.servers.len()
            ))
        })?;
        let mine = mine.ok_or_else(|| {
            let ids: Vec<String> = self.servers.iter().map(ServerLine::key).collect();
            my_error(format!(
                "{path} says {my_id}, which is not in the server list ({})",
                ids.join(", ")
            ))
        })?;
        if let Some((kind, line)) = self.peer_type {
            if kind != mine.learner_type {
                warnings.push((
                    line,
                    format!(
                        "peerType={}: {} is a {} in the server list, which wins (as in \
                         ZooKeeper)",
                        kind.as_str(),
                        mine.key(),
                        mine.learner_type.as_str()
                    ),
                ));
            }
        }
        let Some(my_client) = client_addr else {
            return Err(config_error(
                0,
                "clientPort",
                format!(
                    "clientPort is not set and {} (line {}) has no client port",
                    mine.key(),
                    mine.line
                ),
            ));
        };
        let mut servers = BTreeMap::new();
        for line in &self.servers {
            let server = QuorumServer {
                id: line.id,
                quorum_addr: resolve_host(line, &line.host, line.quorum_port)?,
                election_addr: resolve_host(line, &line.host, line.election_port)?,
                learner_type: line.learner_type,
                client_addr: if line.id == mine.id {
                    Some(my_client)
                } else {
                    line_client_addr(line)?
                },
            };
            servers.insert(line.id, server);
        }
        self.check_addresses(&servers, mine.id, client_port)?;
        let limit = |l: Option<(u32, usize)>| l.map_or(0, |(ticks, _)| ticks);
        Ok(Resolved {
            ensemble: Some(EnsembleConfig {
                my_id: mine.id,
                servers,
                init_limit: limit(self.init_limit),
                sync_limit: limit(self.sync_limit),
            }),
            client_addr: Some(my_client),
            warnings,
        })
    }

    /// Refuses two of the ensemble's addresses on one `address:port`: any quorum or election
    /// address, and client addresses with a specific IP; this server's client address also
    /// against its own ports on any IP when one side is a wildcard.
    fn check_addresses(
        &self,
        servers: &BTreeMap<u64, QuorumServer>,
        my_id: u64,
        client_port: Option<(SocketAddr, usize)>,
    ) -> Result<(), ServerError> {
        // (address, server id, what, key, line), in file order.
        let mut seen: Vec<(SocketAddr, u64, &str, String, usize)> = Vec::new();
        for line in &self.servers {
            let Some(server) = servers.get(&line.id) else {
                continue;
            };
            let mut mine = vec![
                (server.quorum_addr, "quorum", line.key(), line.line),
                (server.election_addr, "election", line.key(), line.line),
            ];
            if let Some(client) = server.client_addr {
                let (key, at) = match (line.client.is_some(), client_port) {
                    (false, Some((_, at))) => ("clientPort".to_string(), at),
                    _ => (line.key(), line.line),
                };
                if line.id == my_id || !client.ip().is_unspecified() {
                    mine.push((client, "client", key, at));
                }
            }
            for (addr, what, key, at) in mine {
                let clash = seen.iter().find(|(other, id, ..)| {
                    *other == addr
                        || (*id == line.id
                            && other.port() == addr.port()
                            && (other.ip().is_unspecified() || addr.ip().is_unspecified()))
                });
                if let Some((_, id, other_what, other_key, other_line)) = clash {
                    let owner = if *id == line.id {
                        "its own".to_string()
                    } else {
                        format!("server {id}'s")
                    };
                    return Err(config_error(
                        at,
                        &key,
                        format!(
                            "the {what} address {addr} of server {} is also {owner} \
                             {other_what} address ({other_key}, line {other_line})",
                            line.id
                        ),
                    ));
                }
                seen.push((addr, line.id, what, key, at));
            }
        }
        Ok(())
    }
}

/// Reads `dataDir/myid` as ZooKeeper's `setupMyId` does: `None` if it is not a file; else its
/// first line must be a number (no blanks: ZooKeeper's `Long.parseLong`). The id's range is
/// checked in ensemble mode only (a standalone ZooKeeper ignores the value).
pub fn read_myid(path: &Path) -> Result<Option<i64>, ServerError> {
    if !path.is_file() {
        return Ok(None);
    }
    let bad = |message: String| config_error(0, "myid", format!("{}: {message}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let text = String::from_utf8_lossy(&bytes);
    let first = text.lines().next().unwrap_or("");
    first
        .parse::<i64>()
        .map(Some)
        .map_err(|_| bad(format!("{first:?} is not a number")))
}

fn config_error(line: usize, key: &str, message: String) -> ServerError {
    ServerError::Config {
        line,
        key: key.to_string(),
        message,
    }
}

/// This server's client address: its line's client part, else `clientPort`; ZooKeeper's
/// `setupClientPort` refuses both when they differ.
fn my_client_addr(
    line: &ServerLine,
    client_port: Option<(SocketAddr, usize)>,
) -> Result<Option<SocketAddr>, ServerError> {
    let from_line = line_client_addr(line)?;
    if let (Some(ours), Some((static_addr, _))) = (from_line, client_port) {
        let differs = if static_addr.ip().is_unspecified() {
            static_addr.port() != ours.port()
        } else {
            static_addr != ours
        };
        if differs {
            return Err(config_error(
                line.line,
                &line.key(),
                format!(
                    "this server's client address {ours} differs from \
                     clientPortAddress/clientPort {static_addr}"
                ),
            ));
        }
    }
    Ok(from_line.or(client_port.map(|(addr, _)| addr)))
}

fn line_client_addr(line: &ServerLine) -> Result<Option<SocketAddr>, ServerError> {
    match &line.client {
        None => Ok(None),
        Some((None, port)) => Ok(Some(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            *port,
        ))),
        Some((Some(host), port)) => resolve_host(line, host, *port).map(Some),
    }
}

fn resolve_host(line: &ServerLine, host: &str, port: u16) -> Result<SocketAddr, ServerError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let found: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map(Iterator::collect)
        .unwrap_or_default();
    found
        .iter()
        .find(|a| a.is_ipv4())
        .or(found.first())
        .copied()
        .ok_or_else(|| {
            config_error(
                line.line,
                &line.key(),
                format!("cannot resolve host {host:?}"),
            )
        })
}

/// Java's `String.split` on one character: trailing empty pieces are dropped.
fn java_split(text: &str, sep: char) -> Vec<&str> {
    let mut pieces: Vec<&str> = text.split(sep).collect();
    while pieces.last() == Some(&"") {
        pieces.pop();
    }
    pieces
}

/// ZooKeeper's `ConfigUtils.getHostAndPort`: `host:port[:...]`, an IPv6 host in brackets.
fn host_and_port(text: &str) -> Result<Vec<&str>, String> {
    let Some(bracketed) = text.strip_prefix('[') else {
        return Ok(java_split(text, ':'));
    };
    let Some(end) = bracketed.find(']') else {
        return Err(format!("{text:?} starts with '[' but has no matching ']'"));
    };
    let host = &bracketed[..end];
    let rest = &bracketed[end + 1..];
    if rest.is_empty() {
        return Ok(vec![host]);
    }
    match rest.strip_prefix(':') {
        Some(ports) if !ports.is_empty() => {
            let mut parts = vec![host];
            parts.extend(java_split(ports, ':'));
            Ok(parts)
        }
        _ => Err(format!("{text:?} has no port after ']:'")),
    }
}

#[cfg(test)]
#[path = "ensemble_tests.rs"]
mod tests;
