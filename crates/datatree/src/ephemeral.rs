//! What a node's `ephemeralOwner` encodes, as ZooKeeper's `EphemeralType`.
//!
//! `0` is a persistent node, `i64::MIN` (only the top bit set) a container, and, when extended
//! types are enabled, an owner whose top byte is `0xff` an extended type: with the next two
//! bytes `0x0000` a TTL node whose low five bytes are the TTL in milliseconds. Anything else
//! is the id of the session owning an ephemeral node.

/// The owner of every container node.
pub const CONTAINER_EPHEMERAL_OWNER: i64 = i64::MIN;

const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000_u64 as i64;
const RESERVED_BITS_MASK: i64 = 0x00ff_ff00_0000_0000;
const RESERVED_BITS_SHIFT: u32 = 40;
const EXTENDED_BIT_TTL: i64 = 0;

/// The largest TTL, in milliseconds (`EphemeralType.TTL.maxValue()`: 2^40 - 1, about 34 years).
pub const MAX_TTL_MS: i64 = !(EXTENDED_MASK | RESERVED_BITS_MASK);

/// The kinds of node an `ephemeralOwner` can denote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EphemeralType {
    /// A persistent node (owner 0).
    Void,
    /// An ephemeral node owned by a session.
    Normal,
    /// A container node.
    Container,
    /// A node with a time to live (only recognised when extended types are enabled).
    Ttl,
}

impl EphemeralType {
    /// Classifies an owner. With extended types disabled a TTL owner reads as `Normal`, as in
    /// ZooKeeper. An extended owner of a feature ZooKeeper does not define (ZooKeeper throws)
    /// reads as `Normal` too.
    pub fn of(owner: i64, extended_types_enabled: bool) -> EphemeralType {
        if extended_types_enabled && owner & EXTENDED_MASK == EXTENDED_MASK {
            let feature = (owner & RESERVED_BITS_MASK) >> RESERVED_BITS_SHIFT;
            return if feature == EXTENDED_BIT_TTL {
                EphemeralType::Ttl
            } else {
                EphemeralType::Normal
            };
        }
        match owner {
            CONTAINER_EPHEMERAL_OWNER => EphemeralType::Container,
            0 => EphemeralType::Void,
            _ => EphemeralType::Normal,
        }
    }
}

/// The owner encoding a TTL, or `None` unless `0 < ttl_ms <= MAX_TTL_MS`.
pub fn ttl_owner(ttl_ms: i64) -> Option<i64> {
    (ttl_ms > 0 && ttl_ms <= MAX_TTL_MS)
        .then_some(EXTENDED_MASK | (EXTENDED_BIT_TTL << RESERVED_BITS_SHIFT) | ttl_ms)
}

/// The TTL an owner encodes (its low five bytes).
pub fn ttl_of(owner: i64) -> i64 {
    owner & MAX_TTL_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(ttl_owner(1), Some(0xff00_0000_0000_0001_u64 as i64));
        assert_eq!(ttl_owner(0), None);
        assert_eq!(ttl_owner(-5), None);
        assert_eq!(ttl_owner(MAX_TTL_MS + 1), None);
        assert_eq!(MAX_TTL_MS, (1 << 40) - 1);
        assert_eq!(ttl_of(ttl_owner(12345).unwrap_or(0)), 12345);
    }

    #[test]
    fn classification() {
        let ttl = ttl_owner(1000).unwrap_or(0);
        assert_eq!(EphemeralType::of(0, true), EphemeralType::Void);
        assert_eq!(EphemeralType::of(0x1234, true), EphemeralType::Normal);
        assert_eq!(EphemeralType::of(i64::MIN, false), EphemeralType::Container);
        assert_eq!(EphemeralType::of(i64::MIN, true), EphemeralType::Container);
        assert_eq!(EphemeralType::of(ttl, true), EphemeralType::Ttl);
        assert_eq!(EphemeralType::of(ttl, false), EphemeralType::Normal);
        let other_feature = ttl | (1 << 40);
        assert_eq!(
            EphemeralType::of(other_feature, true),
            EphemeralType::Normal
        );
    }
}
