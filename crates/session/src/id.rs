//! Session ids and how ZooKeeper lays them out.
//!
//! `SessionTrackerImpl.initializeNextSessionId`: the top byte is the server id (`myid`; 1 when
//! standalone), the next five bytes are the low 40 bits of a millisecond clock, the low two
//! bytes start at zero; each new session takes the next integer. The same 64-bit value is a
//! znode's `ephemeralOwner`, where some values mean something else (see
//! [`SessionId::is_reserved`]).

use std::fmt;

/// A session id: ZooKeeper's signed 64-bit `sessionId` (also a znode's `ephemeralOwner`).
///
/// Ordered by the signed value; `Display` prints `0x` and the unsigned hex, as ZooKeeper logs.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SessionId(pub i64);

impl SessionId {
    /// `EphemeralType.CONTAINER_EPHEMERAL_OWNER` (`Long.MIN_VALUE`): the `ephemeralOwner` of
    /// container nodes, never a session.
    pub const CONTAINER_OWNER: SessionId = SessionId(i64::MIN);

    /// The id from its bit pattern.
    pub const fn from_u64(bits: u64) -> SessionId {
        SessionId(bits as i64)
    }

    /// The bit pattern.
    pub const fn as_u64(self) -> u64 {
        self.0 as u64
    }

    /// The signed value, as on the wire.
    pub const fn as_i64(self) -> i64 {
        self.0
    }

    /// The top byte: the id of the server that created the session.
    pub const fn server_id(self) -> u8 {
        (self.as_u64() >> 56) as u8
    }

    /// Whether this value cannot be a session's id because it means something else as an
    /// `ephemeralOwner` or on the wire: 0 (no owner / "new session" in a ConnectRequest), the
    /// container owner, and anything whose top byte is `0xff` (`EphemeralType`'s extended
    /// mask, used for TTL nodes). [`SessionTable`](crate::SessionTable) never hands these out.
    pub const fn is_reserved(self) -> bool {
        self.0 == 0 || self.0 == i64::MIN || self.server_id() == 0xff
    }

    /// The first id a server hands out, as `initializeNextSessionId` computes it: `server_id`
    /// in the top byte, the low 40 bits of `now_ms` in the next five, zeros below; bumped by
    /// one if that is the container owner (possible only for server 128 at a clock multiple of
    /// 2^40). Other reserved values are skipped later, when ids are handed out.
    pub const fn initial(server_id: u8, now_ms: u64) -> SessionId {
        let bits = ((now_ms << 24) >> 8) | ((server_id as u64) << 56);
        if bits == i64::MIN as u64 {
            SessionId::from_u64(bits + 1)
        } else {
            SessionId::from_u64(bits)
        }
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.as_u64())
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId(0x{:x})", self.as_u64())
    }
}

impl From<i64> for SessionId {
    fn from(v: i64) -> SessionId {
        SessionId(v)
    }
}

impl From<SessionId> for i64 {
    fn from(id: SessionId) -> i64 {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_zookeeper() {
        // Values printed by Java for `((t << 24) >>> 8) | (sid << 56)`.
        let cases: &[(u64, u8, u64)] = &[
            (1_700_000_000_000, 0, 0x008b_cfe5_6800_0000),
            (1_700_000_000_000, 1, 0x018b_cfe5_6800_0000),
            (1_700_000_000_000, 128, 0x808b_cfe5_6800_0000),
            (123_456_789, 0, 0x0000_075b_cd15_0000),
            (123_456_789, 1, 0x0100_075b_cd15_0000),
            (0xff_ffff_ffff, 0, 0x00ff_ffff_ffff_0000),
            (0xff_ffff_ffff, 1, 0x01ff_ffff_ffff_0000),
            ((1 << 40) + 5, 0, 0x0000_0000_0005_0000),
            ((1 << 40) + 5, 128, 0x8000_0000_0005_0000),
        ];
        for &(t, sid, want) in cases {
            let id = SessionId::initial(sid, t);
            assert_eq!(id.as_u64(), want, "t={t} sid={sid}");
            assert_eq!(id.server_id(), sid);
            assert_eq!(id.as_u64() & 0xffff, 0);
        }
    }

    #[test]
    fn never_the_container_owner() {
        let id = SessionId::initial(128, 1 << 40);
        assert_eq!(id.as_u64(), 0x8000_0000_0000_0001);
        assert_ne!(id, SessionId::CONTAINER_OWNER);
    }

    #[test]
    fn reserved_values() {
        assert!(SessionId(0).is_reserved());
        assert!(SessionId::CONTAINER_OWNER.is_reserved());
        assert!(SessionId::from_u64(0xff00_0000_0000_0001).is_reserved());
        assert!(SessionId(-1).is_reserved());
        assert!(!SessionId(1).is_reserved());
        assert!(!SessionId::from_u64(0x8000_0000_0000_0001).is_reserved());
        assert!(!SessionId::from_u64(0xfe00_0000_0000_0000).is_reserved());
    }

    #[test]
    fn formatting() {
        let id = SessionId::from_u64(0x8000_0000_0005_0000);
        assert_eq!(id.to_string(), "0x8000000000050000");
        assert_eq!(format!("{id:?}"), "SessionId(0x8000000000050000)");
        assert_eq!(SessionId(1).to_string(), "0x1");
        assert_eq!(i64::from(id), id.as_i64());
        assert_eq!(SessionId::from(-5i64).as_i64(), -5);
    }

    #[test]
    fn signed_order() {
        assert!(SessionId::from_u64(0x8000_0000_0000_0001) < SessionId(1));
    }
}
