//! The jute primitives: big-endian `int`, `long`, `boolean`, `buffer`, `ustring`, `vector`,
//! and the [`Jute`] trait every record implements.

use bytes::{BufMut, Bytes, BytesMut};

use crate::JuteError;

/// A cursor over received bytes. Buffers are handed out as zero-copy slices of the input.
#[derive(Debug, Clone)]
pub struct Reader {
    data: Bytes,
    pos: usize,
}

impl Reader {
    /// A reader over `data`, starting at its first byte.
    pub fn new(data: Bytes) -> Self {
        Reader { data, pos: 0 }
    }

    /// A reader over a copy of `data`.
    pub fn from_slice(data: &[u8]) -> Self {
        Reader::new(Bytes::copy_from_slice(data))
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Offset of the next byte to read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Fails with [`JuteError::TrailingBytes`] unless everything was read.
    pub fn finish(&self) -> Result<(), JuteError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(JuteError::TrailingBytes(n)),
        }
    }

    fn take(&mut self, n: usize) -> Result<Bytes, JuteError> {
        if self.remaining() < n {
            return Err(JuteError::UnexpectedEof {
                offset: self.pos,
                needed: n - self.remaining(),
            });
        }
        let out = self.data.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], JuteError> {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.take(N)?);
        Ok(out)
    }

    /// A jute `int`.
    pub fn read_i32(&mut self) -> Result<i32, JuteError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    /// A jute `long`.
    pub fn read_i64(&mut self) -> Result<i64, JuteError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// A jute `boolean` (one byte, non-zero is true).
    pub fn read_bool(&mut self) -> Result<bool, JuteError> {
        Ok(self.array::<1>()?[0] != 0)
    }

    /// A length prefix: `None` for -1 (null), an error for other negatives or a length that
    /// exceeds what is left (checked before anything is allocated).
    fn read_len(&mut self, min_item: usize) -> Result<Option<usize>, JuteError> {
        let offset = self.pos;
        let len = self.read_i32()?;
        if len == -1 {
            return Ok(None);
        }
        let ok = usize::try_from(len)
            .ok()
            .filter(|n| n.saturating_mul(min_item) <= self.remaining());
        match ok {
            Some(n) => Ok(Some(n)),
            None => Err(JuteError::InvalidLength { len, offset }),
        }
    }

    /// A jute `buffer`: `None` for a null buffer (length -1).
    pub fn read_buffer(&mut self) -> Result<Option<Bytes>, JuteError> {
        match self.read_len(1)? {
            None => Ok(None),
            Some(n) => self.take(n).map(Some),
        }
    }

    /// A jute `ustring`: `None` for a null string (length -1).
    pub fn read_string(&mut self) -> Result<Option<String>, JuteError> {
        let offset = self.pos;
        match self.read_len(1)? {
            None => Ok(None),
            Some(n) => {
                let raw = self.take(n)?;
                String::from_utf8(raw.to_vec())
                    .map(Some)
                    .map_err(|_| JuteError::InvalidUtf8 { offset })
            }
        }
    }

    /// A jute `vector<T>`: `None` for a null vector (count -1).
    pub fn read_vec<T: Jute>(&mut self) -> Result<Option<Vec<T>>, JuteError> {
        match self.read_len(T::MIN_ENCODED_LEN)? {
            None => Ok(None),
            Some(n) => {
                let mut out = Vec::with_capacity(n);
                for _ in 0..n {
                    out.push(T::read(self)?);
                }
                Ok(Some(out))
            }
        }
    }
}

/// A value with a jute encoding.
pub trait Jute: Sized {
    /// The fewest bytes any value of this type encodes to (bounds vector pre-allocation).
    const MIN_ENCODED_LEN: usize;
    /// Appends the encoding to `out`.
    fn write(&self, out: &mut BytesMut);
    /// Decodes one value.
    fn read(r: &mut Reader) -> Result<Self, JuteError>;
    /// The exact number of bytes [`Jute::write`] appends.
    fn encoded_len(&self) -> usize;

    /// Encodes into a fresh buffer.
    fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.write(&mut out);
        out.freeze()
    }

    /// Decodes a value that must fill `data` exactly.
    fn from_bytes(data: Bytes) -> Result<Self, JuteError> {
        let mut r = Reader::new(data);
        let v = Self::read(&mut r)?;
        r.finish()?;
        Ok(v)
    }
}

impl Jute for i32 {
    const MIN_ENCODED_LEN: usize = 4;
    fn write(&self, out: &mut BytesMut) {
        out.put_i32(*self);
    }
    fn read(r: &mut Reader) -> Result<Self, JuteError> {
        r.read_i32()
    }
    fn encoded_len(&self) -> usize {
        4
    }
}

impl Jute for i64 {
    const MIN_ENCODED_LEN: usize = 8;
    fn write(&self, out: &mut BytesMut) {
        out.put_i64(*self);
    }
    fn read(r: &mut Reader) -> Result<Self, JuteError> {
        r.read_i64()
    }
    fn encoded_len(&self) -> usize {
        8
    }
}

impl Jute for bool {
    const MIN_ENCODED_LEN: usize = 1;
    fn write(&self, out: &mut BytesMut) {
        out.put_u8(u8::from(*self));
    }
    fn read(r: &mut Reader) -> Result<Self, JuteError> {
        r.read_bool()
    }
    fn encoded_len(&self) -> usize {
        1
    }
}

/// `ustring`. A null string (-1) decodes as empty: ZooKeeper's records never carry a
/// meaningful null string on the client protocol.
impl Jute for String {
    const MIN_ENCODED_LEN: usize = 4;
    fn write(&self, out: &mut BytesMut) {
        write_len(out, self.len());
        out.put_slice(self.as_bytes());
    }
    fn read(r: &mut Reader) -> Result<Self, JuteError> {
        Ok(r.read_string()?.unwrap_or_default())
    }
    fn encoded_len(&self) -> usize {
        4 + self.len()
    }
}

/// `buffer`, with null (-1) kept distinct from empty.
impl Jute for Option<Bytes> {
    const MIN_ENCODED_LEN: usize = 4;
    fn write(&self, out: &mut BytesMut) {
        match self {
            None => out.put_i32(-1),
            Some(b) => {
                write_len(out, b.len());
                out.put_slice(b);
            }
        }
    }
    fn read(r: &mut Reader) -> Result<Self, JuteError> {
        r.read_buffer()
    }
    fn encoded_len(&self) -> usize {
        4 + self.as_ref().map_or(0, Bytes::len)
    }
}

/// `vector<T>`. A null vector (-1) decodes as empty.
impl<T: Jute> Jute for Vec<T> {
    const MIN_ENCODED_LEN: usize = 4;
    fn write(&self, out: &mut BytesMut) {
        write_len(out, self.len());
        for item in self {
            item.write(out);
        }
    }
    fn read(r: &mut Reader) -> Result<Self, JuteError> {
        Ok(r.read_vec()?.unwrap_or_default())
    }
    fn encoded_len(&self) -> usize {
        4 + self.iter().map(Jute::encoded_len).sum::<usize>()
    }
}

/// Writes a length prefix. Lengths beyond i32::MAX cannot be framed (jute.maxbuffer is far
/// smaller) and are clamped, which makes the frame invalid rather than silently wrapping.
fn write_len(out: &mut BytesMut, len: usize) {
    out.put_i32(i32::try_from(len).unwrap_or(i32::MAX));
}

/// A secret `buffer` (session password, auth data): its `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(pub Bytes);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

impl Jute for Secret {
    const MIN_ENCODED_LEN: usize = 4;
    fn write(&self, out: &mut BytesMut) {
        write_len(out, self.0.len());
        out.put_slice(&self.0);
    }
    fn read(r: &mut Reader) -> Result<Self, JuteError> {
        Ok(Secret(r.read_buffer()?.unwrap_or_default()))
    }
    fn encoded_len(&self) -> usize {
        4 + self.0.len()
    }
}

impl Reader {
    /// Everything not read yet, consumed.
    pub fn read_rest(&mut self) -> Bytes {
        let out = self.data.slice(self.pos..);
        self.pos = self.data.len();
        out
    }
}
