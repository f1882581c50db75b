//! The metrics only the I/O layer can measure, read when `mntr` or `/metrics` is asked and
//! handed to the core in [`FourLetterIo`]: the process's file descriptors (as ZooKeeper reads
//! them from its UnixOperatingSystemMXBean) and the client listeners' connection counters
//! (TLS handshakes in progress and failed, plain connections by loopback or remote peer).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::core::{FourLetterIo, NetGauges};

/// Counters the connection tasks keep (shared by every listener of a server).
#[derive(Debug, Default)]
pub(crate) struct NetCounters {
    tls_in_progress: AtomicI64,
    tls_failed: AtomicU64,
    plain_local: AtomicU64,
    plain_remote: AtomicU64,
    sessionless_expired: AtomicU64,
}

/// A TLS handshake in progress; dropping it ends it.
pub(crate) struct Handshake<'a>(&'a NetCounters);

impl Drop for Handshake<'_> {
    fn drop(&mut self) {
        self.0.tls_in_progress.fetch_sub(1, Ordering::Relaxed);
    }
}

impl NetCounters {
    /// A TLS handshake begins.
    pub(crate) fn handshake(&self) -> Handshake<'_> {
        self.tls_in_progress.fetch_add(1, Ordering::Relaxed);
        Handshake(self)
    }

    /// A TLS handshake failed or timed out.
    pub(crate) fn handshake_failed(&self) {
        self.tls_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection without TLS was accepted from `remote` (ZooKeeper's non-mTLS counts:
    /// loopback peers are local).
    pub(crate) fn plain_connection(&self, remote: SocketAddr) {
        let counter = if remote.ip().is_loopback() {
            &self.plain_local
        } else {
            &self.plain_remote
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection closed before its first bytes (or a `stmk`'s mask) arrived within the
    /// sessionless timeout (ZooKeeper's sessionless_connections_expired).
    pub(crate) fn sessionless_expired(&self) {
        self.sessionless_expired.fetch_add(1, Ordering::Relaxed);
    }

    fn gauges(&self) -> NetGauges {
        NetGauges {
            outstanding_tls_handshake: self.tls_in_progress.load(Ordering::Relaxed),
            unsuccessful_handshake: self.tls_failed.load(Ordering::Relaxed),
            non_mtls_local_conn_count: self.plain_local.load(Ordering::Relaxed),
            non_mtls_remote_conn_count: self.plain_remote.load(Ordering::Relaxed),
            sessionless_expired: self.sessionless_expired.load(Ordering::Relaxed),
        }
    }
}

/// What `mntr` and `/metrics` need from the I/O layer.
pub(crate) fn measure(counters: &NetCounters) -> FourLetterIo {
    let mut io = FourLetterIo {
        net: counters.gauges(),
        ..FourLetterIo::default()
    };
    fill_process_gauges(&mut io);
    io
}

/// The process's open file descriptors (`/proc/self/fd`) and their soft limit
/// (RLIMIT_NOFILE, from `/proc/self/limits`); left unknown where /proc is not there.
pub(crate) fn fill_process_gauges(io: &mut FourLetterIo) {
    io.open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        // The directory handle read_dir holds is one of them: not counted.
        .map(|d| d.count().saturating_sub(1) as u64);
    io.max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| max_open_files(&text));
}

/// The soft limit of the `Max open files` row of a `/proc/<pid>/limits` text.
fn max_open_files(limits: &str) -> Option<u64> {
    let row = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = row
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    match soft {
        "unlimited" => Some(i64::MAX as u64),
        n => n.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_rows_give_the_soft_limit() {
        let text =
            "Limit                     Soft Limit           Hard Limit           Units     \n\
Max processes             127431               127431               processes \n\
Max open files            1024                 524288               files     \n";
        assert_eq!(max_open_files(text), Some(1024));
        assert_eq!(max_open_files("Max processes 5 5 processes\n"), None);
    }

    #[test]
    fn this_process_has_open_files_under_its_limit() {
        let mut io = FourLetterIo::default();
        fill_process_gauges(&mut io);
        let (open, max) = (io.open_fds.unwrap_or(0), io.max_fds.unwrap_or(0));
        // stdin, stdout, stderr at least.
        assert!(open >= 3, "{open}");
        assert!(max >= open, "{max} < {open}");
    }

    #[test]
    fn connection_counters() {
        let c = NetCounters::default();
        {
            let _one = c.handshake();
            let _two = c.handshake();
            assert_eq!(c.gauges().outstanding_tls_handshake, 2);
            c.handshake_failed();
        }
        c.plain_connection("127.0.0.1:5".parse().unwrap_or_else(|_| unreachable!()));
        c.plain_connection("10.1.2.3:5".parse().unwrap_or_else(|_| unreachable!()));
        c.plain_connection("[::1]:5".parse().unwrap_or_else(|_| unreachable!()));
        let g = c.gauges();
        assert_eq!(g.outstanding_tls_handshake, 0);
        assert_eq!(g.unsuccessful_handshake, 1);
        assert_eq!(
            (g.non_mtls_local_conn_count, g.non_mtls_remote_conn_count),
            (2, 1)
        );
    }
}
