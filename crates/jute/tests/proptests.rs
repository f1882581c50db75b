//! Property tests: every record round-trips, `encoded_len` is exact, and decoding arbitrary
//! bytes as any record or request returns an error instead of panicking.

use bytes::{Bytes, BytesMut};
use corral_jute::codes::OpCode;
use corral_jute::frame::{decode_frame, DEFAULT_MAX_BUFFER};
use corral_jute::io::{Jute, Reader, Secret};
use corral_jute::records::*;
use corral_jute::request::{MultiResponse, OpResult, Request};
use proptest::prelude::*;

fn string() -> impl Strategy<Value = String> {
    "[a-z/0-9_]{0,12}"
}

fn data() -> impl Strategy<Value = Option<Bytes>> {
    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..32).prop_map(Bytes::from))
}

fn stat() -> impl Strategy<Value = Stat> {
    (
        any::<[i64; 4]>(),
        any::<[i32; 3]>(),
        any::<i64>(),
        any::<[i32; 2]>(),
        any::<i64>(),
    )
        .prop_map(|(l, v, owner, n, pzxid)| Stat {
            czxid: l[0],
            mzxid: l[1],
            ctime: l[2],
            mtime: l[3],
            version: v[0],
            cversion: v[1],
            aversion: v[2],
            ephemeral_owner: owner,
            data_length: n[0],
            num_children: n[1],
            pzxid,
        })
}

fn acls() -> impl Strategy<Value = Vec<Acl>> {
    proptest::collection::vec(
        (any::<i32>(), string(), string()).prop_map(|(perms, scheme, id)| Acl {
            perms,
            id: Id { scheme, id },
        }),
        0..3,
    )
}

fn round_trip<T: Jute + PartialEq + std::fmt::Debug>(v: &T) {
    let bytes = v.to_bytes();
    assert_eq!(bytes.len(), v.encoded_len());
    assert_eq!(&T::from_bytes(bytes).expect("decodes"), v);
}

fn write_request(req: &Request) -> Bytes {
    let mut out = BytesMut::new();
    req.write_body(&mut out);
    out.freeze()
}

fn request() -> impl Strategy<Value = Request> {
    let create = (
        string(),
        data(),
        acls(),
        0..7i32,
        proptest::option::of(any::<i64>()),
    )
        .prop_map(|(path, data, acl, flags, ttl)| Request::Create {
            op: if ttl.is_some() {
                OpCode::CreateTtl
            } else {
                OpCode::Create2
            },
            req: CreateRequest {
                path,
                data,
                acl,
                flags,
            },
            ttl,
        });
    let delete = (string(), any::<i32>()).prop_map(|(path, version)| Request::Delete {
        op: OpCode::Delete,
        req: DeleteRequest { path, version },
    });
    let set = (string(), data(), any::<i32>()).prop_map(|(path, data, version)| {
        Request::SetData(SetDataRequest {
            path,
            data,
            version,
        })
    });
    let check = (string(), any::<i32>())
        .prop_map(|(path, version)| Request::Check(CheckVersionRequest { path, version }));
    let single = prop_oneof![create, delete, set, check];
    prop_oneof![
        single.clone(),
        proptest::collection::vec(single, 0..4).prop_map(Request::Multi),
        (string(), any::<bool>())
            .prop_map(|(path, watch)| Request::GetData(GetDataRequest { path, watch })),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|t| Request::Sasl(GetSaslRequest {
            token: Secret(Bytes::from(t)),
        })),
        (
            string(),
            any::<i64>(),
            proptest::collection::vec(string(), 0..3)
        )
            .prop_map(|(p, z, w)| Request::SetWatches2(SetWatches2 {
                relative_zxid: z,
                data_watches: w.clone(),
                exist_watches: vec![p],
                child_watches: w,
                persistent_watches: vec![],
                persistent_recursive_watches: vec![],
            })),
    ]
}

proptest! {
    #[test]
    fn stat_round_trips(s in stat()) {
        round_trip(&s);
    }

    #[test]
    fn create_and_data_records_round_trip(path in string(), d in data(), acl in acls(), flags in any::<i32>(), ttl in any::<i64>(), s in stat()) {
        round_trip(&CreateTtlRequest { path: path.clone(), data: d.clone(), acl: acl.clone(), flags, ttl });
        round_trip(&GetDataResponse { data: d, stat: s.clone() });
        round_trip(&GetAclResponse { acl, stat: s.clone() });
        round_trip(&Create2Response { path, stat: s });
    }

    #[test]
    fn connect_round_trips(ts in any::<i32>(), sid in any::<i64>(), z in any::<i64>(), pw in proptest::collection::vec(any::<u8>(), 0..16), ro in proptest::option::of(any::<bool>())) {
        round_trip(&ConnectRequest { protocol_version: 0, last_zxid_seen: z, timeout: ts, session_id: sid, passwd: Secret(Bytes::from(pw.clone())), read_only: ro });
        round_trip(&ConnectResponse { protocol_version: 0, timeout: ts, session_id: sid, passwd: Secret(Bytes::from(pw)), read_only: ro });
    }

    #[test]
    fn requests_round_trip(req in request()) {
        let body = write_request(&req);
        let mut r = Reader::new(body);
        prop_assert_eq!(Request::decode(req.op(), &mut r).expect("decodes"), req);
    }

    #[test]
    fn multi_responses_round_trip(results in proptest::collection::vec(prop_oneof![
        string().prop_map(OpResult::Create),
        (string(), stat()).prop_map(|(p, s)| OpResult::Create2(p, s)),
        Just(OpResult::Delete),
        stat().prop_map(OpResult::SetData),
        Just(OpResult::Check),
        proptest::collection::vec(string(), 0..3).prop_map(OpResult::GetChildren),
        (data(), stat()).prop_map(|(d, s)| OpResult::GetData(d, s)),
        any::<i32>().prop_map(OpResult::Error),
    ], 0..5)) {
        round_trip(&MultiResponse { results });
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), op in prop::sample::select(OpCode::ALL.to_vec())) {
        let b = Bytes::from(bytes);
        let _ = Request::decode(op, &mut Reader::new(b.clone()));
        let _ = ConnectRequest::from_bytes(b.clone());
        let _ = MultiResponse::from_bytes(b.clone());
        let _ = GetChildren2Response::from_bytes(b.clone());
        let _ = SetWatches2::from_bytes(b.clone());
        let _ = RequestHeader::from_bytes(b.clone());
        let mut buf = BytesMut::from(&b[..]);
        let _ = decode_frame(&mut buf, DEFAULT_MAX_BUFFER);
    }

    #[test]
    fn truncated_requests_are_errors(req in request(), cut in any::<prop::sample::Index>()) {
        let body = write_request(&req);
        if !body.is_empty() {
            let at = cut.index(body.len());
            let mut r = Reader::new(body.slice(..at));
            prop_assert!(Request::decode(req.op(), &mut r).is_err());
        }
    }
}

#[test]
fn a_huge_vector_count_is_rejected_before_allocating() {
    let mut out = BytesMut::new();
    i32::MAX.write(&mut out);
    assert!(<Vec<String>>::from_bytes(out.freeze()).is_err());
}

/// Golden bytes: a ConnectRequest exactly as ZooKeeper's Java client 3.8 sends it for a new
/// session with a 30 s timeout (protocolVersion 0, lastZxidSeen 0, timeOut 30000, sessionId 0,
/// a 16-byte zero password, readOnly false).
#[test]
fn connect_request_golden_bytes() {
    let mut golden = vec![0u8, 0, 0, 0];
    golden.extend_from_slice(&0i64.to_be_bytes());
    golden.extend_from_slice(&30000i32.to_be_bytes());
    golden.extend_from_slice(&0i64.to_be_bytes());
    golden.extend_from_slice(&16i32.to_be_bytes());
    golden.extend_from_slice(&[0u8; 16]);
    golden.push(0);
    let req = ConnectRequest::from_bytes(Bytes::from(golden.clone())).expect("decodes");
    assert_eq!(req.timeout, 30000);
    assert_eq!(req.read_only, Some(false));
    assert_eq!(req.to_bytes().as_ref(), &golden[..]);
}

/// kazoo's first sasl request body (an empty token) and ZooKeeper 3.8.0's answers: the
/// challenge token, and the null token it sends with AuthFailed.
#[test]
fn sasl_golden_bytes() {
    let mut r = Reader::new(Bytes::from_static(&[0, 0, 0, 0]));
    let req = Request::decode(OpCode::Sasl, &mut r).expect("decodes");
    assert_eq!(
        req,
        Request::Sasl(GetSaslRequest {
            token: Secret(Bytes::new())
        })
    );
    let failed = SetSaslResponse { token: None };
    let mut out = bytes::BytesMut::new();
    failed.write(&mut out);
    assert_eq!(out.as_ref(), &[0xff, 0xff, 0xff, 0xff]);
    assert!(!format!("{req:?}").contains("realm"));
}
