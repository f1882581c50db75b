//! The four-letter words' answers, in ZooKeeper's formats, from the core's state; what they
//! need from the file system comes in measured ([`FourLetterIo`], crate::fourlw::measure).

use std::fmt::Write;
use std::net::SocketAddr;

use super::{Core, Now};
use crate::fourlw::version;

/// What the I/O layer measured for a four-letter word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FourLetterIo {
    /// `dirs`: bytes of the snapshot directory's files.
    pub datadir_size: u64,
    /// `dirs`: bytes of the txn log directory's files.
    pub logdir_size: u64,
    /// `envi`: the working directory.
    pub cwd: String,
    /// `stmk`: the trace mask sent after the word.
    pub trace_mask: i64,
    /// `mntr` / Prometheus: the process's open file descriptors (none where not known).
    pub open_fds: Option<u64>,
    /// `mntr` / Prometheus: its limit (RLIMIT_NOFILE).
    pub max_fds: Option<u64>,
    /// `mntr` / Prometheus: the client listeners' connection counters.
    pub net: NetGauges,
}

/// The client listeners' connection counters, as the I/O layer keeps them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetGauges {
    /// TLS handshakes in progress.
    pub outstanding_tls_handshake: i64,
    /// TLS handshakes that failed or timed out, since the start.
    pub unsuccessful_handshake: u64,
    /// Connections without TLS from a loopback address.
    pub non_mtls_local_conn_count: u64,
    /// Connections without TLS from another address.
    pub non_mtls_remote_conn_count: u64,
    /// Connections closed by the I/O layer for sending nothing (or a `stmk` without its
    /// mask) within the sessionless timeout, since the start.
    pub sessionless_expired: u64,
}

impl Core {
    /// The text answer to `word`, asked by a connection from `asker`.
    pub fn four_letter_word(
        &mut self,
        word: &str,
        now: Now,
        asker: SocketAddr,
        io: &FourLetterIo,
    ) -> String {
        // ZooKeeper counts the word as a packet of 4 bytes received.
        self.stats.packets_received += 1;
        self.metrics.bytes_received_count += 4;
        if !self.config.four_letter_words.allows(word) {
            return format!("{word} is not executed because it is not in the whitelist.\n");
        }
        // ZooKeeper's words that need a running server say so while it is not serving (a
        // member not in an established quorum).
        let needs_server = !matches!(
            word,
            "ruok" | "conf" | "envi" | "isro" | "srst" | "crst" | "gtmk" | "stmk"
        );
        if needs_server && !self.role.serves() {
            return "This ZooKeeper instance is not currently serving requests\n".to_string();
        }
        match word {
            "ruok" => "imok".to_string(),
            "srvr" => self.srvr(false),
            "stat" => self.srvr(true),
            "mntr" => self.mntr(now.mono_ms(), io),
            "conf" => self.conf(),
            "envi" => format!(
                "Environment:\nzookeeper.version={}\nhost.name=localhost\nos.name={}\nos.arch={}\nuser.dir={}\n",
                version(),
                std::env::consts::OS,
                std::env::consts::ARCH,
                io.cwd
            ),
            "srst" => {
                self.stats.reset();
                self.metrics.reset();
                // A ServerMetrics counter kept by the I/O layer: counted from here on.
                self.metrics.unsuccessful_handshake_base = io.net.unsuccessful_handshake;
                self.metrics.sessionless_expired_base = io.net.sessionless_expired;
                "Server stats reset.\n".to_string()
            }
            "isro" => "rw".to_string(),
            // ZooKeeper's ZooTrace text trace mask, printed as a decimal long (no newline).
            "gtmk" => self.trace_mask.to_string(),
            "stmk" => {
                self.trace_mask = io.trace_mask;
                tracing::info!("trace mask set to {:#x}", self.trace_mask);
                self.trace_mask.to_string()
            }
            "wchs" => {
                // ZooKeeper summarises its data-watch table only.
                let s = self.conns.watches().summary(corral_watch::WatchScope::Data);
                format!(
                    "{} connections watching {} paths\nTotal watches:{}\n",
                    s.watchers, s.paths, s.watches
                )
            }
            "dirs" => format!(
                "datadir_size: {}\nlogdir_size: {}\n",
                io.datadir_size, io.logdir_size
            ),
            "cons" => self.cons(asker),
            "crst" => self.crst(),
            "dump" => self.dump(now, asker),
            "wchc" => self.watch_dump(false),
            "wchp" => self.watch_dump(true),
            // ZooKeeper's DigestCommand: the digest history, `{zxid:x}: {digest}` per line.
            "hash" => {
                let mut out = String::new();
                for zd in self.state.tree().digest_log() {
                    let _ = writeln!(out, "{:x}: {}", zd.zxid, zd.digest);
                }
                out
            }
            _ => String::new(),
        }
    }

    fn srvr(&self, with_clients: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Zookeeper version: {}", version());
        if with_clients {
            out.push_str("Clients:\n");
            for (_, c) in self.conns.iter() {
                let _ = writeln!(
                    out,
                    " /{}[1](queued=0,recved={},sent={})",
                    c.remote(),
                    c.stats().received,
                    c.stats().sent
                );
            }
            out.push('\n');
        }
        let st = &self.stats;
        let _ = writeln!(
            out,
            "Latency min/avg/max: {}/{}/{}",
            st.min_latency_ms(),
            st.avg_latency_ms(),
            st.max_latency_ms()
        );
        let _ = writeln!(out, "Received: {}", st.packets_received);
        let _ = writeln!(out, "Sent: {}", st.packets_sent);
        let _ = writeln!(out, "Connections: {}", self.conns.len());
        let _ = writeln!(out, "Outstanding: 0");
        let _ = writeln!(out, "Zxid: 0x{:x}", self.state.tree().last_zxid());
        let _ = writeln!(out, "Mode: {}", self.role.name());
        let _ = writeln!(out, "Node count: {}", self.state.tree().node_count());
        if let Some(line) = self.proposal_sizes_line() {
            let _ = writeln!(out, "{line}");
        }
        out
    }

    fn conf(&self) -> String {
        let c = &self.config;
        let data_dir = c.data_dir.display().to_string();
        let log_dir = c
            .data_log_dir
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| data_dir.clone());
        let sc = self.write.sessions().config();
        let mut out = format!(
            "clientPort={}\nsecureClientPort={}\ndataDir={}\ndataLogDir={}\ntickTime={}\nmaxClientCnxns={}\nminSessionTimeout={}\nmaxSessionTimeout={}\nclientPortListenBacklog=-1\nserverId=0\n",
            c.client_addr.port(),
            c.secure_client_addr.map_or(-1, |a| i32::from(a.port())),
            data_dir,
            log_dir,
            c.tick_time_ms,
            c.max_client_cnxns,
            sc.min(),
            sc.max()
        );
        // An ensemble member: ZooKeeper's QuorumZooKeeperServer.dumpConf after the above.
        if let Some(e) = &c.ensemble {
            out = out.replace("serverId=0\n", &format!("serverId={}\n", e.my_id));
            let me = e.me();
            let peer_type = match me.learner_type {
                crate::config::LearnerType::Participant => 0,
                crate::config::LearnerType::Observer => 1,
            };
            let _ = write!(
                out,
                "initLimit={}\nsyncLimit={}\nelectionAlg=3\nelectionPort={}\nquorumPort={}\npeerType={}\nmembership: \n{}\n",
                e.init_limit,
                e.sync_limit,
                me.election_addr.port(),
                me.quorum_addr.port(),
                peer_type,
                super::quorum::membership_text(e)
            );
        }
        out
    }
}
