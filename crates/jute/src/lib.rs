//! # corral-jute: ZooKeeper's client wire protocol
//!
//! The records of Apache ZooKeeper's `zookeeper.jute` that clients and servers exchange, the
//! numbers ZooKeeper puts on the wire (op codes, error codes, event types, keeper states,
//! create modes, permissions, reserved xids) and the length-prefixed frame codec. Everything
//! is byte-exact with ZooKeeper 3.8: big-endian, `-1` lengths for null buffers, records field
//! by field in zookeeper.jute's order.
//!
//! What it is not: it has no sockets, no async runtime and no protocol state (which xid goes
//! with which request, sessions, watches); those belong to corral-server and corral-client.
//! It never panics on input: decoding arbitrary bytes returns a [`JuteError`].
//!
//! ```
//! use bytes::BytesMut;
//! use corral_jute::codes::OpCode;
//! use corral_jute::frame::{decode_frame, encode_frame, DEFAULT_MAX_BUFFER};
//! use corral_jute::io::{Jute, Reader};
//! use corral_jute::records::{GetDataRequest, RequestHeader};
//! use corral_jute::request::Request;
//!
//! // A client encodes getData("/app", watch) as one frame.
//! let mut wire = BytesMut::new();
//! encode_frame(&mut wire, |out| {
//!     RequestHeader { xid: 1, op: OpCode::GetData.code() }.write(out);
//!     GetDataRequest { path: "/app".into(), watch: true }.write(out);
//! });
//!
//! // A server takes the frame off its read buffer and decodes it.
//! let frame = decode_frame(&mut wire, DEFAULT_MAX_BUFFER)?.expect("a whole frame");
//! let mut r = Reader::new(frame);
//! let header = RequestHeader::read(&mut r)?;
//! let request = Request::decode(OpCode::from_code(header.op)?, &mut r)?;
//! assert_eq!(request, Request::GetData(GetDataRequest { path: "/app".into(), watch: true }));
//! # Ok::<(), corral_jute::JuteError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod codes;
mod error;
pub mod frame;
pub mod io;
pub mod records;
pub mod request;

pub use error::JuteError;
