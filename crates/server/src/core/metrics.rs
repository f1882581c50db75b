//! The server's metrics as ZooKeeper's metrics system defines them (ServerMetrics.java and
//! the gauges ZooKeeperServer registers): counters, gauges, summaries and summary sets, in one
//! typed registry that both `mntr` and Prometheus's `/metrics` render from
//! ([`super::metrics_text`]), so the two cannot disagree. Pure: values come in (durations are
//! measured by the caller), nothing here reads a clock or a file.

use std::collections::BTreeMap;

/// How much a summary tells, as ZooKeeper's `MetricsContext.DetailLevel`: `Basic` prints
/// avg/min/max/cnt/sum in `mntr` and the 0.5 quantile in Prometheus; `Advanced` adds
/// p50/p95/p99/p999 in `mntr` and the 0.5/0.9/0.99 quantiles in Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// avg/min/max/cnt/sum.
    Basic,
    /// Plus percentiles.
    Advanced,
}

/// How many recent values a summary keeps for its quantiles (the size of the reservoir
/// ZooKeeper's default provider samples for its percentiles).
const WINDOW: usize = 1028;
/// The same for each label of a summary set (labels are unbounded: one per top-level znode).
const SET_WINDOW: usize = 128;

/// A summary: count, sum, min, max of every value since the last reset, and the most recent
/// values for the quantiles.
#[derive(Debug, Clone)]
pub struct Summary {
    detail: Detail,
    count: u64,
    sum: i64,
    min: i64,
    max: i64,
    window: usize,
    recent: Vec<i64>,
    next: usize,
}

impl Summary {
    /// An empty summary.
    pub fn new(detail: Detail) -> Summary {
        Summary::with_window(detail, WINDOW)
    }

    fn with_window(detail: Detail, window: usize) -> Summary {
        Summary {
            detail,
            count: 0,
            sum: 0,
            min: 0,
            max: 0,
            window,
            recent: Vec::new(),
            next: 0,
        }
    }

    /// Records one value.
    pub fn add(&mut self, value: i64) {
        if self.count == 0 {
            self.min = value;
            self.max = value;
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.count += 1;
        self.sum = self.sum.saturating_add(value);
        if self.recent.len() < self.window {
            self.recent.push(value);
        } else {
            self.recent[self.next] = value;
            self.next = (self.next + 1) % self.window;
        }
    }

    /// Its detail level.
    pub fn detail(&self) -> Detail {
        self.detail
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Their sum.
    pub fn sum(&self) -> i64 {
        self.sum
    }

    /// The smallest (0 before any).
    pub fn min(&self) -> i64 {
        self.min
    }

    /// The largest (0 before any).
    pub fn max(&self) -> i64 {
        self.max
    }

    /// The average rounded to 4 decimals, as ZooKeeper's AvgMinMaxCounter (0 before any).
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let avg = self.sum as f64 / self.count as f64;
        (avg * 10_000.0).round() / 10_000.0
    }

    /// The `q` quantile of the recent values (`None` before any), interpolated between the
    /// two nearest ranks as Dropwizard's snapshot (ZooKeeper's percentiles) does.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let mut sorted = self.recent.clone();
        sorted.sort_unstable();
        quantile_of_sorted(&sorted, q)
    }

    /// Several quantiles at once (one sort).
    pub fn quantiles(&self, qs: &[f64]) -> Vec<Option<f64>> {
        let mut sorted = self.recent.clone();
        sorted.sort_unstable();
        qs.iter().map(|&q| quantile_of_sorted(&sorted, q)).collect()
    }

    /// Forgets everything (`srst`).
    pub fn reset(&mut self) {
        *self = Summary::with_window(self.detail, self.window);
    }
}

fn quantile_of_sorted(sorted: &[i64], q: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let pos = q * (n as f64 + 1.0);
    if pos < 1.0 {
        return Some(sorted[0] as f64);
    }
    if pos >= n as f64 {
        return Some(sorted[n - 1] as f64);
    }
    let lower = sorted[pos as usize - 1] as f64;
    let upper = sorted[pos as usize] as f64;
    Some(lower + (pos - pos.floor()) * (upper - lower))
}

/// Summaries by label (ZooKeeper's SummarySet; Prometheus label `key`).
#[derive(Debug, Clone)]
pub struct SummarySet {
    detail: Detail,
    by_key: BTreeMap<String, Summary>,
}

impl SummarySet {
    /// An empty set.
    pub fn new(detail: Detail) -> SummarySet {
        SummarySet {
            detail,
            by_key: BTreeMap::new(),
        }
    }

    /// Records `value` under `key`.
    pub fn add(&mut self, key: &str, value: i64) {
        match self.by_key.get_mut(key) {
            Some(s) => s.add(value),
            None => {
                let mut s = Summary::with_window(self.detail, SET_WINDOW);
                s.add(value);
                self.by_key.insert(key.to_string(), s);
            }
        }
    }

    /// Its detail level.
    pub fn detail(&self) -> Detail {
        self.detail
    }

    /// The labels seen and their summaries, in label order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Summary)> {
        self.by_key.iter().map(|(k, s)| (k.as_str(), s))
    }

    /// Forgets every label.
    pub fn reset(&mut self) {
        self.by_key.clear();
    }
}

/// The sizes of the responses sent to clients (ZooKeeper's BufferStats: -1 before any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferStats {
    /// The last response's size.
    pub last: i64,
    /// The smallest.
    pub min: i64,
    /// The largest.
    pub max: i64,
}

impl Default for BufferStats {
    fn default() -> Self {
        BufferStats {
            last: -1,
            min: -1,
            max: -1,
        }
    }
}

impl BufferStats {
    /// Records one response of `size` bytes (its length prefix excluded).
    pub fn add(&mut self, size: i64) {
        self.last = size;
        self.min = if self.min < 0 {
            size
        } else {
            self.min.min(size)
        };
        self.max = self.max.max(size);
    }
}

/// ZooKeeper's ServerMetrics that Corral measures (the rest are in the README's
/// "not applicable" table). Names are ZooKeeper's; times are whole milliseconds.
#[derive(Debug, Clone)]
pub struct ServerMetrics {
    /// Bytes of client packets received (length prefix included), four-letter words too.
    pub bytes_received_count: u64,
    /// Bytes of replies sent (length prefix excluded).
    pub response_bytes: u64,
    /// Bytes of watch events sent.
    pub watch_bytes: u64,
    /// ConnectRequests processed.
    pub connection_request_count: u64,
    /// ConnectRequests resuming a session.
    pub connection_revalidate_count: u64,
    /// A leader: sessions its learners asked it to revalidate.
    pub revalidate_count: u64,
    /// Sessions expired by the session tracker.
    pub stale_sessions_expired: u64,
    /// Unrecoverable errors (the txn log failed for good).
    pub unrecoverable_error_count: u64,
    /// Client packets dropped (connection closed) because the server was not serving.
    pub cnxn_closed_without_zk_server_running: u64,
    /// Times this server started looking for a leader.
    pub looking_count: u64,
    /// Txns committed while leading.
    pub commit_count: u64,
    /// Txns proposed while leading.
    pub proposal_count: u64,
    /// Txns handed to the log (ZooKeeper's SyncRequestProcessor queue).
    pub sync_processor_request_queued: u64,
    /// Connections the core closed for sending no ConnectRequest in time (the I/O layer
    /// counts those that sent nothing: [`super::NetGauges::sessionless_expired`]).
    pub sessionless_connections_expired: u64,
    /// A leader: learners synchronised by DIFF or TRUNC.
    pub diff_count: u64,
    /// A leader: learners synchronised by SNAP.
    pub snap_count: u64,
    /// A follower in broadcast: PROPOSALs received.
    pub learner_proposal_received_count: u64,
    /// A learner in broadcast: proposals it learnt committed (COMMIT, INFORM).
    pub learner_commit_received_count: u64,
    /// A new leader quit waiting for its epoch: a voter that elected it looked again.
    pub quit_leading_due_to_disloyal_voter: u64,
    /// The I/O layer's count of failed TLS handshakes at the last reset (`srst`): the
    /// counter shows those after it.
    pub unsuccessful_handshake_base: u64,
    /// The same for the connections the I/O layer expired without a session.
    pub sessionless_expired_base: u64,
    /// Client response sizes.
    pub client_response: BufferStats,
    /// Read requests: arrival to reply.
    pub readlatency: Summary,
    /// Write requests (with a txn) of this server's clients: arrival to reply.
    pub updatelatency: Summary,
    /// Applied txns: wall clock now minus the txn's time.
    pub propagation_latency: Summary,
    /// Txn log fsyncs.
    pub fsynctime: Summary,
    /// Txns per log fsync (group commit).
    pub sync_processor_batch_size: Summary,
    /// Per txn: how many txns were queued for the log writer when it took it.
    pub sync_processor_queue_size: Summary,
    /// Per txn: queued for the log writer until it took it.
    pub sync_processor_queue_time_ms: Summary,
    /// Per txn: taken by the log writer until durable (the fsync ended).
    pub sync_processor_queue_flush_time_ms: Summary,
    /// Per txn: queued until durable.
    pub sync_processor_queue_and_flush_time_ms: Summary,
    /// Snapshot writes: begun to written.
    pub snapshottime: Summary,
    /// A leader: DIFF / TRUNC syncs in progress, when one begins (itself included) or ends.
    pub inflight_diff_count: Summary,
    /// A leader: SNAP syncs in progress, the same.
    pub inflight_snap_count: Summary,
    /// A follower: a broadcast PROPOSAL's arrival, wall clock minus the txn's time.
    pub proposal_latency: Summary,
    /// A voter: a txn durable in its log (a follower's ACK leaves, a leader's own ACK),
    /// wall clock minus the txn's time.
    pub proposal_ack_creation_latency: Summary,
    /// A learner: a txn learnt committed (COMMIT, INFORM), wall clock minus its time.
    pub commit_propagation_latency: Summary,
    /// A leader: a txn acknowledged by a quorum, wall clock minus its time.
    pub quorum_ack_latency: Summary,
    /// A write handed from prep to the next stage (the log writer; a leader's proposal to
    /// the ensemble and its log), ms.
    pub proposal_process_time: Summary,
    /// Start: the whole recovery (snapshot + log).
    pub dbinittime: Summary,
    /// Start: loading the snapshot.
    pub startup_snap_load_time: Summary,
    /// Start: replaying the log after it (only when it had txns, as ZooKeeper).
    pub startup_txns_load_time: Summary,
    /// Start: txns replayed.
    pub startup_txns_loaded: Summary,
    /// An ensemble member: LOOKING until a leader was elected.
    pub election_time: Summary,
    /// A follower: elected leader to in sync (UPTODATE).
    pub follower_sync_time: Summary,
    /// An observer: the same.
    pub observer_sync_time: Summary,
    /// An ensemble member: not serving (LOOKING) until serving again.
    pub unavailable_time: Summary,
    /// The same, recorded by a member that came back as the leader.
    pub leader_unavailable_time: Summary,
    /// Watchers fired by one NodeCreated event (events with watchers only).
    pub node_created_watch_count: Summary,
    /// By one NodeDeleted event.
    pub node_deleted_watch_count: Summary,
    /// By one NodeDataChanged event.
    pub node_changed_watch_count: Summary,
    /// By one NodeChildrenChanged event.
    pub node_children_watch_count: Summary,
    /// Writes per top-level znode: path length plus data bytes (creates, setData, deletes).
    pub write_per_namespace: SummarySet,
    /// Reads per top-level znode: path length, data bytes and a Stat (getData, exists,
    /// getChildren).
    pub read_per_namespace: SummarySet,
}

impl Default for ServerMetrics {
    fn default() -> Self {
        use Detail::{Advanced, Basic};
        ServerMetrics {
            bytes_received_count: 0,
            response_bytes: 0,
            watch_bytes: 0,
            connection_request_count: 0,
            connection_revalidate_count: 0,
            revalidate_count: 0,
            stale_sessions_expired: 0,
            unrecoverable_error_count: 0,
            cnxn_closed_without_zk_server_running: 0,
            looking_count: 0,
            commit_count: 0,
            proposal_count: 0,
            sync_processor_request_queued: 0,
            sessionless_connections_expired: 0,
            diff_count: 0,
            snap_count: 0,
            learner_proposal_received_count: 0,
            learner_commit_received_count: 0,
            quit_leading_due_to_disloyal_voter: 0,
            unsuccessful_handshake_base: 0,
            sessionless_expired_base: 0,
            client_response: BufferStats::default(),
            readlatency: Summary::new(Advanced),
            updatelatency: Summary::new(Advanced),
            propagation_latency: Summary::new(Advanced),
            fsynctime: Summary::new(Basic),
            sync_processor_batch_size: Summary::new(Basic),
            sync_processor_queue_size: Summary::new(Basic),
            sync_processor_queue_time_ms: Summary::new(Advanced),
            sync_processor_queue_flush_time_ms: Summary::new(Advanced),
            sync_processor_queue_and_flush_time_ms: Summary::new(Advanced),
            snapshottime: Summary::new(Basic),
            inflight_diff_count: Summary::new(Basic),
            inflight_snap_count: Summary::new(Basic),
            proposal_latency: Summary::new(Advanced),
            proposal_ack_creation_latency: Summary::new(Advanced),
            commit_propagation_latency: Summary::new(Advanced),
            quorum_ack_latency: Summary::new(Advanced),
            proposal_process_time: Summary::new(Basic),
            dbinittime: Summary::new(Basic),
            startup_snap_load_time: Summary::new(Basic),
            startup_txns_load_time: Summary::new(Basic),
            startup_txns_loaded: Summary::new(Basic),
            election_time: Summary::new(Basic),
            follower_sync_time: Summary::new(Basic),
            observer_sync_time: Summary::new(Basic),
            unavailable_time: Summary::new(Basic),
            leader_unavailable_time: Summary::new(Basic),
            node_created_watch_count: Summary::new(Basic),
            node_deleted_watch_count: Summary::new(Basic),
            node_changed_watch_count: Summary::new(Basic),
            node_children_watch_count: Summary::new(Basic),
            write_per_namespace: SummarySet::new(Basic),
            read_per_namespace: SummarySet::new(Basic),
        }
    }
}

impl ServerMetrics {
    /// `srst`: ZooKeeper's ServerStats.reset resets every metric too.
    pub fn reset(&mut self) {
        *self = ServerMetrics::default();
    }

    /// Records a read of `bytes` of `path` under its top-level znode: as ZooKeeper's
    /// DataTree.updateReadStat, the path's length, the bytes and a Stat's 68.
    pub fn read(&mut self, path: &str, bytes: usize) {
        if let Some(ns) = top_namespace(path) {
            let size = java_len(path) + bytes + STAT_BYTES;
            self.read_per_namespace.add(ns, size as i64);
        }
    }

    /// Records a write of `bytes` to `path` (0 for a delete) under its top-level znode: as
    /// ZooKeeper's DataTree.updateWriteStat, the path's length plus the bytes.
    pub fn write(&mut self, path: &str, bytes: usize) {
        if let Some(ns) = top_namespace(path) {
            let size = java_len(path) + bytes;
            self.write_per_namespace.add(ns, size as i64);
        }
    }

    /// What the recovery at start took.
    pub fn startup(&mut self, s: &StartupTimes) {
        self.dbinittime.add(s.db_init_ms as i64);
        self.startup_snap_load_time.add(s.snap_load_ms as i64);
        if let Some(ms) = s.initial_snapshot_ms {
            self.snapshottime.add(ms as i64);
        }
        if s.txns_loaded > 0 {
            self.startup_txns_loaded.add(s.txns_loaded as i64);
            self.startup_txns_load_time.add(s.txns_load_ms as i64);
        }
    }

    /// One group commit of the log: the txns it made durable, how long the fsync took
    /// (`None` with forceSync off: ZooKeeper then times no fsync), and per txn how long it
    /// waited in the writer's queue and then until durable (ms), with the queue's length
    /// when the writer took it.
    pub fn log_synced(&mut self, txns: u64, fsync_ms: Option<u64>, waits: &[(u64, u64, u64)]) {
        self.sync_processor_batch_size.add(txns as i64);
        if let Some(ms) = fsync_ms {
            self.fsynctime.add(ms as i64);
        }
        for &(queue_len, queued, flushed) in waits {
            self.sync_processor_queue_size.add(queue_len as i64);
            self.sync_processor_queue_time_ms.add(queued as i64);
            self.sync_processor_queue_flush_time_ms.add(flushed as i64);
            self.sync_processor_queue_and_flush_time_ms
                .add(queued.saturating_add(flushed) as i64);
        }
    }
}

/// An ensemble member's phases the metrics time (measured by the member's loop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuorumPhase {
    /// Looking until a leader was elected.
    Election,
    /// A follower syncing with its leader.
    FollowerSync,
    /// An observer syncing with its leader.
    ObserverSync,
}

/// What the recovery at start took, measured by the I/O layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StartupTimes {
    /// Loading the snapshot, ms.
    pub snap_load_ms: u64,
    /// Replaying the log after it, ms.
    pub txns_load_ms: u64,
    /// Txns replayed.
    pub txns_loaded: u64,
    /// The whole recovery, ms.
    pub db_init_ms: u64,
    /// Writing the first snapshot of an empty data directory, ms.
    pub initial_snapshot_ms: Option<u64>,
}

/// A serialized Stat: 6 longs and 5 ints (ZooKeeper's DataTree.STAT_OVERHEAD_BYTES).
const STAT_BYTES: usize = 6 * 8 + 5 * 4;

/// A string's length as Java counts it (UTF-16 code units).
fn java_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// ZooKeeper's PathUtils.getTopNamespace: `a` for `/a/b`, none for `/`.
fn top_namespace(path: &str) -> Option<&str> {
    path.split('/').nth(1).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_and_quantiles() {
        let mut s = Summary::new(Detail::Advanced);
        assert_eq!(s.quantile(0.5), None);
        for v in 1..=100 {
            s.add(v);
        }
        assert_eq!((s.count(), s.sum(), s.min(), s.max()), (100, 5050, 1, 100));
        assert_eq!(s.avg(), 50.5);
        assert_eq!(s.quantile(0.5), Some(50.5));
        assert_eq!(s.quantile(0.99), Some(99.99));
        assert_eq!(s.quantile(0.0), Some(1.0));
        assert_eq!(s.quantile(1.0), Some(100.0));
        s.reset();
        assert_eq!((s.count(), s.min(), s.max()), (0, 0, 0));
    }

    #[test]
    fn summary_window_keeps_the_most_recent() {
        let mut s = Summary::new(Detail::Basic);
        for _ in 0..WINDOW {
            s.add(1);
        }
        for _ in 0..WINDOW {
            s.add(9);
        }
        assert_eq!(s.quantile(0.5), Some(9.0));
        assert_eq!(s.count(), 2 * WINDOW as u64);
        assert_eq!(s.min(), 1);
    }

    #[test]
    fn namespaces_are_top_level_znodes() {
        assert_eq!(top_namespace("/a/b/c"), Some("a"));
        assert_eq!(top_namespace("/a"), Some("a"));
        assert_eq!(top_namespace("/"), None);
        let mut m = ServerMetrics::default();
        m.write("/app/x", 10);
        m.write("/app", 5);
        m.write("/", 5);
        m.read("/app/é", 1);
        let got: Vec<(&str, u64, i64)> = m
            .write_per_namespace
            .iter()
            .map(|(k, s)| (k, s.count(), s.sum()))
            .collect();
        // path length + bytes: (6 + 10) + (4 + 5)
        assert_eq!(got, vec![("app", 2, 25)]);
        // path length (Java's: é is one char) + bytes + a Stat's 68
        let read: Vec<i64> = m.read_per_namespace.iter().map(|(_, s)| s.sum()).collect();
        assert_eq!(read, vec![6 + 1 + 68]);
    }

    #[test]
    fn buffer_stats_start_at_minus_one() {
        let mut b = BufferStats::default();
        assert_eq!((b.last, b.min, b.max), (-1, -1, -1));
        b.add(16);
        b.add(4);
        assert_eq!((b.last, b.min, b.max), (4, 4, 16));
    }
}
