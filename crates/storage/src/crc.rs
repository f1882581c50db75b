//! CRC-32C (Castagnoli, the iSCSI polynomial) of log records and snapshots: the `crc32c`
//! crate, which uses the CPU's CRC32 instruction (SSE 4.2 on x86-64, detected at run time;
//! ARMv8's CRC extension) and a table-driven fallback elsewhere. The checksum values are
//! the standard CRC-32C, so files written before and after the switch read the same (the
//! vectors below pin it).

/// A running CRC-32C.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Crc32c(u32);

impl Crc32c {
    pub(crate) fn new() -> Self {
        Crc32c(0)
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.0 = crc32c::crc32c_append(self.0, data);
    }

    pub(crate) fn finish(self) -> u32 {
        self.0
    }
}

/// The CRC-32C of the concatenation of `parts`.
pub(crate) fn crc32c(parts: &[&[u8]]) -> u32 {
    let mut c = Crc32c::new();
    for p in parts {
        c.update(p);
    }
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // RFC 3720 appendix B.4 and the usual check value.
        assert_eq!(crc32c(&[b"123456789"]), 0xe306_9283);
        assert_eq!(crc32c(&[&[0u8; 32]]), 0x8a91_36aa);
        assert_eq!(crc32c(&[&[0xffu8; 32]]), 0x62a8_ab43);
        let inc: Vec<u8> = (0u8..32).collect();
        assert_eq!(crc32c(&[&inc]), 0x46dd_794e);
        assert_eq!(crc32c(&[]), 0);
    }

    #[test]
    fn split_updates_agree() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        let whole = crc32c(&[&data]);
        for cut in [0, 1, 7, 8, 9, 500, 999, 1000] {
            assert_eq!(crc32c(&[&data[..cut], &data[cut..]]), whole, "cut {cut}");
        }
    }

    /// The bit-at-a-time definition (reflected polynomial 0x82F63B78), against which the
    /// accelerated implementation must agree on any input and any split.
    fn reference(data: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0x82f6_3b78
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_the_definition(
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..3000),
            cut in 0usize..3000,
        ) {
            let cut = cut.min(data.len());
            proptest::prop_assert_eq!(crc32c(&[&data]), reference(&data));
            proptest::prop_assert_eq!(crc32c(&[&data[..cut], &data[cut..]]), reference(&data));
        }
    }
}
