//! Server counters, as ZooKeeper's ServerStats reports them in srvr / stat / mntr.

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
        if self.latency_count == 0 {
            return "0.0".into();
        }
        let avg = self.latency_total_us as f64 / self.latency_count as f64 / 1000.0;
        let s = format!("{avg:.4}");
        let s = s.trim_end_matches('0');
        if s.ends_with('.') {
            format!("{s}0")
        } else {
            s.to_string()
        }
    }

    /// `srst`: resets the counters.
    pub fn reset(&mut self) {
        *self = Stats::default();
    }
}
