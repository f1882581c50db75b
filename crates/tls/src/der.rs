//! A minimal DER reader: tag, length, value, for the few ASN.1 structures this crate reads
//! (X.509 certificates, PKCS#8 wrappers, JKS's protected keys). It never allocates and
//! never panics on malformed input: every read returns [`DerError`].

use thiserror::Error;

/// What is wrong with a DER encoding.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DerError {
    /// The input ended inside an element.
    #[error("truncated DER element")]
    Truncated,
    /// A length in a form DER forbids (indefinite, non-minimal, or over 4 bytes).
    #[error("bad DER length")]
    BadLength,
    /// An element had another tag than the structure requires.
    #[error("expected DER tag {expected:#04x}, found {found:#04x}")]
    UnexpectedTag {
        /// The tag the structure needs.
        expected: u8,
        /// The tag found.
        found: u8,
    },
    /// Bytes were left after the last element of a structure.
    #[error("trailing bytes after a DER element")]
    Trailing,
}

/// Universal tags used here.
pub mod tag {
    /// BOOLEAN.
    pub const BOOLEAN: u8 = 0x01;
    /// INTEGER.
    pub const INTEGER: u8 = 0x02;
    /// BIT STRING.
    pub const BIT_STRING: u8 = 0x03;
    /// OCTET STRING.
    pub const OCTET_STRING: u8 = 0x04;
    /// NULL.
    pub const NULL: u8 = 0x05;
    /// OBJECT IDENTIFIER.
    pub const OID: u8 = 0x06;
    /// UTCTime.
    pub const UTC_TIME: u8 = 0x17;
    /// GeneralizedTime.
    pub const GENERALIZED_TIME: u8 = 0x18;
    /// SEQUENCE (constructed).
    pub const SEQUENCE: u8 = 0x30;
    /// SET (constructed).
    pub const SET: u8 = 0x31;
    /// `[0]` constructed, explicit.
    pub const CONTEXT_0: u8 = 0xA0;
    /// `[3]` constructed, explicit.
    pub const CONTEXT_3: u8 = 0xA3;
}

/// One element: its tag, its content octets, and the whole encoding (tag and length too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    /// The identifier octet (only single-octet tags are read).
    pub tag: u8,
    /// The content octets.
    pub value: &'a [u8],
    /// Tag, length and content: what a signature covers.
    pub raw: &'a [u8],
}

/// A cursor over consecutive DER elements.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `input`.
    pub fn new(input: &'a [u8]) -> Reader<'a> {
        Reader { rest: input }
    }

    /// Whether nothing is left.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The tag of the next element, if any.
    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element, whatever its tag.
    pub fn any(&mut self) -> Result<Element<'a>, DerError> {
        let input = self.rest;
        let (&tag, after_tag) = input.split_first().ok_or(DerError::Truncated)?;
        if tag & 0x1F == 0x1F {
            // Multi-octet tags appear nowhere in the structures read here.
            return Err(DerError::UnexpectedTag {
                expected: 0,
                found: tag,
            });
        }
        let (&first, mut after_len) = after_tag.split_first().ok_or(DerError::Truncated)?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 || n > 4 || after_len.len() < n {
                return Err(if after_len.len() < n {
                    DerError::Truncated
                } else {
                    DerError::BadLength
                });
            }
            let mut len = 0usize;
            for &b in &after_len[..n] {
                len = (len << 8) | usize::from(b);
            }
            if after_len[0] == 0 || len < 0x80 {
                return Err(DerError::BadLength);
            }
            after_len = &after_len[n..];
            len
        };
        if after_len.len() < len {
            return Err(DerError::Truncated);
        }
        let header = input.len() - after_len.len();
        let raw = &input[..header + len];
        let value = &after_len[..len];
        self.rest = &after_len[len..];
        Ok(Element { tag, value, raw })
    }

    /// The next element, which must carry `tag`.
    pub fn tagged(&mut self, tag: u8) -> Result<Element<'a>, DerError> {
        let found = self.peek_tag().ok_or(DerError::Truncated)?;
        if found != tag {
            return Err(DerError::UnexpectedTag {
                expected: tag,
                found,
            });
        }
        self.any()
    }

    /// The next element if it carries `tag`, else nothing (and nothing is consumed).
    pub fn optional(&mut self, tag: u8) -> Result<Option<Element<'a>>, DerError> {
        if self.peek_tag() == Some(tag) {
            self.any().map(Some)
        } else {
            Ok(None)
        }
    }

    /// A reader over the content of the next element, which must carry `tag`.
    pub fn nested(&mut self, tag: u8) -> Result<Reader<'a>, DerError> {
        Ok(Reader::new(self.tagged(tag)?.value))
    }

    /// Fails unless everything was read.
    pub fn finish(&self) -> Result<(), DerError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DerError::Trailing)
        }
    }
}

/// The one element `input` must consist of.
pub fn single(input: &[u8], tag: u8) -> Result<Element<'_>, DerError> {
    let mut r = Reader::new(input);
    let e = r.tagged(tag)?;
    r.finish()?;
    Ok(e)
}

/// The bits of a BIT STRING with no unused bits (keys and signatures).
pub fn bit_string_bytes<'a>(e: &Element<'a>) -> Result<&'a [u8], DerError> {
    match e.value.split_first() {
        Some((0, bits)) => Ok(bits),
        _ => Err(DerError::BadLength),
    }
}

/// Dotted-decimal text of an OBJECT IDENTIFIER's content octets (`2.5.4.3`).
pub fn oid_to_string(value: &[u8]) -> String {
    let mut out = String::new();
    let mut acc: u64 = 0;
    let mut first = true;
    for &b in value {
        acc = (acc << 7) | u64::from(b & 0x7F);
        if b & 0x80 != 0 {
            if acc > u64::MAX >> 8 {
                return String::from("?");
            }
            continue;
        }
        if first {
            let (a, b) = if acc < 40 {
                (0, acc)
            } else if acc < 80 {
                (1, acc - 40)
            } else {
                (2, acc - 80)
            };
            out.push_str(&format!("{a}.{b}"));
            first = false;
        } else {
            out.push_str(&format!(".{acc}"));
        }
        acc = 0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend(std::iter::repeat_n(7u8, 0x80));
        let e = single(&long, tag::OCTET_STRING).expect("long form");
        assert_eq!(e.value.len(), 0x80);
        assert_eq!(e.raw.len(), 0x83);
        let e = single(&[0x02, 0x01, 0x05], tag::INTEGER).expect("short");
        assert_eq!(e.value, &[5]);
    }

    #[test]
    fn rejects_malformed_lengths() {
        assert_eq!(
            Reader::new(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5]).any().err(),
            Some(DerError::BadLength)
        );
        assert_eq!(
            Reader::new(&[0x04, 0x80]).any().err(),
            Some(DerError::BadLength)
        );
        assert_eq!(
            Reader::new(&[0x04, 0x05, 1]).any().err(),
            Some(DerError::Truncated)
        );
        assert_eq!(Reader::new(&[0x04]).any().err(), Some(DerError::Truncated));
        assert_eq!(
            single(&[0x05, 0x00, 0x00], tag::NULL).err(),
            Some(DerError::Trailing)
        );
        assert!(matches!(
            single(&[0x05, 0x00], tag::INTEGER),
            Err(DerError::UnexpectedTag {
                expected: 0x02,
                found: 0x05
            })
        ));
    }

    #[test]
    fn oid_text() {
        assert_eq!(oid_to_string(&[0x55, 0x04, 0x03]), "2.5.4.3");
        assert_eq!(
            oid_to_string(&[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B]),
            "1.2.840.113549.1.1.11"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let mut r = Reader::new(&bytes);
            for _ in 0..64 {
                if r.any().is_err() {
                    break;
                }
            }
            let _ = oid_to_string(&bytes);
        }
    }
}
