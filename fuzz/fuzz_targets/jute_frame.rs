//! A client's byte stream as the server reads it: frames off the front of the buffer
//! (jute.maxbuffer), the first as a ConnectRequest, the rest as RequestHeader + Request.
#![no_main]

use bytes::BytesMut;
use corral_jute::codes::OpCode;
use corral_jute::frame::{decode_frame, DEFAULT_MAX_BUFFER};
use corral_jute::io::{Jute, Reader};
use corral_jute::records::{ConnectRequest, RequestHeader};
use corral_jute::request::Request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    let mut first = true;
    while let Ok(Some(frame)) = decode_frame(&mut buf, DEFAULT_MAX_BUFFER) {
        if first {
            first = false;
            let _ = ConnectRequest::from_bytes(frame);
            continue;
        }
        let mut r = Reader::new(frame);
        let Ok(header) = RequestHeader::read(&mut r) else {
            continue;
        };
        if let Ok(op) = OpCode::from_code(header.op) {
            let _ = Request::decode(op, &mut r);
        }
    }
});
