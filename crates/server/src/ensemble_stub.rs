//! TEMPORARY (replaced by the config helper's module at merge): the ensemble's zoo.cfg keys,
//! just enough to start three servers.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;

use crate::ServerError;

/// Votes or only learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnerType {
    /// A voter.
    Participant,
    /// An observer.
    Observer,
}

/// One `server.N` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumServer {
    /// N.
    pub id: u64,
    /// host:quorumPort.
    pub quorum_addr: SocketAddr,
    /// host:electionPort.
    pub election_addr: SocketAddr,
    /// Its type.
    pub learner_type: LearnerType,
    /// `;[clientAddr:]clientPort`.
    pub client_addr: Option<SocketAddr>,
}

/// The ensemble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsembleConfig {
    /// myid.
    pub my_id: u64,
    /// Every server.
    pub servers: BTreeMap<u64, QuorumServer>,
    /// initLimit.
    pub init_limit: u32,
    /// syncLimit.
    pub sync_limit: u32,
}

impl EnsembleConfig {
    /// This server.
    pub fn me(&self) -> &QuorumServer {
        &self.servers[&self.my_id]
    }
    /// The voters.
    pub fn voters(&self) -> impl Iterator<Item = u64> + '_ {
        self.servers
            .values()
            .filter(|s| s.learner_type == LearnerType::Participant)
            .map(|s| s.id)
    }
    /// The observers.
    pub fn observers(&self) -> impl Iterator<Item = u64> + '_ {
        self.servers
            .values()
            .filter(|s| s.learner_type == LearnerType::Observer)
            .map(|s| s.id)
    }
}

fn bad(line: usize, key: &str, message: String) -> ServerError {
    ServerError::Config {
        line,
        key: key.into(),
        message,
    }
}

/// Parses a `server.N` value.
pub(crate) fn server_line(
    line: usize,
    key: &str,
    value: &str,
) -> Result<QuorumServer, ServerError> {
    let id: u64 = key["server.".len()..]
        .parse()
        .map_err(|_| bad(line, key, "not a server id".into()))?;
    let (addrs, client) = match value.split_once(';') {
        Some((a, c)) => (a, Some(c)),
        None => (value, None),
    };
    let parts: Vec<&str> = addrs.split(':').collect();
    if parts.len() < 3 {
        return Err(bad(
            line,
            key,
            "expected host:quorumPort:electionPort".into(),
        ));
    }
    let resolve = |host: &str, port: &str| -> Result<SocketAddr, ServerError> {
        let port: u16 = port
            .parse()
            .map_err(|_| bad(line, key, format!("{port:?} is not a port")))?;
        (host, port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| bad(line, key, format!("cannot resolve {host}")))
    };
    let learner_type = match parts.get(3) {
        None | Some(&"participant") => LearnerType::Participant,
        Some(&"observer") => LearnerType::Observer,
        Some(other) => return Err(bad(line, key, format!("unknown type {other}"))),
    };
    let client_addr = match client {
        None => None,
        Some(c) => Some(match c.rsplit_once(':') {
            Some((h, p)) => resolve(h, p)?,
            None => resolve("0.0.0.0", c)?,
        }),
    };
    Ok(QuorumServer {
        id,
        quorum_addr: resolve(parts[0], parts[1])?,
        election_addr: resolve(parts[0], parts[2])?,
        learner_type,
        client_addr,
    })
}

/// The ensemble from the server lines and `dataDir/myid`.
pub(crate) fn build(
    servers: BTreeMap<u64, QuorumServer>,
    data_dir: &Path,
    init_limit: u32,
    sync_limit: u32,
) -> Result<Option<EnsembleConfig>, ServerError> {
    if servers.len() < 2 {
        return Ok(None);
    }
    let path = data_dir.join("myid");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| bad(0, "myid", format!("{}: {e}", path.display())))?;
    let my_id: u64 = text
        .trim()
        .parse()
        .map_err(|_| bad(0, "myid", format!("{}: not a number", path.display())))?;
    if !servers.contains_key(&my_id) {
        return Err(bad(0, "myid", format!("{my_id} is not in the server list")));
    }
    Ok(Some(EnsembleConfig {
        my_id,
        servers,
        init_limit,
        sync_limit,
    }))
}
