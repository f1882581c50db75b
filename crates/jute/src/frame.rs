//! Framing: every packet is a 4-byte big-endian length followed by that many bytes.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::io::Jute;
use crate::records::ReplyHeader;
use crate::JuteError;

/// ZooKeeper's default `jute.maxbuffer`: 0xfffff bytes. A frame announcing more is rejected
/// before anything is allocated.
pub const DEFAULT_MAX_BUFFER: usize = 0xfffff;

/// Takes one complete frame off the front of `buf`.
///
/// `Ok(None)` means more bytes are needed (and `buf` is reserved for the rest of the frame);
/// an error means the stream is unusable and the connection must be closed.
pub fn decode_frame(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>, JuteError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let len = match usize::try_from(len) {
        Ok(n) if n <= max => n,
        _ => {
            return Err(JuteError::FrameTooLarge {
                len: i64::from(len),
                max,
            })
        }
    };
    if buf.len() < 4 + len {
        buf.reserve(4 + len - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(len).freeze()))
}

/// Appends one frame whose body `write` produces, patching in the length afterwards.
pub fn encode_frame(out: &mut BytesMut, write: impl FnOnce(&mut BytesMut)) {
    let start = out.len();
    out.put_i32(0);
    write(out);
    let len = out.len() - start - 4;
    let len = i32::try_from(len).unwrap_or(i32::MAX).to_be_bytes();
    out[start..start + 4].copy_from_slice(&len);
}

/// Appends a reply frame: the header, then the body if any.
pub fn encode_reply(out: &mut BytesMut, header: &ReplyHeader, body: Option<&dyn JuteWrite>) {
    encode_frame(out, |out| {
        header.write(out);
        if let Some(body) = body {
            body.write_to(out);
        }
    });
}

/// Object-safe writing, so replies of different record types can share one code path.
pub trait JuteWrite {
    /// Appends the encoding.
    fn write_to(&self, out: &mut BytesMut);
}

impl<T: Jute> JuteWrite for T {
    fn write_to(&self, out: &mut BytesMut) {
        self.write(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_frames_wait_and_oversized_frames_fail() {
        let mut buf = BytesMut::new();
        encode_frame(&mut buf, |o| o.put_slice(b"hello"));
        let whole = buf.clone();
        let mut part = BytesMut::from(&whole[..6]);
        assert_eq!(decode_frame(&mut part, 100), Ok(None));
        assert_eq!(
            decode_frame(&mut buf, 100),
            Ok(Some(Bytes::from_static(b"hello")))
        );
        assert!(buf.is_empty());

        let mut big = BytesMut::new();
        big.put_i32(DEFAULT_MAX_BUFFER as i32 + 1);
        assert!(matches!(
            decode_frame(&mut big, DEFAULT_MAX_BUFFER),
            Err(JuteError::FrameTooLarge { .. })
        ));
        let mut negative = BytesMut::new();
        negative.put_i32(-5);
        assert!(decode_frame(&mut negative, DEFAULT_MAX_BUFFER).is_err());
    }
}
