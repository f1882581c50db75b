//! The txn encoding: round trips and refusal of damaged input.

use crate::Zxid;
use bytes::BytesMut;
use proptest::prelude::*;

use super::*;
use crate::DataTreeError;

fn acl() -> impl Strategy<Value = Vec<Acl>> {
    prop::collection::vec(
        (any::<i32>(), ".{0,6}", ".{0,10}").prop_map(|(perms, scheme, id)| Acl {
            perms,
            id: Id { scheme, id },
        }),
        0..3,
    )
}

fn data() -> impl Strategy<Value = Option<Bytes>> {
    prop::option::of(prop::collection::vec(any::<u8>(), 0..20).prop_map(Bytes::from))
}

fn code() -> impl Strategy<Value = ErrorCode> {
    prop::sample::select(ErrorCode::ALL.to_vec())
}

fn leaf() -> impl Strategy<Value = TxnBody> {
    let create_op = prop::sample::select(vec![
        OpCode::Create,
        OpCode::Create2,
        OpCode::CreateContainer,
        OpCode::CreateTtl,
    ]);
    prop_oneof![
        (
            ".{0,12}",
            data(),
            acl(),
            any::<i64>(),
            any::<i32>(),
            create_op
        )
            .prop_map(|(path, data, acl, ephemeral_owner, parent_cversion, op)| {
                TxnBody::Create {
                    path,
                    data,
                    acl,
                    ephemeral_owner,
                    parent_cversion,
                    op,
                }
            }),
        ".{0,12}".prop_map(|path| TxnBody::Delete { path }),
        (".{0,12}", data(), any::<i32>()).prop_map(|(path, data, version)| TxnBody::SetData {
            path,
            data,
            version
        }),
        (".{0,12}", acl(), any::<i32>()).prop_map(|(path, acl, version)| TxnBody::SetAcl {
            path,
            acl,
            version
        }),
        (".{0,12}", any::<i32>()).prop_map(|(path, version)| TxnBody::Check { path, version }),
        code().prop_map(TxnBody::Error),
        any::<i32>().prop_map(|timeout_ms| TxnBody::CreateSession { timeout_ms }),
        prop::collection::vec(".{0,12}", 0..4)
            .prop_map(|ephemerals| TxnBody::CloseSession { ephemerals }),
    ]
}

fn body() -> impl Strategy<Value = TxnBody> {
    prop_oneof![
        3 => leaf(),
        1 => prop::collection::vec(leaf(), 0..5).prop_map(TxnBody::Multi),
    ]
}

proptest! {
    #[test]
    fn body_round_trips(b in body()) {
        let mut out = BytesMut::new();
        b.encode(&mut out);
        prop_assert_eq!(out[0], crate::FORMAT_VERSION);
        prop_assert_eq!(TxnBody::decode(&out), Ok(b));
    }

    #[test]
    fn txn_round_trips(b in body(), zxid in any::<u64>(), time_ms in any::<i64>(), session_id in any::<i64>(), cxid in any::<i32>()) {
        let txn = Txn { zxid: Zxid(zxid), time_ms, session_id, cxid, body: b };
        let mut out = BytesMut::new();
        txn.encode(&mut out);
        prop_assert_eq!(Txn::peek_header(&out), Ok((Zxid(zxid), time_ms)));
        prop_assert!(Txn::peek_header(&out[..16]).is_err());
        prop_assert_eq!(Txn::decode(&out), Ok(txn));
    }

    #[test]
    fn truncation_is_an_error_never_a_panic(b in body(), cut in any::<prop::sample::Index>()) {
        let mut out = BytesMut::new();
        b.encode(&mut out);
        let n = cut.index(out.len());
        prop_assert!(TxnBody::decode(&out[..n]).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = TxnBody::decode(&bytes);
        let _ = Txn::decode(&bytes);
    }
}

#[test]
fn damaged_input_errors() {
    let mut out = BytesMut::new();
    TxnBody::Delete { path: "/a".into() }.encode(&mut out);
    let mut v = out.to_vec();
    v.push(0);
    assert_eq!(TxnBody::decode(&v), Err(DataTreeError::TrailingBytes(1)));
    v[0] = 9;
    assert_eq!(
        TxnBody::decode(&v[..v.len() - 1]),
        Err(DataTreeError::UnknownVersion(9))
    );
    assert!(matches!(
        TxnBody::decode(&[crate::FORMAT_VERSION, 99]),
        Err(DataTreeError::UnknownTag { tag: 99, .. })
    ));
    // A multi inside a multi is refused.
    let nested = TxnBody::Multi(vec![TxnBody::Multi(vec![])]);
    let mut out = BytesMut::new();
    nested.encode(&mut out);
    assert!(matches!(
        TxnBody::decode(&out),
        Err(DataTreeError::UnknownTag { tag: 6, .. })
    ));
    // A huge announced count does not allocate.
    let mut huge = vec![crate::FORMAT_VERSION, 9];
    huge.extend_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        TxnBody::decode(&huge),
        Err(DataTreeError::Truncated { .. })
    ));
}
