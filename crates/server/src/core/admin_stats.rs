//! The AdminServer's statistics objects: `server_stats` / `stats` (ZooKeeper's ServerStats as
//! Jackson writes it) and the connection list of `connections` / `stats`
//! (ServerCnxn.getConnectionInfo).

use serde_json::{json, Map, Value};

use super::admin::AdminIo;
use super::{Core, Now, ServerRole};
use crate::fourlw::version;

impl Core {
    /// `server_stats`: version, read_only, server_stats, client_response, proposal_stats (a
    /// leader's), node_count.
    pub(super) fn admin_server_stats(&self, m: &mut Map<String, Value>, now: Now, io: &AdminIo) {
        let st = &self.stats;
        // Corral does not measure response sizes (nor fsync times against a threshold):
        // ZooKeeper's "none yet" values.
        let buffers = json!({"last_buffer_size": -1, "min_buffer_size": -1, "max_buffer_size": -1});
        let avg: f64 = st.avg_latency_ms().parse().unwrap_or(0.0);
        let stats = json!({
            "packets_sent": st.packets_sent,
            "packets_received": st.packets_received,
            "fsync_threshold_exceed_count": 0,
            "client_response_stats": buffers.clone(),
            "provider_null": false,
            "data_dir_size": io.datadir_size,
            "log_dir_size": io.logdir_size,
            "server_state": self.role.name(),
            "last_processed_zxid": self.state.tree().last_zxid().to_wire(),
            "outstanding_requests": self.outstanding_requests(),
            "avg_latency": avg,
            "max_latency": st.max_latency_ms(),
            "min_latency": st.min_latency_ms(),
            "num_alive_client_connections": self.conns.len(),
            "uptime": now.mono_ms().saturating_sub(self.started_mono_ms),
            "auth_failed_count": st.auth_failed,
            "non_mtlsremote_conn_count": 0,
            "non_mtlslocal_conn_count": 0,
        });
        m.insert("version".into(), json!(version()));
        m.insert("read_only".into(), json!(false));
        m.insert("server_stats".into(), stats);
        m.insert("client_response".into(), buffers);
        if self.role == ServerRole::Leader {
            let (last, min, max) = self.quorum.proposal_sizes;
            m.insert(
                "proposal_stats".into(),
                json!({"last_buffer_size": last, "min_buffer_size": min, "max_buffer_size": max}),
            );
        }
        m.insert("node_count".into(), json!(self.state.tree().node_count()));
    }

    /// Requests read from clients and not answered yet.
    fn outstanding_requests(&self) -> usize {
        self.conns.iter().map(|(_, c)| c.stats().in_flight()).sum()
    }

    /// The statistics of every client connection on the client port (`secure`: on the secure
    /// client port); `brief`: the first five fields only.
    pub(super) fn connection_infos(&self, brief: bool, secure: bool) -> Value {
        let infos: Vec<Value> = self
            .conns
            .iter()
            .filter(|(_, c)| c.is_secure() == secure)
            .map(|(_, c)| {
                let st = c.stats();
                let mut info = Map::new();
                info.insert(
                    "remote_socket_address".into(),
                    json!(c.remote().to_string()),
                );
                // The NIO selector's interest: reading (OP_READ, 1) unless throttled.
                info.insert("interest_ops".into(), json!(c.interest_ops()));
                info.insert("outstanding_requests".into(), json!(st.in_flight()));
                info.insert("packets_received".into(), json!(st.received));
                info.insert("packets_sent".into(), json!(st.sent));
                if !brief {
                    let sid = c.session().unwrap_or(0);
                    let timeout = self
                        .write
                        .sessions()
                        .get(corral_session::SessionId(sid))
                        .map_or(0, |s| s.timeout_ms());
                    info.insert("session_id".into(), json!(sid));
                    info.insert("last_operation".into(), json!(st.last_op));
                    info.insert("established".into(), json!(st.established_wall_ms));
                    info.insert("session_timeout".into(), json!(timeout));
                    info.insert("last_cxid".into(), json!(st.last_cxid));
                    info.insert("last_zxid".into(), json!(st.last_zxid));
                    info.insert(
                        "last_response_time".into(),
                        json!(st.last_response_mono_us.map_or(0, |at| at / 1000)),
                    );
                    info.insert("last_latency".into(), json!(st.last_latency_ms));
                    info.insert("min_latency".into(), json!(st.min_latency_ms()));
                    info.insert("avg_latency".into(), json!(st.avg_latency_ms()));
                    info.insert("max_latency".into(), json!(st.max_latency_ms()));
                }
                Value::Object(info)
            })
            .collect();
        Value::Array(infos)
    }
}
