//! Server counters, as ZooKeeper's ServerStats reports them in srvr / stat / mntr.

use std::collections::VecDeque;
use std::time::Duration;

/// Packet and latency counters.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Packets received from clients.
    pub packets_received: u64,
    /// Packets sent to clients.
    pub packets_sent: u64,
    /// Failed authentications.
    pub auth_failed: u64,
    latency_count: u64,
    latency_total_us: u128,
    latency_min_us: Option<u64>,
    latency_max_us: u64,
}

impl Stats {
    /// Records one request's processing time.
    pub fn record_latency(&mut self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.latency_count += 1;
        self.latency_total_us += u128::from(us);
        self.latency_min_us = Some(self.latency_min_us.map_or(us, |m| m.min(us)));
        self.latency_max_us = self.latency_max_us.max(us);
    }

    /// Minimum latency, whole ms (0 before any request, as ZooKeeper).
    pub fn min_latency_ms(&self) -> u64 {
        self.latency_min_us.unwrap_or(0) / 1000
    }

    /// Maximum latency, whole ms.
    pub fn max_latency_ms(&self) -> u64 {
        self.latency_max_us / 1000
    }

    /// Average latency in ms, formatted as ZooKeeper does (up to 4 decimals).
    pub fn avg_latency_ms(&self) -> String {
        crate::core::metrics_text::java_double(self.avg_latency())
    }

    /// Average latency in ms, rounded to 4 decimals as ZooKeeper's ServerStats (0 before
    /// any request).
    pub fn avg_latency(&self) -> f64 {
        if self.latency_count == 0 {
            return 0.0;
        }
        let avg = self.latency_total_us as f64 / self.latency_count as f64 / 1000.0;
        (avg * 10_000.0).round() / 10_000.0
    }

    /// `srst`: resets the counters.
    pub fn reset(&mut self) {
        *self = Stats::default();
    }
}

/// How many in-flight requests a connection's statistics remember; beyond this, the oldest
/// are forgotten (their responses then update nothing but the counters).
const IN_FLIGHT_REMEMBERED: usize = 4096;

/// One connection's statistics, as ZooKeeper's `ServerCnxn` keeps them for `cons` (and resets
/// them on `crst`).
#[derive(Debug, Clone)]
pub struct ConnStats {
    /// When the connection was accepted, ms since the Unix epoch (never reset).
    pub established_wall_ms: i64,
    /// Packets received.
    pub received: u64,
    /// Packets sent (replies and watch events).
    pub sent: u64,
    /// The short name of the last answered operation ("NA" before any).
    pub last_op: &'static str,
    /// The xid of the last answered request (-1 before any).
    pub last_cxid: i64,
    /// The zxid of the last reply (-1 before any).
    pub last_zxid: i64,
    /// When the last reply went out, monotonic microseconds.
    pub last_response_mono_us: Option<u64>,
    /// Latency of the last reply, and min / total / count / max, in ms.
    pub last_latency_ms: u64,
    min_latency_ms: Option<u64>,
    total_latency_ms: u64,
    count: u64,
    max_latency_ms: u64,
    /// Requests read and not answered yet: (xid, op name, arrival in monotonic µs), oldest
    /// first. Replies go out in request order, so each reply takes the front.
    in_flight: VecDeque<(i32, &'static str, u64)>,
}

impl ConnStats {
    /// A connection accepted now.
    pub fn new(established_wall_ms: i64) -> ConnStats {
        ConnStats {
            established_wall_ms,
            received: 0,
            sent: 0,
            last_op: "NA",
            last_cxid: -1,
            last_zxid: -1,
            last_response_mono_us: None,
            last_latency_ms: 0,
            min_latency_ms: None,
            total_latency_ms: 0,
            count: 0,
            max_latency_ms: 0,
            in_flight: VecDeque::new(),
        }
    }

    /// A request was read at `at_us` (monotonic µs).
    pub fn request(&mut self, xid: i32, op: &'static str, at_us: u64) {
        if self.in_flight.len() >= IN_FLIGHT_REMEMBERED {
            self.in_flight.pop_front();
        }
        self.in_flight.push_back((xid, op, at_us));
    }

    /// The reply to `xid` went out with `zxid` at `now_us` (ZooKeeper's
    /// `updateStatsForResponse`); how long the request took, and its op's short name. A reply
    /// to no remembered request (auth) changes nothing here.
    pub fn response(
        &mut self,
        xid: i32,
        zxid: i64,
        now_us: u64,
    ) -> Option<(Duration, &'static str)> {
        let pos = self.in_flight.iter().position(|&(x, _, _)| x == xid)?;
        let (_, op, at) = self.in_flight.drain(..=pos).next_back()?;
        let took = Duration::from_micros(now_us.saturating_sub(at));
        self.answered(xid, zxid, op, took, now_us);
        Some((took, op))
    }

    fn answered(&mut self, xid: i32, zxid: i64, op: &'static str, took: Duration, now_us: u64) {
        // ZooKeeper keeps only non-negative xids (pings and auth use reserved negative ones).
        if xid >= 0 {
            self.last_cxid = i64::from(xid);
        }
        self.last_zxid = zxid;
        self.last_op = op;
        self.last_response_mono_us = Some(now_us);
        let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        self.last_latency_ms = ms;
        self.min_latency_ms = Some(self.min_latency_ms.map_or(ms, |m| m.min(ms)));
        self.max_latency_ms = self.max_latency_ms.max(ms);
        self.total_latency_ms = self.total_latency_ms.saturating_add(ms);
        self.count += 1;
    }

    /// Requests read and not answered yet (`queued=` in `cons`).
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Minimum latency in ms (0 before any reply).
    pub fn min_latency_ms(&self) -> u64 {
        self.min_latency_ms.unwrap_or(0)
    }

    /// Average latency in whole ms (0 before any reply).
    pub fn avg_latency_ms(&self) -> u64 {
        self.total_latency_ms.checked_div(self.count).unwrap_or(0)
    }

    /// Maximum latency in ms.
    pub fn max_latency_ms(&self) -> u64 {
        self.max_latency_ms
    }

    /// `crst`: everything but the establishment time and the requests still in flight.
    pub fn reset(&mut self) {
        let in_flight = std::mem::take(&mut self.in_flight);
        *self = ConnStats::new(self.established_wall_ms);
        self.in_flight = in_flight;
    }
}

/// Whether a request of this op (by [`op_name`]) carries a txn in ZooKeeper (its latency is
/// an update's, not a read's).
pub fn has_txn(op: &str) -> bool {
    matches!(
        op,
        "CREA" | "DELE" | "SETD" | "SETA" | "MULT" | "CHEC" | "RECO" | "SESS" | "CLOS"
    )
}

/// The operation name ZooKeeper's FinalRequestProcessor records for `cons` (`lop=`).
pub fn op_name(op: corral_jute::codes::OpCode) -> &'static str {
    use corral_jute::codes::OpCode::*;
    match op {
        Create | Create2 | CreateTtl | CreateContainer => "CREA",
        Delete | DeleteContainer => "DELE",
        Exists => "EXIS",
        GetData => "GETD",
        SetData => "SETD",
        GetAcl => "GETA",
        SetAcl => "SETA",
        GetChildren | GetChildren2 => "GETC",
        Ping => "PING",
        Sync => "SYNC",
        Check => "CHEC",
        Multi => "MULT",
        MultiRead => "MLTR",
        Reconfig => "RECO",
        CheckWatches => "CHKW",
        RemoveWatches => "REMW",
        SetWatches => "SETW",
        SetWatches2 => "STW2",
        AddWatch => "ADDW",
        WhoAmI => "HOMI",
        GetEphemerals => "GETE",
        GetAllChildrenNumber => "GETACN",
        CloseSession => "CLOS",
        CreateSession => "SESS",
        _ => "NA",
    }
}
