//! The AdminServer's commands (ZooKeeper 3.8's `Commands`): their names, and their answers as
//! JSON objects with ZooKeeper's field names and value types, built from the core's state.
//! What they need from the file system comes in measured ([`AdminIo`]); the HTTP side is
//! crate::admin.
//!
//! Every answer has `command` (the primary name, or the name asked for when unknown) and
//! `error` (null, or a message), placed as ZooKeeper's `CommandResponse` places them.

use serde_json::{json, Map, Value};

use super::metrics_text::MonitorValue;
use super::{Core, FourLetterIo, Now, ServerRole};
use crate::fourlw::version;

/// A command: its primary name, every name it answers to, and whether it needs a serving
/// server (ZooKeeper's `CommandBase.serverRequired`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminCommand {
    /// The name in the index and in `command`.
    pub primary: &'static str,
    /// Every name, the primary first.
    pub names: &'static [&'static str],
    /// Refused with "not currently serving" while the server serves no client.
    pub server_required: bool,
}

const fn cmd(names: &'static [&'static str], server_required: bool) -> AdminCommand {
    AdminCommand {
        primary: names[0],
        names,
        server_required,
    }
}

/// The commands ZooKeeper 3.8 registers, sorted by primary name (the index page's order).
/// ZooKeeper 3.9 adds `snapshot` and `restore` (the only commands it guards with an
/// `AuthRequest`); Corral has neither.
pub const COMMANDS: &[AdminCommand] = &[
    cmd(&["configuration", "conf", "config"], true),
    cmd(&["connection_stat_reset", "crst"], true),
    cmd(&["connections", "cons"], true),
    cmd(&["dirs"], true),
    cmd(&["dump"], true),
    cmd(&["environment", "env", "envi"], false),
    cmd(&["get_trace_mask", "gtmk"], false),
    cmd(&["hash"], true),
    cmd(&["initial_configuration", "icfg"], true),
    cmd(&["is_read_only", "isro"], true),
    cmd(&["last_snapshot", "lsnp"], true),
    cmd(&["leader", "lead"], true),
    cmd(&["monitor", "mntr"], false),
    cmd(&["observer_connection_stat_reset", "orst"], true),
    cmd(&["observers", "obsr"], true),
    cmd(&["ruok"], true),
    cmd(&["server_stats", "srvr"], true),
    cmd(&["set_trace_mask", "stmk"], false),
    cmd(&["stat_reset", "srst"], true),
    cmd(&["stats", "stat"], true),
    cmd(&["system_properties", "sysp"], false),
    cmd(&["voting_view"], true),
    cmd(&["watch_summary", "wchs"], true),
    cmd(&["watches", "wchc"], true),
    cmd(&["watches_by_path", "wchp"], true),
    cmd(&["zabstate"], false),
];

/// The command `name` (primary or short) names.
pub fn lookup(name: &str) -> Option<&'static AdminCommand> {
    COMMANDS.iter().find(|c| c.names.contains(&name))
}

/// ZooKeeper's default trace mask (ZooTrace: client requests, client ping, server packet and
/// warning traces).
pub const DEFAULT_TRACE_MASK: i64 = 306;

/// The AdminServer's state in the core, and what the ensemble member tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminState {
    /// `get_trace_mask` / `set_trace_mask` (kept and reported; Corral's logging is configured
    /// with RUST_LOG, not by this mask).
    pub trace_mask: i64,
    /// The leader this member follows or is, once elected.
    pub leader: Option<u64>,
    /// The ZAB phase, as ZooKeeper's `ZabState` in lower case ("" standalone).
    pub zab_phase: &'static str,
}

impl Default for AdminState {
    fn default() -> Self {
        AdminState {
            trace_mask: DEFAULT_TRACE_MASK,
            leader: None,
            zab_phase: "",
        }
    }
}

/// What the I/O layer measured for a command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminIo {
    /// Bytes of the snapshot directory's files.
    pub datadir_size: u64,
    /// Bytes of the txn log directory's files.
    pub logdir_size: u64,
    /// The newest snapshot: its zxid and its file's modification time, seconds since the
    /// epoch.
    pub last_snapshot: Option<(i64, i64)>,
    /// Process facts for `environment` / `system_properties`: (key, value) in Java's
    /// property names (`user.dir`, `os.version`, ...).
    pub properties: Vec<(String, String)>,
    /// `monitor`: what `mntr` measures outside the core (file descriptors, connection
    /// counters).
    pub monitor: FourLetterIo,
}

/// The answer to an unknown command, or to a command that needs a serving server.
pub fn error_response(command: &str, error: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("command".into(), json!(command));
    m.insert("error".into(), json!(error));
    m
}

/// What a server that is not serving answers to a command that needs one.
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

impl Core {
    /// Runs the command named `name` with the request's query `args`; the JSON object answer.
    pub fn admin_command(
        &mut self,
        name: &str,
        args: &[(String, String)],
        now: Now,
        io: &AdminIo,
    ) -> Map<String, Value> {
        let Some(command) = lookup(name) else {
            return error_response(name, &format!("Unknown command: {name}"));
        };
        if command.server_required && !self.role.serves() {
            return error_response(name, NOT_SERVING);
        }
        let mut m = Map::new();
        match command.primary {
            "configuration" => self.admin_configuration(&mut m),
            "connection_stat_reset" => {
                self.crst();
            }
            "connections" => {
                m.insert("connections".into(), self.connection_infos(false, false));
                m.insert(
                    "secure_connections".into(),
                    self.connection_infos(false, true),
                );
            }
            "dirs" => {
                m.insert("datadir_size".into(), json!(io.datadir_size));
                m.insert("logdir_size".into(), json!(io.logdir_size));
            }
            "dump" => self.admin_dump(&mut m),
            "environment" => {
                m.insert("zookeeper.version".into(), json!(version()));
                m.insert("host.name".into(), json!("localhost"));
                for (k, v) in &io.properties {
                    m.insert(k.clone(), json!(v));
                }
            }
            "get_trace_mask" => {
                m.insert("tracemask".into(), json!(self.admin.trace_mask));
            }
            "hash" => {
                let digests: Vec<Value> = self
                    .state
                    .tree()
                    .digest_log()
                    .into_iter()
                    .map(|d| json!({"zxid": d.zxid.to_wire(), "digest": d.digest, "digest_version": 2}))
                    .collect();
                m.insert("digests".into(), Value::Array(digests));
            }
            "initial_configuration" => {
                // ZooKeeper keeps the file's text only when it runs standalone
                // (ZooKeeperServerMain); an ensemble member answers null.
                let text = self
                    .config
                    .ensemble
                    .is_none()
                    .then_some(&self.config.initial_config);
                m.insert("initial_configuration".into(), json!(text));
            }
            "is_read_only" => {
                m.insert("read_only".into(), json!(false));
            }
            "last_snapshot" => {
                // ZooKeeper: Long.toHexString(zxid), the file's mtime in seconds; -1 for none.
                let (zxid, at) = io.last_snapshot.unwrap_or((-1, -1));
                m.insert("zxid".into(), json!(format!("{:x}", zxid as u64)));
                m.insert("timestamp".into(), json!(at));
            }
            "leader" => self.admin_leader(&mut m),
            "monitor" => {
                for (k, v) in self.monitor_entries(now.mono_ms(), &io.monitor) {
                    let v = match v {
                        MonitorValue::Text(t) => json!(t),
                        MonitorValue::Long(n) => json!(n),
                        MonitorValue::Double(f) => json!(f),
                    };
                    m.insert(k, v);
                }
            }
            "observers" => self.observers_command(&mut m),
            "set_trace_mask" => {
                let arg = args.iter().find(|(k, _)| k == "traceMask").map(|(_, v)| v);
                match arg.map(|v| (v, v.parse::<i64>())) {
                    None => {
                        m.insert(
                            "error".into(),
                            json!("setTraceMask requires long traceMask argument"),
                        );
                    }
                    Some((v, Err(_))) => {
                        m.insert(
                            "error".into(),
                            json!(format!(
                                "setTraceMask requires long traceMask argument, got {v}"
                            )),
                        );
                    }
                    Some((_, Ok(mask))) => {
                        self.admin.trace_mask = mask;
                        m.insert("tracemask".into(), json!(mask));
                    }
                }
            }
            "server_stats" => self.admin_server_stats(&mut m, now, io),
            "stat_reset" => self.stats.reset(),
            "stats" => {
                self.admin_server_stats(&mut m, now, io);
                m.insert("connections".into(), self.connection_infos(true, false));
                m.insert(
                    "secure_connections".into(),
                    self.connection_infos(true, true),
                );
            }
            "system_properties" => {
                let mut props: Vec<(String, String)> = io.properties.clone();
                props.extend(
                    [
                        ("file.encoding", "UTF-8"),
                        ("file.separator", "/"),
                        ("line.separator", "\n"),
                        ("path.separator", ":"),
                    ]
                    .map(|(k, v)| (k.to_string(), v.to_string())),
                );
                props.sort();
                for (k, v) in props {
                    m.insert(k, json!(v));
                }
            }
            "voting_view" => {
                let mut view = Map::new();
                if let Some(e) = &self.config.ensemble {
                    for s in e.servers.values() {
                        if s.learner_type != crate::config::LearnerType::Participant {
                            continue;
                        }
                        // As Debian's ZooKeeper 3.8.0 writes it (QuorumServerView).
                        let client = s.client_addr.map_or(String::new(), |c| c.to_string());
                        view.insert(
                            s.id.to_string(),
                            json!({
                                "server_addresses": [s.quorum_addr.to_string()],
                                "election_addresses": [s.election_addr.to_string()],
                                "client_address": client,
                                "learner_type": "participant",
                            }),
                        );
                    }
                }
                m.insert("current_config".into(), Value::Object(view));
            }
            "watch_summary" => {
                let s = self.conns.watches().summary(corral_watch::WatchScope::Data);
                m.insert("num_connections".into(), json!(s.watchers));
                m.insert("num_paths".into(), json!(s.paths));
                m.insert("num_total_watches".into(), json!(s.watches));
            }
            "watches" | "watches_by_path" => self.admin_watches(&mut m, command.primary),
            "zabstate" => self.admin_zabstate(&mut m),
            // ruok, observer_connection_stat_reset: nothing but the command.
            _ => {}
        }
        finish(m, command.primary)
    }

    /// The ensemble member's view of its leader and ZAB phase (see [`AdminState`]).
    pub fn set_leader_view(&mut self, leader: Option<u64>, zab_phase: &'static str) {
        self.admin.leader = leader;
        self.admin.zab_phase = zab_phase;
    }

    fn admin_configuration(&self, m: &mut Map<String, Value>) {
        let c = &self.config;
        let (data_dir, log_dir) = c.version_dirs();
        let sc = self.write.sessions().config();
        let server_id = c.ensemble.as_ref().map_or(0, |e| e.my_id);
        m.insert("client_port".into(), json!(c.client_addr.port()));
        m.insert("data_dir".into(), json!(data_dir.display().to_string()));
        m.insert("data_log_dir".into(), json!(log_dir.display().to_string()));
        m.insert("tick_time".into(), json!(c.tick_time_ms));
        m.insert("max_client_cnxns".into(), json!(c.max_client_cnxns));
        m.insert("min_session_timeout".into(), json!(sc.min()));
        m.insert("max_session_timeout".into(), json!(sc.max()));
        m.insert("server_id".into(), json!(server_id));
        m.insert("client_port_listen_backlog".into(), json!(-1));
    }

    fn admin_dump(&self, m: &mut Map<String, Value>) {
        let mut by_expiry: std::collections::BTreeMap<u64, Vec<i64>> = Default::default();
        // A learner expires no session (the leader does): ZooKeeper's learners list none.
        let expiring = !matches!(self.write, super::write_path::WritePath::Learner(_));
        for s in self.write.sessions().iter().filter(|_| expiring) {
            if let Some(at) = s.expires_at_ms() {
                by_expiry.entry(at).or_default().push(s.id().0);
            }
        }
        let expiry: Map<String, Value> = by_expiry
            .into_iter()
            .map(|(at, ids)| (at.to_string(), json!(ids)))
            .collect();
        let tree = self.state.tree();
        let ephemerals: Map<String, Value> = tree
            .sessions_with_ephemerals()
            .into_iter()
            .map(|sid| (sid.to_string(), json!(tree.ephemerals(sid))))
            .collect();
        m.insert("expiry_time_to_session_ids".into(), Value::Object(expiry));
        m.insert(
            "session_id_to_ephemeral_paths".into(),
            Value::Object(ephemerals),
        );
    }

    fn admin_leader(&self, m: &mut Map<String, Value>) {
        let Some(e) = &self.config.ensemble else {
            m.insert("error".into(), json!("server is not initialized"));
            return;
        };
        let leader = self.admin.leader;
        let leader_ip = leader
            .and_then(|id| e.servers.get(&id))
            .map_or(String::new(), |s| s.quorum_addr.ip().to_string());
        m.insert("is_leader".into(), json!(self.role == ServerRole::Leader));
        m.insert(
            "leader_id".into(),
            json!(leader.map_or(-1, |id| i64::try_from(id).unwrap_or(-1))),
        );
        m.insert("leader_ip".into(), json!(leader_ip));
    }

    /// `zabstate`: standalone, `voting` and an empty `zabstate`; an ensemble member adds its
    /// id, addresses (as Jackson writes ZooKeeper's MultipleAddresses) and last zxid. A member
    /// electing a leader answers as standalone, as ZooKeeper's does (it has no ZooKeeperServer
    /// until a leader is elected).
    fn admin_zabstate(&self, m: &mut Map<String, Value>) {
        let electing = self.role == ServerRole::Looking && self.admin.zab_phase == "election";
        let Some(e) = self.config.ensemble.as_ref().filter(|_| !electing) else {
            m.insert("voting".into(), json!(false));
            m.insert("zabstate".into(), json!(""));
            return;
        };
        let me = e.me();
        let addresses = |a: std::net::SocketAddr| {
            json!({
                "empty": false,
                "all_addresses": [a.to_string()],
                "all_reachable_addresses": [a.to_string()],
                "one": a.to_string(),
                "reachable_address": a.to_string(),
                "wildcard_addresses": [format!("0.0.0.0:{}", a.port())],
                "all_ports": [a.port()],
                "all_host_strings": [a.ip().to_string()],
                "all_reachable_addresses_or_all": [a.to_string()],
                "reachable_or_one": a.to_string(),
            })
        };
        let zxid = self.state.tree().last_zxid();
        m.insert("myid".into(), json!(e.my_id));
        m.insert("is_leader".into(), json!(self.role == ServerRole::Leader));
        m.insert("quorum_address".into(), addresses(me.quorum_addr));
        m.insert("election_address".into(), addresses(me.election_addr));
        m.insert(
            "client_address".into(),
            json!(self.config.client_addr.to_string()),
        );
        m.insert(
            "voting".into(),
            json!(me.learner_type == crate::config::LearnerType::Participant),
        );
        m.insert("last_zxid".into(), json!(format!("0x{:x}", zxid)));
        m.insert("zab_epoch".into(), json!(zxid.epoch()));
        m.insert("zab_counter".into(), json!(zxid.counter()));
        m.insert("zabstate".into(), json!(self.admin.zab_phase));
    }

    fn admin_watches(&self, m: &mut Map<String, Value>, which: &str) {
        use corral_watch::WatchScope;
        let session = |conn| {
            self.conns
                .get(conn)
                .and_then(|c| c.session())
                .unwrap_or_default()
        };
        let watches = self.conns.watches();
        if which == "watches" {
            let by_session: Map<String, Value> = watches
                .dump_by_watcher(WatchScope::Data)
                .into_iter()
                .map(|(conn, paths)| (session(conn).to_string(), json!(paths)))
                .collect();
            m.insert(
                "session_id_to_watched_paths".into(),
                Value::Object(by_session),
            );
        } else {
            let by_path: Map<String, Value> = watches
                .dump_by_path(WatchScope::Data)
                .into_iter()
                .map(|(path, conns)| {
                    let ids: Vec<i64> = conns.into_iter().map(session).collect();
                    (path.to_string(), json!(ids))
                })
                .collect();
            m.insert("path_to_session_ids".into(), Value::Object(by_path));
        }
    }
}

/// `command` and `error` placed as ZooKeeper's CommandResponse does: after the data, or, when
/// the command reported an error itself, the error where it was put and `command` after it.
fn finish(mut m: Map<String, Value>, primary: &str) -> Map<String, Value> {
    m.insert("command".into(), json!(primary));
    if !m.contains_key("error") {
        m.insert("error".into(), Value::Null);
    }
    m
}
