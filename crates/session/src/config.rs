//! Timeouts: configuration, defaults, validation and negotiation.

use crate::password::ZOOKEEPER_SUPER_SECRET;
use crate::SessionError;

/// Session settings, named after ZooKeeper's `zoo.cfg` keys.
///
/// `None` for a timeout bound means ZooKeeper's default: 2 × tickTime for the minimum and
/// 20 × tickTime for the maximum (what ZooKeeper does when the key is absent or `-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// `tickTime`: the expiry bucket width, ms. Default 2000.
    pub tick_time_ms: u32,
    /// `minSessionTimeout`, ms; `None` for 2 × tickTime.
    pub min_session_timeout_ms: Option<u32>,
    /// `maxSessionTimeout`, ms; `None` for 20 × tickTime.
    pub max_session_timeout_ms: Option<u32>,
    /// Seed mixed into every session password (`id ^ secret` seeds `java.util.Random`).
    /// Default [`ZOOKEEPER_SUPER_SECRET`], which makes passwords identical to ZooKeeper's.
    pub password_secret: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            tick_time_ms: 2000,
            min_session_timeout_ms: None,
            max_session_timeout_ms: None,
            password_secret: ZOOKEEPER_SUPER_SECRET,
        }
    }
}

impl SessionConfig {
    /// The effective minimum session timeout, ms.
    pub fn min(&self) -> u32 {
        self.min_session_timeout_ms
            .unwrap_or_else(|| self.tick_time_ms.saturating_mul(2))
    }

    /// The effective maximum session timeout, ms.
    pub fn max(&self) -> u32 {
        self.max_session_timeout_ms
            .unwrap_or_else(|| self.tick_time_ms.saturating_mul(20))
    }

    /// Checks the settings: a positive tickTime, both bounds representable on the wire
    /// (≤ `i32::MAX`), and min ≤ max.
    pub fn validate(&self) -> Result<(), SessionError> {
        if self.tick_time_ms == 0 {
            return Err(SessionError::ZeroTickTime);
        }
        let (min_ms, max_ms) = (self.min(), self.max());
        for timeout_ms in [min_ms, max_ms] {
            if i32::try_from(timeout_ms).is_err() {
                return Err(SessionError::TimeoutOutOfRange { timeout_ms });
            }
        }
        if min_ms > max_ms {
            return Err(SessionError::MinTimeoutAboveMax { min_ms, max_ms });
        }
        Ok(())
    }

    /// The timeout granted to a client that asked for `requested_ms` in its ConnectRequest:
    /// clamped to `[min(), max()]`, as ZooKeeper's `processConnectRequest` does (first raised
    /// to the minimum, then lowered to the maximum). Negative requests get the minimum.
    pub fn negotiate(&self, requested_ms: i32) -> u32 {
        let requested = u32::try_from(requested_ms).unwrap_or(0);
        let mut timeout = requested.max(self.min());
        if timeout > self.max() {
            timeout = self.max();
        }
        timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(tick: u32, min: Option<u32>, max: Option<u32>) -> SessionConfig {
        SessionConfig {
            tick_time_ms: tick,
            min_session_timeout_ms: min,
            max_session_timeout_ms: max,
            ..SessionConfig::default()
        }
    }

    #[test]
    fn defaults_follow_tick_time() {
        let c = SessionConfig::default();
        assert_eq!(c.tick_time_ms, 2000);
        assert_eq!((c.min(), c.max()), (4000, 40000));
        assert_eq!(c.password_secret, 0xB341_5C00);
        let c = cfg(500, None, None);
        assert_eq!((c.min(), c.max()), (1000, 10000));
        let c = cfg(500, Some(300), Some(90_000));
        assert_eq!((c.min(), c.max()), (300, 90_000));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn negotiation_clamps() {
        let c = SessionConfig::default();
        assert_eq!(c.negotiate(30_000), 30_000);
        assert_eq!(c.negotiate(4000), 4000);
        assert_eq!(c.negotiate(40_000), 40_000);
        assert_eq!(c.negotiate(1), 4000);
        assert_eq!(c.negotiate(0), 4000);
        assert_eq!(c.negotiate(-5), 4000);
        assert_eq!(c.negotiate(i32::MIN), 4000);
        assert_eq!(c.negotiate(40_001), 40_000);
        assert_eq!(c.negotiate(i32::MAX), 40_000);
    }

    #[test]
    fn negotiation_with_explicit_bounds() {
        let c = cfg(2000, Some(10_000), Some(10_000));
        assert_eq!(c.negotiate(1), 10_000);
        assert_eq!(c.negotiate(99_999), 10_000);
        // A minimum below tickTime is allowed, as in ZooKeeper.
        let c = cfg(2000, Some(100), None);
        assert_eq!(c.negotiate(150), 150);
        assert_eq!(c.negotiate(50), 100);
    }

    #[test]
    fn validation() {
        assert_eq!(
            cfg(0, Some(1), Some(2)).validate(),
            Err(SessionError::ZeroTickTime)
        );
        assert_eq!(
            cfg(2000, Some(50_000), None).validate(),
            Err(SessionError::MinTimeoutAboveMax {
                min_ms: 50_000,
                max_ms: 40_000
            })
        );
        assert_eq!(
            cfg(2000, None, Some(1000)).validate(),
            Err(SessionError::MinTimeoutAboveMax {
                min_ms: 4000,
                max_ms: 1000
            })
        );
        assert_eq!(
            cfg(2000, None, Some(u32::MAX)).validate(),
            Err(SessionError::TimeoutOutOfRange {
                timeout_ms: u32::MAX
            })
        );
        // 20 × tickTime overflowing i32 is caught rather than wrapping as in Java.
        assert!(matches!(
            cfg(200_000_000, None, None).validate(),
            Err(SessionError::TimeoutOutOfRange { .. })
        ));
        assert_eq!(cfg(1, None, None).validate(), Ok(()));
    }

    #[test]
    fn huge_tick_time_does_not_panic() {
        let c = cfg(u32::MAX, None, None);
        assert_eq!((c.min(), c.max()), (u32::MAX, u32::MAX));
        assert_eq!(c.negotiate(5), u32::MAX);
    }
}
