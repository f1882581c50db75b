//! Jute's binary archive (`BinaryInputArchive` / `BinaryOutputArchive`): big-endian ints
//! and longs, a one-byte boolean, strings and buffers as an i32 length (-1 for null) then
//! the bytes, vectors as an i32 count (-1 for null) then the items.

use crate::error::DecodeError;

/// A cursor over a buffer; every read checks the length first, so damaged input is an
/// error with its offset, never a panic or a huge allocation.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn pos(&self) -> u64 {
        self.pos as u64
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::at(
                self.pos(),
                format!(
                    "truncated: {what} needs {n} bytes, {} left",
                    self.remaining()
                ),
            ));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn bool(&mut self, what: &str) -> Result<bool, DecodeError> {
        Ok(self.u8(what)? != 0)
    }

    pub fn i32(&mut self, what: &str) -> Result<i32, DecodeError> {
        self.array(what).map(i32::from_be_bytes)
    }

    pub fn i64(&mut self, what: &str) -> Result<i64, DecodeError> {
        self.array(what).map(i64::from_be_bytes)
    }

    /// A length-prefixed byte run: `None` for -1 (null).
    pub fn buffer(&mut self, what: &str) -> Result<Option<&'a [u8]>, DecodeError> {
        let at = self.pos();
        match self.i32(what)? {
            -1 => Ok(None),
            n if n < 0 => Err(DecodeError::at(at, format!("{what}: length {n}"))),
            n => self.take(n as usize, what).map(Some),
        }
    }

    /// A string that may not be null.
    pub fn string(&mut self, what: &str) -> Result<String, DecodeError> {
        let at = self.pos();
        let bytes = self
            .buffer(what)?
            .ok_or_else(|| DecodeError::at(at, format!("{what} is null")))?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| DecodeError::at(at, format!("{what} is not UTF-8")))
    }

    /// A vector's count: `None` for -1 (null). Each item takes at least `min_item` bytes,
    /// so a count the input cannot hold is an error before anything is allocated.
    pub fn count(&mut self, what: &str, min_item: usize) -> Result<Option<usize>, DecodeError> {
        let at = self.pos();
        match self.i32(what)? {
            -1 => Ok(None),
            n if n < 0 || (n as usize).saturating_mul(min_item) > self.remaining() => Err(
                DecodeError::at(at, format!("{what}: count {n} does not fit the input")),
            ),
            n => Ok(Some(n as usize)),
        }
    }
}

/// Appends jute's encodings to a `Vec`.
pub(crate) trait Put {
    fn put_i32(&mut self, v: i32);
    fn put_i64(&mut self, v: i64);
    fn put_bool(&mut self, v: bool);
    fn put_buffer(&mut self, v: Option<&[u8]>);
    fn put_string(&mut self, v: &str);
}

impl Put for Vec<u8> {
    fn put_i32(&mut self, v: i32) {
        self.extend_from_slice(&v.to_be_bytes());
    }

    fn put_i64(&mut self, v: i64) {
        self.extend_from_slice(&v.to_be_bytes());
    }

    fn put_bool(&mut self, v: bool) {
        self.push(u8::from(v));
    }

    fn put_buffer(&mut self, v: Option<&[u8]>) {
        match v {
            None => self.put_i32(-1),
            Some(b) => {
                self.put_i32(i32::try_from(b.len()).unwrap_or(i32::MAX));
                self.extend_from_slice(b);
            }
        }
    }

    fn put_string(&mut self, v: &str) {
        self.put_buffer(Some(v.as_bytes()));
    }
}
