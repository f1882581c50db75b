//! What `mntr` and Prometheus's `/metrics` show: one list of samples from the core's state,
//! its statistics and [`ServerMetrics`](super::metrics::ServerMetrics), plus what the I/O
//! layer measured ([`FourLetterIo`]), rendered by [`super::metrics_text`].

use super::metrics_text::{self, MonitorValue, Sample, Value};
use super::{Core, FourLetterIo};
use crate::fourlw::version;

impl Core {
    /// Every metric Corral has, in ZooKeeper's names: the gauges ZooKeeperServer registers
    /// (and MonitorCommand's text rows), the ensemble's, then ServerMetrics' counters,
    /// summaries and summary sets.
    pub fn metric_samples(&self, now_mono_ms: u64, io: &FourLetterIo) -> Vec<Sample<'_>> {
        let st = &self.stats;
        let tree = self.state.tree();
        let watches = self.conns.watches().summary(corral_watch::WatchScope::All);
        let outstanding: usize = self.conns.iter().map(|(_, c)| c.stats().in_flight()).sum();
        let int = |name, v: i64| Sample::new(name, Value::Int(v));
        let m = &self.metrics;
        let mut out = vec![
            Sample::new("version", Value::Text(version())),
            Sample::new("server_state", Value::Text(self.role.name().into())),
            int("ephemerals_count", tree.ephemeral_count() as i64),
            int("num_alive_connections", self.conns.len() as i64),
            Sample::new("avg_latency", Value::Float(st.avg_latency())),
            int("outstanding_requests", outstanding as i64),
            int("znode_count", tree.node_count() as i64),
            int("global_sessions", self.write.sessions().len() as i64),
            int("last_client_response_size", m.client_response.last),
            int("packets_sent", st.packets_sent as i64),
            int("packets_received", st.packets_received as i64),
            int("max_client_response_size", m.client_response.max),
            int("watch_count", watches.watches as i64),
            int("auth_failed_count", st.auth_failed as i64),
            int("min_latency", st.min_latency_ms() as i64),
            int("approximate_data_size", tree.approximate_data_size() as i64),
            int(
                "uptime",
                now_mono_ms.saturating_sub(self.started_mono_ms) as i64,
            ),
            int("max_latency", st.max_latency_ms() as i64),
            int("min_client_response_size", m.client_response.min),
        ];
        let net = &io.net;
        out.extend([
            int("outstanding_tls_handshake", net.outstanding_tls_handshake),
            int(
                "non_mtls_remote_conn_count",
                net.non_mtls_remote_conn_count as i64,
            ),
            int(
                "non_mtls_local_conn_count",
                net.non_mtls_local_conn_count as i64,
            ),
        ]);
        if let Some(n) = io.max_fds {
            out.push(int("max_file_descriptor_count", n as i64));
        }
        if let Some(n) = io.open_fds {
            out.push(int("open_file_descriptor_count", n as i64));
        }
        out.extend(self.quorum_samples(now_mono_ms));
        let counters = [
            ("proposal_count", m.proposal_count),
            ("watch_bytes", m.watch_bytes),
            (
                "cnxn_closed_without_zk_server_running",
                m.cnxn_closed_without_zk_server_running,
            ),
            ("looking_count", m.looking_count),
            ("bytes_received_count", m.bytes_received_count),
            ("connection_request_count", m.connection_request_count),
            ("response_bytes", m.response_bytes),
            ("connection_revalidate_count", m.connection_revalidate_count),
            ("unrecoverable_error_count", m.unrecoverable_error_count),
            ("commit_count", m.commit_count),
            ("stale_sessions_expired", m.stale_sessions_expired),
            (
                "sync_processor_request_queued",
                m.sync_processor_request_queued,
            ),
            ("revalidate_count", m.revalidate_count),
            (
                "sessionless_connections_expired",
                m.sessionless_connections_expired
                    + net
                        .sessionless_expired
                        .saturating_sub(m.sessionless_expired_base),
            ),
            ("diff_count", m.diff_count),
            ("snap_count", m.snap_count),
            (
                "learner_proposal_received_count",
                m.learner_proposal_received_count,
            ),
            (
                "learner_commit_received_count",
                m.learner_commit_received_count,
            ),
            (
                "quit_leading_due_to_disloyal_voter",
                m.quit_leading_due_to_disloyal_voter,
            ),
            (
                "unsuccessful_handshake",
                net.unsuccessful_handshake
                    .saturating_sub(m.unsuccessful_handshake_base),
            ),
        ];
        out.extend(
            counters
                .into_iter()
                .map(|(name, v)| Sample::new(name, Value::Counter(v))),
        );
        let summaries = [
            ("node_created_watch_count", &m.node_created_watch_count),
            ("node_deleted_watch_count", &m.node_deleted_watch_count),
            ("startup_txns_load_time", &m.startup_txns_load_time),
            ("fsynctime", &m.fsynctime),
            ("snapshottime", &m.snapshottime),
            ("startup_txns_loaded", &m.startup_txns_loaded),
            ("dbinittime", &m.dbinittime),
            ("sync_processor_batch_size", &m.sync_processor_batch_size),
            ("sync_processor_queue_size", &m.sync_processor_queue_size),
            (
                "sync_processor_queue_time_ms",
                &m.sync_processor_queue_time_ms,
            ),
            (
                "sync_processor_queue_flush_time_ms",
                &m.sync_processor_queue_flush_time_ms,
            ),
            (
                "sync_processor_queue_and_flush_time_ms",
                &m.sync_processor_queue_and_flush_time_ms,
            ),
            ("node_children_watch_count", &m.node_children_watch_count),
            ("node_changed_watch_count", &m.node_changed_watch_count),
            ("startup_snap_load_time", &m.startup_snap_load_time),
            ("updatelatency", &m.updatelatency),
            ("readlatency", &m.readlatency),
            ("propagation_latency", &m.propagation_latency),
            ("election_time", &m.election_time),
            ("follower_sync_time", &m.follower_sync_time),
            ("observer_sync_time", &m.observer_sync_time),
            ("unavailable_time", &m.unavailable_time),
            ("leader_unavailable_time", &m.leader_unavailable_time),
            ("inflight_diff_count", &m.inflight_diff_count),
            ("inflight_snap_count", &m.inflight_snap_count),
            ("proposal_latency", &m.proposal_latency),
            (
                "proposal_ack_creation_latency",
                &m.proposal_ack_creation_latency,
            ),
            ("commit_propagation_latency", &m.commit_propagation_latency),
            ("quorum_ack_latency", &m.quorum_ack_latency),
            ("proposal_process_time", &m.proposal_process_time),
        ];
        out.extend(
            summaries
                .into_iter()
                .map(|(name, s)| Sample::new(name, Value::Summary(s))),
        );
        out.push(Sample::new(
            "write_per_namespace",
            Value::Set(&m.write_per_namespace),
        ));
        out.push(Sample::new(
            "read_per_namespace",
            Value::Set(&m.read_per_namespace),
        ));
        out
    }

    /// ZooKeeper's monitor entries (keys without `zk_`, typed values): what `mntr` prints and
    /// what the AdminServer's `monitor` command answers. With the Prometheus provider on, its
    /// samples (ZooKeeper's MonitorCommand dumps whichever provider it runs).
    pub fn monitor_entries(
        &self,
        now_mono_ms: u64,
        io: &FourLetterIo,
    ) -> Vec<(String, MonitorValue)> {
        let samples = self.metric_samples(now_mono_ms, io);
        metrics_text::monitor(&samples, self.config.prometheus.is_some())
    }

    /// `mntr`'s answer: [`Core::monitor_entries`] as `zk_<key>\t<value>` lines.
    pub(super) fn mntr(&self, now_mono_ms: u64, io: &FourLetterIo) -> String {
        let samples = self.metric_samples(now_mono_ms, io);
        if self.config.prometheus.is_some() {
            metrics_text::mntr_prometheus(&samples)
        } else {
            metrics_text::mntr(&samples)
        }
    }

    /// Prometheus's `/metrics` page (text format 0.0.4).
    pub fn prometheus_text(&self, now_mono_ms: u64, io: &FourLetterIo) -> String {
        metrics_text::prometheus(&self.metric_samples(now_mono_ms, io))
    }
}
