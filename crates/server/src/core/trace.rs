//! ZooKeeper's ZooTrace mask (`gtmk` reads it, `stmk` sets it): which trace-level log lines
//! the server writes (they are also subject to the log filter, `RUST_LOG=trace`).

/// A client request was processed (ZooTrace.CLIENT_REQUEST_TRACE_MASK).
pub(crate) const CLIENT_REQUEST: i64 = 1 << 1;
/// A session was created, closed or expired (SESSION_TRACE_MASK).
pub(crate) const SESSION: i64 = 1 << 5;
/// A watch event was delivered (EVENT_DELIVERY_TRACE_MASK).
pub(crate) const EVENT_DELIVERY: i64 = 1 << 6;
/// A ping was processed (SERVER_PING_TRACE_MASK).
pub(crate) const SERVER_PING: i64 = 1 << 7;
/// ZooTrace's default: client requests, client data packets, server packets, warnings
/// (306, what a fresh ZooKeeper's `gtmk` answers).
pub(crate) const DEFAULT_MASK: i64 = 0b1_0011_0010;

/// Whether `mask` asks for the lines of `kind`.
pub(crate) fn on(mask: i64, kind: i64) -> bool {
    mask & kind != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_mask_traces_requests_not_pings_or_events() {
        assert_eq!(DEFAULT_MASK, 306);
        assert!(on(DEFAULT_MASK, CLIENT_REQUEST));
        assert!(on(DEFAULT_MASK, SESSION));
        assert!(!on(DEFAULT_MASK, SERVER_PING));
        assert!(!on(DEFAULT_MASK, EVENT_DELIVERY));
    }
}
