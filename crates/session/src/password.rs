//! Session passwords, derived exactly as ZooKeeper derives them.
//!
//! ZooKeeper never stores a password: it seeds `java.util.Random` with `sessionId ^ superSecret`
//! and takes 16 bytes from `nextBytes`, both when it creates a session and when it checks a
//! reconnect. Reproducing that generator bit for bit keeps passwords compatible with
//! ZooKeeper's (a client reconnecting after a switch between the two servers, or tooling that
//! derives passwords from ids).

use std::fmt;

use crate::SessionId;

/// ZooKeeper's `superSecret` (`ZooKeeperServer.superSecret`, `0XB3415C00L`).
pub const ZOOKEEPER_SUPER_SECRET: u64 = 0xB341_5C00;

/// Length of a session password in bytes.
pub const PASSWORD_LEN: usize = 16;

/// A session password: 16 bytes. Its `Debug` never shows the bytes.
#[derive(Clone, Copy, Default)]
pub struct Password([u8; PASSWORD_LEN]);

impl Password {
    /// The password ZooKeeper gives session `id` when the secret is `secret`
    /// ([`ZOOKEEPER_SUPER_SECRET`] unless configured otherwise).
    pub fn derive(id: SessionId, secret: u64) -> Password {
        let mut bytes = [0u8; PASSWORD_LEN];
        JavaRandom::new(id.as_u64() ^ secret).next_bytes(&mut bytes);
        Password(bytes)
    }

    /// Wraps raw bytes (e.g. for tests or a restored record).
    pub fn from_bytes(bytes: [u8; PASSWORD_LEN]) -> Password {
        Password(bytes)
    }

    /// The bytes, to put in a ConnectResponse.
    pub fn as_bytes(&self) -> &[u8; PASSWORD_LEN] {
        &self.0
    }

    /// Whether `presented` (a client's password buffer, any length) equals this password.
    /// The comparison does not stop at the first differing byte.
    pub fn matches(&self, presented: &[u8]) -> bool {
        if presented.len() != PASSWORD_LEN {
            return false;
        }
        let diff = self
            .0
            .iter()
            .zip(presented)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        diff == 0
    }
}

impl PartialEq for Password {
    fn eq(&self, other: &Password) -> bool {
        self.matches(&other.0)
    }
}

impl Eq for Password {}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// `java.util.Random`: the 48-bit linear congruential generator specified in the Java API docs.
pub(crate) struct JavaRandom {
    state: u64,
}

impl JavaRandom {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const ADDEND: u64 = 0xB;
    const MASK: u64 = (1 << 48) - 1;

    /// `new Random(seed)`: the seed is scrambled with the multiplier and cut to 48 bits.
    pub(crate) fn new(seed: u64) -> JavaRandom {
        JavaRandom {
            state: (seed ^ Self::MULTIPLIER) & Self::MASK,
        }
    }

    /// `next(bits)`: advance the state, return its top `bits` bits (1..=32) as a Java int.
    fn next(&mut self, bits: u32) -> i32 {
        self.state = self
            .state
            .wrapping_mul(Self::MULTIPLIER)
            .wrapping_add(Self::ADDEND)
            & Self::MASK;
        // Truncation to 32 bits is the `(int)` cast of the specification.
        (self.state >> (48 - bits)) as u32 as i32
    }

    /// `nextInt()`.
    pub(crate) fn next_int(&mut self) -> i32 {
        self.next(32)
    }

    /// `nextBytes(bytes)`: one `nextInt()` per 4 bytes, used low byte first; a trailing
    /// partial group uses the low bytes of one more int.
    pub(crate) fn next_bytes(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(4) {
            let word = self.next_int().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Golden vectors printed by OpenJDK 17: `new Random(seed)` then nextInt()/nextBytes(...).
    const INT_VECTORS: &[(i64, [i32; 3])] = &[
        (0, [-1155484576, -723955400, 1033096058]),
        (1, [-1155869325, 431529176, 1761283695]),
        (-1, [1155099827, 1887904451, 52699159]),
        (42, [-1170105035, 234785527, -1360544799]),
        (0x5DEECE66D, [0, 4232237, 178803790]),
        (i64::MIN, [-1155484576, -723955400, 1033096058]),
    ];

    const BYTE_VECTORS: &[(i64, [u8; 16])] = &[
        (
            0,
            [
                0x60, 0xb4, 0x20, 0xbb, 0x38, 0x51, 0xd9, 0xd4, 0x7a, 0xcb, 0x93, 0x3d, 0xbe, 0x70,
                0x39, 0x9b,
            ],
        ),
        (
            1,
            [
                0x73, 0xd5, 0x1a, 0xbb, 0xd8, 0x9c, 0xb8, 0x19, 0x6f, 0x0e, 0xfb, 0x68, 0x92, 0xf9,
                0x4d, 0x68,
            ],
        ),
        (
            -1,
            [
                0xb3, 0x6c, 0xd9, 0x44, 0xc3, 0x22, 0x87, 0x70, 0x17, 0x20, 0x24, 0x03, 0x9e, 0xff,
                0x4b, 0x8c,
            ],
        ),
        (
            42,
            [
                0x35, 0x9d, 0x41, 0xba, 0xf7, 0x8a, 0xfe, 0x0d, 0xe1, 0xbb, 0xe7, 0xae, 0x28, 0xc0,
                0x45, 0x0c,
            ],
        ),
        (
            0x5DEECE66D,
            [
                0x00, 0x00, 0x00, 0x00, 0x2d, 0x94, 0x40, 0x00, 0x4e, 0x54, 0xa8, 0x0a, 0xc4, 0x73,
                0x38, 0x2d,
            ],
        ),
    ];

    // `new Random(id ^ 0XB3415C00L).nextBytes(new byte[16])`, i.e. ZooKeeper's generatePasswd.
    const PASSWORD_VECTORS: &[(u64, [u8; 16])] = &[
        (
            1,
            [
                0x05, 0x4c, 0xc7, 0x4a, 0x37, 0x32, 0x7d, 0xb2, 0x15, 0xe7, 0x02, 0xe2, 0x0c, 0x73,
                0xf0, 0x05,
            ],
        ),
        (
            0x0100_017f_3b2c_0000,
            [
                0x36, 0xc5, 0x32, 0x6e, 0x8b, 0xad, 0x29, 0xf7, 0x04, 0x92, 0xce, 0xdc, 0x4c, 0x0c,
                0x76, 0x44,
            ],
        ),
        (
            0x0000_0189_abcd_0001,
            [
                0x3c, 0xe2, 0x1c, 0x8a, 0xa2, 0x91, 0x97, 0xbb, 0xa4, 0xa9, 0x9b, 0x34, 0xef, 0xc3,
                0x9b, 0xcd,
            ],
        ),
        (
            0xfe12_3456_7890_0000,
            [
                0x42, 0xe3, 0x28, 0xad, 0xa7, 0x40, 0x03, 0x00, 0xf0, 0x5c, 0x6d, 0x01, 0xc8, 0x7a,
                0xf2, 0x3f,
            ],
        ),
        (
            0x0000_0001_0000_0000,
            [
                0xf2, 0x2a, 0x60, 0x64, 0x97, 0xe6, 0x34, 0x63, 0x20, 0xa4, 0xe6, 0xf1, 0x38, 0xea,
                0xca, 0xd9,
            ],
        ),
    ];

    #[test]
    fn next_int_matches_java() {
        for &(seed, ints) in INT_VECTORS {
            let mut r = JavaRandom::new(seed as u64);
            for want in ints {
                assert_eq!(r.next_int(), want, "seed {seed}");
            }
        }
    }

    #[test]
    fn next_bytes_matches_java() {
        for &(seed, bytes) in BYTE_VECTORS {
            let mut out = [0u8; 16];
            JavaRandom::new(seed as u64).next_bytes(&mut out);
            assert_eq!(out, bytes, "seed {seed}");
        }
    }

    #[test]
    fn next_bytes_partial_word_uses_low_bytes() {
        // Java: new Random(seed).nextBytes(new byte[7]) is a prefix of the 16-byte output.
        for &(seed, bytes) in BYTE_VECTORS {
            let mut out = [0u8; 7];
            JavaRandom::new(seed as u64).next_bytes(&mut out);
            assert_eq!(out, bytes[..7], "seed {seed}");
        }
    }

    #[test]
    fn passwords_match_zookeeper() {
        for &(id, bytes) in PASSWORD_VECTORS {
            let pw = Password::derive(SessionId::from_u64(id), ZOOKEEPER_SUPER_SECRET);
            assert_eq!(pw.as_bytes(), &bytes, "id {id:#x}");
        }
    }

    #[test]
    fn secret_changes_password() {
        let id = SessionId::from_u64(0x0100_017f_3b2c_0000);
        let zk = Password::derive(id, ZOOKEEPER_SUPER_SECRET);
        let other = Password::derive(id, 0x1234_5678);
        assert_ne!(zk, other);
        // With secret 0 the seed is the id itself.
        let mut raw = [0u8; 16];
        JavaRandom::new(id.as_u64()).next_bytes(&mut raw);
        assert_eq!(Password::derive(id, 0).as_bytes(), &raw);
    }

    #[test]
    fn matches_checks_length_and_content() {
        let pw = Password::from_bytes([7; 16]);
        assert!(pw.matches(&[7; 16]));
        assert!(!pw.matches(&[7; 15]));
        assert!(!pw.matches(&[7; 17]));
        assert!(!pw.matches(&[]));
        let mut wrong = [7u8; 16];
        wrong[15] = 8;
        assert!(!pw.matches(&wrong));
    }

    #[test]
    fn debug_is_redacted() {
        let pw = Password::from_bytes([0xab; 16]);
        let shown = format!("{pw:?} {pw:#?}");
        assert!(!shown.contains("ab") && !shown.contains("171"), "{shown}");
        assert!(shown.contains("redacted"));
    }
}
