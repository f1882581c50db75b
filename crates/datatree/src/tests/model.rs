//! Random create / delete / setData sequences, prepped in batches (so later ops see earlier
//! ones only through `Pending`), checked against a plain map model.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Op {
    Create(String),
    Delete(String, Option<bool>),
    Set(String, Vec<u8>, Option<bool>),
}

#[derive(Debug, Clone, Default)]
struct ModelNode {
    data: Vec<u8>,
    version: i32,
    creates: i32,
}

fn all_paths() -> Vec<String> {
    let names = ["a", "b", "c"];
    let mut out = Vec::new();
    let mut level = vec![String::new()];
    for _ in 0..3 {
        let mut next = Vec::new();
        for p in &level {
            for n in names {
                next.push(format!("{p}/{n}"));
            }
        }
        out.extend(next.iter().cloned());
        level = next;
    }
    out
}

fn op() -> impl Strategy<Value = Op> {
    let path = prop::sample::select(all_paths());
    let version = prop::option::of(any::<bool>());
    prop_oneof![
        3 => path.clone().prop_map(Op::Create),
        1 => (path.clone(), version.clone()).prop_map(|(p, v)| Op::Delete(p, v)),
        2 => (path, prop::collection::vec(any::<u8>(), 0..6), version)
            .prop_map(|(p, d, v)| Op::Set(p, d, v)),
    ]
}

struct Model {
    nodes: BTreeMap<String, ModelNode>,
}

impl Model {
    fn children(&self, p: &str) -> Vec<String> {
        self.nodes
            .keys()
            .filter(|k| crate::path::parent(k) == p && k.as_str() != "/")
            .map(|k| crate::path::name(k).to_string())
            .collect()
    }

    fn version_arg(&self, p: &str, v: Option<bool>) -> i32 {
        let cur = self.nodes.get(p).map_or(0, |n| n.version);
        match v {
            None => -1,
            Some(true) => cur,
            Some(false) => cur + 1,
        }
    }

    /// Applies an op; the expected outcome.
    fn apply(&mut self, op: &Op, version: i32) -> Result<(), ErrorCode> {
        match op {
            Op::Create(p) => {
                let parent = crate::path::parent(p).to_string();
                if !self.nodes.contains_key(&parent) {
                    return Err(ErrorCode::NoNode);
                }
                if self.nodes.contains_key(p) {
                    return Err(ErrorCode::NodeExists);
                }
                self.nodes.insert(p.clone(), ModelNode::default());
                if let Some(n) = self.nodes.get_mut(&parent) {
                    n.creates += 1;
                }
                Ok(())
            }
            Op::Delete(p, _) => {
                if !self.nodes.contains_key(crate::path::parent(p)) {
                    return Err(ErrorCode::NoNode);
                }
                let n = self.nodes.get(p).ok_or(ErrorCode::NoNode)?;
                if version != -1 && version != n.version {
                    return Err(ErrorCode::BadVersion);
                }
                if !self.children(p).is_empty() {
                    return Err(ErrorCode::NotEmpty);
                }
                self.nodes.remove(p);
                Ok(())
            }
            Op::Set(p, d, _) => {
                let n = self.nodes.get_mut(p).ok_or(ErrorCode::NoNode)?;
                if version != -1 && version != n.version {
                    return Err(ErrorCode::BadVersion);
                }
                n.version += 1;
                n.data = d.clone();
                Ok(())
            }
        }
    }
}

fn request(op: &Op, version: i32) -> Request {
    match op {
        Op::Create(p) => create(p, "", 0),
        Op::Delete(p, _) => delete(p, version),
        Op::Set(p, d, _) => Request::SetData(SetDataRequest {
            path: p.clone(),
            data: Some(Bytes::copy_from_slice(d)),
            version,
        }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn tree_matches_model(batches in prop::collection::vec(prop::collection::vec(op(), 1..5), 1..25)) {
        let mut h = Harness::new();
        // Start from the user part of the tree only: /zookeeper is left alone by the ops.
        let mut model = Model { nodes: BTreeMap::new() };
        model.nodes.insert("/".into(), ModelNode { data: vec![], version: 0, creates: 0 });
        for batch in &batches {
            let mut prepped = Vec::new();
            for op in batch {
                let version = model.version_arg(
                    match op { Op::Create(p) | Op::Delete(p, _) | Op::Set(p, _, _) => p },
                    match op { Op::Create(_) => None, Op::Delete(_, v) | Op::Set(_, _, v) => *v },
                );
                let expected = model.apply(op, version);
                let (zxid, body) = h.prep(&request(op, version));
                prop_assert_eq!(body.as_ref().err().copied(), expected.err(), "{:?}", op);
                prepped.push((zxid, body));
            }
            for (zxid, body) in prepped {
                let prepped_ok = body.is_ok();
                let applied = h.apply(zxid, body);
                // What prep accepted applies cleanly.
                prop_assert_eq!(prepped_ok, !matches!(applied.result, crate::TxnResult::Error(_)));
            }
            prop_assert!(h.pending.is_empty());
            for (p, n) in &model.nodes {
                let stat = h.tree.stat(p);
                prop_assert!(stat.is_some(), "missing {}", p);
                let stat = stat.unwrap_or_default();
                let mut kids = model.children(p);
                if p == "/" {
                    kids.push("zookeeper".into());
                    kids.sort();
                }
                let nk = kids.len() as i32;
                prop_assert_eq!(stat.num_children, nk, "{}", p);
                if p != "/" {
                    prop_assert_eq!(stat.cversion, 2 * n.creates - nk, "{}", p);
                    prop_assert_eq!(stat.version, n.version, "{}", p);
                    prop_assert_eq!(stat.data_length, n.data.len() as i32, "{}", p);
                }
                prop_assert_eq!(h.tree.get_children(p).map(|c| c.0), Ok(kids));
            }
            prop_assert_eq!(h.tree.node_count(), model.nodes.len() + 4);
            prop_assert_eq!(h.tree.digest(), h.tree.recompute_digest());
        }
    }
}
