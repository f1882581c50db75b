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
        if !self.config.four_letter_words.allows(word) {
            return format!("{word} is not executed because it is not in the whitelist.\n");
        }
        // ZooKeeper's words that need a running server say so while it is not serving (a
        // member not in an established quorum).
        let needs_server = !matches!(word, "ruok" | "conf" | "envi" | "isro" | "srst" | "crst");
        if needs_server && !self.role.serves() {
            return "This ZooKeeper instance is not currently serving requests\n".to_string();
        }
        match word {
            "ruok" => "imok".to_string(),
            "srvr" => self.srvr(false),
            "stat" => self.srvr(true),
            "mntr" => self.mntr(now.mono_ms()),
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
                "Server stats reset.\n".to_string()
            }
            "isro" => "rw".to_string(),
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

    fn mntr(&self, now_mono_ms: u64) -> String {
        let mut out = String::new();
        for (k, v) in self.mntr_rows(now_mono_ms) {
            let _ = writeln!(out, "{k}\t{v}");
        }
        out
    }

    /// `mntr`'s keys and values, in order (also the AdminServer's `monitor`).
    pub(super) fn mntr_rows(&self, now_mono_ms: u64) -> Vec<(&'static str, String)> {
        let st = &self.stats;
        let watches = self.conns.watches().summary(corral_watch::WatchScope::All);
        let rows: Vec<(&str, String)> = vec![
            ("zk_version", version()),
            ("zk_server_state", self.role.name().into()),
            (
                "zk_ephemerals_count",
                self.state.tree().ephemeral_count().to_string(),
            ),
            ("zk_num_alive_connections", self.conns.len().to_string()),
            ("zk_avg_latency", st.avg_latency_ms()),
            ("zk_outstanding_requests", "0".into()),
            ("zk_znode_count", self.state.tree().node_count().to_string()),
            (
                "zk_global_sessions",
                self.write.sessions().len().to_string(),
            ),
            ("zk_packets_sent", st.packets_sent.to_string()),
            ("zk_packets_received", st.packets_received.to_string()),
            ("zk_watch_count", watches.watches.to_string()),
            ("zk_auth_failed_count", st.auth_failed.to_string()),
            ("zk_min_latency", st.min_latency_ms().to_string()),
            ("zk_max_latency", st.max_latency_ms().to_string()),
            (
                "zk_approximate_data_size",
                self.state.tree().approximate_data_size().to_string(),
            ),
            (
                "zk_uptime",
                now_mono_ms.saturating_sub(self.started_mono_ms).to_string(),
            ),
        ];
        let quorum = self.quorum_rows(now_mono_ms);
        rows.into_iter().chain(quorum).collect()
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
